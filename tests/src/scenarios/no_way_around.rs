//! Issue 33 ("no way around, round 3") and issue 28 ("fail closed"), each attack performed as an
//! attacker would over HTTP: it must fail with a stable code, and the owner's flow beside it
//! must still succeed. (The chain's and the device-swap rows are in `chain.rs` and
//! `sim_swap.rs`.)

use std::sync::Arc;
use std::time::Duration;

use glide_core::ratelimit::{IpNet, RateLimit, RateLimitConfig};
use glide_core::store::{MemoryStore, Store};
use serde_json::json;

use crate::harness::{Browser, Reply, World, ANDROID_UA, SESSION_COOKIE};
use crate::scenarios::attacks::{redis_store, with_store};
use crate::scenarios::legacy::{start, FALLBACK};

/// Limits that believe `X-Forwarded-For` from the test client (127.0.0.1), so that one test
/// client plays many addresses; every limit off until `set` turns it on.
fn limits(set: impl FnOnce(&mut RateLimitConfig)) -> RateLimitConfig {
    let mut limits =
        RateLimitConfig::disabled().with_trusted_proxies([IpNet::new([127, 0, 0, 1].into(), 32)]);
    set(&mut limits);
    limits
}

fn window() -> Duration {
    Duration::from_secs(600)
}

/// A prepare of `phone` (`use_case`) from the client at `address`.
async fn prepare_from(b: &Browser, use_case: &str, phone: &str, address: &str) -> Reply {
    b.call("POST", &World::route("prepare"))
        .json(&json!({
            "use_case": use_case,
            "phone_number": phone,
            "client_info": { "user_agent": ANDROID_UA },
        }))
        .header("x-forwarded-for", address)
        .send()
        .await
}

/// A code check from the client at `address` (the browser's pending verification).
async fn verify_from(b: &Browser, code: &str, address: &str) -> Reply {
    b.call("POST", &World::route("magic-auth/verify"))
        .json(&json!({ "code": code }))
        .header("x-forwarded-for", address)
        .send()
        .await
}

/// 33.1: rotating the client address buys no more code checks than the number's total: with a
/// share of two per address and a total of four, the fifth check of the number is refused from
/// a fresh address, the right code included.
pub async fn otp_guessing_across_addresses_is_capped(w: &World) {
    otp_guessing(w, None).await;
}

/// [`otp_guessing_across_addresses_is_capped`] with the counters in Redis.
pub async fn otp_guessing_across_addresses_is_capped_with_redis(w: &World) {
    let Some((_redis, store)) = redis_store().await else {
        return;
    };
    otp_guessing(w, Some(store)).await;
}

async fn otp_guessing(w: &World, store: Option<Arc<dyn Store>>) {
    let (_app, b) = w
        .start_app(move |builder| {
            with_store(
                builder.rate_limits(limits(|l| {
                    l.check_per_phone = Some(RateLimit::new(2, window()));
                    l.check_per_phone_total = Some(RateLimit::new(4, window()));
                })),
                store,
            )
        })
        .await;
    start(&b, &json!({ "phone_number": FALLBACK }))
        .await
        .assert_status(200, &w.ctx("SMS start"));
    let code = w.legacy_otp(FALLBACK);
    let wrong = format!("{:06}", (code.parse::<u32>().unwrap_or(0) + 1) % 1_000_000);
    for n in 0..4 {
        verify_from(&b, &wrong, &format!("203.0.113.{n}"))
            .await
            .assert_error(401, "INVALID_CODE", &w.ctx(&format!("wrong code {n}")));
    }
    let reply = verify_from(&b, &code, "198.51.100.77").await;
    reply.assert_error(
        429,
        "RATE_LIMIT_EXCEEDED",
        &w.ctx("a fifth check from a fresh address"),
    );
    assert!(
        reply.set_cookie(SESSION_COOKIE).is_none(),
        "{}",
        w.ctx("no session")
    );
}

/// 33.7: requests refused before anything starts (a prepare naming a number under
/// `GetPhoneNumber`) spend none of the number's budget, from however many addresses.
pub async fn refused_requests_spend_none_of_the_owners_budget(w: &World) {
    let (_app, b) = w
        .start_app(|builder| {
            builder.rate_limits(limits(|l| {
                l.prepare_per_phone = Some(RateLimit::new(3, window()));
                l.prepare_per_phone_total = Some(RateLimit::new(5, window()));
            }))
        })
        .await;
    let victim = "+15555550100";
    for address in 0..6 {
        for _ in 0..5 {
            prepare_from(
                &b,
                "GetPhoneNumber",
                victim,
                &format!("203.0.113.{address}"),
            )
            .await
            .assert_error(400, "VALIDATION_ERROR", &w.ctx("refused prepare"));
        }
    }
    let reply = w.verify_ts43(&b, victim).await;
    reply.assert_status(200, &w.ctx("the owner verifies"));
}

/// 28.1: a stranger with fifty addresses spends the number's total, but the address that
/// verified the number before still starts and verifies it.
pub async fn owner_outlasts_a_stranger_with_fifty_addresses(w: &World) {
    let (_app, b) = w
        .start_app(|builder| {
            builder.rate_limits(limits(|l| {
                l.prepare_per_phone = Some(RateLimit::new(2, window()));
                l.prepare_per_phone_total = Some(RateLimit::new(10, window()));
            }))
        })
        .await;
    let victim = "+15555550100";
    w.verify_ts43(&b, victim)
        .await
        .assert_status(200, &w.ctx("the owner's first verification"));
    let mut refused = 0;
    for address in 0..50 {
        for _ in 0..2 {
            let reply = prepare_from(
                &b,
                "VerifyPhoneNumber",
                victim,
                &format!("203.0.113.{address}"),
            )
            .await;
            if reply.status == 429 {
                refused += 1;
            } else {
                reply.assert_status(200, &w.ctx("stranger's prepare"));
            }
        }
    }
    assert!(
        refused >= 90,
        "{}: the total stops the stranger ({refused} refused)",
        w.ctx("stranger")
    );
    let reply = w.verify_ts43(&b, victim).await;
    reply.assert_status(200, &w.ctx("the owner verifies again"));
}

/// 33.8: a flood of starts that evicts the pending store leaves an exhausted limit exhausted
/// (the counters are not kept where a flood can evict them).
pub async fn a_flood_cannot_reset_an_exhausted_limit(w: &World) {
    flood_reset(w, None).await;
}

/// [`a_flood_cannot_reset_an_exhausted_limit`] with the counters in Redis.
pub async fn a_flood_cannot_reset_an_exhausted_limit_with_redis(w: &World) {
    let Some((_redis, store)) = redis_store().await else {
        return;
    };
    flood_reset(w, Some(store)).await;
}

async fn flood_reset(w: &World, store: Option<Arc<dyn Store>>) {
    let (_app, b) = w
        .start_app(move |builder| {
            with_store(builder, store)
                // A small pending store that evicts its oldest entry, as the default one does
                // at 100 000 entries.
                .pending_store(MemoryStore::with_capacity(40).evicting_oldest())
                .rate_limits(limits(|l| {
                    l.prepare_per_phone = Some(RateLimit::new(2, window()));
                    l.prepare_per_phone_total = Some(RateLimit::new(50, window()));
                }))
        })
        .await;
    let victim = "+15555550100";
    for _ in 0..2 {
        prepare_from(&b, "VerifyPhoneNumber", victim, "203.0.113.7")
            .await
            .assert_status(200, &w.ctx("stranger's prepare"));
    }
    prepare_from(&b, "VerifyPhoneNumber", victim, "203.0.113.7")
        .await
        .assert_error(429, "RATE_LIMIT_EXCEEDED", &w.ctx("the share is spent"));
    for n in 0..120 {
        let phone = format!("+1555556{n:04}");
        prepare_from(
            &b,
            "VerifyPhoneNumber",
            &phone,
            &format!("198.51.100.{}", n % 200),
        )
        .await
        .assert_status(200, &w.ctx("flood"));
    }
    prepare_from(&b, "VerifyPhoneNumber", victim, "203.0.113.7")
        .await
        .assert_error(
            429,
            "RATE_LIMIT_EXCEEDED",
            &w.ctx("still spent after the flood"),
        );
}

/// 33.9: the bodiless session routes refuse what a cross-site form or a `no-cors` fetch can
/// send (`text/plain`, a form), even without `Origin` or `Sec-Fetch-Site`; the sessions live on.
pub async fn sessions_routes_refuse_simple_cross_origin_bodies(w: &World) {
    let victim = "+15555550100";
    w.verify_ts43(&w.browser, victim)
        .await
        .assert_status(200, &w.ctx("first session"));
    w.verify_ts43(&w.other, victim)
        .await
        .assert_status(200, &w.ctx("second session"));
    for route in ["sessions/revoke-others", "sessions/revoke-all", "logout"] {
        // A string body without a type, as a `no-cors` fetch sends it, too.
        w.browser
            .call("POST", &World::route(route))
            .without_origin()
            .body_without_type(b"x".to_vec())
            .send()
            .await
            .assert_error(
                415,
                "UNSUPPORTED_MEDIA_TYPE",
                &w.ctx(&format!("{route} untyped")),
            );
        for (content_type, body) in [
            ("text/plain", "{}"),
            ("application/x-www-form-urlencoded", "a=1"),
            ("multipart/form-data; boundary=x", "--x--"),
        ] {
            w.browser
                .call("POST", &World::route(route))
                .without_origin()
                .raw_body(content_type, body.as_bytes().to_vec())
                .send()
                .await
                .assert_error(
                    415,
                    "UNSUPPORTED_MEDIA_TYPE",
                    &w.ctx(&format!("{route} with {content_type}")),
                );
        }
    }
    for b in [&w.browser, &w.other] {
        w.me(b)
            .await
            .assert_status(200, &w.ctx("both sessions live on"));
    }
    // glide.js's own call still works.
    w.browser
        .post(&World::route("sessions/revoke-others"), &json!({}))
        .await
        .assert_status(204, &w.ctx("revoke-others as glide.js sends it"));
    w.me(&w.other)
        .await
        .assert_error(401, "NOT_VERIFIED", &w.ctx("the other session ended"));
}

/// 33.12: a guarded app route (`RequireVerifiedLayer` / `RequireVerifiedWrap`, and the
/// `VerifiedWith` extractor) refuses a state-changing request from another origin, or marked
/// cross-site or same-site by the browser, before its handler runs; the app's own page passes.
pub async fn guarded_routes_refuse_cross_origin_state_changes(w: &World) {
    let b = &w.browser;
    w.verify_ts43(b, "+15555550100")
        .await
        .assert_status(200, &w.ctx("TS43 verification"));
    for path in ["/guarded", "/guarded-extractor"] {
        let foreign = b
            .call("POST", path)
            .header("origin", "https://evil.example")
            .send()
            .await;
        foreign.assert_error(
            403,
            "ORIGIN_NOT_ALLOWED",
            &w.ctx(&format!("{path} from evil")),
        );
        let same_site = b
            .call("POST", path)
            .without_origin()
            .header("sec-fetch-site", "same-site")
            .send()
            .await;
        same_site.assert_error(
            403,
            "ORIGIN_NOT_ALLOWED",
            &w.ctx(&format!("{path} from a same-site page")),
        );
        let own = b.call("POST", path).send().await;
        own.assert_status(200, &w.ctx(&format!("{path} from the app's page")));
        b.get(path)
            .await
            .assert_status(200, &w.ctx(&format!("GET {path}")));
    }
}

/// 33.13: the origin check compares the scheme: `https://`, `ws://` and `ftp://` origins with the
/// app's host and port are refused on an http app, and so is a TS43 credential whose audience
/// has another scheme.
pub async fn origins_of_another_scheme_are_refused(w: &World) {
    let b = &w.browser;
    let host = b.origin().trim_start_matches("http://").to_owned();
    for scheme in ["https", "ws", "ftp"] {
        let reply = b
            .call("POST", &World::route("prepare"))
            .json(&World::prepare_body(ANDROID_UA, Some("+15555550100")))
            .header("origin", &format!("{scheme}://{host}"))
            .send()
            .await;
        reply.assert_error(
            403,
            "ORIGIN_NOT_ALLOWED",
            &w.ctx(&format!("{scheme} origin")),
        );
    }
    let prepared = w.prepare(b, ANDROID_UA, Some("+15555550100")).await;
    let relayed = w
        .sandbox
        .control()
        .ts43_credential(&prepared.session_key, &format!("https://{host}"), None)
        .unwrap_or_else(|e| panic!("sandbox ts43_credential: {e}"));
    let reply = w.process(b, &prepared, &relayed).await;
    reply.assert_error(
        422,
        "AUDIENCE_VALIDATION_FAILED",
        &w.ctx("credential for the https origin"),
    );
    assert!(
        reply.set_cookie(SESSION_COOKIE).is_none(),
        "{}",
        w.ctx("no session")
    );
    w.verify_ts43(b, "+15555550100")
        .await
        .assert_status(200, &w.ctx("the app's own origin"));
}

/// 33.6: a server auth that Glide may have confirmed by a one-time code (a number not eligible
/// for the carrier check, started with a fallback) records `sms`, which a carrier step-up
/// refuses; without a fallback such a number is refused at the start.
pub async fn server_auth_records_what_proved_the_number(w: &World) {
    let b = &w.browser;
    let started = b
        .post(
            &World::route("magic-auth/start-server-auth"),
            &json!({ "phone_number": FALLBACK, "fallback_channel": "SMS" }),
        )
        .await;
    started.assert_status(200, &w.ctx("start-server-auth with a fallback"));
    let session_id = started.json()["session_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    w.sandbox
        .control()
        .server_auth_approve(&session_id)
        .unwrap_or_else(|e| panic!("server_auth_approve: {e}"));
    let checked = b
        .get(&format!(
            "{}?session_id={session_id}",
            World::route("magic-auth/check-server-auth")
        ))
        .await;
    checked.assert_status(200, &w.ctx("check-server-auth"));
    let me = w.me(b).await;
    me.assert_status(200, &w.ctx("/me"));
    assert_eq!(me.json()["strategy"], "sms", "{}", w.ctx("strategy"));
    b.call("POST", "/guarded").send().await.assert_error(
        401,
        "STEP_UP_REQUIRED",
        &w.ctx("a carrier step-up"),
    );
    let refused = w
        .other
        .post(
            &World::route("magic-auth/start-server-auth"),
            &json!({ "phone_number": FALLBACK, "fallback_channel": "NO_FALLBACK" }),
        )
        .await;
    assert_eq!(
        refused.status,
        422,
        "{}: {}",
        w.ctx("not eligible without a fallback"),
        refused.text()
    );
}

/// 28.2: a SIM swap reported while the number's session index is damaged ends no session
/// silently: the verification gets no session (opaque 503), and the sessions routes answer an
/// opaque 500 instead of a partial list.
pub async fn a_damaged_session_index_fails_closed(w: &World) {
    damaged_index(w, None).await;
}

/// [`a_damaged_session_index_fails_closed`] with the sessions in Redis.
pub async fn a_damaged_session_index_fails_closed_with_redis(w: &World) {
    let Some((_redis, store)) = redis_store().await else {
        return;
    };
    damaged_index(w, Some(store)).await;
}

async fn damaged_index(w: &World, store: Option<Arc<dyn Store>>) {
    use sha2::{Digest as _, Sha256};
    let store = store.unwrap_or_else(|| Arc::new(w.store.clone()));
    let shared = store.clone();
    let (_app, b) = w
        .start_app(move |builder| builder.shared_store(shared))
        .await;
    let swapped = "+15555550101";
    // A live session (of a low-risk number) to list and revoke.
    w.verify_ts43(&b, "+15555550100")
        .await
        .assert_status(200, &w.ctx("a session"));
    for phone in ["+15555550100", swapped] {
        let key = format!("phone:{}", hex::encode(Sha256::digest(phone)));
        let damaged = b"{\"sessions\": 7";
        match store.load(&key).await.expect("store") {
            Some(index) => assert!(store
                .compare_and_set(&key, index.version, damaged, Duration::from_secs(600))
                .await
                .expect("store")),
            None => assert!(store
                .create(&key, damaged, Duration::from_secs(600))
                .await
                .expect("store")),
        }
    }
    let listed = b.get(&World::route("sessions")).await;
    listed.assert_error(
        500,
        "INTERNAL_SERVER_ERROR",
        &w.ctx("a damaged index listed"),
    );
    assert!(
        !listed.text().contains("sessions\": 7"),
        "{}",
        w.ctx("opaque")
    );
    b.post(&World::route("sessions/revoke-all"), &json!({}))
        .await
        .assert_error(500, "INTERNAL_SERVER_ERROR", &w.ctx("revoke-all"));
    let other = Browser::new(&_app.base_url, ANDROID_UA);
    let reply = w.verify_ts43(&other, swapped).await;
    reply.assert_error(
        503,
        "SERVICE_UNAVAILABLE",
        &w.ctx("a SIM swap whose revocation cannot be made"),
    );
    assert!(
        reply.set_cookie(SESSION_COOKIE).is_none(),
        "{}",
        w.ctx("no session")
    );
}

/// Issue 28's audit: behind a trusted proxy that adds an `X-Forwarded-For` line of its own (rather
/// than appending to the client's), a client rotating a forged first line does not choose its
/// source: every line is read, the right-most untrusted address counts.
pub async fn forged_forwarded_lines_do_not_choose_the_source(w: &World) {
    let (_app, b) = w
        .start_app(|builder| {
            builder.rate_limits(limits(|l| {
                l.prepare_per_ip = Some(RateLimit::new(2, window()));
            }))
        })
        .await;
    let prepare = |forged: String| {
        let b = &b;
        async move {
            b.call("POST", &World::route("prepare"))
                .json(&World::prepare_body(ANDROID_UA, None))
                .header("x-forwarded-for", &forged)
                .header("x-forwarded-for", "198.51.100.4")
                .send()
                .await
        }
    };
    for n in 0..2 {
        prepare(format!("6.6.6.{n}"))
            .await
            .assert_status(200, &w.ctx(&format!("prepare {n}")));
    }
    prepare("6.6.6.99".to_owned()).await.assert_error(
        429,
        "RATE_LIMIT_EXCEEDED",
        &w.ctx("a third prepare of the client the proxy saw"),
    );
}
