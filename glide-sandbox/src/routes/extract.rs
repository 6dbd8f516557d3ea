//! Extractors answering with Glide's error body: bearer auth, lenient JSON, base URL.

use std::sync::Arc;

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::{AUTHORIZATION, HOST};
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::state::AppState;

/// A request carrying a valid `Authorization: Bearer` token (else 401 `UNAUTHORIZED`).
#[derive(Debug)]
pub(crate) struct Authed;

impl FromRequestParts<Arc<AppState>> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer_token(&parts.headers)?;
        if state.token_valid(token) {
            Ok(Self)
        } else {
            Err(ApiError::unauthorized("Invalid or expired access token"))
        }
    }
}

/// The bearer token of a request's `Authorization` header, or Glide's 401 without one.
pub(crate) fn bearer_token(headers: &axum::http::HeaderMap) -> Result<&str, ApiError> {
    headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|h| {
            h.strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("bearer "))
        })
        .map(str::trim)
        .ok_or_else(|| ApiError::unauthorized("Missing bearer token"))
}

/// The base URL for URLs handed out in responses.
#[derive(Debug)]
pub(crate) struct BaseUrl(pub String);

impl FromRequestParts<Arc<AppState>> for BaseUrl {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let host = parts.headers.get(HOST).and_then(|v| v.to_str().ok());
        Ok(Self(state.base_url(host)))
    }
}

/// A JSON body, whatever the `Content-Type`; unknown fields ignored.
/// Not JSON → 400 `BAD_REQUEST`; wrong field types → 400 `VALIDATION_ERROR`.
#[derive(Debug)]
pub(crate) struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<Arc<AppState>> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &Arc<AppState>) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|_| {
                ApiError::new(StatusCode::BAD_REQUEST, "BAD_REQUEST", "Unreadable body")
            })?;
        let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "BAD_REQUEST",
                "Request body must be valid JSON",
            )
        })?;
        if !value.is_object() {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "BAD_REQUEST",
                "Request body must be a JSON object",
            ));
        }
        serde_json::from_value(value).map(JsonBody).map_err(|e| {
            let mut err = ApiError::new(
                StatusCode::BAD_REQUEST,
                "VALIDATION_ERROR",
                format!("Request validation failed: {e}"),
            );
            err.fields = Some(std::collections::BTreeMap::from([(
                "body".to_owned(),
                e.to_string(),
            )]));
            err
        })
    }
}
