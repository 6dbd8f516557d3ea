//! The only job of this module: the actix-web side of the seam. actix-web keeps its own `http`
//! 0.2 types at its edge, so a request to one of the engine's routes is converted once, here,
//! into an `http` 1.x request (its payload streamed into glide-core's one bounded body reader),
//! and the engine's answer back into an actix-web response.

use actix_web::dev::Payload;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use futures_util::StreamExt as _;
use glide_core::endpoint::{EndpointResponse, GlideAuth, PeerAddr, Route};
use http_body_util::StreamBody;

/// Answers a request to one of the engine's routes.
pub(crate) async fn answer(
    auth: &GlideAuth,
    route: Route,
    request: &HttpRequest,
    payload: Payload,
) -> HttpResponse {
    let body = StreamBody::new(payload.map(|chunk| {
        chunk
            .map(http_body::Frame::data)
            .map_err(|e| std::io::Error::other(e.to_string()))
    }));
    let response = match http_request(request, body) {
        Ok(converted) => auth.serve(route, converted).await,
        Err(error) => {
            tracing::debug!(target: "glide::actix", %error, "request could not be converted");
            return HttpResponse::BadRequest().finish();
        }
    };
    into_response(response)
}

/// The `http` 1.x request for an actix-web one: method, URI, every header (bytes as received)
/// and the TCP peer's address.
fn http_request<B>(request: &HttpRequest, body: B) -> Result<http::Request<B>, http::Error> {
    let mut builder = http::Request::builder()
        .method(request.method().as_str())
        .uri(request.uri().to_string());
    for (name, value) in request.headers() {
        builder = builder.header(name.as_str(), value.as_bytes());
    }
    if let Some(addr) = request.peer_addr() {
        builder = builder.extension(PeerAddr(addr.ip()));
    }
    builder.body(body)
}

/// The engine's same-origin check ([`GlideAuth::check_origin`]) of an actix-web request: its
/// method, URI and the headers that check reads, converted to `http` 1.x.
pub(crate) fn check_origin(
    auth: &GlideAuth,
    request: &HttpRequest,
) -> Result<(), glide_core::endpoint::Rejection> {
    use glide_core::endpoint::Rejection;
    let method = http::Method::from_bytes(request.method().as_str().as_bytes())
        .map_err(|_| Rejection::OriginNotAllowed)?;
    let uri: http::Uri = request
        .uri()
        .to_string()
        .parse()
        .map_err(|_| Rejection::OriginNotAllowed)?;
    let mut headers = http::HeaderMap::new();
    for name in [
        http::header::ORIGIN,
        http::header::HOST,
        http::HeaderName::from_static("sec-fetch-site"),
    ] {
        if let Some(value) = request.headers().get(name.as_str()) {
            let value = http::HeaderValue::from_bytes(value.as_bytes())
                .map_err(|_| Rejection::OriginNotAllowed)?;
            headers.insert(name, value);
        }
    }
    auth.check_origin(&method, &uri, &headers)
}

/// The actix-web response for an engine answer; every header kept, in order (several
/// `Set-Cookie` included).
pub(crate) fn into_response(response: EndpointResponse) -> HttpResponse {
    let (parts, body) = response.into_parts();
    let status =
        StatusCode::from_u16(parts.status.as_u16()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut builder = HttpResponse::build(status);
    for (name, value) in &parts.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_str().as_bytes()),
            HeaderValue::from_bytes(value.as_bytes()),
        ) {
            builder.append_header((name, value));
        }
    }
    builder.body(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;
    use bytes::Bytes;

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
        let converted = http_request(&request, ()).expect("converted");
        assert_eq!(converted.method(), http::Method::POST);
        assert_eq!(converted.uri().path(), "/api/magical-auth/prepare");
        assert_eq!(converted.uri().query(), Some("a=1&b=two"));
        assert_eq!(converted.headers()["content-type"], "application/json");
        assert_eq!(converted.headers()["x-binary"].as_bytes(), b"\xff\xfe");
        let cookies: Vec<_> = converted.headers().get_all("cookie").iter().collect();
        assert_eq!(cookies, ["a=1", "b=2"]);
        assert_eq!(
            converted.extensions().get::<PeerAddr>(),
            Some(&PeerAddr([127, 0, 0, 7].into()))
        );
    }

    #[test]
    fn response_conversion_keeps_every_set_cookie() {
        let response = http::Response::builder()
            .status(204)
            .header("set-cookie", "a=1; Path=/")
            .header("set-cookie", "b=2; Path=/")
            .header("cache-control", "no-store")
            .body(Bytes::new())
            .expect("response");
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
    }
}
