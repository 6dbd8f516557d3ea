//! The simulated device pages: the carrier "App Clip" of a Link session and the phone page a
//! desktop QR code opens. Both offer Approve / Deny; `?decision=approve|deny` skips the page.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::header::{CACHE_CONTROL, LOCATION, USER_AGENT};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use crate::control::SandboxControl;
use crate::error::ControlError;
use crate::fixtures::CARRIER_NAME;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
pub(crate) struct Decision {
    pub(crate) decision: Option<String>,
}

pub(crate) fn escape(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '&' => "&amp;".to_owned(),
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '"' => "&quot;".to_owned(),
            '\'' => "&#39;".to_owned(),
            c => c.to_string(),
        })
        .collect()
}

const STYLE: &str = "body{margin:0;font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;\
background:linear-gradient(160deg,#0f172a,#1e3a8a);min-height:100vh;display:flex;align-items:center;\
justify-content:center;color:#0f172a}.card{background:#fff;border-radius:20px;padding:32px 28px;\
max-width:360px;width:88%;box-shadow:0 20px 50px rgba(0,0,0,.35);text-align:center}\
.brand{font-size:13px;letter-spacing:.12em;text-transform:uppercase;color:#2563eb;font-weight:700}\
h1{font-size:22px;margin:12px 0 8px}p{color:#475569;line-height:1.5;font-size:15px}\
.row{display:flex;gap:12px;margin-top:24px}form{flex:1}button{width:100%;padding:14px;border-radius:12px;\
border:0;font-size:16px;font-weight:600;cursor:pointer}.ok{background:#2563eb;color:#fff}\
.no{background:#e2e8f0;color:#0f172a}.chip{display:inline-block;margin-top:8px;padding:6px 14px;\
border-radius:999px;color:#fff;font-weight:600}.small{font-size:12px;color:#94a3b8;margin-top:20px}";

/// `302 Found` to `location`, not cached; `None` when `location` is not valid header text.
pub(crate) fn found(location: &str) -> Option<Response> {
    let location = HeaderValue::from_str(location).ok()?;
    let mut response = StatusCode::FOUND.into_response();
    response.headers_mut().insert(LOCATION, location);
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Some(response)
}

pub(crate) fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>{t}</title>\
<style>{STYLE}</style></head><body><main class=\"card\">{body}\
<div class=\"small\">Glide sandbox · simulated device</div></main></body></html>",
        t = escape(title)
    );
    let mut response = (status, Html(html)).into_response();
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

pub(crate) fn buttons(action: &str) -> String {
    let action = escape(action);
    format!(
        "<div class=\"row\"><form method=\"get\" action=\"{action}\"><input type=\"hidden\" name=\"decision\" value=\"deny\">\
<button class=\"no\" type=\"submit\" id=\"deny\">Deny</button></form>\
<form method=\"get\" action=\"{action}\"><input type=\"hidden\" name=\"decision\" value=\"approve\">\
<button class=\"ok\" type=\"submit\" id=\"approve\">Approve</button></form></div>"
    )
}

pub(crate) fn message(status: StatusCode, title: &str, text: &str) -> Response {
    page(
        status,
        title,
        &format!("<h1>{}</h1><p>{}</p>", escape(title), escape(text)),
    )
}

pub(crate) fn control_error(e: &ControlError) -> Response {
    let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
    match e {
        ControlError::UserDenied => message(
            StatusCode::FORBIDDEN,
            "Verification declined",
            "The request was declined on this device. You can close this page.",
        ),
        ControlError::SessionNotFound => message(
            status,
            "Link not valid",
            "This verification link is unknown.",
        ),
        ControlError::SessionExpired => message(
            status,
            "Link expired",
            "This verification link has expired.",
        ),
        other => message(status, "Cannot continue", &other.to_string()),
    }
}

/// `GET /sandbox/link/{key}`.
pub(crate) async fn link_page(
    State(state): State<Arc<AppState>>,
    Path(key): Path<String>,
    Query(q): Query<Decision>,
) -> Response {
    let control = SandboxControl::new(state);
    match q.decision.as_deref() {
        Some("approve") => match control.link_approve(&key) {
            Ok(url) => found(&url).unwrap_or_else(|| {
                message(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Cannot continue",
                    "The completion URL is not valid.",
                )
            }),
            Err(e) => control_error(&e),
        },
        Some("deny") => match control.link_deny(&key) {
            Ok(()) => message(
                StatusCode::OK,
                "Verification declined",
                "You declined the request. You can close this page.",
            ),
            Err(e) => control_error(&e),
        },
        _ => match control.session_status(&key) {
            None => control_error(&ControlError::SessionNotFound),
            Some(_) => page(
                StatusCode::OK,
                "Confirm your phone number",
                &format!(
                    "<div class=\"brand\">{carrier}</div><h1>Confirm your phone number</h1>\
<p>A website asks {carrier} to confirm the phone number of this device. Share it?</p>{}",
                    buttons(&format!("/sandbox/link/{key}")),
                    carrier = escape(CARRIER_NAME),
                ),
            ),
        },
    }
}

/// `GET /sandbox/qr/{key}`: opening it counts as the scan.
pub(crate) async fn qr_page(
    State(state): State<Arc<AppState>>,
    Path(key): Path<String>,
    Query(q): Query<Decision>,
    headers: HeaderMap,
) -> Response {
    let control = SandboxControl::new(state);
    match q.decision.as_deref() {
        Some("approve") => match control.desktop_approve(&key) {
            Ok(()) => message(
                StatusCode::OK,
                "Approved",
                "Your phone number was confirmed. Return to your computer.",
            ),
            Err(e) => control_error(&e),
        },
        Some("deny") => match control.desktop_deny(&key) {
            Ok(()) => message(
                StatusCode::OK,
                "Verification declined",
                "You declined the request. You can close this page.",
            ),
            Err(e) => control_error(&e),
        },
        _ => {
            let ua = headers.get(USER_AGENT).and_then(|v| v.to_str().ok());
            if let Err(e) = control.desktop_scan_with(&key, ua) {
                return control_error(&e);
            }
            let challenge = super::prepare::challenge_for(&key);
            let pattern = challenge["pattern"].as_str().unwrap_or_default();
            let color = challenge["color"].as_str().unwrap_or_default();
            page(
                StatusCode::OK,
                "Sign in on your computer",
                &format!(
                    "<div class=\"brand\">Phone verification</div><h1>Sign in on your computer?</h1>\
<p>Check that your computer shows the same symbol:</p>\
<span class=\"chip\" style=\"background:{c}\">{p} · {c}</span>{}",
                    buttons(&format!("/sandbox/qr/{key}")),
                    c = escape(color),
                    p = escape(pattern),
                ),
            )
        }
    }
}
