//! The verification chain through the engine against the real sandbox: a not-eligible number
//! from start to session, the one attempt budget, and a chain only its own browser can touch.
//! (The whole matrix runs on both adapters in `tests/src/scenarios/chain.rs`.)

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use glide_core::endpoint::{ChainStep, GlideAuth, VerificationChain};
use glide_sandbox::Sandbox;
use serde_json::{json, Value};

use crate::endpoint_support::engine::{engine, post, ANDROID};
use crate::endpoint_support::{handle, EndpointRequest, EndpointResponse};

/// Not eligible for Magical Auth: codes instead.
const NOT_ELIGIBLE: &str = "+15555550106";

/// A browser's cookies, as the responses set them.
#[derive(Default)]
struct Jar(BTreeMap<String, String>);

impl Jar {
    fn absorb(&mut self, response: &EndpointResponse) {
        for (name, value) in &response.headers {
            if name != "set-cookie" {
                continue;
            }
            let pair = value.split(';').next().unwrap_or_default();
            if let Some((k, v)) = pair.split_once('=') {
                if value.contains("Max-Age=0") {
                    self.0.remove(k);
                } else {
                    self.0.insert(k.to_owned(), v.to_owned());
                }
            }
        }
    }

    fn header(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// Magical Auth, then SMS, then e-mail.
fn codes_chain() -> VerificationChain {
    VerificationChain::new()
        .step(ChainStep::MagicalAuth, Duration::from_secs(120))
        .step(ChainStep::Sms, Duration::from_secs(300))
        .step(ChainStep::Email, Duration::from_secs(300))
}

async fn chain_engine(chain: VerificationChain) -> (Sandbox, GlideAuth) {
    engine(move |b| {
        b.email_on_file(|_: &glide_core::PhoneNumber| {
            glide_core::legacy::Email::parse("owner@example.com").ok()
        })
        .verification_chain(chain)
    })
    .await
}

/// A chain call from the browser holding `jar`; its cookies are kept.
async fn send(auth: &GlideAuth, jar: &mut Jar, path: &str, body: Option<Value>) -> (u16, Value) {
    let request = match body {
        Some(body) => post(path, body, &jar.header()),
        None => {
            let mut headers = vec![("host".to_owned(), "app.test".to_owned())];
            if !jar.0.is_empty() {
                headers.push(("cookie".to_owned(), jar.header()));
            }
            EndpointRequest {
                method: "GET".into(),
                path: path.into(),
                headers,
                peer_addr: Some([127, 0, 0, 1].into()),
                ..Default::default()
            }
        }
    };
    let route = auth.match_route(&request.path).unwrap();
    let response = handle(auth, route, request).await;
    jar.absorb(&response);
    let body = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
    (response.status, body)
}

async fn start(auth: &GlideAuth, jar: &mut Jar, phone: &str) -> (u16, Value) {
    send(
        auth,
        jar,
        "/api/magical-auth/verification/start",
        Some(json!({"phone_number": phone, "client_info": {"user_agent": ANDROID}})),
    )
    .await
}

/// The chain as the browser holding `jar` reads it.
async fn state(auth: &GlideAuth, jar: &mut Jar) -> (u16, Value) {
    send(auth, jar, "/api/magical-auth/verification", None).await
}

async fn advance(auth: &GlideAuth, jar: &mut Jar, event: Value) -> (u16, Value) {
    send(
        auth,
        jar,
        "/api/magical-auth/verification/advance",
        Some(event),
    )
    .await
}

/// The browser holding `jar` runs Magical Auth's prepare for `phone` (none: GetPhoneNumber):
/// the status and body of the answer.
async fn prepare(auth: &GlideAuth, jar: &mut Jar, phone: Option<&str>) -> (u16, Value) {
    let mut body = json!({"use_case": "GetPhoneNumber", "client_info": {"user_agent": ANDROID}});
    if let Some(phone) = phone {
        body["use_case"] = json!("VerifyPhoneNumber");
        body["phone_number"] = json!(phone);
    }
    send(auth, jar, "/api/magical-auth/prepare", Some(body)).await
}

/// The browser holding `jar` runs Magical Auth for the not-eligible number (Glide answers its
/// prepare 422 `CARRIER_NOT_ELIGIBLE`), then says so: the chain's answer.
async fn past_magical_auth(auth: &GlideAuth, jar: &mut Jar) -> Value {
    past_magical_auth_for(auth, jar, NOT_ELIGIBLE).await
}

/// [`past_magical_auth`] for `phone`, another number not eligible for Magical Auth.
async fn past_magical_auth_for(auth: &GlideAuth, jar: &mut Jar, phone: &str) -> Value {
    let (status, body) = prepare(auth, jar, Some(phone)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("CARRIER_NOT_ELIGIBLE")),
        "{body}"
    );
    let failed = json!({"event": "step_failed", "step": "magical_auth", "reason": "not_eligible"});
    advance(auth, jar, failed).await.1
}

/// The browser holding `jar` runs Magical Auth for `phone` while Glide fails (500), then says
/// so: the chain's answer.
async fn past_magical_auth_unavailable(
    sandbox: &Sandbox,
    auth: &GlideAuth,
    jar: &mut Jar,
    phone: Option<&str>,
) -> Value {
    sandbox.control().add_fault(glide_sandbox::Fault::status(
        "/magic-auth/v2/auth/prepare",
        500,
    ));
    let (status, body) = prepare(auth, jar, phone).await;
    assert_eq!(status, 503, "Glide failed: {body}");
    let failed = json!({"event": "step_failed", "step": "magical_auth", "reason": "not_eligible"});
    advance(auth, jar, failed).await.1
}

fn wrong(code: &str) -> String {
    format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000)
}

#[tokio::test]
async fn a_not_eligible_number_goes_from_start_to_a_session_by_code() {
    let (sandbox, auth) = chain_engine(codes_chain()).await;
    let mut jar = Jar::default();
    let (status, s) = start(&auth, &mut jar, NOT_ELIGIBLE).await;
    assert_eq!(status, 200, "{s}");
    assert_eq!(
        (s["step"].as_str(), s["next"]["action"].as_str()),
        (Some("magical_auth"), Some("magical_auth"))
    );
    assert_eq!(s["attempts_left"], 9, "the start draws one: {s}");
    assert_eq!(s["expires_in_seconds"], 900, "{s}");
    assert!(jar.0.contains_key("glide_chain"), "the chain's cookie");

    let s = past_magical_auth(&auth, &mut jar).await;
    assert_eq!(
        (s["step"].as_str(), s["next"]["action"].as_str()),
        (Some("sms"), Some("send")),
        "{s}"
    );
    assert_eq!(s["attempts_left"], 9, "a failed step is free: {s}");
    let (_, s) = advance(&auth, &mut jar, json!({"event": "send", "step": "sms"})).await;
    assert_eq!(s["next"]["action"], "enter_code", "{s}");
    assert_eq!(s["next"]["channels"], json!(["email"]), "{s}");
    assert_eq!(s["attempts_left"], 8, "the send draws one: {s}");
    assert!(
        !jar.0.contains_key("glide_legacy"),
        "the chain keeps the code flow's id"
    );

    let code = sandbox
        .control()
        .legacy_otp(NOT_ELIGIBLE)
        .expect("a code was sent");
    let (status, body) = advance(
        &auth,
        &mut jar,
        json!({"event": "code", "step": "sms", "code": wrong(&code)}),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("INVALID_CODE")),
        "{body}"
    );
    assert_eq!(body["attempts_left"], 7, "{body}");
    assert!(!jar.0.contains_key("glide_session"));

    let (status, s) = advance(
        &auth,
        &mut jar,
        json!({"event": "code", "step": "sms", "code": code}),
    )
    .await;
    assert_eq!((status, s["step"].as_str()), (200, Some("verified")), "{s}");
    let session = jar
        .0
        .get("glide_session")
        .expect("a verified session")
        .clone();
    let phone = auth
        .request_context([format!("glide_session={session}").as_bytes()])
        .verified_phone()
        .await
        .unwrap()
        .expect("verified");
    assert_eq!(phone.phone_number.as_str(), NOT_ELIGIBLE);
    assert_eq!(phone.strategy.as_str(), "sms");
    let (status, s) = state(&auth, &mut jar).await;
    assert_eq!((status, s["step"].as_str()), (200, Some("verified")), "{s}");

    let (status, body) = advance(&auth, &mut jar, json!({"event": "send", "step": "sms"})).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("SESSION_ALREADY_USED")),
        "{body}"
    );
}

#[tokio::test]
async fn the_attempt_budget_runs_out_for_every_kind_of_try() {
    let (sandbox, auth) = chain_engine(codes_chain().attempts(3, Duration::from_secs(900))).await;
    let mut jar = Jar::default();
    let (_, s) = start(&auth, &mut jar, NOT_ELIGIBLE).await;
    assert_eq!(s["attempts_left"], 2, "{s}");
    past_magical_auth(&auth, &mut jar).await;
    let (_, s) = advance(&auth, &mut jar, json!({"event": "send", "step": "sms"})).await;
    assert_eq!(s["attempts_left"], 1, "{s}");
    let code = sandbox.control().legacy_otp(NOT_ELIGIBLE).unwrap();
    let (status, _) = advance(
        &auth,
        &mut jar,
        json!({"event": "code", "step": "sms", "code": wrong(&code)}),
    )
    .await;
    assert_eq!(status, 401);
    // Nothing left: even the right code is not checked.
    let (status, body) = advance(
        &auth,
        &mut jar,
        json!({"event": "code", "step": "sms", "code": code}),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (429, Some("ATTEMPTS_EXHAUSTED")),
        "{body}"
    );
    assert!(!jar.0.contains_key("glide_session"));
    // A new chain for the same number continues the same budget.
    let mut again = Jar::default();
    let (status, body) = start(&auth, &mut again, NOT_ELIGIBLE).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (429, Some("ATTEMPTS_EXHAUSTED")),
        "{body}"
    );
}

#[tokio::test]
async fn a_chain_answers_only_its_own_browser() {
    let (_sandbox, auth) = chain_engine(codes_chain()).await;
    let mut owner = Jar::default();
    let (status, _) = start(&auth, &mut owner, NOT_ELIGIBLE).await;
    assert_eq!(status, 200);
    let mut stranger = Jar::default();
    let (status, body) = state(&auth, &mut stranger).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("MISSING_BINDING_COOKIE")),
        "{body}"
    );
    stranger.0.insert("glide_chain".into(), "A".repeat(43));
    let (status, body) = advance(
        &auth,
        &mut stranger,
        json!({"event": "send", "step": "sms"}),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("SESSION_NOT_FOUND")),
        "{body}"
    );
    // A step the chain is not at.
    let (status, body) = advance(&auth, &mut owner, json!({"event": "send", "step": "sms"})).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("SESSION_NOT_ELIGIBLE")),
        "{body}"
    );
    // A start for a number that is not a number.
    let (status, body) = start(&auth, &mut Jar::default(), "5555550106").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("VALIDATION_ERROR")),
        "{body}"
    );
}

#[tokio::test]
async fn glide_unavailable_for_a_send_moves_the_chain_on() {
    let (sandbox, auth) = chain_engine(codes_chain()).await;
    let mut jar = Jar::default();
    start(&auth, &mut jar, NOT_ELIGIBLE).await;
    past_magical_auth(&auth, &mut jar).await;
    sandbox.control().add_fault(glide_sandbox::Fault::status(
        "/magic-auth/verification/start",
        500,
    ));
    let (status, s) = advance(&auth, &mut jar, json!({"event": "send", "step": "sms"})).await;
    assert_eq!(status, 200, "{s}");
    assert_eq!(
        (s["step"].as_str(), s["reason"].as_str()),
        (Some("email"), Some("unavailable")),
        "{s}"
    );
}

#[tokio::test]
async fn a_read_of_the_chain_shows_a_step_that_timed_out() {
    let clock = glide_core::clock::ManualClock::new();
    let shared: glide_core::clock::SharedClock = std::sync::Arc::new(clock.clone());
    let (_sandbox, auth) = engine(move |b| {
        b.email_on_file(|_: &glide_core::PhoneNumber| None)
            .verification_chain(codes_chain())
            .clock(shared)
    })
    .await;
    let mut jar = Jar::default();
    let (_, s) = start(&auth, &mut jar, NOT_ELIGIBLE).await;
    assert_eq!(s["step"], "magical_auth", "{s}");
    clock.advance(time::Duration::seconds(121));
    let (status, s) = state(&auth, &mut jar).await;
    assert_eq!(status, 200, "{s}");
    assert_eq!(
        (s["step"].as_str(), s["reason"].as_str()),
        (Some("sms"), Some("timed_out")),
        "{s}"
    );
    // And the chain moved for good: the next step takes its own events.
    let (status, s) = advance(&auth, &mut jar, json!({"event": "send", "step": "sms"})).await;
    assert_eq!(
        (status, s["next"]["action"].as_str()),
        (200, Some("enter_code")),
        "{s}"
    );
}

#[tokio::test]
async fn a_risk_denial_ends_the_chain_whatever_the_browser_says() {
    let (sandbox, auth) = chain_engine(codes_chain()).await;
    let mut jar = Jar::default();
    let (_, s) = start(&auth, &mut jar, "+15555550101").await;
    assert_eq!(s["step"], "magical_auth", "{s}");
    // Magical Auth verifies the number with a SIM swapped hours ago: denied.
    let (status, body, _) =
        crate::endpoint_support::engine::verify_ts43(&sandbox, &auth, "+15555550101").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("RISK_POLICY_DENIED"))
    );
    // The chain has ended on it; the browser's claim that the carrier was not eligible, to
    // reach the SMS code, finds it ended.
    let (status, s) = state(&auth, &mut jar).await;
    assert_eq!(status, 200, "{s}");
    assert_eq!(
        (s["step"].as_str(), s["reason"].as_str()),
        (Some("failed"), Some("risk_denied")),
        "{s}"
    );
    let (status, body) = advance(
        &auth,
        &mut jar,
        json!({"event": "step_failed", "step": "magical_auth", "reason": "not_eligible"}),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("SESSION_ALREADY_USED")),
        "{body}"
    );
}

/// The chain's engine on a manual clock, its store following the same clock (so that records
/// expire as the clock says).
async fn clocked_chain_engine(
    chain: VerificationChain,
) -> (Sandbox, GlideAuth, glide_core::clock::ManualClock) {
    let clock = glide_core::clock::ManualClock::new();
    let shared: glide_core::clock::SharedClock = std::sync::Arc::new(clock.clone());
    let (sandbox, auth) = engine(move |b| {
        b.email_on_file(|_: &glide_core::PhoneNumber| None)
            .store(glide_core::store::MemoryStore::new().with_clock(shared.clone()))
            .verification_chain(chain)
            .clock(shared)
    })
    .await;
    (sandbox, auth, clock)
}

#[tokio::test]
async fn a_timeout_that_does_not_fall_through_ends_the_chain() {
    let strict = codes_chain().falls_through([glide_core::endpoint::StepOutcome::NotEligible]);
    let (_sandbox, auth, clock) = clocked_chain_engine(strict).await;
    let mut jar = Jar::default();
    let (_, s) = start(&auth, &mut jar, NOT_ELIGIBLE).await;
    assert_eq!(s["step"], "magical_auth", "{s}");
    clock.advance(time::Duration::seconds(121));
    let (status, s) = state(&auth, &mut jar).await;
    assert_eq!(status, 200, "{s}");
    assert_eq!(
        (s["step"].as_str(), s["reason"].as_str()),
        (Some("failed"), Some("timed_out")),
        "a timeout moved a chain on that only falls through when not eligible: {s}"
    );
}

#[tokio::test]
async fn an_expired_chain_still_reads_as_expired_an_hour_after_its_deadline() {
    let (_sandbox, auth, clock) = clocked_chain_engine(codes_chain()).await;
    let mut jar = Jar::default();
    let (_, s) = start(&auth, &mut jar, NOT_ELIGIBLE).await;
    let deadline = s["expires_in_seconds"].as_i64().unwrap();
    // Past the deadline by more than an hour (the longest deadline a chain may have): the
    // browser still learns that its chain expired, not that it never existed.
    clock.advance(time::Duration::seconds(deadline + 3600 + 60));
    let (status, s) = state(&auth, &mut jar).await;
    assert_eq!(
        (status, s["code"].as_str()),
        (410, Some("CHAIN_EXPIRED")),
        "{s}"
    );
}

/// `build()` with `chain` (and an e-mail resolver when `email` is set): the refusal's text, or
/// `None` when the engine is built. No call reaches Glide.
fn build_with(chain: VerificationChain, email: bool) -> Option<String> {
    let glide = glide_core::api::Glide::builder("client", "secret")
        .base_url("http://127.0.0.1:9")
        .build()
        .unwrap();
    let mut builder = GlideAuth::builder(glide).verification_chain(chain);
    if email {
        builder = builder.email_on_file(|_: &glide_core::PhoneNumber| None);
    }
    builder.build().err().map(|e| e.to_string())
}

#[test]
fn a_chain_is_checked_when_the_engine_is_built() {
    let sms = || VerificationChain::new().step(ChainStep::Sms, Duration::from_secs(300));
    // Only an e-mail step needs the resolver.
    assert_eq!(build_with(sms(), false), None);
    let email = || VerificationChain::new().step(ChainStep::Email, Duration::from_secs(300));
    let refused = build_with(email(), false).expect("an e-mail step without a resolver");
    assert!(refused.contains("email_on_file"), "{refused}");
    assert_eq!(build_with(email(), true), None);

    // The deadline: from 1 s to an hour, both ends included.
    let hour = Duration::from_secs(3600);
    assert_eq!(
        glide_core::endpoint::MAX_CHAIN_DEADLINE,
        hour,
        "the documented bound"
    );
    let with_deadline = |d| sms().deadline(d).attempts(10, hour * 2);
    for ok in [Duration::from_secs(1), Duration::from_secs(600), hour] {
        assert_eq!(build_with(with_deadline(ok), false), None, "{ok:?}");
    }
    for bad in [
        Duration::ZERO,
        Duration::from_millis(500),
        hour + Duration::from_secs(1),
    ] {
        let refused = build_with(with_deadline(bad), false).expect("a deadline out of bounds");
        assert!(refused.contains("deadline"), "{bad:?}: {refused}");
    }
}

#[tokio::test]
async fn a_channel_is_chosen_only_among_the_chains_other_code_steps() {
    // SMS and e-mail, no carrier check: "magic" is not a step of this chain.
    let (_sandbox, auth) = chain_engine(codes_chain()).await;
    let mut jar = Jar::default();
    start(&auth, &mut jar, NOT_ELIGIBLE).await;
    let s = past_magical_auth(&auth, &mut jar).await;
    assert_eq!(s["step"], "sms", "{s}");
    for (channel, why) in [("sms", "the step it is at"), ("magic", "not in the chain")] {
        let choose = json!({"event": "choose", "step": "sms", "channel": channel});
        let (status, body) = advance(&auth, &mut jar, choose).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (409, Some("SESSION_NOT_ELIGIBLE")),
            "{why}: {body}"
        );
    }
    let (_, s) = state(&auth, &mut jar).await;
    assert_eq!(s["step"], "sms", "still at sms: {s}");
    let choose = json!({"event": "choose", "step": "sms", "channel": "email"});
    let (status, s) = advance(&auth, &mut jar, choose).await;
    assert_eq!((status, s["step"].as_str()), (200, Some("email")), "{s}");
    assert_eq!(s["reason"], "channel_chosen", "{s}");
}

/// Eligible for Magical Auth and for the carrier check.
const MAGIC: &str = "+15555550100";
/// Another eligible number.
const OTHER: &str = "+15555550103";

impl Jar {
    /// The `name=value; …` pairs another call set.
    fn absorb_pairs(&mut self, pairs: &str) {
        for pair in pairs.split("; ") {
            if let Some((k, v)) = pair.split_once('=') {
                self.0.insert(k.to_owned(), v.to_owned());
            }
        }
    }
}

#[tokio::test]
async fn the_magical_auth_step_ends_only_with_a_session_won_for_the_chains_number_after_it_began() {
    use crate::endpoint_support::engine::verify_ts43;
    let (sandbox, auth, clock) = clocked_chain_engine(codes_chain()).await;
    let mut jar = Jar::default();
    // A session for the number, won before the chain began.
    let (status, body, cookies) = verify_ts43(&sandbox, &auth, MAGIC).await;
    assert_eq!(status, 200, "{body}");
    jar.absorb_pairs(&cookies);
    clock.advance(time::Duration::seconds(10));
    let (_, s) = start(&auth, &mut jar, MAGIC).await;
    assert_eq!(s["step"], "magical_auth", "{s}");
    let (_, s) = state(&auth, &mut jar).await;
    assert_eq!(
        s["step"], "magical_auth",
        "a session from before the chain: {s}"
    );
    // A session this browser wins for another number.
    let (status, body, cookies) = verify_ts43(&sandbox, &auth, OTHER).await;
    assert_eq!(status, 200, "{body}");
    jar.absorb_pairs(&cookies);
    let (_, s) = state(&auth, &mut jar).await;
    assert_eq!(
        s["step"], "magical_auth",
        "a session for another number: {s}"
    );
    // This browser's session for the chain's number, won after it began.
    let (status, body, cookies) = verify_ts43(&sandbox, &auth, MAGIC).await;
    assert_eq!(status, 200, "{body}");
    jar.absorb_pairs(&cookies);
    let (_, s) = state(&auth, &mut jar).await;
    assert_eq!(s["step"], "verified", "{s}");
}

#[tokio::test]
async fn verifying_a_number_needs_the_number_getting_one_does_not() {
    let (_sandbox, auth) = chain_engine(codes_chain()).await;
    let start_with = |body: Value| {
        let auth = &auth;
        async move {
            let mut jar = Jar::default();
            send(
                auth,
                &mut jar,
                "/api/magical-auth/verification/start",
                Some(body),
            )
            .await
        }
    };
    let client_info = json!({"user_agent": ANDROID});
    let (status, body) =
        start_with(json!({"use_case": "VerifyPhoneNumber", "client_info": client_info.clone()}))
            .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("VALIDATION_ERROR")),
        "{body}"
    );
    let (status, s) = start_with(json!({"client_info": client_info.clone()})).await;
    assert_eq!(
        (status, s["step"].as_str()),
        (200, Some("magical_auth")),
        "{s}"
    );
    let (status, s) =
        start_with(json!({"use_case": "GetPhoneNumber", "client_info": client_info})).await;
    assert_eq!(
        (status, s["step"].as_str()),
        (200, Some("magical_auth")),
        "{s}"
    );
}

#[tokio::test]
async fn the_carrier_check_step_takes_the_devices_token_never_a_code() {
    let chain = VerificationChain::new()
        .step(ChainStep::MagicalAuth, Duration::from_secs(120))
        .step(ChainStep::Magic, Duration::from_secs(60))
        .step(ChainStep::Sms, Duration::from_secs(300));
    let (sandbox, auth) = chain_engine(chain).await;
    let mut jar = Jar::default();
    start(&auth, &mut jar, MAGIC).await;
    let s = past_magical_auth_unavailable(&sandbox, &auth, &mut jar, Some(MAGIC)).await;
    assert_eq!(
        (s["step"].as_str(), s["reason"].as_str()),
        (Some("magic"), Some("unavailable")),
        "the outcome Glide gave, not the browser's word: {s}"
    );
    let (_, s) = advance(&auth, &mut jar, json!({"event": "send", "step": "magic"})).await;
    assert_eq!(s["next"]["action"], "carrier_check", "{s}");
    let auth_url = s["next"]["auth_url"].as_str().unwrap().to_owned();
    let code = json!({"event": "code", "step": "magic", "code": "123456"});
    let (status, body) = advance(&auth, &mut jar, code).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("SESSION_NOT_ELIGIBLE")),
        "a code for a carrier check: {body}"
    );
    let device = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = device.get(&auth_url).send().await.unwrap();
    let token = page.headers()["token"].to_str().unwrap().to_owned();
    let (status, s) = advance(
        &auth,
        &mut jar,
        json!({"event": "token", "step": "magic", "token": token}),
    )
    .await;
    assert_eq!((status, s["step"].as_str()), (200, Some("verified")), "{s}");
}

#[tokio::test]
async fn a_check_glide_cannot_answer_leaves_the_step_as_it_was() {
    let (sandbox, auth) = chain_engine(codes_chain()).await;
    let mut jar = Jar::default();
    start(&auth, &mut jar, NOT_ELIGIBLE).await;
    past_magical_auth(&auth, &mut jar).await;
    advance(&auth, &mut jar, json!({"event": "send", "step": "sms"})).await;
    let code = sandbox.control().legacy_otp(NOT_ELIGIBLE).unwrap();
    sandbox.control().add_fault(glide_sandbox::Fault::status(
        "/magic-auth/verification/check",
        503,
    ));
    let check = json!({"event": "code", "step": "sms", "code": code});
    let (status, body) = advance(&auth, &mut jar, check.clone()).await;
    assert_eq!(status, 503, "{body}");
    let (_, s) = state(&auth, &mut jar).await;
    assert_eq!(
        (s["step"].as_str(), s["next"]["action"].as_str()),
        (Some("sms"), Some("enter_code")),
        "an outage is not a risk denial: {s}"
    );
    let (status, s) = advance(&auth, &mut jar, check).await;
    assert_eq!((status, s["step"].as_str()), (200, Some("verified")), "{s}");
}

#[tokio::test]
async fn a_chain_record_keeps_its_lifetime_through_its_updates() {
    let (_sandbox, auth, clock) = clocked_chain_engine(codes_chain()).await;
    let mut jar = Jar::default();
    start(&auth, &mut jar, NOT_ELIGIBLE).await;
    let s = past_magical_auth(&auth, &mut jar).await;
    assert_eq!(s["step"], "sms", "{s}");
    // The update rewrote the record with what is left of its lifetime, not a second of it.
    clock.advance(time::Duration::seconds(30));
    let (status, s) = state(&auth, &mut jar).await;
    assert_eq!((status, s["step"].as_str()), (200, Some("sms")), "{s}");
}

#[tokio::test]
async fn a_step_ends_at_its_timeout_to_the_second_and_the_last_one_ends_the_chain() {
    let chain = VerificationChain::new()
        .step(ChainStep::MagicalAuth, Duration::from_secs(120))
        .step(ChainStep::Sms, Duration::from_secs(300));
    let (_sandbox, auth, clock) = clocked_chain_engine(chain).await;
    let mut jar = Jar::default();
    start(&auth, &mut jar, NOT_ELIGIBLE).await;
    clock.advance(time::Duration::seconds(119));
    assert_eq!(state(&auth, &mut jar).await.1["step"], "magical_auth");
    clock.advance(time::Duration::seconds(1));
    let s = state(&auth, &mut jar).await.1;
    assert_eq!(
        (s["step"].as_str(), s["reason"].as_str()),
        (Some("sms"), Some("timed_out")),
        "{s}"
    );
    clock.advance(time::Duration::seconds(300));
    let s = state(&auth, &mut jar).await.1;
    assert_eq!(
        (s["step"].as_str(), s["reason"].as_str()),
        (Some("failed"), Some("no_more_steps")),
        "{s}"
    );
}

#[tokio::test]
async fn a_chain_past_its_deadline_reads_as_expired_even_when_its_step_ends_with_it() {
    let chain = VerificationChain::new()
        .step(ChainStep::MagicalAuth, Duration::from_secs(60))
        .deadline(Duration::from_secs(60));
    let (_sandbox, auth, clock) = clocked_chain_engine(chain).await;
    let mut jar = Jar::default();
    start(&auth, &mut jar, NOT_ELIGIBLE).await;
    clock.advance(time::Duration::seconds(60));
    let (status, s) = state(&auth, &mut jar).await;
    assert_eq!(
        (status, s["code"].as_str()),
        (410, Some("CHAIN_EXPIRED")),
        "{s}"
    );
}

#[tokio::test]
async fn a_chain_without_a_number_cannot_fall_to_a_code_step() {
    let (sandbox, auth) = chain_engine(codes_chain()).await;
    let mut jar = Jar::default();
    let body = json!({"client_info": {"user_agent": ANDROID}});
    let (status, s) = send(
        &auth,
        &mut jar,
        "/api/magical-auth/verification/start",
        Some(body),
    )
    .await;
    assert_eq!(
        (status, s["step"].as_str()),
        (200, Some("magical_auth")),
        "{s}"
    );
    let s = past_magical_auth_unavailable(&sandbox, &auth, &mut jar, None).await;
    assert_eq!(
        (s["step"].as_str(), s["reason"].as_str()),
        (Some("failed"), Some("phone_number_required")),
        "{s}"
    );
}

#[tokio::test]
async fn a_code_sent_on_one_channel_does_not_answer_the_next() {
    let (sandbox, auth) = chain_engine(codes_chain()).await;
    let mut jar = Jar::default();
    start(&auth, &mut jar, NOT_ELIGIBLE).await;
    past_magical_auth(&auth, &mut jar).await;
    advance(&auth, &mut jar, json!({"event": "send", "step": "sms"})).await;
    let sms_code = sandbox.control().legacy_otp(NOT_ELIGIBLE).unwrap();
    let choose = json!({"event": "choose", "step": "sms", "channel": "email"});
    let (_, s) = advance(&auth, &mut jar, choose).await;
    assert_eq!(s["step"], "email", "{s}");
    let (status, body) = advance(
        &auth,
        &mut jar,
        json!({"event": "code", "step": "email", "code": sms_code}),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("SESSION_NOT_ELIGIBLE")),
        "the SMS code at the e-mail step, before any e-mail was sent: {body}"
    );
    assert!(!jar.0.contains_key("glide_session"));
}

#[tokio::test]
async fn each_number_has_its_own_attempt_budget() {
    let chain = codes_chain().attempts(1, Duration::from_secs(900));
    let (_sandbox, auth) = chain_engine(chain).await;
    let (status, _) = start(&auth, &mut Jar::default(), NOT_ELIGIBLE).await;
    assert_eq!(status, 200);
    let (status, body) = start(&auth, &mut Jar::default(), NOT_ELIGIBLE).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (429, Some("ATTEMPTS_EXHAUSTED")),
        "{body}"
    );
    let (status, s) = start(&auth, &mut Jar::default(), MAGIC).await;
    assert_eq!(
        (status, s["step"].as_str()),
        (200, Some("magical_auth")),
        "another number: {s}"
    );
}

#[tokio::test]
async fn a_risk_denial_is_remembered_for_its_number_only() {
    use crate::endpoint_support::engine::verify_ts43;
    let (sandbox, auth) = chain_engine(codes_chain()).await;
    // SIM changed hours ago: denied, and remembered for that number.
    let (status, body, _) = verify_ts43(&sandbox, &auth, "+15555550101").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("RISK_POLICY_DENIED")),
        "{body}"
    );
    let mut jar = Jar::default();
    let (_, s) = start(&auth, &mut jar, "+15555550101").await;
    assert_eq!(
        (s["step"].as_str(), s["reason"].as_str()),
        (Some("failed"), Some("risk_denied")),
        "{s}"
    );
    let mut jar = Jar::default();
    let (_, s) = start(&auth, &mut jar, NOT_ELIGIBLE).await;
    assert_eq!(s["step"], "magical_auth", "another number: {s}");
}

#[tokio::test]
async fn a_chain_record_is_gone_two_hours_after_its_start_however_often_it_was_rewritten() {
    let (_sandbox, auth, clock) = clocked_chain_engine(codes_chain()).await;
    let mut jar = Jar::default();
    start(&auth, &mut jar, NOT_ELIGIBLE).await;
    clock.advance(time::Duration::seconds(60));
    let s = past_magical_auth(&auth, &mut jar).await;
    assert_eq!(s["step"], "sms", "rewritten a minute in: {s}");
    clock.advance(time::Duration::seconds(2 * 3600 - 60 - 1));
    let (status, _) = state(&auth, &mut jar).await;
    assert_eq!(status, 410, "still there, expired");
    clock.advance(time::Duration::seconds(2));
    let (status, body) = state(&auth, &mut jar).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("SESSION_NOT_FOUND")),
        "two hours after its start, the store let it go: {body}"
    );
}

/// Not eligible for Magical Auth, its SIM swapped two hours ago (the legacy SIM Swap API).
const RISKY_NOT_ELIGIBLE: &str = "+15555550109";

#[tokio::test]
async fn a_right_code_for_a_swapped_sim_ends_the_chain_an_outage_of_the_check_does_not() {
    let (sandbox, auth) = chain_engine(codes_chain()).await;
    let to_sms = |phone: &'static str| {
        let auth = &auth;
        async move {
            let mut jar = Jar::default();
            start(auth, &mut jar, phone).await;
            past_magical_auth_for(auth, &mut jar, phone).await;
            advance(auth, &mut jar, json!({"event": "send", "step": "sms"})).await;
            jar
        }
    };
    // The SIM-swap check cannot be made (Glide's CIBA endpoint down): an opaque 503, no session,
    // and the chain is still at its step, not failed.
    let mut jar = to_sms(NOT_ELIGIBLE).await;
    let code = sandbox.control().legacy_otp(NOT_ELIGIBLE).unwrap();
    sandbox.control().add_fault(
        glide_sandbox::Fault::status("/oauth2/backchannel-authentication", 503).times(20),
    );
    let check = json!({"event": "code", "step": "sms", "code": code});
    let (status, body) = advance(&auth, &mut jar, check).await;
    assert_eq!(status, 503, "{body}");
    assert!(!jar.0.contains_key("glide_session"));
    let (_, s) = state(&auth, &mut jar).await;
    assert_eq!(s["step"], "sms", "an outage is not a denial: {s}");
    sandbox.control().clear_faults();

    // The check answers: the SIM was swapped two hours ago. The code's own answer ends the chain.
    let mut jar = to_sms(RISKY_NOT_ELIGIBLE).await;
    let code = sandbox.control().legacy_otp(RISKY_NOT_ELIGIBLE).unwrap();
    let check = json!({"event": "code", "step": "sms", "code": code});
    let (status, s) = advance(&auth, &mut jar, check).await;
    assert_eq!(
        (status, s["step"].as_str(), s["reason"].as_str()),
        (200, Some("failed"), Some("risk_denied")),
        "{s}"
    );
    assert!(!jar.0.contains_key("glide_session"));
}

/// Issue 33 item 2, through the engine: Magical Auth ends on what the engine saw of this
/// browser's Magical Auth for the chain's number, never on the browser's word. Glide's answer
/// from before the chain began does not count; the outcome is Glide's, whatever the browser
/// claims; a flow that ends not verified (the SIM holds another number), or that Glide reports
/// failed (the person denied on the phone), ends the step as `denied`.
#[tokio::test]
async fn magical_auth_ends_only_on_an_outcome_the_engine_saw() {
    let (sandbox, auth) = chain_engine(codes_chain()).await;
    let step_failed =
        |reason: &str| json!({"event": "step_failed", "step": "magical_auth", "reason": reason});

    // Glide said "not eligible" before the chain began: the chain has not seen it.
    let mut jar = Jar::default();
    let (status, _) = prepare(&auth, &mut jar, Some(NOT_ELIGIBLE)).await;
    assert_eq!(status, 422);
    start(&auth, &mut jar, NOT_ELIGIBLE).await;
    let (status, body) = advance(&auth, &mut jar, step_failed("not_eligible")).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("SESSION_NOT_ELIGIBLE")),
        "{body}"
    );
    // Now it sees it; the outcome is Glide's, not the one the browser claims.
    let (status, _) = prepare(&auth, &mut jar, Some(NOT_ELIGIBLE)).await;
    assert_eq!(status, 422);
    let (status, s) = advance(&auth, &mut jar, step_failed("timed_out")).await;
    assert_eq!(
        (status, s["step"].as_str(), s["reason"].as_str()),
        (200, Some("sms"), Some("not_eligible")),
        "{s}"
    );

    // TS43 for a number whose SIM holds another: process answers not verified.
    let wrong_sim = "+15555550105";
    let mut jar = Jar::default();
    start(&auth, &mut jar, wrong_sim).await;
    let (status, prepared) = prepare(&auth, &mut jar, Some(wrong_sim)).await;
    assert_eq!(status, 200, "{prepared}");
    let key = prepared["session"]["session_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let credential = sandbox
        .control()
        .ts43_credential(&key, crate::endpoint_support::engine::ORIGIN, None)
        .unwrap();
    let process = json!({"session": {"session_key": key}, "credential": credential, "use_case": "VerifyPhoneNumber"});
    let (status, body) = send(&auth, &mut jar, "/api/magical-auth/process", Some(process)).await;
    assert_eq!(
        (status, body["verified"].as_bool()),
        (200, Some(false)),
        "{body}"
    );
    let (status, s) = advance(&auth, &mut jar, step_failed("not_eligible")).await;
    assert_eq!(
        (status, s["step"].as_str(), s["reason"].as_str()),
        (200, Some("sms"), Some("denied")),
        "{s}"
    );

    // Desktop, the person denies on the phone: Glide's status says failed.
    let denier = "+15555550108";
    let mut jar = Jar::default();
    start(&auth, &mut jar, denier).await;
    let mut body = json!({
        "use_case": "VerifyPhoneNumber",
        "phone_number": denier,
        "authentication_strategy": "desktop",
        "client_info": {"user_agent": ANDROID},
    });
    body["client_info"]["platform"] = json!("test");
    let (status, prepared) = send(&auth, &mut jar, "/api/magical-auth/prepare", Some(body)).await;
    assert_eq!(status, 200, "{prepared}");
    let key = prepared["session"]["session_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, body) = advance(&auth, &mut jar, step_failed("denied")).await;
    assert_eq!(status, 409, "not before Glide says so: {body}");
    sandbox.control().desktop_deny(&key).unwrap();
    let (status, body) = send(
        &auth,
        &mut jar,
        &format!("/api/magical-auth/status/{key}"),
        None,
    )
    .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (422, Some("failed")),
        "{body}"
    );
    let (status, s) = advance(&auth, &mut jar, step_failed("not_eligible")).await;
    assert_eq!(
        (status, s["step"].as_str(), s["reason"].as_str()),
        (200, Some("sms"), Some("denied")),
        "{s}"
    );
}
