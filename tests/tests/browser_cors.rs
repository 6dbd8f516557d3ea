//! A single-page app on another origin than its API, in headless Chromium, against both demos:
//! the page (served on its own loopback port) runs a TS43 verification with `fetch(…,
//! {credentials: "include"})` against the demo started with `GLIDE_CORS_ORIGINS` set to the
//! page's origin; the session cookie the API sets is the browser's verified session. A page on
//! an origin that is not configured can neither read an answer nor change anything.
//!
//! Both origins are `http://127.0.0.1:<port>`: different origins of the same site, as
//! `app.example.com` and `api.example.com` are, so the `SameSite=Lax` cookies travel with the
//! credentialed requests. (An API on another *site* needs `SameSite=None; Secure` cookies, i.e.
//! HTTPS: see the README.)

use axum::response::Html;
use axum::routing::get;
use glide_tests::browser::{ChromeDriver, Demo, DemoApp, Session, SessionOptions, ANDROID_UA};
use glide_tests::harness::World;
use serde_json::{json, Value};

const OK_NUMBER: &str = "+15555550100";
const BASE: &str = "/api/magical-auth";

/// Serves a blank page on a free loopback port until the runtime ends; returns its origin.
async fn page_origin() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the page's port");
    let origin = format!(
        "http://{}",
        listener.local_addr().expect("the page's address")
    );
    let app = axum::Router::new().route(
        "/",
        get(|| async { Html("<!doctype html><title>app</title><p id=ready>ready</p>") }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    origin
}

/// `fetch(url, {method, credentials: "include", body})` in the page: `{status, body}` of the
/// answer, or `{error}` when the browser refused it (CORS).
async fn page_fetch(session: &Session, method: &str, url: &str, body: Option<Value>) -> Value {
    session
        .execute(
            "const [method, url, body] = arguments; \
             const init = { method, credentials: 'include' }; \
             if (body !== null) { init.headers = { 'content-type': 'application/json' }; \
               init.body = JSON.stringify(body); } \
             return fetch(url, init) \
               .then(r => r.text().then(t => { let b = null; try { b = JSON.parse(t); } catch (e) {} \
                 return { status: r.status, body: b }; })) \
               .catch(e => ({ error: String(e) }));",
            vec![json!(method), json!(url), body.unwrap_or(Value::Null)],
        )
        .await
}

async fn cross_origin_spa(demo: Demo) {
    let Some(driver) = ChromeDriver::start() else {
        return;
    };
    let app_origin = page_origin().await;
    let stranger_origin = page_origin().await;
    let api = DemoApp::start_with_env(demo, &[("GLIDE_CORS_ORIGINS", &app_origin)]);
    let page = driver
        .new_session(SessionOptions::with_user_agent(ANDROID_UA))
        .await;

    // A page on a stranger origin: the browser refuses to hand it the answer, and the API
    // refuses the state change itself.
    page.goto(&format!("{stranger_origin}/")).await;
    let refused = page_fetch(
        &page,
        "POST",
        &api.url(&format!("{BASE}/prepare")),
        Some(World::prepare_body(ANDROID_UA, Some(OK_NUMBER))),
    )
    .await;
    assert!(refused.get("error").is_some(), "{refused}");
    let direct = reqwest::Client::new()
        .post(api.url(&format!("{BASE}/prepare")))
        .header("origin", &stranger_origin)
        .json(&World::prepare_body(ANDROID_UA, Some(OK_NUMBER)))
        .send()
        .await
        .expect("prepare from a stranger origin");
    assert_eq!(direct.status(), 403);

    // The app's own page: prepare, the wallet's credential, process — all cross-origin.
    page.goto(&format!("{app_origin}/")).await;
    let prepared = page_fetch(
        &page,
        "POST",
        &api.url(&format!("{BASE}/prepare")),
        Some(World::prepare_body(ANDROID_UA, Some(OK_NUMBER))),
    )
    .await;
    assert_eq!(prepared["status"], 200, "{prepared}");
    let session = prepared["body"]["session"].clone();
    let key = session["session_key"].as_str().expect("a session key");
    let wallet: Value = reqwest::Client::new()
        .post(format!("{}/sandbox/ts43/credential", api.sandbox_url()))
        .json(&json!({ "session_key": key, "origin": app_origin }))
        .send()
        .await
        .expect("the sandbox wallet")
        .json()
        .await
        .expect("a credential");
    let processed = page_fetch(
        &page,
        "POST",
        &api.url(&format!("{BASE}/process")),
        Some(
            json!({"session": session, "credential": wallet["credential"],
                    "use_case": "VerifyPhoneNumber"}),
        ),
    )
    .await;
    assert_eq!(processed["status"], 200, "{processed}");
    assert_eq!(processed["body"]["phone_number"], OK_NUMBER, "{processed}");

    // The cookie the API set on that cross-origin answer is this browser's verified session.
    page.goto(&api.url("/me")).await;
    let me = page
        .wait_until(
            "the API's /me",
            "try { return JSON.parse(document.body.innerText); } catch (e) { return null; }",
        )
        .await;
    assert_eq!(me["phone_number"], OK_NUMBER, "{me}");
    assert_eq!(me["strategy"], "ts43", "{me}");
    page.save_screenshot(&format!("{}-cross-origin-me", demo.name()))
        .await;
}

#[tokio::test]
async fn axum_demo_serves_a_page_on_another_origin() {
    cross_origin_spa(Demo::Axum).await;
}

#[tokio::test]
async fn actix_demo_serves_a_page_on_another_origin() {
    cross_origin_spa(Demo::Actix).await;
}
