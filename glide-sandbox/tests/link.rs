//! Link: fe_hash, the carrier page, complete (fe_code, agg_code single use, browser family),
//! verify with fe_code, native signatures, concurrency.

mod common;

use common::*;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use serde_json::json;

async fn status_of(env: &Env, key: &str) -> String {
    let (_, body) = env.get(&format!("/public/status/{key}")).await;
    body["status"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn link_round_trip() {
    let env = Env::start().await;
    let prepared = env
        .prepare_ok("link", "VerifyPhoneNumber", Some("+15555550100"))
        .await;
    let key = key_of(&prepared);
    assert_eq!(
        prepared["data"]["url"],
        format!("{}/sandbox/link/{key}", env.base)
    );
    assert_eq!(
        prepared["data"]["status_url"],
        format!("{}/public/status/{key}", env.base)
    );
    assert!(prepared.get("fe_code").is_none() && prepared["data"].get("fe_code").is_none());

    // The carrier page renders Approve / Deny.
    let page = env
        .http
        .get(env.url(&format!("/sandbox/link/{key}")))
        .send()
        .await
        .expect("page");
    assert_eq!(page.status().as_u16(), 200);
    let html = page.text().await.expect("html");
    assert!(html.contains("Approve") && html.contains("Deny"));

    // Verify before the binding is completed: 403.
    let (status, body) = env
        .verify(&prepared["session"], &key, json!({"fe_code": FE_CODE}))
        .await;
    assert_eq!(status, 403, "{body}");

    let (agg, session_key) = link_approve(&env, &key).await;
    assert_eq!(session_key, key);
    assert_eq!(agg.len(), 64);
    assert_eq!(status_of(&env, &key).await, "pending_completion");

    let (status, body) = complete(&env, &key, FE_CODE, &agg, Some(IPHONE_UA)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "completed");
    assert_eq!(status_of(&env, &key).await, "completed");

    // Verify without fe_code, then with a wrong one: 403; right one: 200.
    let (status, _) = env.verify(&prepared["session"], &key, json!({})).await;
    assert_eq!(status, 403);
    let wrong = "f".repeat(64);
    let (status, body) = env
        .verify(&prepared["session"], &key, json!({"fe_code": wrong}))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("DEVICE_BINDING_FAILED"))
    );
    let (status, body) = env
        .verify(
            &prepared["session"],
            &key,
            json!({"fe_code": FE_CODE.to_uppercase()}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["phone_number"], "+15555550100");
    assert_eq!(body["verified"], true);
    // Consumed.
    let (status, _) = env
        .verify(&prepared["session"], &key, json!({"fe_code": FE_CODE}))
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn complete_checks_codes_and_browser() {
    let env = Env::start().await;
    let prepared = env.prepare_ok("link", "GetPhoneNumber", None).await;
    let key = key_of(&prepared);

    // Before approval there is no agg_code.
    let (status, _) = complete(&env, &key, FE_CODE, &"a".repeat(64), None).await;
    assert_eq!(status, 403);

    let (agg, _) = link_approve(&env, &key).await;
    // Malformed codes: 400.
    let (status, body) = complete(&env, &key, "short", &agg, None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("VALIDATION_ERROR"))
    );
    assert!(body["details"]["fields"]["fe_code"].is_string());
    // Wrong agg_code / wrong fe_code: 403.
    let (status, _) = complete(&env, &key, FE_CODE, &"b".repeat(64), None).await;
    assert_eq!(status, 403);
    let (status, body) = complete(&env, &key, &"c".repeat(64), &agg, None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("DEVICE_BINDING_FAILED"))
    );
    // Another browser family: 422, and the agg_code is still usable afterwards.
    let (status, body) = complete(&env, &key, FE_CODE, &agg, Some(IPHONE_CHROME_UA)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("BROWSER_MISMATCH"))
    );
    let (status, _) = complete(&env, &key, FE_CODE, &agg, Some(IPHONE_UA)).await;
    assert_eq!(status, 200);
    // Single use.
    let (status, _) = complete(&env, &key, FE_CODE, &agg, Some(IPHONE_UA)).await;
    assert_eq!(status, 403);
    let (status, body) = env
        .get_number(&prepared["session"], &key, json!({"fe_code": FE_CODE}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["phone_number"], "+15555550100");
    // Unknown session.
    let (status, _) = complete(&env, "ffffffffffffffff", FE_CODE, &agg, None).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn concurrent_completes_exactly_one_wins() {
    let env = Env::start().await;
    let prepared = env
        .prepare_ok("link", "VerifyPhoneNumber", Some("+15555550100"))
        .await;
    let key = key_of(&prepared);
    let (agg, _) = link_approve(&env, &key).await;
    let calls = (0..6).map(|_| complete(&env, &key, FE_CODE, &agg, None));
    let results = futures_util::future::join_all(calls).await;
    assert_eq!(
        results.iter().filter(|(s, _)| *s == 200).count(),
        1,
        "{results:?}"
    );
    let verifies =
        (0..6).map(|_| env.verify(&prepared["session"], &key, json!({"fe_code": FE_CODE})));
    let results = futures_util::future::join_all(verifies).await;
    assert_eq!(
        results.iter().filter(|(s, _)| *s == 200).count(),
        1,
        "{results:?}"
    );
}

#[tokio::test]
async fn link_deny_fails_the_flow() {
    let env = Env::start().await;
    let prepared = env
        .prepare_ok("link", "VerifyPhoneNumber", Some("+15555550100"))
        .await;
    let key = key_of(&prepared);
    let r = env
        .http
        .get(env.url(&format!("/sandbox/link/{key}?decision=deny")))
        .send()
        .await
        .expect("deny");
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.text().await.expect("html").contains("declined"));
    assert_eq!(status_of(&env, &key).await, "failed");
    let (status, body) = env
        .verify(&prepared["session"], &key, json!({"fe_code": FE_CODE}))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("INVALID_VERIFICATION"))
    );
    // Approving afterwards is refused.
    let r = env
        .http
        .get(env.url(&format!("/sandbox/link/{key}?decision=approve")))
        .send()
        .await
        .expect("approve");
    assert_eq!(r.status().as_u16(), 409);
}

#[tokio::test]
async fn unknown_link_page_is_404() {
    let env = Env::start().await;
    let r = env
        .http
        .get(env.url("/sandbox/link/ffffffffffffffff"))
        .send()
        .await
        .expect("page");
    assert_eq!(r.status().as_u16(), 404);
}

#[tokio::test]
async fn native_mode_signature_binding() {
    let env = Env::start().await;
    let device_key = SigningKey::from_slice(&[42u8; 32]).expect("key");
    let public = device_key.verifying_key().to_encoded_point(false);
    use base64::Engine as _;
    let public_b64 = base64::engine::general_purpose::STANDARD.encode(public.as_bytes());
    let (status, prepared) = env
        .prepare(
            json!({"use_case": "VerifyPhoneNumber", "phone_number": "+15555550100",
            "authentication_strategy": "link", "public_key": public_b64,
            "client_info": {"user_agent": IPHONE_UA}}),
        )
        .await;
    assert_eq!(status, 200, "{prepared}");
    let key = key_of(&prepared);
    let _ = link_approve(&env, &key).await;
    assert_eq!(status_of(&env, &key).await, "completed");

    let sign = |k: &SigningKey, text: &str| {
        let sig: Signature = k.sign(text.as_bytes());
        base64::engine::general_purpose::STANDARD.encode(sig.to_der().as_bytes())
    };
    // Signed by another key, or over another message: 403.
    let other = SigningKey::from_slice(&[43u8; 32]).expect("key");
    let message = format!("{key}:{key}");
    for bad in [
        sign(&other, &message),
        sign(&device_key, "other:message"),
        "AAAA".to_owned(),
    ] {
        let (status, body) = env
            .verify(&prepared["session"], &key, json!({"signature": bad}))
            .await;
        assert_eq!(status, 403, "{body}");
    }
    let (status, body) = env
        .verify(
            &prepared["session"],
            &key,
            json!({"signature": sign(&device_key, &message)}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["verified"], true);
}

#[tokio::test]
async fn typed_link_control() {
    let env = Env::start().await;
    let control = env.sandbox.control();
    let prepared = env
        .prepare_ok("link", "VerifyPhoneNumber", Some("+15555550100"))
        .await;
    let key = key_of(&prepared);
    let url = control.link_approve(&key).expect("approve");
    assert!(url.starts_with("http://127.0.0.1:3000/glide-complete#agg_code="));
    assert!(url.ends_with(&format!("&session_key={key}")));
    assert_eq!(
        control.session_status(&key).as_deref(),
        Some("pending_completion")
    );
    assert!(
        control.link_approve(&key).is_err(),
        "second approve refused"
    );

    let other = key_of(
        &env.prepare_ok("link", "VerifyPhoneNumber", Some("+15555550100"))
            .await,
    );
    control.link_deny(&other).expect("deny");
    assert_eq!(control.session_status(&other).as_deref(), Some("failed"));
    let ts43 = key_of(&env.prepare_ok("ts43", "GetPhoneNumber", None).await);
    assert!(matches!(
        control.link_approve(&ts43),
        Err(glide_sandbox::ControlError::WrongStrategy { .. })
    ));
}
