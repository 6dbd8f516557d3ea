//! The legacy Magic Auth API (`/magic-auth/verification/*`) with SMS / e-mail fallback and
//! server-initiated auth, and its control endpoint `POST /sandbox/legacy/otp`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::extract::{Authed, BaseUrl, JsonBody};
use crate::control::SandboxControl;
use crate::error::ApiError;
use crate::fixtures;
use crate::legacy::{is_email, ServerAuth, ServerAuthStatus};
use crate::state::AppState;
use crate::util;

use crate::fixtures::OPERATOR_ID;

/// The body of `start` and `start-server-auth` (unknown fields ignored).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StartRequest {
    phone_number: Option<String>,
    email: Option<String>,
    fallback_channel: Option<String>,
    redirect_url: Option<String>,
    state: Option<String>,
}

/// The fallback channel asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fallback {
    Sms,
    Email,
    Rcs,
    None,
}

/// A validated start: the phone and/or e-mail and the fallback.
#[derive(Debug)]
struct Start {
    phone: Option<String>,
    email: Option<String>,
    fallback: Fallback,
}

fn validate(req: &StartRequest, allow_rcs: bool) -> Result<Start, ApiError> {
    let mut fields = BTreeMap::new();
    let phone = req.phone_number.clone().filter(|p| !p.is_empty());
    let email = req.email.clone().filter(|e| !e.is_empty());
    if phone.as_deref().is_some_and(|p| !util::is_e164(p)) {
        fields.insert(
            "phoneNumber".to_owned(),
            "Must be a valid E.164 phone number format".to_owned(),
        );
    }
    if email.as_deref().is_some_and(|e| !is_email(e)) {
        fields.insert(
            "email".to_owned(),
            "Must be a valid e-mail address".to_owned(),
        );
    }
    if phone.is_none() && email.is_none() {
        fields.insert(
            "phoneNumber".to_owned(),
            "phoneNumber or email is required".to_owned(),
        );
    }
    let fallback = match req.fallback_channel.as_deref() {
        None | Some("SMS") => Fallback::Sms,
        Some("EMAIL") => Fallback::Email,
        Some("NO_FALLBACK") => Fallback::None,
        Some("RCS") if allow_rcs => Fallback::Rcs,
        Some(_) => {
            fields.insert(
                "fallbackChannel".to_owned(),
                if allow_rcs {
                    "Must be SMS, EMAIL, RCS or NO_FALLBACK"
                } else {
                    "Must be SMS, EMAIL or NO_FALLBACK"
                }
                .to_owned(),
            );
            Fallback::Sms
        }
    };
    if let Some(url) = &req.redirect_url {
        if !url::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https")) {
            fields.insert(
                "redirectUrl".to_owned(),
                "Must be an absolute http(s) URL".to_owned(),
            );
        }
    }
    if !fields.is_empty() {
        return Err(ApiError::validation(fields));
    }
    Ok(Start {
        phone,
        email,
        fallback,
    })
}

fn not_eligible() -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "CARRIER_NOT_ELIGIBLE",
        "The phone number's carrier does not support this verification",
    )
}

/// Whether the legacy start offers the carrier link for `phone`: its fixture is eligible and
/// the configuration does not make it code-only.
fn link_eligible(state: &AppState, phone: &str) -> bool {
    fixtures::fixture(Some(phone)).eligible
        && !state.config.code_only_numbers.iter().any(|n| n == phone)
}

/// `POST /magic-auth/verification/start`.
pub(crate) async fn start(
    State(state): State<Arc<AppState>>,
    _auth: Authed,
    BaseUrl(base): BaseUrl,
    JsonBody(req): JsonBody<StartRequest>,
) -> Result<Json<Value>, ApiError> {
    let start = validate(&req, false)?;
    let lifetime = state.config.legacy_code_lifetime;
    let legacy = &state.legacy;
    match (&start.phone, &start.email) {
        (Some(phone), _) if link_eligible(&state, phone) => {
            let id = legacy.open_magic(phone, lifetime);
            let url = format!("{base}/sandbox/legacy/magic/{id}");
            Ok(Json(json!({
                "type": "MAGIC",
                "authUrl": url,
                "flatAuthUrl": url,
                "operatorId": OPERATOR_ID,
            })))
        }
        (Some(phone), email) => match (start.fallback, email) {
            (Fallback::None, _) => Err(not_eligible()),
            (Fallback::Email, Some(email)) => {
                legacy.send_otp(email, lifetime);
                Ok(Json(json!({"type": "EMAIL"})))
            }
            // Glide's SDK sends the number alone: the code goes to the address Glide has on
            // file for it, and is filed under the number.
            (Fallback::Email, None) => {
                legacy.send_otp(phone, lifetime);
                Ok(Json(json!({"type": "EMAIL"})))
            }
            _ => {
                legacy.send_otp(phone, lifetime);
                Ok(Json(json!({"type": "SMS"})))
            }
        },
        (None, Some(email)) => {
            legacy.send_otp(email, lifetime);
            Ok(Json(json!({"type": "EMAIL"})))
        }
        (None, None) => Err(ApiError::field(
            "phoneNumber",
            "phoneNumber or email is required",
        )),
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CheckRequest {
    phone_number: Option<String>,
    email: Option<String>,
    token: Option<String>,
    code: Option<String>,
}

/// `POST /magic-auth/verification/check` → `{verified}`.
pub(crate) async fn check(
    State(state): State<Arc<AppState>>,
    _auth: Authed,
    JsonBody(req): JsonBody<CheckRequest>,
) -> Result<Json<Value>, ApiError> {
    let phone = req.phone_number.filter(|p| !p.is_empty());
    let email = req.email.filter(|e| !e.is_empty());
    let token = req.token.filter(|t| !t.is_empty());
    let code = req.code.filter(|c| !c.is_empty());
    let mut fields = BTreeMap::new();
    if phone.is_none() && email.is_none() {
        fields.insert(
            "phoneNumber".to_owned(),
            "phoneNumber or email is required".to_owned(),
        );
    }
    if token.is_none() && code.is_none() {
        fields.insert("token".to_owned(), "token or code is required".to_owned());
    }
    if !fields.is_empty() {
        return Err(ApiError::validation(fields));
    }
    let legacy = &state.legacy;
    let verified = match (token, code) {
        (Some(token), _) => phone
            .as_deref()
            .is_some_and(|p| legacy.check_magic_token(p, &token)),
        (None, Some(code)) => {
            // The OTP went to the phone, or (e-mail fallback) to the address.
            let target = [phone.as_deref(), email.as_deref()]
                .into_iter()
                .flatten()
                .find(|t| legacy.has_otp(t));
            target.is_some_and(|t| legacy.check_otp(t, &code))
        }
        (None, None) => false,
    };
    Ok(Json(json!({ "verified": verified })))
}

/// `POST /magic-auth/verification/start-server-auth` → `{sessionId, authUrl}`.
pub(crate) async fn start_server_auth(
    State(state): State<Arc<AppState>>,
    _auth: Authed,
    BaseUrl(base): BaseUrl,
    JsonBody(req): JsonBody<StartRequest>,
) -> Result<Json<Value>, ApiError> {
    let start = validate(&req, true)?;
    let eligible = start
        .phone
        .as_deref()
        .is_none_or(|p| link_eligible(&state, p));
    if !eligible && start.fallback == Fallback::None {
        return Err(not_eligible());
    }
    let id = state.legacy.open_server_auth(ServerAuth {
        phone: start.phone,
        status: ServerAuthStatus::Pending,
        verified: false,
        redirect_url: req.redirect_url,
        state: req.state,
        expires_at: Instant::now() + state.config.legacy_code_lifetime,
    });
    Ok(Json(json!({
        "sessionId": id,
        "authUrl": format!("{base}/sandbox/legacy/server-auth/{id}"),
    })))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ServerAuthQuery {
    session_id: Option<String>,
}

/// `GET /magic-auth/verification/check-server-auth?sessionId=…` → `{status, verified}`.
pub(crate) async fn check_server_auth(
    State(state): State<Arc<AppState>>,
    _auth: Authed,
    Query(q): Query<ServerAuthQuery>,
) -> Result<Json<Value>, ApiError> {
    let id = q
        .session_id
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::field("sessionId", "Required"))?;
    let session = state
        .legacy
        .server_auth(&id)
        .ok_or_else(ApiError::session_not_found)?;
    if session.status == ServerAuthStatus::Pending && session.expires_at <= Instant::now() {
        return Err(ApiError::session_expired());
    }
    Ok(Json(json!({
        "status": session.status.as_str(),
        "verified": session.verified,
    })))
}

#[derive(Debug, Deserialize)]
pub(crate) struct OtpRequest {
    phone_number: Option<String>,
    email: Option<String>,
}

/// `POST /sandbox/legacy/otp` `{phone_number | email}` → `{code}` (404 if none was sent).
pub(crate) async fn sandbox_otp(
    State(state): State<Arc<AppState>>,
    JsonBody(req): JsonBody<OtpRequest>,
) -> Result<Json<Value>, ApiError> {
    let target = req
        .phone_number
        .or(req.email)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::field("phone_number", "phone_number or email is required"))?;
    let code = SandboxControl::new(state)
        .legacy_otp(&target)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "OTP_NOT_FOUND",
                "No code was sent to this phone number or e-mail address",
            )
        })?;
    Ok(Json(json!({ "code": code })))
}
