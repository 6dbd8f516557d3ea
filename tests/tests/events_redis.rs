//! Flow-finished notifications across two app instances sharing one real Redis.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use glide_core::events::{FlowEvents, RedisEvents};
use glide_tests::redis_server::RedisServer;

/// Long enough never to be reached when things work; a wake-up returns at once.
const PATIENCE: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wait_on_instance_a_is_woken_by_a_publish_on_instance_b() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let a = RedisEvents::connect(&redis.url()).await.unwrap();
    let b = RedisEvents::connect(&redis.url()).await.unwrap();

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
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channel_prefixes_separate_apps() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let app1 = RedisEvents::connect(&redis.url()).await.unwrap();
    let app2 = RedisEvents::connect_with_prefix(&redis.url(), "other:events:")
        .await
        .unwrap();
    let mut sub = app2.subscribe("flow").await.unwrap();
    app1.publish("flow").await.unwrap();
    assert!(!sub.wait(Duration::from_millis(300)).await);
    let app2_peer = RedisEvents::connect_with_prefix(&redis.url(), "other:events:")
        .await
        .unwrap();
    app2_peer.publish("flow").await.unwrap();
    assert!(sub.wait(PATIENCE).await);
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
