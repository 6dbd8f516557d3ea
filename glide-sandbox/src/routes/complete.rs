//! `POST /magic-auth/v2/auth/complete`: Link device-binding completion.
//!
//! Checks `sha256(fe_code) == fe_hash`, the single-use `agg_code` and the browser family against
//! prepare's user agent, all under the session's lock: of two completes with one `agg_code`
//! exactly one wins.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::extract::{Authed, JsonBody};
use crate::error::ApiError;
use crate::fixtures;
use crate::state::{lock, AppState, Status, Strategy};
use crate::util::{self, ct_eq};

#[derive(Debug, Deserialize)]
pub(crate) struct CompleteRequest {
    session_key: Option<String>,
    fe_code: Option<String>,
    agg_code: Option<String>,
    user_agent: Option<String>,
}

pub(crate) async fn complete(
    State(state): State<Arc<AppState>>,
    _auth: Authed,
    JsonBody(req): JsonBody<CompleteRequest>,
) -> Result<Json<Value>, ApiError> {
    let mut fields = BTreeMap::new();
    if req.session_key.as_deref().is_none_or(str::is_empty) {
        fields.insert("session_key".to_owned(), "Required".to_owned());
    }
    if !req.fe_code.as_deref().is_some_and(util::is_hex64) {
        fields.insert("fe_code".to_owned(), "Must be 64 hex characters".to_owned());
    }
    if !req.agg_code.as_deref().is_some_and(util::is_hex64) {
        fields.insert(
            "agg_code".to_owned(),
            "Must be 64 hex characters".to_owned(),
        );
    }
    let (Some(key), Some(fe_code), Some(agg_code)) = (req.session_key, req.fe_code, req.agg_code)
    else {
        return Err(ApiError::validation(fields));
    };
    if !fields.is_empty() {
        return Err(ApiError::validation(fields));
    }
    let cell = state
        .session(&key)
        .ok_or_else(ApiError::session_not_found)?;
    let slow = {
        let s = lock(&cell.data);
        fixtures::fixture(s.phone_number.as_deref()).slow
    };
    if slow {
        tokio::time::sleep(state.config.slow_carrier_delay).await;
    }
    let mut s = lock(&cell.data);
    if s.is_expired() {
        return Err(ApiError::session_expired());
    }
    if s.strategy != Strategy::Link {
        return Err(ApiError::not_eligible("Only link sessions are completed"));
    }
    let agg_ok = s
        .agg_code
        .as_deref()
        .is_some_and(|expected| ct_eq(expected, &agg_code.to_ascii_lowercase()))
        && !s.agg_code_used
        && s.status == Status::PendingCompletion;
    if !agg_ok {
        return Err(ApiError::binding_failed(
            "The authorization code is invalid or was already used",
        ));
    }
    let hash = util::sha256_hex(&fe_code.to_ascii_lowercase());
    if !s.fe_hash.as_deref().is_some_and(|h| ct_eq(h, &hash)) {
        return Err(ApiError::binding_failed(
            "Device binding verification failed",
        ));
    }
    if let (Some(now_ua), Some(then_ua)) = (req.user_agent.as_deref(), s.user_agent.as_deref()) {
        if let (Some(a), Some(b)) = (util::browser_family(now_ua), util::browser_family(then_ua)) {
            if a != b {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "BROWSER_MISMATCH",
                    "Verification must be completed in the browser that started it",
                ));
            }
        }
    }
    s.agg_code_used = true;
    cell.set_status(&mut s, Status::Completed);
    Ok(Json(json!({"status": "completed"})))
}
