//! Number Verify through the adapter: `number-verify/start` → the operator's `/oauth2/auth`
//! (the sandbox) → `number-verify/callback`; the browser-bound `state`; the fixed return path.

use std::sync::Arc;

use glide_core::clock::{ManualClock, SharedClock};
use glide_core::endpoint::GlideAuth;
use serde_json::Value;

use crate::harness::{
    sandbox_client, Browser, Reply, World, DESKTOP_UA, NUMBER_VERIFY_CALLBACK, SESSION_COOKIE,
};
use crate::scenarios::flows::{assert_me, assert_session_cookie};
use crate::scenarios::legacy::plain_http;
use glide_sandbox::{Sandbox, SandboxConfig};

/// The name of the Number Verify state cookie with insecure development cookies.
const STATE_COOKIE: &str = "glide_nv_state";
/// A number whose device is itself (verified).
const PHONE: &str = "+15555550100";

/// `GET number-verify/start?phone_number=…`: must be a 302 to the sandbox's `/oauth2/auth`
/// carrying the state, the app's callback as `redirect_uri` and the number as login hint, with
/// the state cookie. Returns the operator URL.
async fn start(w: &World, browser: &Browser, phone: &str) -> String {
    start_on(w, &w.sandbox, browser, phone).await
}

/// [`start`] on an app whose engine talks to `sandbox`.
async fn start_on(w: &World, sandbox: &Sandbox, browser: &Browser, phone: &str) -> String {
    let encoded: String = phone.replace('+', "%2B");
    let reply = browser
        .get(&format!(
            "{}?phone_number={encoded}",
            World::route("number-verify/start")
        ))
        .await;
    reply.assert_status(302, &w.ctx("number-verify/start"));
    let location = reply
        .header("location")
        .unwrap_or_else(|| panic!("{}: no Location", w.ctx("number-verify/start")))
        .to_owned();
    let operator = format!("{}/oauth2/auth?", sandbox.base_url());
    assert!(
        location.starts_with(&operator),
        "{}: {location}",
        w.ctx("start redirects to the operator")
    );
    let url = reqwest::Url::parse(&location).expect("operator URL");
    let query = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    let state =
        query("state").unwrap_or_else(|| panic!("{}: no state: {location}", w.ctx("start")));
    assert!(
        state.len() >= 43,
        "{}: state too short: {state}",
        w.ctx("start")
    );
    assert_eq!(
        query("redirect_uri").as_deref(),
        Some(format!("{}{NUMBER_VERIFY_CALLBACK}", browser.origin()).as_str()),
        "{}: {location}",
        w.ctx("redirect_uri")
    );
    assert_eq!(
        query("login_hint").as_deref(),
        Some(format!("tel:{phone}").as_str()),
        "{}: {location}",
        w.ctx("login_hint")
    );
    // The code is bound to this flow: a fresh nonce and a PKCE S256 challenge, never the
    // verifier itself.
    let nonce =
        query("nonce").unwrap_or_else(|| panic!("{}: no nonce: {location}", w.ctx("start")));
    assert!(
        nonce.len() >= 43,
        "{}: nonce too short: {nonce}",
        w.ctx("start")
    );
    assert_ne!(nonce, state, "{}", w.ctx("nonce and state differ"));
    let challenge = query("code_challenge")
        .unwrap_or_else(|| panic!("{}: no code_challenge: {location}", w.ctx("start")));
    assert_eq!(
        challenge.len(),
        43,
        "{}: {challenge}",
        w.ctx("code_challenge")
    );
    assert_eq!(
        query("code_challenge_method").as_deref(),
        Some("S256"),
        "{}: {location}",
        w.ctx("code_challenge_method")
    );
    assert!(
        query("code_verifier").is_none(),
        "{}: the verifier never leaves the server: {location}",
        w.ctx("start")
    );
    let cookie = reply.set_cookie(STATE_COOKIE).unwrap_or_else(|| {
        panic!(
            "{}: no {STATE_COOKIE} cookie: {:?}",
            w.ctx("start"),
            reply.set_cookies()
        )
    });
    cookie.assert_dev_attributes(&w.ctx("state cookie"));
    assert_eq!(
        cookie.attr("max-age"),
        Some("300"),
        "{}: {}",
        w.ctx("state cookie"),
        cookie.raw
    );
    assert!(
        !cookie.value.contains(&state),
        "{}: the cookie must not carry the state itself",
        w.ctx("state cookie")
    );
    location
}

/// Opens the operator URL (no cookies, no redirects followed): must be a 302 back to the app's
/// callback. Returns the callback's path and query on the app.
async fn operator(w: &World, browser: &Browser, operator_url: &str) -> String {
    let response = plain_http()
        .get(operator_url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{}: GET {operator_url}: {e}", w.ctx("operator")));
    assert_eq!(
        response.status().as_u16(),
        302,
        "{}: {operator_url}",
        w.ctx("operator answer")
    );
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("{}: no Location", w.ctx("operator")))
        .to_owned();
    let prefix = format!("{}{NUMBER_VERIFY_CALLBACK}?", browser.origin());
    assert!(
        location.starts_with(&prefix),
        "{}: {location}",
        w.ctx("operator redirects to the app's callback")
    );
    location[browser.origin().len()..].to_owned()
}

/// `start` then `operator`: the callback path (with `code` and `state`) for `browser`.
pub(crate) async fn callback_path(w: &World, browser: &Browser, phone: &str) -> String {
    let operator_url = start(w, browser, phone).await;
    operator(w, browser, &operator_url).await
}

/// The `state` of an operator URL.
fn state_of(operator_url: &str) -> String {
    reqwest::Url::parse(operator_url)
        .expect("operator URL")
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .expect("state")
}

/// The value of query parameter `name` in `path`.
fn param(path: &str, name: &str) -> String {
    let url = reqwest::Url::parse(&format!("http://x{path}")).expect("path");
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("no {name} in {path}"))
}

/// `path` with `name` set to `value` (URL-encoded), other parameters kept.
fn with_param(path: &str, name: &str, value: Option<&str>) -> String {
    let mut url = reqwest::Url::parse(&format!("http://x{path}")).expect("path");
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != name)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    {
        let mut query = url.query_pairs_mut();
        query.clear();
        for (k, v) in &pairs {
            query.append_pair(k, v);
        }
        if let Some(value) = value {
            query.append_pair(name, value);
        }
    }
    format!("{}?{}", url.path(), url.query().unwrap_or_default())
}

/// Asserts 403 INVALID_STATE with no session and no exchange at the operator.
async fn assert_invalid_state(w: &World, reply: &Reply, what: &str) {
    reply.assert_error(403, "INVALID_STATE", &w.ctx(what));
    assert!(
        reply.set_cookie(SESSION_COOKIE).is_none(),
        "{}: {:?}",
        w.ctx(what),
        reply.set_cookies()
    );
    assert!(
        reply.header("location").is_none(),
        "{}: no redirect",
        w.ctx(what)
    );
}

/// Asserts that no code was exchanged at the operator since the last `clear_requests`.
fn assert_no_exchange(w: &World, what: &str) {
    let exchanges: Vec<Value> = w
        .sandbox
        .control()
        .requests()
        .iter()
        .filter(|r| {
            r.path.starts_with("/oauth2/token") || r.path.starts_with("/number-verification")
        })
        .map(|r| Value::String(r.path.clone()))
        .collect();
    assert!(
        exchanges.is_empty(),
        "{}: no exchange may happen: {exchanges:?}",
        w.ctx(what)
    );
}

/// Asserts a successful callback: 302 to `return_path` exactly, the session cookie, the state
/// cookie removed.
#[track_caller]
fn assert_verified_redirect(w: &World, reply: &Reply, return_path: &str) {
    reply.assert_status(302, &w.ctx("callback"));
    assert_eq!(
        reply.header("location"),
        Some(return_path),
        "{}",
        w.ctx("callback redirects to the configured return path")
    );
    assert_session_cookie(w, reply);
    assert!(
        reply
            .set_cookie(STATE_COOKIE)
            .is_some_and(|c| c.is_removal()),
        "{}: {:?}",
        w.ctx("the state cookie is removed"),
        reply.set_cookies()
    );
}

/// Asserts that `browser` has no verified session.
async fn assert_not_verified(w: &World, browser: &Browser, what: &str) {
    w.me(browser)
        .await
        .assert_error(401, "NOT_VERIFIED", &w.ctx(what));
}

/// Number Verify end to end: start → operator → callback → 302 to `/` with the verified session
/// (strategy `number_verify`).
pub async fn number_verify_end_to_end(w: &World) {
    let b = &w.browser;
    let path = callback_path(w, b, PHONE).await;
    assert_not_verified(w, b, "/me before the callback").await;
    let reply = b.get(&path).await;
    assert_verified_redirect(w, &reply, "/");
    assert_me(w, b, PHONE, "VerifyPhoneNumber", "number_verify").await;
}

/// Number Verify for a number that is not the device's (`+15555550105`'s device is
/// `+15555550199`): 302 to `/?verification=failed`, no session.
pub async fn number_verify_other_device_number_fails(w: &World) {
    let b = &w.browser;
    let path = callback_path(w, b, "+15555550105").await;
    let reply = b.get(&path).await;
    reply.assert_status(302, &w.ctx("callback for another device's number"));
    assert_eq!(
        reply.header("location"),
        Some("/?verification=failed"),
        "{}",
        w.ctx("failure redirect")
    );
    assert!(
        reply.set_cookie(SESSION_COOKIE).is_none(),
        "{}",
        w.ctx("no session")
    );
    assert_not_verified(w, b, "/me after a failed Number Verify").await;
}

/// A callback without `state` (or without the state cookie): 403 INVALID_STATE, no exchange.
pub async fn number_verify_missing_state_is_refused(w: &World) {
    let b = &w.browser;
    let path = callback_path(w, b, PHONE).await;
    w.sandbox.control().clear_requests();
    let reply = b.get(&with_param(&path, "state", None)).await;
    assert_invalid_state(w, &reply, "callback without state").await;
    let reply = b.get(&with_param(&path, "state", Some(""))).await;
    assert_invalid_state(w, &reply, "callback with an empty state").await;
    let cookie = b.cookie(STATE_COOKIE).expect("state cookie");
    b.remove_cookie(STATE_COOKIE);
    let reply = b.get(&path).await;
    assert_invalid_state(w, &reply, "callback without the state cookie").await;
    assert_no_exchange(w, "missing state");
    assert_not_verified(w, b, "/me after a missing state").await;
    // The refusals took nothing: the real callback still works.
    b.set_cookie(STATE_COOKIE, &cookie);
    let reply = b.get(&path).await;
    assert_verified_redirect(w, &reply, "/");
}

/// A forged `state` (or a forged state cookie): 403 INVALID_STATE, no exchange.
pub async fn number_verify_forged_state_is_refused(w: &World) {
    let b = &w.browser;
    let path = callback_path(w, b, PHONE).await;
    let state = param(&path, "state");
    w.sandbox.control().clear_requests();
    let mut forged = state.clone();
    let last = if forged.ends_with('A') { "B" } else { "A" };
    forged.replace_range(forged.len() - 1.., last);
    for (what, value) in [
        ("one character changed", forged.as_str()),
        ("a prefix of the state", &state[..state.len() - 1]),
        ("the state twice", &format!("{state}{state}")),
        ("another random state", &"x".repeat(43)),
    ] {
        let reply = b.get(&with_param(&path, "state", Some(value))).await;
        assert_invalid_state(w, &reply, &format!("forged state: {what}")).await;
    }
    let cookie = b.cookie(STATE_COOKIE).expect("state cookie");
    b.set_cookie(STATE_COOKIE, &"A".repeat(43));
    let reply = b.get(&path).await;
    assert_invalid_state(w, &reply, "forged state cookie").await;
    b.set_cookie(STATE_COOKIE, "not-a-valid-id");
    let reply = b.get(&path).await;
    assert_invalid_state(w, &reply, "malformed state cookie").await;
    assert_no_exchange(w, "forged state");
    assert_not_verified(w, b, "/me after forged states").await;
    b.set_cookie(STATE_COOKIE, &cookie);
    let reply = b.get(&path).await;
    assert_verified_redirect(w, &reply, "/");
}

/// The callback of one browser's flow opened in another browser (with no state cookie, or with
/// the cookie of its own flow): 403 INVALID_STATE; the first browser still finishes.
pub async fn number_verify_state_of_another_browser_is_refused(w: &World) {
    let (alice, mallory) = (&w.browser, &w.other);
    let alice_path = callback_path(w, alice, PHONE).await;
    w.sandbox.control().clear_requests();
    let reply = mallory.get(&alice_path).await;
    assert_invalid_state(w, &reply, "alice's callback in a browser without a flow").await;
    let _mallory_path = callback_path(w, mallory, "+15555550103").await;
    w.sandbox.control().clear_requests();
    let reply = mallory.get(&alice_path).await;
    assert_invalid_state(w, &reply, "alice's callback in a browser with its own flow").await;
    assert_no_exchange(w, "state of another browser");
    assert_not_verified(w, mallory, "/me for the other browser").await;
    let reply = alice.get(&alice_path).await;
    assert_verified_redirect(w, &reply, "/");
    assert_me(w, alice, PHONE, "VerifyPhoneNumber", "number_verify").await;
}

/// A state older than its 300 s lifetime (the engine's clock moved on) is refused with no
/// exchange, and cannot be used afterwards either.
pub async fn number_verify_expired_state_is_refused(w: &World) {
    let clock = ManualClock::new();
    let shared: SharedClock = Arc::new(clock.clone());
    let (_app, b) = w.start_app(move |builder| builder.clock(shared)).await;
    let path = callback_path(w, &b, PHONE).await;
    let cookie = b.cookie(STATE_COOKIE).expect("state cookie");
    clock.advance(time::Duration::seconds(301));
    w.sandbox.control().clear_requests();
    let reply = b.get(&path).await;
    assert_invalid_state(w, &reply, "callback with an expired state").await;
    assert_no_exchange(w, "expired state");
    clock.advance(time::Duration::seconds(-301));
    b.set_cookie(STATE_COOKIE, &cookie);
    let reply = b.get(&path).await;
    assert_invalid_state(w, &reply, "the expired state once the clock is back").await;
    b.get("/me")
        .await
        .assert_error(401, "NOT_VERIFIED", &w.ctx("/me after an expired state"));
}

/// A used state cannot be replayed: not by the same browser (cookie put back), not by another
/// browser with a copy of both cookie and URL.
pub async fn number_verify_reused_state_is_refused(w: &World) {
    let b = &w.browser;
    let path = callback_path(w, b, PHONE).await;
    let cookie = b.cookie(STATE_COOKIE).expect("state cookie");
    let reply = b.get(&path).await;
    assert_verified_redirect(w, &reply, "/");
    let session = b.cookie(SESSION_COOKIE).expect("session cookie");
    w.sandbox.control().clear_requests();

    let reply = b.get(&path).await;
    assert_invalid_state(w, &reply, "replayed callback").await;
    b.set_cookie(STATE_COOKIE, &cookie);
    let reply = b.get(&path).await;
    assert_invalid_state(w, &reply, "replayed callback with the old cookie").await;
    w.other.set_cookie(STATE_COOKIE, &cookie);
    let reply = w.other.get(&path).await;
    assert_invalid_state(w, &reply, "replayed callback in another browser").await;
    assert_no_exchange(w, "reused state");
    assert_not_verified(w, &w.other, "/me for the replaying browser").await;
    assert_eq!(
        b.cookie(SESSION_COOKIE).as_deref(),
        Some(session.as_str()),
        "{}",
        w.ctx("the first session stays")
    );
}

/// Redirect targets smuggled into the callback URL are ignored: success and failure both go to
/// the configured path only.
pub async fn number_verify_ignores_return_urls_in_the_request(w: &World) {
    let smuggled = [
        ("return_to", "https://evil.com"),
        ("next", "//evil.com"),
        ("redirect", "https://evil.com/x"),
        ("redirect_uri", "https://evil.com/cb"),
        ("return_path", "/\\evil.com"),
        ("url", "javascript:alert(1)"),
    ];
    let b = &w.browser;
    let mut path = callback_path(w, b, PHONE).await;
    for (name, value) in smuggled {
        path = with_param(&path, name, Some(value));
    }
    let reply = b.get(&path).await;
    assert_verified_redirect(w, &reply, "/");

    // The operator refuses (+15555550108 denies): the failure redirect ignores them too.
    let c = &w.other;
    let operator_url = start(w, c, "+15555550108").await;
    let mut path = operator(w, c, &operator_url).await;
    assert_eq!(
        param(&path, "error"),
        "access_denied",
        "{}",
        w.ctx("denial")
    );
    for (name, value) in smuggled {
        path = with_param(&path, name, Some(value));
    }
    let reply = c.get(&path).await;
    reply.assert_status(302, &w.ctx("denied callback"));
    assert_eq!(
        reply.header("location"),
        Some("/?verification=failed"),
        "{}",
        w.ctx("denied callback redirect")
    );
    assert!(
        reply.set_cookie(SESSION_COOKIE).is_none(),
        "{}",
        w.ctx("no session when denied")
    );
    assert_not_verified(w, c, "/me after a denial").await;
}

/// A configured return path is used as is, for success and failure, whatever the request says.
pub async fn number_verify_uses_the_configured_return_path(w: &World) {
    let (_app, b) = w
        .start_app(|builder| builder.legacy_return_path("/account?tab=phone"))
        .await;
    let mut path = callback_path(w, &b, PHONE).await;
    path = with_param(&path, "return_to", Some("https://evil.com"));
    path = with_param(&path, "next", Some("//evil.com"));
    let reply = b.get(&path).await;
    assert_verified_redirect(w, &reply, "/account?tab=phone");
    b.get("/me").await.assert_status(200, &w.ctx("/me"));

    let c = Browser::new(b.origin(), crate::harness::DESKTOP_UA);
    let path = callback_path(w, &c, "+15555550105").await;
    let path = with_param(&path, "next", Some("https://evil.com"));
    let reply = c.get(&path).await;
    reply.assert_status(302, &w.ctx("failed callback"));
    assert_eq!(
        reply.header("location"),
        Some("/account?tab=phone&verification=failed"),
        "{}",
        w.ctx("failure redirect with the configured path")
    );
}

/// A return path that leaves the app (`//evil.com`, `https://evil.com`, …) is refused when the
/// engine is built.
pub async fn number_verify_open_redirect_return_paths_are_refused_at_build(w: &World) {
    for bad in [
        "//evil.com",
        "https://evil.com",
        "http://evil.com/",
        "/\\evil.com",
        "\\\\evil.com",
        "evil.com",
        "",
        "javascript:alert(1)",
        "/\t/evil.com",
        "/ok//evil.com",
        "/a\r\nLocation: https://evil.com",
    ] {
        let built = GlideAuth::builder(sandbox_client(&w.sandbox))
            .insecure_dev_cookies(true)
            .legacy_return_path(bad)
            .build();
        assert!(
            built.is_err(),
            "{}: legacy_return_path({bad:?}) must be refused",
            w.ctx("build")
        );
    }
    for good in ["/", "/account", "/a/b?x=1"] {
        GlideAuth::builder(sandbox_client(&w.sandbox))
            .insecure_dev_cookies(true)
            .legacy_return_path(good)
            .build()
            .unwrap_or_else(|e| panic!("{}: {good:?}: {e}", w.ctx("build")));
    }
}

/// Code injection (issue 13): browser A starts Number Verify for the victim's number and the
/// operator redirects with code C; attacker browser B starts its own flow (its own state and
/// state cookie) and presents C with B's state. B's state checks out, but C was issued for A's
/// PKCE challenge and nonce: the exchange with B's verifier is refused by the operator
/// (`invalid_grant`), so B gets the failure redirect, no session, and no number check happens.
/// The refused attempt does not spend C: A then presents it with its own state and is verified.
pub async fn number_verify_code_injected_into_another_flow_is_refused(w: &World) {
    code_injection(w, &w.sandbox, &w.browser, &w.other, Operator::WithPkce).await;
}

/// [`number_verify_code_injected_into_another_flow_is_refused`] on an engine whose state
/// records live in Redis (returns early, after `SKIPPED: …`, without `redis-server`, unless
/// `GLIDE_REQUIRE_EXTERNAL=1`).
pub async fn number_verify_code_injection_is_refused_with_redis(w: &World) {
    use glide_core::store::{RedisStore, RedisTimeouts};
    let Some(redis) = crate::redis_server::RedisServer::start() else {
        return;
    };
    let store = RedisStore::connect_with_timeouts(
        &redis.url(),
        RedisTimeouts::both(std::time::Duration::from_millis(500)),
    )
    .await
    .expect("connect the Redis store");
    let (app, victim) = w.start_app(move |builder| builder.store(store)).await;
    let attacker = Browser::new(&app.base_url, DESKTOP_UA);
    code_injection(w, &w.sandbox, &victim, &attacker, Operator::WithPkce).await;
    drop(redis);
}

/// The same attack against an operator without PKCE support (it ignores `code_challenge` and
/// `code_verifier`): the operator redeems C for the attacker's exchange, but the ID token
/// carries A's nonce, not B's, so the engine refuses it (`NONCE_MISMATCH`): failure redirect,
/// no session, no number check. Here the operator spent C on B's exchange, so A's own
/// callback then fails too (`invalid_grant`, failure redirect): the victim starts over, and the
/// attacker still has nothing.
pub async fn number_verify_code_injection_is_refused_by_the_nonce_alone(w: &World) {
    let sandbox = Sandbox::start(SandboxConfig::default().with_number_verify_pkce(false))
        .await
        .expect("start a sandbox without PKCE");
    let (app, victim) = w.start_app_on(&sandbox, |builder| builder).await;
    let attacker = Browser::new(&app.base_url, DESKTOP_UA);
    code_injection(w, &sandbox, &victim, &attacker, Operator::WithoutPkce).await;
}

/// Whether the operator enforces PKCE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operator {
    WithPkce,
    WithoutPkce,
}

/// Asserts the failure redirect with no session cookie.
#[track_caller]
fn assert_failure_redirect(w: &World, reply: &Reply, what: &str) {
    reply.assert_status(302, &w.ctx(what));
    assert_eq!(
        reply.header("location"),
        Some("/?verification=failed"),
        "{}",
        w.ctx(what)
    );
    assert!(
        reply.set_cookie(SESSION_COOKIE).is_none(),
        "{}: no session: {:?}",
        w.ctx(what),
        reply.set_cookies()
    );
}

/// The attack of [`number_verify_code_injected_into_another_flow_is_refused`] between two
/// browsers of one app whose engine talks to `sandbox`.
async fn code_injection(
    w: &World,
    sandbox: &Sandbox,
    victim: &Browser,
    attacker: &Browser,
    operator_kind: Operator,
) {
    // The victim's callback URL: `?code=C&state=<victim's state>`.
    let victim_operator_url = start_on(w, sandbox, victim, PHONE).await;
    let victim_path = operator(w, victim, &victim_operator_url).await;
    // The attacker's own flow, for the victim's number: its state and cookie are genuine.
    let attacker_state = state_of(&start_on(w, sandbox, attacker, PHONE).await);
    // C with the attacker's own state, in the attacker's browser (its own state cookie).
    let injected = with_param(&victim_path, "state", Some(&attacker_state));
    sandbox.control().clear_requests();
    let reply = attacker.get(&injected).await;
    let what = "the victim's code with the attacker's own state";
    assert_failure_redirect(w, &reply, what);
    assert!(
        reply
            .set_cookie(STATE_COOKIE)
            .is_some_and(|c| c.is_removal()),
        "{}: the attacker's state is spent",
        w.ctx(what)
    );
    let requests = sandbox.control().requests();
    let exchanges: Vec<_> = requests
        .iter()
        .filter(|r| r.path == "/oauth2/token")
        .collect();
    assert_eq!(
        exchanges.len(),
        1,
        "{}: one exchange: {requests:?}",
        w.ctx(what)
    );
    assert_eq!(
        exchanges[0].body["code_verifier"],
        "[REDACTED]",
        "{}: the exchange sends a (redacted) verifier",
        w.ctx(what)
    );
    assert!(
        !requests
            .iter()
            .any(|r| r.path.starts_with("/number-verification")),
        "{}: the code was refused before any number check: {requests:?}",
        w.ctx(what)
    );
    assert_not_verified(w, attacker, "/me for the attacker").await;
    // The attacker's flow is over: trying again with it is an invalid state.
    let reply = attacker.get(&injected).await;
    assert_invalid_state(w, &reply, "the injection replayed").await;

    let reply = victim.get(&victim_path).await;
    match operator_kind {
        Operator::WithPkce => {
            // The refused attempt did not spend the code: the victim's flow still completes.
            assert_verified_redirect(w, &reply, "/");
            assert_me(w, victim, PHONE, "VerifyPhoneNumber", "number_verify").await;
        }
        Operator::WithoutPkce => {
            // The operator spent C on the attacker's exchange: the victim's flow fails.
            assert_failure_redirect(w, &reply, "the victim's callback after C was spent");
            assert_not_verified(w, victim, "/me for the victim").await;
        }
    }
    assert_not_verified(w, attacker, "/me for the attacker afterwards").await;
    // The code is worth nothing to a new attacker flow either.
    let attacker_state = state_of(&start_on(w, sandbox, attacker, PHONE).await);
    let reply = attacker
        .get(&with_param(&injected, "state", Some(&attacker_state)))
        .await;
    assert_failure_redirect(w, &reply, "the code injected again");
    assert_not_verified(w, attacker, "/me for the attacker at the end").await;
}
