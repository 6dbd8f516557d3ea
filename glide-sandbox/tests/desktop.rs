//! Desktop: QR data (real PNG, aliases), the phone page, status progression, blocking verify
//! woken by the phone, 202 waiting, deny, concurrency.

mod common;

use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use common::*;
use serde_json::json;

/// The public status body: 200, or 422 (with the same body) once the flow failed, as Glide
/// answers and its web SDK reads it.
async fn status_body(env: &Env, key: &str) -> serde_json::Value {
    let (status, body) = env.get(&format!("/public/status/{key}")).await;
    let expected = if body["status"] == "failed" { 422 } else { 200 };
    assert_eq!(status, expected, "{body}");
    body
}

#[tokio::test]
async fn prepare_returns_qr_data_with_aliases() {
    let env = Env::start().await;
    let prepared = env
        .prepare_ok("desktop", "VerifyPhoneNumber", Some("+15555550100"))
        .await;
    let key = key_of(&prepared);
    assert_eq!(prepared["authentication_strategy"], "desktop");
    assert_eq!(prepared["data"]["protocol"], "qr-auth-v1");
    let d = &prepared["data"]["data"];
    let url = format!("{}/sandbox/qr/{key}", env.base);
    assert_eq!(d["url"], url);
    assert_eq!(d["ios_url"], url);
    assert_eq!(d["android_url"], url);
    assert_eq!(d["session_id"], key);
    assert_eq!(d["status_url"], format!("{}/public/status/{key}", env.base));
    for field in [
        "qr_image",
        "ios_qr_image",
        "android_qr_image",
        "qr_code_image",
    ] {
        let image = d[field].as_str().expect(field);
        let b64 = image
            .strip_prefix("data:image/png;base64,")
            .expect("data url");
        let png = STANDARD.decode(b64).expect("base64");
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{field}");
        assert!(png.len() > 200);
    }
    assert_eq!(d["challenge"], prepared["challenge"]);
    assert_eq!(prepared["challenge"]["session_id"], key);
    assert!(prepared["challenge"]["pattern"].is_string());
    assert!(prepared["challenge"]["color"].is_string());
}

#[tokio::test]
async fn phone_page_scans_then_approves() {
    let env = Env::start().await;
    let prepared = env
        .prepare_ok("desktop", "VerifyPhoneNumber", Some("+15555550100"))
        .await;
    let key = key_of(&prepared);
    assert_eq!(status_body(&env, &key).await["status"], "pending");

    let page = env
        .http
        .get(env.url(&format!("/sandbox/qr/{key}")))
        .header("User-Agent", IPHONE_UA)
        .send()
        .await
        .expect("page");
    assert_eq!(page.status().as_u16(), 200);
    let html = page.text().await.expect("html");
    assert!(html.contains("Approve") && html.contains("Deny"));
    let s = status_body(&env, &key).await;
    assert_eq!(s["status"], "scanned");
    assert_eq!(s["device_info"]["os"], "iOS");
    assert!(s["scanned_at"].is_string() && s["grace_expires_at"].is_string());

    let (status, body) = env.verify(&prepared["session"], &key, json!({})).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["status"], "waiting");
    assert_eq!(body["retry"], true);
    assert_eq!(body["session_key"], key);
    assert_eq!(body["session_status"], "scanned");
    assert!(body["session_expires_in_seconds"]
        .as_u64()
        .is_some_and(|s| s > 200));

    let r = env
        .http
        .get(env.url(&format!("/sandbox/qr/{key}?decision=approve")))
        .send()
        .await
        .expect("approve");
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(status_body(&env, &key).await["status"], "completed");
    let (status, body) = env.verify(&prepared["session"], &key, json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["phone_number"], "+15555550100");
    assert_eq!(body["verified"], true);
    let (status, _) = env.verify(&prepared["session"], &key, json!({})).await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocked_verify_wakes_within_50ms_of_approval() {
    let env = Env::with(fast_config().with_desktop_wait(Duration::from_secs(10))).await;
    let prepared = env.prepare_ok("desktop", "GetPhoneNumber", None).await;
    let key = key_of(&prepared);
    let control = env.sandbox.control();
    let approver = {
        let key = key.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            control.desktop_approve(&key).expect("approve");
            Instant::now()
        })
    };
    let (status, body) = env.get_number(&prepared["session"], &key, json!({})).await;
    let answered = Instant::now();
    let approved = approver.await.expect("approver");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["phone_number"], "+15555550100");
    let lag = answered.saturating_duration_since(approved);
    assert!(
        lag < Duration::from_millis(50),
        "answered {lag:?} after the approval"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_approve_wakes_blocked_verify_and_deny_fails_it() {
    let env = Env::with(fast_config().with_desktop_wait(Duration::from_secs(10))).await;
    let prepared = env
        .prepare_ok("desktop", "VerifyPhoneNumber", Some("+15555550100"))
        .await;
    let key = key_of(&prepared);
    let deny = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        env.post(&format!("/sandbox/desktop/{key}/deny"), &json!({}))
            .await
    };
    let (verify, denied) = tokio::join!(env.verify(&prepared["session"], &key, json!({})), deny);
    assert_eq!(denied.0, 200);
    assert_eq!(denied.1["status"], "failed");
    assert_eq!(verify.0, 422, "{}", verify.1);
    assert_eq!(verify.1["code"], "INVALID_VERIFICATION");
    let message = verify.1["message"].as_str().expect("message");
    assert!(message.contains("denied") && !message.contains("Sandbox Mobile"));
    assert_eq!(
        status_body(&env, &key).await["extra"]["reason"],
        "user_denied"
    );
}

#[tokio::test]
async fn control_api_scan_approve_and_refusals() {
    let env = Env::start().await;
    let prepared = env
        .prepare_ok("desktop", "VerifyPhoneNumber", Some("+15555550100"))
        .await;
    let key = key_of(&prepared);
    let (status, body) = env
        .post(&format!("/sandbox/desktop/{key}/scan"), &json!({}))
        .await;
    assert_eq!((status, body["status"].as_str()), (200, Some("scanned")));
    let (status, _) = env
        .post(&format!("/sandbox/desktop/{key}/scan"), &json!({}))
        .await;
    assert_eq!(status, 200, "scanning twice is harmless");
    let (status, body) = env
        .post(&format!("/sandbox/desktop/{key}/approve"), &json!({}))
        .await;
    assert_eq!((status, body["status"].as_str()), (200, Some("completed")));
    let (status, _) = env
        .post(&format!("/sandbox/desktop/{key}/deny"), &json!({}))
        .await;
    assert_eq!(status, 409);
    let (status, _) = env
        .post(&format!("/sandbox/desktop/{key}/dance"), &json!({}))
        .await;
    assert_eq!(status, 404);
    let (status, _) = env
        .post("/sandbox/desktop/ffffffffffffffff/approve", &json!({}))
        .await;
    assert_eq!(status, 404);
    let ts43 = key_of(&env.prepare_ok("ts43", "GetPhoneNumber", None).await);
    let (status, _) = env
        .post(&format!("/sandbox/desktop/{ts43}/approve"), &json!({}))
        .await;
    assert_eq!(status, 409);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_desktop_verifies_exactly_one_wins() {
    let env = Env::with(fast_config().with_desktop_wait(Duration::from_secs(5))).await;
    let prepared = env
        .prepare_ok("desktop", "VerifyPhoneNumber", Some("+15555550100"))
        .await;
    let key = key_of(&prepared);
    let approve = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        env.sandbox
            .control()
            .desktop_approve(&key)
            .expect("approve");
    };
    let verifies = futures_util::future::join_all(
        (0..4).map(|_| env.verify(&prepared["session"], &key, json!({}))),
    );
    let (results, ()) = tokio::join!(verifies, approve);
    assert_eq!(
        results.iter().filter(|(s, _)| *s == 200).count(),
        1,
        "{results:?}"
    );
    assert!(
        results.iter().all(|(s, _)| *s == 200 || *s == 404),
        "{results:?}"
    );
}
