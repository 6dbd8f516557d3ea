//! Outages of Glide and of the store: opaque errors, no one let in, nothing lost.

use glide_sandbox::Fault;

use crate::harness::{Reply, World, ANDROID_UA, SESSION_COOKIE};
use crate::scenarios::flows::assert_session_cookie;

const PREPARE: &str = "/magic-auth/v2/auth/prepare";
const VERIFY: &str = "/magic-auth/v2/auth/verify-phone-number";

/// Asserts a 5xx body tells nothing about the inside.
fn assert_opaque(w: &World, reply: &Reply, what: &str) {
    let text = reply.text();
    for leak in [
        "sandbox",
        "127.0.0.1",
        "fault",
        "injected",
        "10.9.8.7",
        "secret",
        "Internal fault",
        "oauth2",
        "magic-auth/v2",
    ] {
        assert!(
            !text.contains(leak),
            "{}: 5xx body mentions {leak:?}: {text}",
            w.ctx(what)
        );
    }
    let sandbox_port = w.sandbox.addr().port().to_string();
    assert!(
        !text.contains(&sandbox_port),
        "{}: 5xx body mentions the sandbox's port: {text}",
        w.ctx(what)
    );
}

/// Glide answers 500 to prepare: our 503, opaque (Glide's own message is not passed on).
pub async fn glide_error_on_prepare_is_opaque(w: &World) {
    w.sandbox
        .control()
        .add_fault(Fault::status(PREPARE, 500).times(4));
    // What Glide itself says, asked directly (this uses up one of the faults).
    let glide_says: serde_json::Value = reqwest::Client::new()
        .post(format!("{}{PREPARE}", w.sandbox.base_url()))
        .json(&serde_json::json!({}))
        .send()
        .await
        .expect("the sandbox answers")
        .json()
        .await
        .expect("Glide's error body is JSON");
    let glide_message = glide_says["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        !glide_message.is_empty(),
        "the sandbox's fault has a message: {glide_says}"
    );

    let reply = w
        .prepare_raw(
            &w.browser,
            &World::prepare_body(ANDROID_UA, Some("+15555550100")),
        )
        .await;
    let body = reply.assert_error(
        503,
        "SERVICE_UNAVAILABLE",
        &w.ctx("prepare while Glide fails"),
    );
    assert_opaque(w, &reply, "prepare while Glide fails");
    assert_ne!(
        body["message"].as_str(),
        Some(glide_message.as_str()),
        "{}",
        w.ctx("Glide's message leaked")
    );
    assert!(
        !reply.text().contains(&glide_message),
        "{}: {}",
        w.ctx("Glide's message leaked"),
        reply.text()
    );
    assert!(reply.set_cookies().is_empty(), "{}", w.ctx("no cookies"));
    w.sandbox.control().clear_faults();
    w.prepare(&w.browser, ANDROID_UA, Some("+15555550100"))
        .await;
}

/// The connection to Glide drops: 503.
pub async fn glide_connection_drop_is_unavailable(w: &World) {
    w.sandbox
        .control()
        .add_fault(Fault::drop_connection(PREPARE).times(3));
    let reply = w
        .prepare_raw(
            &w.browser,
            &World::prepare_body(ANDROID_UA, Some("+15555550100")),
        )
        .await;
    reply.assert_error(
        503,
        "SERVICE_UNAVAILABLE",
        &w.ctx("prepare while the connection drops"),
    );
    assert_opaque(w, &reply, "prepare while the connection drops");
}

/// Glide answers 200 with a non-JSON body: 502 BAD_GATEWAY.
pub async fn glide_malformed_answer_is_bad_gateway(w: &World) {
    w.sandbox
        .control()
        .add_fault(Fault::malformed(PREPARE).times(3));
    let reply = w
        .prepare_raw(
            &w.browser,
            &World::prepare_body(ANDROID_UA, Some("+15555550100")),
        )
        .await;
    reply.assert_error(
        502,
        "BAD_GATEWAY",
        &w.ctx("prepare with a malformed answer"),
    );
    assert_opaque(w, &reply, "prepare with a malformed answer");
}

/// Glide fails during process: 503 without a session, and the user can retry the same flow.
pub async fn glide_error_on_process_loses_nothing(w: &World) {
    let b = &w.browser;
    let prepared = w.prepare(b, ANDROID_UA, Some("+15555550100")).await;
    let credential = w.ts43_credential(&prepared.session_key, None);
    w.sandbox
        .control()
        .add_fault(Fault::status(VERIFY, 500).times(3));
    let failed = w.process(b, &prepared, &credential).await;
    failed.assert_error(
        503,
        "SERVICE_UNAVAILABLE",
        &w.ctx("process while Glide fails"),
    );
    assert_opaque(w, &failed, "process while Glide fails");
    assert!(
        failed.set_cookie(SESSION_COOKIE).is_none(),
        "{}",
        w.ctx("no session")
    );
    w.me(b)
        .await
        .assert_error(401, "NOT_VERIFIED", &w.ctx("/me after a failed process"));

    w.sandbox.control().clear_faults();
    let retried = w.process(b, &prepared, &credential).await;
    retried.assert_status(200, &w.ctx("process retried after the outage"));
    assert_session_cookie(w, &retried);
}

/// The store is down: prepare, process and the extractor answer an opaque 503; no session is
/// issued; after the outage, the flow and the session work again.
pub async fn store_outage_is_opaque_and_lets_no_one_in(w: &World) {
    let b = &w.browser;
    w.store.set_failing(true);
    let reply = w
        .prepare_raw(b, &World::prepare_body(ANDROID_UA, Some("+15555550100")))
        .await;
    reply.assert_error(
        503,
        "SERVICE_UNAVAILABLE",
        &w.ctx("prepare while the store is down"),
    );
    assert_opaque(w, &reply, "prepare while the store is down");
    w.store.set_failing(false);

    let prepared = w.prepare(b, ANDROID_UA, Some("+15555550100")).await;
    let credential = w.ts43_credential(&prepared.session_key, None);
    w.store.set_failing(true);
    let reply = w.process(b, &prepared, &credential).await;
    reply.assert_error(
        503,
        "SERVICE_UNAVAILABLE",
        &w.ctx("process while the store is down"),
    );
    assert_opaque(w, &reply, "process while the store is down");
    assert!(
        reply.set_cookie(SESSION_COOKIE).is_none(),
        "{}",
        w.ctx("no session while the store is down")
    );
    w.store.set_failing(false);

    let verified = w.process(b, &prepared, &credential).await;
    verified.assert_status(200, &w.ctx("process after the outage"));
    assert_session_cookie(w, &verified);

    w.store.set_failing(true);
    let me = w.me(b).await;
    me.assert_error(
        503,
        "SERVICE_UNAVAILABLE",
        &w.ctx("/me while the store is down"),
    );
    assert_opaque(w, &me, "/me while the store is down");
    let logout = w
        .browser
        .call("POST", &World::route("logout"))
        .json(&serde_json::json!({}))
        .send()
        .await;
    assert_eq!(
        logout.status,
        503,
        "{}: {}",
        w.ctx("logout while the store is down"),
        logout.text()
    );
    assert_opaque(w, &logout, "logout while the store is down");
    w.store.set_failing(false);
    w.me(b)
        .await
        .assert_status(200, &w.ctx("/me after the outage"));
}
