//! The engine's options, through the adapter: secure cookies, a stricter risk policy, rate
//! limits, custom paths. Each scenario starts a second app with its own configuration.

use std::time::Duration;

use glide_core::endpoint::RoutePaths;
use glide_core::policy::{NumberRange, RiskPolicy};
use glide_core::ratelimit::{RateLimit, RateLimitConfig};
use glide_core::RiskLevel;
use serde_json::json;

use crate::harness::{World, ANDROID_UA, SESSION_COOKIE};

/// Secure mode: the session cookie is `__Host-glide_session`, `Secure`, `HttpOnly`,
/// `SameSite=Lax`, `Path=/`, no `Domain`; its removal repeats every attribute.
pub async fn secure_cookies_use_the_host_prefix(w: &World) {
    let (app, _) = w.start_app(|b| b.insecure_dev_cookies(false)).await;
    // Secure mode is an https app: its pages' origin says so (a TLS proxy in front).
    let browser = crate::harness::Browser::new(&app.base_url, crate::harness::DESKTOP_UA)
        .with_origin(&app.base_url.replacen("http://", "https://", 1));
    let reply = w.verify_ts43(&browser, "+15555550100").await;
    reply.assert_status(200, &w.ctx("secure verification"));
    assert!(
        reply.set_cookie(SESSION_COOKIE).is_none(),
        "{}",
        w.ctx("no dev cookie name in secure mode")
    );
    let cookie = reply
        .set_cookie("__Host-glide_session")
        .unwrap_or_else(|| panic!("{}: {:?}", w.ctx("no __Host- cookie"), reply.set_cookies()));
    for attribute in ["secure", "httponly"] {
        assert!(
            cookie.has(attribute),
            "{}: {attribute} missing in {}",
            w.ctx("secure cookie"),
            cookie.raw
        );
    }
    assert_eq!(
        cookie.attr("path"),
        Some("/"),
        "{}: {}",
        w.ctx("secure cookie"),
        cookie.raw
    );
    assert!(
        cookie
            .attr("samesite")
            .is_some_and(|v| v.eq_ignore_ascii_case("lax")),
        "{}: {}",
        w.ctx("secure cookie"),
        cookie.raw
    );
    assert!(
        !cookie.has("domain"),
        "{}: {}",
        w.ctx("secure cookie"),
        cookie.raw
    );
    assert!(cookie.raw.len() <= 4096, "{}", w.ctx("cookie size"));
    browser
        .get("/me")
        .await
        .assert_status(200, &w.ctx("/me in secure mode"));

    let logout = browser
        .call("POST", &World::route("logout"))
        .json(&json!({}))
        .send()
        .await;
    logout.assert_status(204, &w.ctx("logout in secure mode"));
    let removal = logout
        .set_cookie("__Host-glide_session")
        .unwrap_or_else(|| panic!("{}: {:?}", w.ctx("no removal cookie"), logout.set_cookies()));
    assert!(
        removal.is_removal(),
        "{}: {}",
        w.ctx("removal"),
        removal.raw
    );
    for attribute in ["secure", "httponly"] {
        assert!(
            removal.has(attribute),
            "{}: {attribute} missing in {}",
            w.ctx("removal cookie"),
            removal.raw
        );
    }
    assert_eq!(
        removal.attr("path"),
        Some("/"),
        "{}: {}",
        w.ctx("removal cookie"),
        removal.raw
    );
    browser
        .get("/me")
        .await
        .assert_error(401, "NOT_VERIFIED", &w.ctx("/me after logout"));
}

/// A policy denying MEDIUM: `+15555550103` gets 403 RISK_POLICY_DENIED, `…0100` still passes.
pub async fn stricter_risk_policy_denies_medium(w: &World) {
    let (_app, browser) = w
        .start_app(|b| b.risk_policy(RiskPolicy::default().deny_at(RiskLevel::Medium)))
        .await;
    let reply = w.verify_ts43(&browser, "+15555550103").await;
    let body = reply.assert_error(
        403,
        "RISK_POLICY_DENIED",
        &w.ctx("MEDIUM under a strict policy"),
    );
    assert_eq!(
        body["sim_swap"]["risk_level"],
        "RISK_LEVEL_MEDIUM",
        "{}: {body}",
        w.ctx("signals returned")
    );
    assert!(
        reply.set_cookies().iter().all(|c| c.name != SESSION_COOKIE),
        "{}",
        w.ctx("no session")
    );
    browser
        .get("/me")
        .await
        .assert_error(401, "NOT_VERIFIED", &w.ctx("/me"));
    let reply = w.verify_ts43(&browser, "+15555550100").await;
    reply.assert_status(200, &w.ctx("LOW under a strict policy"));
    browser.get("/me").await.assert_status(200, &w.ctx("/me"));
}

/// A denied number range is refused before anything starts: 403 `RISK_POLICY_DENIED` at
/// prepare and at a code start (no code is sent); the rest verify as before.
pub async fn number_ranges_are_refused_before_anything_starts(w: &World) {
    let denied = NumberRange::parse("+15555550106").expect("a range");
    let (_app, browser) = w
        .start_app(|b| b.risk_policy(RiskPolicy::default().deny_numbers([denied])))
        .await;
    let reply = w
        .prepare_raw(
            &browser,
            &World::prepare_body(ANDROID_UA, Some("+15555550106")),
        )
        .await;
    let body = reply.assert_error(403, "RISK_POLICY_DENIED", &w.ctx("prepare, denied range"));
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("number range denied")),
        "{}: {body}",
        w.ctx("reason")
    );
    browser
        .post(
            "/api/magical-auth/magic-auth/start",
            &json!({ "phone_number": "+15555550106", "fallback_channel": "SMS" }),
        )
        .await
        .assert_error(
            403,
            "RISK_POLICY_DENIED",
            &w.ctx("code start, denied range"),
        );
    assert!(
        w.sandbox.control().legacy_otp("+15555550106").is_none(),
        "{}: no code sent to a denied range",
        w.ctx("start")
    );
    w.verify_ts43(&browser, "+15555550103")
        .await
        .assert_status(200, &w.ctx("a number outside the range"));
    browser.get("/me").await.assert_status(200, &w.ctx("/me"));
}

/// A shadow policy that would refuse everyone refuses no one; the enforced policy still
/// decides (HIGH is denied).
pub async fn shadow_policy_never_refuses(w: &World) {
    let only_uk = NumberRange::parse("+44").expect("a range");
    let (_app, browser) = w
        .start_app(|b| {
            b.shadow_risk_policy(
                RiskPolicy::default()
                    .deny_at(RiskLevel::Low)
                    .allow_numbers([only_uk]),
            )
        })
        .await;
    w.verify_ts43(&browser, "+15555550100")
        .await
        .assert_status(200, &w.ctx("shadow would deny"));
    browser.get("/me").await.assert_status(200, &w.ctx("/me"));
    w.verify_ts43(&browser, "+15555550101").await.assert_error(
        403,
        "RISK_POLICY_DENIED",
        &w.ctx("enforced HIGH"),
    );
}

/// Two prepares per IP: the third is 429 RATE_LIMIT_EXCEEDED with `Retry-After` (the adapter
/// must hand the peer address to the engine).
pub async fn prepare_rate_limit_per_ip(w: &World) {
    let (_app, browser) = w
        .start_app(|b| {
            let mut limits = RateLimitConfig::disabled();
            limits.prepare_per_ip = Some(RateLimit::new(2, Duration::from_secs(60)));
            b.rate_limits(limits)
        })
        .await;
    for phone in ["+15555550100", "+15555550103"] {
        w.prepare(&browser, ANDROID_UA, Some(phone)).await;
    }
    let reply = w
        .prepare_raw(
            &browser,
            &World::prepare_body(ANDROID_UA, Some("+15555550104")),
        )
        .await;
    reply.assert_error(
        429,
        "RATE_LIMIT_EXCEEDED",
        &w.ctx("third prepare from one IP"),
    );
    let retry_after = reply
        .header("retry-after")
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or_else(|| {
            panic!(
                "{}: {:?}",
                w.ctx("Retry-After seconds"),
                reply.header("retry-after")
            )
        });
    assert!(
        (1..=60).contains(&retry_after),
        "{}: {retry_after}",
        w.ctx("Retry-After")
    );
    // A spoofed X-Forwarded-For from an untrusted peer changes nothing.
    let spoofed = browser
        .call("POST", &World::route("prepare"))
        .json(&World::prepare_body(ANDROID_UA, Some("+15555550104")))
        .header("x-forwarded-for", "203.0.113.9")
        .send()
        .await;
    spoofed.assert_error(
        429,
        "RATE_LIMIT_EXCEEDED",
        &w.ctx("prepare with a spoofed X-Forwarded-For"),
    );
}

/// Two prepares per number: every spelling of one number counts against the same bucket.
pub async fn prepare_rate_limit_counts_every_spelling_of_a_number(w: &World) {
    let (_app, browser) = w
        .start_app(|b| {
            let mut limits = RateLimitConfig::disabled();
            limits.prepare_per_phone = Some(RateLimit::new(2, Duration::from_secs(600)));
            b.rate_limits(limits)
        })
        .await;
    w.prepare(&browser, ANDROID_UA, Some("+15555550100")).await;
    w.prepare(&browser, ANDROID_UA, Some("+1 555 555 0100"))
        .await;
    let reply = w
        .prepare_raw(
            &browser,
            &World::prepare_body(ANDROID_UA, Some("+1 (555) 555-0100")),
        )
        .await;
    reply.assert_error(
        429,
        "RATE_LIMIT_EXCEEDED",
        &w.ctx("third prepare of one number"),
    );
    // Another number is not limited.
    w.prepare(&browser, ANDROID_UA, Some("+15555550103")).await;
}

/// Custom paths: the routes move; the old paths are the app's (404).
pub async fn custom_route_paths(w: &World) {
    let (_app, browser) = w
        .start_app(|b| {
            let mut routes = RoutePaths::default();
            routes.base_path = "/auth/glide".into();
            routes.completion_path = "/done".into();
            b.routes(routes)
        })
        .await;
    let reply = browser
        .post(
            "/auth/glide/prepare",
            &World::prepare_body(ANDROID_UA, Some("+15555550100")),
        )
        .await;
    reply.assert_status(200, &w.ctx("prepare at the custom path"));
    let prepared = reply.json();
    let key = prepared["session"]["session_key"]
        .as_str()
        .expect("session_key")
        .to_owned();
    let credential = w
        .sandbox
        .control()
        .ts43_credential(&key, browser.origin(), None)
        .unwrap_or_else(|e| panic!("ts43_credential: {e}"));
    let reply = browser
        .post(
            "/auth/glide/process",
            &json!({ "session": prepared["session"], "credential": credential, "use_case": "VerifyPhoneNumber" }),
        )
        .await;
    reply.assert_status(200, &w.ctx("process at the custom path"));
    browser.get("/me").await.assert_status(200, &w.ctx("/me"));

    let page = browser.get("/done").await;
    page.assert_status(200, &w.ctx("completion page at the custom path"));
    assert!(
        page.text().contains("/auth/glide/complete"),
        "{}",
        w.ctx("the page posts to the custom complete path")
    );
    assert_eq!(
        browser.get("/glide-complete").await.status,
        404,
        "{}",
        w.ctx("old completion path")
    );
    let old = browser
        .post(
            &World::route("prepare"),
            &World::prepare_body(ANDROID_UA, Some("+15555550100")),
        )
        .await;
    assert_eq!(
        old.status,
        404,
        "{}: {}",
        w.ctx("old prepare path"),
        old.text()
    );
    browser
        .get("/auth/glide/glide.js")
        .await
        .assert_status(200, &w.ctx("glide.js at the custom path"));
}
