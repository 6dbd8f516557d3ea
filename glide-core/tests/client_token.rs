//! The token: one request for many concurrent first callers, refreshed ahead of expiry, and a
//! 401 refreshes once and retries once.
#![allow(clippy::unwrap_used)]

mod client_support;

use std::sync::atomic::Ordering;

use client_support::{Canned, TestServer};
use glide_core::clock::ManualClock;
use serde_json::json;

const STATUS: &str = "/magic-auth/v2/auth/status/k1";

fn ok_status() -> Canned {
    Canned::json(200, json!({"session_key": "k1", "status": "pending"}))
}

fn bearers(server: &TestServer) -> Vec<String> {
    server
        .calls_to(STATUS)
        .iter()
        .map(|c| c.header("authorization").unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn fifty_concurrent_first_calls_make_one_token_request() {
    let server = TestServer::start().await;
    server.state.token_delay_ms.store(200, Ordering::SeqCst);
    server.default_answer(STATUS, ok_status());
    let glide = server.glide();
    let calls = (0..50).map(|_| {
        let glide = glide.clone();
        tokio::spawn(async move { glide.status("k1").await })
    });
    for call in futures_util::future::join_all(calls).await {
        call.unwrap().unwrap();
    }
    assert_eq!(server.token_requests(), 1);
    assert_eq!(server.calls_to(STATUS).len(), 50);
    assert!(bearers(&server).iter().all(|b| b == "Bearer tok-1"));
}

#[tokio::test]
async fn token_is_refreshed_sixty_seconds_before_expiry() {
    let server = TestServer::start().await;
    server.state.token_expires_in.store(600, Ordering::SeqCst);
    server.default_answer(STATUS, ok_status());
    let clock = ManualClock::new();
    let glide = server.builder().clock(clock.clone()).build().unwrap();

    glide.status("k1").await.unwrap();
    clock.advance(time::Duration::seconds(539)); // 61 s left: still good
    glide.status("k1").await.unwrap();
    assert_eq!(server.token_requests(), 1);
    clock.advance(time::Duration::seconds(2)); // 59 s left: refresh first
    glide.status("k1").await.unwrap();
    assert_eq!(server.token_requests(), 2);
    assert_eq!(
        bearers(&server),
        ["Bearer tok-1", "Bearer tok-1", "Bearer tok-2"]
    );
}

#[tokio::test]
async fn missing_expires_in_means_an_hour() {
    let server = TestServer::start().await;
    server.state.token_expires_in.store(0, Ordering::SeqCst);
    server.default_answer(STATUS, ok_status());
    let clock = ManualClock::new();
    let glide = server.builder().clock(clock.clone()).build().unwrap();
    glide.status("k1").await.unwrap();
    clock.advance(time::Duration::seconds(3500));
    glide.status("k1").await.unwrap();
    assert_eq!(server.token_requests(), 1);
    clock.advance(time::Duration::seconds(60));
    glide.status("k1").await.unwrap();
    assert_eq!(server.token_requests(), 2);
}

#[tokio::test]
async fn unauthorized_refreshes_once_and_retries_once() {
    let server = TestServer::start().await;
    server.default_answer(STATUS, ok_status());
    let glide = server.glide();
    glide.status("k1").await.unwrap();
    // the server revokes tok-1 (e.g. rotated keys) before it expires
    server.state.min_valid_token.store(2, Ordering::SeqCst);
    glide.status("k1").await.unwrap();
    assert_eq!(server.token_requests(), 2);
    assert_eq!(
        bearers(&server),
        ["Bearer tok-1", "Bearer tok-1", "Bearer tok-2"]
    );

    // refused again after the refresh: the 401 is returned, no loop
    server.state.min_valid_token.store(1000, Ordering::SeqCst);
    let err = glide.status("k1").await.unwrap_err();
    match &err {
        glide_core::Error::Api(api) => {
            assert_eq!((api.code.as_str(), api.status), ("UNAUTHORIZED", 401))
        }
        other => panic!("expected Glide's 401, got {other:?}"),
    }
    // Our routes answer Glide refusing our credentials as an opaque outage, not as the user's 401.
    assert_eq!(
        (err.code(), err.http_status()),
        ("SERVICE_UNAVAILABLE", 503)
    );
    assert_eq!(server.token_requests(), 3);
    assert_eq!(server.calls_to(STATUS).len(), 5);
}

#[tokio::test]
async fn concurrent_unauthorized_callers_share_one_refresh() {
    let server = TestServer::start().await;
    server.default_answer(STATUS, ok_status());
    let glide = server.glide();
    glide.status("k1").await.unwrap();
    server.state.min_valid_token.store(2, Ordering::SeqCst);
    let calls = (0..10).map(|_| {
        let glide = glide.clone();
        tokio::spawn(async move { glide.status("k1").await })
    });
    for call in futures_util::future::join_all(calls).await {
        call.unwrap().unwrap();
    }
    assert_eq!(server.token_requests(), 2);
}
