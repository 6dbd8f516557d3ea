//! One conformance suite for every `Store`: `MemoryStore`, `RedisStore` on one node and
//! `RedisStore` on a Redis Cluster (against a real `redis-server`, and a real three-master,
//! three-replica cluster, started for the test binary; skipped with a loud note when it is not
//! installed).

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use glide_core::clock::ManualClock;
use glide_core::store::{MemoryStore, RedisStore, RedisTimeouts, Store, StoreError};
use glide_tests::redis_server::{RedisCluster, RedisServer};

const TTL: Duration = Duration::from_secs(60);

/// A store under test, with whatever keeps it alive.
struct Harness {
    store: Arc<dyn Store>,
    _redis: Option<RedisServer>,
}

async fn memory() -> Option<Harness> {
    Some(Harness {
        store: Arc::new(MemoryStore::new()),
        _redis: None,
    })
}

async fn redis() -> Option<Harness> {
    let server = RedisServer::start()?;
    let store = RedisStore::connect(&server.url())
        .await
        .expect("connect to the test redis");
    Some(Harness {
        store: Arc::new(store),
        _redis: Some(server),
    })
}

/// A key prefix no other test of this process uses (tests share one cluster).
fn unique_prefix() -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!("t{}:", NEXT.fetch_add(1, Ordering::SeqCst))
}

async fn cluster() -> Option<Harness> {
    let cluster = RedisCluster::shared()?;
    let store = RedisStore::connect_cluster(&cluster.urls())
        .await
        .expect("connect to the test cluster")
        .with_prefix(unique_prefix());
    assert!(store.is_cluster());
    Some(Harness {
        store: Arc::new(store),
        _redis: None,
    })
}

/// The suite: each function gets a fresh, empty store.
mod suite {
    use super::*;

    pub async fn create_conflict(store: Arc<dyn Store>) {
        assert!(store.create("k", b"first", TTL).await.unwrap());
        assert!(!store.create("k", b"second", TTL).await.unwrap());
        let v = store.load("k").await.unwrap().expect("live");
        assert_eq!((v.value.as_slice(), v.version), (&b"first"[..], 1));
        assert!(store.load("other").await.unwrap().is_none());
    }

    pub async fn versions_increment(store: Arc<dyn Store>) {
        store.create("k", b"v1", TTL).await.unwrap();
        assert!(store.compare_and_set("k", 1, b"v2", TTL).await.unwrap());
        assert!(store.compare_and_set("k", 2, b"v3", TTL).await.unwrap());
        let v = store.load("k").await.unwrap().expect("live");
        assert_eq!((v.value.as_slice(), v.version), (&b"v3"[..], 3));
        // Empty and binary values survive.
        assert!(store.compare_and_set("k", 3, &[], TTL).await.unwrap());
        assert_eq!(store.load("k").await.unwrap().unwrap().value, b"");
        assert!(store
            .compare_and_set("k", 4, &[0, 255, 0], TTL)
            .await
            .unwrap());
        assert_eq!(store.load("k").await.unwrap().unwrap().value, [0, 255, 0]);
    }

    pub async fn cas_loser_gets_false(store: Arc<dyn Store>) {
        store.create("k", b"v1", TTL).await.unwrap();
        assert!(store.compare_and_set("k", 1, b"winner", TTL).await.unwrap());
        assert!(!store.compare_and_set("k", 1, b"loser", TTL).await.unwrap());
        assert!(!store.compare_and_set("k", 7, b"future", TTL).await.unwrap());
        let v = store.load("k").await.unwrap().unwrap();
        assert_eq!((v.value.as_slice(), v.version), (&b"winner"[..], 2));
    }

    pub async fn cas_on_missing_key_is_false(store: Arc<dyn Store>) {
        assert!(!store.compare_and_set("nope", 1, b"v", TTL).await.unwrap());
        assert!(!store.compare_and_set("nope", 0, b"v", TTL).await.unwrap());
        assert!(
            store.load("nope").await.unwrap().is_none(),
            "CAS must not create"
        );
    }

    pub async fn take_is_single_use(store: Arc<dyn Store>) {
        store.create("k", b"secret", TTL).await.unwrap();
        store
            .compare_and_set("k", 1, b"secret2", TTL)
            .await
            .unwrap();
        let takers = (0..100).map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.take("k").await })
        });
        let mut got = Vec::new();
        for taker in takers.collect::<Vec<_>>() {
            if let Some(v) = taker.await.unwrap().unwrap() {
                got.push(v);
            }
        }
        assert_eq!(got.len(), 1, "exactly one taker wins");
        assert_eq!(
            (got[0].value.as_slice(), got[0].version),
            (&b"secret2"[..], 2)
        );
        assert!(store.load("k").await.unwrap().is_none());
        assert!(store.take("k").await.unwrap().is_none());
    }

    pub async fn concurrent_cas_has_one_winner(store: Arc<dyn Store>) {
        store.create("k", b"v1", TTL).await.unwrap();
        let writers = (0..100u32).map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let mine = i.to_be_bytes();
                (i, store.compare_and_set("k", 1, &mine, TTL).await)
            })
        });
        let mut winners = Vec::new();
        for writer in writers.collect::<Vec<_>>() {
            let (i, won) = writer.await.unwrap();
            if won.unwrap() {
                winners.push(i);
            }
        }
        assert_eq!(winners.len(), 1, "exactly one CAS from version 1 wins");
        let v = store.load("k").await.unwrap().unwrap();
        assert_eq!(v.version, 2);
        assert_eq!(v.value, winners[0].to_be_bytes());
    }

    pub async fn concurrent_create_has_one_winner(store: Arc<dyn Store>) {
        let creators = (0..100u32).map(|i| {
            let store = store.clone();
            tokio::spawn(async move { store.create("k", &i.to_be_bytes(), TTL).await })
        });
        let mut wins = 0;
        for creator in creators.collect::<Vec<_>>() {
            if creator.await.unwrap().unwrap() {
                wins += 1;
            }
        }
        assert_eq!(wins, 1);
        assert_eq!(store.load("k").await.unwrap().unwrap().version, 1);
    }

    pub async fn delete_is_idempotent(store: Arc<dyn Store>) {
        store.delete("k").await.unwrap();
        store.create("k", b"v", TTL).await.unwrap();
        store.compare_and_set("k", 1, b"v2", TTL).await.unwrap();
        store.delete("k").await.unwrap();
        assert!(store.load("k").await.unwrap().is_none());
        store.delete("k").await.unwrap();
        // A recreated key starts again at version 1.
        assert!(store.create("k", b"again", TTL).await.unwrap());
        assert_eq!(store.load("k").await.unwrap().unwrap().version, 1);
    }

    /// The users of a store (verified sessions, rate limits) work the same on every backend.
    pub async fn sessions_and_rate_limits_work_on_top(store: Arc<dyn Store>) {
        use glide_core::clock::SystemClock;
        use glide_core::ratelimit::{RateLimit, RateLimiter};
        use glide_core::session::{SessionConfig, SessionManager};
        use glide_core::{PhoneNumber, Strategy, UseCase, VerifiedPhone};

        let sessions = SessionManager::new(
            store.clone(),
            Arc::new(SystemClock),
            SessionConfig::default(),
        );
        let number = PhoneNumber::parse("+15555550100").unwrap();
        let phone = VerifiedPhone::new(
            number.clone(),
            UseCase::GetPhoneNumber,
            Strategy::Desktop,
            time::OffsetDateTime::now_utc(),
        );
        let a = sessions.create(phone.clone()).await.unwrap();
        let b = sessions.create(phone.clone()).await.unwrap();
        assert_ne!(a, b);
        assert_eq!(sessions.load(a.as_str()).await.unwrap().unwrap(), phone);
        sessions.destroy(a.as_str()).await.unwrap();
        assert!(sessions.load(a.as_str()).await.unwrap().is_none());
        assert_eq!(sessions.revoke_all(&number).await.unwrap(), 1);
        assert!(sessions.load(b.as_str()).await.unwrap().is_none());

        // Two limiters on one store (two app instances) share their counts.
        let one = RateLimiter::new(store.clone(), Arc::new(SystemClock));
        let two = RateLimiter::new(store.clone(), Arc::new(SystemClock));
        let limit = RateLimit::new(2, Duration::from_secs(3600));
        one.check_phone("prepare", &number, limit).await.unwrap();
        two.check_phone("prepare", &number, limit).await.unwrap();
        let err = one
            .check_phone("prepare", &number, limit)
            .await
            .unwrap_err();
        assert_eq!(err.http_status(), 429);
        assert!(err.retry_after().is_some());
    }

    /// The sessions of a number (list by handle, revoke one, others, all) on every backend;
    /// two instances revoking one handle at once: exactly one wins.
    pub async fn sessions_of_a_number(store: Arc<dyn Store>) {
        use glide_core::clock::SystemClock;
        use glide_core::session::{SessionClient, SessionConfig, SessionManager};
        use glide_core::{PhoneNumber, Strategy, UseCase, VerifiedPhone};

        let manager = || {
            SessionManager::new(
                store.clone(),
                Arc::new(SystemClock),
                SessionConfig::default(),
            )
        };
        let (one, two) = (manager(), manager());
        let number = PhoneNumber::parse("+15555550123").unwrap();
        let other = PhoneNumber::parse("+15555550124").unwrap();
        let phone = |n: &PhoneNumber| {
            VerifiedPhone::new(
                n.clone(),
                UseCase::VerifyPhoneNumber,
                Strategy::Ts43,
                time::OffsetDateTime::now_utc(),
            )
        };
        let client = SessionClient::new(
            Some(
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) Version/17.4 Safari/604.1",
            ),
            "2001:db8:1:2:3:4:5:6".parse().ok(),
        );
        let a = one.create_for(phone(&number), client).await.unwrap();
        let b = two.create(phone(&number)).await.unwrap();
        let c = one.create(phone(&number)).await.unwrap();
        let foreign = two.create(phone(&other)).await.unwrap();

        let listed = two.list(&number, Some(c.as_str())).await.unwrap();
        let handles: Vec<_> = listed.iter().map(|s| s.handle.clone()).collect();
        assert_eq!(handles, [a.handle(), b.handle(), c.handle()]);
        assert_eq!(
            listed.iter().map(|s| s.current).collect::<Vec<_>>(),
            [false, false, true]
        );
        assert_eq!(listed[0].user_agent.as_deref(), Some("Safari on iOS"));
        assert_eq!(listed[0].ip.as_deref(), Some("2001:db8:1:2::/64"));

        assert!(!one.revoke(&number, &foreign.handle()).await.unwrap());
        let handle = a.handle();
        let (x, y) = tokio::join!(one.revoke(&number, &handle), two.revoke(&number, &handle));
        assert_eq!(
            u8::from(x.unwrap()) + u8::from(y.unwrap()),
            1,
            "one revocation wins"
        );
        assert!(one.load(a.as_str()).await.unwrap().is_none());
        assert_eq!(two.revoke_others(&number, c.as_str()).await.unwrap(), 1);
        assert!(one.load(b.as_str()).await.unwrap().is_none());
        assert!(one.load(c.as_str()).await.unwrap().is_some());
        assert_eq!(one.revoke_all(&number).await.unwrap(), 1);
        assert!(two.list(&number, None).await.unwrap().is_empty());
        assert!(one.load(foreign.as_str()).await.unwrap().is_some());
        assert_eq!(one.revoke_all(&other).await.unwrap(), 1);
    }

    /// Runs `n` concurrent increments of one counter, all released at once; returns the
    /// counts of those that passed, sorted.
    async fn race_increments(store: &Arc<dyn Store>, n: usize, max: u64) -> Vec<u64> {
        let start = Arc::new(tokio::sync::Barrier::new(n));
        let racers: Vec<_> = (0..n)
            .map(|_| {
                let (store, start) = (store.clone(), start.clone());
                tokio::spawn(async move {
                    start.wait().await;
                    store.increment("counter", max, TTL).await
                })
            })
            .collect();
        let mut passed = Vec::new();
        for racer in racers {
            if let Some(count) = racer.await.unwrap().unwrap() {
                passed.push(count);
            }
        }
        passed.sort_unstable();
        passed
    }

    pub async fn counter_lets_exactly_max_through(store: Arc<dyn Store>) {
        let passed = race_increments(&store, 500, 100).await;
        assert_eq!(
            passed,
            (1..=100).collect::<Vec<_>>(),
            "exactly 100 of 500 pass"
        );
        assert_eq!(store.increment("counter", 100, TTL).await.unwrap(), None);
        // A higher limit on the same counter continues from where it stands.
        assert_eq!(
            store.increment("counter", 101, TTL).await.unwrap(),
            Some(101)
        );
        assert_eq!(store.increment("other", 100, TTL).await.unwrap(), Some(1));
        assert_eq!(store.increment("zero", 0, TTL).await.unwrap(), None);
    }

    pub async fn counter_out_of_reach_refuses_none(store: Arc<dyn Store>) {
        let passed = race_increments(&store, 500, u64::MAX).await;
        assert_eq!(
            passed,
            (1..=500).collect::<Vec<_>>(),
            "none refused, none lost"
        );
    }

    pub async fn counter_window_expires_from_the_first_increment(store: Arc<dyn Store>) {
        let window = Duration::from_millis(1000);
        assert_eq!(store.increment("w", 2, window).await.unwrap(), Some(1));
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_eq!(store.increment("w", 2, window).await.unwrap(), Some(2));
        assert_eq!(store.increment("w", 2, window).await.unwrap(), None);
        // 1.3 s after the first increment (0.7 s after the second): a new window.
        tokio::time::sleep(Duration::from_millis(700)).await;
        assert_eq!(store.increment("w", 2, window).await.unwrap(), Some(1));
    }

    /// 500 concurrent requests from one address, limit 100: exactly 100 pass, on every
    /// backend; with the limit out of reach none is refused (no spurious 429 behind a NAT).
    pub async fn rate_limit_under_500_concurrent_requests(store: Arc<dyn Store>) {
        use glide_core::clock::SystemClock;
        use glide_core::ratelimit::{RateLimit, RateLimiter};

        let limiter = RateLimiter::new(store, Arc::new(SystemClock));
        let address: std::net::IpAddr = "203.0.113.7".parse().unwrap();
        for (scope, max, expected) in [("tight", 100, 100), ("open", u32::MAX, 500)] {
            let limit = RateLimit::new(max, Duration::from_secs(3600));
            let start = Arc::new(tokio::sync::Barrier::new(500));
            let requests: Vec<_> = (0..500)
                .map(|_| {
                    let (limiter, start) = (limiter.clone(), start.clone());
                    tokio::spawn(async move {
                        start.wait().await;
                        limiter.check_ip(scope, address, limit).await
                    })
                })
                .collect();
            let mut passed = 0;
            for request in requests {
                match request.await.unwrap() {
                    Ok(()) => passed += 1,
                    Err(err) => assert_eq!(err.http_status(), 429, "{err}"),
                }
            }
            assert_eq!(passed, expected, "{scope}");
        }
    }

    pub async fn ttl_expires_in_real_time(store: Arc<dyn Store>) {
        store
            .create("short", b"v", Duration::from_millis(150))
            .await
            .unwrap();
        store.create("long", b"v", TTL).await.unwrap();
        assert!(store.load("short").await.unwrap().is_some());
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert!(store.load("short").await.unwrap().is_none());
        assert!(store.take("short").await.unwrap().is_none());
        assert!(!store.compare_and_set("short", 1, b"x", TTL).await.unwrap());
        assert!(store.create("short", b"again", TTL).await.unwrap());
        assert!(store.load("long").await.unwrap().is_some());
        // A CAS sets the new TTL.
        assert!(store
            .compare_and_set("long", 1, b"v2", Duration::from_millis(150))
            .await
            .unwrap());
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert!(store.load("long").await.unwrap().is_none());
    }

    /// A per-number session index that cannot be decoded is an error for everything that reads
    /// it (a 500, never an empty list): a revocation does not report "0 ended" over live
    /// sessions, a listing is not partial, and a login does not rewrite it empty (which would
    /// leave every live session out of reach).
    pub async fn a_damaged_session_index_is_an_error(store: Arc<dyn Store>) {
        use glide_core::clock::SystemClock;
        use glide_core::session::{SessionConfig, SessionManager};
        use glide_core::{PhoneNumber, Strategy, UseCase, VerifiedPhone};
        use sha2::{Digest as _, Sha256};

        let manager = SessionManager::new(
            store.clone(),
            Arc::new(SystemClock),
            SessionConfig::default(),
        );
        let number = PhoneNumber::parse("+15555550125").unwrap();
        let phone = VerifiedPhone::new(
            number.clone(),
            UseCase::VerifyPhoneNumber,
            Strategy::Ts43,
            time::OffsetDateTime::now_utc(),
        );
        let live = manager.create(phone.clone()).await.unwrap();
        let key = format!("phone:{}", hex::encode(Sha256::digest(number.as_str())));
        let index = store.load(&key).await.unwrap().expect("the number's index");
        assert!(store
            .compare_and_set(&key, index.version, b"{\"sessions\": 7", TTL)
            .await
            .unwrap());

        let revoked = manager.revoke_all(&number).await.unwrap_err();
        assert_eq!(
            (revoked.http_status(), revoked.code()),
            (500, "INTERNAL_SERVER_ERROR")
        );
        assert_eq!(
            manager.list(&number, None).await.unwrap_err().http_status(),
            500
        );
        assert_eq!(
            manager
                .revoke(&number, &live.handle())
                .await
                .unwrap_err()
                .http_status(),
            500
        );
        assert_eq!(manager.create(phone).await.unwrap_err().http_status(), 500);
        // Nothing was rewritten: the damaged index is still there, and so is the session.
        assert_eq!(
            store.load(&key).await.unwrap().unwrap().value,
            b"{\"sessions\": 7"
        );
        assert!(manager.load(live.as_str()).await.unwrap().is_some());
    }

    pub async fn keys_are_independent(store: Arc<dyn Store>) {
        store.create("a", b"1", TTL).await.unwrap();
        store.create("b", b"2", TTL).await.unwrap();
        store.take("a").await.unwrap();
        assert_eq!(store.load("b").await.unwrap().unwrap().value, b"2");
    }
}

macro_rules! conformance {
    ($backend:ident: $($case:ident),* $(,)?) => {
        mod $backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let Some(harness) = super::$backend().await else { return };
                    super::suite::$case(harness.store.clone()).await;
                }
            )*
        }
    };
}

conformance!(memory: create_conflict, versions_increment, cas_loser_gets_false,
    cas_on_missing_key_is_false, take_is_single_use, concurrent_cas_has_one_winner,
    concurrent_create_has_one_winner, delete_is_idempotent, keys_are_independent,
    sessions_and_rate_limits_work_on_top, sessions_of_a_number, counter_lets_exactly_max_through,
    counter_out_of_reach_refuses_none, counter_window_expires_from_the_first_increment,
    rate_limit_under_500_concurrent_requests, ttl_expires_in_real_time,
    a_damaged_session_index_is_an_error);
conformance!(redis: create_conflict, versions_increment, cas_loser_gets_false,
    cas_on_missing_key_is_false, take_is_single_use, concurrent_cas_has_one_winner,
    concurrent_create_has_one_winner, delete_is_idempotent, keys_are_independent,
    sessions_and_rate_limits_work_on_top, sessions_of_a_number, counter_lets_exactly_max_through,
    counter_out_of_reach_refuses_none, counter_window_expires_from_the_first_increment,
    rate_limit_under_500_concurrent_requests, ttl_expires_in_real_time,
    a_damaged_session_index_is_an_error);
conformance!(cluster: create_conflict, versions_increment, cas_loser_gets_false,
    cas_on_missing_key_is_false, take_is_single_use, concurrent_cas_has_one_winner,
    concurrent_create_has_one_winner, delete_is_idempotent, keys_are_independent,
    sessions_and_rate_limits_work_on_top, sessions_of_a_number, counter_lets_exactly_max_through,
    counter_out_of_reach_refuses_none, counter_window_expires_from_the_first_increment,
    rate_limit_under_500_concurrent_requests, ttl_expires_in_real_time,
    a_damaged_session_index_is_an_error);

// ---- TTL -------------------------------------------------------------------------------------

#[tokio::test]
async fn memory_ttl_boundary_is_exact() {
    let clock = ManualClock::new();
    let store = MemoryStore::new().with_clock(Arc::new(clock.clone()));
    let ttl = Duration::from_secs(10);
    store.create("k", b"v", ttl).await.unwrap();
    clock.advance(time::Duration::milliseconds(9_999));
    assert!(
        store.load("k").await.unwrap().is_some(),
        "alive at ttl - 1 ms"
    );
    clock.advance(time::Duration::milliseconds(1));
    assert!(store.load("k").await.unwrap().is_none(), "gone at ttl");
    assert!(store.take("k").await.unwrap().is_none());
    assert!(!store.compare_and_set("k", 1, b"x", ttl).await.unwrap());
    assert!(
        store.create("k", b"new", ttl).await.unwrap(),
        "an expired key can be created again"
    );
    assert_eq!(store.load("k").await.unwrap().unwrap().version, 1);
}

#[tokio::test]
async fn memory_cas_renews_the_ttl() {
    let clock = ManualClock::new();
    let store = MemoryStore::new().with_clock(Arc::new(clock.clone()));
    let ttl = Duration::from_secs(10);
    store.create("k", b"v", ttl).await.unwrap();
    clock.advance(time::Duration::seconds(6));
    assert!(store.compare_and_set("k", 1, b"v2", ttl).await.unwrap());
    clock.advance(time::Duration::milliseconds(9_999));
    assert!(store.load("k").await.unwrap().is_some());
    clock.advance(time::Duration::milliseconds(1));
    assert!(store.load("k").await.unwrap().is_none());
}

#[tokio::test]
async fn memory_capacity_is_bounded_and_live_entries_are_kept() {
    let store = MemoryStore::with_capacity(3);
    for key in ["a", "b", "c"] {
        assert!(store.create(key, b"v", TTL).await.unwrap());
    }
    assert!(matches!(
        store.create("d", b"v", TTL).await,
        Err(StoreError::Full)
    ));
    for key in ["a", "b", "c"] {
        assert!(
            store.load(key).await.unwrap().is_some(),
            "{key} not evicted"
        );
    }
    store.delete("a").await.unwrap();
    assert!(store.create("d", b"v", TTL).await.unwrap());
}

// ---- Redis specifics -------------------------------------------------------------------------

#[tokio::test]
async fn redis_keys_carry_the_prefix() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let a = RedisStore::connect(&server.url()).await.unwrap();
    let b = RedisStore::connect(&server.url())
        .await
        .unwrap()
        .with_prefix("other:");
    assert_eq!(a.prefix(), "glide:v1:");
    a.create("k", b"a", TTL).await.unwrap();
    assert!(
        b.load("k").await.unwrap().is_none(),
        "prefixes separate key spaces"
    );
    assert!(b.create("k", b"b", TTL).await.unwrap());
}

#[tokio::test]
async fn redis_connect_to_nothing_fails_quickly() {
    let Some(mut server) = RedisServer::start() else {
        return;
    };
    let url = server.url();
    server.stop();
    let result = tokio::time::timeout(
        Duration::from_secs(10),
        RedisStore::connect_with_timeouts(&url, RedisTimeouts::both(Duration::from_millis(500))),
    )
    .await
    .expect("connect must give up by itself, not hang");
    assert!(result.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_outage_fails_then_recovers_without_rebuilding() {
    let Some(mut server) = RedisServer::start() else {
        return;
    };
    let store: Arc<dyn Store> = Arc::new(
        RedisStore::connect_with_timeouts(
            &server.url(),
            RedisTimeouts::both(Duration::from_millis(500)),
        )
        .await
        .unwrap(),
    );
    store.create("before", b"v", TTL).await.unwrap();

    // Operations in flight while Redis dies: each ends (Ok before the kill, Err after), none hangs.
    let in_flight: Vec<_> = (0..50)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(i)).await;
                store.create(&format!("k{i}"), b"v", TTL).await
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(10)).await;
    server.stop();
    for op in in_flight {
        let _ = tokio::time::timeout(Duration::from_secs(10), op)
            .await
            .expect("no operation hangs through an outage");
    }

    // Redis is down: every operation is a StoreError, quickly.
    let down = async {
        assert!(store.load("before").await.is_err());
        assert!(store.create("x", b"v", TTL).await.is_err());
        assert!(store.compare_and_set("before", 1, b"v", TTL).await.is_err());
        assert!(store.take("before").await.is_err());
        assert!(store.delete("before").await.is_err());
    };
    tokio::time::timeout(Duration::from_secs(15), down)
        .await
        .expect("store errors come from the timeouts, not a hang");

    // Back up (empty): the same store object works again.
    server.restart();
    let mut recovered = false;
    for _ in 0..100 {
        if store.load("anything").await.is_ok() {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(recovered, "RedisStore reconnects by itself");
    assert!(store.create("after", b"v", TTL).await.unwrap());
    assert!(store.compare_and_set("after", 1, b"v2", TTL).await.unwrap());
    assert_eq!(store.take("after").await.unwrap().unwrap().version, 2);
}

// ---- Redis Cluster specifics -----------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_keys_are_hash_tagged_by_the_whole_key() {
    let Some(cluster) = RedisCluster::shared() else {
        return;
    };
    let prefix = unique_prefix();
    let store = RedisStore::connect_cluster(&cluster.urls())
        .await
        .unwrap()
        .with_prefix(prefix.clone());
    store.create("flow:abc", b"v", TTL).await.unwrap();
    store
        .increment("ratelimit:prepare:ip:1:ff", 5, TTL)
        .await
        .unwrap();
    let mut ours: Vec<String> = cluster
        .keys()
        .into_iter()
        .filter(|key| key.starts_with(&prefix))
        .collect();
    ours.sort();
    assert_eq!(
        ours,
        [
            format!("{prefix}{{flow:abc}}"),
            format!("{prefix}{{ratelimit:prepare:ip:1:ff}}"),
        ]
    );
    // Keys spread over the shards: a hundred flows do not all land on one master.
    for i in 0..100 {
        store
            .create(&format!("flow:spread-{i}"), b"v", TTL)
            .await
            .unwrap();
    }
    let per_master = cluster.keys_per_master(&prefix);
    assert_eq!(per_master.iter().sum::<usize>(), 102, "{per_master:?}");
    assert!(
        per_master.iter().filter(|n| **n > 0).count() >= 2,
        "{per_master:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_from_any_single_seed_and_from_the_environment_form() {
    let Some(cluster) = RedisCluster::shared() else {
        return;
    };
    // One seed is enough: the client discovers the others.
    let one = RedisStore::connect_cluster(&[cluster.urls()[3].clone()])
        .await
        .unwrap()
        .with_prefix(unique_prefix());
    // The environment's form (GLIDE_REDIS_CLUSTER_URLS wins over GLIDE_REDIS_URL).
    let target = glide_core::store::RedisTarget::from_vars(
        Some("redis://127.0.0.1:1/"),
        Some(&cluster.env_value()),
    )
    .unwrap();
    assert!(target.is_cluster());
    let other = RedisStore::connect_target(&target)
        .await
        .unwrap()
        .with_prefix(one.prefix().to_owned());
    for i in 0..20 {
        assert!(one.create(&format!("k{i}"), b"v", TTL).await.unwrap());
        assert_eq!(
            other.load(&format!("k{i}")).await.unwrap().unwrap().value,
            b"v"
        );
    }
}

#[tokio::test]
async fn cluster_connect_to_nothing_fails_quickly() {
    let Some(mut server) = RedisServer::start() else {
        return;
    };
    let url = server.url();
    server.stop();
    let result = tokio::time::timeout(
        Duration::from_secs(10),
        RedisStore::connect_cluster_with_timeouts(
            &[url],
            RedisTimeouts::both(Duration::from_millis(500)),
        ),
    )
    .await
    .expect("connect must give up by itself, not hang");
    assert!(result.is_err());
    let none: [&str; 0] = [];
    assert!(RedisStore::connect_cluster(&none).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_master_loss_fails_its_slots_fast_and_recovers_after_failover() {
    // A cluster of this test alone: one of its masters is killed.
    let Some(mut cluster) = RedisCluster::start() else {
        return;
    };
    let store: Arc<dyn Store> = Arc::new(
        RedisStore::connect_cluster_with_timeouts(
            &cluster.urls(),
            RedisTimeouts::both(Duration::from_millis(500)),
        )
        .await
        .unwrap(),
    );
    for i in 0..30 {
        store.create(&format!("k{i}"), b"v", TTL).await.unwrap();
    }
    let master = cluster
        .master_with_key("glide:v1:{k0}")
        .expect("k0 is held");
    let survivor = (1..30)
        .map(|i| format!("k{i}"))
        .find(|k| cluster.master_with_key(&format!("glide:v1:{{{k}}}")) != Some(master))
        .expect("the keys spread over several masters");
    tokio::time::sleep(Duration::from_millis(200)).await; // let the replicas catch up

    cluster.kill_node(master);
    // The lost master's slots fail quickly (a StoreError, never a hang); the others still work.
    let lost = tokio::time::timeout(Duration::from_secs(10), store.load("k0"))
        .await
        .expect("no hang on a lost master");
    assert!(lost.is_err(), "k0's master is gone: {lost:?}");
    assert!(store.load(&survivor).await.unwrap().is_some());

    // The replica takes over: the same store object works on those slots again.
    let lost_at = std::time::Instant::now();
    let mut recovered = None;
    while lost_at.elapsed() < Duration::from_secs(30) {
        if let Ok(value) = store.load("k0").await {
            recovered = Some(value);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let value = recovered.expect("RedisStore recovers after the failover");
    eprintln!(
        "cluster store: k0's slots answered again {:?} after the kill; the value {}",
        lost_at.elapsed(),
        if value.is_some() {
            "survived (replicated before the kill)"
        } else {
            "was lost (asynchronous replication)"
        }
    );
    // Every slot answers again (the client may still be refreshing its map of the other slots'
    // owners): probe the keys of the writes below with reads first, within the same window, so a
    // write is made once and its answer asserted exactly.
    while lost_at.elapsed() < Duration::from_secs(30) {
        if store.load("after").await.is_ok() && store.load("n").await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(store.create("after", b"v", TTL).await.unwrap());
    assert_eq!(store.increment("n", 10, TTL).await.unwrap(), Some(1));
}
