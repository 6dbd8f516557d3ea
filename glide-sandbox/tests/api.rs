//! Token, auth, validation, error bodies, prepare shapes, status, eligibility, report-invocation.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{json, Value};

fn assert_error(status: u16, body: &Value, want_status: u16, code: &str) {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], want_status);
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert!(body["request_id"]
        .as_str()
        .is_some_and(|r| r.starts_with("req_")));
    assert!(body["timestamp"].as_str().is_some());
}

#[tokio::test]
async fn token_rejects_bad_credentials_and_grants() {
    let env = Env::start().await;
    let r = env
        .http
        .post(env.url("/oauth2-cc/token"))
        .basic_auth("sandbox-client", Some("wrong"))
        .body("grant_type=client_credentials")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 401);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["error"], "invalid_client");

    let r = env
        .http
        .post(env.url("/oauth2-cc/token"))
        .body("grant_type=client_credentials")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 401);

    let r = env
        .http
        .post(env.url("/oauth2-cc/token"))
        .basic_auth("sandbox-client", Some("sandbox-secret"))
        .body("grant_type=password")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 400);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["error"], "unsupported_grant_type");

    let r = env
        .http
        .post(env.url("/oauth2-cc/token"))
        .basic_auth("sandbox-client", Some("sandbox-secret"))
        .body("grant_type=client_credentials")
        .send()
        .await
        .expect("send");
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["access_token"].as_str().map(str::len), Some(64));
}

#[tokio::test]
async fn bearer_token_required_and_expires() {
    let env = Env::with(fast_config().with_token_lifetime(Duration::from_millis(300))).await;
    let r = env
        .http
        .post(env.url("/magic-auth/v2/auth/prepare"))
        .json(&json!({}))
        .send()
        .await
        .expect("send");
    let status = r.status().as_u16();
    let body: Value = r.json().await.expect("json");
    assert_error(status, &body, 401, "UNAUTHORIZED");

    let r = env
        .http
        .get(env.url("/magic-auth/v2/auth/status/0123456789abcdef"))
        .bearer_auth("not-a-token")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 401);

    // Valid now …
    let (status, _) = env.get("/magic-auth/v2/auth/status/0123456789abcdef").await;
    assert_eq!(status, 404);
    // … and 401 once the lifetime has passed.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (status, body) = env.get("/magic-auth/v2/auth/status/0123456789abcdef").await;
    assert_error(status, &body, 401, "UNAUTHORIZED");
}

#[tokio::test]
async fn correlation_id_is_echoed() {
    let env = Env::start().await;
    let r = env
        .http
        .post(env.url("/magic-auth/v2/auth/prepare"))
        .header("X-Correlation-ID", "corr-123")
        .json(&json!({}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.headers()["x-correlation-id"], "corr-123");
}

#[tokio::test]
async fn prepare_validation_errors_name_fields() {
    let env = Env::start().await;
    let cases = [
        (json!({"use_case": "Nope"}), "use_case"),
        (json!({"use_case": "VerifyPhoneNumber"}), "phone_number"),
        (
            json!({"use_case": "VerifyPhoneNumber", "phone_number": "5555550100"}),
            "phone_number",
        ),
        (
            json!({"use_case": "VerifyPhoneNumber", "phone_number": "+0555"}),
            "phone_number",
        ),
        (
            json!({"use_case": "GetPhoneNumber", "phone_number": "+15555550100"}),
            "phone_number",
        ),
        (
            json!({"use_case": "GetPhoneNumber", "plmn": {"mcc": "31", "mnc": "260"}}),
            "plmn.mcc",
        ),
        (
            json!({"use_case": "GetPhoneNumber", "plmn": {"mcc": "310", "mnc": "2"}}),
            "plmn.mnc",
        ),
        (
            json!({"use_case": "GetPhoneNumber", "session_timeout": 30}),
            "session_timeout",
        ),
        (
            json!({"use_case": "GetPhoneNumber", "session_timeout": 901}),
            "session_timeout",
        ),
        (
            json!({"use_case": "GetPhoneNumber", "authentication_strategy": "sms"}),
            "authentication_strategy",
        ),
        (
            json!({"use_case": "GetPhoneNumber", "authentication_strategy": "link"}),
            "fe_hash",
        ),
        (
            json!({"use_case": "GetPhoneNumber", "authentication_strategy": "link", "fe_hash": "abc"}),
            "fe_hash",
        ),
        (
            json!({"use_case": "GetPhoneNumber", "public_key": "AAAA"}),
            "public_key",
        ),
        (
            json!({"use_case": "GetPhoneNumber", "options": {"link_type": "carrier_pigeon"}}),
            "options.link_type",
        ),
    ];
    for (body, field) in cases {
        let (status, resp) = env.prepare(body.clone()).await;
        assert_error(status, &resp, 400, "VALIDATION_ERROR");
        assert!(
            resp["details"]["fields"][field].is_string(),
            "{body} should flag {field}: {resp}"
        );
    }
}

#[tokio::test]
async fn prepare_rejects_non_json_and_ignores_unknown_fields() {
    let env = Env::start().await;
    let r = env
        .http
        .post(env.url("/magic-auth/v2/auth/prepare"))
        .bearer_auth(&env.token)
        .body("not json")
        .send()
        .await
        .expect("send");
    let status = r.status().as_u16();
    let body: Value = r.json().await.expect("json");
    assert_error(status, &body, 400, "BAD_REQUEST");

    let (status, body) = env
        .prepare(
            json!({"use_case": "GetPhoneNumber", "surprise": {"x": 1}, "id": "web-1-abc",
            "plmn": {"mcc": "310", "mnc": "260"}, "client_info": {"user_agent": DESKTOP_UA}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let env = Env::start().await;
    let big = "x".repeat(70 * 1024);
    let (status, body) = env
        .prepare(json!({"use_case": "GetPhoneNumber", "id": big}))
        .await;
    assert_eq!(status, 413, "{body}");
}

#[tokio::test]
async fn strategy_by_user_agent_or_override() {
    let env = Env::start().await;
    for (ua, want) in [
        (ANDROID_UA, "ts43"),
        (IPHONE_UA, "link"),
        (
            "Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) Safari/604.1",
            "link",
        ),
        (DESKTOP_UA, "desktop"),
        ("curl/8.0", "desktop"),
    ] {
        let (status, body) = env
            .prepare(
                json!({"use_case": "GetPhoneNumber", "client_info": {"user_agent": ua},
                "fe_hash": fe_hash(FE_CODE)}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["authentication_strategy"], want, "{ua}");
        assert_eq!(body["session"]["protocol_type"], want);
    }
    let (_, body) = env
        .prepare(
            json!({"use_case": "GetPhoneNumber", "authentication_strategy": "desktop",
            "client_info": {"user_agent": ANDROID_UA}}),
        )
        .await;
    assert_eq!(body["authentication_strategy"], "desktop");
}

#[tokio::test]
async fn prepare_session_shape_and_timeout() {
    let env = Env::start().await;
    let (status, body) = env
        .prepare(
            json!({"use_case": "VerifyPhoneNumber", "phone_number": "+15555550100",
            "session_timeout": 120, "client_info": {"user_agent": ANDROID_UA}}),
        )
        .await;
    assert_eq!(status, 200);
    let key = key_of(&body);
    assert_eq!(key.len(), 16);
    assert!(key
        .bytes()
        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    assert_eq!(body["session_expires_in_seconds"], 120);
    assert_eq!(body["session"]["metadata"]["use_case"], "VerifyPhoneNumber");
    assert!(body["session"]["nonce"].is_string());
    assert!(body["session"]["enc_key"].is_string());
    let (_, body) = env
        .prepare(json!({"use_case": "GetPhoneNumber", "client_info": {"user_agent": ANDROID_UA}}))
        .await;
    assert_eq!(body["session_expires_in_seconds"], 300);
    assert_ne!(key_of(&body), key);
}

#[tokio::test]
async fn status_endpoints_and_expiry() {
    let env = Env::start().await;
    let prepared = env
        .prepare_ok("link", "VerifyPhoneNumber", Some("+15555550100"))
        .await;
    let key = key_of(&prepared);
    let (status, body) = env.get(&format!("/magic-auth/v2/auth/status/{key}")).await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "pending");
    assert_eq!(body["protocol"], "link");
    assert_eq!(body["session_key"], key);
    assert!(body["created_at"].is_string() && body["last_updated"].is_string());
    assert!(body.get("phone_number").is_none(), "status carries no PII");

    // Public status: no auth, CORS for browsers.
    let r = env
        .http
        .get(env.url(&format!("/public/status/{key}")))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["status"], "pending");

    let (status, body) = env.get("/public/status/ffffffffffffffff").await;
    assert_error(status, &body, 404, "SESSION_NOT_FOUND");

    env.sandbox.control().expire_session(&key).expect("expire");
    let (status, body) = env.get(&format!("/public/status/{key}")).await;
    assert_error(status, &body, 410, "SESSION_EXPIRED");
}

#[tokio::test]
async fn report_invocation_is_idempotent() {
    let env = Env::start().await;
    let key = key_of(&env.prepare_ok("ts43", "GetPhoneNumber", None).await);
    for _ in 0..2 {
        let (status, body) = env
            .post(
                "/magic-auth/v2/auth/report-invocation",
                &json!({"session_id": key}),
            )
            .await;
        assert_eq!(status, 200);
        assert_eq!(body, json!({"success": true}));
    }
    let (status, body) = env
        .post("/magic-auth/v2/auth/report-invocation", &json!({}))
        .await;
    assert_error(status, &body, 400, "VALIDATION_ERROR");
    let (status, _) = env
        .post(
            "/magic-auth/v2/auth/report-invocation",
            &json!({"session_id": "ffffffffffffffff"}),
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn eligibility_by_number_and_user_agent() {
    let env = Env::start().await;
    let (status, body) = env
        .post(
            "/magic-auth/v2/auth/eligibility",
            &json!({"phone_number": "+15555550100",
            "client_info": {"user_agent": ANDROID_UA}}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["eligible"], true);
    assert_eq!(
        body["available_options"][0]["authentication_strategy"],
        "ts43"
    );
    let (_, body) = env
        .post(
            "/magic-auth/v2/auth/eligibility",
            &json!({"phone_number": "+15555550106",
            "client_info": {"user_agent": ANDROID_UA}}),
        )
        .await;
    assert_eq!(body["eligible"], false);
    assert_eq!(body["available_options"], json!([]));
    let (status, body) = env
        .post(
            "/magic-auth/v2/auth/eligibility",
            &json!({"client_info": {"user_agent": ANDROID_UA}}),
        )
        .await;
    assert_error(status, &body, 400, "VALIDATION_ERROR");
}

#[tokio::test]
async fn verify_errors_for_unknown_and_malformed_requests() {
    let env = Env::start().await;
    let (status, body) = env
        .verify(
            &json!({"session_key": "non-existent-session-key"}),
            "x",
            json!({}),
        )
        .await;
    assert_error(status, &body, 404, "SESSION_NOT_FOUND");
    let (status, body) = env
        .post(
            "/magic-auth/v2/auth/verify-phone-number",
            &json!({"credential": "x"}),
        )
        .await;
    assert_error(status, &body, 400, "VALIDATION_ERROR");
    // Wrong endpoint for the session's use case.
    let prepared = env.prepare_ok("ts43", "GetPhoneNumber", None).await;
    let (status, body) = env.verify(&prepared["session"], "x", json!({})).await;
    assert_error(status, &body, 409, "SESSION_NOT_ELIGIBLE");
}

#[tokio::test]
async fn unknown_paths_answer_glide_errors() {
    let env = Env::start().await;
    let (status, body) = env.get("/nope").await;
    assert_eq!(status, 404);
    assert_eq!(body["code"], "NOT_FOUND");
}
