//! The desktop 202: a value, not an error; `process_until_done` re-issues until done or the
//! deadline.
#![allow(clippy::unwrap_used)]

mod client_support;

use std::time::Duration;

use client_support::{session_json, Canned, TestServer};
use glide_core::api::{GlideSession, ProcessOutcome, ProcessRequest};
use glide_core::error::FlowError;
use glide_core::{Error, UseCase};
use serde_json::json;

const VERIFY: &str = "/magic-auth/v2/auth/verify-phone-number";

fn waiting() -> Canned {
    Canned::json(
        202,
        json!({"status": "waiting", "message": "Waiting for the phone", "session_key": "ee25b966c9395f0b",
               "session_status": "scanned", "retry": true, "session_expires_in_seconds": 240}),
    )
}

fn done() -> Canned {
    Canned::json(
        200,
        json!({"phone_number": "+15555550100", "verified": true}),
    )
}

fn request() -> ProcessRequest {
    ProcessRequest::new(
        GlideSession::from_json(session_json()).unwrap(),
        "ee25b966c9395f0b",
    )
}

#[tokio::test]
async fn a_202_is_a_pending_value() {
    let server = TestServer::start().await;
    server.script(VERIFY, [waiting(), waiting().header("retry-after", "3")]);
    let glide = server.glide();
    let ProcessOutcome::Pending(p) = glide.verify_phone_number(&request()).await.unwrap() else {
        panic!("expected pending")
    };
    assert_eq!(
        p.retry_after,
        Duration::from_secs(1),
        "default without Retry-After"
    );
    assert_eq!(p.expires_in, Some(Duration::from_secs(240)));
    assert_eq!(p.session_key, "ee25b966c9395f0b");
    assert_eq!(p.session_status.as_deref(), Some("scanned"));
    assert_eq!(p.message.as_deref(), Some("Waiting for the phone"));
    assert!(p.retry);
    let ProcessOutcome::Pending(p) = glide.verify_phone_number(&request()).await.unwrap() else {
        panic!("expected pending")
    };
    assert_eq!(p.retry_after, Duration::from_secs(3));
}

#[tokio::test]
async fn process_until_done_reissues_the_same_request() {
    let server = TestServer::start().await;
    let fast = || waiting().header("retry-after", "0");
    server.script(VERIFY, [fast(), fast(), done()]);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let result = server
        .glide()
        .process_until_done(UseCase::VerifyPhoneNumber, &request(), deadline)
        .await
        .unwrap();
    assert_eq!(result.verified, Some(true));
    let calls = server.calls_to(VERIFY);
    assert_eq!(calls.len(), 3);
    assert!(
        calls.iter().all(|c| c.body == calls[0].body),
        "same request each time"
    );
}

#[tokio::test]
async fn process_until_done_stops_at_the_deadline() {
    let server = TestServer::start().await;
    server.default_answer(
        VERIFY,
        waiting()
            .header("retry-after", "0")
            .delay(Duration::from_millis(40)),
    );
    let deadline = tokio::time::Instant::now() + Duration::from_millis(300);
    let err = server
        .glide()
        .process_until_done(UseCase::VerifyPhoneNumber, &request(), deadline)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Flow(FlowError::Expired)), "{err:?}");
    assert!(server.calls_to(VERIFY).len() >= 2);
}

#[tokio::test]
async fn a_long_request_is_abandoned_at_the_deadline() {
    let server = TestServer::start().await;
    server.default_answer(VERIFY, done().delay(Duration::from_secs(5)));
    let deadline = tokio::time::Instant::now() + Duration::from_millis(150);
    let err = server
        .glide()
        .process_until_done(UseCase::VerifyPhoneNumber, &request(), deadline)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Flow(FlowError::Expired)), "{err:?}");
}

#[tokio::test]
async fn a_retry_after_beyond_the_deadline_ends_at_once() {
    let server = TestServer::start().await;
    server.default_answer(VERIFY, waiting().header("retry-after", "30"));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let err = server
        .glide()
        .process_until_done(UseCase::VerifyPhoneNumber, &request(), deadline)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Flow(FlowError::Expired)));
    assert_eq!(server.calls_to(VERIFY).len(), 1);
}

#[tokio::test]
async fn an_exhausted_session_ends_the_loop() {
    let server = TestServer::start().await;
    server.script(
        VERIFY,
        [
            Canned::json(202, json!({"status": "waiting", "retry": false}))
                .header("retry-after", "0"),
        ],
    );
    server.script(
        "/magic-auth/v2/auth/get-phone-number",
        [Canned::json(
            202,
            json!({"retry": true, "session_expires_in_seconds": 0}),
        )],
    );
    let glide = server.glide();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    for use_case in [UseCase::VerifyPhoneNumber, UseCase::GetPhoneNumber] {
        let err = glide
            .process_until_done(use_case, &request(), deadline)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Flow(FlowError::Expired)), "{err:?}");
    }
    assert_eq!(server.calls().len(), 3, "token + one call each");
}

#[tokio::test]
async fn errors_inside_the_loop_are_returned() {
    let server = TestServer::start().await;
    server.script(
        VERIFY,
        [
            waiting().header("retry-after", "0"),
            Canned::json(404, json!({"code": "SESSION_NOT_FOUND", "message": "gone"})),
        ],
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let err = server
        .glide()
        .process_until_done(UseCase::VerifyPhoneNumber, &request(), deadline)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "SESSION_NOT_FOUND");
}

/// Many calls waiting at once over HTTP/2 share connections, 100 streams to a lane: 250 of
/// them are all at the server together on three connections (none queued behind a stream
/// limit), and they all come back.
#[tokio::test]
async fn waiting_calls_share_http2_connections_a_hundred_to_a_lane() {
    let client = glide_core::api::ReqwestClient::builder()
        .http2_prior_knowledge()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let connections = client_support::all_held_at_once(client.clone(), 250).await;
    assert_eq!(client.lanes(), 3, "100 streams to a lane");
    assert_eq!(connections, 3, "one connection per lane");
}
