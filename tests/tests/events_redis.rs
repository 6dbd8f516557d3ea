//! Flow-finished notifications across two app instances sharing one real Redis: one node
//! (pub/sub), and a three-master, three-replica Redis Cluster (sharded pub/sub).

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use glide_core::events::{FlowEvents, RedisEvents};
use glide_core::store::RedisTarget;
use glide_tests::redis_server::{RedisCluster, RedisServer};

/// Long enough never to be reached when things work; a wake-up returns at once.
const PATIENCE: Duration = Duration::from_secs(10);

/// A channel prefix no other test of this process uses (cluster tests share one cluster).
fn unique_prefix(name: &str) -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!("{name}{}:events:", NEXT.fetch_add(1, Ordering::SeqCst))
}

/// An app instance's events on `target` under `prefix`.
async fn connect(target: &RedisTarget, prefix: &str) -> RedisEvents {
    match target {
        RedisTarget::Node(url) => RedisEvents::connect_with_prefix(url, prefix).await,
        RedisTarget::Cluster(seeds) => {
            RedisEvents::connect_cluster_with_prefix(seeds, prefix).await
        }
        _ => unreachable!("no other target"),
    }
    .unwrap()
}

/// The shared test cluster as a target, or `None` (skipped).
fn cluster_target() -> Option<RedisTarget> {
    RedisCluster::shared().map(|cluster| RedisTarget::Cluster(cluster.urls()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wait_on_instance_a_is_woken_by_a_publish_on_instance_b() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    woken_across_instances(&RedisTarget::Node(redis.url())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_a_wait_on_instance_a_is_woken_by_a_publish_on_instance_b() {
    let Some(target) = cluster_target() else {
        return;
    };
    woken_across_instances(&target).await;
}

async fn woken_across_instances(target: &RedisTarget) {
    let prefix = unique_prefix("across");
    let a = connect(target, &prefix).await;
    let b = connect(target, &prefix).await;
    assert_eq!(a.is_cluster(), target.is_cluster());

    let mut on_a = a.subscribe("flow-1").await.unwrap();
    let mut other_topic = a.subscribe("flow-2").await.unwrap();
    let publisher = b.clone();
    let phone = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        publisher.publish("flow-1").await.unwrap();
    });
    assert!(on_a.wait(PATIENCE).await, "woken across instances");
    phone.await.unwrap();
    assert!(
        !other_topic.wait(Duration::from_millis(200)).await,
        "another topic is not woken"
    );

    // And the other way round, with the publish before `wait` (but after `subscribe`).
    let mut on_b = b.subscribe("flow-3").await.unwrap();
    a.publish("flow-3").await.unwrap();
    assert!(on_b.wait(PATIENCE).await);

    // Many flows at once, each woken by its own publish from the other instance.
    let mut waiting = Vec::new();
    for i in 0..50 {
        waiting.push(a.subscribe(&format!("flow:many-{i}")).await.unwrap());
    }
    assert_eq!(
        a.waiting_topics(),
        50 + 2,
        "flow-1 and flow-2 are still waited on"
    );
    for i in 0..50 {
        b.publish(&format!("flow:many-{i}")).await.unwrap();
    }
    for sub in &mut waiting {
        assert!(sub.wait(PATIENCE).await);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channel_prefixes_separate_apps() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    prefixes_separate(&RedisTarget::Node(redis.url())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_channel_prefixes_separate_apps() {
    let Some(target) = cluster_target() else {
        return;
    };
    prefixes_separate(&target).await;
}

async fn prefixes_separate(target: &RedisTarget) {
    let (one, other) = (unique_prefix("app"), unique_prefix("app"));
    let app1 = connect(target, &one).await;
    let app2 = connect(target, &other).await;
    let mut sub = app2.subscribe("flow").await.unwrap();
    app1.publish("flow").await.unwrap();
    assert!(!sub.wait(Duration::from_millis(300)).await);
    let app2_peer = connect(target, &other).await;
    app2_peer.publish("flow").await.unwrap();
    assert!(sub.wait(PATIENCE).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_channels_are_subscribed_only_while_someone_waits() {
    let Some(cluster) = RedisCluster::shared() else {
        return;
    };
    let prefix = unique_prefix("shard");
    let events = RedisEvents::connect_cluster_with_prefix(&cluster.urls(), &prefix)
        .await
        .unwrap();
    let channel = format!("{prefix}{{flow:abc}}");
    // The one channel subscribed for as long as the connection lives: the ends of sessions.
    let endings = format!("{prefix}{{sessions-ended}}");
    assert!(cluster.shard_channels().contains(&endings));
    let ours = || -> Vec<String> {
        cluster
            .shard_channels()
            .into_iter()
            .filter(|c| c.starts_with(&prefix) && *c != endings)
            .collect()
    };
    assert!(ours().is_empty());
    let first = events.subscribe("flow:abc").await.unwrap();
    let second = events.subscribe("flow:abc").await.unwrap();
    assert_eq!(
        ours(),
        std::slice::from_ref(&channel),
        "one hash-tagged sharded channel"
    );
    drop(first);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(ours(), [channel], "still waited on");
    drop(second);
    let mut gone = false;
    for _ in 0..100 {
        if ours().is_empty() {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(gone, "unsubscribed once nobody waits");
    // Subscribing again after that works (no unsubscription cancels a newer subscription).
    let mut again = events.subscribe("flow:abc").await.unwrap();
    let peer = RedisEvents::connect_cluster_with_prefix(&cluster.urls(), &prefix)
        .await
        .unwrap();
    peer.publish("flow:abc").await.unwrap();
    assert!(again.wait(PATIENCE).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_subscribe_and_unsubscribe_races_never_lose_a_waiter() {
    let Some(target) = cluster_target() else {
        return;
    };
    let prefix = unique_prefix("race");
    let events = connect(&target, &prefix).await;
    let peer = connect(&target, &prefix).await;
    for round in 0..20 {
        // A waiter leaves while another arrives on the same topic: the arriving one must stay
        // subscribed whatever order the unsubscription and subscription take.
        let leaving = events.subscribe("flow:hot").await.unwrap();
        let arriving = {
            let events = events.clone();
            tokio::spawn(async move { events.subscribe("flow:hot").await })
        };
        drop(leaving);
        let mut arriving = arriving.await.unwrap().unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        peer.publish("flow:hot").await.unwrap();
        assert!(arriving.wait(PATIENCE).await, "round {round}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_fails_closed_wakes_waiters_and_recovers() {
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    let a = RedisEvents::connect(&redis.url()).await.unwrap();
    let b = RedisEvents::connect(&redis.url()).await.unwrap();
    let mut waiting = a.subscribe("flow").await.unwrap();

    redis.stop();
    // A waiter must not sleep through an outage: it is woken to re-read the store.
    assert!(
        waiting.wait(PATIENCE).await,
        "woken when the connection drops"
    );
    assert!(
        b.publish("flow").await.is_err(),
        "publish fails while Redis is down"
    );

    redis.restart();
    // The same instances work again once their connections are back.
    let mut recovered = false;
    for _ in 0..100 {
        if a.is_connected() && b.publish("ping").await.is_ok() {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(recovered, "RedisEvents reconnects by itself");
    let mut again = a.subscribe("flow-after").await.unwrap();
    b.publish("flow-after").await.unwrap();
    assert!(again.wait(PATIENCE).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_master_loss_wakes_waiters_and_recovers_after_failover() {
    // A cluster of this test alone: one of its masters is killed.
    let Some(mut cluster) = RedisCluster::start() else {
        return;
    };
    let a = RedisEvents::connect_cluster(&cluster.urls()).await.unwrap();
    let b = RedisEvents::connect_cluster(&cluster.urls()).await.unwrap();
    let mut waiting = a.subscribe("flow:x").await.unwrap();
    let master = cluster
        .node_with_shard_channel("glide:v1:events:{flow:x}")
        .expect("the channel is subscribed on its master");

    cluster.kill_node(master);
    // A waiter must not sleep through the loss: it is woken to re-read the store.
    assert!(
        waiting.wait(PATIENCE).await,
        "woken when the master's connection drops"
    );

    // The replica takes over; the same instances work again by themselves.
    let lost_at = std::time::Instant::now();
    let mut recovered = false;
    while lost_at.elapsed() < Duration::from_secs(30) {
        if a.is_connected() && b.publish("flow:x").await.is_ok() {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(recovered, "RedisEvents recovers after the failover");
    eprintln!(
        "cluster events: recovered {:?} after the master was killed",
        lost_at.elapsed()
    );
    let promoted = cluster
        .node_with_shard_channel("glide:v1:events:{flow:x}")
        .expect("re-subscribed on the promoted replica");
    assert_ne!(promoted, master);
    // The old waiter was subscribed again: drain the wake-ups so far, then a publish wakes it.
    while waiting.wait(Duration::from_millis(50)).await {}
    b.publish("flow:x").await.unwrap();
    assert!(
        waiting.wait(PATIENCE).await,
        "the old waiter hears new publishes"
    );
    let mut fresh = a.subscribe("flow:y").await.unwrap();
    b.publish("flow:y").await.unwrap();
    assert!(fresh.wait(PATIENCE).await);
}

#[tokio::test]
async fn cluster_connect_to_nothing_is_an_error() {
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    let url = redis.url();
    redis.stop();
    let result = tokio::time::timeout(
        Duration::from_secs(15),
        RedisEvents::connect_cluster(&[url]),
    )
    .await
    .expect("connect gives up by itself");
    assert!(result.is_err());
}

#[tokio::test]
async fn connect_to_nothing_is_an_error() {
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    let url = redis.url();
    redis.stop();
    let result = tokio::time::timeout(Duration::from_secs(15), RedisEvents::connect(&url))
        .await
        .expect("connect gives up by itself");
    assert!(result.is_err());
}
