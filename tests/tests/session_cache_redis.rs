//! The in-memory cache of verified sessions on two app instances sharing one real Redis (a node,
//! and the three-master Redis Cluster): instance B serves a session from memory, never from a
//! store read, until its end is announced; a logout on A reaches B within 100 ms (p99 over
//! 1,000 trials); and with B's subscription killed, B never serves a session ended meanwhile.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use glide_core::clock::SystemClock;
use glide_core::events::{FlowEvents, RedisEvents};
use glide_core::session::{SessionConfig, SessionManager};
use glide_core::store::{RedisStore, RedisTarget};
use glide_core::{PhoneNumber, Strategy, UseCase, VerifiedPhone};
use glide_tests::redis_server::{RedisCluster, RedisServer};

/// A key and channel prefix no other test of this process uses (cluster tests share one
/// cluster).
fn unique_prefix(name: &str) -> (String, String) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::SeqCst);
    (format!("{name}{n}:"), format!("{name}{n}:events:"))
}

/// One app instance: its own store connection and its own subscription.
struct Instance {
    sessions: SessionManager,
    events: RedisEvents,
}

async fn instance(target: &RedisTarget, prefix: &(String, String)) -> Instance {
    let (store, events) = match target {
        RedisTarget::Node(url) => (
            RedisStore::connect(url).await.unwrap(),
            RedisEvents::connect_with_prefix(url, &prefix.1)
                .await
                .unwrap(),
        ),
        RedisTarget::Cluster(seeds) => (
            RedisStore::connect_cluster(seeds).await.unwrap(),
            RedisEvents::connect_cluster_with_prefix(seeds, &prefix.1)
                .await
                .unwrap(),
        ),
        _ => unreachable!("no other target"),
    };
    let events_handle: Arc<dyn FlowEvents> = Arc::new(events.clone());
    let sessions = SessionManager::new(
        Arc::new(store.with_prefix(prefix.0.clone())),
        Arc::new(SystemClock),
        SessionConfig::default(),
    )
    .with_events(events_handle);
    Instance { sessions, events }
}

fn phone() -> VerifiedPhone {
    VerifiedPhone::new(
        PhoneNumber::parse("+15555550100").unwrap(),
        UseCase::VerifyPhoneNumber,
        Strategy::Ts43,
        time::OffsetDateTime::now_utc(),
    )
}

/// `redis-cli -p <port> <args…>`, its output.
fn redis_cli(port: u16, args: &[&str]) -> String {
    let output = std::process::Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .output()
        .expect("redis-cli runs");
    assert!(output.status.success(), "redis-cli {args:?}: {output:?}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `GET`s the node has answered so far (`INFO commandstats`).
fn gets_served(port: u16) -> u64 {
    redis_cli(port, &["INFO", "commandstats"])
        .lines()
        .find_map(|line| line.strip_prefix("cmdstat_get:calls="))
        .and_then(|rest| rest.split(',').next())
        .map_or(0, |calls| calls.trim().parse().unwrap())
}

/// `CLIENT KILL TYPE pubsub` on every node: every instance's subscription drops.
fn kill_subscriptions(ports: &[u16]) {
    for &port in ports {
        redis_cli(port, &["CLIENT", "KILL", "TYPE", "pubsub"]);
    }
}

/// Waits until `instance` refuses session `id` (at most a second).
async fn until_refused(instance: &Instance, id: &str) {
    let deadline = Instant::now() + Duration::from_secs(1);
    while instance.sessions.load(id).await.unwrap().is_some() {
        assert!(
            Instant::now() < deadline,
            "B still serves the ended session"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

async fn until_delivering(events: &RedisEvents) {
    let endings = events.session_endings().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !endings.is_delivering() {
        assert!(
            Instant::now() < deadline,
            "the subscription never came back"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cached_session_is_served_without_a_store_read() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let target = RedisTarget::Node(redis.url());
    let prefix = unique_prefix("cache-hit");
    let (a, b) = (
        instance(&target, &prefix).await,
        instance(&target, &prefix).await,
    );
    let verified = phone();
    let id = a.sessions.create(verified.clone()).await.unwrap();
    assert_eq!(b.sessions.load(id.as_str()).await.unwrap(), Some(verified));
    let before = gets_served(redis.port());
    for _ in 0..100 {
        assert!(b.sessions.load(id.as_str()).await.unwrap().is_some());
    }
    // `gets_served` itself sends no GET.
    assert_eq!(
        gets_served(redis.port()),
        before,
        "100 lookups of a cached session read the store"
    );
    a.sessions.destroy(id.as_str()).await.unwrap();
    until_refused(&b, id.as_str()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_on_a_reaches_b_within_100_ms_p99() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    revocation_latency(&RedisTarget::Node(redis.url())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_a_logout_on_a_reaches_b_within_100_ms_p99() {
    let Some(cluster) = RedisCluster::shared() else {
        return;
    };
    revocation_latency(&RedisTarget::Cluster(cluster.urls())).await;
}

/// 1,000 trials: a session cached on B, a logout on A, then B polled every 0.5 ms until it
/// refuses the cookie.
async fn revocation_latency(target: &RedisTarget) {
    let prefix = unique_prefix("latency");
    let (a, b) = (
        instance(target, &prefix).await,
        instance(target, &prefix).await,
    );
    let mut latencies = Vec::with_capacity(1000);
    for _ in 0..1000 {
        let id = a.sessions.create(phone()).await.unwrap();
        assert!(b.sessions.load(id.as_str()).await.unwrap().is_some());
        assert!(b.sessions.load(id.as_str()).await.unwrap().is_some());
        let logout = Instant::now();
        a.sessions.destroy(id.as_str()).await.unwrap();
        loop {
            if b.sessions.load(id.as_str()).await.unwrap().is_none() {
                break;
            }
            assert!(
                logout.elapsed() < Duration::from_secs(5),
                "B served an ended session for 5 s"
            );
            tokio::time::sleep(Duration::from_micros(500)).await;
        }
        latencies.push(logout.elapsed());
    }
    latencies.sort();
    let p99 = latencies[latencies.len() * 99 / 100];
    eprintln!(
        "revocation latency over {} trials: p50 {:?}, p99 {:?}, max {:?}",
        latencies.len(),
        latencies[latencies.len() / 2],
        p99,
        latencies[latencies.len() - 1]
    );
    assert!(p99 < Duration::from_millis(100), "p99 {p99:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_its_subscription_killed_b_never_serves_an_ended_session() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    subscription_killed(&RedisTarget::Node(redis.url()), &[redis.port()]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_with_its_subscription_killed_b_never_serves_an_ended_session() {
    let Some(cluster) = RedisCluster::shared() else {
        return;
    };
    subscription_killed(&RedisTarget::Cluster(cluster.urls()), cluster.ports()).await;
}

/// 20 trials: a session cached on B, every subscription killed, the session ended on A (its
/// announcement reaches nobody), then B asked at once: it must refuse the cookie.
async fn subscription_killed(target: &RedisTarget, nodes: &[u16]) {
    let prefix = unique_prefix("killed");
    let (a, b) = (
        instance(target, &prefix).await,
        instance(target, &prefix).await,
    );
    for trial in 0..20 {
        until_delivering(&b.events).await;
        let id = a.sessions.create(phone()).await.unwrap();
        assert!(b.sessions.load(id.as_str()).await.unwrap().is_some());
        kill_subscriptions(nodes);
        a.sessions.destroy(id.as_str()).await.unwrap();
        assert_eq!(
            b.sessions.load(id.as_str()).await.unwrap(),
            None,
            "trial {trial}: B served a session ended while its subscription was down"
        );
    }
    // And once the subscription is back, B caches again and hears ends again.
    until_delivering(&b.events).await;
    let id = a.sessions.create(phone()).await.unwrap();
    assert!(b.sessions.load(id.as_str()).await.unwrap().is_some());
    a.sessions.destroy(id.as_str()).await.unwrap();
    until_refused(&b, id.as_str()).await;
}
