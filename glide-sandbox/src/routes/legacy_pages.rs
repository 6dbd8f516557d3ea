//! The simulated device pages of the legacy surfaces: the carrier's magic page (its response
//! carries the `token` header the client SDK reads) and the server-auth page with Approve /
//! Deny (`?decision=approve|deny` skips it).

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::Response;

use super::pages::{buttons, control_error, escape, found, message, page, Decision};
use crate::control::SandboxControl;
use crate::error::ControlError;
use crate::fixtures::{self, CARRIER_NAME};
use crate::legacy::ServerAuthStatus;
use crate::state::AppState;

/// `GET /sandbox/legacy/magic/{id}`: the carrier confirms the device's number and answers with
/// a fresh single-use magic token in the `token` header.
pub(crate) async fn magic_page(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Response {
    let Some(session) = state.legacy.magic_session(&id) else {
        return control_error(&ControlError::SessionNotFound);
    };
    if session.expires_at <= Instant::now() {
        return control_error(&ControlError::SessionExpired);
    }
    if fixtures::fixture(Some(&session.phone)).denies {
        return control_error(&ControlError::UserDenied);
    }
    let token = state
        .legacy
        .mint_magic_token(&session.phone, state.config.legacy_code_lifetime);
    let mut response = page(
        StatusCode::OK,
        "Phone number confirmed",
        &format!(
            "<div class=\"brand\">{carrier}</div><h1 id=\"magic-confirmed\">Phone number confirmed</h1>\
<p>{carrier} confirmed the phone number of this device. You can return to the website.</p>",
            carrier = escape(CARRIER_NAME),
        ),
    );
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&token) {
        headers.insert(HeaderName::from_static("token"), v);
    }
    headers.insert(
        HeaderName::from_static("access-control-expose-headers"),
        HeaderValue::from_static("token"),
    );
    headers.insert(
        HeaderName::from_static("access-control-allow-origin"),
        HeaderValue::from_static("*"),
    );
    response
}

fn redirect(location: &str) -> Response {
    found(location).unwrap_or_else(|| {
        message(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Cannot continue",
            "The redirect URL is not valid.",
        )
    })
}

/// `GET /sandbox/legacy/server-auth/{id}`.
pub(crate) async fn server_auth_page(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    Query(q): Query<Decision>,
) -> Response {
    let control = SandboxControl::new(Arc::clone(&state));
    let approve = match q.decision.as_deref() {
        Some("approve") => true,
        Some("deny") => false,
        _ => {
            let Some(session) = state.legacy.server_auth(&id) else {
                return control_error(&ControlError::SessionNotFound);
            };
            if session.status == ServerAuthStatus::Completed {
                return control_error(&ControlError::InvalidState("COMPLETED"));
            }
            if session.expires_at <= Instant::now() {
                return control_error(&ControlError::SessionExpired);
            }
            return page(
                StatusCode::OK,
                "Confirm your sign-in",
                &format!(
                    "<div class=\"brand\">{carrier}</div><h1>Confirm your sign-in</h1>\
<p>A website asks {carrier} to confirm that this is your phone number. Approve?</p>{}",
                    buttons(&format!("/sandbox/legacy/server-auth/{id}")),
                    carrier = escape(CARRIER_NAME),
                ),
            );
        }
    };
    match control.server_auth_decide(&id, approve) {
        Ok((_, Some(location))) => redirect(&location),
        Ok((true, None)) => message(
            StatusCode::OK,
            "Approved",
            "Your phone number was confirmed. You can return to the website.",
        ),
        Ok((false, None)) if approve => control_error(&ControlError::UserDenied),
        Ok((false, None)) => message(
            StatusCode::OK,
            "Verification declined",
            "You declined the request. You can close this page.",
        ),
        Err(e) => control_error(&e),
    }
}
