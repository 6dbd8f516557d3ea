//! Requests Glide would refuse are refused before anything is sent.
#![allow(clippy::unwrap_used)]

mod client_support;

use client_support::TestServer;
use glide_core::api::{
    ClientInfo, ConsentData, EligibilityRequest, GlideSession, Plmn, PrepareOptions,
    PrepareRequest, ProcessRequest,
};
use glide_core::binding::FeCode;
use glide_core::{Error, PhoneNumber, Strategy, UseCase};

fn ua() -> ClientInfo {
    ClientInfo::new("Mozilla/5.0")
}

fn verify() -> PrepareRequest {
    PrepareRequest::verify_phone_number(&PhoneNumber::parse("+15555550100").unwrap(), ua())
        .with_fe_hash(&FeCode::generate().hash())
}

fn field(result: Result<(), Error>) -> &'static str {
    match result {
        Err(Error::Validation { field, .. }) => field,
        other => panic!("expected a validation error, got {other:?}"),
    }
}

#[tokio::test]
async fn refused_prepares_send_nothing() {
    let server = TestServer::start().await;
    let glide = server.glide();
    let with_number = |n: &str| {
        let mut r = verify();
        r.phone_number = Some(n.to_owned());
        r
    };
    let cases: Vec<(PrepareRequest, &str)> = vec![
        (with_number("15555550100"), "phone_number"),
        (with_number("+05555550100"), "phone_number"),
        (with_number("+1"), "phone_number"),
        (with_number("+1234567890123456"), "phone_number"),
        (with_number("+1 555 555 0100"), "phone_number"),
        (
            {
                let mut r = verify();
                r.phone_number = None;
                r
            },
            "phone_number",
        ),
        (
            {
                let mut r = PrepareRequest::get_phone_number(ua());
                r.phone_number = Some("+15555550100".into());
                r
            },
            "phone_number",
        ),
        (
            {
                let mut r = verify();
                r.use_case = None;
                r
            },
            "use_case",
        ),
        (verify().with_plmn(Plmn::new("31", "260")), "plmn.mcc"),
        (verify().with_plmn(Plmn::new("3100", "260")), "plmn.mcc"),
        (verify().with_plmn(Plmn::new("310", "2")), "plmn.mnc"),
        (verify().with_plmn(Plmn::new("310", "26a")), "plmn.mnc"),
        (verify().with_session_timeout(59), "session_timeout"),
        (verify().with_session_timeout(901), "session_timeout"),
        (
            {
                let mut r = verify().with_strategy(Strategy::Link);
                r.fe_hash = None;
                r
            },
            "fe_hash",
        ),
        (
            {
                let mut r = verify();
                r.fe_hash = Some("abc".into());
                r
            },
            "fe_hash",
        ),
        (
            verify().with_strategy(Strategy::Sms),
            "authentication_strategy",
        ),
        (
            PrepareRequest::verify_phone_number(
                &PhoneNumber::parse("+15555550100").unwrap(),
                ClientInfo::new(" "),
            ),
            "client_info.user_agent",
        ),
        (verify().with_public_key("AAAA"), "public_key"),
        (
            verify().with_options(PrepareOptions {
                theme: Some("t".repeat(33)),
                ..PrepareOptions::default()
            }),
            "options.theme",
        ),
        (
            verify().with_consent(ConsentData {
                consent_text: "I agree".into(),
                policy_link: "javascript:alert(1)".into(),
                policy_text: None,
            }),
            "consent_data.policy_link",
        ),
    ];
    for (request, expected) in cases {
        let got = field(glide.prepare(&request).await.map(|_| ()));
        assert_eq!(got, expected, "{request:?}");
    }
    assert!(
        server.calls().is_empty(),
        "nothing sent, not even a token request"
    );
}

#[test]
fn accepted_edges() {
    for timeout in [60, 900] {
        assert!(verify().with_session_timeout(timeout).validate().is_ok());
    }
    assert!(verify()
        .with_plmn(Plmn::new("999", "01"))
        .validate()
        .is_ok());
    assert!(verify()
        .with_plmn(Plmn::new("310", "260"))
        .validate()
        .is_ok());
    let child = PrepareRequest::child_of("parent-1", ua());
    assert_eq!(child.use_case, None);
    assert!(
        child.validate().is_ok(),
        "child sessions inherit the use case"
    );
    let key = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        [[4u8].as_slice(), &[7u8; 64]].concat(),
    );
    assert!(verify().with_public_key(key).validate().is_ok());
    let mut upper = verify();
    upper.fe_hash = Some("AB".repeat(32));
    assert!(upper.validate().is_ok());
    assert!(PrepareRequest::get_phone_number(ua())
        .with_strategy(Strategy::Desktop)
        .validate()
        .is_ok());
}

#[tokio::test]
async fn other_requests_are_checked_too() {
    let server = TestServer::start().await;
    let glide = server.glide();
    let no_target = EligibilityRequest {
        phone_number: None,
        plmn: None,
        client_info: ua(),
    };
    assert_eq!(
        field(glide.eligibility(&no_target).await.map(|_| ())),
        "phone_number"
    );
    let session = GlideSession::from_json(client_support::session_json()).unwrap();
    let empty = ProcessRequest::new(session, " ");
    assert_eq!(
        field(
            glide
                .process(UseCase::GetPhoneNumber, &empty)
                .await
                .map(|_| ())
        ),
        "credential"
    );
    for key in ["", "a;b", "a b", "a\r\nx"] {
        assert_eq!(field(glide.status(key).await.map(|_| ())), "session_key");
        assert_eq!(
            field(glide.public_status(key).await.map(|_| ())),
            "session_key"
        );
        assert_eq!(field(glide.report_invocation(key).await), "session_key");
    }
    assert!(server.calls().is_empty());
    assert!(GlideSession::from_json(serde_json::json!({"session_key": 5})).is_err());
    assert!(serde_json::from_str::<GlideSession>(r#"{"nonce":"x"}"#).is_err());
}
