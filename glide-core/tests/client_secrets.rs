//! Secrets are redacted and phone numbers masked, in `Debug` output and in logs; configuration
//! from the environment.
#![allow(clippy::unwrap_used)]

mod client_support;
mod log_support;

use client_support::{session_json, Canned, TestServer, CLIENT_SECRET};
use glide_core::api::{
    ClientInfo, CompleteRequest, Glide, GlideSession, PhoneResult, PrepareRequest, ProcessRequest,
};
use glide_core::binding::{AggCode, FeCode};
use glide_core::secret::{AccessToken, ClientSecret};
use glide_core::PhoneNumber;
use serde_json::json;

const NUMBER: &str = "+15555550100";
const DIGITS: &str = "5555550100";

#[test]
fn debug_output_hides_secrets_and_numbers() {
    let glide = Glide::builder("my-id", "super-secret-value")
        .base_url("http://127.0.0.1:1")
        .build()
        .unwrap();
    let builder = Glide::builder("my-id", "super-secret-value");
    for text in [
        format!("{glide:?}"),
        format!("{builder:?}"),
        format!("{glide:#?}"),
    ] {
        assert!(!text.contains("super-secret-value"), "{text}");
        assert!(text.contains("my-id"), "{text}");
        assert!(text.contains("ClientSecret([redacted])"), "{text}");
    }
    assert_eq!(
        format!("{:?}", ClientSecret::new("x")),
        "ClientSecret([redacted])"
    );
    assert_eq!(
        format!("{:?}", AccessToken::new("x")),
        "AccessToken([redacted])"
    );

    let number = PhoneNumber::parse(NUMBER).unwrap();
    let prepare = PrepareRequest::verify_phone_number(&number, ClientInfo::new("UA"));
    let fe_code = FeCode::generate();
    let agg = AggCode::parse(&"e".repeat(64)).unwrap();
    let session = GlideSession::from_json(session_json()).unwrap();
    let process = ProcessRequest::new(session.clone(), "eyJhbGciOi.credential~")
        .with_fe_code(fe_code.clone())
        .with_signature("MEUCIQ-signature");
    let complete = CompleteRequest::new("k1", fe_code.clone(), agg);
    let result: PhoneResult = serde_json::from_value(json!({
        "phone_number": NUMBER, "verified": true,
        "phone_number_details": {"country_code": 1, "national_number": DIGITS, "region_code": "US"}
    }))
    .unwrap();

    let outputs = [
        format!("{prepare:?}"),
        format!("{process:?}"),
        format!("{complete:?}"),
        format!("{result:?}"),
        format!("{session:?}"),
    ];
    for text in &outputs {
        for secret in [
            DIGITS,
            fe_code.secret(),
            &"e".repeat(64),
            "eyJhbGciOi",
            "MEUCIQ",
            "PRIVATE",
        ] {
            assert!(!text.contains(secret), "{secret} leaked in {text}");
        }
    }
    assert!(outputs[0].contains("+1555***0100"), "{}", outputs[0]);
    assert!(
        outputs[4].contains("ee25b966c9395f0b"),
        "the session key is shown"
    );
    // the wire still carries the full values
    assert_eq!(
        serde_json::to_value(&result).unwrap()["phone_number"],
        NUMBER
    );
    assert_eq!(
        serde_json::to_value(&session).unwrap()["enc_key"],
        session_json()["enc_key"]
    );
}

#[tokio::test]
async fn logs_carry_calls_but_no_secrets() {
    let (captured, _guard) = log_support::capture(tracing::Level::TRACE);

    let server = TestServer::start().await;
    server.default_answer(
        "/magic-auth/v2/auth/verify-phone-number",
        Canned::json(200, json!({"phone_number": NUMBER, "verified": true})),
    );
    let fe_code = FeCode::generate();
    let glide = server.glide().with_correlation_id("corr-7");
    let request = ProcessRequest::new(GlideSession::from_json(session_json()).unwrap(), "cred-xyz")
        .with_fe_code(fe_code.clone());
    glide.verify_phone_number(&request).await.unwrap();

    let logs = captured.text();
    assert!(logs.contains("glide api call"), "{logs}");
    assert!(
        logs.contains("/magic-auth/v2/auth/verify-phone-number"),
        "{logs}"
    );
    assert!(logs.contains("corr-7"), "{logs}");
    for secret in [CLIENT_SECRET, "tok-1", DIGITS, fe_code.secret(), "cred-xyz"] {
        assert!(!logs.contains(secret), "{secret} in logs:\n{logs}");
    }
}

#[test]
fn from_env_reads_the_three_variables() {
    // the only test in this binary that touches these variables
    std::env::remove_var("GLIDE_CLIENT_ID");
    std::env::remove_var("GLIDE_CLIENT_SECRET");
    std::env::remove_var("GLIDE_API_BASE_URL");
    assert!(matches!(
        Glide::from_env(),
        Err(glide_core::Error::Config(_))
    ));
    std::env::set_var("GLIDE_CLIENT_ID", "env-id");
    assert!(Glide::from_env().is_err(), "secret required");
    std::env::set_var("GLIDE_CLIENT_SECRET", "env-secret");
    let glide = Glide::from_env().unwrap();
    assert_eq!(glide.base_url().as_str(), "https://api.glideidentity.app/");
    assert_eq!(glide.client_id().as_str(), "env-id");
    std::env::set_var("GLIDE_API_BASE_URL", "http://127.0.0.1:8910");
    assert_eq!(
        Glide::from_env().unwrap().base_url().as_str(),
        "http://127.0.0.1:8910/"
    );
    std::env::set_var("GLIDE_API_BASE_URL", "not a url");
    assert!(Glide::from_env().is_err());
}
