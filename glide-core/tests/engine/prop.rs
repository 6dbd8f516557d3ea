//! Property tests of the routes that read what a browser or Glide sends: request bodies and
//! headers (prepare, process, complete, report-invocation, the legacy starts), the Number Verify
//! callback's query, and Glide's answers through the client.
//!
//! Glide is `http://127.0.0.1:9`, where nothing listens: a request that gets past validation
//! fails with a transport error. The same properties are fuzzed for millions of inputs by the
//! cargo-fuzz targets in `fuzz/`; here a modest number of cases runs on every `cargo test`.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use glide_core::api::{Glide, HttpClient, PrepareRequest, RetryPolicy};
use glide_core::endpoint::{GlideAuth, Route};

use crate::endpoint_support::{handle, EndpointRequest, EndpointResponse};
use glide_core::error::BoxError;
use glide_core::ratelimit::RateLimitConfig;
use proptest::prelude::*;

const DOCUMENTED_STATUSES: &[u16] = &[
    200, 202, 204, 302, 400, 401, 403, 404, 405, 409, 413, 415, 422, 429, 500, 502, 503,
];

const OPAQUE_MESSAGES: &[&str] = &[
    "Internal server error.",
    "The verification service gave an unexpected answer.",
    "The verification service is temporarily unavailable. Please try again.",
];

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

fn unreachable_glide() -> Glide {
    Glide::builder("prop-client", "prop-secret")
        .base_url("http://127.0.0.1:9")
        .retry_policy(RetryPolicy::none())
        .build()
        .expect("a client")
}

fn engine(glide: Glide, return_path: &str) -> GlideAuth {
    GlideAuth::builder(glide)
        .allowed_origins(["https://app.example.com"])
        .rate_limits(RateLimitConfig::disabled())
        .number_verify_callback_url(
            "https://app.example.com/api/magical-auth/number-verify/callback",
        )
        .legacy_return_path(return_path)
        .email_on_file(|_: &glide_core::PhoneNumber| None)
        .verification_chain(glide_core::endpoint::VerificationChain::default())
        .build()
        .expect("an engine")
}

fn is_upper_snake(code: &str) -> bool {
    code.bytes().next().is_some_and(|b| b.is_ascii_uppercase())
        && code
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

/// A documented status; every answer but 2xx and 302 is `{code, message, status}` with `status`
/// equal to the HTTP status and an opaque message on 5xx; no verified session is issued.
fn check_response(response: &EndpointResponse, auth: &GlideAuth) -> Result<(), TestCaseError> {
    let status = response.status;
    prop_assert!(DOCUMENTED_STATUSES.contains(&status), "status {}", status);
    let session_prefix = format!("{}=", auth.session_cookie_name());
    for (name, value) in &response.headers {
        prop_assert!(!value.contains(['\r', '\n']), "{}: {:?}", name, value);
        if name == "set-cookie" && value.starts_with(&session_prefix) {
            prop_assert!(
                value[session_prefix.len()..].starts_with(';'),
                "issued {}",
                value
            );
        }
    }
    if status == 302 || (200..300).contains(&status) {
        return Ok(());
    }
    let body: serde_json::Value =
        serde_json::from_slice(&response.body).expect("error bodies are JSON");
    let code = body["code"].as_str().unwrap_or_default();
    prop_assert!(is_upper_snake(code), "code {:?}", code);
    let message = body["message"].as_str().expect("a message");
    prop_assert_eq!(body["status"].as_u64(), Some(u64::from(status)));
    if status >= 500 {
        prop_assert!(
            OPAQUE_MESSAGES.contains(&message),
            "5xx message {:?}",
            message
        );
    }
    Ok(())
}

/// A body: often JSON shaped like what the browser SDK sends, sometimes any bytes.
fn body() -> impl Strategy<Value = Vec<u8>> {
    let field = prop::sample::select(vec![
        "use_case",
        "phone_number",
        "client_info",
        "session",
        "credential",
        "agg_code",
        "session_key",
        "session_id",
        "email",
        "fallback_channel",
        "code",
        "token",
        "plmn",
        "handle",
        "event",
        "step",
        "channel",
        "reason",
    ]);
    let value = prop_oneof![
        Just(serde_json::json!("VerifyPhoneNumber")),
        Just(serde_json::json!("GetPhoneNumber")),
        Just(serde_json::json!("+15555550100")),
        Just(serde_json::json!("+1 (555) 555-0100")),
        Just(serde_json::json!({"user_agent": "Mozilla/5.0"})),
        Just(serde_json::json!({"session_key": "ee25b966c9395f0b"})),
        Just(serde_json::json!("b".repeat(64))),
        Just(serde_json::json!("ee25b966c9395f0b")),
        Just(serde_json::json!({"vp_token": {"x": ["t"]}})),
        Just(serde_json::json!("SMS")),
        Just(serde_json::json!("send")),
        Just(serde_json::json!("code")),
        Just(serde_json::json!("sms")),
        Just(serde_json::json!("magical_auth")),
        Just(serde_json::json!("not_eligible")),
        Just(serde_json::json!(null)),
        any::<String>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
    ];
    prop_oneof![
        4 => prop::collection::btree_map(field, value, 0..6).prop_map(|m| {
            serde_json::Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
                .to_string()
                .into_bytes()
        }),
        1 => prop::collection::vec(any::<u8>(), 0..64),
    ]
}

#[derive(Debug, Clone)]
struct Headers {
    post: bool,
    content_type: Option<&'static str>,
    origin: Option<&'static str>,
    cross_site: bool,
    cookie: Option<String>,
}

fn headers() -> impl Strategy<Value = Headers> {
    (
        prop::bool::weighted(0.9),
        prop::option::weighted(
            0.9,
            prop::sample::select(vec![
                "application/json",
                "application/json; charset=utf-8",
                "text/plain",
            ]),
        ),
        prop::option::of(prop::sample::select(vec![
            "https://app.example.com",
            "https://evil.example",
            "null",
        ])),
        prop::bool::weighted(0.1),
        prop::option::of(prop_oneof![
            Just(format!("_glide_bind_ee25b966c9395f0b={}", "a".repeat(64))),
            Just("__Host-glide_legacy=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".to_owned()),
            any::<String>(),
        ]),
    )
        .prop_map(|(post, content_type, origin, cross_site, cookie)| Headers {
            post,
            content_type,
            origin,
            cross_site,
            cookie,
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn body_routes_answer_documented_statuses_and_error_bodies(
        route in prop::sample::select(vec![
            "prepare", "process", "complete", "report-invocation", "magic-auth/start",
            "magic-auth/verify", "magic-auth/start-server-auth", "sessions/revoke",
            "sessions/revoke-others", "sessions/revoke-all", "verification/start",
            "verification/advance",
        ]),
        headers in headers(),
        body in body(),
    ) {
        let rt = runtime();
        let auth = engine(unreachable_glide(), "/");
        let path = auth.routes().route(route);
        let matched = auth.match_route(&path).expect("our route");
        let mut list = vec![("host".to_owned(), "app.example.com".to_owned())];
        if let Some(ct) = headers.content_type {
            list.push(("content-type".into(), ct.into()));
        }
        if let Some(origin) = headers.origin {
            list.push(("origin".into(), origin.into()));
        }
        if headers.cross_site {
            list.push(("sec-fetch-site".into(), "cross-site".into()));
        }
        if let Some(cookie) = headers.cookie {
            list.push(("cookie".into(), cookie));
        }
        let request = EndpointRequest {
            method: if headers.post { "POST" } else { "GET" }.into(),
            path,
            query: None,
            headers: list,
            body: Bytes::from(body),
            peer_addr: Some([127, 0, 0, 1].into()),
        };
        let response = rt.block_on(handle(&auth, matched, request));
        check_response(&response, &auth)?;
        // Report-invocation always succeeds; a chain starts without Glide (its first step is
        // the browser's).
        if matched != Route::ReportInvocation && matched != Route::VerificationStart {
            prop_assert!(!(200..300).contains(&response.status), "{} answered {} without Glide", route, response.status);
        }
        if !headers.post {
            prop_assert_eq!(response.status, 405);
        }
    }
}

#[derive(Debug, Clone)]
enum Part {
    Raw(String),
    RealState,
    State(String),
    Code(String),
    Error(String),
}

fn part() -> impl Strategy<Value = Part> {
    prop_oneof![
        any::<String>().prop_map(Part::Raw),
        "[a-z=&%?#/:.]{0,12}".prop_map(Part::Raw),
        Just(Part::RealState),
        "[A-Za-z0-9_-]{0,44}".prop_map(Part::State),
        "[ -~]{0,8}".prop_map(Part::Code),
        "[a-z_]{0,8}".prop_map(Part::Error),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn callback_redirects_only_to_the_return_path(
        parts in prop::collection::vec(part(), 0..5),
        with_cookie in prop::bool::weighted(0.8),
        cookie_junk in prop::option::of("[ -~]{0,20}"),
        return_path in prop::sample::select(vec!["/", "/account", "/done?x=1"]),
    ) {
        let rt = runtime();
        let auth = engine(unreachable_glide(), return_path);
        let get = |route: &str, query: String, cookie: Option<String>| EndpointRequest {
            method: "GET".into(),
            path: auth.routes().route(route),
            query: Some(query),
            headers: cookie.into_iter().map(|c| ("cookie".to_owned(), c)).collect(),
            ..Default::default()
        };
        let start = get("number-verify/start", "phone_number=%2B15555550100".into(), None);
        let started = rt.block_on(handle(&auth, Route::NumberVerifyStart, start));
        prop_assert_eq!(started.status, 302);
        let state = started
            .header("location")
            .and_then(|l| l.split(['?', '&']).find_map(|p| p.strip_prefix("state=")))
            .expect("a state")
            .to_owned();
        let cookie_pair = started
            .header("set-cookie")
            .and_then(|c| c.split(';').next())
            .expect("a state cookie")
            .to_owned();
        let query = parts
            .iter()
            .map(|p| match p {
                Part::Raw(s) => s.clone(),
                Part::RealState => format!("state={state}"),
                Part::State(s) => format!("state={s}"),
                Part::Code(s) => format!("code={s}"),
                Part::Error(s) => format!("error={s}"),
            })
            .collect::<Vec<_>>()
            .join("&");
        let cookie = match (with_cookie, cookie_junk) {
            (true, Some(junk)) => Some(format!("{junk}; {cookie_pair}")),
            (true, None) => Some(cookie_pair.clone()),
            (false, junk) => junk,
        };
        let request = get("number-verify/callback", query, cookie);
        let presented_state = request.query_param("state");
        let response = rt.block_on(handle(&auth, Route::NumberVerifyCallback, request));
        check_response(&response, &auth)?;
        if response.status == 302 {
            prop_assert_eq!(presented_state.as_deref(), Some(state.as_str()));
            let location = response.header("location").expect("a location");
            let separator = if return_path.contains('?') { '&' } else { '?' };
            let failed = format!("{return_path}{separator}verification=failed");
            prop_assert!(location == return_path || location == failed, "302 to {:?}", location);
        }
    }
}

/// Answers the token endpoint with a token and every API call with the scripted reply.
#[derive(Debug, Clone, Default)]
struct Scripted(Arc<Mutex<(u16, Bytes)>>);

#[async_trait]
impl HttpClient for Scripted {
    async fn execute(
        &self,
        request: http::Request<Bytes>,
    ) -> Result<http::Response<Bytes>, BoxError> {
        if request.uri().path().ends_with("/token") {
            return Ok(http::Response::builder()
                .status(200)
                .body(Bytes::from_static(
                    br#"{"access_token":"t","expires_in":3600}"#,
                ))?);
        }
        let (status, body) = self.0.lock().map_err(|_| "poisoned")?.clone();
        Ok(http::Response::builder().status(status).body(body)?)
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn glide_answers_map_to_success_or_a_well_formed_error(
        status in prop_oneof![100u16..1000, Just(200u16), Just(400u16), Just(422u16), Just(503u16), Just(302u16)],
        body in prop_oneof![
            Just(br#"{"authentication_strategy":"ts43","session":{"session_key":"k"},"data":{}}"#.to_vec()),
            Just(br#"{"code":"CARRIER_NOT_ELIGIBLE","message":"no","status":422}"#.to_vec()),
            Just(br#"{"error":"invalid_client"}"#.to_vec()),
            Just(br#"{"code":"","message":"m"}"#.to_vec()),
            "[ -~]{0,40}".prop_map(String::into_bytes),
            prop::collection::vec(any::<u8>(), 0..40),
        ],
    ) {
        let rt = runtime();
        let scripted = Scripted::default();
        *scripted.0.lock().expect("fresh") = (status, Bytes::from(body));
        let glide = Glide::builder("prop-client", "prop-secret")
            .base_url("http://127.0.0.1:9")
            .http_client(scripted)
            .retry_policy(RetryPolicy::none())
            .build()
            .expect("a client");
        let phone = glide_core::PhoneNumber::parse("+15555550100").expect("valid");
        let outcome = rt.block_on(glide.prepare(&PrepareRequest::verify_phone_number(
            &phone,
            glide_core::api::ClientInfo::new("prop"),
        )));
        match outcome {
            Ok(prepared) => {
                prop_assert!((200..300).contains(&status), "success on HTTP {}", status);
                prop_assert!(!prepared.session_key().is_empty());
            }
            Err(error) => {
                let http_status = error.http_status();
                prop_assert!((400..=599).contains(&http_status), "{} from HTTP {}", http_status, status);
                if http_status >= 500 {
                    prop_assert!(OPAQUE_MESSAGES.contains(&error.public_message().as_str()));
                }
                let response = EndpointResponse::from_http(glide_core::endpoint::error_response(&error));
                let json: serde_json::Value = serde_json::from_slice(&response.body).expect("JSON");
                prop_assert!(json["code"].as_str().is_some_and(|c| !c.is_empty()));
                prop_assert_eq!(json["status"].as_u64(), Some(u64::from(http_status)));
            }
        }
    }
}
