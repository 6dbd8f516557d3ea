//! The control API under `/sandbox/*` (not part of Glide).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::extract::JsonBody;
use crate::control::SandboxControl;
use crate::error::{ApiError, ControlError};
use crate::faults::FaultSpec;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
pub(crate) struct CredentialRequest {
    session_key: Option<String>,
    nonce: Option<String>,
    origin: Option<String>,
    phone_number: Option<String>,
}

/// `POST /sandbox/ts43/credential` `{session_key | nonce, origin, phone_number?}` → `{credential}`.
pub(crate) async fn ts43_credential(
    State(state): State<Arc<AppState>>,
    JsonBody(req): JsonBody<CredentialRequest>,
) -> Result<Json<Value>, ApiError> {
    let control = SandboxControl::new(state);
    let origin = req
        .origin
        .filter(|o| !o.is_empty())
        .ok_or_else(|| ApiError::field("origin", "Required"))?;
    let phone = req.phone_number.as_deref();
    let credential = match (req.session_key, req.nonce) {
        (Some(key), _) => control.ts43_credential(&key, &origin, phone)?,
        (None, Some(nonce)) => control.ts43_credential_for_nonce(&nonce, &origin, phone)?,
        (None, None) => {
            return Err(ApiError::field(
                "session_key",
                "session_key or nonce is required",
            ))
        }
    };
    Ok(Json(json!({ "credential": credential })))
}

/// `POST /sandbox/desktop/{key}/{scan|approve|deny}`.
pub(crate) async fn desktop_action(
    State(state): State<Arc<AppState>>,
    headers: axum::http::HeaderMap,
    Path((key, action)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let control = SandboxControl::new(state);
    let ua = headers
        .get(axum::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    let outcome = match action.as_str() {
        "scan" => control.desktop_scan_with(&key, ua),
        "approve" => control.desktop_approve(&key),
        "deny" => control.desktop_deny(&key),
        _ => {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
                "Unknown action: use scan, approve or deny",
            ))
        }
    };
    match outcome {
        Ok(()) | Err(ControlError::UserDenied) => {
            let status = control.session_status(&key).unwrap_or_default();
            Ok(Json(json!({ "session_key": key, "status": status })))
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /sandbox/faults`.
pub(crate) async fn add_fault(
    State(state): State<Arc<AppState>>,
    JsonBody(spec): JsonBody<FaultSpec>,
) -> Result<Response, ApiError> {
    let fault = spec
        .into_fault()
        .map_err(|(field, problem)| ApiError::field(field, problem))?;
    SandboxControl::new(state).add_fault(fault);
    Ok((StatusCode::CREATED, Json(json!({"success": true}))).into_response())
}

/// `DELETE /sandbox/faults`.
pub(crate) async fn clear_faults(State(state): State<Arc<AppState>>) -> StatusCode {
    SandboxControl::new(state).clear_faults();
    StatusCode::NO_CONTENT
}

/// `GET /sandbox/requests`.
pub(crate) async fn requests(State(state): State<Arc<AppState>>) -> Json<Value> {
    Json(json!(SandboxControl::new(state).requests()))
}

/// `DELETE /sandbox/requests`.
pub(crate) async fn clear_requests(State(state): State<Arc<AppState>>) -> StatusCode {
    SandboxControl::new(state).clear_requests();
    StatusCode::NO_CONTENT
}
