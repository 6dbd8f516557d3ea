//! Legacy SIM swap (CAMARA `sim-swap`, unversioned: `/sim-swap/{check,retrieve-date}`) and
//! Device Swap (CAMARA `device-swap` v1: `/device-swap/v1/{check,retrieve-date}`), each called
//! with the subscriber's CIBA token of its own scope (`sim-swap`, `device-swap`); the number
//! comes from the token, and a `phoneNumber` in the body must name the same one.
//!
//! Both APIs answer from the fixture table ([`crate::fixtures::SwapChange`]), consistently with
//! the number's Magical Auth signals:
//!
//! - SIM: `+15555550101` and `+15555550109` swapped 2 hours ago, `+15555550103` 20 days ago,
//!   others never (`retrieve-date` gives the SIM's activation date, never `null`);
//! - device: `+15555550102` changed 36 hours ago (`1-2 days`), others never (the date the
//!   number went into its device);
//! - `+15555550104`: the carrier gives neither signal, 422 `SERVICE_NOT_APPLICABLE` on both.

use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::ciba::CibaAuthed;
use super::extract::JsonBody;
use crate::error::ApiError;
use crate::fixtures::{self, SwapChange, DEVICE_FIRST_SEEN_DATE, SIM_ACTIVATION_DATE};
use crate::legacy::ciba::CibaScope;
use crate::util;

/// `maxAge` when the body has none (hours).
const DEFAULT_MAX_AGE: u64 = 240;

/// Which of the two swap APIs a route is.
#[derive(Debug, Clone, Copy)]
enum Api {
    Sim,
    Device,
}

impl Api {
    /// The CIBA scope its token must carry.
    fn scope(self) -> CibaScope {
        match self {
            Self::Sim => CibaScope::SimSwap,
            Self::Device => CibaScope::DeviceSwap,
        }
    }

    /// The `retrieve-date` answer's date field.
    fn date_field(self) -> &'static str {
        match self {
            Self::Sim => "latestSimChange",
            Self::Device => "latestDeviceChange",
        }
    }

    /// The date answered when nothing ever changed.
    fn since(self) -> &'static str {
        match self {
            Self::Sim => SIM_ACTIVATION_DATE,
            Self::Device => DEVICE_FIRST_SEEN_DATE,
        }
    }

    /// The last change of `phone`, in hours ago (`None`: never), or 422 when its carrier gives
    /// no signal.
    fn change(self, phone: &str) -> Result<Option<u64>, ApiError> {
        let fixture = fixtures::fixture(Some(phone));
        let change = match self {
            Self::Sim => fixture.sim_change,
            Self::Device => fixture.device_change,
        };
        match change {
            SwapChange::Never => Ok(None),
            SwapChange::HoursAgo(hours) => Ok(Some(hours)),
            SwapChange::NotSupported => Err(not_applicable()),
        }
    }
}

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

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RetrieveRequest {
    phone_number: Option<String>,
}

/// `check` of `api`: `{swapped}` within `maxAge`.
fn check(api: Api, auth: &CibaAuthed, req: &CheckRequest) -> Result<Json<Value>, ApiError> {
    let phone = auth.number_for(api.scope(), req.phone_number.as_deref())?;
    let window = max_age(req.max_age.as_ref())?;
    let swapped = api.change(&phone)?.is_some_and(|hours| hours <= window);
    Ok(Json(json!({ "swapped": swapped })))
}

/// `retrieve-date` of `api`: the last change (RFC 3339), or the date since when nothing changed.
fn retrieve_date(
    api: Api,
    auth: &CibaAuthed,
    req: &RetrieveRequest,
) -> Result<Json<Value>, ApiError> {
    let phone = auth.number_for(api.scope(), req.phone_number.as_deref())?;
    let latest = match api.change(&phone)? {
        Some(hours) => {
            let hours = i64::try_from(hours).unwrap_or(i64::MAX);
            util::rfc3339(util::now() - time::Duration::hours(hours))
        }
        None => api.since().to_owned(),
    };
    let mut answer = serde_json::Map::new();
    answer.insert(api.date_field().to_owned(), Value::String(latest));
    Ok(Json(Value::Object(answer)))
}

/// `POST /sim-swap/check` `{phoneNumber?, maxAge?}` → `{swapped}`.
pub(crate) async fn sim_check(
    auth: CibaAuthed,
    JsonBody(req): JsonBody<CheckRequest>,
) -> Result<Json<Value>, ApiError> {
    check(Api::Sim, &auth, &req)
}

/// `POST /sim-swap/retrieve-date` `{phoneNumber?}` → `{latestSimChange}` (RFC 3339; the
/// activation date when the SIM never changed).
pub(crate) async fn sim_retrieve_date(
    auth: CibaAuthed,
    JsonBody(req): JsonBody<RetrieveRequest>,
) -> Result<Json<Value>, ApiError> {
    retrieve_date(Api::Sim, &auth, &req)
}

/// `POST /device-swap/v1/check` `{phoneNumber?, maxAge?}` → `{swapped}`.
pub(crate) async fn device_check(
    auth: CibaAuthed,
    JsonBody(req): JsonBody<CheckRequest>,
) -> Result<Json<Value>, ApiError> {
    check(Api::Device, &auth, &req)
}

/// `POST /device-swap/v1/retrieve-date` `{phoneNumber?}` → `{latestDeviceChange}` (RFC 3339;
/// the date the number went into its device when it never changed).
pub(crate) async fn device_retrieve_date(
    auth: CibaAuthed,
    JsonBody(req): JsonBody<RetrieveRequest>,
) -> Result<Json<Value>, ApiError> {
    retrieve_date(Api::Device, &auth, &req)
}
