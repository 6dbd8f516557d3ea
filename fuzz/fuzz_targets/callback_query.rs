//! The Number Verify callback (`GET …/number-verify/callback?…`) and
//! `EndpointRequest::query_param` with any query string.
//!
//! Each input gets a fresh engine (Glide at `http://127.0.0.1:9`, nothing listening) and a real
//! `number-verify/start`, whose `state` and state cookie the input may then use, repeat, forge or
//! leave out, among any other query text. Properties: no panic; a documented status and a
//! well-formed error body (`glide_fuzz::check_response`); a 302 only when the request carried the
//! real state and its cookie, and only ever to the configured return path (with
//! `verification=failed` when it failed); never a verified session (Glide cannot confirm).
#![no_main]

use std::sync::OnceLock;

use arbitrary::Arbitrary;
use glide_core::endpoint::{EndpointRequest, GlideAuth};
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
    probe: String,
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

fn get(auth: &GlideAuth, route: &str, query: String, cookie: Option<String>) -> EndpointRequest {
    EndpointRequest {
        method: "GET".into(),
        path: auth.routes().route(route),
        query: Some(query),
        headers: cookie
            .into_iter()
            .map(|c| ("cookie".to_owned(), c))
            .collect(),
        body: bytes::Bytes::new(),
        peer_addr: Some([127, 0, 0, 1].into()),
    }
}

fuzz_target!(|input: Input| {
    let (runtime, glide) = runtime();
    let return_path = RETURN_PATHS[usize::from(input.return_path) % RETURN_PATHS.len()];
    let auth = glide_fuzz::engine_with(glide.clone(), return_path);

    // A real start: its state (in the operator URL) and its state cookie.
    let start = get(
        &auth,
        "number-verify/start",
        "phone_number=%2B15555550100".into(),
        None,
    );
    let route = auth.match_route(&start.path).expect("our route");
    let started = runtime.block_on(auth.handle(route, start));
    assert_eq!(started.status, 302);
    let location = started.header("location").expect("operator URL");
    let state = location
        .split(['?', '&'])
        .find_map(|p| p.strip_prefix("state="))
        .expect("a state")
        .to_owned();
    let cookie_pair = started
        .header("set-cookie")
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
    let mut request = get(&auth, "number-verify/callback", query, cookie);
    if input.post {
        request.method = "POST".into();
    }
    // query_param never panics, and finds what a form serialiser wrote.
    let _ = request.query_param(&input.probe);
    let _ = request.query_param("state");
    let presented_state = request.query_param("state");
    let presented_cookie = request.cookie_header().and_then(|h| {
        let (name, _) = cookie_pair.split_once('=')?;
        glide_core::cookie::find_cookie(&h, name).map(str::to_owned)
    });

    let route = auth.match_route(&request.path).expect("our route");
    let response = runtime.block_on(auth.handle(route, request));
    glide_fuzz::check_response(&response);
    glide_fuzz::assert_no_session_cookie(&response, &auth);
    if response.status == 302 {
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
        let location = response.header("location").expect("checked");
        let separator = if return_path.contains('?') { '&' } else { '?' };
        let failed = format!("{return_path}{separator}verification=failed");
        assert!(
            location == return_path || location == failed,
            "302 to {location:?}, return path {return_path:?}"
        );
    }
    if input.post {
        assert_eq!(response.status, 405);
    }
});
