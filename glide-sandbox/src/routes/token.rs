//! `POST /oauth2-cc/token`: OAuth2 client credentials with HTTP Basic auth.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::json;
use subtle::ConstantTimeEq as _;

use crate::state::AppState;

pub(crate) fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

/// Client id and secret from `Authorization: Basic …`, else from the form (client_secret_post).
pub(crate) fn credentials(
    headers: &HeaderMap,
    form: &[(String, String)],
) -> Option<(String, String)> {
    let from_header = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b64| STANDARD.decode(b64.trim()).ok())
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| {
            text.split_once(':')
                .map(|(id, secret)| (id.to_owned(), secret.to_owned()))
        });
    from_header.or_else(|| {
        let id = form_value(form, "client_id")?;
        let secret = form_value(form, "client_secret")?;
        Some((id.to_owned(), secret.to_owned()))
    })
}

/// The first value of `key` in a form.
pub(crate) fn form_value<'a>(form: &'a [(String, String)], key: &str) -> Option<&'a str> {
    form.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// The form of a token request whose client authenticated (Basic, else client_secret_post);
/// `None` when it did not (answer [`invalid_client`]). Both comparisons always run, in
/// constant time.
pub(crate) fn authenticated_form(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> Option<Vec<(String, String)>> {
    let form: Vec<(String, String)> = url::form_urlencoded::parse(body).into_owned().collect();
    let (id, secret) = credentials(headers, &form)?;
    let id_ok = id.as_bytes().ct_eq(state.config.client_id.as_bytes());
    let secret_ok = secret
        .as_bytes()
        .ct_eq(state.config.client_secret.as_bytes());
    bool::from(id_ok & secret_ok).then_some(form)
}

/// `401 invalid_client`.
pub(crate) fn invalid_client() -> Response {
    oauth_error(
        StatusCode::UNAUTHORIZED,
        "invalid_client",
        "Client authentication failed",
    )
}

pub(crate) async fn token(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let Some(form) = authenticated_form(&state, &headers, &body) else {
        return invalid_client();
    };
    let grant = form_value(&form, "grant_type");
    if grant != Some("client_credentials") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant_type must be client_credentials",
        );
    }
    let token = state.issue_token();
    Json(json!({
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": state.config.token_lifetime.as_secs(),
    }))
    .into_response()
}
