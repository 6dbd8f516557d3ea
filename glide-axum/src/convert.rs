//! The only job of this module: axum request in, [`EndpointRequest`] out; [`EndpointResponse`]
//! in, axum response out. No flow logic lives here.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::response::Response;
use bytes::Bytes;
use glide_core::endpoint::{EndpointRequest, EndpointResponse, GlideAuth, Route};
use glide_core::error::RequestError;
use http::header::{HeaderName, HeaderValue, CONTENT_LENGTH, COOKIE};
use http::request::Parts;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, LengthLimitError, Limited};

/// Answers a request to one of the engine's routes: reads the body (bounded), hands the request
/// to glide-core and writes its answer back.
pub(crate) async fn answer(auth: GlideAuth, route: Route, request: Request<Body>) -> Response {
    let (parts, body) = request.into_parts();
    let body = match read_body(&auth, &parts.headers, body).await {
        Ok(body) => body,
        Err(response) => return into_response(response),
    };
    let request = endpoint_request(&parts, body);
    into_response(auth.handle(route, request).await)
}

/// Reads the body up to [`GlideAuth::body_limit`]: a declared `Content-Length` over the limit is
/// refused before reading anything, and a body that streams past it is cut off.
async fn read_body(
    auth: &GlideAuth,
    headers: &HeaderMap,
    body: Body,
) -> Result<Bytes, EndpointResponse> {
    let limit = auth.body_limit();
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        drain(body).await;
        return Err(auth.payload_too_large());
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if is_length_limit(&*error) => Err(auth.payload_too_large()),
        Err(error) => {
            tracing::debug!(target: "glide::axum", %error, "could not read the request body");
            Err(EndpointResponse::error(&glide_core::Error::Request(
                RequestError::MalformedBody("the request body could not be read".into()),
            )))
        }
    }
}

/// Reads and discards what is left of a refused body (bounded in size and time), so that the
/// server does not close the connection under a client still sending, which would lose the 413.
async fn drain(body: Body) {
    const DRAIN_CAP: usize = 4 * 1024 * 1024;
    let discard = Limited::new(body, DRAIN_CAP).collect();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), discard).await;
}

/// Whether a body error (or anything in its source chain) is the length limit.
fn is_length_limit(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(e) = current {
        if e.is::<LengthLimitError>() {
            return true;
        }
        current = e.source();
    }
    false
}

/// The plain request glide-core takes: header names lowercase (as `http` stores them), values
/// that are not UTF-8 skipped, the peer address from axum's `ConnectInfo` when present.
pub(crate) fn endpoint_request(parts: &Parts, body: Bytes) -> EndpointRequest {
    let headers = parts
        .headers
        .iter()
        .filter_map(|(name, value)| {
            let value = std::str::from_utf8(value.as_bytes()).ok()?;
            Some((name.as_str().to_owned(), value.to_owned()))
        })
        .collect();
    EndpointRequest {
        method: parts.method.as_str().to_owned(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers,
        body,
        peer_addr: parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip()),
    }
}

/// Every `Cookie` header of the request joined with `; ` (HTTP/2 may split them).
pub(crate) fn cookie_header(headers: &HeaderMap) -> Option<String> {
    glide_core::cookie::join_cookie_headers(
        headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|v| std::str::from_utf8(v.as_bytes()).ok()),
    )
}

/// The axum response for an [`EndpointResponse`]; every header kept, in order (several
/// `Set-Cookie` included).
pub(crate) fn into_response(response: EndpointResponse) -> Response {
    let status = StatusCode::from_u16(response.status).unwrap_or_else(|_| {
        tracing::error!(target: "glide::axum", status = response.status, "invalid status from glide-core");
        StatusCode::INTERNAL_SERVER_ERROR
    });
    let mut out = Response::new(Body::from(response.body));
    *out.status_mut() = status;
    let headers = out.headers_mut();
    for (name, value) in response.headers {
        match (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            (Ok(name), Ok(value)) => {
                headers.append(name, value);
            }
            _ => {
                tracing::error!(target: "glide::axum", header = %name, "invalid header from glide-core dropped")
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_conversion_keeps_what_the_engine_needs() {
        let mut request = Request::builder()
            .method("POST")
            .uri("/api/magical-auth/prepare?a=1&b=two")
            .header("Content-Type", "application/json")
            .header("cookie", "a=1")
            .header("cookie", "b=2")
            .header(
                "x-binary",
                HeaderValue::from_bytes(b"\xff\xfe").expect("opaque value"),
            )
            .body(Body::empty())
            .expect("request");
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 7], 4000))));
        let (parts, _) = request.into_parts();
        let converted = endpoint_request(&parts, Bytes::from_static(b"{}"));
        assert_eq!(converted.method, "POST");
        assert_eq!(converted.path, "/api/magical-auth/prepare");
        assert_eq!(converted.query.as_deref(), Some("a=1&b=two"));
        assert_eq!(converted.header("content-type"), Some("application/json"));
        assert_eq!(converted.header("x-binary"), None);
        assert_eq!(converted.cookie_header().as_deref(), Some("a=1; b=2"));
        assert_eq!(converted.peer_addr, Some([127, 0, 0, 7].into()));
        assert_eq!(&converted.body[..], b"{}");
        assert_eq!(cookie_header(&parts.headers).as_deref(), Some("a=1; b=2"));
    }

    #[test]
    fn response_conversion_keeps_every_set_cookie() {
        let response = EndpointResponse::empty(204)
            .with_cookie("a=1; Path=/")
            .with_cookie("b=2; Path=/")
            .with_header("bad header", "x");
        let out = into_response(response);
        assert_eq!(out.status(), StatusCode::NO_CONTENT);
        let cookies: Vec<_> = out
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().expect("ascii"))
            .collect();
        assert_eq!(cookies, ["a=1; Path=/", "b=2; Path=/"]);
        assert_eq!(out.headers()["cache-control"], "no-store");
    }
}
