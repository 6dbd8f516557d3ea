//! Every fixture number of the contract's table, through full flows.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

/// A TS43 VerifyPhoneNumber for `phone`; returns the verify answer.
async fn verify_ts43(env: &Env, phone: &str) -> (u16, Value) {
    let prepared = env
        .prepare_ok("ts43", "VerifyPhoneNumber", Some(phone))
        .await;
    let credential = mint(env, &key_of(&prepared), ORIGIN).await;
    env.verify(&prepared["session"], &credential, json!({}))
        .await
}

fn assert_signal(s: &Value, risk: &str, band: &str) {
    assert_eq!(s["checked"], true, "{s}");
    assert_eq!(s["risk_level"], risk, "{s}");
    assert_eq!(s["age_band"], band, "{s}");
    assert_eq!(s["carrier_name"], glide_sandbox::fixtures::CARRIER_NAME);
    assert!(
        s["checked_at"].as_str().is_some_and(|t| t.ends_with('Z')),
        "{s}"
    );
}

const LOW: (&str, &str) = ("RISK_LEVEL_LOW", "older than query window");

/// (number, sim_swap (risk, band), device_swap (risk, band)).
type Row = (
    &'static str,
    (&'static str, &'static str),
    Option<(&'static str, &'static str)>,
);

#[tokio::test]
async fn signal_fixtures() {
    let env = Env::start().await;
    let rows: [Row; 5] = [
        ("+15555550100", LOW, Some(LOW)),
        ("+15555550101", ("RISK_LEVEL_HIGH", "0-4 hours"), Some(LOW)),
        ("+15555550102", LOW, Some(("RISK_LEVEL_HIGH", "1-2 days"))),
        (
            "+15555550103",
            ("RISK_LEVEL_MEDIUM", "14-30 days"),
            Some(LOW),
        ),
        ("+14155550123", LOW, Some(LOW)),
    ];
    for (phone, sim, device) in rows {
        let (status, body) = verify_ts43(&env, phone).await;
        assert_eq!(status, 200, "{phone}: {body}");
        assert_eq!(body["phone_number"], phone);
        assert_eq!(body["verified"], true, "{phone}");
        assert_signal(&body["sim_swap"], sim.0, sim.1);
        match device {
            Some((risk, band)) => assert_signal(&body["device_swap"], risk, band),
            None => assert!(body.get("device_swap").is_none()),
        }
    }
}

#[tokio::test]
async fn sim_swap_not_checked_fixture() {
    let env = Env::start().await;
    let (status, body) = verify_ts43(&env, "+15555550104").await;
    assert_eq!(status, 200);
    assert_eq!(body["sim_swap"]["checked"], false);
    assert_eq!(body["sim_swap"]["reason"], "carrier_not_supported");
    assert!(body["sim_swap"].get("risk_level").is_none());
    assert!(body.get("device_swap").is_none());
}

#[tokio::test]
async fn other_device_number_fixture_answers_unverified() {
    let env = Env::start().await;
    let (status, body) = verify_ts43(&env, "+15555550105").await;
    assert_eq!(status, 200);
    assert_eq!(body["verified"], false);
    // Desktop too: the phone that approves has the other number.
    let prepared = env
        .prepare_ok("desktop", "VerifyPhoneNumber", Some("+15555550105"))
        .await;
    let key = key_of(&prepared);
    env.sandbox
        .control()
        .desktop_approve(&key)
        .expect("approve");
    let (status, body) = env.verify(&prepared["session"], &key, json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(body["verified"], false);
}

#[tokio::test]
async fn ineligible_carrier_fixture() {
    let env = Env::start().await;
    for (strategy, number) in [
        ("ts43", "+15555550106"),
        ("link", "+15555550106"),
        ("desktop", "+15555550106"),
        ("ts43", "+15555550109"),
        ("link", "+15555550109"),
        ("desktop", "+15555550109"),
    ] {
        let (status, body) = env
            .prepare(
                json!({"use_case": "VerifyPhoneNumber", "phone_number": number,
                "authentication_strategy": strategy, "fe_hash": fe_hash(FE_CODE),
                "client_info": {"user_agent": ua_for(strategy)}}),
            )
            .await;
        assert_eq!(status, 422, "{number}: {body}");
        assert_eq!(body["code"], "CARRIER_NOT_ELIGIBLE");
        assert!(!body["message"]
            .as_str()
            .expect("message")
            .contains("Sandbox Mobile"));
    }
}

#[tokio::test]
async fn slow_carrier_fixture_delays_every_carrier_step() {
    let delay = Duration::from_millis(200);
    let env = Env::with(fast_config().with_slow_carrier_delay(delay)).await;
    let t = Instant::now();
    let prepared = env
        .prepare_ok("link", "VerifyPhoneNumber", Some("+15555550107"))
        .await;
    assert!(t.elapsed() >= delay, "prepare");
    let key = key_of(&prepared);
    let (agg, _) = link_approve(&env, &key).await;
    let t = Instant::now();
    let (status, _) = complete(&env, &key, FE_CODE, &agg, None).await;
    assert_eq!(status, 200);
    assert!(t.elapsed() >= delay, "complete");
    let t = Instant::now();
    let (status, _) = env
        .verify(&prepared["session"], &key, json!({"fe_code": FE_CODE}))
        .await;
    assert_eq!(status, 200);
    assert!(t.elapsed() >= delay, "verify");
}

#[tokio::test]
async fn user_denies_fixture_fails_every_strategy() {
    let env = Env::start().await;
    let deny = "+15555550108";
    // TS43: the wallet refuses (USER_DENIED), the session is failed.
    let prepared = env
        .prepare_ok("ts43", "VerifyPhoneNumber", Some(deny))
        .await;
    let key = key_of(&prepared);
    let (status, body) = env
        .post(
            "/sandbox/ts43/credential",
            &json!({"session_key": key, "origin": ORIGIN}),
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (403, Some("USER_DENIED")));
    let (_, s) = env.get(&format!("/public/status/{key}")).await;
    assert_eq!(s["status"], "failed");
    let (status, body) = env.verify(&prepared["session"], "x.y.z~", json!({})).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("INVALID_VERIFICATION"))
    );

    // Link: approving on the carrier page fails the flow.
    let prepared = env
        .prepare_ok("link", "VerifyPhoneNumber", Some(deny))
        .await;
    let key = key_of(&prepared);
    let r = env
        .http
        .get(env.url(&format!("/sandbox/link/{key}?decision=approve")))
        .send()
        .await
        .expect("approve");
    assert_eq!(r.status().as_u16(), 403);
    assert_eq!(
        env.sandbox.control().session_status(&key).as_deref(),
        Some("failed")
    );

    // Desktop: approving on the phone fails the flow.
    let prepared = env
        .prepare_ok("desktop", "VerifyPhoneNumber", Some(deny))
        .await;
    let key = key_of(&prepared);
    let (status, body) = env
        .post(&format!("/sandbox/desktop/{key}/approve"), &json!({}))
        .await;
    assert_eq!((status, body["status"].as_str()), (200, Some("failed")));
    let (status, body) = env.verify(&prepared["session"], &key, json!({})).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("INVALID_VERIFICATION"))
    );
}

#[tokio::test]
async fn get_phone_number_defaults_to_the_fixture_device() {
    let env = Env::start().await;
    let prepared = env.prepare_ok("desktop", "GetPhoneNumber", None).await;
    let key = key_of(&prepared);
    env.sandbox
        .control()
        .desktop_approve(&key)
        .expect("approve");
    let (status, body) = env.get_number(&prepared["session"], &key, json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["phone_number"],
        glide_sandbox::fixtures::DEFAULT_DEVICE_NUMBER
    );
    assert!(body.get("verified").is_none());
}

/// Glide's status endpoints answer as its web SDK reads them: 200 while alive, 422 with the
/// status body once failed, 410 once expired, 404 unknown.
#[tokio::test]
async fn status_endpoints_answer_422_failed_and_410_expired() {
    let env = Env::start().await;
    let prepared = env
        .prepare_ok("link", "VerifyPhoneNumber", Some("+15555550108"))
        .await;
    let key = key_of(&prepared);
    for path in [
        format!("/public/status/{key}"),
        format!("/magic-auth/v2/auth/status/{key}"),
    ] {
        let (status, body) = env.get(&path).await;
        assert_eq!(
            (status, body["status"].as_str()),
            (200, Some("pending")),
            "{path}"
        );
    }
    // the denying user fails the flow on the carrier page
    let r = env
        .http
        .get(env.url(&format!("/sandbox/link/{key}?decision=approve")))
        .send()
        .await
        .expect("approve");
    assert!(r.status().as_u16() < 500);
    for path in [
        format!("/public/status/{key}"),
        format!("/magic-auth/v2/auth/status/{key}"),
    ] {
        let (status, body) = env.get(&path).await;
        assert_eq!(status, 422, "{path}: {body}");
        assert_eq!(body["status"], "failed");
        assert_eq!(body["session_key"], key.as_str());
        assert!(body["extra"]["reason"].is_string(), "{body}");
    }

    let prepared = env
        .prepare_ok("desktop", "VerifyPhoneNumber", Some("+15555550100"))
        .await;
    let key = key_of(&prepared);
    env.sandbox.control().expire_session(&key).expect("expire");
    for path in [
        format!("/public/status/{key}"),
        format!("/magic-auth/v2/auth/status/{key}"),
    ] {
        let (status, body) = env.get(&path).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (410, Some("SESSION_EXPIRED")),
            "{path}"
        );
    }
    let (status, _) = env.get("/public/status/ffffffffffffffff").await;
    assert_eq!(status, 404);
}
