//! Legacy SIM swap (CAMARA `sim-swap`, unversioned), called with the subscriber's CIBA token
//! (scope `sim-swap`); the number comes from the token, and a `phoneNumber` in the body must
//! name the same one.
//!
//! Answers from the fixture table ([`crate::fixtures::SimChange`]): `+15555550101` and
//! `+15555550109` swapped 2 hours ago, `+15555550103` 20 days ago, `+15555550104` not supported
//! (422 `SERVICE_NOT_APPLICABLE`), others never swapped (`retrieve-date` gives the SIM's
//! activation date, never `null`).

use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::ciba::CibaAuthed;
use super::extract::JsonBody;
use crate::error::ApiError;
use crate::fixtures::{self, SimChange, SIM_ACTIVATION_DATE};
use crate::legacy::ciba::CibaScope;
use crate::util;

/// `maxAge` when the body has none (hours).
const DEFAULT_MAX_AGE: u64 = 240;

fn invalid_argument(message: &str) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "INVALID_ARGUMENT", message)
}

fn not_applicable() -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "SERVICE_NOT_APPLICABLE",
        "The service is not available for the provided phone number",
    )
}

/// The SIM change of `phone`, or 422 when its carrier gives no signal.
fn sim_change(phone: &str) -> Result<Option<u64>, ApiError> {
    match fixtures::fixture(Some(phone)).sim_change {
        SimChange::Never => Ok(None),
        SimChange::HoursAgo(hours) => Ok(Some(hours)),
        SimChange::NotSupported => Err(not_applicable()),
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CheckRequest {
    phone_number: Option<String>,
    max_age: Option<Value>,
}

/// `maxAge`: an integer 1–2400 (hours), default 240.
fn max_age(value: Option<&Value>) -> Result<u64, ApiError> {
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return Ok(DEFAULT_MAX_AGE);
    };
    let hours = value
        .as_i64()
        .ok_or_else(|| invalid_argument("maxAge must be an integer number of hours"))?;
    u64::try_from(hours)
        .ok()
        .filter(|h| (1..=2400).contains(h))
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "OUT_OF_RANGE",
                "maxAge must be between 1 and 2400 hours",
            )
        })
}

/// `POST /sim-swap/check` `{phoneNumber?, maxAge?}` → `{swapped}`.
pub(crate) async fn check(
    auth: CibaAuthed,
    JsonBody(req): JsonBody<CheckRequest>,
) -> Result<Json<Value>, ApiError> {
    let phone = auth.number_for(CibaScope::SimSwap, req.phone_number.as_deref())?;
    let window = max_age(req.max_age.as_ref())?;
    let swapped = sim_change(&phone)?.is_some_and(|hours| hours <= window);
    Ok(Json(json!({ "swapped": swapped })))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RetrieveRequest {
    phone_number: Option<String>,
}

/// `POST /sim-swap/retrieve-date` `{phoneNumber?}` → `{latestSimChange}` (RFC 3339; the
/// activation date when the SIM never changed).
pub(crate) async fn retrieve_date(
    auth: CibaAuthed,
    JsonBody(req): JsonBody<RetrieveRequest>,
) -> Result<Json<Value>, ApiError> {
    let phone = auth.number_for(CibaScope::SimSwap, req.phone_number.as_deref())?;
    let latest = match sim_change(&phone)? {
        Some(hours) => {
            let hours = i64::try_from(hours).unwrap_or(i64::MAX);
            util::rfc3339(util::now() - time::Duration::hours(hours))
        }
        None => SIM_ACTIVATION_DATE.to_owned(),
    };
    Ok(Json(json!({ "latestSimChange": latest })))
}
