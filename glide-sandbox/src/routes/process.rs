//! `POST /magic-auth/v2/auth/{verify-phone-number,get-phone-number}`.
//!
//! A successful answer consumes the session: a second verify answers 404 `SESSION_NOT_FOUND`.
//! Every check and the consumption happen under the session's lock, so of two concurrent
//! verifies exactly one wins.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use subtle::ConstantTimeEq as _;

use super::extract::{Authed, JsonBody};
use crate::error::ApiError;
use crate::fixtures;
use crate::jwt;
use crate::state::{lock, AppState, Session, SessionCell, Status, Strategy, UseCase};
use crate::util;

#[derive(Debug, Deserialize)]
pub(crate) struct ProcessRequest {
    session: Option<Value>,
    credential: Option<Value>,
    fe_code: Option<String>,
    signature: Option<String>,
}

pub(crate) async fn verify_phone_number(
    State(state): State<Arc<AppState>>,
    _auth: Authed,
    JsonBody(req): JsonBody<ProcessRequest>,
) -> Result<Response, ApiError> {
    process(&state, UseCase::Verify, req).await
}

pub(crate) async fn get_phone_number(
    State(state): State<Arc<AppState>>,
    _auth: Authed,
    JsonBody(req): JsonBody<ProcessRequest>,
) -> Result<Response, ApiError> {
    process(&state, UseCase::Get, req).await
}

/// The credential text: a string, or the first `vp_token` value of a legacy object.
fn credential_text(credential: &Value) -> Option<String> {
    match credential {
        Value::String(s) if s.trim_start().starts_with('{') => serde_json::from_str::<Value>(s)
            .ok()
            .and_then(|v| credential_text(&v)),
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Object(map) => {
            let token = map.get("vp_token")?;
            match token {
                Value::Object(ids) => {
                    let first = ids.values().next()?;
                    match first {
                        Value::Array(items) => credential_text(items.first()?),
                        other => credential_text(other),
                    }
                }
                other => credential_text(other),
            }
        }
        _ => None,
    }
}

async fn process(
    state: &AppState,
    use_case: UseCase,
    req: ProcessRequest,
) -> Result<Response, ApiError> {
    let key = req
        .session
        .as_ref()
        .and_then(|s| s.get("session_key"))
        .and_then(Value::as_str)
        .filter(|k| !k.is_empty())
        .ok_or_else(|| ApiError::field("session.session_key", "Required"))?
        .to_owned();
    let credential = req
        .credential
        .as_ref()
        .filter(|c| !c.is_null())
        .ok_or_else(|| ApiError::field("credential", "Required"))?;
    if let Some(fe) = &req.fe_code {
        if !util::is_hex64(fe) {
            return Err(ApiError::field("fe_code", "Must be 64 hex characters"));
        }
    }
    let cell = state
        .session(&key)
        .ok_or_else(ApiError::session_not_found)?;
    let (strategy, slow) = {
        let s = lock(&cell.data);
        if s.is_expired() {
            return Err(ApiError::session_expired());
        }
        if s.use_case != use_case {
            return Err(ApiError::not_eligible(&format!(
                "Session was prepared for {}",
                s.use_case.as_str()
            )));
        }
        (
            s.strategy,
            fixtures::fixture(s.phone_number.as_deref()).slow,
        )
    };
    if slow {
        tokio::time::sleep(state.config.slow_carrier_delay).await;
    }
    match strategy {
        Strategy::Ts43 => {
            let text = credential_text(credential).ok_or_else(ApiError::invalid_credential)?;
            let mut s = lock(&cell.data);
            check_usable(&s)?;
            let aud = check_ts43(state, &s, &text)?;
            let device = aud.1;
            s.aud = Some(aud.0);
            s.device_number = Some(device);
            s.consumed = true;
            cell.set_status(&mut s, Status::Completed);
            Ok(Json(result(&s)).into_response())
        }
        Strategy::Link => {
            let text = credential_text(credential).ok_or_else(ApiError::invalid_credential)?;
            let mut s = lock(&cell.data);
            check_usable(&s)?;
            if s.status != Status::Completed {
                return Err(ApiError::binding_failed(
                    "Device binding has not been completed for this session",
                ));
            }
            if text != s.key {
                return Err(ApiError::invalid_credential());
            }
            check_binding(&s, &text, req.fe_code.as_deref(), req.signature.as_deref())?;
            s.consumed = true;
            Ok(Json(result(&s)).into_response())
        }
        Strategy::Desktop => desktop(state, &cell).await,
    }
}

/// Refuses consumed, failed or expired sessions.
fn check_usable(s: &Session) -> Result<(), ApiError> {
    if s.consumed {
        return Err(ApiError::session_not_found());
    }
    if s.is_expired() {
        return Err(ApiError::session_expired());
    }
    if s.status == Status::Failed {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "INVALID_VERIFICATION",
            "The user denied the verification request on the device",
        ));
    }
    Ok(())
}

/// Checks a TS43 SD-JWT; returns `(aud, device number)` and marks it used.
fn check_ts43(state: &AppState, s: &Session, text: &str) -> Result<(String, String), ApiError> {
    let jws = text.split('~').next().unwrap_or_default();
    let (_, claims) =
        jwt::verify(state.signer.verifying_key(), jws).ok_or_else(ApiError::invalid_credential)?;
    let claim = |name: &str| claims.get(name).and_then(Value::as_str);
    let now = util::now().unix_timestamp();
    let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or(0);
    let fresh = now < exp;
    let bound =
        claim("nonce") == Some(s.nonce.as_str()) && claim("session_key") == Some(s.key.as_str());
    let (Some(aud), Some(phone), Some(jti)) = (claim("aud"), claim("phone_number"), claim("jti"))
    else {
        return Err(ApiError::invalid_credential());
    };
    if !fresh || !bound || !util::is_e164(phone) {
        return Err(ApiError::invalid_credential());
    }
    let allowed = &state.config.allowed_origins;
    if !allowed.is_empty() && !allowed.iter().any(|o| o == aud) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "AUDIENCE_VALIDATION_FAILED",
            "The credential was issued for an origin this client does not allow",
        ));
    }
    // Remembered until the credential expires (after that it is refused as expired anyway).
    let valid_for = std::time::Duration::from_secs(u64::try_from(exp - now).unwrap_or(0));
    let valid_until = std::time::Instant::now() + valid_for;
    if !lock(&state.used_credentials).insert(jti, valid_until) {
        return Err(ApiError::invalid_credential());
    }
    Ok((aud.to_owned(), phone.to_owned()))
}

/// Link: `sha256(fe_code) == fe_hash`, or a P-256 `signature` over `"{session_key}:{credential}"`.
fn check_binding(
    s: &Session,
    credential: &str,
    fe_code: Option<&str>,
    signature: Option<&str>,
) -> Result<(), ApiError> {
    let mut proven = false;
    if let Some(fe) = fe_code {
        let hash = util::sha256_hex(&fe.to_ascii_lowercase());
        let ok = s
            .fe_hash
            .as_ref()
            .is_some_and(|h| bool::from(h.as_bytes().ct_eq(hash.as_bytes())));
        if !ok {
            return Err(ApiError::binding_failed(
                "Device binding verification failed",
            ));
        }
        proven = true;
    }
    if let Some(sig) = signature {
        let message = format!("{}:{credential}", s.key);
        let ok = s
            .public_key
            .as_ref()
            .is_some_and(|pk| jwt::verify_der(pk, &message, sig));
        if !ok {
            return Err(ApiError::binding_failed(
                "Device binding verification failed",
            ));
        }
        proven = true;
    }
    if proven {
        Ok(())
    } else {
        Err(ApiError::binding_failed(
            "Device binding proof (fe_code or signature) is missing",
        ))
    }
}

/// Desktop: wait (woken by the phone, no polling) until the session ends or the wait passes.
async fn desktop(state: &AppState, cell: &SessionCell) -> Result<Response, ApiError> {
    let mut changes = cell.changed.subscribe();
    let deadline = {
        let s = lock(&cell.data);
        check_usable(&s)?;
        tokio::time::Instant::now()
            + state.config.desktop_wait.min(
                s.expires_at
                    .saturating_duration_since(std::time::Instant::now()),
            )
    };
    loop {
        {
            let mut s = lock(&cell.data);
            check_usable(&s)?;
            if s.status == Status::Completed {
                s.consumed = true;
                return Ok(Json(result(&s)).into_response());
            }
        }
        match tokio::time::timeout_at(deadline, changes.changed()).await {
            Ok(Ok(())) => continue,
            _ => break,
        }
    }
    let mut s = lock(&cell.data);
    check_usable(&s)?;
    if s.status == Status::Completed {
        // Completed at the very end of the wait: hand it out now rather than on the retry.
        s.consumed = true;
        return Ok(Json(result(&s)).into_response());
    }
    let body = json!({
        "status": "waiting",
        "message": "Waiting for the user to complete verification on their phone",
        "session_key": s.key,
        "session_status": s.status.as_str(),
        "retry": true,
        "session_expires_in_seconds": s.remaining_secs(),
    });
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}

/// The result body of a completed session.
fn result(s: &Session) -> Value {
    let device = s
        .device_number
        .clone()
        .unwrap_or_else(|| fixtures::device_number(s.phone_number.as_deref()));
    let checked_at = util::now();
    let fixture = fixtures::fixture(Some(&device));
    let mut body = json!({
        "sim_swap": fixtures::signal_json(fixture.sim_swap, checked_at),
    });
    if let Some(spec) = fixture.device_swap {
        body["device_swap"] = fixtures::signal_json(spec, checked_at);
    }
    let number = match (s.use_case, &s.phone_number) {
        (UseCase::Verify, Some(asked)) => {
            body["verified"] = json!(*asked == device);
            asked.clone()
        }
        _ => device,
    };
    if let Some(details) = fixtures::phone_details(&number) {
        body["phone_number_details"] = details;
    }
    body["phone_number"] = json!(number);
    if let Some(aud) = &s.aud {
        body["aud"] = json!(aud);
    }
    body
}
