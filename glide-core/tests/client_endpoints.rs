//! Every endpoint of the current Glide API, round trip over 127.0.0.1: the request the client
//! sends (paths, headers, field names) and the answer it reads (unknown fields ignored).
#![allow(clippy::unwrap_used)]

mod client_support;

use client_support::{session_json, Canned, TestServer};
use glide_core::api::{
    ClientInfo, CompleteRequest, EligibilityRequest, GlideSession, LinkType, Plmn, PrepareOptions,
    PrepareRequest, ProcessOutcome, ProcessRequest, SessionStatus,
};
use glide_core::binding::{fe_hash, AggCode, FeCode};
use glide_core::{PhoneNumber, RiskLevel, Strategy, UseCase};
use serde_json::json;

const PREPARE: &str = "/magic-auth/v2/auth/prepare";
const UA: &str = "Mozilla/5.0 (Linux; Android 14) Chrome/130";

fn number() -> PhoneNumber {
    PhoneNumber::parse("+15555550100").unwrap()
}

#[tokio::test]
async fn prepare_ts43_sends_glide_field_names_and_reads_the_answer() {
    let server = TestServer::start().await;
    server.script(
        PREPARE,
        [Canned::json(
            200,
            json!({
                "authentication_strategy": "ts43",
                "session": session_json(),
                "data": {"protocol": "openid4vp-v1-unsigned", "data": {
                    "nonce": "n0nce", "response_mode": "dc_api", "response_type": "vp_token",
                    "dcql_query": {"credentials": [{"id": "glide", "format": "dc-authorization+sd-jwt",
                        "meta": {"vct_values": ["number-verification/verify/ts43"], "credential_authorization_jwt": "a.b.c"}}]},
                    "future_member": 1}},
                "session_expires_in_seconds": 300,
                "something_new": {"x": 1}
            }),
        )],
    );
    let fe_code = FeCode::parse(&"AB".repeat(32)).unwrap();
    let request = PrepareRequest::verify_phone_number(
        &number(),
        ClientInfo::new(UA).with_platform("Linux armv8l"),
    )
    .with_plmn(Plmn::new("310", "260"))
    .with_fe_hash(&fe_code.hash())
    .with_session_timeout(300)
    .with_options(PrepareOptions {
        theme: Some("dark".into()),
        link_type: Some(LinkType::AppClip),
        ..PrepareOptions::default()
    })
    .with_id("web-1-abc");
    let answer = server.glide().prepare(&request).await.unwrap();

    assert_eq!(answer.authentication_strategy, Strategy::Ts43);
    assert_eq!(answer.session_key(), "ee25b966c9395f0b");
    assert_eq!(
        answer.session.to_json(),
        session_json(),
        "session kept verbatim"
    );
    assert_eq!(answer.session.use_case(), Some(UseCase::VerifyPhoneNumber));
    assert_eq!(answer.session_expires_in_seconds, Some(300));
    let ts43 = answer.ts43_data().unwrap();
    assert_eq!(ts43.protocol, "openid4vp-v1-unsigned");
    assert_eq!(ts43.data.response_type, "vp_token");
    assert_eq!(
        ts43.data.dcql_query["credentials"][0]["meta"]["credential_authorization_jwt"],
        "a.b.c"
    );
    assert!(
        answer.link_data().is_err(),
        "wrong strategy accessor refused"
    );

    let calls = server.calls_to(PREPARE);
    assert_eq!(calls.len(), 1);
    let call = &calls[0];
    assert_eq!(call.method, "POST");
    assert_eq!(call.header("authorization"), Some("Bearer tok-1"));
    assert_eq!(call.header("content-type"), Some("application/json"));
    assert_eq!(call.header("accept"), Some("application/json"));
    assert!(call.header("user-agent").unwrap().starts_with("glide-rs/"));
    let mut body = call.json();
    let nonce = body["nonce"].as_str().unwrap().to_owned();
    assert_eq!(nonce.len(), 32);
    assert!(nonce.bytes().all(|b| b.is_ascii_alphanumeric()));
    body.as_object_mut().unwrap().remove("nonce");
    assert_eq!(
        body,
        json!({
            "use_case": "VerifyPhoneNumber",
            "phone_number": "+15555550100",
            "plmn": {"mcc": "310", "mnc": "260"},
            "client_info": {"user_agent": UA, "platform": "Linux armv8l"},
            "options": {"theme": "dark", "link_type": "app_clip"},
            "session_timeout": 300,
            "fe_hash": fe_hash(&"ab".repeat(32)),
            "id": "web-1-abc"
        })
    );
}

#[tokio::test]
async fn prepare_link_and_legacy_fe_code_is_stripped() {
    let server = TestServer::start().await;
    let legacy = "c".repeat(64);
    server.script(
        PREPARE,
        [Canned::json(
            200,
            json!({
                "authentication_strategy": "link",
                "session": {"session_key": "00000000000000aa", "protocol_type": "link"},
                "data": {"url": "https://carrier.example/clip", "status_url": "http://x/public/status/00000000000000aa",
                         "return_url": "https://app.example/back", "link_type": "app_clip",
                         "params": {"a": "b"}, "fe_code": legacy}
            }),
        )],
    );
    let fe_code = FeCode::generate();
    let request = PrepareRequest::get_phone_number(ClientInfo::new("iPhone"))
        .with_strategy(Strategy::Link)
        .with_fe_hash(&fe_code.hash())
        .with_nonce("fixed-nonce");
    let mut answer = server.glide().prepare(&request).await.unwrap();
    let link = answer.link_data().unwrap();
    assert_eq!(link.url, "https://carrier.example/clip");
    assert_eq!(link.return_url.as_deref(), Some("https://app.example/back"));
    assert_eq!(link.link_type.as_deref(), Some("app_clip"));
    assert_eq!(link.params.unwrap()["a"], "b");
    assert!(!format!("{:?}", answer.link_data().unwrap()).contains(&legacy));
    assert_eq!(answer.take_fe_code().unwrap().secret(), legacy);
    assert!(answer.data.get("fe_code").is_none());
    assert!(!serde_json::to_string(&answer).unwrap().contains(&legacy));

    let body = server.calls_to(PREPARE)[0].json();
    assert_eq!(body["authentication_strategy"], "link");
    assert_eq!(body["nonce"], "fixed-nonce");
    assert_eq!(body["use_case"], "GetPhoneNumber");
    assert!(body.get("phone_number").is_none());
}

#[tokio::test]
async fn prepare_desktop_new_and_old_shapes() {
    let server = TestServer::start().await;
    let challenge = json!({"pattern": "triangle", "color": "blue", "session_id": "s1"});
    server.script(
        PREPARE,
        [
            Canned::json(
                200,
                json!({"authentication_strategy": "desktop", "session": {"session_key": "s1"},
                  "data": {"protocol": "qr-auth-v1", "data": {"session_id": "s1",
                      "qr_image": "data:image/png;base64,NEW", "url": "https://m.example/s1",
                      "status_url": "https://api/public/status/s1", "challenge": challenge}},
                  "challenge": challenge}),
            ),
            Canned::json(
                200,
                json!({"authentication_strategy": "desktop", "session": {"session_key": "s2"},
                  "data": {"protocol": "qr-auth-v1", "data": {"session_id": "s2",
                      "ios_qr_image": "data:image/png;base64,IOS", "android_qr_image": "data:image/png;base64,AND",
                      "ios_url": "https://m.example/ios", "android_url": "https://m.example/and",
                      "polling_interval": 2000, "expires_in": 300}}}),
            ),
        ],
    );
    let glide = server.glide();
    let request = PrepareRequest::get_phone_number(ClientInfo::new("Mozilla/5.0 (Macintosh)"));
    let new = glide.prepare(&request).await.unwrap();
    assert_eq!(new.challenge.as_ref().unwrap().pattern, "triangle");
    let qr = new.desktop_data().unwrap();
    assert_eq!(qr.protocol, "qr-auth-v1");
    assert_eq!(qr.data.best_qr_image(), Some("data:image/png;base64,NEW"));
    assert_eq!(qr.data.best_url(), Some("https://m.example/s1"));
    assert_eq!(qr.data.challenge.unwrap().color, "blue");

    let old = glide
        .prepare(&request)
        .await
        .unwrap()
        .desktop_data()
        .unwrap();
    assert_eq!(old.data.best_qr_image(), Some("data:image/png;base64,IOS"));
    assert_eq!(old.data.best_url(), Some("https://m.example/ios"));
    assert_eq!(old.data.polling_interval, Some(2000));
    assert_eq!(old.data.expires_in, Some(300));
    assert_eq!(server.token_requests(), 1, "token reused");
}

#[tokio::test]
async fn verify_and_get_phone_number() {
    let server = TestServer::start().await;
    server.script(
        "/magic-auth/v2/auth/verify-phone-number",
        [Canned::json(
            200,
            json!({"phone_number": "+15555550100", "verified": true, "aud": "https://app.example",
                   "sim_swap": {"checked": true, "risk_level": "RISK_LEVEL_LOW", "age_band": "older than query window",
                                "carrier_name": "Test", "checked_at": "2026-01-01T00:00:00Z"},
                   "device_swap": {"checked": true, "risk_level": "RISK_LEVEL_HIGH", "age_band": "1-2 days"},
                   "phone_number_details": {"country_code": 1, "national_number": "5555550100", "region_code": "US"},
                   "unknown": true}),
        )],
    );
    server.script(
        "/magic-auth/v2/auth/get-phone-number",
        [Canned::json(
            200,
            json!({"phone_number": "+15555550199",
                   "sim_swap": {"checked": false, "reason": "carrier_not_supported"}}),
        )],
    );
    let glide = server.glide();
    let session = GlideSession::from_json(session_json()).unwrap();
    let fe_code = FeCode::generate();
    let request = ProcessRequest::new(session.clone(), "jwt~").with_fe_code(fe_code.clone());

    let ProcessOutcome::Done(result) = glide.verify_phone_number(&request).await.unwrap() else {
        panic!("expected a result")
    };
    assert_eq!(result.phone_number, number());
    assert_eq!(result.verified, Some(true));
    assert_eq!(result.aud.as_deref(), Some("https://app.example"));
    let sim = result.sim_swap.unwrap();
    assert_eq!(sim.risk_level, Some(RiskLevel::Low));
    assert_eq!(sim.carrier_name.as_deref(), Some("Test"));
    assert_eq!(
        result.device_swap.unwrap().risk_level,
        Some(RiskLevel::High)
    );
    let details = result.phone_number_details.unwrap();
    assert_eq!(details.country_code, Some(1));
    assert_eq!(details.region_code.as_deref(), Some("US"));

    let body = server.calls_to("/magic-auth/v2/auth/verify-phone-number")[0].json();
    assert_eq!(
        body,
        json!({"session": session_json(), "credential": "jwt~", "fe_code": fe_code.secret()})
    );

    let plain = ProcessRequest::new(session, "ee25b966c9395f0b");
    let ProcessOutcome::Done(result) = glide
        .process(UseCase::GetPhoneNumber, &plain)
        .await
        .unwrap()
    else {
        panic!("expected a result")
    };
    assert_eq!(result.phone_number.as_str(), "+15555550199");
    assert_eq!(result.verified, None);
    assert_eq!(
        result.sim_swap.unwrap().reason.as_deref(),
        Some("carrier_not_supported")
    );
    let body = server.calls_to("/magic-auth/v2/auth/get-phone-number")[0].json();
    assert_eq!(
        body,
        json!({"session": session_json(), "credential": "ee25b966c9395f0b"})
    );
}

#[tokio::test]
async fn complete_accepts_json_or_empty_2xx_and_refuses_garbage() {
    let server = TestServer::start().await;
    let path = "/magic-auth/v2/auth/complete";
    server.script(
        path,
        [
            Canned::json(200, json!({"status": "completed"})),
            Canned::text(204, ""),
            Canned::text(200, "ok, not json"),
        ],
    );
    let glide = server.glide();
    let fe_code = FeCode::generate();
    let agg = AggCode::parse(&"D".repeat(64)).unwrap();
    let request = CompleteRequest::new("k1", fe_code.clone(), agg).with_user_agent("Safari");
    glide.complete(&request).await.unwrap();
    glide.complete(&request).await.unwrap();
    // A 2xx that is not Glide speaking is not a completion.
    let error = glide.complete(&request).await.unwrap_err();
    assert!(
        matches!(error, glide_core::Error::Decode { status: 200, .. }),
        "{error:?}"
    );
    let body = server.calls_to(path)[0].json();
    assert_eq!(
        body,
        json!({"session_key": "k1", "fe_code": fe_code.secret(), "agg_code": "d".repeat(64), "user_agent": "Safari"})
    );
}

#[tokio::test]
async fn report_invocation_sends_session_id() {
    let server = TestServer::start().await;
    let path = "/magic-auth/v2/auth/report-invocation";
    server.default_answer(path, Canned::json(200, json!({"success": true})));
    let glide = server.glide();
    glide.report_invocation("ee25b966c9395f0b").await.unwrap();
    glide.report_invocation("ee25b966c9395f0b").await.unwrap();
    let calls = server.calls_to(path);
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].json(), json!({"session_id": "ee25b966c9395f0b"}));
}

#[tokio::test]
async fn status_with_bearer_and_public_status_without() {
    let server = TestServer::start().await;
    let status = json!({"session_key": "k1", "status": "scanned", "protocol": "desktop",
        "created_at": "2026-01-01T00:00:00Z", "last_updated": "2026-01-01T00:00:05Z",
        "device_info": {"type": "mobile", "os": "iOS", "browser": "Safari"},
        "scanned_at": "2026-01-01T00:00:05Z", "grace_expires_at": "2026-01-01T00:01:05Z",
        "extra": {"reason": "none"}, "phone_number": "ignored"});
    server.default_answer(
        "/magic-auth/v2/auth/status/k1",
        Canned::json(200, status.clone()),
    );
    let mut public = status.clone();
    public["status"] = json!("brand_new_state");
    server.default_answer("/public/status/k1", Canned::json(200, public));
    let glide = server.glide();

    let s = glide.status("k1").await.unwrap();
    assert_eq!(s.status, SessionStatus::Scanned);
    assert_eq!(s.device_info.unwrap().os, "iOS");
    assert_eq!(s.extra.unwrap()["reason"], "none");
    assert_eq!(
        server.calls_to("/magic-auth/v2/auth/status/k1")[0].header("authorization"),
        Some("Bearer tok-1")
    );

    let p = glide.public_status("k1").await.unwrap();
    assert_eq!(p.status, SessionStatus::Other("brand_new_state".into()));
    assert_eq!(
        serde_json::to_value(&p).unwrap()["status"],
        "brand_new_state"
    );
    let call = &server.calls_to("/public/status/k1")[0];
    assert_eq!(call.method, "GET");
    assert_eq!(call.header("authorization"), None);
}

#[tokio::test]
async fn eligibility_round_trip() {
    let server = TestServer::start().await;
    let path = "/magic-auth/v2/auth/eligibility";
    server.script(
        path,
        [Canned::json(
            200,
            json!({"eligible": true, "available_options": [
                {"authentication_strategy": "ts43", "name": "TS43", "description": "d",
                 "available_platforms": ["android"],
                 "requirements": {"target": "self", "android_min_version": 14, "future_key": "kept"}},
                {"authentication_strategy": "quantum", "name": "Q", "description": "d", "available_platforms": []}
            ]}),
        )],
    );
    let request = EligibilityRequest::for_plmn(Plmn::new("310", "260"), ClientInfo::new(UA));
    let answer = server.glide().eligibility(&request).await.unwrap();
    assert!(answer.eligible);
    assert_eq!(answer.available_options.len(), 2);
    let req = answer.available_options[0].requirements.as_ref().unwrap();
    assert_eq!(req.target.as_deref(), Some("self"));
    assert_eq!(req.android_min_version, Some(14));
    assert_eq!(req.other["future_key"], "kept");
    assert_eq!(
        server.calls_to(path)[0].json(),
        json!({"plmn": {"mcc": "310", "mnc": "260"}, "client_info": {"user_agent": UA}})
    );
}

#[tokio::test]
async fn correlation_id_is_forwarded() {
    let server = TestServer::start().await;
    server.default_answer(
        "/public/status/k1",
        Canned::json(200, json!({"session_key": "k1", "status": "pending"})),
    );
    let glide = server.glide();
    glide
        .with_correlation_id("corr-42")
        .public_status("k1")
        .await
        .unwrap();
    glide.public_status("k1").await.unwrap();
    let calls = server.calls_to("/public/status/k1");
    assert_eq!(calls[0].header("x-correlation-id"), Some("corr-42"));
    assert_eq!(
        calls[1].header("x-correlation-id"),
        None,
        "the original client is unchanged"
    );
}

#[tokio::test]
async fn base_url_with_a_path_prefix_and_encoded_session_keys() {
    let server = TestServer::start().await;
    server.default_answer(
        "/prefix/public/status/a%2Fb",
        Canned::json(200, json!({"session_key": "a/b", "status": "completed"})),
    );
    let glide =
        glide_core::api::Glide::builder(client_support::CLIENT_ID, client_support::CLIENT_SECRET)
            .base_url(format!("{}/prefix/", server.base))
            .build()
            .unwrap();
    let s = glide.public_status("a/b").await.unwrap();
    assert!(s.status.is_final());
}
