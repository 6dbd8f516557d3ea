//! The device-swap check of every path that is not Magical Auth (issue 33, items 3–5): the SMS
//! and e-mail code fallback, the legacy carrier check, server-side auth and Number Verify ask
//! Glide's Device Swap API (CIBA token, scope `device-swap` → `/device-swap/v1/retrieve-date`)
//! once, beside the SIM-swap check, after the verification succeeded and before its session.
//! The default risk policy then treats a `RISK_LEVEL_HIGH` device swap as on Magical Auth: 403
//! `RISK_POLICY_DENIED` with the signals (Number Verify: the failure redirect), no session. A
//! failed check fails closed (opaque 503) unless the app chose fail-open, where the session's
//! `device_swap` says `checked: false, reason: "check_failed"` — which
//! `require_device_swap_checked` refuses.

use glide_core::endpoint::SimSwapFailure;
use glide_core::RiskPolicy;
use glide_sandbox::{Fault, Sandbox, SandboxConfig};
use serde_json::json;

use crate::faults::assert_opaque_error;
use crate::harness::{Browser, Reply, World, SESSION_COOKIE};
use crate::scenarios::flows::{assert_me, assert_session_cookie};
use crate::scenarios::legacy::{device_token, start_ok, verify, FALLBACK};
use crate::scenarios::sim_swap::{
    assert_consumed, assert_number_verify_denied, server_auth_approved,
};

/// Device changed 1-2 days ago (`RISK_LEVEL_HIGH` on `device_swap`), SIM never swapped.
const CHANGED: &str = "+15555550102";
/// The app's address on file for [`CHANGED`].
const CHANGED_EMAIL: &str = "user-0102@example.com";
/// The carrier gives no device-swap signal.
const NOT_SUPPORTED: &str = "+15555550104";
/// The call of the device-swap check.
const DEVICE_SWAP_PATH: &str = "/device-swap/v1/retrieve-date";

/// How many device-swap checks the sandbox has answered.
fn device_swap_calls(sandbox: &Sandbox) -> usize {
    sandbox
        .control()
        .requests()
        .iter()
        .filter(|r| r.path == DEVICE_SWAP_PATH)
        .count()
}

/// A sandbox on which [`CHANGED`]'s carrier offers codes instead of the carrier link (its
/// device change unchanged), so that the number can take the SMS and e-mail paths.
async fn code_only_sandbox() -> Sandbox {
    Sandbox::start(SandboxConfig::default().with_code_only_numbers([CHANGED]))
        .await
        .expect("start the sandbox")
}

/// Asserts a risk denial of [`CHANGED`] on its device-swap signal: 403 `RISK_POLICY_DENIED`
/// with the signals in the body (`device_swap` high, `1-2 days`; `sim_swap` low), no session
/// cookie, `/me` 401.
async fn assert_device_swap_denied(w: &World, browser: &Browser, reply: &Reply, what: &str) {
    let body = reply.assert_error(403, "RISK_POLICY_DENIED", &w.ctx(what));
    let ctx = w.ctx(what);
    assert_eq!(body["phone_number"], CHANGED, "{ctx}: {body}");
    assert_eq!(body["device_swap"]["checked"], true, "{ctx}: {body}");
    assert_eq!(
        body["device_swap"]["risk_level"], "RISK_LEVEL_HIGH",
        "{ctx}: {body}"
    );
    assert_eq!(body["device_swap"]["age_band"], "1-2 days", "{ctx}: {body}");
    assert_eq!(
        body["sim_swap"]["risk_level"], "RISK_LEVEL_LOW",
        "{ctx}: the SIM never changed: {body}"
    );
    assert!(
        reply.set_cookie(SESSION_COOKIE).is_none(),
        "{ctx}: no session on a denial: {:?}",
        reply.set_cookies()
    );
    w.me(browser)
        .await
        .assert_error(401, "NOT_VERIFIED", &w.ctx(&format!("/me after {what}")));
}

/// `+15555550102` through the SMS code: denied on its device swap; one check; the code is
/// consumed.
pub async fn device_swap_denies_the_sms_fallback(w: &World) {
    let sandbox = code_only_sandbox().await;
    let (_app, b) = w.start_app_on(&sandbox, |builder| builder).await;
    start_ok(w, &b, &json!({ "phone_number": CHANGED }), "SMS").await;
    let code = sandbox
        .control()
        .legacy_otp(CHANGED)
        .unwrap_or_else(|| panic!("{}", w.ctx("no SMS code sent")));
    let reply = verify(&b, &json!({ "code": code })).await;
    assert_device_swap_denied(w, &b, &reply, "SMS code of a changed device").await;
    assert_eq!(
        device_swap_calls(&sandbox),
        1,
        "{}",
        w.ctx("one device-swap check per verification")
    );
    assert_consumed(w, &b, &code, "the denied SMS code again").await;
}

/// `+15555550102` through the e-mail code (the address on file): denied on its device swap.
pub async fn device_swap_denies_the_email_fallback(w: &World) {
    let sandbox = code_only_sandbox().await;
    let (_app, b) = w.start_app_on(&sandbox, |builder| builder).await;
    let body = json!({ "phone_number": CHANGED, "fallback_channel": "EMAIL" });
    start_ok(w, &b, &body, "EMAIL").await;
    let code = sandbox
        .control()
        .legacy_otp(CHANGED_EMAIL)
        .unwrap_or_else(|| panic!("{}", w.ctx("no e-mail code sent")));
    let reply = verify(&b, &json!({ "code": code })).await;
    assert_device_swap_denied(w, &b, &reply, "e-mail code of a changed device").await;
    assert_consumed(w, &b, &code, "the denied e-mail code again").await;
}

/// `+15555550102` through legacy Magic Auth (the carrier link): denied on its device swap, the
/// token consumed.
pub async fn device_swap_denies_the_legacy_carrier_check(w: &World) {
    let b = &w.browser;
    let answer = start_ok(w, b, &json!({ "phone_number": CHANGED }), "MAGIC").await;
    let token = device_token(w, answer["auth_url"].as_str().unwrap_or_default()).await;
    let reply = verify(b, &json!({ "token": token })).await;
    assert_device_swap_denied(w, b, &reply, "carrier check of a changed device").await;
    assert_eq!(
        device_swap_calls(&w.sandbox),
        1,
        "{}",
        w.ctx("one device-swap check")
    );
    let again = verify(b, &json!({ "token": token })).await;
    again.assert_error(404, "SESSION_NOT_FOUND", &w.ctx("the denied token again"));
}

/// `+15555550102` through server-side auth: the completed check is denied on its device swap
/// and consumed.
pub async fn device_swap_denies_server_auth(w: &World) {
    let b = &w.browser;
    let (reply, check) = server_auth_approved(w, b, CHANGED).await;
    assert_device_swap_denied(w, b, &reply, "server auth of a changed device").await;
    let again = b.get(&check).await;
    again.assert_error(404, "SESSION_NOT_FOUND", &w.ctx("the denied check again"));
}

/// `+15555550102` through Number Verify: the callback redirects to the failure return path and
/// issues no session.
pub async fn device_swap_denies_number_verify(w: &World) {
    assert_number_verify_denied(w, &w.browser, CHANGED).await;
    assert_eq!(
        device_swap_calls(&w.sandbox),
        1,
        "{}",
        w.ctx("one device-swap check")
    );
}

/// The device-swap check fails (Glide 500 on `/device-swap/v1/retrieve-date`; the SIM-swap
/// check answers): by default the right code gets an opaque 503 and no session, and the
/// verification is consumed.
pub async fn device_swap_check_failure_fails_closed(w: &World) {
    let b = &w.browser;
    start_ok(w, b, &json!({ "phone_number": FALLBACK }), "SMS").await;
    let code = w.legacy_otp(FALLBACK);
    w.sandbox
        .control()
        .add_fault(Fault::status(DEVICE_SWAP_PATH, 500));
    let reply = verify(b, &json!({ "code": code })).await;
    assert_opaque_error(
        w,
        &reply,
        503,
        "SERVICE_UNAVAILABLE",
        "failed device-swap check",
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
}

/// An app that chose fail-open: `+15555550102`'s failed device-swap check lets its code through
/// with `device_swap: {checked: false, reason: "check_failed"}` (nothing made up); an app that
/// also requires the signal (`require_device_swap_checked`) refuses the same verification.
pub async fn device_swap_check_failure_fails_open_when_chosen(w: &World) {
    let sandbox = code_only_sandbox().await;
    let (_open, b) = w
        .start_app_on(&sandbox, |builder| {
            builder.sim_swap_on_failure(SimSwapFailure::Open)
        })
        .await;
    start_ok(w, &b, &json!({ "phone_number": CHANGED }), "SMS").await;
    let code = sandbox.control().legacy_otp(CHANGED).unwrap_or_default();
    sandbox
        .control()
        .add_fault(Fault::status(DEVICE_SWAP_PATH, 500));
    let reply = verify(&b, &json!({ "code": code })).await;
    reply.assert_status(200, &w.ctx("fail-open verify"));
    assert_session_cookie(w, &reply);
    let me = assert_me(w, &b, CHANGED, "VerifyPhoneNumber", "sms").await;
    let signal = &me["device_swap"];
    let what = w.ctx("fail-open device_swap");
    assert_eq!(signal["checked"], false, "{what}: {me}");
    assert_eq!(signal["reason"], "check_failed", "{what}: {me}");
    assert!(signal.get("risk_level").is_none(), "{what}: {me}");
    assert_eq!(me["sim_swap"]["checked"], true, "{what}: {me}");

    let (_strict, b) = w
        .start_app_on(&sandbox, |builder| {
            builder
                .sim_swap_on_failure(SimSwapFailure::Open)
                .risk_policy(RiskPolicy::default().require_device_swap_checked(true))
        })
        .await;
    let body = json!({ "phone_number": CHANGED, "fallback_channel": "EMAIL" });
    start_ok(w, &b, &body, "EMAIL").await;
    let code = sandbox
        .control()
        .legacy_otp(CHANGED_EMAIL)
        .unwrap_or_default();
    sandbox
        .control()
        .add_fault(Fault::status(DEVICE_SWAP_PATH, 500));
    let reply = verify(&b, &json!({ "code": code })).await;
    let body = reply.assert_error(403, "RISK_POLICY_DENIED", &w.ctx("required, unchecked"));
    assert_eq!(body["device_swap"]["reason"], "check_failed", "{body}");
    assert!(
        reply.set_cookie(SESSION_COOKIE).is_none(),
        "{}",
        w.ctx("no session")
    );
}

/// A carrier with no device-swap signal (`+15555550104`): the session records
/// `device_swap: {checked: false, reason: "carrier_not_supported"}` as Glide's answer says
/// (allowed by the default policy); `require_device_swap_checked` refuses it.
pub async fn device_swap_not_supported_is_recorded_and_can_be_required(w: &World) {
    let b = &w.browser;
    let answer = start_ok(w, b, &json!({ "phone_number": NOT_SUPPORTED }), "MAGIC").await;
    let token = device_token(w, answer["auth_url"].as_str().unwrap_or_default()).await;
    let reply = verify(b, &json!({ "token": token })).await;
    reply.assert_status(200, &w.ctx("carrier check, no device signal"));
    let me = assert_me(w, b, NOT_SUPPORTED, "VerifyPhoneNumber", "magic").await;
    let what = w.ctx("device_swap not supported");
    assert_eq!(me["device_swap"]["checked"], false, "{what}: {me}");
    assert_eq!(
        me["device_swap"]["reason"], "carrier_not_supported",
        "{what}: {me}"
    );
    assert!(
        me["device_swap"].get("risk_level").is_none(),
        "{what}: {me}"
    );

    let (_app, strict) = w
        .start_app(|builder| {
            builder.risk_policy(RiskPolicy::default().require_device_swap_checked(true))
        })
        .await;
    assert_number_verify_denied(w, &strict, NOT_SUPPORTED).await;
}
