//! The ways around the verification that issue 13 found, each performed as an attacker would:
//! every one must fail with a stable code and no session, and the legitimate flow beside it
//! must still succeed. (The e-mail row — a code to the attacker's own mailbox for someone
//! else's number — is `legacy::legacy_email_fallback_end_to_end`; Number Verify code injection
//! is in `legacy_number_verify`.)

use std::sync::Arc;
use std::time::Duration;

use glide_core::endpoint::GlideAuthBuilder;
use glide_core::ratelimit::{IpNet, RateLimit, RateLimitConfig};
use glide_core::store::{RedisStore, RedisTimeouts, Store};

use crate::harness::{Browser, World, ANDROID_UA, DESKTOP_UA, SESSION_COOKIE};
use crate::scenarios::flows::assert_session_cookie;
use crate::scenarios::legacy::{start, FALLBACK};

/// A desktop flow's session key is in the QR code's URL: a second browser holding only the key
/// (no cookie, or a forged one) gets 403 and nothing else once the phone approves; the owner's
/// flow is unharmed.
pub async fn desktop_flow_cannot_be_taken_over_by_its_key(w: &World) {
    desktop_takeover(w, &w.browser, &w.other).await;
}

/// [`desktop_flow_cannot_be_taken_over_by_its_key`] with flows and sessions in Redis.
pub async fn desktop_flow_cannot_be_taken_over_by_its_key_with_redis(w: &World) {
    let Some((_redis, store)) = redis_store().await else {
        return;
    };
    let (app, owner) = w.start_app(move |b| b.shared_store(store)).await;
    let thief = Browser::new(&app.base_url, DESKTOP_UA);
    desktop_takeover(w, &owner, &thief).await;
}

async fn desktop_takeover(w: &World, owner: &Browser, thief: &Browser) {
    let prepared = w.prepare(owner, DESKTOP_UA, Some("+15555550100")).await;
    assert_eq!(prepared.strategy, "desktop", "{}", w.ctx("strategy"));
    w.sandbox
        .control()
        .desktop_approve(&prepared.session_key)
        .unwrap_or_else(|e| panic!("desktop_approve: {e}"));
    let stolen = w.process(thief, &prepared, &prepared.session_key).await;
    stolen.assert_error(
        403,
        "MISSING_BINDING_COOKIE",
        &w.ctx("process by key alone"),
    );
    thief.set_cookie(
        &format!("_glide_bind_{}", prepared.session_key),
        &"ab".repeat(32),
    );
    let forged = w.process(thief, &prepared, &prepared.session_key).await;
    forged.assert_error(
        403,
        "DEVICE_BINDING_FAILED",
        &w.ctx("process with a forged cookie"),
    );
    for reply in [&stolen, &forged] {
        assert!(
            reply.set_cookie(SESSION_COOKIE).is_none(),
            "{}",
            w.ctx("no session")
        );
    }
    w.me(thief)
        .await
        .assert_error(401, "NOT_VERIFIED", &w.ctx("/me of the thief"));

    let own = w.process(owner, &prepared, &prepared.session_key).await;
    own.assert_status(200, &w.ctx("the owner's process"));
    assert_session_cookie(w, &own);
}

/// A TS43 credential bound to another web origin (relayed from a phishing site): refused with
/// 422 `AUDIENCE_VALIDATION_FAILED`, no session; a credential for this app's origin works.
pub async fn relayed_ts43_credential_is_refused(w: &World) {
    let b = &w.browser;
    let prepared = w.prepare(b, ANDROID_UA, Some("+15555550100")).await;
    let relayed = w
        .sandbox
        .control()
        .ts43_credential(&prepared.session_key, "https://evil.example", None)
        .unwrap_or_else(|e| panic!("sandbox ts43_credential: {e}"));
    let reply = w.process(b, &prepared, &relayed).await;
    reply.assert_error(
        422,
        "AUDIENCE_VALIDATION_FAILED",
        &w.ctx("credential for https://evil.example"),
    );
    assert!(
        reply.set_cookie(SESSION_COOKIE).is_none(),
        "{}",
        w.ctx("no session")
    );
    w.me(b)
        .await
        .assert_error(401, "NOT_VERIFIED", &w.ctx("/me"));

    let prepared = w.prepare(b, ANDROID_UA, Some("+15555550100")).await;
    let own = w.ts43_credential(&prepared.session_key, None);
    let reply = w.process(b, &prepared, &own).await;
    reply.assert_status(200, &w.ctx("credential for this app's origin"));
    assert_session_cookie(w, &reply);
}

/// A prepare from a client behind the trusted proxy at `forwarded_for`.
async fn prepare_from(
    browser: &Browser,
    phone: &str,
    forwarded_for: &str,
) -> crate::harness::Reply {
    browser
        .call("POST", &World::route("prepare"))
        .json(&World::prepare_body(ANDROID_UA, Some(phone)))
        .header("x-forwarded-for", forwarded_for)
        .send()
        .await
}

/// A stranger exhausting the per-number limit from one address locks out only themselves: the
/// number's owner, from another address, still starts a flow.
pub async fn stranger_cannot_lock_a_number_out(w: &World) {
    lockout_of_starts(w, None).await;
}

/// [`stranger_cannot_lock_a_number_out`] with the counters in Redis.
pub async fn stranger_cannot_lock_a_number_out_with_redis(w: &World) {
    let Some((_redis, store)) = redis_store().await else {
        return;
    };
    lockout_of_starts(w, Some(store)).await;
}

async fn lockout_of_starts(w: &World, store: Option<Arc<dyn Store>>) {
    let (_app, browser) = w
        .start_app(move |b| {
            let mut limits = RateLimitConfig::disabled()
                .with_trusted_proxies([IpNet::new([127, 0, 0, 1].into(), 32)]);
            limits.prepare_per_phone = Some(RateLimit::new(3, Duration::from_secs(600)));
            limits.prepare_per_phone_total = Some(RateLimit::new(20, Duration::from_secs(600)));
            with_store(b.rate_limits(limits), store)
        })
        .await;
    let victim = "+15555550100";
    for n in 0..3 {
        prepare_from(&browser, victim, "203.0.113.7")
            .await
            .assert_status(200, &w.ctx(&format!("stranger's prepare {n}")));
    }
    prepare_from(&browser, victim, "203.0.113.7")
        .await
        .assert_error(
            429,
            "RATE_LIMIT_EXCEEDED",
            &w.ctx("stranger's fourth prepare"),
        );
    prepare_from(&browser, victim, "198.51.100.9")
        .await
        .assert_status(200, &w.ctx("the owner's prepare from another address"));
}

/// Starting over without the cookie does not buy another SMS: one send per number per
/// cooldown, whichever browser asks.
pub async fn resend_cooldown_holds_across_browsers(w: &World) {
    resend_pumping(w, &w.browser, &w.other).await;
}

/// [`resend_cooldown_holds_across_browsers`] with the cooldown in Redis.
pub async fn resend_cooldown_holds_across_browsers_with_redis(w: &World) {
    let Some((_redis, store)) = redis_store().await else {
        return;
    };
    let (app, first) = w.start_app(move |b| b.shared_store(store)).await;
    let second = Browser::new(&app.base_url, DESKTOP_UA);
    resend_pumping(w, &first, &second).await;
}

async fn resend_pumping(w: &World, first_browser: &Browser, second: &Browser) {
    let first = start(
        first_browser,
        &serde_json::json!({ "phone_number": FALLBACK }),
    )
    .await;
    first.assert_status(200, &w.ctx("first start"));
    let code = w.legacy_otp(FALLBACK);
    let pump = start(second, &serde_json::json!({ "phone_number": FALLBACK })).await;
    pump.assert_error(
        429,
        "RATE_LIMIT_EXCEEDED",
        &w.ctx("start from a fresh browser"),
    );
    assert!(
        pump.header("retry-after")
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|s| (1..=30).contains(&s)),
        "{}: {:?}",
        w.ctx("Retry-After"),
        pump.header("retry-after")
    );
    assert_eq!(
        w.legacy_otp(FALLBACK),
        code,
        "{}",
        w.ctx("no second code was sent")
    );
}

/// The routes that call Glide on the app's credentials are limited per source: past the limit
/// `status` answers 429 and `report-invocation` still answers 200 without calling Glide.
pub async fn glide_calls_are_limited_per_source(w: &World) {
    glide_call_budget(w, None).await;
}

/// [`glide_calls_are_limited_per_source`] with flows and counters in Redis.
pub async fn glide_calls_are_limited_per_source_with_redis(w: &World) {
    let Some((_redis, store)) = redis_store().await else {
        return;
    };
    glide_call_budget(w, Some(store)).await;
}

async fn glide_call_budget(w: &World, store: Option<Arc<dyn Store>>) {
    let (_app, browser) = w
        .start_app(move |b| {
            let mut limits = RateLimitConfig::disabled();
            limits.glide_calls_per_ip = Some(RateLimit::new(3, Duration::from_secs(60)));
            with_store(b.rate_limits(limits), store)
        })
        .await;
    let prepared = w.prepare(&browser, DESKTOP_UA, Some("+15555550100")).await;
    let status = World::route(&format!("status/{}", prepared.session_key));
    let calls = |path: &str| {
        w.sandbox
            .control()
            .requests()
            .iter()
            .filter(|r| r.path.contains(path))
            .count()
    };
    let (status_before, invocations_before) = (calls("/status/"), calls("report-invocation"));
    for n in 0..3 {
        browser
            .get(&status)
            .await
            .assert_status(200, &w.ctx(&format!("status {n}")));
    }
    browser
        .get(&status)
        .await
        .assert_error(429, "RATE_LIMIT_EXCEEDED", &w.ctx("fourth status"));
    for n in 0..3 {
        browser
            .post(
                &World::route("report-invocation"),
                &serde_json::json!({ "session_id": prepared.session_key }),
            )
            .await
            .assert_status(200, &w.ctx(&format!("report-invocation {n}")));
    }
    assert_eq!(
        calls("/status/") - status_before,
        3,
        "{}",
        w.ctx("Glide's status called 3 times")
    );
    assert_eq!(
        calls("report-invocation") - invocations_before,
        0,
        "{}",
        w.ctx("Glide's report-invocation not called past the limit")
    );
}

/// A flood of unauthenticated starts (fresh number each, as from many addresses) fills the
/// pending-state store: its oldest entries make room, so a verified user stays verified and a
/// new visitor still verifies; nothing answers 503.
pub async fn unauthenticated_flood_cannot_starve_verified_users(w: &World) {
    flood(w, None).await;
}

/// The same flood against an app whose state is all in Redis (a server without `maxmemory`
/// refuses nothing; with one, `volatile-ttl` evicts the shortest-lived keys, pending state's).
pub async fn unauthenticated_flood_cannot_starve_verified_users_with_redis(w: &World) {
    let Some((_redis, store)) = redis_store().await else {
        return;
    };
    flood(w, Some(store)).await;
}

async fn flood(w: &World, store: Option<Arc<dyn Store>>) {
    let (app, flooder) = w
        .start_app(move |b| {
            let b = b.rate_limits(RateLimitConfig::disabled());
            match store {
                Some(store) => b.shared_store(store),
                None => b.pending_store(
                    glide_core::store::MemoryStore::with_capacity(40).evicting_oldest(),
                ),
            }
        })
        .await;
    // Someone verified before the flood.
    let verified = Browser::new(&app.base_url, ANDROID_UA);
    let prepared = w.prepare(&verified, ANDROID_UA, Some("+15555550100")).await;
    let credential = w
        .sandbox
        .control()
        .ts43_credential(&prepared.session_key, &app.base_url, None)
        .unwrap_or_else(|e| panic!("sandbox ts43_credential: {e}"));
    w.process(&verified, &prepared, &credential)
        .await
        .assert_status(200, &w.ctx("verification before the flood"));

    for n in 0..200 {
        let reply = flooder
            .get(&World::route(&format!(
                "number-verify/start?phone_number=%2B1555557{n:04}"
            )))
            .await;
        assert_eq!(
            reply.status,
            302,
            "{}: flood start {n}: {}",
            w.ctx("flood"),
            reply.text()
        );
    }

    w.me(&verified)
        .await
        .assert_status(200, &w.ctx("/me of the user verified before the flood"));
    let visitor = Browser::new(&app.base_url, ANDROID_UA);
    let prepared = w.prepare(&visitor, ANDROID_UA, Some("+15555550100")).await;
    let credential = w
        .sandbox
        .control()
        .ts43_credential(&prepared.session_key, &app.base_url, None)
        .unwrap_or_else(|e| panic!("sandbox ts43_credential: {e}"));
    let reply = w.process(&visitor, &prepared, &credential).await;
    reply.assert_status(200, &w.ctx("a new visitor's flow during the flood"));
    assert_session_cookie(w, &reply);
}

/// A legacy route call from a client behind the trusted proxy at `forwarded_for`.
async fn legacy_from(
    browser: &Browser,
    route: &str,
    body: &serde_json::Value,
    forwarded_for: &str,
) -> crate::harness::Reply {
    browser
        .call("POST", &World::route(route))
        .json(body)
        .header("x-forwarded-for", forwarded_for)
        .send()
        .await
}

/// A stranger guessing codes for a number exhausts only their own share of its code-check
/// limit: the owner, from another address, still checks a code and is verified.
pub async fn stranger_cannot_lock_out_code_checks(w: &World) {
    lockout_of_code_checks(w, None).await;
}

/// [`stranger_cannot_lock_out_code_checks`] with records and counters in Redis.
pub async fn stranger_cannot_lock_out_code_checks_with_redis(w: &World) {
    let Some((_redis, store)) = redis_store().await else {
        return;
    };
    lockout_of_code_checks(w, Some(store)).await;
}

async fn lockout_of_code_checks(w: &World, store: Option<Arc<dyn Store>>) {
    let (app, stranger) = w
        .start_app(move |b| {
            let mut limits = RateLimitConfig::disabled()
                .with_trusted_proxies([IpNet::new([127, 0, 0, 1].into(), 32)]);
            limits.check_per_phone = Some(RateLimit::new(3, Duration::from_secs(600)));
            with_store(b.rate_limits(limits), store)
        })
        .await;
    let (a, b) = ("203.0.113.7", "198.51.100.9");
    legacy_from(
        &stranger,
        "magic-auth/start",
        &serde_json::json!({ "phone_number": FALLBACK }),
        a,
    )
    .await
    .assert_status(200, &w.ctx("the stranger's start"));
    let wrong = crate::scenarios::legacy::wrong_code(&w.legacy_otp(FALLBACK));
    for n in 0..3 {
        legacy_from(
            &stranger,
            "magic-auth/verify",
            &serde_json::json!({ "code": wrong }),
            a,
        )
        .await
        .assert_error(
            401,
            "INVALID_CODE",
            &w.ctx(&format!("stranger's wrong code {n}")),
        );
    }
    legacy_from(
        &stranger,
        "magic-auth/verify",
        &serde_json::json!({ "code": wrong }),
        a,
    )
    .await
    .assert_error(429, "RATE_LIMIT_EXCEEDED", &w.ctx("stranger's fourth code"));

    let owner = Browser::new(&app.base_url, DESKTOP_UA);
    legacy_from(
        &owner,
        "magic-auth/start",
        &serde_json::json!({ "phone_number": FALLBACK, "fallback_channel": "EMAIL" }),
        b,
    )
    .await
    .assert_status(200, &w.ctx("the owner's start"));
    let code = w.legacy_otp("user-0106@example.com");
    let reply = legacy_from(
        &owner,
        "magic-auth/verify",
        &serde_json::json!({ "code": code }),
        b,
    )
    .await;
    reply.assert_status(200, &w.ctx("the owner's code"));
    assert_session_cookie(w, &reply);
}

/// A fresh Redis server and a store on it (`None`, after a loud `SKIPPED`, where Redis cannot be
/// started and `GLIDE_REQUIRE_EXTERNAL` is not set). Keep the server alive as long as the store.
pub(crate) async fn redis_store() -> Option<(crate::redis_server::RedisServer, Arc<dyn Store>)> {
    let redis = crate::redis_server::RedisServer::start()?;
    let store = RedisStore::connect_with_timeouts(
        &redis.url(),
        RedisTimeouts::both(Duration::from_millis(500)),
    )
    .await
    .expect("connect the Redis store");
    Some((redis, Arc::new(store)))
}

/// `builder` with every piece of state in `store`, when one is given.
pub(crate) fn with_store(
    builder: GlideAuthBuilder,
    store: Option<Arc<dyn Store>>,
) -> GlideAuthBuilder {
    match store {
        Some(store) => builder.shared_store(store),
        None => builder,
    }
}

/// A route behind a step-up requirement (TS43, at most 5 minutes old), as a route guard
/// (`/guarded`) and as an extractor (`/guarded-extractor`), with the same answers: without a
/// session 401 `NOT_VERIFIED`; verified by an SMS code 401 `STEP_UP_REQUIRED` saying what would
/// do; after a TS43 verification the handler runs.
pub async fn step_up_guard_on_a_route(w: &World) {
    let b = &w.browser;
    for path in ["/guarded", "/guarded-extractor"] {
        b.get(path).await.assert_error(
            401,
            "NOT_VERIFIED",
            &w.ctx(&format!("{path} without a session")),
        );
    }
    start(b, &serde_json::json!({ "phone_number": FALLBACK }))
        .await
        .assert_status(200, &w.ctx("SMS start"));
    let code = w.legacy_otp(FALLBACK);
    crate::scenarios::legacy::verify(b, &serde_json::json!({ "code": code }))
        .await
        .assert_status(200, &w.ctx("SMS verification"));
    for path in ["/guarded", "/guarded-extractor"] {
        let refused = b.get(path).await;
        let body = refused.assert_error(
            401,
            "STEP_UP_REQUIRED",
            &w.ctx(&format!("{path} after an SMS code")),
        );
        assert_eq!(
            body["strategies"],
            serde_json::json!(["ts43"]),
            "{}",
            w.ctx("strategies")
        );
        assert_eq!(body["max_age_seconds"], 300, "{}", w.ctx("max age"));
    }

    w.verify_ts43(b, "+15555550100")
        .await
        .assert_status(200, &w.ctx("TS43 verification"));
    let allowed = b.get("/guarded").await;
    allowed.assert_status(200, &w.ctx("/guarded after TS43"));
    assert_eq!(allowed.text(), "guarded", "{}", w.ctx("the handler ran"));
    let extracted = b.get("/guarded-extractor").await;
    extracted.assert_status(200, &w.ctx("/guarded-extractor after TS43"));
    assert_eq!(
        extracted.text(),
        "+15555550100",
        "{}",
        w.ctx("the handler got the phone")
    );
}
