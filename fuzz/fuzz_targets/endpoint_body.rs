//! `GlideAuth::handle` on the routes that take a JSON body (prepare, process, complete,
//! report-invocation and the three legacy starts/verify), with any bytes as body and a chosen mix
//! of method, content type, origin, fetch metadata, forwarding and cookie headers.
//!
//! Glide is `http://127.0.0.1:9` (nothing listens there): a request that gets past validation
//! fails with a transport error. Properties (see `glide_fuzz::check_response`): no panic; a
//! documented status; every error body `{code, message, status}` with `status` equal to the HTTP
//! status and an opaque message on 5xx; and, since Glide never answers, no route that needs Glide
//! ever answers 2xx (report-invocation excepted: it never fails the page) and no verified-session
//! cookie is ever set.
//!
//! Input: byte 0 picks the route, byte 1 the header mix, then `cookie NUL body`. The request is an
//! `http::Request` as an adapter hands it over (a `PeerAddr` of 127.0.0.1); the cookie bytes are
//! sent as they are, and a header value no HTTP stack would deliver (a control character) is left
//! out.
#![no_main]

use std::sync::OnceLock;

use bytes::Bytes;
use glide_core::endpoint::{GlideAuth, PeerAddr, Route};
use http::{HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;

const ROUTES: [&str; 7] = [
    "prepare",
    "process",
    "complete",
    "report-invocation",
    "magic-auth/start",
    "magic-auth/verify",
    "magic-auth/start-server-auth",
];

fn engine() -> &'static (tokio::runtime::Runtime, GlideAuth) {
    static ENGINE: OnceLock<(tokio::runtime::Runtime, GlideAuth)> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let auth = glide_fuzz::unreachable_engine("/");
        (runtime, auth)
    })
}

fuzz_target!(|data: &[u8]| {
    let (runtime, auth) = engine();
    let route_byte = data.first().copied().unwrap_or(0);
    let flags = data.get(1).copied().unwrap_or(0);
    let (cookie, body) = glide_fuzz::split_nul(data.get(2..).unwrap_or_default());
    let name = ROUTES[usize::from(route_byte) % ROUTES.len()];
    let path = auth.routes().route(name);
    let route = auth.match_route(&path).expect("our own route");

    let mut headers: Vec<(&str, Vec<u8>)> = vec![("host", b"app.example.com".to_vec())];
    match flags & 0b11 {
        0 => headers.push(("content-type", b"application/json".to_vec())),
        1 => headers.push(("content-type", b"Application/JSON; charset=utf-8".to_vec())),
        2 => headers.push(("content-type", b"text/plain".to_vec())),
        _ => {}
    }
    match (flags >> 3) & 0b11 {
        0 => {}
        1 => headers.push(("origin", b"https://app.example.com".to_vec())),
        2 => headers.push(("origin", b"https://evil.example".to_vec())),
        _ => headers.push(("origin", b"null".to_vec())),
    }
    if flags & 0b10_0000 != 0 {
        headers.push(("sec-fetch-site", b"cross-site".to_vec()));
    }
    if flags & 0b100_0000 != 0 {
        headers.push(("x-forwarded-for", cookie.to_vec()));
    }
    if !cookie.is_empty() {
        headers.push(("cookie", cookie.to_vec()));
    }
    let method = if flags & 0b100 == 0 { "POST" } else { "GET" };
    let mut request = http::Request::builder()
        .method(method)
        .uri(path.as_str())
        .extension(PeerAddr([127, 0, 0, 1].into()));
    for (name, value) in headers {
        // A value no HTTP stack would deliver (control characters) never reaches the engine.
        if let Ok(value) = HeaderValue::from_bytes(&value) {
            request = request.header(HeaderName::from_static(name), value);
        }
    }
    let request = request
        .body(Bytes::copy_from_slice(body))
        .expect("a valid request");
    let response = runtime.block_on(auth.handle(route, request));
    glide_fuzz::check_response(&response);
    if route != Route::ReportInvocation {
        assert!(
            !response.status().is_success(),
            "{name} answered {} without Glide",
            response.status()
        );
    }
    glide_fuzz::assert_no_session_cookie(&response, auth);
});
