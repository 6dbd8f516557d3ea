//! `POST /transfer`, the demos' protected action behind a step-up guard: without a session 401
//! `NOT_VERIFIED`; verified by an SMS code (a strategy the action does not trust) 401
//! `STEP_UP_REQUIRED` saying what would do; freshly verified by the carrier (TS43) 200. And
//! `GET /metrics` counting both verifications, their risk decisions and the calls to Glide.

mod common;

use common::Demo;
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

const BASE: &str = "/api/magical-auth";
const ANDROID: &str = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36";

fn browser() -> Client {
    Client::builder()
        .cookie_store(true)
        .build()
        .expect("client")
}

async fn post(client: &Client, app: &str, url: &str, body: &Value) -> (StatusCode, Value) {
    let response = client
        .post(url)
        .header("origin", app)
        .json(body)
        .send()
        .await
        .expect("an answer");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn transfer(client: &Client, app: &str) -> (StatusCode, Value) {
    post(
        client,
        app,
        &format!("{app}/transfer"),
        &json!({ "amount": 10 }),
    )
    .await
}

async fn check(binary: &str) {
    let demo = Demo::start(binary);
    let (app, sandbox) = (demo.app.as_str(), demo.sandbox.as_str());

    let page = browser();
    let (status, body) = transfer(&page, app).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("NOT_VERIFIED")),
        "{body}"
    );

    // Verified by an SMS code: not enough for a transfer.
    let (status, body) = post(
        &page,
        app,
        &format!("{app}{BASE}/magic-auth/start"),
        &json!({ "phone_number": "+15555550106" }),
    )
    .await;
    assert_eq!(
        (status, body["type"].as_str()),
        (StatusCode::OK, Some("SMS")),
        "{body}"
    );
    let (_, otp) = post(
        &page,
        app,
        &format!("{sandbox}/sandbox/legacy/otp"),
        &json!({ "phone_number": "+15555550106" }),
    )
    .await;
    let code = otp["code"]
        .as_str()
        .expect("the code the sandbox sent")
        .to_owned();
    let (status, body) = post(
        &page,
        app,
        &format!("{app}{BASE}/magic-auth/verify"),
        &json!({ "code": code }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = transfer(&page, app).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("STEP_UP_REQUIRED")),
        "{body}"
    );
    assert_eq!(body["status"], 401);
    assert_eq!(body["max_age_seconds"], 300);
    assert_eq!(
        body["strategies"],
        json!(["ts43", "link", "desktop", "magic"])
    );

    // A fresh carrier verification (TS43) in the same browser: the transfer goes through.
    let (status, prepared) = post(
        &page,
        app,
        &format!("{app}{BASE}/prepare"),
        &json!({ "use_case": "VerifyPhoneNumber", "phone_number": "+15555550100", "client_info": { "user_agent": ANDROID } }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{prepared}");
    let key = prepared["session"]["session_key"]
        .as_str()
        .expect("a session key")
        .to_owned();
    let (_, wallet) = post(
        &page,
        app,
        &format!("{sandbox}/sandbox/ts43/credential"),
        &json!({ "session_key": key, "origin": app }),
    )
    .await;
    let (status, body) = post(
        &page,
        app,
        &format!("{app}{BASE}/process"),
        &json!({ "session": prepared["session"], "credential": wallet["credential"], "use_case": "VerifyPhoneNumber" }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = transfer(&page, app).await;
    assert_eq!(
        (status, body["ok"].as_bool()),
        (StatusCode::OK, Some(true)),
        "{body}"
    );

    // The counters moved: two verifications, their risk decisions, the calls to Glide.
    let metrics = page
        .get(format!("{app}/metrics"))
        .send()
        .await
        .expect("GET /metrics")
        .text()
        .await
        .expect("metrics text");
    let value = |name: &str, labels: &[&str]| -> Option<f64> {
        metrics
            .lines()
            .filter(|l| l.starts_with(&format!("{name}{{")))
            .find(|l| labels.iter().all(|label| l.contains(label)))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    };
    for strategy in ["sms", "ts43"] {
        assert_eq!(
            value(
                "glide_verifications_total",
                &[&format!("strategy=\"{strategy}\""), "outcome=\"verified\""]
            ),
            Some(1.0),
            "{metrics}"
        );
    }
    assert_eq!(
        value(
            "glide_risk_decisions_total",
            &["decision=\"allow\"", "mode=\"enforced\"", "rule=\"none\""]
        ),
        Some(2.0),
        "{metrics}"
    );
    assert!(
        value(
            "glide_api_request_duration_seconds_count",
            &[
                "endpoint=\"/magic-auth/v2/auth/verify-phone-number\"",
                "outcome=\"2xx\""
            ]
        )
        .is_some_and(|n| n >= 1.0),
        "{metrics}"
    );
    drop(demo);
}

#[tokio::test]
async fn axum_demo_transfer_asks_for_a_step_up() {
    check(env!("CARGO_BIN_EXE_axum-demo")).await;
}

#[tokio::test]
async fn actix_demo_transfer_asks_for_a_step_up() {
    check(env!("CARGO_BIN_EXE_actix-demo")).await;
}
