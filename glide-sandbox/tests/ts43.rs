//! TS43: prepare shape, round trip, forged/replayed/cross-session/expired credentials, origins,
//! the user-denies fixture, wallet.js.

mod common;

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use common::*;
use serde_json::{json, Value};

fn decode_segment(jwt: &str, index: usize) -> Value {
    let part = jwt.split('.').nth(index).expect("segment");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("b64")).expect("json")
}

#[tokio::test]
async fn prepare_returns_openid4vp_request_with_signed_authorization() {
    let env = Env::start().await;
    let prepared = env
        .prepare_ok("ts43", "VerifyPhoneNumber", Some("+15555550100"))
        .await;
    assert_eq!(prepared["authentication_strategy"], "ts43");
    let data = &prepared["data"];
    assert_eq!(data["protocol"], "openid4vp-v1-unsigned");
    assert_eq!(data["data"]["response_type"], "vp_token");
    assert_eq!(data["data"]["nonce"], prepared["session"]["nonce"]);
    let cred = &data["data"]["dcql_query"]["credentials"][0];
    assert_eq!(cred["id"], "glide");
    assert_eq!(
        cred["meta"]["vct_values"][0],
        "number-verification/verify/ts43"
    );
    let authz = cred["meta"]["credential_authorization_jwt"]
        .as_str()
        .expect("jwt");
    let header = decode_segment(authz, 0);
    assert_eq!(header["alg"], "ES256");
    assert_eq!(header["typ"], "oauth-authz-req+jwt");
    let payload = decode_segment(authz, 1);
    assert_eq!(payload["nonce"], prepared["session"]["nonce"]);
    assert_eq!(payload["jwks"]["keys"][0]["crv"], "P-256");
    assert_eq!(
        URL_SAFE_NO_PAD
            .decode(authz.split('.').nth(2).expect("sig"))
            .expect("b64")
            .len(),
        64
    );
}

#[tokio::test]
async fn verify_round_trip_consumes_the_session() {
    let env = Env::start().await;
    let prepared = env
        .prepare_ok("ts43", "VerifyPhoneNumber", Some("+15555550100"))
        .await;
    let key = key_of(&prepared);
    let credential = mint(&env, &key, ORIGIN).await;
    assert!(credential.ends_with('~'));
    let jwt = credential.trim_end_matches('~');
    let claims = decode_segment(jwt, 1);
    assert_eq!(claims["nonce"], prepared["session"]["nonce"]);
    assert_eq!(claims["aud"], ORIGIN);

    let (status, body) = env
        .verify(&prepared["session"], &credential, json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["phone_number"], "+15555550100");
    assert_eq!(body["verified"], true);
    assert_eq!(body["aud"], ORIGIN);
    assert_eq!(body["sim_swap"]["checked"], true);
    assert_eq!(body["phone_number_details"]["region_code"], "US");

    let (status, body) = env.get(&format!("/magic-auth/v2/auth/status/{key}")).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("completed")));

    // Replayed: the same credential on the same session.
    let (status, body) = env
        .verify(&prepared["session"], &credential, json!({}))
        .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["code"], "SESSION_NOT_FOUND");
}

#[tokio::test]
async fn get_phone_number_round_trip_and_legacy_vp_token_object() {
    let env = Env::start().await;
    let prepared = env.prepare_ok("ts43", "GetPhoneNumber", None).await;
    let key = key_of(&prepared);
    let credential = mint(&env, &key, ORIGIN).await;
    let legacy = json!({"vp_token": {"glide": [credential]}}).to_string();
    let (status, body) = env
        .get_number(&prepared["session"], &legacy, json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["phone_number"], "+15555550100");
    assert!(body.get("verified").is_none());
}

#[tokio::test]
async fn forged_credentials_are_invalid_format() {
    let env = Env::start().await;
    let prepared = env
        .prepare_ok("ts43", "VerifyPhoneNumber", Some("+15555550100"))
        .await;
    let key = key_of(&prepared);
    let good = mint(&env, &key, ORIGIN).await;
    let jwt = good.trim_end_matches('~');
    let parts: Vec<&str> = jwt.split('.').collect();

    // Payload swapped for another number, signature kept.
    let mut claims = decode_segment(jwt, 1);
    claims["phone_number"] = json!("+15555550999");
    let forged_payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let tampered = format!("{}.{}.{}~", parts[0], forged_payload, parts[2]);
    // Signed by another key.
    let other_key = p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).expect("key");
    let input = format!("{}.{}", parts[0], parts[1]);
    let sig: p256::ecdsa::Signature =
        p256::ecdsa::signature::Signer::sign(&other_key, input.as_bytes());
    let other_signed = format!("{input}.{}~", URL_SAFE_NO_PAD.encode(sig.to_bytes()));
    // alg none.
    let none = format!(
        "{}.{}.~",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#),
        parts[1]
    );

    for forged in [
        "mock-credential".to_owned(),
        "a.b.c~".to_owned(),
        tampered,
        other_signed,
        none,
        json!({"vp_token": {}}).to_string(),
    ] {
        let (status, body) = env.verify(&prepared["session"], &forged, json!({})).await;
        assert_eq!(status, 422, "{forged}: {body}");
        assert_eq!(body["code"], "INVALID_CREDENTIAL_FORMAT");
    }
    // The genuine one still works afterwards.
    let (status, _) = env.verify(&prepared["session"], &good, json!({})).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn cross_session_credentials_are_refused() {
    let env = Env::start().await;
    let a = env
        .prepare_ok("ts43", "VerifyPhoneNumber", Some("+15555550100"))
        .await;
    let b = env
        .prepare_ok("ts43", "VerifyPhoneNumber", Some("+15555550100"))
        .await;
    let for_a = mint(&env, &key_of(&a), ORIGIN).await;
    let (status, body) = env.verify(&b["session"], &for_a, json!({})).await;
    assert_eq!(status, 422);
    assert_eq!(body["code"], "INVALID_CREDENTIAL_FORMAT");
    // A passes with its own; then A's credential replayed against B fails too.
    let (status, _) = env.verify(&a["session"], &for_a, json!({})).await;
    assert_eq!(status, 200);
    let (status, _) = env.verify(&b["session"], &for_a, json!({})).await;
    assert_eq!(status, 422);
}

#[tokio::test]
async fn expired_credentials_and_sessions_are_refused() {
    let env = Env::with(fast_config().with_credential_lifetime(Duration::ZERO)).await;
    let prepared = env
        .prepare_ok("ts43", "VerifyPhoneNumber", Some("+15555550100"))
        .await;
    let credential = mint(&env, &key_of(&prepared), ORIGIN).await;
    let (status, body) = env
        .verify(&prepared["session"], &credential, json!({}))
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["code"], "INVALID_CREDENTIAL_FORMAT");

    let env = Env::start().await;
    let prepared = env
        .prepare_ok("ts43", "VerifyPhoneNumber", Some("+15555550100"))
        .await;
    let key = key_of(&prepared);
    let credential = mint(&env, &key, ORIGIN).await;
    env.sandbox.control().expire_session(&key).expect("expire");
    let (status, body) = env
        .verify(&prepared["session"], &credential, json!({}))
        .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["code"], "SESSION_EXPIRED");
}

#[tokio::test]
async fn allowed_origins_are_enforced_when_configured() {
    let env = Env::with(fast_config().with_allowed_origins([ORIGIN])).await;
    let prepared = env
        .prepare_ok("ts43", "VerifyPhoneNumber", Some("+15555550100"))
        .await;
    let key = key_of(&prepared);
    let wrong = mint(&env, &key, "https://evil.example").await;
    let (status, body) = env.verify(&prepared["session"], &wrong, json!({})).await;
    assert_eq!(status, 422);
    assert_eq!(body["code"], "AUDIENCE_VALIDATION_FAILED");
    let right = mint(&env, &key, ORIGIN).await;
    let (status, body) = env.verify(&prepared["session"], &right, json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["aud"], ORIGIN);
}

#[tokio::test]
async fn credential_by_nonce_and_validation() {
    let env = Env::start().await;
    let prepared = env.prepare_ok("ts43", "GetPhoneNumber", None).await;
    let nonce = prepared["data"]["data"]["nonce"].as_str().expect("nonce");
    let (status, body) = env
        .post(
            "/sandbox/ts43/credential",
            &json!({"nonce": nonce, "origin": ORIGIN}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let credential = body["credential"].as_str().expect("credential");
    let (status, _) = env
        .get_number(&prepared["session"], credential, json!({}))
        .await;
    assert_eq!(status, 200);

    let (status, body) = env
        .post(
            "/sandbox/ts43/credential",
            &json!({"nonce": "unknown", "origin": ORIGIN}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("SESSION_NOT_FOUND"))
    );
    let (status, _) = env
        .post(
            "/sandbox/ts43/credential",
            &json!({"session_key": key_of(&prepared)}),
        )
        .await;
    assert_eq!(status, 400);
    // A link session cannot get a TS43 credential.
    let link = env.prepare_ok("link", "GetPhoneNumber", None).await;
    let (status, body) = env
        .post(
            "/sandbox/ts43/credential",
            &json!({"session_key": key_of(&link), "origin": ORIGIN}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("SESSION_NOT_ELIGIBLE"))
    );
}

#[tokio::test]
async fn credential_phone_override_drives_the_result() {
    let env = Env::start().await;
    let prepared = env
        .prepare_ok("ts43", "VerifyPhoneNumber", Some("+15555550100"))
        .await;
    let key = key_of(&prepared);
    let credential = env
        .sandbox
        .control()
        .ts43_credential(&key, ORIGIN, Some("+15555550123"))
        .expect("credential");
    let (status, body) = env
        .verify(&prepared["session"], &credential, json!({}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["phone_number"], "+15555550100");
    assert_eq!(body["verified"], false);
}

#[tokio::test]
async fn concurrent_verifies_exactly_one_wins() {
    let env = Env::start().await;
    let prepared = env
        .prepare_ok("ts43", "VerifyPhoneNumber", Some("+15555550100"))
        .await;
    let credential = mint(&env, &key_of(&prepared), ORIGIN).await;
    let calls = (0..6).map(|_| env.verify(&prepared["session"], &credential, json!({})));
    let results = futures_util::future::join_all(calls).await;
    let wins = results.iter().filter(|(s, _)| *s == 200).count();
    assert_eq!(wins, 1, "{results:?}");
}

#[tokio::test]
async fn wallet_js_is_served_with_cors_and_preflight() {
    let env = Env::start().await;
    let r = env
        .http
        .get(env.url("/sandbox/wallet.js"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .expect("ct")
        .starts_with("application/javascript"));
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
    let js = r.text().await.expect("text");
    assert!(js.contains("/sandbox/ts43/credential"));
    assert!(js.contains("NotAllowedError"));
    assert!(js.contains("document.currentScript"));

    let r = env
        .http
        .request(
            reqwest::Method::OPTIONS,
            env.url("/sandbox/ts43/credential"),
        )
        .header("Origin", ORIGIN)
        .header("Access-Control-Request-Method", "POST")
        .header("Access-Control-Request-Headers", "content-type")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 204);
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
    assert!(r.headers()["access-control-allow-methods"]
        .to_str()
        .expect("methods")
        .contains("POST"));
}
