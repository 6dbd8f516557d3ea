//! The demo's fallback flows over HTTP, against the real `axum-demo` and `actix-demo` binaries
//! and their embedded sandbox: the SMS and e-mail code paths after Magical Auth answers
//! `CARRIER_NOT_ELIGIBLE`, and Number Verify through its redirect chain.

mod common;

use common::Demo;
use reqwest::header::LOCATION;
use reqwest::redirect::Policy;
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

const BASE: &str = "/api/magical-auth";
/// The carrier cannot verify it silently: prepare answers 422 `CARRIER_NOT_ELIGIBLE`.
const NOT_ELIGIBLE: &str = "+15555550106";
/// Verifies everywhere.
const OK_NUMBER: &str = "+15555550100";
/// The device's number is another one (`+15555550199`): Number Verify says no.
const OTHER_DEVICE: &str = "+15555550105";

/// A browser: its own cookie jar, redirects not followed (the tests follow them by hand).
fn browser() -> Client {
    Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .build()
        .expect("client")
}

async fn post(client: &Client, url: &str, body: &Value) -> (StatusCode, Value, Option<String>) {
    let response = client
        .post(url)
        .json(body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST {url}: {e}"));
    let status = response.status();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body, retry_after)
}

async fn me(client: &Client, app: &str) -> (StatusCode, Value) {
    let response = client.get(format!("{app}/me")).send().await.expect("/me");
    let status = response.status();
    // A verified number is never cached.
    assert_eq!(
        response
            .headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store"),
        "/me {status}"
    );
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The code the sandbox "sent" (`POST /sandbox/legacy/otp`), as the page's sandbox inbox reads it.
async fn sandbox_otp(sandbox: &str, query: &Value) -> String {
    let (status, body, _) = post(
        &Client::new(),
        &format!("{sandbox}/sandbox/legacy/otp"),
        query,
    )
    .await;
    assert_eq!(status, 200, "sandbox otp: {body}");
    let code = body["code"].as_str().expect("a code").to_owned();
    assert!(
        code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()),
        "{code}"
    );
    code
}

/// A code that is not `code` (same length, one digit changed).
fn wrong(code: &str) -> String {
    let first = if code.starts_with('0') { '1' } else { '0' };
    format!("{first}{}", &code[1..])
}

/// `+15555550106` on the page: prepare fails, the page offers the SMS code; a wrong code costs an
/// attempt, a resend inside the cooldown is refused with Retry-After, the right code verifies.
async fn sms_fallback(demo: &Demo) {
    let (app, sandbox) = (&demo.app, &demo.sandbox);
    let page = browser();
    let (status, body, _) = post(
        &page,
        &format!("{app}{BASE}/prepare"),
        &json!({
            "use_case": "VerifyPhoneNumber",
            "phone_number": NOT_ELIGIBLE,
            "client_info": { "user_agent": "Mozilla/5.0 (Linux; Android 14; Pixel 8)", "platform": "test" },
        }),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["code"], "CARRIER_NOT_ELIGIBLE", "{body}");

    let start = format!("{app}{BASE}/magic-auth/start");
    let (status, body, _) = post(
        &page,
        &start,
        &json!({ "phone_number": NOT_ELIGIBLE, "fallback_channel": "SMS" }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["type"], "SMS", "{body}");
    let code = sandbox_otp(sandbox, &json!({ "phone_number": NOT_ELIGIBLE })).await;

    // "Resend" right away: the cooldown answers 429 with Retry-After (the page counts it down).
    let (status, body, retry_after) = post(
        &page,
        &start,
        &json!({ "phone_number": NOT_ELIGIBLE, "fallback_channel": "SMS" }),
    )
    .await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["code"], "RATE_LIMIT_EXCEEDED", "{body}");
    let wait: u64 = retry_after.expect("Retry-After").parse().expect("seconds");
    assert!((1..=30).contains(&wait), "{wait}");

    let verify = format!("{app}{BASE}/magic-auth/verify");
    let (status, body, _) = post(&page, &verify, &json!({ "code": wrong(&code) })).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["code"], "INVALID_CODE", "{body}");
    assert_eq!(body["attempts_left"], 4, "{body}");
    assert_eq!(me(&page, app).await.0, 401);

    // Another browser has no verification to answer for.
    let (status, body, _) = post(&browser(), &verify, &json!({ "code": code })).await;
    assert!(status.is_client_error() && status != 401, "{status} {body}");

    let (status, body, _) = post(&page, &verify, &json!({ "code": code })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["strategy"], "sms", "{body}");
    let (status, me_body) = me(&page, app).await;
    assert_eq!(status, 200, "{me_body}");
    assert_eq!(me_body["phone_number"], NOT_ELIGIBLE, "{me_body}");
    assert_eq!(me_body["strategy"], "sms", "{me_body}");

    // Single use: the same code does not verify again.
    let (status, body, _) = post(&page, &verify, &json!({ "code": code })).await;
    assert!(status.is_client_error(), "{status} {body}");
}

/// "Email me a code": the code goes to the e-mail address; the session's strategy is `email`.
async fn email_fallback(demo: &Demo) {
    let (app, sandbox) = (&demo.app, &demo.sandbox);
    let page = browser();
    let email = "user-0106@example.com";
    let (status, body, _) = post(
        &page,
        &format!("{app}{BASE}/magic-auth/start"),
        &json!({ "phone_number": NOT_ELIGIBLE, "fallback_channel": "EMAIL" }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["type"], "EMAIL", "{body}");
    let code = sandbox_otp(sandbox, &json!({ "email": email })).await;
    let (status, body, _) = post(
        &page,
        &format!("{app}{BASE}/magic-auth/verify"),
        &json!({ "code": code }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, me_body) = me(&page, app).await;
    assert_eq!(status, 200, "{me_body}");
    assert_eq!(me_body["strategy"], "email", "{me_body}");
    assert_eq!(me_body["phone_number"], NOT_ELIGIBLE, "{me_body}");
}

/// The page's "Number Verify (operator check)" button: start → operator → the demo's callback →
/// the page, each 302 followed by hand with the cookie jar. Returns where the chain ended.
async fn number_verify(demo: &Demo, page: &Client, phone: &str) -> String {
    let app = &demo.app;
    let start = reqwest::Url::parse_with_params(
        &format!("{app}{BASE}/number-verify/start"),
        &[("phone_number", phone)],
    )
    .expect("url");
    let response = page.get(start).send().await.expect("start");
    assert_eq!(response.status(), 302);
    let operator = location(&response);
    assert!(
        operator.starts_with(&format!("{}/oauth2/auth?", demo.sandbox)),
        "{operator}"
    );
    assert!(
        response
            .headers()
            .get_all("set-cookie")
            .iter()
            .any(|c| c.to_str().is_ok_and(|c| c.contains("HttpOnly"))),
        "the state cookie"
    );

    let response = page.get(&operator).send().await.expect("operator");
    assert_eq!(response.status(), 302);
    let callback = location(&response);
    assert!(
        callback.starts_with(&format!("{app}{BASE}/number-verify/callback?")),
        "the operator sends the browser back to the demo's callback: {callback}"
    );

    let response = page.get(&callback).send().await.expect("callback");
    assert_eq!(response.status(), 302);
    let back = location(&response);

    // The state is single use: replaying the callback is refused.
    let replay = page.get(&callback).send().await.expect("replay");
    assert_eq!(replay.status(), 403);

    // The page the browser lands on.
    let target = if back.starts_with('/') {
        format!("{app}{back}")
    } else {
        back.clone()
    };
    let landing = page.get(&target).send().await.expect("landing page");
    assert_eq!(landing.status(), 200);
    assert!(landing
        .text()
        .await
        .expect("html")
        .contains("id=\"btn-number-verify\""));
    back
}

fn location(response: &reqwest::Response) -> String {
    response.headers()[LOCATION]
        .to_str()
        .expect("ascii location")
        .to_owned()
}

async fn number_verify_flows(demo: &Demo) {
    let page = browser();
    let back = number_verify(demo, &page, OK_NUMBER).await;
    assert_eq!(back, "/");
    let (status, me_body) = me(&page, &demo.app).await;
    assert_eq!(status, 200, "{me_body}");
    assert_eq!(me_body["strategy"], "number_verify", "{me_body}");
    assert_eq!(me_body["phone_number"], OK_NUMBER, "{me_body}");

    // Not this device's number: back to the page with ?verification=failed, no session.
    let other = browser();
    let back = number_verify(demo, &other, OTHER_DEVICE).await;
    assert_eq!(back, "/?verification=failed");
    assert_eq!(me(&other, &demo.app).await.0, 401);
}

async fn all_flows(binary: &str) {
    let demo = Demo::start(binary);
    sms_fallback(&demo).await;
    email_fallback(&demo).await;
    number_verify_flows(&demo).await;
}

#[tokio::test]
async fn axum_demo_fallbacks() {
    all_flows(env!("CARGO_BIN_EXE_axum-demo")).await;
}

#[tokio::test]
async fn actix_demo_fallbacks() {
    all_flows(env!("CARGO_BIN_EXE_actix-demo")).await;
}
