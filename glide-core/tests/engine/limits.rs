//! Every rate limit through the engine: each one refuses past its count, per client address
//! or per number as documented, and a number's share is per client address.

use std::net::IpAddr;
use std::time::Duration;

use glide_core::endpoint::GlideAuth;
use glide_core::ratelimit::{RateLimit, RateLimitConfig};
use serde_json::{json, Value};

use crate::endpoint_support::engine::{call, cookies, engine, post, ANDROID};

const A: &str = "+15555550100";
const B: &str = "+15555550103";
/// Not eligible for the carrier check: an SMS code.
const SMS: &str = "+15555550106";

/// An engine whose only limit is the one `set` puts in.
async fn limited(set: impl FnOnce(&mut RateLimitConfig)) -> (glide_sandbox::Sandbox, GlideAuth) {
    let mut limits = RateLimitConfig::disabled();
    set(&mut limits);
    engine(move |b| b.rate_limits(limits)).await
}

fn two() -> Option<RateLimit> {
    Some(RateLimit::new(2, Duration::from_secs(60)))
}

/// A POST of `body` to `path` from the client at 127.0.0.`peer`.
async fn from(
    auth: &GlideAuth,
    peer: u8,
    path: &str,
    body: Value,
    cookie: &str,
) -> (u16, Value, String) {
    let mut request = post(path, body, cookie);
    request.peer_addr = Some(IpAddr::from([127, 0, 0, peer]));
    let (status, body, response) = call(auth, request).await;
    (status, body, cookies(&response))
}

async fn prepare(auth: &GlideAuth, peer: u8, phone: &str) -> u16 {
    let body = json!({"use_case": "VerifyPhoneNumber", "phone_number": phone,
                      "client_info": {"user_agent": ANDROID}});
    let (status, body, _) = from(auth, peer, "/api/magical-auth/prepare", body, "").await;
    assert!(
        status == 200 || body["code"] == "RATE_LIMIT_EXCEEDED",
        "{status} {body}"
    );
    status
}

#[tokio::test]
async fn starts_per_client_address() {
    let (_sandbox, auth) = limited(|l| l.prepare_per_ip = two()).await;
    assert_eq!(prepare(&auth, 1, A).await, 200);
    assert_eq!(prepare(&auth, 1, B).await, 200);
    assert_eq!(
        prepare(&auth, 1, A).await,
        429,
        "a third start from one address"
    );
    assert_eq!(prepare(&auth, 2, A).await, 200, "another address");
}

#[tokio::test]
async fn starts_per_number_and_client_address() {
    let (_sandbox, auth) = limited(|l| l.prepare_per_phone = two()).await;
    assert_eq!(prepare(&auth, 1, A).await, 200);
    assert_eq!(prepare(&auth, 1, A).await, 200);
    assert_eq!(prepare(&auth, 1, A).await, 429, "this address's share of A");
    assert_eq!(
        prepare(&auth, 2, A).await,
        200,
        "another address's share of A"
    );
    assert_eq!(prepare(&auth, 1, B).await, 200, "another number");
}

#[tokio::test]
async fn starts_per_number_from_everywhere() {
    let (_sandbox, auth) = limited(|l| l.prepare_per_phone_total = two()).await;
    assert_eq!(prepare(&auth, 1, A).await, 200);
    assert_eq!(prepare(&auth, 2, A).await, 200);
    assert_eq!(prepare(&auth, 3, A).await, 429, "A from a third address");
    assert_eq!(prepare(&auth, 3, B).await, 200, "another number");
}

#[tokio::test]
async fn other_glide_calls_per_client_address() {
    let (sandbox, auth) = limited(|l| l.glide_calls_per_ip = two()).await;
    let mut keys = Vec::new();
    for _ in 0..4 {
        let body = json!({"use_case": "GetPhoneNumber", "client_info": {"user_agent": ANDROID}});
        let (status, body, _) = from(&auth, 9, "/api/magical-auth/prepare", body, "").await;
        assert_eq!(status, 200, "{body}");
        keys.push(body["session"]["session_key"].as_str().unwrap().to_owned());
    }
    let forwarded = || {
        sandbox
            .control()
            .requests()
            .iter()
            .filter(|r| r.path.ends_with("/report-invocation"))
            .count()
    };
    // Past its limit the page is still told success, and Glide is not called.
    for (key, peer, reached) in [(0, 1, 1), (1, 1, 2), (2, 1, 2), (3, 2, 3)] {
        let body = json!({"session_id": keys[key]});
        let (status, body, _) =
            from(&auth, peer, "/api/magical-auth/report-invocation", body, "").await;
        assert_eq!((status, body), (200, json!({"success": true})));
        assert_eq!(forwarded(), reached, "call {key} from 127.0.0.{peer}");
    }
}

#[tokio::test]
async fn credential_checks_per_client_address() {
    let (_sandbox, auth) = limited(|l| l.check_per_ip = two()).await;
    let process = |peer| {
        let auth = &auth;
        async move {
            let body = json!({"session": {"session_key": "0123456789abcdef"}, "credential": "x"});
            from(auth, peer, "/api/magical-auth/process", body, "")
                .await
                .0
        }
    };
    assert_ne!(process(1).await, 429);
    assert_ne!(process(1).await, 429);
    assert_eq!(process(1).await, 429, "a third check from one address");
    assert_ne!(process(2).await, 429, "another address");
}

#[tokio::test]
async fn codes_checked_per_number_and_client_address() {
    let (sandbox, auth) = limited(|l| l.check_per_phone = two()).await;
    let start = |peer| {
        let auth = &auth;
        async move {
            let body = json!({"phone_number": SMS, "fallback_channel": "SMS"});
            let (status, body, cookie) =
                from(auth, peer, "/api/magical-auth/magic-auth/start", body, "").await;
            assert_eq!(status, 200, "{body}");
            cookie
        }
    };
    let verify = |peer, cookie: String, code: String| {
        let auth = &auth;
        async move {
            let body = json!({"code": code});
            from(
                auth,
                peer,
                "/api/magical-auth/magic-auth/verify",
                body,
                &cookie,
            )
            .await
        }
    };
    let cookie = start(1).await;
    let code = sandbox.control().legacy_otp(SMS).unwrap();
    let wrong = format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000);
    for _ in 0..2 {
        let (status, body, _) = verify(1, cookie.clone(), wrong.clone()).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (401, Some("INVALID_CODE")),
            "{body}"
        );
    }
    let (status, body, _) = verify(1, cookie.clone(), code.clone()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (429, Some("RATE_LIMIT_EXCEEDED")),
        "a third check of this number from one address, right code or not: {body}"
    );
    // The same browser from another address has a share of its own.
    let (status, body, _) = verify(2, cookie, code).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn a_resend_waits_out_what_is_left_of_the_cooldown() {
    let clock = glide_core::clock::ManualClock::new();
    let shared: glide_core::clock::SharedClock = std::sync::Arc::new(clock.clone());
    let (_sandbox, auth) = engine(move |b| {
        b.store(glide_core::store::MemoryStore::new().with_clock(shared.clone()))
            .clock(shared)
    })
    .await;
    let start = || {
        let auth = &auth;
        async move {
            let mut request = post(
                "/api/magical-auth/magic-auth/start",
                json!({"phone_number": SMS, "fallback_channel": "SMS"}),
                "",
            );
            request.peer_addr = Some(IpAddr::from([127, 0, 0, 1]));
            call(auth, request).await
        }
    };
    let (status, body, _) = start().await;
    assert_eq!(status, 200, "{body}");
    let cooldown = glide_core::endpoint::RESEND_COOLDOWN.as_secs();
    clock.advance(time::Duration::seconds(10));
    let (status, body, response) = start().await;
    assert_eq!(
        (status, body["code"].as_str()),
        (429, Some("RATE_LIMIT_EXCEEDED")),
        "{body}"
    );
    assert_eq!(
        response.header("retry-after"),
        Some((cooldown - 10).to_string().as_str()),
        "what is left of the cooldown"
    );
    clock.advance(time::Duration::seconds(cooldown as i64 - 10));
    let (status, body, _) = start().await;
    assert_eq!(status, 200, "the cooldown is over: {body}");
}

/// A prepare of `phone` from `peer` (`None`: a request without a client address).
async fn prepare_at(auth: &GlideAuth, peer: Option<IpAddr>, phone: &str) -> u16 {
    let body = json!({"use_case": "VerifyPhoneNumber", "phone_number": phone,
                      "client_info": {"user_agent": ANDROID}});
    let mut request = post("/api/magical-auth/prepare", body, "");
    request.peer_addr = peer;
    let (status, body, _) = call(auth, request).await;
    assert!(
        status == 200 || body["code"] == "RATE_LIMIT_EXCEEDED",
        "{status} {body}"
    );
    status
}

#[tokio::test]
async fn requests_without_an_address_share_one_source_of_their_own() {
    // Per source: every address-less request counts in one bucket (never unlimited).
    let (_sandbox, auth) = limited(|l| l.prepare_per_ip = two()).await;
    assert_eq!(prepare_at(&auth, None, A).await, 200);
    assert_eq!(prepare_at(&auth, None, B).await, 200);
    assert_eq!(
        prepare_at(&auth, None, A).await,
        429,
        "a third start without an address"
    );
    assert_eq!(
        prepare(&auth, 1, A).await,
        200,
        "a client with an address is not in that bucket"
    );
    // Per number and source: address-less requests spend their own share of a number, never
    // the owner's.
    let (_sandbox, auth) = limited(|l| l.prepare_per_phone = two()).await;
    for _ in 0..2 {
        assert_eq!(prepare_at(&auth, None, A).await, 200);
    }
    assert_eq!(prepare_at(&auth, None, A).await, 429);
    assert_eq!(
        prepare(&auth, 1, A).await,
        200,
        "the owner, with an address"
    );
}

#[tokio::test]
async fn a_source_that_verified_the_number_is_not_held_to_its_total() {
    let (sandbox, auth) = limited(|l| l.prepare_per_phone_total = two()).await;
    // The owner verifies A from 127.0.0.1 (one start of A's total).
    let (status, body, _) = crate::endpoint_support::engine::verify_ts43(&sandbox, &auth, A).await;
    assert_eq!(status, 200, "{body}");
    // Strangers from other addresses spend the rest of A's total.
    assert_eq!(prepare(&auth, 2, A).await, 200);
    assert_eq!(prepare(&auth, 3, A).await, 429, "A's total is spent");
    assert_eq!(prepare(&auth, 4, A).await, 429, "from any stranger");
    assert_eq!(
        prepare(&auth, 1, A).await,
        200,
        "the address that verified A still starts"
    );
    // That address is in good standing for A only: B's total holds it too.
    assert_eq!(prepare(&auth, 1, B).await, 200);
    assert_eq!(prepare(&auth, 2, B).await, 200);
    assert_eq!(prepare(&auth, 1, B).await, 429, "B's total");
}

#[tokio::test]
async fn code_checks_of_a_number_have_a_total_whatever_the_address() {
    let (sandbox, auth) = limited(|l| {
        l.check_per_phone = two();
        l.check_per_phone_total = Some(RateLimit::new(3, Duration::from_secs(3600)));
    })
    .await;
    let body = json!({"phone_number": SMS, "fallback_channel": "SMS"});
    let (status, started, cookie) =
        from(&auth, 1, "/api/magical-auth/magic-auth/start", body, "").await;
    assert_eq!(status, 200, "{started}");
    let code = sandbox.control().legacy_otp(SMS).unwrap();
    let wrong = format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000);
    let verify = |peer, code: String| {
        let (auth, cookie) = (&auth, cookie.clone());
        async move {
            let body = json!({"code": code});
            let (status, body, _) = from(
                auth,
                peer,
                "/api/magical-auth/magic-auth/verify",
                body,
                &cookie,
            )
            .await;
            (status, body["code"].as_str().map(str::to_owned))
        }
    };
    // Each address has a share of two; rotating addresses buys no more than the total.
    for peer in 1..=3 {
        assert_eq!(
            verify(peer, wrong.clone()).await,
            (401, Some("INVALID_CODE".to_owned())),
            "a wrong code from 127.0.0.{peer}"
        );
    }
    assert_eq!(
        verify(4, code).await,
        (429, Some("RATE_LIMIT_EXCEEDED".to_owned())),
        "the number's total of code checks is spent, whatever the address"
    );
}

#[tokio::test]
async fn refused_starts_spend_none_of_the_numbers_budget() {
    let (sandbox, auth) = limited(|l| {
        l.prepare_per_phone = two();
        l.prepare_per_phone_total = two();
    })
    .await;
    for peer in 2..=7 {
        // GetPhoneNumber naming a number: refused before anything starts.
        let body = json!({"use_case": "GetPhoneNumber", "phone_number": A,
                          "client_info": {"user_agent": ANDROID}});
        let (status, body, _) = from(&auth, peer, "/api/magical-auth/prepare", body, "").await;
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("VALIDATION_ERROR")),
            "{body}"
        );
    }
    assert!(sandbox.control().requests().is_empty(), "Glide never asked");
    assert_eq!(
        prepare(&auth, 1, A).await,
        200,
        "the owner's budget is whole"
    );
    assert_eq!(prepare(&auth, 1, A).await, 200);
}

#[tokio::test]
async fn a_source_stays_in_good_standing_for_thirty_days() {
    let clock = glide_core::clock::ManualClock::new();
    let shared: glide_core::clock::SharedClock = std::sync::Arc::new(clock.clone());
    let mut limits = RateLimitConfig::disabled();
    limits.prepare_per_phone_total = two();
    let (sandbox, auth) = engine(move |b| {
        b.store(glide_core::store::MemoryStore::new().with_clock(shared.clone()))
            .clock(shared)
            .rate_limits(limits)
    })
    .await;
    let (status, body, _) = crate::endpoint_support::engine::verify_ts43(&sandbox, &auth, A).await;
    assert_eq!(status, 200, "{body}");
    for (days, owner) in [(29, 200), (2, 429)] {
        clock.advance(time::Duration::days(days));
        // Strangers spend the total of this window; then the owner's address asks.
        assert_eq!(prepare(&auth, 2, A).await, 200);
        assert_eq!(prepare(&auth, 3, A).await, 200);
        assert_eq!(prepare(&auth, 4, A).await, 429, "the total is spent");
        assert_eq!(
            prepare(&auth, 1, A).await,
            owner,
            "the owner's address {days} days on"
        );
    }
}
