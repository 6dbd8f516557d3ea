//! One middleware around every route: CORS for browser-facing paths, body limit, the request
//! log, injected faults and the `X-Correlation-ID` echo.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_MAX_AGE, CONTENT_TYPE,
};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::faults::FaultKind;
use crate::log::{redacted_body, LoggedRequest};
use crate::state::{lock, AppState};

/// Largest request body accepted.
pub(crate) const BODY_LIMIT: usize = 64 * 1024;

const CORRELATION_ID: &str = "x-correlation-id";

fn browser_facing(path: &str) -> bool {
    path.starts_with("/sandbox/") || path.starts_with("/public/")
}

fn preflight(req: &Request) -> Response {
    let allow_headers = req
        .headers()
        .get("access-control-request-headers")
        .cloned()
        .unwrap_or_else(|| HeaderValue::from_static("content-type"));
    let mut r = StatusCode::NO_CONTENT.into_response();
    let h = r.headers_mut();
    h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    h.insert(
        ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, DELETE, OPTIONS"),
    );
    h.insert(ACCESS_CONTROL_ALLOW_HEADERS, allow_headers);
    h.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
    r
}

/// A response whose body fails at once: the connection ends without a complete response.
fn dropped() -> Response {
    let stream = futures_util::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::other("injected fault: drop"))
    });
    Response::new(Body::from_stream(stream))
}

pub(crate) async fn around(
    State(state): State<Arc<AppState>>,
    req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    let cors = browser_facing(&path);
    if cors && method == Method::OPTIONS {
        return preflight(&req);
    }
    let correlation = req.headers().get(CORRELATION_ID).cloned();
    let (parts, body) = req.into_parts();
    let mut response = match axum::body::to_bytes(body, BODY_LIMIT).await {
        Err(_) => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "BAD_REQUEST",
            "Request body too large",
        )
        .into_response(),
        Ok(bytes) => {
            if !(method == Method::GET && path == "/sandbox/requests") {
                state.record(LoggedRequest {
                    method: method.to_string(),
                    path: path.clone(),
                    body: redacted_body(&bytes),
                });
            }
            let fault =
                if path.starts_with("/sandbox/faults") || path.starts_with("/sandbox/requests") {
                    None
                } else {
                    lock(&state.faults).take(&path)
                };
            let req = Request::from_parts(parts, Body::from(bytes));
            match fault {
                None => next.run(req).await,
                Some(FaultKind::Delay(delay)) => {
                    tokio::time::sleep(delay).await;
                    next.run(req).await
                }
                Some(FaultKind::Status {
                    status,
                    retry_after,
                }) => ApiError::for_status(status, retry_after).into_response(),
                Some(FaultKind::Malformed) => (
                    StatusCode::OK,
                    [(CONTENT_TYPE, "application/json")],
                    "<html><body>Bad Gateway</body></html>{\"truncated\": ",
                )
                    .into_response(),
                Some(FaultKind::Drop) => dropped(),
            }
        }
    };
    tracing::debug!(%method, %path, status = response.status().as_u16(), "request");
    let headers = response.headers_mut();
    if let Some(id) = correlation {
        headers.insert(CORRELATION_ID, id);
    }
    if cors {
        headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    }
    response
}
