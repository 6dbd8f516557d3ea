//! The SIM-swap check of every path that is not Magical Auth: the SMS and e-mail code fallback,
//! the legacy carrier check, server-side auth and Number Verify ask Glide's SIM Swap API (CIBA
//! token → `retrieve-date`) once, after the verification succeeded and before its session
//! (beside the device-swap check: `device_swap.rs`); the
//! default risk policy then denies `RISK_LEVEL_HIGH` with 403 `RISK_POLICY_DENIED` (Number
//! Verify: the failure redirect) and issues no session. A failed check fails closed (opaque
//! 503) unless the app chose fail-open.

use glide_core::endpoint::SimSwapFailure;
use glide_sandbox::Fault;
use serde_json::{json, Value};

use crate::faults::assert_opaque_error;
use crate::harness::{Browser, Reply, World, DESKTOP_UA, SESSION_COOKIE};
use crate::scenarios::flows::{assert_me, assert_session_cookie};
use crate::scenarios::legacy::{
    device_token, start, start_ok, verify, wrong_code, FALLBACK, LEGACY_COOKIE, MAGIC,
};
use crate::scenarios::legacy_number_verify::callback_path;

/// Not eligible for Magical Auth (codes instead), SIM swapped 2 hours ago.
const SWAPPED_FALLBACK: &str = "+15555550109";
/// The app's address on file for [`SWAPPED_FALLBACK`].
const SWAPPED_FALLBACK_EMAIL: &str = "user-0109@example.com";
/// Eligible for the carrier check, SIM swapped 2 hours ago.
const SWAPPED: &str = "+15555550101";
/// The CIBA request of the SIM-swap check (and of the device-swap one).
pub(crate) const CIBA_PATH: &str = "/oauth2/backchannel-authentication";
/// The SIM-swap call of the check.
const RETRIEVE_DATE_PATH: &str = "/sim-swap/retrieve-date";

/// How many requests the sandbox has received on `path` (on [`CIBA_PATH`]: those of the
/// SIM-swap check, scope `sim-swap`; the device-swap check makes its own).
pub(crate) fn calls(w: &World, path: &str) -> usize {
    w.sandbox
        .control()
        .requests()
        .iter()
        .filter(|r| r.path == path && (path != CIBA_PATH || r.body["scope"] == "sim-swap"))
        .count()
}

/// Asserts a risk denial of `phone` on its SIM-swap signal: 403 `RISK_POLICY_DENIED` with the
/// signal in the body, no session cookie, `/me` 401.
async fn assert_sim_swap_denied(
    w: &World,
    browser: &Browser,
    reply: &Reply,
    phone: &str,
    what: &str,
) {
    let body = reply.assert_error(403, "RISK_POLICY_DENIED", &w.ctx(what));
    assert_eq!(body["phone_number"], phone, "{}: {body}", w.ctx(what));
    assert_eq!(body["sim_swap"]["checked"], true, "{}: {body}", w.ctx(what));
    assert_eq!(
        body["sim_swap"]["risk_level"],
        "RISK_LEVEL_HIGH",
        "{}: {body}",
        w.ctx(what)
    );
    assert_eq!(
        body["sim_swap"]["age_band"],
        "0-4 hours",
        "{}: {body}",
        w.ctx(what)
    );
    assert!(
        reply.set_cookie(SESSION_COOKIE).is_none(),
        "{}: no session on a denial: {:?}",
        w.ctx(what),
        reply.set_cookies()
    );
    w.me(browser)
        .await
        .assert_error(401, "NOT_VERIFIED", &w.ctx(&format!("/me after {what}")));
}

/// Asserts `/me` of `browser` shows checked, low-risk SIM-swap and device-swap signals for
/// `phone` verified by `strategy`.
pub(crate) async fn assert_low_risk_session(
    w: &World,
    browser: &Browser,
    phone: &str,
    strategy: &str,
) {
    let me = assert_me(w, browser, phone, "VerifyPhoneNumber", strategy).await;
    for signal in ["sim_swap", "device_swap"] {
        let what = format!("/me {signal} after {strategy}");
        assert_eq!(me[signal]["checked"], true, "{}: {me}", w.ctx(&what));
        assert_eq!(
            me[signal]["risk_level"],
            "RISK_LEVEL_LOW",
            "{}: {me}",
            w.ctx(&what)
        );
        assert!(
            me[signal]["checked_at"].is_string(),
            "{}: {me}",
            w.ctx(&what)
        );
    }
}

/// A code verification denied on its signal is consumed: the same code cannot be tried again.
pub(crate) async fn assert_consumed(w: &World, browser: &Browser, code: &str, what: &str) {
    assert!(
        browser.cookie(LEGACY_COOKIE).is_none(),
        "{}: the verification cookie is removed",
        w.ctx(what)
    );
    let again = verify(browser, &json!({ "code": code })).await;
    again.assert_error(404, "SESSION_NOT_FOUND", &w.ctx(what));
    assert!(
        again.set_cookie(SESSION_COOKIE).is_none(),
        "{}",
        w.ctx(what)
    );
}

/// `+15555550109` through the SMS fallback: the right code is denied on the SIM swap; the check
/// ran once, not on the wrong code before it.
pub async fn sim_swap_denies_the_sms_fallback(w: &World) {
    let b = &w.browser;
    start_ok(w, b, &json!({ "phone_number": SWAPPED_FALLBACK }), "SMS").await;
    let code = w.legacy_otp(SWAPPED_FALLBACK);
    let wrong = verify(b, &json!({ "code": wrong_code(&code) })).await;
    wrong.assert_error(401, "INVALID_CODE", &w.ctx("wrong code"));
    assert_eq!(
        calls(w, CIBA_PATH),
        0,
        "{}",
        w.ctx("no SIM-swap check on a wrong code")
    );
    let reply = verify(b, &json!({ "code": code })).await;
    assert_sim_swap_denied(w, b, &reply, SWAPPED_FALLBACK, "SMS code of a swapped SIM").await;
    assert_eq!(
        (calls(w, CIBA_PATH), calls(w, RETRIEVE_DATE_PATH)),
        (1, 1),
        "{}",
        w.ctx("one SIM-swap check per verification")
    );
    assert_consumed(w, b, &code, "the denied SMS code again").await;
}

/// `+15555550109` through the e-mail fallback (the address on file, never from the browser):
/// denied on the SIM swap.
pub async fn sim_swap_denies_the_email_fallback(w: &World) {
    let b = &w.browser;
    start_ok(
        w,
        b,
        &json!({ "phone_number": SWAPPED_FALLBACK, "fallback_channel": "EMAIL" }),
        "EMAIL",
    )
    .await;
    let code = w.legacy_otp(SWAPPED_FALLBACK_EMAIL);
    let reply = verify(b, &json!({ "code": code })).await;
    assert_sim_swap_denied(
        w,
        b,
        &reply,
        SWAPPED_FALLBACK,
        "e-mail code of a swapped SIM",
    )
    .await;
    assert_consumed(w, b, &code, "the denied e-mail code again").await;
}

/// `+15555550101` through legacy Magic Auth (the carrier link): denied on the SIM swap — the
/// hole the issue was filed for.
pub async fn sim_swap_denies_the_legacy_carrier_check(w: &World) {
    let b = &w.browser;
    let answer = start_ok(w, b, &json!({ "phone_number": SWAPPED }), "MAGIC").await;
    let token = device_token(w, answer["auth_url"].as_str().unwrap_or_default()).await;
    let reply = verify(b, &json!({ "token": token })).await;
    assert_sim_swap_denied(w, b, &reply, SWAPPED, "carrier check of a swapped SIM").await;
    let again = verify(b, &json!({ "token": token })).await;
    again.assert_error(404, "SESSION_NOT_FOUND", &w.ctx("the denied token again"));
}

/// Starts server-side auth for `phone` in `browser`, approves it on the phone and checks it:
/// returns the check's answer and the check path.
pub(crate) async fn server_auth_approved(
    w: &World,
    browser: &Browser,
    phone: &str,
) -> (Reply, String) {
    let reply = browser
        .post(
            &World::route("magic-auth/start-server-auth"),
            &json!({ "phone_number": phone }),
        )
        .await;
    reply.assert_status(200, &w.ctx("start-server-auth"));
    let session_id = reply.json()["session_id"]
        .as_str()
        .unwrap_or_else(|| panic!("{}: no session_id", w.ctx("start-server-auth")))
        .to_owned();
    w.sandbox
        .control()
        .server_auth_approve(&session_id)
        .unwrap_or_else(|e| panic!("server_auth_approve: {e}"));
    let check = format!(
        "{}?session_id={session_id}",
        World::route("magic-auth/check-server-auth")
    );
    (browser.get(&check).await, check)
}

/// `+15555550101` through server-side auth: the completed check is denied on the SIM swap and
/// consumed.
pub async fn sim_swap_denies_server_auth(w: &World) {
    let b = &w.browser;
    let (reply, check) = server_auth_approved(w, b, SWAPPED).await;
    assert_sim_swap_denied(w, b, &reply, SWAPPED, "server auth of a swapped SIM").await;
    let again = b.get(&check).await;
    again.assert_error(404, "SESSION_NOT_FOUND", &w.ctx("the denied check again"));
}

/// `+15555550101` through Number Verify: the callback redirects to the failure return path and
/// issues no session.
pub async fn sim_swap_denies_number_verify(w: &World) {
    assert_number_verify_denied(w, &w.browser, SWAPPED).await;
    assert_eq!(calls(w, CIBA_PATH), 1, "{}", w.ctx("one SIM-swap check"));
}

/// Number Verify of `phone` in `browser` is denied: the callback redirects to the failure
/// return path, no session cookie, `/me` 401.
pub(crate) async fn assert_number_verify_denied(w: &World, b: &Browser, phone: &str) {
    let path = callback_path(w, b, phone).await;
    let reply = b.get(&path).await;
    reply.assert_status(302, &w.ctx(&format!("Number Verify callback of {phone}")));
    assert_eq!(
        reply.header("location"),
        Some("/?verification=failed"),
        "{}",
        w.ctx("failure redirect")
    );
    assert!(
        reply.set_cookie(SESSION_COOKIE).is_none(),
        "{}: {:?}",
        w.ctx("no session"),
        reply.set_cookies()
    );
    w.me(b)
        .await
        .assert_error(401, "NOT_VERIFIED", &w.ctx("/me after Number Verify"));
}

/// A never-swapped SIM in a never-changed device through every code-based path gets its
/// session, whose `/me` shows the checked, low-risk signals (`sim_swap` and `device_swap`): `+15555550100` through the carrier check, server-side auth and
/// Number Verify; `+15555550106` (not eligible, so codes) through SMS and e-mail.
pub async fn sim_swap_low_risk_on_every_code_path(w: &World) {
    let fresh = || Browser::new(w.browser.origin(), DESKTOP_UA);

    let b = fresh();
    let answer = start_ok(w, &b, &json!({ "phone_number": MAGIC }), "MAGIC").await;
    let token = device_token(w, answer["auth_url"].as_str().unwrap_or_default()).await;
    let reply = verify(&b, &json!({ "token": token })).await;
    reply.assert_status(200, &w.ctx("carrier check"));
    for signal in ["sim_swap", "device_swap"] {
        assert_eq!(
            reply.json()[signal]["risk_level"],
            "RISK_LEVEL_LOW",
            "{}: {}",
            w.ctx("verify answer"),
            reply.text()
        );
    }
    assert_low_risk_session(w, &b, MAGIC, "magic").await;

    let b = fresh();
    let (reply, _) = server_auth_approved(w, &b, MAGIC).await;
    reply.assert_status(200, &w.ctx("server auth"));
    assert_session_cookie(w, &reply);
    // Glide's default fallback (SMS) may have confirmed it: the session says so.
    assert_low_risk_session(w, &b, MAGIC, "sms").await;

    let b = fresh();
    let path = callback_path(w, &b, MAGIC).await;
    let reply = b.get(&path).await;
    reply.assert_status(302, &w.ctx("Number Verify callback"));
    assert_eq!(reply.header("location"), Some("/"), "{}", w.ctx("return"));
    assert_low_risk_session(w, &b, MAGIC, "number_verify").await;

    for (channel, strategy, inbox) in [
        ("SMS", "sms", FALLBACK),
        ("EMAIL", "email", "user-0106@example.com"),
    ] {
        let b = fresh();
        let body = json!({ "phone_number": FALLBACK, "fallback_channel": channel });
        start_ok(w, &b, &body, channel).await;
        let reply = verify(&b, &json!({ "code": w.legacy_otp(inbox) })).await;
        reply.assert_status(200, &w.ctx(strategy));
        assert_low_risk_session(w, &b, FALLBACK, strategy).await;
    }
}

/// The check fails (Glide 500 on the CIBA requests, the SIM-swap and the device-swap one): by
/// default the right code gets an opaque 503 and no session, and the verification is consumed;
/// once Glide is back, a new verification in the same app succeeds (no restart).
pub async fn sim_swap_check_failure_fails_closed(w: &World) {
    let b = &w.browser;
    start_ok(w, b, &json!({ "phone_number": FALLBACK }), "SMS").await;
    let code = w.legacy_otp(FALLBACK);
    w.sandbox
        .control()
        .add_fault(Fault::status(CIBA_PATH, 500).times(2));
    let reply = verify(b, &json!({ "code": code })).await;
    assert_opaque_error(
        w,
        &reply,
        503,
        "SERVICE_UNAVAILABLE",
        "failed SIM-swap check",
    );
    assert!(
        reply.set_cookie(SESSION_COOKIE).is_none(),
        "{}",
        w.ctx("no session when the check failed")
    );
    w.me(b)
        .await
        .assert_error(401, "NOT_VERIFIED", &w.ctx("/me after a failed check"));
    assert_consumed(w, b, &code, "the code after a failed check").await;

    // Recovery without a restart. (By e-mail: a second SMS to the number within the cooldown
    // would be refused, whichever browser asks.)
    w.sandbox.control().clear_faults();
    start_ok(
        w,
        b,
        &json!({ "phone_number": FALLBACK, "fallback_channel": "EMAIL" }),
        "EMAIL",
    )
    .await;
    let reply = verify(b, &json!({ "code": w.legacy_otp("user-0106@example.com") })).await;
    reply.assert_status(200, &w.ctx("verify once Glide is back"));
    assert_low_risk_session(w, b, FALLBACK, "email").await;
}

/// An app that chose fail-open: the same failure issues the session, whose signals say the
/// checks failed (`checked: false`, `reason: "check_failed"`, no risk level).
pub async fn sim_swap_check_failure_fails_open_when_chosen(w: &World) {
    let (_app, b) = w
        .start_app(|builder| builder.sim_swap_on_failure(SimSwapFailure::Open))
        .await;
    start_ok(w, &b, &json!({ "phone_number": SWAPPED_FALLBACK }), "SMS").await;
    let code = w.legacy_otp(SWAPPED_FALLBACK);
    w.sandbox
        .control()
        .add_fault(Fault::status(CIBA_PATH, 500).times(2));
    let reply = verify(&b, &json!({ "code": code })).await;
    reply.assert_status(200, &w.ctx("fail-open verify"));
    assert_session_cookie(w, &reply);
    let me: Value = assert_me(w, &b, SWAPPED_FALLBACK, "VerifyPhoneNumber", "sms").await;
    for name in ["sim_swap", "device_swap"] {
        let signal = &me[name];
        let what = w.ctx(&format!("fail-open {name}"));
        assert_eq!(signal["checked"], false, "{what}: {me}");
        assert_eq!(signal["reason"], "check_failed", "{what}: {me}");
        assert!(signal.get("risk_level").is_none(), "{what}: {me}");
    }
}

/// An app that switched the checks off: nothing is asked, the session carries no `sim_swap`
/// nor `device_swap` (never a made-up signal), and the swapped number gets through.
pub async fn sim_swap_check_switched_off(w: &World) {
    let (_app, b) = w.start_app(|builder| builder.sim_swap_check(false)).await;
    let before = w.sandbox.control().requests().len();
    start(&b, &json!({ "phone_number": SWAPPED_FALLBACK }))
        .await
        .assert_status(200, &w.ctx("start"));
    let reply = verify(&b, &json!({ "code": w.legacy_otp(SWAPPED_FALLBACK) })).await;
    reply.assert_status(200, &w.ctx("verify without the check"));
    let me = assert_me(w, &b, SWAPPED_FALLBACK, "VerifyPhoneNumber", "sms").await;
    assert!(me.get("sim_swap").is_none(), "{}: {me}", w.ctx("no signal"));
    assert!(
        me.get("device_swap").is_none(),
        "{}: {me}",
        w.ctx("no signal")
    );
    let asked: Vec<String> = w.sandbox.control().requests()[before..]
        .iter()
        .map(|r| r.path.clone())
        .filter(|p| p == CIBA_PATH || p.contains("swap"))
        .collect();
    assert!(asked.is_empty(), "{}: {asked:?}", w.ctx("nothing asked"));
}
