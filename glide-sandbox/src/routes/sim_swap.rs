//! Legacy SIM swap (CAMARA `sim-swap`), called with a client-credentials token.
//!
//! Fixtures: `+15555550101` swapped 2 hours ago, `+15555550103` 20 days ago, others never.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::extract::{Authed, JsonBody};
use crate::error::ApiError;
use crate::legacy::sim_change_age;
use crate::state::AppState;
use crate::util;

fn invalid_argument(message: &str) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "INVALID_ARGUMENT", message)
}

fn phone(p: Option<String>) -> Result<String, ApiError> {
    p.filter(|p| util::is_e164(p))
        .ok_or_else(|| invalid_argument("phoneNumber must be an E.164 number such as +15555550100"))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CheckRequest {
    phone_number: Option<String>,
    max_age: Option<i64>,
}

/// `POST /sim-swap/check` `{phoneNumber, maxAge?}` → `{swapped}`.
pub(crate) async fn check(
    State(_state): State<Arc<AppState>>,
    _auth: Authed,
    JsonBody(req): JsonBody<CheckRequest>,
) -> Result<Json<Value>, ApiError> {
    let phone = phone(req.phone_number)?;
    let max_age = req.max_age.unwrap_or(240);
    let hours = u64::try_from(max_age)
        .ok()
        .filter(|h| (1..=2400).contains(h))
        .ok_or_else(|| invalid_argument("maxAge must be between 1 and 2400 hours"))?;
    let swapped = sim_change_age(&phone).is_some_and(|age| age.as_secs() <= hours * 3600);
    Ok(Json(json!({ "swapped": swapped })))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RetrieveRequest {
    phone_number: Option<String>,
}

/// `POST /sim-swap/retrieve-date` `{phoneNumber}` → `{latestSimChange}` (RFC 3339 or null).
pub(crate) async fn retrieve_date(
    State(_state): State<Arc<AppState>>,
    _auth: Authed,
    JsonBody(req): JsonBody<RetrieveRequest>,
) -> Result<Json<Value>, ApiError> {
    let phone = phone(req.phone_number)?;
    let latest = sim_change_age(&phone).map(|age| util::rfc3339(util::now() - age));
    Ok(Json(json!({ "latestSimChange": latest })))
}
