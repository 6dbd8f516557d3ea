//! The Number Verify callback (`GET …/number-verify/callback?…`) with any query string, through
//! `GlideAuth::handle` with an `http::Request` as an adapter hands it over.
//!
//! Each input gets a fresh engine (Glide at `http://127.0.0.1:9`, nothing listening) and a real
//! `number-verify/start`, whose `state` and state cookie the input may then use, repeat, forge or
//! leave out, among any other query text. Properties: no panic; a documented status and a
//! well-formed error body (`glide_fuzz::check_response`); a 302 only when the request carried the
//! real state and its cookie (the first `state` parameter as a form decoder reads it, the first
//! state cookie as a cookie parser reads it), and only ever to the configured return path (with
//! `verification=failed` when it failed); a POST gets 405; never a verified session (Glide cannot
//! confirm).
#![no_main]

use std::sync::OnceLock;

use arbitrary::Arbitrary;
use bytes::Bytes;
use glide_core::endpoint::{EndpointResponse, GlideAuth, PeerAddr};
use libfuzzer_sys::fuzz_target;

const RETURN_PATHS: [&str; 4] = ["/", "/account", "/done?x=1", "/a/b#top"];

#[derive(Arbitrary, Debug)]
enum Part {
    Raw(String),
    RealState,
    State(String),
    Code(String),
    Error(String),
}

#[derive(Arbitrary, Debug)]
enum CookieMode {
    Real,
    Missing,
    Raw(String),
    RawThenReal(String),
}

#[derive(Arbitrary, Debug)]
struct Input {
    parts: Vec<Part>,
    cookie: CookieMode,
    post: bool,
    return_path: u8,
}

fn runtime() -> &'static (tokio::runtime::Runtime, glide_core::api::Glide) {
    static RUNTIME: OnceLock<(tokio::runtime::Runtime, glide_core::api::Glide)> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        (runtime, glide_fuzz::unreachable_glide())
    })
}

/// A request to route `route` of `auth` with `query` (percent-encoded where a browser would), as
/// an adapter hands it over; `None` when the cookie is not something an HTTP stack would deliver.
fn request(
    auth: &GlideAuth,
    method: &str,
    route: &str,
    query: &str,
    cookie: Option<&str>,
) -> Option<http::Request<Bytes>> {
    let mut builder = http::Request::builder()
        .method(method)
        .uri(format!(
            "{}?{}",
            auth.routes().route(route),
            uri_safe(query)
        ))
        .extension(PeerAddr([127, 0, 0, 1].into()));
    if let Some(cookie) = cookie {
        builder = builder.header(
            "cookie",
            http::HeaderValue::from_bytes(cookie.as_bytes()).ok()?,
        );
    }
    builder.body(Bytes::new()).ok()
}

/// `query` with every byte a request target cannot carry as it is percent-encoded (what a browser
/// sends for such a query); `%` is kept, so broken escapes reach the engine.
fn uri_safe(query: &str) -> String {
    let mut out = String::with_capacity(query.len());
    for &b in query.as_bytes() {
        let raw = b.is_ascii_graphic()
            && !matches!(
                b,
                b'#' | b'"' | b'<' | b'>' | b'\\' | b'^' | b'`' | b'{' | b'|' | b'}'
            );
        if raw {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Handles a request to one of our routes.
fn handle(
    runtime: &tokio::runtime::Runtime,
    auth: &GlideAuth,
    request: http::Request<Bytes>,
) -> EndpointResponse {
    let route = auth.match_route(request.uri().path()).expect("our route");
    runtime.block_on(auth.handle(route, request))
}

/// The first value of query parameter `name`, as a form decoder reads it.
fn query_param(query: &str, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The value of the first cookie called `name` in a `Cookie` header, as a cookie parser reads it.
fn cookie_value(header: &str, name: &str) -> Option<String> {
    cookie::Cookie::split_parse(header)
        .flatten()
        .find(|c| c.name() == name)
        .map(|c| c.value_trimmed().to_owned())
}

fuzz_target!(|input: Input| {
    let (runtime, glide) = runtime();
    let return_path = RETURN_PATHS[usize::from(input.return_path) % RETURN_PATHS.len()];
    let auth = glide_fuzz::engine_with(glide.clone(), return_path);

    // A real start: its state (in the operator URL) and its state cookie.
    let start = request(
        &auth,
        "GET",
        "number-verify/start",
        "phone_number=%2B15555550100",
        None,
    )
    .expect("a valid request");
    let started = handle(runtime, &auth, start);
    assert_eq!(started.status(), 302);
    let location = glide_fuzz::header(&started, "location").expect("operator URL");
    let state = location
        .split(['?', '&'])
        .find_map(|p| p.strip_prefix("state="))
        .expect("a state")
        .to_owned();
    let cookie_pair = glide_fuzz::header(&started, "set-cookie")
        .and_then(|c| c.split(';').next())
        .expect("a state cookie")
        .to_owned();

    let query = input
        .parts
        .iter()
        .map(|part| match part {
            Part::Raw(s) => s.clone(),
            Part::RealState => format!("state={state}"),
            Part::State(s) => format!("state={s}"),
            Part::Code(s) => format!("code={s}"),
            Part::Error(s) => format!("error={s}"),
        })
        .collect::<Vec<_>>()
        .join("&");
    let cookie = match &input.cookie {
        CookieMode::Real => Some(cookie_pair.clone()),
        CookieMode::Missing => None,
        CookieMode::Raw(raw) => Some(raw.clone()),
        CookieMode::RawThenReal(raw) => Some(format!("{raw}; {cookie_pair}")),
    };
    let method = if input.post { "POST" } else { "GET" };
    let Some(request) = request(
        &auth,
        method,
        "number-verify/callback",
        &query,
        cookie.as_deref(),
    ) else {
        return; // no HTTP stack would deliver it
    };
    // What the engine receives: the query of the request target.
    let presented_state = query_param(request.uri().query().unwrap_or_default(), "state");
    let presented_cookie = cookie.as_deref().and_then(|h| {
        let (name, _) = cookie_pair.split_once('=')?;
        cookie_value(h, name)
    });

    let response = handle(runtime, &auth, request);
    glide_fuzz::check_response(&response);
    glide_fuzz::assert_no_session_cookie(&response, &auth);
    if response.status() == 302 {
        assert_eq!(
            presented_state.as_deref(),
            Some(state.as_str()),
            "302 without the real state"
        );
        assert_eq!(
            presented_cookie.as_deref(),
            cookie_pair.split_once('=').map(|(_, v)| v),
            "302 without the state cookie"
        );
        let location = glide_fuzz::header(&response, "location").expect("checked");
        let separator = if return_path.contains('?') { '&' } else { '?' };
        let failed = format!("{return_path}{separator}verification=failed");
        assert!(
            location == return_path || location == failed,
            "302 to {location:?}, return path {return_path:?}"
        );
    }
    if input.post {
        assert_eq!(response.status(), 405);
    }
});
