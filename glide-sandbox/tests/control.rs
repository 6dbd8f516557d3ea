//! The control API: faults, the request log, the typed handle, other ways to start.

mod common;

use std::time::{Duration, Instant};

use common::*;
use glide_sandbox::{Fault, FaultKind, Sandbox};
use serde_json::{json, Value};

const PREPARE: &str = "/magic-auth/v2/auth/prepare";

fn get_body() -> Value {
    json!({"use_case": "GetPhoneNumber", "client_info": {"user_agent": DESKTOP_UA}})
}

#[tokio::test]
async fn status_fault_over_http_with_retry_after_and_times() {
    let env = Env::start().await;
    let (status, _) = env
        .post(
            "/sandbox/faults",
            &json!({"path": PREPARE, "kind": "status", "status": 503,
            "retry_after": 1, "times": 2}),
        )
        .await;
    assert_eq!(status, 201);
    for _ in 0..2 {
        let r = env
            .http
            .post(env.url(PREPARE))
            .bearer_auth(&env.token)
            .json(&get_body())
            .send()
            .await
            .expect("send");
        assert_eq!(r.status().as_u16(), 503);
        assert_eq!(r.headers()["retry-after"], "1");
        let body: Value = r.json().await.expect("json");
        assert_eq!(body["code"], "SERVICE_UNAVAILABLE");
        assert_eq!(body["status"], 503);
    }
    let (status, _) = env.prepare(get_body()).await;
    assert_eq!(status, 200, "the fault is used up");

    let (status, _) = env
        .post(
            "/sandbox/faults",
            &json!({"path": PREPARE, "kind": "status", "status": 429, "times": 5}),
        )
        .await;
    assert_eq!(status, 201);
    let (status, body) = env.prepare(get_body()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (429, Some("RATE_LIMIT_EXCEEDED"))
    );
    let r = env
        .http
        .delete(env.url("/sandbox/faults"))
        .send()
        .await
        .expect("delete");
    assert_eq!(r.status().as_u16(), 204);
    let (status, _) = env.prepare(get_body()).await;
    assert_eq!(status, 200, "cleared");
}

#[tokio::test]
async fn fault_spec_validation() {
    let env = Env::start().await;
    for bad in [
        json!({"kind": "status", "status": 500}),
        json!({"path": PREPARE, "kind": "explode"}),
        json!({"path": PREPARE, "kind": "status"}),
        json!({"path": PREPARE, "kind": "delay"}),
    ] {
        let (status, body) = env.post("/sandbox/faults", &bad).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("VALIDATION_ERROR")),
            "{bad}"
        );
    }
}

#[tokio::test]
async fn delay_malformed_and_drop_faults() {
    let env = Env::start().await;
    let control = env.sandbox.control();

    control.add_fault(Fault::delay(PREPARE, Duration::from_millis(250)));
    let t = Instant::now();
    let (status, _) = env.prepare(get_body()).await;
    assert_eq!(status, 200);
    assert!(t.elapsed() >= Duration::from_millis(250));

    control.add_fault(Fault::malformed(PREPARE));
    let r = env
        .http
        .post(env.url(PREPARE))
        .bearer_auth(&env.token)
        .json(&get_body())
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 200);
    let text = r.text().await.expect("text");
    assert!(serde_json::from_str::<Value>(&text).is_err(), "{text}");

    let (status, _) = env
        .post(
            "/sandbox/faults",
            &json!({"path": PREPARE, "kind": "drop", "times": 1}),
        )
        .await;
    assert_eq!(status, 201);
    let outcome = async {
        let r = env
            .http
            .post(env.url(PREPARE))
            .bearer_auth(&env.token)
            .json(&get_body())
            .send()
            .await?;
        r.bytes().await
    }
    .await;
    assert!(
        outcome.is_err(),
        "a dropped connection is an error for the client"
    );
    let (status, _) = env.prepare(get_body()).await;
    assert_eq!(status, 200, "next request is normal");
}

#[tokio::test]
async fn typed_faults_and_clear() {
    let env = Env::start().await;
    let control = env.sandbox.control();
    let fault = Fault::status(PREPARE, 500).with_retry_after(3).times(3);
    assert_eq!(
        fault.kind,
        FaultKind::Status {
            status: 500,
            retry_after: Some(3)
        }
    );
    control.add_fault(fault);
    let (status, body) = env.prepare(get_body()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (500, Some("INTERNAL_SERVER_ERROR"))
    );
    control.clear_faults();
    let (status, _) = env.prepare(get_body()).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn request_log_redacts_secrets() {
    let env = Env::start().await;
    let prepared = env
        .prepare_ok("link", "VerifyPhoneNumber", Some("+15555550100"))
        .await;
    let key = key_of(&prepared);
    let (agg, _) = link_approve(&env, &key).await;
    complete(&env, &key, FE_CODE, &agg, None).await;
    env.verify(
        &prepared["session"],
        &key,
        json!({"fe_code": FE_CODE, "signature": "c2ln"}),
    )
    .await;

    let r = env
        .http
        .get(env.url("/sandbox/requests"))
        .send()
        .await
        .expect("log");
    assert_eq!(r.status().as_u16(), 200);
    let text = r.text().await.expect("text");
    assert!(
        !text.contains(FE_CODE) && !text.contains(&agg),
        "secrets leaked: {text}"
    );
    assert!(!text.contains("sandbox-secret") && !text.contains(&env.token));
    let log: Vec<Value> = serde_json::from_str(&text).expect("json");
    let paths: Vec<&str> = log.iter().filter_map(|e| e["path"].as_str()).collect();
    assert_eq!(paths.first(), Some(&"/oauth2-cc/token"));
    assert_eq!(
        paths.last(),
        Some(&"/magic-auth/v2/auth/verify-phone-number"),
        "newest last"
    );
    let complete_entry = log
        .iter()
        .find(|e| e["path"] == "/magic-auth/v2/auth/complete")
        .expect("complete logged");
    assert_eq!(complete_entry["method"], "POST");
    assert_eq!(complete_entry["body"]["fe_code"], "[REDACTED]");
    assert_eq!(complete_entry["body"]["agg_code"], "[REDACTED]");
    assert_eq!(complete_entry["body"]["session_key"], key);
    let verify = log.last().expect("verify");
    assert_eq!(verify["body"]["credential"], "[REDACTED]");
    assert_eq!(verify["body"]["signature"], "[REDACTED]");

    // Typed twin, then clearing.
    let typed = env.sandbox.control().requests();
    assert_eq!(typed.len(), log.len());
    assert_eq!(typed[0].path, "/oauth2-cc/token");
    let r = env
        .http
        .delete(env.url("/sandbox/requests"))
        .send()
        .await
        .expect("clear");
    assert_eq!(r.status().as_u16(), 204);
    assert!(env.sandbox.control().requests().is_empty());
}

#[test]
fn start_on_thread_serves_without_a_runtime() {
    let sandbox = Sandbox::start_on_thread(fast_config()).expect("start");
    let base = sandbox.base_url();
    assert!(base.starts_with("http://127.0.0.1:"));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let token = runtime.block_on(async {
        let http = reqwest::Client::new();
        token(&http, &base).await
    });
    assert_eq!(token.len(), 64);
    sandbox.shutdown();
}

#[tokio::test]
async fn shutdown_stops_the_server() {
    let sandbox = Sandbox::start(fast_config()).await.expect("start");
    let base = sandbox.base_url();
    sandbox.shutdown();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let result = reqwest::Client::new()
        .get(format!("{base}/sandbox/wallet.js"))
        .send()
        .await;
    assert!(result.is_err());
}

#[tokio::test]
async fn router_can_be_mounted_elsewhere() {
    let (app, control) = glide_sandbox::router(fast_config());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    let base = format!("http://{addr}");
    let http = reqwest::Client::new();
    let token = token(&http, &base).await;
    let body: Value = http
        .post(format!("{base}{PREPARE}"))
        .bearer_auth(&token)
        .json(
            &json!({"use_case": "GetPhoneNumber", "authentication_strategy": "link",
            "fe_hash": fe_hash(FE_CODE)}),
        )
        .send()
        .await
        .expect("prepare")
        .json()
        .await
        .expect("json");
    let key = key_of(&body);
    assert_eq!(
        body["data"]["url"],
        format!("{base}/sandbox/link/{key}"),
        "URL from Host"
    );
    assert_eq!(control.requests().len(), 2);
}
