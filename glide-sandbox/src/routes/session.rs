//! report-invocation, eligibility and the two status endpoints.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::extract::{Authed, JsonBody};
use super::prepare::ClientInfo;
use crate::error::ApiError;
use crate::fixtures;
use crate::state::{lock, AppState, Status, Strategy};
use crate::util;

#[derive(Debug, Deserialize)]
pub(crate) struct InvocationRequest {
    session_id: Option<String>,
}

/// `POST /magic-auth/v2/auth/report-invocation` → `{"success": true}` (idempotent).
pub(crate) async fn report_invocation(
    State(state): State<Arc<AppState>>,
    _auth: Authed,
    JsonBody(req): JsonBody<InvocationRequest>,
) -> Result<Json<Value>, ApiError> {
    let key = req
        .session_id
        .filter(|k| !k.is_empty())
        .ok_or_else(|| ApiError::field("session_id", "Required"))?;
    state
        .session(&key)
        .ok_or_else(ApiError::session_not_found)?;
    Ok(Json(json!({"success": true})))
}

/// `GET /magic-auth/v2/auth/status/{key}` (bearer).
pub(crate) async fn status(
    State(state): State<Arc<AppState>>,
    _auth: Authed,
    Path(key): Path<String>,
) -> Result<Response, ApiError> {
    status_of(&state, &key)
}

/// `GET /public/status/{key}` (no auth).
pub(crate) async fn public_status(
    State(state): State<Arc<AppState>>,
    Path(key): Path<String>,
) -> Result<Response, ApiError> {
    status_of(&state, &key)
}

/// The status answer, as Glide's web SDK reads it: 200 with the status body; 422 with the same
/// body (`"status": "failed"`, `extra.reason`) for a failed or denied flow; 410 for an expired
/// session; 404 for an unknown one.
fn status_of(state: &AppState, key: &str) -> Result<Response, ApiError> {
    let cell = state.session(key).ok_or_else(ApiError::session_not_found)?;
    let s = lock(&cell.data);
    if s.status == Status::Failed {
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Json(s.status_json())).into_response());
    }
    if s.is_expired() {
        return Err(ApiError::new(
            StatusCode::GONE,
            "SESSION_EXPIRED",
            "Session has expired",
        ));
    }
    Ok(Json(s.status_json()).into_response())
}

#[derive(Debug, Deserialize)]
pub(crate) struct Plmn {
    mcc: Option<String>,
    mnc: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct EligibilityRequest {
    phone_number: Option<String>,
    plmn: Option<Plmn>,
    client_info: Option<ClientInfo>,
}

/// `POST /magic-auth/v2/auth/eligibility`.
pub(crate) async fn eligibility(
    State(_state): State<Arc<AppState>>,
    _auth: Authed,
    JsonBody(req): JsonBody<EligibilityRequest>,
) -> Result<Json<Value>, ApiError> {
    let mut fields = BTreeMap::new();
    if let Some(p) = &req.phone_number {
        if !util::is_e164(p) {
            fields.insert(
                "phone_number".to_owned(),
                "Must be a valid E.164 phone number format".to_owned(),
            );
        }
    }
    if let Some(plmn) = &req.plmn {
        if !plmn
            .mcc
            .as_deref()
            .is_some_and(|m| util::is_digits(m, 3..=3))
            || !plmn
                .mnc
                .as_deref()
                .is_some_and(|m| util::is_digits(m, 2..=3))
        {
            fields.insert(
                "plmn".to_owned(),
                "mcc must be 3 digits, mnc 2-3 digits".to_owned(),
            );
        }
    }
    if req.phone_number.is_none() && req.plmn.is_none() {
        fields.insert(
            "phone_number".to_owned(),
            "phone_number or plmn is required".to_owned(),
        );
    }
    let ua = req.client_info.and_then(|c| c.user_agent);
    if ua.as_deref().is_none_or(str::is_empty) {
        fields.insert("client_info.user_agent".to_owned(), "Required".to_owned());
    }
    if !fields.is_empty() {
        return Err(ApiError::validation(fields));
    }
    if !fixtures::fixture(req.phone_number.as_deref()).eligible {
        return Ok(Json(json!({"eligible": false, "available_options": []})));
    }
    let strategy = Strategy::for_user_agent(ua.as_deref().unwrap_or_default());
    let option = |s: Strategy| {
        let (name, description, platforms, target) = match s {
            Strategy::Ts43 => (
                "Digital Credentials",
                "Verify with the phone's SIM through the browser",
                json!(["android"]),
                "self",
            ),
            Strategy::Link => (
                "Carrier App Link",
                "Verify through the carrier's app on this phone",
                json!(["ios", "android"]),
                "self",
            ),
            Strategy::Desktop => (
                "QR Code",
                "Scan a QR code with your phone",
                json!(["desktop"]),
                "companion",
            ),
        };
        json!({
            "authentication_strategy": s.as_str(),
            "name": name,
            "description": description,
            "available_platforms": platforms,
            "requirements": {"target": target},
        })
    };
    let mut options = vec![option(strategy)];
    if strategy != Strategy::Desktop {
        options.push(option(Strategy::Desktop));
    }
    Ok(Json(
        json!({"eligible": true, "available_options": options}),
    ))
}
