//! Legacy Magic Auth through the adapter: the SMS / e-mail fallback and the silent carrier check
//! (`magic-auth/start`, `magic-auth/verify`) and server-side Magic Auth
//! (`start-server-auth`, `check-server-auth`), against the sandbox's legacy surface.

use std::sync::Arc;
use std::time::Duration;

use glide_core::clock::ManualClock;
use glide_sandbox::{Fault, Sandbox, SandboxConfig};
use serde_json::{json, Value};

use crate::harness::{Browser, Reply, World, SESSION_COOKIE};
use crate::scenarios::flows::{assert_me, assert_session_cookie};

/// The fixture number whose carrier is not eligible: the code falls back to SMS / e-mail.
pub(crate) const FALLBACK: &str = "+15555550106";
/// A number whose carrier supports the silent check.
pub(crate) const MAGIC: &str = "+15555550100";
/// The name of the legacy verification cookie with insecure development cookies.
pub(crate) const LEGACY_COOKIE: &str = "glide_legacy";

/// `POST magic-auth/start` with `body`.
pub(crate) async fn start(browser: &Browser, body: &Value) -> Reply {
    browser.post(&World::route("magic-auth/start"), body).await
}

/// `POST magic-auth/verify` with `body`.
pub(crate) async fn verify(browser: &Browser, body: &Value) -> Reply {
    browser.post(&World::route("magic-auth/verify"), body).await
}

/// A start that must answer 200 with `type`; checks the verification cookie; returns the body.
pub(crate) async fn start_ok(w: &World, browser: &Browser, body: &Value, kind: &str) -> Value {
    let reply = start(browser, body).await;
    reply.assert_status(200, &w.ctx(&format!("magic-auth/start {body}")));
    let answer = reply.json();
    assert_eq!(answer["type"], kind, "{}: {answer}", w.ctx("start type"));
    let cookie = reply.set_cookie(LEGACY_COOKIE).unwrap_or_else(|| {
        panic!(
            "{}: no {LEGACY_COOKIE} cookie in {:?}",
            w.ctx("start"),
            reply.set_cookies()
        )
    });
    cookie.assert_dev_attributes(&w.ctx("legacy cookie"));
    assert_eq!(
        cookie.attr("max-age"),
        Some("600"),
        "{}: {}",
        w.ctx("legacy cookie"),
        cookie.raw
    );
    assert!(
        reply.set_cookie(SESSION_COOKIE).is_none(),
        "{}: a start must not verify",
        w.ctx("start")
    );
    answer
}

/// Starts an SMS verification of [`FALLBACK`] in `browser`; returns the code sent.
async fn start_sms(w: &World, browser: &Browser) -> String {
    start_ok(w, browser, &json!({ "phone_number": FALLBACK }), "SMS").await;
    w.legacy_otp(FALLBACK)
}

/// A code of the same shape that is not `code`.
pub(crate) fn wrong_code(code: &str) -> String {
    code.bytes()
        .map(|b| char::from(b'0' + (b - b'0' + 1) % 10))
        .collect()
}

/// Asserts a refused verify: 401 INVALID_CODE with `attempts_left`, no session.
#[track_caller]
fn assert_invalid_code(w: &World, reply: &Reply, attempts_left: u64, what: &str) {
    let body = reply.assert_error(401, "INVALID_CODE", &w.ctx(what));
    assert_eq!(
        body["attempts_left"].as_u64(),
        Some(attempts_left),
        "{}: {body}",
        w.ctx(what)
    );
    assert!(
        reply.set_cookie(SESSION_COOKIE).is_none(),
        "{}: a refused code must not give a session",
        w.ctx(what)
    );
}

/// Asserts that `browser` has no verified session.
async fn assert_not_verified(w: &World, browser: &Browser, what: &str) {
    w.me(browser)
        .await
        .assert_error(401, "NOT_VERIFIED", &w.ctx(what));
}

/// Asserts a successful verify: 200 with the phone and strategy, the session cookie, the
/// legacy cookie removed. Returns the session id.
#[track_caller]
fn assert_verified(w: &World, reply: &Reply, phone: &str, strategy: &str) -> String {
    reply.assert_status(200, &w.ctx("verify"));
    let body = reply.json();
    assert_eq!(body["verified"], true, "{}: {body}", w.ctx("verify"));
    assert_eq!(body["phone_number"], phone, "{}: {body}", w.ctx("verify"));
    assert_eq!(body["strategy"], strategy, "{}: {body}", w.ctx("verify"));
    let session = assert_session_cookie(w, reply);
    assert!(
        reply
            .set_cookie(LEGACY_COOKIE)
            .is_some_and(|c| c.is_removal()),
        "{}: the legacy cookie is removed after use: {:?}",
        w.ctx("verify"),
        reply.set_cookies()
    );
    session
}

/// Opens a Magic Auth `auth_url` as the device would and returns the carrier's `token` header.
pub(crate) async fn device_token(w: &World, auth_url: &str) -> String {
    assert!(
        auth_url.starts_with(&w.sandbox.base_url()),
        "{}: auth_url {auth_url} is not the sandbox's",
        w.ctx("start")
    );
    let response = plain_http()
        .get(auth_url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{}: GET {auth_url}: {e}", w.ctx("device page")));
    assert_eq!(
        response.status().as_u16(),
        200,
        "{}: {auth_url}",
        w.ctx("device page")
    );
    response
        .headers()
        .get("token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("{}: no token header", w.ctx("device page")))
        .to_owned()
}

/// A cookie-less HTTP client that does not follow redirects (the device / operator side).
pub(crate) fn plain_http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("reqwest client")
}

/// SMS fallback: the ineligible carrier's number gets a code by SMS; the right code gives the
/// verified session with strategy `sms`.
pub async fn legacy_sms_fallback_end_to_end(w: &World) {
    let b = &w.browser;
    let answer = start_ok(w, b, &json!({ "phone_number": FALLBACK }), "SMS").await;
    assert!(
        answer.get("auth_url").is_none(),
        "{}: no auth_url for SMS: {answer}",
        w.ctx("start")
    );
    let code = w.legacy_otp(FALLBACK);
    assert_eq!(code.len(), 6, "{}: {code}", w.ctx("OTP"));
    assert_not_verified(w, b, "/me before the code").await;
    let reply = verify(b, &json!({ "code": code })).await;
    assert_verified(w, &reply, FALLBACK, "sms");
    assert_me(w, b, FALLBACK, "VerifyPhoneNumber", "sms").await;
}

/// E-mail fallback: the code goes to the address; the session's strategy is `email`.
pub async fn legacy_email_fallback_end_to_end(w: &World) {
    let b = &w.browser;
    // The address comes from the app's records, never from the browser: a stranger asking for
    // a code for this number at their own mailbox is refused, and nothing is sent.
    let attacker = "eve@example.com";
    start(
        b,
        &json!({ "phone_number": FALLBACK, "email": attacker, "fallback_channel": "EMAIL" }),
    )
    .await
    .assert_error(400, "VALIDATION_ERROR", &w.ctx("e-mail from the browser"));
    assert!(
        w.sandbox.control().legacy_otp(attacker).is_none(),
        "{}: no code for the attacker's address",
        w.ctx("start")
    );
    let email = "user-0106@example.com";
    start_ok(
        w,
        b,
        &json!({ "phone_number": FALLBACK, "fallback_channel": "EMAIL" }),
        "EMAIL",
    )
    .await;
    assert!(
        w.sandbox.control().legacy_otp(FALLBACK).is_none(),
        "{}: no SMS is sent for an e-mail fallback",
        w.ctx("start")
    );
    let code = w.legacy_otp(email);
    let reply = verify(b, &json!({ "code": code })).await;
    assert_verified(w, &reply, FALLBACK, "email");
    assert_me(w, b, FALLBACK, "VerifyPhoneNumber", "email").await;
}

/// The silent carrier check: start answers MAGIC with the carrier URL, the device's page hands
/// out a token, verify with it gives the session with strategy `magic`.
pub async fn legacy_magic_flow_end_to_end(w: &World) {
    let b = &w.browser;
    let answer = start_ok(w, b, &json!({ "phone_number": MAGIC }), "MAGIC").await;
    let auth_url = answer["auth_url"]
        .as_str()
        .unwrap_or_else(|| panic!("{}: no auth_url: {answer}", w.ctx("start")))
        .to_owned();
    let token = device_token(w, &auth_url).await;
    // A code where a token is expected is refused without counting.
    let refused = verify(b, &json!({ "code": "123456" })).await;
    refused.assert_error(
        400,
        "VALIDATION_ERROR",
        &w.ctx("code for a MAGIC verification"),
    );
    let reply = verify(b, &json!({ "token": token })).await;
    assert_verified(w, &reply, MAGIC, "magic");
    assert_me(w, b, MAGIC, "VerifyPhoneNumber", "magic").await;

    // The carrier token is single use: a new verification of the number cannot reuse it. (A
    // carrier link is no code: no cooldown holds the second start.)
    start_ok(w, &w.other, &json!({ "phone_number": MAGIC }), "MAGIC").await;
    let reply = verify(&w.other, &json!({ "token": token })).await;
    assert_invalid_code(w, &reply, 4, "a used carrier token");
    assert_not_verified(w, &w.other, "/me after a used token").await;
}

/// Wrong codes answer 401 INVALID_CODE with `attempts_left` going down; a malformed code is
/// refused with 400 and not counted; the right code still verifies.
pub async fn legacy_wrong_code_counts_attempts(w: &World) {
    let b = &w.browser;
    let code = start_sms(w, b).await;
    let wrong = wrong_code(&code);
    let reply = verify(b, &json!({ "code": wrong })).await;
    assert_invalid_code(w, &reply, 4, "first wrong code");
    let reply = verify(b, &json!({ "code": wrong })).await;
    assert_invalid_code(w, &reply, 3, "second wrong code");
    for malformed in ["12ab56", "123", ""] {
        let reply = verify(b, &json!({ "code": malformed })).await;
        reply.assert_error(
            400,
            "VALIDATION_ERROR",
            &w.ctx(&format!("malformed code {malformed:?}")),
        );
    }
    let reply = verify(b, &json!({ "code": wrong })).await;
    assert_invalid_code(
        w,
        &reply,
        2,
        "third wrong code (malformed ones not counted)",
    );
    assert_not_verified(w, b, "/me after wrong codes").await;
    let reply = verify(b, &json!({ "code": code })).await;
    assert_verified(w, &reply, FALLBACK, "sms");
    assert_me(w, b, FALLBACK, "VerifyPhoneNumber", "sms").await;
}

/// Five wrong codes kill the verification: the right code then answers 429
/// TOO_MANY_ATTEMPTS and gives no session; a resend is refused too.
pub async fn legacy_five_wrong_codes_kill_the_verification(w: &World) {
    let b = &w.browser;
    let code = start_sms(w, b).await;
    let wrong = wrong_code(&code);
    for left in (0..5).rev() {
        let reply = verify(b, &json!({ "code": wrong })).await;
        assert_invalid_code(w, &reply, left, &format!("wrong code, {left} left"));
    }
    let reply = verify(b, &json!({ "code": code })).await;
    reply.assert_error(
        429,
        "TOO_MANY_ATTEMPTS",
        &w.ctx("right code after five wrong ones"),
    );
    assert!(
        reply.set_cookie(SESSION_COOKIE).is_none(),
        "{}",
        w.ctx("no session after five wrong codes")
    );
    assert_not_verified(w, b, "/me after five wrong codes").await;
    let resend = start(b, &json!({ "phone_number": FALLBACK })).await;
    assert_eq!(
        resend.status,
        429,
        "{}: {}",
        w.ctx("resend of a dead verification"),
        resend.text()
    );
    let reply = verify(b, &json!({ "code": code })).await;
    reply.assert_error(429, "TOO_MANY_ATTEMPTS", &w.ctx("verify after the resend"));
    assert_not_verified(w, b, "/me at the end").await;
}

/// A resend within the cooldown answers 429 RATE_LIMIT_EXCEEDED with `Retry-After` and sends
/// nothing; after the cooldown (engine clock moved) a resend goes out, a new code replaces the
/// old one, and the wrong-code count carries on.
pub async fn legacy_resend_cooldown_keeps_the_count(w: &World) {
    let clock = ManualClock::new();
    let shared: glide_core::clock::SharedClock = Arc::new(clock.clone());
    let (_app, b) = w.start_app(move |builder| builder.clock(shared)).await;
    let first = start_sms(w, &b).await;
    let reply = verify(&b, &json!({ "code": wrong_code(&first) })).await;
    assert_invalid_code(w, &reply, 4, "wrong code before the resend");

    let resend = start(&b, &json!({ "phone_number": FALLBACK })).await;
    resend.assert_error(
        429,
        "RATE_LIMIT_EXCEEDED",
        &w.ctx("resend within the cooldown"),
    );
    let retry_after = resend
        .header("retry-after")
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or_else(|| {
            panic!(
                "{}: {:?}",
                w.ctx("Retry-After seconds"),
                resend.header("retry-after")
            )
        });
    assert!(
        (1..=30).contains(&retry_after),
        "{}: {retry_after}",
        w.ctx("Retry-After")
    );
    assert_eq!(
        w.legacy_otp(FALLBACK),
        first,
        "{}",
        w.ctx("no code is sent within the cooldown")
    );

    clock.advance(time::Duration::seconds(31));
    let resent = start(&b, &json!({ "phone_number": FALLBACK })).await;
    resent.assert_status(200, &w.ctx("resend after the cooldown"));
    let second = w.legacy_otp(FALLBACK);
    let reply = verify(&b, &json!({ "code": wrong_code(&second) })).await;
    assert_invalid_code(w, &reply, 3, "wrong code after the resend (count kept)");
    if first != second {
        let reply = verify(&b, &json!({ "code": first })).await;
        assert_invalid_code(w, &reply, 2, "the replaced code");
    }
    let reply = verify(&b, &json!({ "code": second })).await;
    assert_verified(w, &reply, FALLBACK, "sms");
}

/// A code used once cannot verify again: the second verify (even with the old cookie put back)
/// is refused and the browser keeps its one session; two concurrent verifies give one session.
pub async fn legacy_reused_code_is_refused(w: &World) {
    let b = &w.browser;
    let code = start_sms(w, b).await;
    let legacy_id = b.cookie(LEGACY_COOKIE).expect("legacy cookie in the jar");
    let reply = verify(b, &json!({ "code": code })).await;
    let session = assert_verified(w, &reply, FALLBACK, "sms");

    for replay in ["replayed verify", "replayed verify with the old cookie"] {
        if replay.ends_with("old cookie") {
            b.set_cookie(LEGACY_COOKIE, &legacy_id);
        }
        let again = verify(b, &json!({ "code": code })).await;
        assert!(
            (400..500).contains(&again.status),
            "{}: got {} {}",
            w.ctx(replay),
            again.status,
            again.text()
        );
        again.assert_error_shape(&w.ctx(replay));
        assert!(
            again.set_cookie(SESSION_COOKIE).is_none(),
            "{}: {:?}",
            w.ctx(replay),
            again.set_cookies()
        );
    }
    assert_eq!(
        b.cookie(SESSION_COOKIE).as_deref(),
        Some(session.as_str()),
        "{}",
        w.ctx("the session is the first one")
    );
    assert_me(w, b, FALLBACK, "VerifyPhoneNumber", "sms").await;

    // Two verifies racing with the right code (a double click): never two sessions. (Another
    // app: this one's per-number cooldown still runs.)
    let (_app, racer) = w.start_app(|builder| builder).await;
    let racer = &racer;
    let code = start_sms(w, racer).await;
    let body = json!({ "code": code });
    let (one, two) = tokio::join!(verify(racer, &body), verify(racer, &body));
    let wins = [&one, &two]
        .iter()
        .filter(|r| r.set_cookie(SESSION_COOKIE).is_some())
        .count();
    assert!(
        wins <= 1,
        "{}: {} {} / {} {}",
        w.ctx("concurrent verifies give at most one session"),
        one.status,
        one.text(),
        two.status,
        two.text()
    );
}

/// A wrong code sent while the right one is being checked at Glide (made deterministic with a
/// delay on the sandbox's check) is refused on its own; the right code still gives the
/// session.
pub async fn legacy_wrong_code_during_the_check_of_the_right_one(w: &World) {
    let b = &w.browser;
    let code = start_sms(w, b).await;
    let control = w.sandbox.control();
    control.clear_requests();
    control.add_fault(Fault::delay(
        "/magic-auth/verification/check",
        Duration::from_millis(400),
    ));
    let right_body = json!({ "code": code });
    let right = verify(b, &right_body);
    let wrong = async {
        // Only once the right code's check is held at Glide.
        for _ in 0..400 {
            if control
                .requests()
                .iter()
                .any(|r| r.path == "/magic-auth/verification/check")
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        verify(b, &json!({ "code": wrong_code(&code) })).await
    };
    let (right, wrong) = tokio::join!(right, wrong);
    assert_invalid_code(w, &wrong, 3, "wrong code during the right one's check");
    assert_verified(w, &right, FALLBACK, "sms");
    assert_me(w, b, FALLBACK, "VerifyPhoneNumber", "sms").await;
}

/// An expired code (short sandbox code lifetime) is refused and gives no session.
pub async fn legacy_expired_code_is_refused(w: &World) {
    let config = SandboxConfig::default().with_legacy_code_lifetime(Duration::from_millis(300));
    let sandbox = Sandbox::start(config).await.expect("start the sandbox");
    let (_app, b) = w.start_app_on(&sandbox, |builder| builder).await;
    start_ok(w, &b, &json!({ "phone_number": FALLBACK }), "SMS").await;
    let code = sandbox
        .control()
        .legacy_otp(FALLBACK)
        .unwrap_or_else(|| panic!("{}", w.ctx("no OTP sent")));
    tokio::time::sleep(Duration::from_millis(450)).await;
    let reply = verify(&b, &json!({ "code": code })).await;
    assert_invalid_code(w, &reply, 4, "expired code");
    assert_not_verified(w, &b, "/me after an expired code").await;
}

/// A code or token issued for one recipient is refused in a verification for another: an
/// e-mail code in another address's verification, an SMS code in an e-mail verification of
/// the same number, a carrier token of one number in the verification of another.
pub async fn legacy_cross_recipient_code_is_refused(w: &World) {
    let bob = &w.other;
    let email_body = json!({ "phone_number": FALLBACK, "fallback_channel": "EMAIL" });
    // Alice's code goes to another address: an app whose records hold another one.
    let (_alice_app, alice) = w
        .start_app(|builder| {
            builder.email_on_file(|_: &glide_core::PhoneNumber| {
                glide_core::legacy::Email::parse("alice@example.com").ok()
            })
        })
        .await;
    start_ok(w, &alice, &email_body, "EMAIL").await;
    start_ok(w, bob, &email_body, "EMAIL").await;
    let alice_code = w.legacy_otp("alice@example.com");
    let bob_code = w.legacy_otp("user-0106@example.com");
    // (Two random 6-digit codes are equal once in a million: such a draw proves nothing.)
    let mut left = 5;
    if alice_code != bob_code {
        left -= 1;
        let reply = verify(bob, &json!({ "code": alice_code })).await;
        assert_invalid_code(w, &reply, left, "alice's e-mail code in bob's verification");
    }

    // An SMS code for the number, in bob's e-mail verification of the same number.
    let (_app, sms) = w.start_app(|builder| builder).await;
    start_ok(w, &sms, &json!({ "phone_number": FALLBACK }), "SMS").await;
    let sms_code = w.legacy_otp(FALLBACK);
    if sms_code != bob_code {
        left -= 1;
        let reply = verify(bob, &json!({ "code": sms_code })).await;
        assert_invalid_code(w, &reply, left, "an SMS code in an e-mail verification");
    }
    assert_not_verified(w, bob, "/me for bob").await;
    let reply = verify(bob, &json!({ "code": bob_code })).await;
    assert_verified(w, &reply, FALLBACK, "email");

    // A carrier token for +15555550103 in a verification of +15555550100.
    let (_app, mallory) = w.start_app(|builder| builder).await;
    let answer = start_ok(
        w,
        &mallory,
        &json!({ "phone_number": "+15555550103" }),
        "MAGIC",
    )
    .await;
    let other_token = device_token(w, answer["auth_url"].as_str().expect("auth_url")).await;
    let (_app2, victim) = w.start_app(|builder| builder).await;
    let answer = start_ok(w, &victim, &json!({ "phone_number": MAGIC }), "MAGIC").await;
    let reply = verify(&victim, &json!({ "token": other_token })).await;
    assert_invalid_code(w, &reply, 4, "another number's carrier token");
    let own = device_token(w, answer["auth_url"].as_str().expect("auth_url")).await;
    let reply = verify(&victim, &json!({ "token": own })).await;
    assert_verified(w, &reply, MAGIC, "magic");
}

/// The right code sent from another browser (no verification cookie, or the cookie of its own
/// verification) is refused; the right browser still verifies.
pub async fn legacy_verify_from_another_browser_is_refused(w: &World) {
    let code = start_sms(w, &w.browser).await;
    let stolen = verify(&w.other, &json!({ "code": code })).await;
    stolen.assert_error(
        404,
        "SESSION_NOT_FOUND",
        &w.ctx("verify without the cookie"),
    );
    assert!(
        stolen.set_cookie(SESSION_COOKIE).is_none(),
        "{}",
        w.ctx("no session for the other browser")
    );
    w.other.set_cookie(LEGACY_COOKIE, &"A".repeat(43));
    let forged = verify(&w.other, &json!({ "code": code })).await;
    forged.assert_error(
        404,
        "SESSION_NOT_FOUND",
        &w.ctx("verify with a forged cookie"),
    );
    assert_not_verified(w, &w.other, "/me for the other browser").await;
    let reply = verify(&w.browser, &json!({ "code": code })).await;
    assert_verified(w, &reply, FALLBACK, "sms");
}

/// Server-side Magic Auth without a fallback (only the carrier can confirm it): start →
/// PENDING → approved on the phone → the starting browser's check gives the session (strategy
/// `magic`), another browser's check gets nothing, the check is single use; a denied one gives
/// no session.
pub async fn legacy_server_auth_end_to_end(w: &World) {
    let b = &w.browser;
    let reply = b
        .post(
            &World::route("magic-auth/start-server-auth"),
            &json!({ "phone_number": MAGIC, "fallback_channel": "NO_FALLBACK" }),
        )
        .await;
    reply.assert_status(200, &w.ctx("start-server-auth"));
    let body = reply.json();
    let session_id = body["session_id"]
        .as_str()
        .unwrap_or_else(|| panic!("{}: {body}", w.ctx("session_id")))
        .to_owned();
    assert!(
        body["auth_url"]
            .as_str()
            .is_some_and(|u| u.contains(&session_id)),
        "{}: {body}",
        w.ctx("auth_url")
    );
    assert!(
        reply.set_cookie(LEGACY_COOKIE).is_some(),
        "{}",
        w.ctx("start-server-auth binds the browser")
    );
    let check_path = format!(
        "{}?session_id={session_id}",
        World::route("magic-auth/check-server-auth")
    );

    let pending = b.get(&check_path).await;
    pending.assert_status(200, &w.ctx("check before approval"));
    assert_eq!(
        pending.json()["status"],
        "PENDING",
        "{}",
        w.ctx("check before approval")
    );
    assert!(
        pending.set_cookie(SESSION_COOKIE).is_none(),
        "{}",
        w.ctx("no session while pending")
    );

    w.sandbox
        .control()
        .server_auth_approve(&session_id)
        .unwrap_or_else(|e| panic!("server_auth_approve: {e}"));

    let stolen = w.other.get(&check_path).await;
    stolen.assert_error(
        404,
        "SESSION_NOT_FOUND",
        &w.ctx("check from another browser"),
    );
    assert!(
        stolen.set_cookie(SESSION_COOKIE).is_none(),
        "{}",
        w.ctx("no session for the other browser")
    );
    assert_not_verified(w, &w.other, "/me for the other browser").await;

    let done = b.get(&check_path).await;
    done.assert_status(200, &w.ctx("check after approval"));
    let answer = done.json();
    assert_eq!(
        answer["status"],
        "COMPLETED",
        "{}: {answer}",
        w.ctx("check")
    );
    assert_eq!(answer["verified"], true, "{}: {answer}", w.ctx("check"));
    let session = assert_session_cookie(w, &done);
    assert_me(w, b, MAGIC, "VerifyPhoneNumber", "magic").await;

    let again = b.get(&check_path).await;
    assert!(
        (400..500).contains(&again.status) && again.set_cookie(SESSION_COOKIE).is_none(),
        "{}: {} {}",
        w.ctx("second check"),
        again.status,
        again.text()
    );
    assert_eq!(b.cookie(SESSION_COOKIE).as_deref(), Some(session.as_str()));

    // Denied on the phone: COMPLETED, not verified, no session.
    let d = &w.other;
    let reply = d
        .post(
            &World::route("magic-auth/start-server-auth"),
            &json!({ "phone_number": MAGIC }),
        )
        .await;
    reply.assert_status(200, &w.ctx("second start-server-auth"));
    let denied_id = reply.json()["session_id"]
        .as_str()
        .expect("session_id")
        .to_owned();
    w.sandbox
        .control()
        .server_auth_deny(&denied_id)
        .unwrap_or_else(|e| panic!("server_auth_deny: {e}"));
    let denied = d
        .get(&format!(
            "{}?session_id={denied_id}",
            World::route("magic-auth/check-server-auth")
        ))
        .await;
    denied.assert_status(200, &w.ctx("check after denial"));
    assert_eq!(denied.json()["verified"], false, "{}", w.ctx("denied"));
    assert!(
        denied.set_cookie(SESSION_COOKIE).is_none(),
        "{}",
        w.ctx("no session when denied")
    );
    assert_not_verified(w, d, "/me after a denial").await;
}

/// A foreign `Origin` on the legacy POST routes: 403 ORIGIN_NOT_ALLOWED, no cookie, nothing
/// reaches Glide; the verification in progress is untouched.
pub async fn legacy_foreign_origin_is_refused(w: &World) {
    let b = &w.browser;
    let code = start_sms(w, b).await;
    w.sandbox.control().clear_requests();
    for (route, body) in [
        ("magic-auth/start", json!({ "phone_number": FALLBACK })),
        ("magic-auth/verify", json!({ "code": code })),
        (
            "magic-auth/start-server-auth",
            json!({ "phone_number": MAGIC }),
        ),
    ] {
        let reply = b
            .call("POST", &World::route(route))
            .json(&body)
            .header("origin", "https://evil.example")
            .header("sec-fetch-site", "cross-site")
            .send()
            .await;
        reply.assert_error(
            403,
            "ORIGIN_NOT_ALLOWED",
            &w.ctx(&format!("{route} from evil")),
        );
        assert!(
            reply.set_cookies().is_empty(),
            "{}: {:?}",
            w.ctx(route),
            reply.set_cookies()
        );
    }
    assert!(
        w.sandbox.control().requests().is_empty(),
        "{}: {:?}",
        w.ctx("nothing reaches Glide"),
        w.sandbox.control().requests()
    );
    assert_not_verified(w, b, "/me after refused calls").await;
    let reply = verify(b, &json!({ "code": code })).await;
    assert_verified(w, &reply, FALLBACK, "sms");
}
