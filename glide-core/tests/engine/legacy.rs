//! The legacy routes driven through `GlideAuth::handle` against the real sandbox over 127.0.0.1:
//! SMS fallback end to end, attempt limits, resend cooldown, single use, cross-number codes,
//! server auth, Number Verify with its browser-bound state and fixed return path.

#![allow(clippy::unwrap_used)]

use glide_core::api::Glide;
use glide_core::endpoint::GlideAuth;

use crate::endpoint_support::{handle, EndpointRequest, EndpointResponse};
use glide_core::ratelimit::RateLimitConfig;
use glide_sandbox::{Sandbox, SandboxConfig};
use serde_json::{json, Value};

const ORIGIN: &str = "http://app.test";
const CALLBACK: &str = "http://app.test/api/magical-auth/number-verify/callback";

struct World {
    sandbox: Sandbox,
    auth: GlideAuth,
    http: reqwest::Client,
}

async fn world() -> World {
    world_with(|builder| builder).await
}

/// A world whose engine is configured further by `configure`.
async fn world_with(
    configure: impl FnOnce(
        glide_core::endpoint::GlideAuthBuilder,
    ) -> glide_core::endpoint::GlideAuthBuilder,
) -> World {
    world_on(SandboxConfig::default(), configure).await
}

/// [`world_with`] on a sandbox started from `config`.
async fn world_on(
    config: SandboxConfig,
    configure: impl FnOnce(
        glide_core::endpoint::GlideAuthBuilder,
    ) -> glide_core::endpoint::GlideAuthBuilder,
) -> World {
    let sandbox = Sandbox::start(
        config
            .with_port(0)
            .with_number_verify_redirect_url(CALLBACK),
    )
    .await
    .expect("sandbox starts");
    let glide = Glide::builder("sandbox-client", "sandbox-secret")
        .base_url(sandbox.base_url().as_str())
        .build()
        .expect("client builds");
    let auth = configure(
        GlideAuth::builder(glide)
            .insecure_dev_cookies(true)
            .rate_limits(RateLimitConfig::disabled())
            .number_verify_callback_url(CALLBACK)
            .legacy_return_path("/welcome"),
    )
    .build()
    .expect("engine builds");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    World {
        sandbox,
        auth,
        http,
    }
}

fn request(
    method: &str,
    path_and_query: &str,
    body: Option<Value>,
    cookies: &str,
) -> EndpointRequest {
    let (path, query) = match path_and_query.split_once('?') {
        Some((p, q)) => (p, Some(q.to_owned())),
        None => (path_and_query, None),
    };
    let mut headers = vec![("host".to_owned(), "app.test".to_owned())];
    if body.is_some() {
        headers.push(("origin".to_owned(), ORIGIN.to_owned()));
        headers.push(("content-type".to_owned(), "application/json".to_owned()));
    }
    if !cookies.is_empty() {
        headers.push(("cookie".to_owned(), cookies.to_owned()));
    }
    EndpointRequest {
        method: method.into(),
        path: path.into(),
        query,
        headers,
        body: body.map(|b| b.to_string().into()).unwrap_or_default(),
        peer_addr: Some([127, 0, 0, 1].into()),
    }
}

async fn call(auth: &GlideAuth, request: EndpointRequest) -> (u16, Value, EndpointResponse) {
    let route = auth.match_route(&request.path).expect("one of our routes");
    let response = handle(auth, route, request).await;
    let body = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
    (response.status, body, response)
}

/// `name=value` of the first live Set-Cookie whose name starts with `prefix`.
fn cookie_pair(response: &EndpointResponse, prefix: &str) -> Option<String> {
    response
        .headers
        .iter()
        .filter(|(n, v)| n == "set-cookie" && v.starts_with(prefix) && !v.contains("Max-Age=0"))
        .map(|(_, v)| v.split(';').next().unwrap_or_default().to_owned())
        .next()
}

async fn otp(w: &World, phone: &str) -> String {
    let answer: Value = control_otp(w, json!({ "phone_number": phone })).await;
    answer["code"].as_str().expect("an OTP was sent").to_owned()
}

async fn start(w: &World, phone: &str, cookies: &str) -> (u16, Value, EndpointResponse) {
    start_on(w, phone, "SMS", cookies).await
}

/// A code start for `phone` on fallback `channel` (`SMS`, `EMAIL`, `NO_FALLBACK`, …).
async fn start_on(
    w: &World,
    phone: &str,
    channel: &str,
    cookies: &str,
) -> (u16, Value, EndpointResponse) {
    call(
        &w.auth,
        request(
            "POST",
            "/api/magical-auth/magic-auth/start",
            Some(json!({ "phone_number": phone, "fallback_channel": channel })),
            cookies,
        ),
    )
    .await
}

async fn verify(w: &World, code: &str, cookies: &str) -> (u16, Value, EndpointResponse) {
    call(
        &w.auth,
        request(
            "POST",
            "/api/magical-auth/magic-auth/verify",
            Some(json!({ "code": code })),
            cookies,
        ),
    )
    .await
}

fn wrong(code: &str) -> String {
    let n: u32 = code.parse().unwrap();
    format!("{:06}", (n + 1) % 1_000_000)
}

#[tokio::test]
async fn sms_fallback_end_to_end_and_single_use() {
    let w = world().await;
    let (status, body, response) = start(&w, "+15555550106", "").await;
    assert_eq!(
        (status, body["type"].as_str()),
        (200, Some("SMS")),
        "{body}"
    );
    let legacy = cookie_pair(&response, "glide_legacy=").expect("verification cookie");
    assert!(response.headers.iter().any(|(n, v)| n == "set-cookie"
        && v.starts_with("glide_legacy=")
        && v.contains("HttpOnly")
        && v.contains("Max-Age=600")));
    let code = otp(&w, "+15555550106").await;

    let (status, body, response) = verify(&w, &code, &legacy).await;
    assert_eq!(status, 200, "{body}");
    let session = cookie_pair(&response, "glide_session=").expect("verified session");
    let phone = w
        .auth
        .request_context([session.as_bytes()])
        .verified_phone()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(phone.phone_number.as_str(), "+15555550106");
    assert_eq!(phone.strategy.as_str(), "sms");

    // reused: the record is gone
    let (status, body, _) = verify(&w, &code, &legacy).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("SESSION_NOT_FOUND"))
    );
}

#[tokio::test]
async fn five_wrong_codes_kill_the_verification_and_resend_keeps_the_count() {
    let w = world().await;
    let (_, _, response) = start(&w, "+15555550106", "").await;
    let legacy = cookie_pair(&response, "glide_legacy=").unwrap();
    let code = otp(&w, "+15555550106").await;

    // malformed codes are refused without counting
    for bad in ["12", "abcdef"] {
        let (status, body, _) = verify(&w, bad, &legacy).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("VALIDATION_ERROR"))
        );
    }
    for i in 0..3 {
        let (status, body, _) = verify(&w, &wrong(&code), &legacy).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (401, Some("INVALID_CODE")),
            "{i}"
        );
        assert_eq!(body["attempts_left"], json!(4 - i));
    }
    // a resend within the cooldown is refused
    let (status, body, response) = start(&w, "+15555550106", &legacy).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (429, Some("RATE_LIMIT_EXCEEDED"))
    );
    let retry: u64 = response.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=30).contains(&retry));

    for _ in 0..2 {
        let (status, _, _) = verify(&w, &wrong(&code), &legacy).await;
        assert_eq!(status, 401);
    }
    // the 6th attempt, even with the right code
    let (status, body, _) = verify(&w, &code, &legacy).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (429, Some("TOO_MANY_ATTEMPTS"))
    );
}

#[tokio::test]
async fn concurrent_wrong_codes_are_counted_exactly_once() {
    let w = world().await;
    let (_, _, response) = start(&w, "+15555550106", "").await;
    let legacy = cookie_pair(&response, "glide_legacy=").unwrap();
    let code = otp(&w, "+15555550106").await;
    let bad = wrong(&code);
    let answers = futures_util::future::join_all((0..8).map(|_| verify(&w, &bad, &legacy))).await;
    let unauthorized = answers.iter().filter(|(s, _, _)| *s == 401).count();
    let dead = answers.iter().filter(|(s, _, _)| *s == 429).count();
    assert_eq!((unauthorized, dead), (5, 3));
    let (status, _, _) = verify(&w, &code, &legacy).await;
    assert_eq!(status, 429);
}

#[tokio::test]
async fn cross_number_code_is_refused() {
    let w = world().await;
    // verification A (ours) for …0106; a code sent for another verification of …0106's
    // neighbour cannot be used: the sandbox checks the code against our number.
    let (_, _, response) = start(&w, "+15555550106", "").await;
    let legacy = cookie_pair(&response, "glide_legacy=").unwrap();
    let code_a = otp(&w, "+15555550106").await;
    // another browser asks for an e-mail code for the same number, to its own mailbox: an
    // e-mail code proves an address, never a phone number, so the address never comes from the
    // browser — refused before anything is sent.
    let (status, body, _) = call(
        &w.auth,
        request(
            "POST",
            "/api/magical-auth/magic-auth/start",
            Some(json!({ "phone_number": "+15555550106", "email": "eve@example.com", "fallback_channel": "EMAIL" })),
            "",
        ),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("VALIDATION_ERROR")),
        "{body}"
    );
    let eve = w
        .http
        .post(format!(
            "{}/sandbox/legacy/otp",
            w.sandbox.base_url().as_str().trim_end_matches('/')
        ))
        .header("content-type", "application/json")
        .body(json!({ "email": "eve@example.com" }).to_string())
        .send()
        .await
        .unwrap();
    assert!(
        !eve.status().is_success(),
        "no code was sent to the attacker's address"
    );
    // Without an address on file, the e-mail fallback is not offered at all.
    let (status, body, _) = start_on(&w, "+15555550106", "EMAIL", "").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("VALIDATION_ERROR"))
    );
    let (status, _, _) = verify(&w, &code_a, &legacy).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn magic_type_and_input_validation() {
    let w = world().await;
    let (status, body, _) = start(&w, "+15555550100", "").await;
    assert_eq!(
        (status, body["type"].as_str()),
        (200, Some("MAGIC")),
        "{body}"
    );
    assert!(body["auth_url"]
        .as_str()
        .unwrap()
        .contains("/sandbox/legacy/magic/"));
    for bad in [
        json!({ "phone_number": "5555550100" }),
        json!({ "email": "a@b.c" }),
        json!({ "phone_number": "+15555550106", "email": "a@b@c" }),
        // RCS is a channel of Glide's, not one this engine offers.
        json!({ "phone_number": "+15555550106", "fallback_channel": "RCS" }),
    ] {
        let (status, body, _) = call(
            &w.auth,
            request("POST", "/api/magical-auth/magic-auth/start", Some(bad), ""),
        )
        .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("VALIDATION_ERROR")),
            "{body}"
        );
    }
    // None of those reached Glide.
    assert!(
        !w.sandbox
            .control()
            .requests()
            .iter()
            .any(|r| r.path == "/magic-auth/verification/start"
                && r.body.to_string().contains("5555550106")),
        "refused input never reaches Glide"
    );
    // cross-origin start refused
    let mut cross = request(
        "POST",
        "/api/magical-auth/magic-auth/start",
        Some(json!({ "phone_number": "+15555550106" })),
        "",
    );
    cross.headers.retain(|(n, _)| n != "origin");
    cross
        .headers
        .push(("origin".into(), "https://evil.example".into()));
    let (status, _, _) = call(&w.auth, cross).await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn server_auth_is_bound_to_the_browser() {
    let w = world().await;
    let (status, body, response) = call(
        &w.auth,
        request(
            "POST",
            "/api/magical-auth/magic-auth/start-server-auth",
            Some(json!({ "phone_number": "+15555550100" })),
            "",
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let legacy = cookie_pair(&response, "glide_legacy=").unwrap();
    let session_id = body["session_id"].as_str().unwrap().to_owned();
    let auth_url = body["auth_url"].as_str().unwrap().to_owned();
    let check = format!("/api/magical-auth/magic-auth/check-server-auth?session_id={session_id}");

    let (status, body, _) = call(&w.auth, request("GET", &check, None, &legacy)).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("PENDING")));
    // approve on the "device"
    let approved = w
        .http
        .get(format!("{auth_url}?decision=approve"))
        .send()
        .await
        .unwrap();
    assert!(approved.status().is_success() || approved.status().is_redirection());
    // another browser cannot claim it
    let (status, _, _) = call(&w.auth, request("GET", &check, None, "")).await;
    assert_eq!(status, 404);
    let (status, body, response) = call(&w.auth, request("GET", &check, None, &legacy)).await;
    assert_eq!(
        (status, body["verified"].as_bool()),
        (200, Some(true)),
        "{body}"
    );
    let session = cookie_pair(&response, "glide_session=").expect("verified session");
    let phone = w
        .auth
        .request_context([session.as_bytes()])
        .verified_phone()
        .await
        .unwrap()
        .unwrap();
    // Started with Glide's default fallback (SMS): a one-time code may have confirmed it, so
    // that is what the session says proved the number, not the carrier.
    assert_eq!(phone.strategy.as_str(), "sms");
    // single use
    let (status, _, _) = call(&w.auth, request("GET", &check, None, &legacy)).await;
    assert_eq!(status, 404);
}

/// number-verify/start, then the sandbox's operator page, then its redirect to our callback.
async fn nv_start(w: &World, phone: &str) -> (String, String) {
    let (status, _, response) = call(
        &w.auth,
        request(
            "GET",
            &format!(
                "/api/magical-auth/number-verify/start?phone_number={}",
                phone.replace('+', "%2B")
            ),
            None,
            "",
        ),
    )
    .await;
    assert_eq!(status, 302);
    let location = response.header("location").unwrap().to_owned();
    assert!(
        location.starts_with(w.sandbox.base_url().as_str()),
        "{location}"
    );
    assert!(location.contains(
        "redirect_uri=http%3A%2F%2Fapp.test%2Fapi%2Fmagical-auth%2Fnumber-verify%2Fcallback"
    ));
    let state_cookie = cookie_pair(&response, "glide_nv_state=").expect("state cookie");
    let operator = w.http.get(&location).send().await.unwrap();
    assert_eq!(operator.status(), 302);
    let back = operator.headers()["location"].to_str().unwrap().to_owned();
    assert!(back.starts_with(CALLBACK), "{back}");
    let path_and_query = back.strip_prefix("http://app.test").unwrap().to_owned();
    (state_cookie, path_and_query)
}

#[tokio::test]
async fn number_verify_end_to_end() {
    let w = world().await;
    let (state_cookie, callback) = nv_start(&w, "+15555550100").await;
    let (status, _, response) = call(&w.auth, request("GET", &callback, None, &state_cookie)).await;
    assert_eq!(status, 302);
    assert_eq!(response.header("location"), Some("/welcome"));
    let session = cookie_pair(&response, "glide_session=").expect("verified session");
    let phone = w
        .auth
        .request_context([session.as_bytes()])
        .verified_phone()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (phone.phone_number.as_str(), phone.strategy.as_str()),
        ("+15555550100", "number_verify")
    );

    // reused state
    let (status, body, _) = call(&w.auth, request("GET", &callback, None, &state_cookie)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("INVALID_STATE"))
    );
}

#[tokio::test]
async fn number_verify_forged_and_missing_state() {
    let w = world().await;
    let (state_cookie, callback) = nv_start(&w, "+15555550100").await;
    let forged = regex_free_replace_state(&callback, "forged-state");
    for (path, cookie) in [
        (forged.as_str(), state_cookie.as_str()),
        (callback.as_str(), ""),
        (
            "/api/magical-auth/number-verify/callback?code=x",
            state_cookie.as_str(),
        ),
    ] {
        let (status, body, _) = call(&w.auth, request("GET", path, None, cookie)).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (403, Some("INVALID_STATE")),
            "{path}"
        );
    }
    // a forged state did not burn the real one, and the return path ignores the request
    let with_next =
        format!("{callback}&return_to=https://evil.example&redirect_uri=https://evil.example");
    let (status, _, response) =
        call(&w.auth, request("GET", &with_next, None, &state_cookie)).await;
    assert_eq!(status, 302);
    assert_eq!(response.header("location"), Some("/welcome"));
}

#[tokio::test]
async fn number_verify_other_device_fails_to_the_return_path() {
    let w = world().await;
    // +15555550105's device number is +15555550199
    let (state_cookie, callback) = nv_start(&w, "+15555550105").await;
    let (status, _, response) = call(&w.auth, request("GET", &callback, None, &state_cookie)).await;
    assert_eq!(status, 302);
    assert_eq!(
        response.header("location"),
        Some("/welcome?verification=failed")
    );
    assert!(cookie_pair(&response, "glide_session=").is_none());
    // the user denies
    let (state_cookie, callback) = nv_start(&w, "+15555550108").await;
    assert!(callback.contains("error=access_denied"), "{callback}");
    let (status, _, response) = call(&w.auth, request("GET", &callback, None, &state_cookie)).await;
    assert_eq!(status, 302);
    assert_eq!(
        response.header("location"),
        Some("/welcome?verification=failed")
    );
}

#[tokio::test]
async fn return_path_is_checked_when_building() {
    let glide = Glide::builder("a", "b")
        .base_url("http://127.0.0.1:9")
        .build()
        .unwrap();
    for bad in [
        "//evil.example",
        "https://evil.example",
        "/\\evil",
        "welcome",
    ] {
        let built = GlideAuth::builder(glide.clone())
            .legacy_return_path(bad)
            .build();
        assert!(built.is_err(), "{bad}");
    }
    let built = GlideAuth::builder(glide.clone())
        .number_verify_callback_url("/relative")
        .build();
    assert!(built.is_err());
    // without a callback URL the Number Verify routes are not mounted (never a per-request
    // configuration error)
    let auth = GlideAuth::builder(glide).build().unwrap();
    assert_eq!(
        auth.match_route("/api/magical-auth/number-verify/start"),
        None
    );
    assert_eq!(
        auth.match_route("/api/magical-auth/number-verify/callback"),
        None
    );
    assert!(auth
        .route_table()
        .iter()
        .all(|m| !m.path.contains("number-verify")));
}

fn regex_free_replace_state(path: &str, state: &str) -> String {
    let (base, query) = path.split_once('?').unwrap();
    let pairs: Vec<String> = query
        .split('&')
        .map(|p| {
            if p.starts_with("state=") {
                format!("state={state}")
            } else {
                p.to_owned()
            }
        })
        .collect();
    format!("{base}?{}", pairs.join("&"))
}

async fn control_otp(w: &World, body: Value) -> Value {
    let text = w
        .http
        .post(format!(
            "{}/sandbox/legacy/otp",
            w.sandbox.base_url().as_str().trim_end_matches('/')
        ))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

/// How many CIBA requests (`/oauth2/backchannel-authentication`) for `scope` the sandbox has
/// received.
fn ciba_requests_for(w: &World, scope: &str) -> usize {
    w.sandbox
        .control()
        .requests()
        .iter()
        .filter(|r| r.path == "/oauth2/backchannel-authentication" && r.body["scope"] == scope)
        .count()
}

/// How many CIBA requests the SIM-swap check has made.
fn ciba_requests(w: &World) -> usize {
    ciba_requests_for(w, "sim-swap")
}

/// How many CIBA requests the device-swap check has made.
fn device_ciba_requests(w: &World) -> usize {
    ciba_requests_for(w, "device-swap")
}

/// How many device-swap checks (`/device-swap/v1/retrieve-date`) the sandbox has answered.
fn device_swap_calls(w: &World) -> usize {
    w.sandbox
        .control()
        .requests()
        .iter()
        .filter(|r| r.path == "/device-swap/v1/retrieve-date")
        .count()
}

/// A verified session's `VerifiedPhone`, from the response's session cookie.
async fn session_phone(w: &World, response: &EndpointResponse) -> glide_core::VerifiedPhone {
    let session = cookie_pair(response, "glide_session=").expect("verified session");
    let phone = w
        .auth
        .request_context([session.as_bytes()])
        .verified_phone()
        .await
        .unwrap()
        .unwrap();
    std::sync::Arc::unwrap_or_clone(phone)
}

#[tokio::test]
async fn sim_swap_check_once_per_verification_and_high_risk_is_denied() {
    let w = world().await;
    // +15555550106: never swapped. A wrong code and a refused one ask nothing; the right one
    // asks once, and the session carries the signal.
    let (_, _, response) = start(&w, "+15555550106", "").await;
    let legacy = cookie_pair(&response, "glide_legacy=").unwrap();
    let code = otp(&w, "+15555550106").await;
    let (status, _, _) = verify(&w, &wrong(&code), &legacy).await;
    assert_eq!(status, 401);
    assert_eq!(ciba_requests(&w), 0, "no check on a wrong code");
    let (status, body, response) = verify(&w, &code, &legacy).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["sim_swap"]["risk_level"], "RISK_LEVEL_LOW", "{body}");
    assert_eq!(ciba_requests(&w), 1, "one check per verification");
    let phone = session_phone(&w, &response).await;
    let signal = phone.sim_swap.expect("the signal is filled");
    assert!(signal.checked);
    assert_eq!(signal.risk_level, Some(glide_core::RiskLevel::Low));
    assert!(signal.checked_at.is_some());

    // +15555550109: swapped 2 hours ago. The right code is denied with the signal, no session,
    // the verification is consumed (its cookie removed; the same code cannot be tried again).
    let (status, _, response) = start(&w, "+15555550109", "").await;
    assert_eq!(status, 200);
    let legacy = cookie_pair(&response, "glide_legacy=").unwrap();
    let code = otp(&w, "+15555550109").await;
    let (status, body, response) = verify(&w, &code, &legacy).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("RISK_POLICY_DENIED")),
        "{body}"
    );
    assert_eq!(body["phone_number"], "+15555550109", "{body}");
    assert_eq!(body["sim_swap"]["checked"], true, "{body}");
    assert_eq!(body["sim_swap"]["risk_level"], "RISK_LEVEL_HIGH", "{body}");
    assert_eq!(body["sim_swap"]["age_band"], "0-4 hours", "{body}");
    assert!(cookie_pair(&response, "glide_session=").is_none());
    assert!(response.headers.iter().any(|(n, v)| n == "set-cookie"
        && v.starts_with("glide_legacy=")
        && v.contains("Max-Age=0")));
    assert_eq!(ciba_requests(&w), 2);
    let (status, body, _) = verify(&w, &code, &legacy).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("SESSION_NOT_FOUND"))
    );
    assert_eq!(ciba_requests(&w), 2, "a consumed verification asks nothing");
}

#[tokio::test]
async fn sim_swap_check_failure_fails_closed_by_default_or_open_when_chosen() {
    use glide_core::endpoint::SimSwapFailure;
    use glide_sandbox::Fault;
    for on_failure in [None, Some(SimSwapFailure::Open)] {
        let w = world_with(|builder| match on_failure {
            Some(mode) => builder.sim_swap_on_failure(mode),
            None => builder,
        })
        .await;
        let (_, _, response) = start(&w, "+15555550109", "").await;
        let legacy = cookie_pair(&response, "glide_legacy=").unwrap();
        let code = otp(&w, "+15555550109").await;
        // Both checks' CIBA requests fail (they run at once: which one comes first is not
        // fixed).
        w.sandbox
            .control()
            .add_fault(Fault::status("/oauth2/backchannel-authentication", 500).times(2));
        let (status, body, response) = verify(&w, &code, &legacy).await;
        if on_failure.is_none() {
            assert_eq!(
                (status, body["code"].as_str()),
                (503, Some("SERVICE_UNAVAILABLE")),
                "{body}"
            );
            assert_eq!(
                body.as_object().map(|o| o.len()),
                Some(3),
                "opaque body: {body}"
            );
            assert!(cookie_pair(&response, "glide_session=").is_none());
        } else {
            assert_eq!(status, 200, "{body}");
            let phone = session_phone(&w, &response).await;
            let device = phone
                .device_swap
                .clone()
                .expect("the failed check is recorded");
            assert_eq!(
                (device.checked, device.reason.as_deref()),
                (false, Some("check_failed"))
            );
            let signal = phone.sim_swap.expect("the failed check is recorded");
            assert!(!signal.checked);
            assert_eq!(signal.reason.as_deref(), Some("check_failed"));
            assert_eq!(signal.risk_level, None);
            // When the check was tried: the verification's own time, as Glide dates a check.
            assert_eq!(
                signal.checked_at.as_deref(),
                Some(
                    phone
                        .verified_at
                        .format(&time::format_description::well_known::Rfc3339)
                        .unwrap()
                        .as_str()
                )
            );
        }
    }
}

#[tokio::test]
async fn sim_swap_check_switched_off_is_skipped_not_faked() {
    let w = world_with(|builder| builder.sim_swap_check(false)).await;
    let (_, _, response) = start(&w, "+15555550109", "").await;
    let legacy = cookie_pair(&response, "glide_legacy=").unwrap();
    let code = otp(&w, "+15555550109").await;
    let (status, body, response) = verify(&w, &code, &legacy).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("sim_swap").is_none(), "{body}");
    assert!(body.get("device_swap").is_none(), "{body}");
    let phone = session_phone(&w, &response).await;
    assert_eq!((phone.sim_swap, phone.device_swap), (None, None));
    assert_eq!((ciba_requests(&w), device_ciba_requests(&w)), (0, 0));
}

/// `+15555550102` (device changed 1-2 days ago) through each code path — SMS code, e-mail code,
/// the carrier link, server auth, Number Verify — is denied on its device swap by the default
/// policy: 403 `RISK_POLICY_DENIED` with the signal (Number Verify: the failure redirect), no
/// session; one device-swap check per verification, beside the SIM-swap one.
#[tokio::test]
async fn device_swap_is_asked_on_every_code_path_and_high_risk_is_denied() {
    const CHANGED: &str = "+15555550102";
    let assert_denied = |status: u16, body: &Value, response: &EndpointResponse, what: &str| {
        assert_eq!(
            (status, body["code"].as_str()),
            (403, Some("RISK_POLICY_DENIED")),
            "{what}: {body}"
        );
        assert_eq!(body["phone_number"], CHANGED, "{what}: {body}");
        assert_eq!(body["device_swap"]["checked"], true, "{what}: {body}");
        assert_eq!(
            body["device_swap"]["risk_level"], "RISK_LEVEL_HIGH",
            "{what}: {body}"
        );
        assert_eq!(
            body["device_swap"]["age_band"], "1-2 days",
            "{what}: {body}"
        );
        assert_eq!(
            body["sim_swap"]["risk_level"], "RISK_LEVEL_LOW",
            "{what}: {body}"
        );
        assert!(
            cookie_pair(response, "glide_session=").is_none(),
            "{what}: no session"
        );
    };
    // The codes: a sandbox on which the number's carrier offers codes, not the link.
    let on_file = |_: &glide_core::PhoneNumber| {
        glide_core::legacy::Email::parse("user-0102@example.com").ok()
    };
    let w = world_on(
        SandboxConfig::default().with_code_only_numbers([CHANGED]),
        move |builder| builder.email_on_file(on_file),
    )
    .await;
    for (channel, inbox) in [("SMS", CHANGED), ("EMAIL", "user-0102@example.com")] {
        let (status, body, response) = call(
            &w.auth,
            request(
                "POST",
                "/api/magical-auth/magic-auth/start",
                Some(json!({ "phone_number": CHANGED, "fallback_channel": channel })),
                "",
            ),
        )
        .await;
        assert_eq!(
            (status, body["type"].as_str()),
            (200, Some(channel)),
            "{channel}: {body}"
        );
        let legacy = cookie_pair(&response, "glide_legacy=").unwrap();
        let code = otp(&w, inbox).await;
        let (status, body, response) = verify(&w, &code, &legacy).await;
        assert_denied(status, &body, &response, channel);
    }
    assert_eq!(device_swap_calls(&w), 2, "one device-swap check per code");
    // The carrier link.
    let w = world().await;
    let (status, body, response) = carrier_link(&w, CHANGED).await;
    assert_denied(status, &body, &response, "carrier link");
    assert_eq!(device_swap_calls(&w), 1, "one device-swap check");

    // Server auth, approved on the device.
    let (status, body, response) = call(
        &w.auth,
        request(
            "POST",
            "/api/magical-auth/magic-auth/start-server-auth",
            Some(json!({ "phone_number": CHANGED })),
            "",
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let legacy = cookie_pair(&response, "glide_legacy=").unwrap();
    let check = format!(
        "/api/magical-auth/magic-auth/check-server-auth?session_id={}",
        body["session_id"].as_str().unwrap()
    );
    let approved = w
        .http
        .get(format!(
            "{}?decision=approve",
            body["auth_url"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap();
    assert!(approved.status().is_success() || approved.status().is_redirection());
    let (status, body, response) = call(&w.auth, request("GET", &check, None, &legacy)).await;
    assert_denied(status, &body, &response, "server auth");
    assert_eq!(device_swap_calls(&w), 2, "one device-swap check");

    // Number Verify: the failure redirect, no session.
    let (state_cookie, callback) = nv_start(&w, CHANGED).await;
    let (status, _, response) = call(&w.auth, request("GET", &callback, None, &state_cookie)).await;
    assert_eq!(
        (status, response.header("location")),
        (302, Some("/welcome?verification=failed"))
    );
    assert!(cookie_pair(&response, "glide_session=").is_none());

    // The same number with the device-swap check switched off gets through (the check is what
    // denies it), its session carrying no device_swap.
    let w = world_with(|builder| builder.device_swap_check(false)).await;
    let (state_cookie, callback) = nv_start(&w, CHANGED).await;
    let (status, _, response) = call(&w.auth, request("GET", &callback, None, &state_cookie)).await;
    assert_eq!(
        (status, response.header("location")),
        (302, Some("/welcome"))
    );
    let phone = session_phone(&w, &response).await;
    assert_eq!(phone.device_swap, None);
    assert_eq!(
        phone.sim_swap.and_then(|s| s.risk_level),
        Some(glide_core::RiskLevel::Low)
    );
    assert_eq!((device_ciba_requests(&w), device_swap_calls(&w)), (0, 0));
}

/// A never-changed device: `device_swap` checked and low on the session; a carrier with no
/// device-swap signal: `checked: false`, `reason: "carrier_not_supported"`, stored as it is,
/// allowed by default and denied under `require_device_swap_checked`.
#[tokio::test]
async fn device_swap_signal_is_stored_and_can_be_required() {
    let w = world().await;
    let (state_cookie, callback) = nv_start(&w, "+15555550100").await;
    let (status, _, response) = call(&w.auth, request("GET", &callback, None, &state_cookie)).await;
    assert_eq!(status, 302);
    let signal = session_phone(&w, &response).await.device_swap.unwrap();
    assert!(signal.checked);
    assert_eq!(signal.risk_level, Some(glide_core::RiskLevel::Low));
    assert!(signal.checked_at.is_some());

    let (state_cookie, callback) = nv_start(&w, "+15555550104").await;
    let (_, _, response) = call(&w.auth, request("GET", &callback, None, &state_cookie)).await;
    assert_eq!(response.header("location"), Some("/welcome"));
    let signal = session_phone(&w, &response).await.device_swap.unwrap();
    assert_eq!(
        (signal.checked, signal.reason.as_deref(), signal.risk_level),
        (false, Some("carrier_not_supported"), None)
    );

    let w = world_with(|builder| {
        builder.risk_policy(glide_core::RiskPolicy::default().require_device_swap_checked(true))
    })
    .await;
    let (state_cookie, callback) = nv_start(&w, "+15555550104").await;
    let (_, _, response) = call(&w.auth, request("GET", &callback, None, &state_cookie)).await;
    assert_eq!(
        response.header("location"),
        Some("/welcome?verification=failed")
    );
    assert!(cookie_pair(&response, "glide_session=").is_none());
}

/// The device-swap check fails (Glide 500 on `/device-swap/v1/retrieve-date`): closed by
/// default (opaque 503, no session), open when chosen (`device_swap: {checked: false,
/// reason: "check_failed"}`, the SIM-swap signal still checked).
#[tokio::test]
async fn device_swap_check_failure_fails_closed_by_default_or_open_when_chosen() {
    use glide_core::endpoint::SimSwapFailure;
    use glide_sandbox::Fault;
    for on_failure in [None, Some(SimSwapFailure::Open)] {
        let w = world_with(|builder| match on_failure {
            Some(mode) => builder.sim_swap_on_failure(mode),
            None => builder,
        })
        .await;
        let (_, _, response) = start(&w, "+15555550106", "").await;
        let legacy = cookie_pair(&response, "glide_legacy=").unwrap();
        let code = otp(&w, "+15555550106").await;
        w.sandbox
            .control()
            .add_fault(Fault::status("/device-swap/v1/retrieve-date", 500));
        let (status, body, response) = verify(&w, &code, &legacy).await;
        if on_failure.is_none() {
            assert_eq!(
                (status, body["code"].as_str()),
                (503, Some("SERVICE_UNAVAILABLE")),
                "{body}"
            );
            assert_eq!(body.as_object().map(|o| o.len()), Some(3), "{body}");
            assert!(cookie_pair(&response, "glide_session=").is_none());
        } else {
            assert_eq!(status, 200, "{body}");
            let phone = session_phone(&w, &response).await;
            let device = phone.device_swap.unwrap();
            assert_eq!(
                (device.checked, device.reason.as_deref(), device.risk_level),
                (false, Some("check_failed"), None)
            );
            assert_eq!(
                phone.sim_swap.and_then(|s| s.risk_level),
                Some(glide_core::RiskLevel::Low)
            );
        }
    }
}

#[tokio::test]
async fn sim_swap_risk_mapping_is_configurable_and_number_verify_denial_redirects() {
    use glide_core::legacy::SimSwapRiskMapping;
    use std::time::Duration;
    // Within the default 72 h nothing is high for this app: a 2 h old swap is medium.
    let lenient = SimSwapRiskMapping::new().high_below(Duration::from_secs(3600));
    let w = world_with(|builder| builder.sim_swap_risk_mapping(lenient)).await;
    let (state_cookie, callback) = nv_start(&w, "+15555550101").await;
    let (status, _, response) = call(&w.auth, request("GET", &callback, None, &state_cookie)).await;
    assert_eq!(
        (status, response.header("location")),
        (302, Some("/welcome"))
    );
    let signal = session_phone(&w, &response).await.sim_swap.unwrap();
    assert_eq!(signal.risk_level, Some(glide_core::RiskLevel::Medium));

    // The default mapping: the same number is denied, to the failure return path.
    let w = world().await;
    let (state_cookie, callback) = nv_start(&w, "+15555550101").await;
    let (status, _, response) = call(&w.auth, request("GET", &callback, None, &state_cookie)).await;
    assert_eq!(status, 302);
    assert_eq!(
        response.header("location"),
        Some("/welcome?verification=failed")
    );
    assert!(cookie_pair(&response, "glide_session=").is_none());
}

/// A world on a manual clock that both the engine and its stores read.
async fn world_on_a_manual_clock() -> (World, glide_core::clock::ManualClock) {
    use std::sync::Arc;
    let clock =
        glide_core::clock::ManualClock::at(time::macros::datetime!(2030-01-01 00:00:00 UTC));
    let shared: glide_core::clock::SharedClock = Arc::new(clock.clone());
    let store = glide_core::store::MemoryStore::new().with_clock(shared.clone());
    let w = world_with(move |builder| builder.clock(shared).store(store)).await;
    (w, clock)
}

#[tokio::test]
async fn a_verification_lives_ten_minutes_from_its_start_whatever_happens_to_it() {
    let (w, clock) = world_on_a_manual_clock().await;
    let (status, _, response) = start(&w, "+15555550106", "").await;
    assert_eq!(status, 200);
    let legacy = cookie_pair(&response, "glide_legacy=").unwrap();
    let code = otp(&w, "+15555550106").await;

    // A wrong code late in its life rewrites the record: its end stays where it was.
    clock.advance(time::Duration::seconds(589));
    let (status, _, _) = verify(&w, &wrong(&code), &legacy).await;
    assert_eq!(status, 401);
    clock.advance(time::Duration::seconds(10));
    let (status, body, _) = verify(&w, &code, &legacy).await;
    assert_eq!(status, 200, "alive at 599 s: {body}");

    // Another one, left alone: gone after 600 s.
    let (_, _, response) = start(&w, "+15555550106", "").await;
    let legacy = cookie_pair(&response, "glide_legacy=").unwrap();
    let code = otp(&w, "+15555550106").await;
    clock.advance(time::Duration::seconds(601));
    let (status, body, _) = verify(&w, &code, &legacy).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("SESSION_NOT_FOUND"))
    );
}

#[tokio::test]
async fn a_resend_waits_out_the_cooldown_on_the_engine_clock() {
    let (w, clock) = world_on_a_manual_clock().await;
    let (_, _, response) = start(&w, "+15555550106", "").await;
    let legacy = cookie_pair(&response, "glide_legacy=").unwrap();
    clock.advance(time::Duration::seconds(10));
    let (status, _, response) = start(&w, "+15555550106", &legacy).await;
    assert_eq!(status, 429);
    assert_eq!(response.header("retry-after"), Some("20"));
    clock.advance(time::Duration::seconds(21));
    let (status, body, _) = start(&w, "+15555550106", &legacy).await;
    assert_eq!(status, 200, "after 31 s: {body}");
    // The resent code verifies.
    let code = otp(&w, "+15555550106").await;
    let (status, _, _) = verify(&w, &code, &legacy).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn an_email_code_goes_to_the_address_the_app_has_on_file() {
    let on_file = |phone: &glide_core::PhoneNumber| {
        (phone.as_str() == "+15555550106")
            .then(|| glide_core::legacy::Email::parse("owner-0106@example.com").unwrap())
    };
    let w = world_with(move |builder| builder.email_on_file(on_file)).await;
    let (status, body, response) = start_on(&w, "+15555550106", "EMAIL", "").await;
    assert_eq!(
        (status, body["type"].as_str()),
        (200, Some("EMAIL")),
        "{body}"
    );
    let legacy = cookie_pair(&response, "glide_legacy=").unwrap();
    let code = w
        .sandbox
        .control()
        .legacy_otp("owner-0106@example.com")
        .expect("the code went to the address on file");
    let (status, body, response) = verify(&w, &code, &legacy).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        session_phone(&w, &response).await.strategy.as_str(),
        "email"
    );
}

#[tokio::test]
async fn a_resend_after_the_cooldown_keeps_the_attempt_count() {
    let (w, clock) = world_on_a_manual_clock().await;
    let (_, _, response) = start(&w, "+15555550106", "").await;
    let legacy = cookie_pair(&response, "glide_legacy=").unwrap();
    let code = otp(&w, "+15555550106").await;
    for left in [4, 3, 2] {
        let (_, body, _) = verify(&w, &wrong(&code), &legacy).await;
        assert_eq!(body["attempts_left"], json!(left), "{body}");
    }
    clock.advance(time::Duration::seconds(31));
    let (status, body, response) = start(&w, "+15555550106", &legacy).await;
    assert_eq!(status, 200, "{body}");
    // The same verification (its cookie, if set again, holds the same id), and the count goes on.
    let again = cookie_pair(&response, "glide_legacy=");
    assert!(
        again.is_none() || again.as_deref() == Some(legacy.as_str()),
        "{again:?}"
    );
    let code = otp(&w, "+15555550106").await;
    let (_, body, _) = verify(&w, &wrong(&code), &legacy).await;
    assert_eq!(body["attempts_left"], json!(1), "{body}");
}

#[tokio::test]
async fn the_send_cooldown_is_per_channel_and_held_only_when_a_code_went_out() {
    let on_file = |phone: &glide_core::PhoneNumber| {
        glide_core::legacy::Email::parse(&format!("user-{}@example.com", &phone.as_str()[8..])).ok()
    };
    let w = world_with(move |builder| builder.email_on_file(on_file)).await;
    let (status, _, _) = start(&w, "+15555550106", "").await;
    assert_eq!(status, 200);
    // Another SMS from a fresh browser within 30 s: refused, saying when to ask again.
    let (status, body, response) = start(&w, "+15555550106", "").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (429, Some("RATE_LIMIT_EXCEEDED"))
    );
    let retry: u64 = response.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=30).contains(&retry), "Retry-After {retry}");
    // Switching to e-mail is still a choice.
    let (status, body, _) = start_on(&w, "+15555550106", "EMAIL", "").await;
    assert_eq!(
        (status, body["type"].as_str()),
        (200, Some("EMAIL")),
        "{body}"
    );
    // A start that can send no code is not held back by either: Glide's own answer.
    let (status, body, _) = start_on(&w, "+15555550106", "NO_FALLBACK", "").await;
    assert_ne!(body["code"].as_str(), Some("RATE_LIMIT_EXCEEDED"), "{body}");
    assert!((400..500).contains(&status), "{status} {body}");
    // A carrier link sends no code: its start holds no cooldown.
    for _ in 0..2 {
        let (status, body, _) = start(&w, "+15555550100", "").await;
        assert_eq!(
            (status, body["type"].as_str()),
            (200, Some("MAGIC")),
            "{body}"
        );
    }
}

/// The legacy carrier link of `phone`: start (it must offer the link), open the link as the
/// device does, verify with its token. Returns the verify answer.
async fn carrier_link(w: &World, phone: &str) -> (u16, Value, EndpointResponse) {
    let (status, body, response) = start(w, phone, "").await;
    assert_eq!(
        (status, body["type"].as_str()),
        (200, Some("MAGIC")),
        "{body}"
    );
    let legacy = cookie_pair(&response, "glide_legacy=").unwrap();
    let device = w
        .http
        .get(body["auth_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let token = device.headers()["token"].to_str().unwrap().to_owned();
    call(
        &w.auth,
        request(
            "POST",
            "/api/magical-auth/magic-auth/verify",
            Some(json!({ "token": token })),
            &legacy,
        ),
    )
    .await
}

#[tokio::test]
async fn the_carrier_link_verifies_with_the_device_token() {
    let w = world().await;
    let (status, body, response) = carrier_link(&w, "+15555550100").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        session_phone(&w, &response).await.strategy.as_str(),
        "magic"
    );
}

#[tokio::test]
async fn a_start_is_a_resend_only_for_the_same_number_and_channel() {
    let on_file = |phone: &glide_core::PhoneNumber| {
        glide_core::legacy::Email::parse(&format!("user-{}@example.com", &phone.as_str()[8..])).ok()
    };
    let w = world_with(move |builder| builder.email_on_file(on_file)).await;
    // Another number from a browser holding a verification: its own verification, checked
    // against its own number, never a resend of the first.
    let (_, _, response) = start_on(&w, "+15555550109", "SMS", "").await;
    let first = cookie_pair(&response, "glide_legacy=").unwrap();
    let (status, body, response) = start_on(&w, "+15555550106", "SMS", &first).await;
    assert_eq!(
        (status, body["type"].as_str()),
        (200, Some("SMS")),
        "{body}"
    );
    let second = cookie_pair(&response, "glide_legacy=").unwrap_or_else(|| first.clone());
    let code = otp(&w, "+15555550106").await;
    let (status, body, response) = verify(&w, &code, &second).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        session_phone(&w, &response).await.phone_number.as_str(),
        "+15555550106"
    );
    // SMS, then e-mail from the same browser at once: a new verification on the other
    // channel, not a resend (which the 30 s cooldown would refuse).
    let (status, body, _) = start_on(&w, "+15555550109", "EMAIL", &first).await;
    assert_eq!(
        (status, body["type"].as_str()),
        (200, Some("EMAIL")),
        "{body}"
    );
}

#[tokio::test]
async fn a_carrier_token_is_at_most_4096_printable_bytes() {
    let w = world().await;
    let (_, body, response) = start(&w, "+15555550100", "").await;
    assert_eq!(body["type"], "MAGIC", "{body}");
    let legacy = cookie_pair(&response, "glide_legacy=").unwrap();
    let token_check = |token: String| {
        let auth = w.auth.clone();
        let legacy = legacy.clone();
        async move {
            call(
                &auth,
                request(
                    "POST",
                    "/api/magical-auth/magic-auth/verify",
                    Some(json!({ "token": token })),
                    &legacy,
                ),
            )
            .await
        }
    };
    for bad in ["t".repeat(4097), String::new(), "a b".to_owned()] {
        let (status, body, _) = token_check(bad).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("VALIDATION_ERROR")),
            "{body}"
        );
    }
    // 4096 bytes is well-formed: it reaches the check (and is not the carrier's token).
    let (status, body, _) = token_check("t".repeat(4096)).await;
    assert_ne!(
        body["code"].as_str(),
        Some("VALIDATION_ERROR"),
        "{status} {body}"
    );
}

#[tokio::test]
async fn a_number_verify_state_lives_five_minutes_by_the_engines_clock() {
    // The store keeps time by the system clock: only the engine's clock moves, as with a store
    // whose expiry is late.
    let clock = glide_core::clock::ManualClock::new();
    let shared: glide_core::clock::SharedClock = std::sync::Arc::new(clock.clone());
    let w = world_with(move |b| b.clock(shared)).await;
    let (state_cookie, callback) = nv_start(&w, "+15555550100").await;
    clock.advance(time::Duration::seconds(300));
    let (status, body, _) = call(&w.auth, request("GET", &callback, None, &state_cookie)).await;
    assert_eq!(status, 302, "at five minutes to the second: {body}");
    let (state_cookie, callback) = nv_start(&w, "+15555550100").await;
    clock.advance(time::Duration::seconds(301));
    let (status, body, _) = call(&w.auth, request("GET", &callback, None, &state_cookie)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("INVALID_STATE")),
        "{body}"
    );
}

#[tokio::test]
async fn a_refused_code_exchange_fails_to_the_return_path_an_outage_is_a_server_error() {
    let w = world().await;
    let (state_cookie, callback) = nv_start(&w, "+15555550100").await;
    w.sandbox
        .control()
        .add_fault(glide_sandbox::Fault::status("/oauth2/token", 400));
    let (status, _, response) = call(&w.auth, request("GET", &callback, None, &state_cookie)).await;
    assert_eq!(
        status, 302,
        "Glide refused the code: the user is told, no session"
    );
    assert_eq!(
        response.header("location"),
        Some("/welcome?verification=failed")
    );
    assert!(cookie_pair(&response, "glide_session=").is_none());

    let (state_cookie, callback) = nv_start(&w, "+15555550100").await;
    w.sandbox
        .control()
        .add_fault(glide_sandbox::Fault::status("/oauth2/token", 500).times(10));
    let (status, body, response) =
        call(&w.auth, request("GET", &callback, None, &state_cookie)).await;
    assert!(
        status >= 500,
        "an outage is ours to report, not the user's failure: {status} {body}"
    );
    assert!(cookie_pair(&response, "glide_session=").is_none());
}
