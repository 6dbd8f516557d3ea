//! What the adapters read from the engine (its route table, paths, body limit, cookie name) and
//! the `serve` seam they call, checked against the engine's own answers over the real sandbox.

use bytes::Bytes;
use glide_core::api::Glide;
use glide_core::endpoint::{GlideAuth, GlideAuthBuilder, Route, RoutePaths};
use glide_sandbox::{Sandbox, SandboxConfig};
use http_body_util::Full;
use serde_json::{json, Value};

const ORIGIN: &str = "http://app.test";
const ANDROID: &str =
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/126.0 Mobile Safari/537.36";

async fn sandbox() -> Sandbox {
    Sandbox::start(SandboxConfig::default().with_port(0))
        .await
        .expect("sandbox starts")
}

fn builder(sandbox: &Sandbox) -> GlideAuthBuilder {
    let glide = Glide::builder("sandbox-client", "sandbox-secret")
        .base_url(sandbox.base_url().as_str())
        .build()
        .expect("client builds");
    GlideAuth::builder(glide)
}

fn prepare_body(phone: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "use_case": "VerifyPhoneNumber",
        "phone_number": phone,
        "client_info": {"user_agent": ANDROID, "platform": "android"},
    }))
    .expect("json")
}

fn post(path: &str, body: Vec<u8>) -> http::Request<Full<Bytes>> {
    http::Request::post(path)
        .header("origin", ORIGIN)
        .header("host", "app.test")
        .header("content-type", "application/json")
        .header("user-agent", ANDROID)
        .body(Full::new(Bytes::from(body)))
        .expect("request")
}

#[tokio::test]
async fn serve_reads_the_body_and_answers_the_route() {
    let sandbox = sandbox().await;
    let auth = builder(&sandbox)
        .insecure_dev_cookies(true)
        .build()
        .expect("engine builds");
    let path = auth.routes().route("prepare");
    let response = auth
        .serve(Route::Prepare, post(&path, prepare_body("+15555550100")))
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = serde_json::from_slice(response.body()).expect("json");
    assert!(body["session"]["session_key"].is_string(), "{body}");
}

#[tokio::test]
async fn serve_refuses_a_body_over_the_configured_limit() {
    let sandbox = sandbox().await;
    let auth = builder(&sandbox)
        .insecure_dev_cookies(true)
        .body_limit(256)
        .build()
        .expect("engine builds");
    assert_eq!(auth.body_limit(), 256);
    let path = auth.routes().route("prepare");
    let mut big = prepare_body("+15555550100");
    big.pop();
    big.extend(format!(r#","pad":"{}"}}"#, "x".repeat(256)).bytes());
    let refused = auth.serve(Route::Prepare, post(&path, big)).await;
    assert_eq!(refused.status(), 413);
    // Under the limit, the same route answers.
    let small = auth
        .serve(Route::Prepare, post(&path, prepare_body("+15555550100")))
        .await;
    assert_eq!(small.status(), 200);
}

#[tokio::test]
async fn the_route_table_is_what_the_engine_matches() {
    let sandbox = sandbox().await;
    let mut paths = RoutePaths::default();
    paths.base_path = "/auth/phone".into();
    paths.completion_path = "/done".into();
    let auth = builder(&sandbox)
        .insecure_dev_cookies(true)
        .routes(paths.clone())
        .build()
        .expect("engine builds");
    assert_eq!(auth.routes(), &paths);
    let table = auth.route_table();
    assert!(
        table.len() >= 12,
        "every route but Number Verify's: {table:?}"
    );
    for mounted in table {
        assert!(
            mounted.path.starts_with("/auth/phone/") || mounted.path == "/done",
            "{mounted:?}"
        );
        // The status route's path is the prefix before its session key.
        let concrete = if mounted.takes_key {
            format!("{}a-key", mounted.path)
        } else {
            mounted.path.clone()
        };
        assert_eq!(
            auth.match_route(&concrete),
            Some(mounted.route),
            "{mounted:?}"
        );
    }
    assert!(table.iter().any(|m| m.route == Route::Prepare));
    assert!(table.iter().any(|m| m.route == Route::CompletionPage));
    // Number Verify is mounted only with a callback URL, the chain only when configured.
    assert!(!table.iter().any(|m| m.route == Route::NumberVerifyStart));
    assert!(!table.iter().any(|m| matches!(
        m.route,
        Route::VerificationStart | Route::Verification | Route::VerificationAdvance
    )));
    assert_eq!(auth.match_route("/api/magical-auth/prepare"), None);
}

#[tokio::test]
async fn the_session_cookie_name_is_the_one_set_after_a_verification() {
    let sandbox = sandbox().await;
    let secure = builder(&sandbox).build().expect("engine builds");
    assert_eq!(secure.session_cookie_name(), "__Host-glide_session");
    let dev = builder(&sandbox)
        .insecure_dev_cookies(true)
        .session_cookie_name("my_session")
        .build()
        .expect("engine builds");
    assert_eq!(dev.session_cookie_name(), "my_session");

    // A TS43 flow end to end: the cookie that carries the session has exactly that name.
    let prepare_path = dev.routes().route("prepare");
    let prepared = dev
        .serve(
            Route::Prepare,
            post(&prepare_path, prepare_body("+15555550100")),
        )
        .await;
    assert_eq!(prepared.status(), 200);
    let binding: Vec<String> = prepared
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .map(str::to_owned)
        .collect();
    let prepared: Value = serde_json::from_slice(prepared.body()).expect("json");
    let key = prepared["session"]["session_key"]
        .as_str()
        .expect("a session key")
        .to_owned();
    let credential = sandbox
        .control()
        .ts43_credential(&key, ORIGIN, None)
        .expect("the sandbox mints a credential");
    let process_path = dev.routes().route("process");
    let mut process = post(
        &process_path,
        serde_json::to_vec(&json!({
            "session": {"session_key": key},
            "credential": credential,
            "use_case": "VerifyPhoneNumber",
        }))
        .expect("json"),
    );
    process
        .headers_mut()
        .insert("cookie", binding.join("; ").parse().expect("header"));
    let processed = dev.serve(Route::Process, process).await;
    assert_eq!(processed.status(), 200, "{:?}", processed.body());
    let names: Vec<String> = processed
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split('=').next())
        .map(str::to_owned)
        .collect();
    assert!(names.iter().any(|n| n == "my_session"), "{names:?}");
}

#[test]
fn rejections_answer_with_their_status_and_the_routes_error_body() {
    use glide_core::endpoint::Rejection;
    let body = |r: &Rejection| -> Value {
        let response = r.to_response();
        assert_eq!(response.status(), r.status(), "{r:?}");
        serde_json::from_slice(response.body()).unwrap()
    };
    let not_verified = Rejection::NotVerified;
    assert_eq!(not_verified.status(), 401);
    let v = body(&not_verified);
    assert_eq!(
        (v["code"].as_str(), v["status"].as_u64()),
        (Some("NOT_VERIFIED"), Some(401))
    );
    let missing = Rejection::missing_middleware("GlideLayer");
    assert_eq!(missing.status(), 500);
    let v = body(&missing);
    assert_eq!(v["code"], "MISSING_MIDDLEWARE");
    assert!(v["message"].as_str().unwrap().contains("GlideLayer"), "{v}");
}

#[test]
fn base_paths_are_checked_when_the_engine_is_built() {
    let build = |base: &str| {
        let glide = Glide::builder("client", "secret")
            .base_url("http://127.0.0.1:9")
            .build()
            .unwrap();
        let mut paths = RoutePaths::default();
        paths.base_path = base.to_owned();
        GlideAuth::builder(glide)
            .routes(paths)
            .build()
            .err()
            .map(|e| e.to_string())
    };
    assert_eq!(build("/auth/phone"), None);
    for bad in [
        "auth", "//auth", "/auth/", "/a b", "/a\"b", "/a<b", "/a\\b", "/a\u{e9}",
    ] {
        assert!(build(bad).is_some(), "{bad:?} was taken");
    }
}

#[test]
fn the_builders_debug_names_its_routes_and_cookie_mode() {
    let glide = Glide::builder("client", "sandbox-secret-value")
        .base_url("http://127.0.0.1:9")
        .build()
        .unwrap();
    let text = format!("{:?}", GlideAuth::builder(glide).insecure_dev_cookies(true));
    assert!(text.starts_with("GlideAuthBuilder {"), "{text}");
    assert!(text.contains("insecure_cookies: true"), "{text}");
    assert!(text.contains("/api/magical-auth"), "{text}");
    assert!(!text.contains("sandbox-secret-value"), "{text}");
}

/// Every nested configuration is checked by `build()`, however its public fields were set: a
/// value that would make the engine unsafe or that a setter would clamp is refused, naming the
/// field.
#[tokio::test]
async fn unsafe_configurations_do_not_build() {
    use glide_core::ratelimit::{RateLimit, RateLimitConfig};
    use glide_core::session::SessionConfig;
    use std::time::Duration;

    let sandbox = sandbox().await;
    let refused = |b: GlideAuthBuilder, field: &str| {
        let error = b.build().expect_err("refused");
        assert_eq!(error.code(), "INTERNAL_SERVER_ERROR");
        assert!(error.to_string().contains(field), "{error} names {field}");
    };
    let mut sessions = SessionConfig::default();
    sessions.max_per_number = 0;
    refused(builder(&sandbox).sessions(sessions), "max_per_number");
    let mut sessions = SessionConfig::default();
    sessions.idle_timeout = Duration::from_secs(13 * 3600);
    refused(builder(&sandbox).sessions(sessions), "idle_timeout");
    let mut sessions = SessionConfig::default();
    sessions.absolute_timeout = Duration::ZERO;
    refused(builder(&sandbox).sessions(sessions), "absolute_timeout");

    let mut limits = RateLimitConfig::default();
    limits.check_per_ip = Some(RateLimit::new(5, Duration::from_millis(10)));
    refused(builder(&sandbox).rate_limits(limits), "check_per_ip");
    let mut limits = RateLimitConfig::default();
    limits.prepare_per_phone = Some(RateLimit::new(100, Duration::from_secs(600)));
    refused(builder(&sandbox).rate_limits(limits), "prepare_per_phone");
    let mut limits = RateLimitConfig::default();
    limits.check_per_phone_total = Some(RateLimit::new(1, Duration::from_secs(600)));
    refused(builder(&sandbox).rate_limits(limits), "check_per_phone");

    let limits =
        RateLimitConfig::default().with_trusted_proxies(["0.0.0.0/0".parse().expect("range")]);
    refused(builder(&sandbox).rate_limits(limits), "trusted_proxies");

    refused(
        builder(&sandbox).cors_origins(["*"]),
        "allowed origin \"*\"",
    );
    refused(builder(&sandbox).body_limit(0), "body_limit");
    refused(builder(&sandbox).flow_lease(Duration::ZERO), "flow_lease");

    // The defaults, and the setters' own values, build.
    assert!(builder(&sandbox).build().is_ok());
    assert!(builder(&sandbox)
        .sessions(SessionConfig::new().max_per_number(0))
        .build()
        .is_ok());
}

/// The same-origin check a guard runs on an app's route (`GlideAuth::check_origin`): a
/// state-changing request from another origin (or scheme), `null`, or marked cross-site /
/// same-site is refused; safe methods and the app's own origin pass.
#[tokio::test]
async fn the_guards_origin_check_refuses_foreign_state_changes() {
    let sandbox = sandbox().await;
    let auth = builder(&sandbox)
        .insecure_dev_cookies(true)
        .build()
        .expect("engine");
    let check = |method: http::Method, headers: &[(&'static str, &'static str)]| {
        let mut map = http::HeaderMap::new();
        map.insert(
            http::header::HOST,
            http::HeaderValue::from_static("app.test"),
        );
        for (name, value) in headers {
            map.insert(*name, http::HeaderValue::from_static(value));
        }
        let uri: http::Uri = "/transfer".parse().expect("uri");
        auth.check_origin(&method, &uri, &map)
            .map_err(|r| r.status().as_u16())
    };
    use http::Method;
    assert_eq!(check(Method::POST, &[("origin", ORIGIN)]), Ok(()));
    assert_eq!(check(Method::POST, &[]), Ok(()), "no browser headers");
    for refused in [
        &[("origin", "https://evil.example")][..],
        &[("origin", "https://app.test")],
        &[("origin", "null")],
        &[("sec-fetch-site", "cross-site")],
        &[("sec-fetch-site", "same-site")],
    ] {
        assert_eq!(check(Method::POST, refused), Err(403), "{refused:?}");
        assert_eq!(check(Method::DELETE, refused), Err(403), "{refused:?}");
        assert_eq!(
            check(Method::GET, refused),
            Ok(()),
            "a safe method: {refused:?}"
        );
    }
}
