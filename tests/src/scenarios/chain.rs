//! The verification chain (issue 18 item 1) through the adapter: its transitions over the
//! existing flows, the one attempt budget, the deadlines on the engine's manual clock, a risk
//! denial ending it, and every way of pushing it around (skipping a step, replaying or racing an
//! advance, another browser's chain, a code for another number), each refused with a stable code.

use std::sync::Arc;
use std::time::Duration;

use glide_core::clock::{ManualClock, SharedClock};
use glide_core::endpoint::{ChainStep, StepOutcome, VerificationChain};
use glide_core::ratelimit::{IpNet, RateLimitConfig};
use glide_core::store::Store;
use serde_json::{json, Value};

use crate::harness::{Browser, Reply, RunningApp, World, DESKTOP_UA, SESSION_COOKIE};
use crate::scenarios::attacks::{redis_store, with_store};
use crate::scenarios::flows::{assert_me, assert_session_cookie};
use crate::scenarios::legacy::{device_token, wrong_code, FALLBACK, LEGACY_COOKIE, MAGIC};

/// The chain cookie's name with insecure development cookies.
const CHAIN_COOKIE: &str = "glide_chain";
/// Magical Auth verifies it with a SIM changed 0–4 hours ago: `RISK_LEVEL_HIGH`.
const RISKY: &str = "+15555550101";
/// Not eligible for Magical Auth, and its SIM changed 2 hours ago.
const RISKY_NOT_ELIGIBLE: &str = "+15555550109";

/// An app whose engine runs `chain` on a manual clock; its browser.
async fn chain_app(
    w: &World,
    chain: VerificationChain,
    clock: &ManualClock,
) -> (RunningApp, Browser) {
    let shared: SharedClock = Arc::new(clock.clone());
    w.start_app(move |b| b.verification_chain(chain).clock(shared))
        .await
}

/// Magical Auth, then SMS, then e-mail (no legacy carrier step), 15 minutes, 10 attempts.
fn codes_chain() -> VerificationChain {
    VerificationChain::new()
        .step(ChainStep::MagicalAuth, Duration::from_secs(120))
        .step(ChainStep::Sms, Duration::from_secs(300))
        .step(ChainStep::Email, Duration::from_secs(300))
}

fn start_body(phone: &str) -> Value {
    json!({
        "phone_number": phone,
        "client_info": { "user_agent": DESKTOP_UA, "platform": "test" },
    })
}

async fn start(b: &Browser, phone: &str) -> Reply {
    b.post(&World::route("verification/start"), &start_body(phone))
        .await
}

async fn state(b: &Browser) -> Reply {
    b.get(&World::route("verification")).await
}

async fn advance(b: &Browser, event: &Value) -> Reply {
    b.post(&World::route("verification/advance"), event).await
}

/// Asserts a 200 chain state at `step`; returns it.
#[track_caller]
fn at(w: &World, reply: &Reply, step: &str, what: &str) -> Value {
    reply.assert_status(200, &w.ctx(what));
    let body = reply.json();
    assert_eq!(body["step"], step, "{}: {body}", w.ctx(what));
    assert!(
        body["attempts_left"].is_u64() && body["expires_in_seconds"].is_i64(),
        "{}: {body}",
        w.ctx(what)
    );
    body
}

/// A start that must succeed at `step`, setting the chain cookie; returns the state.
async fn start_ok(w: &World, b: &Browser, phone: &str, step: &str) -> Value {
    let reply = start(b, phone).await;
    let body = at(w, &reply, step, "chain start");
    let cookie = reply
        .set_cookie(CHAIN_COOKIE)
        .unwrap_or_else(|| panic!("{}: {:?}", w.ctx("chain cookie"), reply.set_cookies()));
    cookie.assert_dev_attributes(&w.ctx("chain cookie"));
    body
}

fn failed(step: &str, reason: &str) -> Value {
    json!({ "event": "step_failed", "step": step, "reason": reason })
}

/// This browser runs Magical Auth for `phone`, a number not eligible for it: Glide answers its
/// prepare 422 `CARRIER_NOT_ELIGIBLE` (the server sees it), then the browser says so. The
/// chain's answer.
async fn not_eligible(w: &World, b: &Browser, phone: &str) -> Reply {
    w.prepare_raw(b, &World::prepare_body(DESKTOP_UA, Some(phone)))
        .await
        .assert_error(422, "CARRIER_NOT_ELIGIBLE", &w.ctx("prepare, not eligible"));
    advance(b, &failed("magical_auth", "not_eligible")).await
}

/// Asserts `/me` answers 401: no verified session.
async fn assert_not_verified(w: &World, b: &Browser, what: &str) {
    w.me(b).await.assert_status(401, &w.ctx(what));
}

/// A not-eligible number, from button to session: Magical Auth refused at prepare, the browser
/// reports it, the legacy carrier check is not eligible either, the SMS code verifies. The
/// attempts go down by one per draw and the legacy verification never reaches the browser.
pub async fn chain_not_eligible_number_falls_through_to_a_code(w: &World) {
    let clock = ManualClock::new();
    let (_app, b) = chain_app(w, VerificationChain::default(), &clock).await;
    let s = start_ok(w, &b, FALLBACK, "magical_auth").await;
    assert_eq!(s["attempts_left"], 9, "{}: {s}", w.ctx("start draws one"));
    assert_eq!(s["expires_in_seconds"], 900, "{}: {s}", w.ctx("deadline"));
    assert_eq!(s["next"]["action"], "magical_auth", "{}", w.ctx("next"));
    assert_eq!(s["next"]["phone_number"], FALLBACK, "{}", w.ctx("next"));
    // The existing route answers as it always did.
    w.prepare_raw(&b, &World::prepare_body(DESKTOP_UA, Some(FALLBACK)))
        .await
        .assert_error(422, "CARRIER_NOT_ELIGIBLE", &w.ctx("prepare"));

    let s = at(
        w,
        &advance(&b, &failed("magical_auth", "not_eligible")).await,
        "magic",
        "after magical auth failed",
    );
    assert_eq!(s["next"]["action"], "send", "{}: {s}", w.ctx("magic next"));
    assert_eq!(s["reason"], "not_eligible", "{}", w.ctx("reason"));
    assert_eq!(s["attempts_left"], 9, "{}", w.ctx("a step failure is free"));
    let s = at(
        w,
        &advance(&b, &json!({ "event": "send", "step": "magic" })).await,
        "sms",
        "the carrier check is not eligible either",
    );
    assert_eq!(
        s["attempts_left"],
        8,
        "{}",
        w.ctx("the carrier start drew one")
    );
    let reply = advance(&b, &json!({ "event": "send", "step": "sms" })).await;
    let s = at(w, &reply, "sms", "sms sent");
    assert_eq!(s["next"]["action"], "enter_code", "{}: {s}", w.ctx("next"));
    assert_eq!(
        s["next"]["channels"],
        json!(["email"]),
        "{}",
        w.ctx("channels")
    );
    assert_eq!(s["attempts_left"], 7, "{}", w.ctx("the send drew one"));
    assert!(
        reply.set_cookie(LEGACY_COOKIE).is_none() && b.cookie(LEGACY_COOKIE).is_none(),
        "{}: the chain keeps the legacy verification to itself",
        w.ctx("send")
    );
    let code = w.legacy_otp(FALLBACK);
    let wrong = advance(
        &b,
        &json!({ "event": "code", "step": "sms", "code": wrong_code(&code) }),
    )
    .await;
    let body = wrong.assert_error(401, "INVALID_CODE", &w.ctx("wrong code"));
    assert_eq!(
        body["attempts_left"],
        6,
        "{}: {body}",
        w.ctx("wrong code drew one")
    );
    assert_not_verified(w, &b, "/me after a wrong code").await;

    let reply = advance(&b, &json!({ "event": "code", "step": "sms", "code": code })).await;
    let s = at(w, &reply, "verified", "right code");
    assert!(s.get("next").is_none(), "{}: {s}", w.ctx("nothing next"));
    assert_session_cookie(w, &reply);
    assert_me(w, &b, FALLBACK, "VerifyPhoneNumber", "sms").await;
    at(w, &state(&b).await, "verified", "state afterwards");
    // An ended chain takes no more advances.
    advance(&b, &json!({ "event": "send", "step": "sms" }))
        .await
        .assert_error(409, "SESSION_ALREADY_USED", &w.ctx("advance after the end"));
}

/// The Magical Auth step ends when *this* browser holds a session for *the chain's* number,
/// issued through the existing routes; a session for another number, or in another browser,
/// does not count.
pub async fn chain_magical_auth_is_read_from_this_browsers_session(w: &World) {
    let clock = ManualClock::new();
    let (app, b) = chain_app(w, codes_chain(), &clock).await;
    start_ok(w, &b, MAGIC, "magical_auth").await;
    // Another browser verifies the chain's number: not this browser's session.
    let other = Browser::new(&app.base_url, DESKTOP_UA);
    w.verify_ts43(&other, MAGIC)
        .await
        .assert_status(200, &w.ctx("other browser verifies"));
    at(
        w,
        &state(&b).await,
        "magical_auth",
        "another browser's session",
    );
    // This browser verifies another number: not the chain's number.
    w.verify_ts43(&b, "+15555550103")
        .await
        .assert_status(200, &w.ctx("another number verified"));
    at(
        w,
        &state(&b).await,
        "magical_auth",
        "a session for another number",
    );
    // This browser verifies the chain's number through prepare / process.
    w.verify_ts43(&b, MAGIC)
        .await
        .assert_status(200, &w.ctx("the chain's number verified"));
    let s = at(w, &state(&b).await, "verified", "after process");
    assert!(s.get("reason").is_none(), "{}: {s}", w.ctx("no reason"));
    assert_me(w, &b, MAGIC, "VerifyPhoneNumber", "ts43").await;
}

/// One budget: the start, a send, a resend, a wrong code and a channel switch all draw on it,
/// and a new chain for the same number continues it until 429 ATTEMPTS_EXHAUSTED, which asks
/// Glide for nothing.
pub async fn chain_budget_is_shared_by_resends_switches_and_new_chains(w: &World) {
    let clock = ManualClock::new();
    let chain = codes_chain().attempts(6, Duration::from_secs(900));
    let (_app, b) = chain_app(w, chain, &clock).await;
    let s = start_ok(w, &b, FALLBACK, "magical_auth").await;
    assert_eq!(s["attempts_left"], 5, "{}", w.ctx("start"));
    at(w, &not_eligible(w, &b, FALLBACK).await, "sms", "fall");
    let s = at(
        w,
        &advance(&b, &json!({"event":"send","step":"sms"})).await,
        "sms",
        "send",
    );
    assert_eq!(s["attempts_left"], 4, "{}", w.ctx("send"));
    let first = w.legacy_otp(FALLBACK);
    clock.advance(time::Duration::seconds(31));
    let s = at(
        w,
        &advance(&b, &json!({"event":"send","step":"sms"})).await,
        "sms",
        "resend",
    );
    assert_eq!(
        s["attempts_left"],
        3,
        "{}",
        w.ctx("a resend gives no new tries")
    );
    let code = w.legacy_otp(FALLBACK);
    let wrong = if code == wrong_code(&first) {
        first.clone()
    } else {
        wrong_code(&code)
    };
    let body = advance(&b, &json!({"event":"code","step":"sms","code": wrong}))
        .await
        .assert_error(401, "INVALID_CODE", &w.ctx("wrong code"));
    assert_eq!(body["attempts_left"], 2, "{}", w.ctx("wrong code"));
    let s = at(
        w,
        &advance(
            &b,
            &json!({"event":"choose","step":"sms","channel":"email"}),
        )
        .await,
        "email",
        "switch to e-mail",
    );
    assert_eq!(
        s["attempts_left"],
        1,
        "{}",
        w.ctx("a switch gives no new tries")
    );
    assert_eq!(s["reason"], "channel_chosen", "{}", w.ctx("reason"));
    // A new chain for the same number continues the budget: its start takes the last one.
    let s = start_ok(w, &b, FALLBACK, "magical_auth").await;
    assert_eq!(
        s["attempts_left"],
        0,
        "{}: {s}",
        w.ctx("new chain, same budget")
    );
    at(w, &not_eligible(w, &b, FALLBACK).await, "sms", "fall again");
    let before = w.sandbox.control().legacy_otp(FALLBACK);
    clock.advance(time::Duration::seconds(31));
    advance(&b, &json!({"event":"send","step":"sms"}))
        .await
        .assert_error(429, "ATTEMPTS_EXHAUSTED", &w.ctx("send with no budget"));
    assert_eq!(
        w.sandbox.control().legacy_otp(FALLBACK),
        before,
        "{}",
        w.ctx("nothing was sent")
    );
    start(&b, FALLBACK)
        .await
        .assert_error(429, "ATTEMPTS_EXHAUSTED", &w.ctx("third chain"));
    // Without the chain's cookie a browser starts over: same number and source, same budget.
    let fresh = Browser::new(b.origin(), DESKTOP_UA);
    start(&fresh, FALLBACK).await.assert_error(
        429,
        "ATTEMPTS_EXHAUSTED",
        &w.ctx("a cookie-less browser"),
    );
    assert_not_verified(w, &b, "/me").await;
}

/// A start of a chain for [`FALLBACK`] from a client behind the trusted proxy at `ip`.
async fn start_from(b: &Browser, ip: &str) -> Reply {
    b.call("POST", &World::route("verification/start"))
        .json(&start_body(FALLBACK))
        .header("x-forwarded-for", ip)
        .send()
        .await
}

/// A stranger using up a number's budget from their address does not lock out its owner, who
/// calls from another.
pub async fn chain_stranger_cannot_exhaust_the_owners_budget(w: &World) {
    let clock = ManualClock::new();
    let shared: SharedClock = Arc::new(clock.clone());
    let chain = codes_chain().attempts(2, Duration::from_secs(900));
    let (app, attacker) = w
        .start_app(move |b| {
            b.verification_chain(chain).clock(shared).rate_limits(
                RateLimitConfig::default()
                    .with_trusted_proxies([IpNet::new([127, 0, 0, 1].into(), 32)]),
            )
        })
        .await;
    for n in 0..2 {
        start_from(&attacker, "203.0.113.9")
            .await
            .assert_status(200, &w.ctx(&format!("attacker start {n}")));
    }
    start_from(&attacker, "203.0.113.9").await.assert_error(
        429,
        "ATTEMPTS_EXHAUSTED",
        &w.ctx("attacker exhausted"),
    );
    let owner = Browser::new(&app.base_url, DESKTOP_UA);
    let reply = start_from(&owner, "198.51.100.7").await;
    let s = at(w, &reply, "magical_auth", "the owner still starts");
    assert_eq!(s["attempts_left"], 1, "{}", w.ctx("the owner's own budget"));
}

/// The overall deadline on the engine's clock: past it, reading or advancing the chain answers
/// 410 CHAIN_EXPIRED; a step's own timeout moves the chain on, or ends it when timing out does
/// not fall through.
pub async fn chain_deadlines_follow_the_engine_clock(w: &World) {
    let clock = ManualClock::new();
    let chain = codes_chain().deadline(Duration::from_secs(600));
    let (_app, b) = chain_app(w, chain, &clock).await;
    start_ok(w, &b, FALLBACK, "magical_auth").await;
    clock.advance(time::Duration::seconds(119));
    at(
        w,
        &state(&b).await,
        "magical_auth",
        "before the step's timeout",
    );
    clock.advance(time::Duration::seconds(1));
    let s = at(w, &state(&b).await, "sms", "the step timed out");
    assert_eq!(s["reason"], "timed_out", "{}: {s}", w.ctx("reason"));
    assert_eq!(s["expires_in_seconds"], 480, "{}: {s}", w.ctx("time left"));
    // A replay of the timed-out step's failure is refused.
    advance(&b, &failed("magical_auth", "not_eligible"))
        .await
        .assert_error(409, "SESSION_NOT_ELIGIBLE", &w.ctx("late step failure"));
    clock.advance(time::Duration::seconds(480));
    state(&b)
        .await
        .assert_error(410, "CHAIN_EXPIRED", &w.ctx("state past the deadline"));
    advance(&b, &json!({"event":"send","step":"sms"}))
        .await
        .assert_error(410, "CHAIN_EXPIRED", &w.ctx("advance past the deadline"));
    assert!(
        w.sandbox.control().legacy_otp(FALLBACK).is_none(),
        "{}",
        w.ctx("nothing was sent")
    );

    // Timing out that does not fall through ends the chain.
    let strict = codes_chain().falls_through([StepOutcome::NotEligible]);
    let (_app, b) = chain_app(w, strict, &clock).await;
    start_ok(w, &b, FALLBACK, "magical_auth").await;
    clock.advance(time::Duration::seconds(120));
    let s = at(w, &state(&b).await, "failed", "timed out, no fall-through");
    assert_eq!(s["reason"], "timed_out", "{}: {s}", w.ctx("reason"));
}

/// A risk denial ends the chain, whatever the browser reports: Magical Auth refused by the
/// policy does not fall through to SMS even when the browser says "not eligible"; a code-path
/// denial ends it too, without a session; and a new chain for a denied number starts failed.
pub async fn chain_risk_denial_never_falls_through(w: &World) {
    let clock = ManualClock::new();
    let (_app, b) = chain_app(w, codes_chain(), &clock).await;
    start_ok(w, &b, RISKY, "magical_auth").await;
    w.verify_ts43(&b, RISKY).await.assert_error(
        403,
        "RISK_POLICY_DENIED",
        &w.ctx("magical auth denied"),
    );
    // The browser lies about why the step failed: the chain ended anyway.
    advance(&b, &failed("magical_auth", "not_eligible"))
        .await
        .assert_error(409, "SESSION_ALREADY_USED", &w.ctx("lying step failure"));
    let s = at(w, &state(&b).await, "failed", "after the denial");
    assert_eq!(s["reason"], "risk_denied", "{}: {s}", w.ctx("reason"));
    advance(&b, &json!({"event":"send","step":"sms"}))
        .await
        .assert_error(409, "SESSION_ALREADY_USED", &w.ctx("send after the denial"));
    assert!(
        w.sandbox.control().legacy_otp(RISKY).is_none(),
        "{}",
        w.ctx("no SMS for a denied number")
    );
    // A new chain for the number starts failed.
    let s = start_ok(w, &b, RISKY, "failed").await;
    assert_eq!(s["reason"], "risk_denied", "{}: {s}", w.ctx("new chain"));

    // Denied on the code path (SIM swapped, carrier not eligible): the right code ends the
    // chain without a session.
    let other = Browser::new(b.origin(), DESKTOP_UA);
    start_ok(w, &other, RISKY_NOT_ELIGIBLE, "magical_auth").await;
    at(
        w,
        &not_eligible(w, &other, RISKY_NOT_ELIGIBLE).await,
        "sms",
        "fall",
    );
    at(
        w,
        &advance(&other, &json!({"event":"send","step":"sms"})).await,
        "sms",
        "send",
    );
    let code = w.legacy_otp(RISKY_NOT_ELIGIBLE);
    let reply = advance(&other, &json!({"event":"code","step":"sms","code":code})).await;
    let s = at(w, &reply, "failed", "right code, denied");
    assert_eq!(s["reason"], "risk_denied", "{}: {s}", w.ctx("reason"));
    assert!(
        reply.set_cookie(SESSION_COOKIE).is_none(),
        "{}",
        w.ctx("no session cookie")
    );
    assert_not_verified(w, &other, "/me after the denial").await;
    advance(
        &other,
        &json!({"event":"choose","step":"sms","channel":"email"}),
    )
    .await
    .assert_error(
        409,
        "SESSION_ALREADY_USED",
        &w.ctx("switch after the denial"),
    );
}

/// Skipping a step: a send, a code or a channel switch for a step the chain is not at is
/// refused with 409 SESSION_NOT_ELIGIBLE and draws nothing; a code step cannot be "failed" away
/// for free; an unknown event is a 400.
pub async fn chain_skipping_a_step_is_refused(w: &World) {
    let clock = ManualClock::new();
    let (_app, b) = chain_app(w, VerificationChain::default(), &clock).await;
    start_ok(w, &b, FALLBACK, "magical_auth").await;
    for (event, what) in [
        (
            json!({"event":"send","step":"sms"}),
            "send for a later step",
        ),
        (
            json!({"event":"code","step":"sms","code":"123456"}),
            "code for a later step",
        ),
        (
            json!({"event":"choose","step":"magical_auth","channel":"email"}),
            "switch from magical auth",
        ),
        (
            json!({"event":"send","step":"magical_auth"}),
            "send at magical auth",
        ),
        (
            json!({"event":"token","step":"magical_auth","token":"abc"}),
            "token at magical auth",
        ),
    ] {
        advance(&b, &event)
            .await
            .assert_error(409, "SESSION_NOT_ELIGIBLE", &w.ctx(what));
    }
    advance(&b, &json!({"event":"skip","step":"sms"}))
        .await
        .assert_error(400, "BAD_REQUEST", &w.ctx("unknown event"));
    let s = at(
        w,
        &state(&b).await,
        "magical_auth",
        "still at the first step",
    );
    assert_eq!(s["attempts_left"], 9, "{}", w.ctx("nothing drawn"));
    assert!(
        w.sandbox.control().legacy_otp(FALLBACK).is_none(),
        "{}",
        w.ctx("nothing was sent")
    );
    at(w, &not_eligible(w, &b, FALLBACK).await, "magic", "fall");
    at(
        w,
        &advance(&b, &failed("magic", "not_eligible")).await,
        "sms",
        "fall",
    );
    advance(&b, &failed("sms", "not_eligible"))
        .await
        .assert_error(409, "SESSION_NOT_ELIGIBLE", &w.ctx("failing a code step"));
    advance(&b, &json!({"event":"code","step":"sms","code":"123456"}))
        .await
        .assert_error(
            409,
            "SESSION_NOT_ELIGIBLE",
            &w.ctx("a code before any send"),
        );
    advance(
        &b,
        &json!({"event":"choose","step":"sms","channel":"magic"}),
    )
    .await
    .assert_error(
        409,
        "SESSION_NOT_ELIGIBLE",
        &w.ctx("switch back to the carrier"),
    );
    at(w, &state(&b).await, "sms", "still at sms");
}

/// A replayed advance finds the chain moved on: one step failure moves one step, never two.
pub async fn chain_replayed_advance_is_refused(w: &World) {
    let clock = ManualClock::new();
    let (_app, b) = chain_app(w, VerificationChain::default(), &clock).await;
    start_ok(w, &b, FALLBACK, "magical_auth").await;
    let event = failed("magical_auth", "not_eligible");
    at(w, &not_eligible(w, &b, FALLBACK).await, "magic", "first");
    advance(&b, &event)
        .await
        .assert_error(409, "SESSION_NOT_ELIGIBLE", &w.ctx("replayed"));
    at(w, &state(&b).await, "magic", "one step, not two");
}

/// Two advances of one step at once: exactly one wins.
pub async fn chain_racing_advances_one_wins(w: &World) {
    let clock = ManualClock::new();
    let (_app, b) = chain_app(w, VerificationChain::default(), &clock).await;
    for round in 0..4 {
        start_ok(w, &b, FALLBACK, "magical_auth").await;
        w.prepare_raw(&b, &World::prepare_body(DESKTOP_UA, Some(FALLBACK)))
            .await
            .assert_error(422, "CARRIER_NOT_ELIGIBLE", &w.ctx("prepare"));
        let event = failed("magical_auth", "not_eligible");
        let (one, two) = tokio::join!(advance(&b, &event), advance(&b, &event));
        let mut statuses = [one.status, two.status];
        statuses.sort_unstable();
        assert_eq!(
            statuses,
            [200, 409],
            "{}: {} / {}",
            w.ctx(&format!("race {round}")),
            one.text(),
            two.text()
        );
        at(w, &state(&b).await, "magic", "after the race");
    }
}

/// Another browser's chain: without the cookie 403 MISSING_BINDING_COOKIE, with a forged one
/// 404 SESSION_NOT_FOUND, with its own chain it moves only its own; a foreign origin is refused
/// at the door.
pub async fn chain_of_another_browser_cannot_be_touched(w: &World) {
    let clock = ManualClock::new();
    let (app, b) = chain_app(w, VerificationChain::default(), &clock).await;
    start_ok(w, &b, FALLBACK, "magical_auth").await;
    let stranger = Browser::new(&app.base_url, DESKTOP_UA);
    state(&stranger).await.assert_error(
        403,
        "MISSING_BINDING_COOKIE",
        &w.ctx("state without cookie"),
    );
    advance(&stranger, &failed("magical_auth", "not_eligible"))
        .await
        .assert_error(
            403,
            "MISSING_BINDING_COOKIE",
            &w.ctx("advance without cookie"),
        );
    stranger.set_cookie(CHAIN_COOKIE, &"A".repeat(43));
    advance(&stranger, &failed("magical_auth", "not_eligible"))
        .await
        .assert_error(404, "SESSION_NOT_FOUND", &w.ctx("forged cookie"));
    start_ok(w, &stranger, FALLBACK, "magical_auth").await;
    at(
        w,
        &not_eligible(w, &stranger, FALLBACK).await,
        "magic",
        "own chain",
    );
    at(
        w,
        &state(&b).await,
        "magical_auth",
        "the owner's chain did not move",
    );
    b.call("POST", &World::route("verification/advance"))
        .json(&failed("magical_auth", "not_eligible"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .assert_error(403, "ORIGIN_NOT_ALLOWED", &w.ctx("foreign origin"));
    at(w, &state(&b).await, "magical_auth", "still unmoved");
}

/// A code sent for another number, entered into the chain, is a wrong code: no session for
/// either number; the chain's own code still verifies its number.
pub async fn chain_code_for_another_number_is_refused(w: &World) {
    let clock = ManualClock::new();
    let (app, b) = chain_app(w, codes_chain(), &clock).await;
    start_ok(w, &b, FALLBACK, "magical_auth").await;
    at(w, &not_eligible(w, &b, FALLBACK).await, "sms", "fall");
    at(
        w,
        &advance(&b, &json!({"event":"send","step":"sms"})).await,
        "sms",
        "send",
    );
    let own = w.legacy_otp(FALLBACK);
    // A code for another number, sent through the legacy route in another browser.
    let other = Browser::new(&app.base_url, DESKTOP_UA);
    crate::scenarios::legacy::start(&other, &json!({ "phone_number": RISKY_NOT_ELIGIBLE }))
        .await
        .assert_status(200, &w.ctx("legacy start for another number"));
    let foreign = w.legacy_otp(RISKY_NOT_ELIGIBLE);
    if foreign != own {
        advance(&b, &json!({"event":"code","step":"sms","code": foreign}))
            .await
            .assert_error(401, "INVALID_CODE", &w.ctx("another number's code"));
        assert_not_verified(w, &b, "/me after another number's code").await;
    }
    let reply = advance(&b, &json!({"event":"code","step":"sms","code": own})).await;
    at(w, &reply, "verified", "own code");
    assert_me(w, &b, FALLBACK, "VerifyPhoneNumber", "sms").await;
    assert_not_verified(w, &other, "/me of the other browser").await;
}

/// The legacy carrier step of an eligible number: once Magical Auth timed out, the chain starts
/// the carrier check and the device's token verifies through it.
pub async fn chain_carrier_check_step_verifies_with_the_token(w: &World) {
    let clock = ManualClock::new();
    let (_app, b) = chain_app(w, VerificationChain::default(), &clock).await;
    start_ok(w, &b, MAGIC, "magical_auth").await;
    clock.advance(time::Duration::seconds(120));
    let s = at(w, &state(&b).await, "magic", "magical auth timed out");
    assert_eq!(s["reason"], "timed_out", "{}: {s}", w.ctx("reason"));
    let s = at(
        w,
        &advance(&b, &json!({"event":"send","step":"magic"})).await,
        "magic",
        "started",
    );
    assert_eq!(
        s["next"]["action"],
        "carrier_check",
        "{}: {s}",
        w.ctx("next")
    );
    let auth_url = s["next"]["auth_url"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let token = device_token(w, &auth_url).await;
    advance(&b, &json!({"event":"code","step":"magic","code":"123456"}))
        .await
        .assert_error(
            409,
            "SESSION_NOT_ELIGIBLE",
            &w.ctx("a code for a carrier check"),
        );
    let reply = advance(&b, &json!({"event":"token","step":"magic","token": token})).await;
    at(w, &reply, "verified", "token");
    assert_session_cookie(w, &reply);
    assert_me(w, &b, MAGIC, "VerifyPhoneNumber", "magic").await;
}

/// Its device changed 1–2 days ago: Magical Auth reports `device_swap` `RISK_LEVEL_HIGH`.
const DEVICE_SWAPPED: &str = "+15555550102";

/// An app running `chain` on `clock`, every piece of state in `store` when one is given, behind
/// a trusted proxy at 127.0.0.1 (so `X-Forwarded-For` names the client).
async fn chain_app_in(
    w: &World,
    chain: VerificationChain,
    clock: &ManualClock,
    store: Option<Arc<dyn Store>>,
) -> (RunningApp, Browser) {
    let shared: SharedClock = Arc::new(clock.clone());
    w.start_app(move |b| {
        let b = b.verification_chain(chain).clock(shared).rate_limits(
            RateLimitConfig::default()
                .with_trusted_proxies([IpNet::new([127, 0, 0, 1].into(), 32)]),
        );
        with_store(b, store)
    })
    .await
}

/// Issue 33 item 2: the browser's word that Magical Auth failed does not move the chain past
/// it. `+15555550102` (device swapped a day ago) cannot reach the carrier check or a code by
/// saying "not eligible" (or any other outcome); Glide's answers for another number in this
/// browser, or for this number in another browser, do not count either; the chain stays at
/// Magical Auth with nothing drawn or sent, and Magical Auth itself then asks the device-swap
/// signal: denied, and the chain ends.
pub async fn chain_magical_auth_is_not_skipped_on_the_browsers_word(w: &World) {
    magical_auth_not_skipped(w, None).await;
}

/// [`chain_magical_auth_is_not_skipped_on_the_browsers_word`] with the chain in Redis.
pub async fn chain_magical_auth_is_not_skipped_on_the_browsers_word_with_redis(w: &World) {
    let Some((_redis, store)) = redis_store().await else {
        return;
    };
    magical_auth_not_skipped(w, Some(store)).await;
}

async fn magical_auth_not_skipped(w: &World, store: Option<Arc<dyn Store>>) {
    let clock = ManualClock::new();
    let (app, b) = chain_app_in(w, VerificationChain::default(), &clock, store).await;
    start_ok(w, &b, DEVICE_SWAPPED, "magical_auth").await;
    for reason in ["not_eligible", "denied", "timed_out", "unavailable"] {
        advance(&b, &failed("magical_auth", reason))
            .await
            .assert_error(
                409,
                "SESSION_NOT_ELIGIBLE",
                &w.ctx(&format!("the browser says magical auth ended: {reason}")),
            );
    }
    // Glide's answer for another number, in this browser.
    not_eligible(w, &b, FALLBACK).await.assert_error(
        409,
        "SESSION_NOT_ELIGIBLE",
        &w.ctx("another number not eligible"),
    );
    // Glide failing for the chain's number, in another browser.
    let other = Browser::new(&app.base_url, DESKTOP_UA);
    w.sandbox.control().add_fault(glide_sandbox::Fault::status(
        "/magic-auth/v2/auth/prepare",
        500,
    ));
    w.prepare_raw(
        &other,
        &World::prepare_body(DESKTOP_UA, Some(DEVICE_SWAPPED)),
    )
    .await
    .assert_status(503, &w.ctx("Glide fails another browser's prepare"));
    advance(&b, &failed("magical_auth", "unavailable"))
        .await
        .assert_error(
            409,
            "SESSION_NOT_ELIGIBLE",
            &w.ctx("another browser's outage"),
        );
    for (event, what) in [
        (json!({"event":"send","step":"magic"}), "carrier check"),
        (json!({"event":"send","step":"sms"}), "sms"),
    ] {
        advance(&b, &event)
            .await
            .assert_error(409, "SESSION_NOT_ELIGIBLE", &w.ctx(what));
    }
    let s = at(w, &state(&b).await, "magical_auth", "still at magical auth");
    assert_eq!(s["attempts_left"], 9, "{}: {s}", w.ctx("nothing drawn"));
    assert!(
        w.sandbox.control().legacy_otp(DEVICE_SWAPPED).is_none(),
        "{}",
        w.ctx("no code sent")
    );
    assert_not_verified(w, &b, "/me after the claims").await;
    // Magical Auth asks the device-swap signal: the policy denies, the chain ends.
    w.verify_ts43(&b, DEVICE_SWAPPED).await.assert_error(
        403,
        "RISK_POLICY_DENIED",
        &w.ctx("magical auth, device swapped"),
    );
    let s = at(w, &state(&b).await, "failed", "after the denial");
    assert_eq!(s["reason"], "risk_denied", "{}: {s}", w.ctx("reason"));
    assert_not_verified(w, &b, "/me after the denial").await;
}

/// Issue 33 item 10: a number's attempt budget has a total over every source. Two attempts
/// per source, twelve in all: six addresses spend it (a third try from the first, refused by
/// its own share, takes nothing from the total), and a seventh address is refused with 429
/// `ATTEMPTS_EXHAUSTED`.
pub async fn chain_budget_of_a_number_holds_across_sources(w: &World) {
    budget_across_sources(w, None).await;
}

/// [`chain_budget_of_a_number_holds_across_sources`] with the counters in Redis.
pub async fn chain_budget_of_a_number_holds_across_sources_with_redis(w: &World) {
    let Some((_redis, store)) = redis_store().await else {
        return;
    };
    budget_across_sources(w, Some(store)).await;
}

async fn budget_across_sources(w: &World, store: Option<Arc<dyn Store>>) {
    let clock = ManualClock::new();
    let chain = codes_chain()
        .attempts(2, Duration::from_secs(900))
        .attempts_total(12);
    let (_app, b) = chain_app_in(w, chain, &clock, store).await;
    for source in 1..=6 {
        let ip = format!("203.0.113.{source}");
        for n in 0..2 {
            start_from(&b, &ip)
                .await
                .assert_status(200, &w.ctx(&format!("start {n} from {ip}")));
        }
        if source == 1 {
            start_from(&b, &ip).await.assert_error(
                429,
                "ATTEMPTS_EXHAUSTED",
                &w.ctx("the first source's own share is spent"),
            );
        }
    }
    start_from(&b, "198.51.100.7").await.assert_error(
        429,
        "ATTEMPTS_EXHAUSTED",
        &w.ctx("a seventh source, the number's total spent"),
    );
}

/// Issue 33 item 11: after racing advances that each draw an attempt (wrong codes, resends
/// refused by their cooldown), the chain's state shows exactly what the budget has left, as
/// the next draw (a new chain's start) confirms.
pub async fn chain_attempts_left_is_exact_after_racing_advances(w: &World) {
    attempts_after_a_race(w, None).await;
}

/// [`chain_attempts_left_is_exact_after_racing_advances`] with the chain in Redis.
pub async fn chain_attempts_left_is_exact_after_racing_advances_with_redis(w: &World) {
    let Some((_redis, store)) = redis_store().await else {
        return;
    };
    attempts_after_a_race(w, Some(store)).await;
}

async fn attempts_after_a_race(w: &World, store: Option<Arc<dyn Store>>) {
    const RACERS: u64 = 6;
    let clock = ManualClock::new();
    let chain = codes_chain().attempts(20, Duration::from_secs(900));
    let (_app, b) = chain_app_in(w, chain, &clock, store).await;
    start_ok(w, &b, FALLBACK, "magical_auth").await;
    at(w, &not_eligible(w, &b, FALLBACK).await, "sms", "fall");
    let s = at(
        w,
        &advance(&b, &json!({"event":"send","step":"sms"})).await,
        "sms",
        "send",
    );
    assert_eq!(s["attempts_left"], 18, "{}: {s}", w.ctx("start and send"));
    let code = w.legacy_otp(FALLBACK);
    let events: Vec<Value> = (0..RACERS)
        .map(|n| {
            if n % 2 == 0 {
                json!({"event":"code","step":"sms","code": wrong_code(&code)})
            } else {
                json!({"event":"send","step":"sms"})
            }
        })
        .collect();
    let replies = futures_util::future::join_all(events.iter().map(|e| advance(&b, e))).await;
    for (n, reply) in replies.iter().enumerate() {
        assert!(
            matches!(reply.status, 401 | 429),
            "{}: {} {}",
            w.ctx(&format!(
                "racer {n}: a wrong code or a resend in its cooldown"
            )),
            reply.status,
            reply.text()
        );
    }
    let left = 18 - RACERS;
    let s = at(w, &state(&b).await, "sms", "after the race");
    assert_eq!(
        s["attempts_left"],
        left,
        "{}: {s}",
        w.ctx("every racer drew one, and the state says so")
    );
    // The budget agrees: the next draw (a new chain for the number) leaves one fewer.
    let s = start_ok(w, &b, FALLBACK, "magical_auth").await;
    assert_eq!(
        s["attempts_left"],
        left - 1,
        "{}: {s}",
        w.ctx("the budget's own count")
    );
}
