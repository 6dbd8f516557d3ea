//! Risk rules beyond the signals, through the engine against the real sandbox: number ranges,
//! a strategy's own policy. (The shadow policy's log lines: `engine_policy_log.rs`, alone in its
//! test binary so that no other test's thread races `tracing`'s callsite registration.)

#![allow(clippy::unwrap_used)]

use glide_core::policy::{NumberRange, RiskPolicy};
use glide_core::{RiskLevel, Strategy};

use crate::endpoint_support::engine::{call, engine, post, verify_ts43, verify_ts43_as, ANDROID};
use serde_json::{json, Value};

fn range(text: &str) -> NumberRange {
    NumberRange::parse(text).unwrap()
}

/// A prepare of `phone` (TS43 use case): status and body.
async fn prepare(auth: &glide_core::endpoint::GlideAuth, phone: &str) -> (u16, Value) {
    let (status, body, _) = call(
        auth,
        post(
            "/api/magical-auth/prepare",
            json!({"use_case": "VerifyPhoneNumber", "phone_number": phone, "client_info": {"user_agent": ANDROID}}),
            "",
        ),
    )
    .await;
    (status, body)
}

#[tokio::test]
async fn a_denied_range_is_refused_before_anything_starts() {
    let (sandbox, auth) = engine(|b| {
        b.risk_policy(
            RiskPolicy::default()
                .allow_numbers([range("+1555555")])
                .deny_numbers([range("+15555550106")]),
        )
    })
    .await;
    // Magical Auth: refused at prepare, before Glide is asked.
    let (status, body) = prepare(&auth, "+15555550106").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("RISK_POLICY_DENIED")),
        "{body}"
    );
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("number range denied"),
        "{body}"
    );
    assert!(
        body.get("sim_swap").is_none(),
        "no signals before a verification: {body}"
    );
    // A code start: refused, and no code is sent.
    let (status, body, _) = call(
        &auth,
        post(
            "/api/magical-auth/magic-auth/start",
            json!({"phone_number": "+15555550106", "fallback_channel": "SMS"}),
            "",
        ),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("RISK_POLICY_DENIED")),
        "{body}"
    );
    assert_eq!(sandbox.control().legacy_otp("+15555550106"), None);
    // Inside the allowed range and outside the denied one: verifies.
    let (status, body, set) = verify_ts43(&sandbox, &auth, "+15555550100").await;
    assert_eq!(status, 200, "{body}");
    assert!(set.contains("glide_session="), "{set}");

    let (_sandbox, auth) =
        engine(|b| b.risk_policy(RiskPolicy::default().allow_numbers([range("+44")]))).await;
    let (status, body) = prepare(&auth, "+15555550100").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("RISK_POLICY_DENIED"))
    );
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("number range not allowed"),
        "{body}"
    );
}

#[tokio::test]
async fn a_range_is_decided_again_on_the_verified_number() {
    // Get the phone number: the number is known only once the carrier verified it.
    let (sandbox, auth) =
        engine(|b| b.risk_policy(RiskPolicy::default().deny_numbers([range("+15555550100")])))
            .await;
    let (status, body, _) = verify_ts43_as(&sandbox, &auth, None, Some("+15555550100")).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("RISK_POLICY_DENIED")),
        "{body}"
    );
}

#[tokio::test]
async fn a_strategy_policy_applies_to_its_strategy() {
    // MEDIUM is allowed by default, but not for TS43 under this policy.
    let (sandbox, auth) = engine(|b| {
        b.risk_policy(RiskPolicy::default().for_strategy(
            Strategy::Ts43,
            RiskPolicy::default().deny_at(RiskLevel::Medium),
        ))
    })
    .await;
    let (status, body, _) = verify_ts43(&sandbox, &auth, "+15555550103").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("RISK_POLICY_DENIED"))
    );
    let (sandbox, auth) = engine(|b| {
        b.risk_policy(RiskPolicy::default().for_strategy(
            Strategy::Email,
            RiskPolicy::default().deny_at(RiskLevel::Medium),
        ))
    })
    .await;
    let (status, body, _) = verify_ts43(&sandbox, &auth, "+15555550103").await;
    assert_eq!(status, 200, "{body}");
}
