//! The default risk policy on the sandbox's fixture numbers.

use crate::harness::{World, ANDROID_UA, SESSION_COOKIE};
use crate::scenarios::flows::{assert_me, assert_session_cookie};

/// A HIGH signal: 403 RISK_POLICY_DENIED with the signals in the body, no session.
async fn assert_denied(w: &World, phone: &str, signal: &str) {
    let reply = w.verify_ts43(&w.browser, phone).await;
    let body = reply.assert_error(
        403,
        "RISK_POLICY_DENIED",
        &w.ctx(&format!("process {phone}")),
    );
    assert_eq!(
        body["phone_number"],
        phone,
        "{}: {body}",
        w.ctx("denied body")
    );
    assert_eq!(
        body[signal]["risk_level"],
        "RISK_LEVEL_HIGH",
        "{}: {body}",
        w.ctx("denied body")
    );
    assert!(
        reply.set_cookie(SESSION_COOKIE).is_none(),
        "{}: no session cookie on a denial: {:?}",
        w.ctx("denied"),
        reply.set_cookies()
    );
    w.me(&w.browser)
        .await
        .assert_error(401, "NOT_VERIFIED", &w.ctx("/me after a denial"));
}

/// `+15555550101`: SIM changed hours ago → denied.
pub async fn recent_sim_swap_is_denied(w: &World) {
    assert_denied(w, "+15555550101", "sim_swap").await;
}

/// `+15555550102`: device changed a day ago → denied.
pub async fn recent_device_swap_is_denied(w: &World) {
    assert_denied(w, "+15555550102", "device_swap").await;
}

/// `+15555550103`: MEDIUM is allowed, and the signal reaches the handler.
pub async fn medium_risk_is_allowed_with_signals(w: &World) {
    let reply = w.verify_ts43(&w.browser, "+15555550103").await;
    reply.assert_status(200, &w.ctx("process MEDIUM"));
    assert_eq!(
        reply.json()["sim_swap"]["risk_level"],
        "RISK_LEVEL_MEDIUM",
        "{}",
        w.ctx("process body")
    );
    assert_session_cookie(w, &reply);
    let me = assert_me(w, &w.browser, "+15555550103", "VerifyPhoneNumber", "ts43").await;
    assert_eq!(
        me["sim_swap"]["risk_level"],
        "RISK_LEVEL_MEDIUM",
        "{}: {me}",
        w.ctx("/me")
    );
}

/// `+15555550104`: the carrier could not check; allowed, `checked:false` passed on.
pub async fn unchecked_signal_is_allowed(w: &World) {
    let reply = w.verify_ts43(&w.browser, "+15555550104").await;
    reply.assert_status(200, &w.ctx("process unchecked"));
    assert_eq!(
        reply.json()["sim_swap"]["checked"],
        false,
        "{}",
        w.ctx("process body")
    );
    assert_session_cookie(w, &reply);
    let me = assert_me(w, &w.browser, "+15555550104", "VerifyPhoneNumber", "ts43").await;
    assert_eq!(me["sim_swap"]["checked"], false, "{}: {me}", w.ctx("/me"));
}

/// `+15555550105`: the device holds another number: `verified:false`, no session.
pub async fn other_number_on_the_device_is_not_verified(w: &World) {
    let reply = w.verify_ts43(&w.browser, "+15555550105").await;
    reply.assert_status(200, &w.ctx("process other device number"));
    assert_eq!(
        reply.json()["verified"],
        false,
        "{}: {}",
        w.ctx("process body"),
        reply.text()
    );
    assert!(
        reply.set_cookie(SESSION_COOKIE).is_none(),
        "{}",
        w.ctx("no session when not verified")
    );
    w.me(&w.browser)
        .await
        .assert_error(401, "NOT_VERIFIED", &w.ctx("/me"));
}

/// `+15555550106`: prepare is refused with Glide's 422 CARRIER_NOT_ELIGIBLE.
pub async fn ineligible_carrier_is_refused_at_prepare(w: &World) {
    let reply = w
        .prepare_raw(
            &w.browser,
            &World::prepare_body(ANDROID_UA, Some("+15555550106")),
        )
        .await;
    reply.assert_error(422, "CARRIER_NOT_ELIGIBLE", &w.ctx("prepare ineligible"));
    assert!(
        reply.set_cookies().is_empty(),
        "{}: {:?}",
        w.ctx("no cookies"),
        reply.set_cookies()
    );
}
