//! A flow survives its instance: two real demo processes of one app (one Glide, one Redis), a
//! desktop flow waiting on instance A, A killed with `SIGKILL` (as `kill -9`) while it holds the
//! flow; the browser's retries reach instance B, which takes the flow over when A's lease ends
//! (40 s, the default) and finishes it when the phone approves. Nothing is lost and no 5xx is
//! answered on the way.

use std::time::{Duration, Instant};

use glide_sandbox::{Sandbox, SandboxConfig};
use glide_tests::browser::{Demo, DemoApp};
use glide_tests::redis_server::RedisServer;
use reqwest::Client;
use serde_json::{json, Value};

const BASE: &str = "/api/magical-auth";
const DESKTOP_UA: &str =
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36";
const NUMBER: &str = "+15555550100";

/// A POST from the browser to `app` (its own origin), with the browser's cookies.
async fn post(browser: &Client, app: &str, route: &str, body: &Value) -> (u16, Value) {
    let response = browser
        .post(format!("{app}{BASE}/{route}"))
        .header("origin", app)
        .header("user-agent", DESKTOP_UA)
        .json(body)
        .timeout(Duration::from_secs(90))
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST {app}{BASE}/{route}: {e}"));
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn a_flow_outlives_its_instance(demo: Demo) {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    // Glide's desktop long poll lasts 2 s here, so that A's last one is over before B's.
    let sandbox = Sandbox::start(
        SandboxConfig::default()
            .with_port(0)
            .with_desktop_wait(Duration::from_secs(2)),
    )
    .await
    .expect("sandbox starts");
    let glide = sandbox.base_url().to_string();
    let redis_url = redis.url();
    let env = [("GLIDE_REDIS_URL", redis_url.as_str())];
    let mut a = DemoApp::start_against(demo, glide.trim_end_matches('/'), &env);
    let b = DemoApp::start_against(demo, glide.trim_end_matches('/'), &env);
    // Cookies are per host, not per port: both instances see the browser's cookies, as behind
    // one load balancer.
    let browser = Client::builder()
        .cookie_store(true)
        .build()
        .expect("a browser");

    let (status, prepared) = post(
        &browser,
        a.base_url(),
        "prepare",
        &json!({"use_case": "VerifyPhoneNumber", "phone_number": NUMBER,
                "client_info": {"user_agent": DESKTOP_UA}}),
    )
    .await;
    assert_eq!(status, 200, "{prepared}");
    assert_eq!(prepared["authentication_strategy"], "desktop", "{prepared}");
    let key = prepared["session"]["session_key"]
        .as_str()
        .expect("a session key")
        .to_owned();
    let process = json!({"session": {"session_key": key}, "credential": key});

    // A takes the flow and waits on Glide for the phone; then it is killed.
    let waiting = {
        let (browser, app, process) = (browser.clone(), a.base_url().to_owned(), process.clone());
        tokio::spawn(async move { post(&browser, &app, "process", &process).await })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    a.kill();
    let _ = waiting.await;
    tokio::time::sleep(Duration::from_secs(3)).await;

    // The browser retries on B until the flow is finished; the phone approves about when A's
    // lease (40 s from its start) ends and B takes the flow over.
    let started = Instant::now();
    let approver = {
        let control = sandbox.control();
        let key = key.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(37)).await;
            control.desktop_approve(&key)
        })
    };
    let mut answers = Vec::new();
    let finished = loop {
        let (status, body) = post(&browser, b.base_url(), "process", &process).await;
        assert!(status < 500, "no 5xx on the way: {status} {body}");
        answers.push(status);
        if status == 200 {
            break body;
        }
        assert!(
            started.elapsed() < Duration::from_secs(80),
            "B never finished the flow: {answers:?} {body}"
        );
    };
    approver
        .await
        .expect("approver")
        .expect("the phone approves");
    assert_eq!(finished["phone_number"], NUMBER, "{finished}");
    // The session works on B (and would on any instance: it is in Redis).
    let me = browser
        .get(format!("{}/me", b.base_url()))
        .send()
        .await
        .expect("GET /me");
    assert_eq!(me.status(), 200);
    let me: Value = me.json().await.expect("json");
    assert_eq!(me["phone_number"], NUMBER);
    assert_eq!(me["strategy"], "desktop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axum_demo_a_flow_outlives_its_instance() {
    a_flow_outlives_its_instance(Demo::Axum).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actix_demo_a_flow_outlives_its_instance() {
    a_flow_outlives_its_instance(Demo::Actix).await;
}
