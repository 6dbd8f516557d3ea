//! The only job of this module: actix-web request in, [`EndpointRequest`] out;
//! [`EndpointResponse`] in, actix-web response out. No flow logic lives here.
//!
//! actix-web has its own `http` and `cookie` versions; glide-core hands plain strings across, so
//! the conversion goes through `&str` and bytes only.

use actix_web::dev::Payload;
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_LENGTH, COOKIE};
use actix_web::http::StatusCode;
use actix_web::web::{Bytes, BytesMut};
use actix_web::{HttpRequest, HttpResponse};
use futures_util::StreamExt as _;
use glide_core::endpoint::{EndpointRequest, EndpointResponse, GlideAuth, Route};
use glide_core::error::RequestError;

/// Answers a request to one of the engine's routes: reads the body (bounded), hands the request
/// to glide-core and writes its answer back.
pub(crate) async fn answer(
    auth: &GlideAuth,
    route: Route,
    request: &HttpRequest,
    payload: Payload,
) -> HttpResponse {
    let body = match read_body(auth, request.headers(), payload).await {
        Ok(body) => body,
        Err(response) => return into_response(response),
    };
    into_response(auth.handle(route, endpoint_request(request, body)).await)
}

/// Reads the body up to [`GlideAuth::body_limit`]: a declared `Content-Length` over the limit is
/// refused before reading anything, and a body that streams past it is cut off.
async fn read_body(
    auth: &GlideAuth,
    headers: &HeaderMap,
    mut payload: Payload,
) -> Result<Bytes, EndpointResponse> {
    let limit = auth.body_limit();
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(auth.payload_too_large());
    }
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|error| {
            tracing::debug!(target: "glide::actix", %error, "could not read the request body");
            EndpointResponse::error(&glide_core::Error::Request(RequestError::MalformedBody(
                "the request body could not be read".into(),
            )))
        })?;
        if body.len() + chunk.len() > limit {
            return Err(auth.payload_too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// The plain request glide-core takes: header names lowercase (as actix-web stores them), values
/// that are not UTF-8 skipped, the TCP peer's address.
pub(crate) fn endpoint_request(request: &HttpRequest, body: Bytes) -> EndpointRequest {
    let headers = request
        .headers()
        .iter()
        .filter_map(|(name, value)| {
            let value = std::str::from_utf8(value.as_bytes()).ok()?;
            Some((name.as_str().to_owned(), value.to_owned()))
        })
        .collect();
    EndpointRequest {
        method: request.method().as_str().to_owned(),
        path: request.path().to_owned(),
        query: request.uri().query().map(str::to_owned),
        headers,
        body,
        peer_addr: request.peer_addr().map(|addr| addr.ip()),
    }
}

/// Every `Cookie` header of the request joined with `; ` (HTTP/2 may split them).
pub(crate) fn cookie_header(headers: &HeaderMap) -> Option<String> {
    glide_core::cookie::join_cookie_headers(
        headers
            .get_all(COOKIE)
            .filter_map(|v| std::str::from_utf8(v.as_bytes()).ok()),
    )
}

/// The actix-web response for an [`EndpointResponse`]; every header kept, in order (several
/// `Set-Cookie` included).
pub(crate) fn into_response(response: EndpointResponse) -> HttpResponse {
    let status = StatusCode::from_u16(response.status).unwrap_or_else(|_| {
        tracing::error!(target: "glide::actix", status = response.status, "invalid status from glide-core");
        StatusCode::INTERNAL_SERVER_ERROR
    });
    let mut builder = HttpResponse::build(status);
    for (name, value) in response.headers {
        match (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            (Ok(name), Ok(value)) => {
                builder.append_header((name, value));
            }
            _ => {
                tracing::error!(target: "glide::actix", header = %name, "invalid header from glide-core dropped");
            }
        }
    }
    builder.body(response.body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn request_conversion_keeps_what_the_engine_needs() {
        let request = TestRequest::post()
            .uri("/api/magical-auth/prepare?a=1&b=two")
            .insert_header(("Content-Type", "application/json"))
            .append_header(("cookie", "a=1"))
            .append_header(("cookie", "b=2"))
            .insert_header((
                "x-binary",
                HeaderValue::from_bytes(b"\xff\xfe").expect("opaque value"),
            ))
            .peer_addr(([127, 0, 0, 7], 4000).into())
            .to_http_request();
        let converted = endpoint_request(&request, Bytes::from_static(b"{}"));
        assert_eq!(converted.method, "POST");
        assert_eq!(converted.path, "/api/magical-auth/prepare");
        assert_eq!(converted.query.as_deref(), Some("a=1&b=two"));
        assert_eq!(converted.header("content-type"), Some("application/json"));
        assert_eq!(converted.header("x-binary"), None);
        assert_eq!(converted.cookie_header().as_deref(), Some("a=1; b=2"));
        assert_eq!(converted.peer_addr, Some([127, 0, 0, 7].into()));
        assert_eq!(&converted.body[..], b"{}");
        assert_eq!(
            cookie_header(request.headers()).as_deref(),
            Some("a=1; b=2")
        );
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
            .map(|v| v.to_str().expect("ascii"))
            .collect();
        assert_eq!(cookies, ["a=1; Path=/", "b=2; Path=/"]);
        assert_eq!(
            out.headers().get("cache-control").map(|v| v.as_bytes()),
            Some(&b"no-store"[..])
        );
        assert!(out.headers().get("bad header").is_none());
    }

    #[test]
    fn an_invalid_status_becomes_a_500() {
        let mut response = EndpointResponse::empty(204);
        response.status = 1000;
        assert_eq!(
            into_response(response).status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}
