//! Number Verify (CAMARA `number-verification`), called with the token exchanged for an
//! operator authorization code: the token carries the device's number.

use std::sync::Arc;

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::extract::JsonBody;
use crate::error::ApiError;
use crate::state::AppState;
use crate::util;
use crate::util::ct_eq;

/// A request carrying a valid Number Verify token: the device number it is bound to.
#[derive(Debug)]
pub(crate) struct DeviceToken(String);

impl FromRequestParts<Arc<AppState>> for DeviceToken {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let token = super::extract::bearer_token(&parts.headers)?;
        state
            .legacy
            .nv_token_device(token)
            .map(Self)
            .ok_or_else(|| ApiError::unauthorized("Invalid or expired access token"))
    }
}

fn invalid_argument(message: &str) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "INVALID_ARGUMENT", message)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct VerifyRequest {
    phone_number: Option<String>,
    hashed_phone_number: Option<String>,
}

/// `POST /number-verification/verify` → `{devicePhoneNumberVerified}`.
pub(crate) async fn verify(
    DeviceToken(device): DeviceToken,
    JsonBody(req): JsonBody<VerifyRequest>,
) -> Result<Json<Value>, ApiError> {
    let verified = match (req.phone_number, req.hashed_phone_number) {
        (Some(phone), None) => {
            if !util::is_e164(&phone) {
                return Err(invalid_argument(
                    "phoneNumber must be an E.164 number such as +15555550100",
                ));
            }
            ct_eq(&phone, &device)
        }
        (None, Some(hashed)) => {
            if !util::is_hex64(&hashed) {
                return Err(invalid_argument(
                    "hashedPhoneNumber must be the SHA-256 hex of the E.164 number",
                ));
            }
            ct_eq(&hashed.to_ascii_lowercase(), &util::sha256_hex(&device))
        }
        _ => {
            return Err(invalid_argument(
                "Exactly one of phoneNumber and hashedPhoneNumber is required",
            ))
        }
    };
    Ok(Json(json!({ "devicePhoneNumberVerified": verified })))
}

/// `GET /number-verification/device-phone-number` → `{devicePhoneNumber}`.
pub(crate) async fn device_phone_number(
    State(_state): State<Arc<AppState>>,
    DeviceToken(device): DeviceToken,
) -> Json<Value> {
    Json(json!({ "devicePhoneNumber": device }))
}
