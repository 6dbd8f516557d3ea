//! The sessions of the verified number (`GET …/sessions`, `POST …/sessions/revoke`,
//! `…/revoke-others`, `…/revoke-all`): listed by opaque handle with `current` right and no raw
//! id anywhere; revoked from another browser; a browser acts only on its own number's sessions
//! (a foreign or forged handle is the same 404); 401 without a session; the door refuses other
//! origins; and a later verification reporting a `RISK_LEVEL_HIGH` SIM swap ends every session
//! of the number, whatever the policy decides for it.

use glide_core::endpoint::SimSwapFailure;
use glide_core::policy::RiskPolicy;
use glide_core::session::SessionId;
use glide_sandbox::Fault;
use serde_json::{json, Value};

use crate::harness::{Browser, Reply, World, ANDROID_UA, DESKTOP_UA, SESSION_COOKIE};
use crate::scenarios::flows::{assert_me, assert_session_cookie};
use crate::scenarios::legacy::{start_ok, verify};

/// Verifies without incident.
const NUMBER: &str = "+15555550100";
/// Another number (SIM changed 20 days ago: medium risk, allowed).
const OTHER_NUMBER: &str = "+15555550103";
/// Magical Auth reports a SIM swap 0-4 hours ago: `RISK_LEVEL_HIGH`.
const SWAPPED: &str = "+15555550101";
/// Codes only (not eligible for Magical Auth); the SIM Swap API says swapped 2 hours ago.
const SWAPPED_FALLBACK: &str = "+15555550109";
/// The app's address on file for [`SWAPPED_FALLBACK`].
const SWAPPED_FALLBACK_EMAIL: &str = "user-0109@example.com";

/// A fresh browser on `w`'s app.
fn browser(w: &World, user_agent: &str) -> Browser {
    Browser::new(&w.app.base_url, user_agent)
}

/// Verifies `phone` by TS43 in `b`; returns the session id it was handed.
async fn verified(w: &World, b: &Browser, phone: &str) -> String {
    let reply = w.verify_ts43(b, phone).await;
    reply.assert_status(200, &w.ctx(&format!("verify {phone}")));
    assert_session_cookie(w, &reply)
}

/// The public handle of session `id`.
fn handle(id: &str) -> String {
    SessionId::parse(id)
        .unwrap_or_else(|| panic!("not a session id: {id}"))
        .handle()
}

/// `GET …/sessions` in `b`: 200, `no-store`; the list.
async fn list(w: &World, b: &Browser) -> Vec<Value> {
    let reply = b.get(&World::route("sessions")).await;
    reply.assert_status(200, &w.ctx("GET sessions"));
    assert_eq!(
        reply.header("cache-control"),
        Some("no-store"),
        "{}",
        w.ctx("sessions cache-control")
    );
    reply.json()["sessions"]
        .as_array()
        .unwrap_or_else(|| panic!("{}: {}", w.ctx("sessions array"), reply.text()))
        .clone()
}

/// `POST …/sessions/revoke {handle}` in `b`.
async fn revoke(b: &Browser, handle: &str) -> Reply {
    b.post(
        &World::route("sessions/revoke"),
        &json!({ "handle": handle }),
    )
    .await
}

/// A bodiless `POST …/sessions/{what}` in `b`.
async fn post(b: &Browser, what: &str) -> Reply {
    b.call("POST", &World::route(&format!("sessions/{what}")))
        .send()
        .await
}

/// Asserts `b` is (or is not) verified, by `/me`.
async fn assert_alive(w: &World, b: &Browser, alive: bool, what: &str) {
    let me = w.me(b).await;
    if alive {
        me.assert_status(200, &w.ctx(what));
    } else {
        me.assert_error(401, "NOT_VERIFIED", &w.ctx(what));
    }
}

/// Both browsers' sessions of one number are listed, oldest first, with `current` marking the
/// asker's, the device summary and a masked address — and no session id anywhere; a browser of
/// another number sees only its own.
pub async fn sessions_of_the_number_are_listed_without_ids(w: &World) {
    let phone = browser(w, ANDROID_UA);
    let laptop = browser(w, ANDROID_UA);
    let stranger = browser(w, DESKTOP_UA);
    let phone_id = verified(w, &phone, NUMBER).await;
    let laptop_id = verified(w, &laptop, NUMBER).await;
    let stranger_id = verified(w, &stranger, OTHER_NUMBER).await;

    for (b, current) in [(&phone, 0), (&laptop, 1)] {
        let reply = b.get(&World::route("sessions")).await;
        let text = reply.text();
        for id in [&phone_id, &laptop_id, &stranger_id] {
            assert!(
                !text.contains(id.as_str()),
                "{}: {text}",
                w.ctx("raw id listed")
            );
        }
        let sessions = list(w, b).await;
        let ctx = w.ctx(&format!("list {text}"));
        assert_eq!(sessions.len(), 2, "{ctx}");
        assert_eq!(sessions[0]["handle"], handle(&phone_id), "{ctx}");
        assert_eq!(sessions[1]["handle"], handle(&laptop_id), "{ctx}");
        for (i, s) in sessions.iter().enumerate() {
            assert_eq!(s["current"], i == current, "{ctx}");
            assert_eq!(s["strategy"], "ts43", "{ctx}");
            assert_eq!(s["ip"], "127.0.0.0/24", "{ctx}");
            for field in ["created_at", "last_seen_at"] {
                let at = s[field].as_str().unwrap_or_default();
                assert!(
                    time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
                        .is_ok(),
                    "{ctx}: {field}"
                );
            }
        }
        // (A TS43 verification runs on Android: the harness's prepare switches the browser.)
        for s in &sessions {
            assert_eq!(s["user_agent"], "Chrome on Android", "{ctx}");
        }
    }
    let own = list(w, &stranger).await;
    assert_eq!(own.len(), 1, "{}: {own:?}", w.ctx("the stranger's list"));
    assert_eq!(own[0]["handle"], handle(&stranger_id));
    assert_eq!(own[0]["current"], true);
}

/// Revoking a handle from a second browser ends the first browser's session (its next request
/// is 401) and nothing else; a second revoke of it is 404.
pub async fn revoke_from_another_browser_ends_that_session(w: &World) {
    let first = browser(w, DESKTOP_UA);
    let second = browser(w, DESKTOP_UA);
    let first_id = verified(w, &first, NUMBER).await;
    verified(w, &second, NUMBER).await;

    let reply = revoke(&second, &handle(&first_id)).await;
    reply.assert_status(204, &w.ctx("revoke the first browser's session"));
    assert!(
        reply.set_cookie(SESSION_COOKIE).is_none(),
        "{}: the revoker keeps its cookie",
        w.ctx("revoke")
    );
    assert_alive(w, &first, false, "/me of the revoked browser").await;
    assert_alive(w, &second, true, "/me of the revoking browser").await;
    assert_eq!(list(w, &second).await.len(), 1, "{}", w.ctx("one left"));
    revoke(&second, &handle(&first_id)).await.assert_error(
        404,
        "SESSION_NOT_FOUND",
        &w.ctx("revoke twice"),
    );

    // Revoking one's own handle ends one's own session and removes the cookie.
    let second_id = second.cookie(SESSION_COOKIE).unwrap_or_default();
    let own = revoke(&second, &handle(&second_id)).await;
    own.assert_status(204, &w.ctx("revoke own"));
    assert!(
        own.set_cookie(SESSION_COOKIE)
            .is_some_and(|c| c.is_removal()),
        "{}: {:?}",
        w.ctx("removal cookie on revoking one's own"),
        own.set_cookies()
    );
    assert_alive(w, &second, false, "/me after revoking one's own").await;
}

/// Revoke-others ends every other session of the number and keeps the caller's; sessions of
/// another number are untouched.
pub async fn revoke_others_keeps_the_current_session(w: &World) {
    let browsers: Vec<_> = (0..3).map(|_| browser(w, DESKTOP_UA)).collect();
    for b in &browsers {
        verified(w, b, NUMBER).await;
    }
    let stranger = browser(w, DESKTOP_UA);
    verified(w, &stranger, OTHER_NUMBER).await;

    let reply = post(&browsers[1], "revoke-others").await;
    reply.assert_status(204, &w.ctx("revoke-others"));
    assert!(reply.set_cookie(SESSION_COOKIE).is_none());
    for (i, b) in browsers.iter().enumerate() {
        assert_alive(w, b, i == 1, &format!("/me of browser {i}")).await;
    }
    assert_alive(w, &stranger, true, "/me of another number").await;
    let left = list(w, &browsers[1]).await;
    assert_eq!(left.len(), 1, "{}: {left:?}", w.ctx("only the current one"));
    assert_eq!(left[0]["current"], true);
}

/// Revoke-all ends the caller's session too (removal cookie), and every other of the number.
pub async fn revoke_all_ends_the_current_session_too(w: &World) {
    let first = browser(w, DESKTOP_UA);
    let second = browser(w, DESKTOP_UA);
    let first_id = verified(w, &first, NUMBER).await;
    verified(w, &second, NUMBER).await;

    let reply = post(&second, "revoke-all").await;
    reply.assert_status(204, &w.ctx("revoke-all"));
    let removal = reply
        .set_cookie(SESSION_COOKIE)
        .unwrap_or_else(|| panic!("{}: no removal cookie", w.ctx("revoke-all")));
    assert!(removal.is_removal(), "{}", removal.raw);
    removal.assert_dev_attributes(&w.ctx("revoke-all removal cookie"));
    assert_alive(w, &first, false, "/me of the other browser").await;
    assert_alive(w, &second, false, "/me of the caller").await;
    // The id, replayed by a browser that kept it, is dead too.
    let replay = browser(w, DESKTOP_UA);
    replay.set_cookie(SESSION_COOKIE, &first_id);
    assert_alive(w, &replay, false, "/me with a revoked id").await;
    replay.get(&World::route("sessions")).await.assert_error(
        401,
        "NOT_VERIFIED",
        &w.ctx("list with a revoked id"),
    );
}

/// A handle of another number's session, the victim's raw id, and forged handles: all the same
/// 404 `SESSION_NOT_FOUND` (same body), and the victim's session lives on.
pub async fn foreign_and_forged_handles_are_not_found(w: &World) {
    let victim = browser(w, DESKTOP_UA);
    let attacker = browser(w, DESKTOP_UA);
    let victim_id = verified(w, &victim, NUMBER).await;
    verified(w, &attacker, OTHER_NUMBER).await;

    let mut bodies = Vec::new();
    for forged in [
        handle(&victim_id),
        victim_id.clone(),
        "0".repeat(64),
        String::new(),
        "x".repeat(4000),
    ] {
        let reply = revoke(&attacker, &forged).await;
        reply.assert_error(404, "SESSION_NOT_FOUND", &w.ctx("foreign or forged handle"));
        bodies.push(reply.text());
    }
    assert!(
        bodies.windows(2).all(|pair| pair[0] == pair[1]),
        "{}: {bodies:?}",
        w.ctx("one body for every refused handle")
    );
    assert_alive(w, &victim, true, "/me of the victim").await;
    assert_alive(w, &attacker, true, "/me of the attacker").await;
    // Revoke-others and revoke-all of the attacker reach only the attacker's number.
    post(&attacker, "revoke-all")
        .await
        .assert_status(204, &w.ctx("attacker's revoke-all"));
    assert_alive(
        w,
        &victim,
        true,
        "/me of the victim after the attacker's revoke-all",
    )
    .await;
    // A request body that is not `{handle}` is a 400 before anything is looked up.
    victim
        .post(&World::route("sessions/revoke"), &json!({ "id": "x" }))
        .await
        .assert_error(400, "BAD_REQUEST", &w.ctx("revoke without a handle"));
}

/// Without a verified session (none, bogus, or another app's cookie name): 401 `NOT_VERIFIED`
/// on every sessions route.
pub async fn sessions_routes_need_a_verified_session(w: &World) {
    let b = browser(w, DESKTOP_UA);
    let bogus = browser(w, DESKTOP_UA);
    bogus.set_cookie(SESSION_COOKIE, &"A".repeat(43));
    for who in [&b, &bogus] {
        who.get(&World::route("sessions")).await.assert_error(
            401,
            "NOT_VERIFIED",
            &w.ctx("list without a session"),
        );
        revoke(who, &"0".repeat(64)).await.assert_error(
            401,
            "NOT_VERIFIED",
            &w.ctx("revoke without a session"),
        );
        for what in ["revoke-others", "revoke-all"] {
            post(who, what)
                .await
                .assert_error(401, "NOT_VERIFIED", &w.ctx(what));
        }
    }
}

/// The door: a foreign `Origin`, a cross-site fetch, a non-JSON revoke are refused, and the
/// session survives each.
pub async fn sessions_routes_refuse_other_origins(w: &World) {
    let b = browser(w, DESKTOP_UA);
    let other = browser(w, DESKTOP_UA);
    let other_id = verified(w, &other, NUMBER).await;
    verified(w, &b, NUMBER).await;
    for what in ["revoke-others", "revoke-all", "revoke"] {
        let path = World::route(&format!("sessions/{what}"));
        let body = json!({ "handle": handle(&other_id) });
        b.call("POST", &path)
            .header("origin", "https://evil.example")
            .json(&body)
            .send()
            .await
            .assert_error(
                403,
                "ORIGIN_NOT_ALLOWED",
                &w.ctx(&format!("{what} cross-origin")),
            );
        b.call("POST", &path)
            .without_origin()
            .header("sec-fetch-site", "cross-site")
            .json(&body)
            .send()
            .await
            .assert_error(
                403,
                "ORIGIN_NOT_ALLOWED",
                &w.ctx(&format!("{what} cross-site")),
            );
    }
    b.call("POST", &World::route("sessions/revoke"))
        .raw_body(
            "text/plain",
            json!({ "handle": handle(&other_id) })
                .to_string()
                .into_bytes(),
        )
        .send()
        .await
        .assert_error(
            415,
            "UNSUPPORTED_MEDIA_TYPE",
            &w.ctx("revoke as text/plain"),
        );
    assert_alive(w, &b, true, "/me after refused calls").await;
    assert_alive(w, &other, true, "/me of the targeted browser").await;
    assert_eq!(list(w, &b).await.len(), 2);
}

/// A later verification reporting a `RISK_LEVEL_HIGH` SIM swap revokes every live session of
/// the number: on Magical Auth under a policy that lets the verification through (its own new
/// session is issued after the revocation), and on the e-mail code path under the default policy
/// (denied, and the earlier session — issued while the check failed open — is ended too).
/// Sessions of other numbers are untouched.
pub async fn high_risk_sim_swap_revokes_every_session_of_the_number(w: &World) {
    // An app whose policy allows everything: the revocation is not the policy's.
    let (app, first) = w
        .start_app(|builder| builder.risk_policy(RiskPolicy::allow_all()))
        .await;
    let second = Browser::new(&app.base_url, DESKTOP_UA);
    let bystander = Browser::new(&app.base_url, DESKTOP_UA);
    verify_allowed(w, &first, SWAPPED).await;
    verify_allowed(w, &bystander, NUMBER).await;
    assert_alive(w, &first, true, "/me of the first session").await;
    verify_allowed(w, &second, SWAPPED).await;
    assert_alive(w, &first, false, "/me after a later HIGH SIM swap").await;
    assert_alive(w, &second, true, "/me of the new, allowed session").await;
    assert_alive(w, &bystander, true, "/me of another number").await;
    assert_eq!(
        list(w, &second).await.len(),
        1,
        "{}",
        w.ctx("only the new one")
    );

    // The default policy, codes: the first session came while the check failed (open).
    let (app, early) = w
        .start_app(|builder| builder.sim_swap_on_failure(SimSwapFailure::Open))
        .await;
    start_ok(
        w,
        &early,
        &json!({ "phone_number": SWAPPED_FALLBACK }),
        "SMS",
    )
    .await;
    let code = w.legacy_otp(SWAPPED_FALLBACK);
    w.sandbox
        .control()
        // Both checks' CIBA requests (SIM and device swap, made at once).
        .add_fault(Fault::status("/oauth2/backchannel-authentication", 500).times(2));
    let reply = verify(&early, &json!({ "code": code })).await;
    reply.assert_status(200, &w.ctx("fail-open verify"));
    assert_me(w, &early, SWAPPED_FALLBACK, "VerifyPhoneNumber", "sms").await;

    let later = Browser::new(&app.base_url, DESKTOP_UA);
    start_ok(
        w,
        &later,
        &json!({ "phone_number": SWAPPED_FALLBACK, "fallback_channel": "EMAIL" }),
        "EMAIL",
    )
    .await;
    let code = w.legacy_otp(SWAPPED_FALLBACK_EMAIL);
    let reply = verify(&later, &json!({ "code": code })).await;
    let body = reply.assert_error(403, "RISK_POLICY_DENIED", &w.ctx("later e-mail code"));
    assert_eq!(body["sim_swap"]["risk_level"], "RISK_LEVEL_HIGH", "{body}");
    assert_alive(
        w,
        &early,
        false,
        "/me of the early session after the HIGH signal",
    )
    .await;
    assert_alive(w, &later, false, "/me of the denied browser").await;
}

/// Verifies `phone` by TS43 in `b` under an allow-all policy: 200 with its SIM-swap signal.
async fn verify_allowed(w: &World, b: &Browser, phone: &str) {
    let reply = w.verify_ts43(b, phone).await;
    reply.assert_status(200, &w.ctx(&format!("verify {phone} (allow all)")));
    let want = if phone == SWAPPED {
        "RISK_LEVEL_HIGH"
    } else {
        "RISK_LEVEL_LOW"
    };
    let body = reply.json();
    assert_eq!(
        body["sim_swap"]["risk_level"],
        want,
        "{}: {body}",
        w.ctx(phone)
    );
}
