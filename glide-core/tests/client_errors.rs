//! Error answers, retries and HTTP hygiene: every error mapping, 429, 503 + Retry-After,
//! oversized bodies, redirects, timeouts, token failures.
#![allow(clippy::unwrap_used)]

mod client_support;

use std::time::Duration;

use bytes::Bytes;
use client_support::{Canned, TestServer};
use glide_core::api::{Glide, HttpClient, RetryPolicy};
use glide_core::error::BoxError;
use glide_core::Error;
use serde_json::json;

const STATUS: &str = "/magic-auth/v2/auth/status/k1";
const REPORT: &str = "/magic-auth/v2/auth/report-invocation";

fn ok_status() -> Canned {
    Canned::json(200, json!({"session_key": "k1", "status": "pending"}))
}

fn api_err(err: Error) -> glide_core::error::ApiError {
    match err {
        Error::Api(api) => *api,
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn json_error_body_is_carried_whole() {
    let server = TestServer::start().await;
    server.script(
        STATUS,
        [Canned::json(
            400,
            json!({"code": "VALIDATION_ERROR", "message": "Invalid phone number", "status": 400,
                   "request_id": "req_123", "trace_id": "trace_9", "span_id": "s", "timestamp": "t",
                   "details": {"fields": {"phone_number": "Must be a valid E.164 phone number format"}}}),
        )],
    );
    let err = server.glide().status("k1").await.unwrap_err();
    assert_eq!(err.code(), "VALIDATION_ERROR");
    assert_eq!(err.http_status(), 400);
    assert!(!err.is_retryable());
    let api = api_err(err);
    assert_eq!(api.status, 400);
    assert_eq!(api.message, "Invalid phone number");
    assert_eq!(api.request_id.as_deref(), Some("req_123"));
    assert_eq!(api.trace_id.as_deref(), Some("trace_9"));
    assert_eq!(api.fields[0].0, "phone_number");
}

#[tokio::test]
async fn codeless_bodies_map_from_the_status() {
    let server = TestServer::start().await;
    let table = [
        (400, "BAD_REQUEST"),
        (403, "FORBIDDEN"),
        (404, "SESSION_NOT_FOUND"),
        (409, "SESSION_NOT_ELIGIBLE"),
        (410, "INTERNAL_SERVER_ERROR"),
        (422, "VALIDATION_ERROR"),
        (429, "RATE_LIMIT_EXCEEDED"),
        (500, "INTERNAL_SERVER_ERROR"),
        (502, "INTERNAL_SERVER_ERROR"),
    ];
    // report-invocation: a call whose error answers are all errors (status reads 410 / 422 as
    // statuses, below)
    server.script(
        REPORT,
        table
            .iter()
            .map(|(s, _)| Canned::text(*s, "upstream said no")),
    );
    // a JSON body without `code` maps the same way
    server.script(REPORT, [Canned::json(422, json!({"message": "nope"}))]);
    let glide = server.glide().with_correlation_id("c");
    for (status, code) in table {
        let api = api_err(glide.report_invocation("k1").await.unwrap_err());
        assert_eq!((api.status, api.code.as_str()), (status, code));
        assert_eq!(api.message, "upstream said no");
        assert_eq!(
            api.is_retryable(),
            status == 429 || status >= 500,
            "{status}"
        );
    }
    let api = api_err(glide.report_invocation("k1").await.unwrap_err());
    assert_eq!(
        (api.code.as_str(), api.message.as_str()),
        ("VALIDATION_ERROR", "nope")
    );

    // 401 without code, when a refreshed token is refused as well
    server
        .state
        .min_valid_token
        .store(usize::MAX, std::sync::atomic::Ordering::SeqCst);
    let api = api_err(glide.report_invocation("k1").await.unwrap_err());
    assert_eq!((api.status, api.code.as_str()), (401, "UNAUTHORIZED"));
}

#[tokio::test]
async fn status_reads_failed_and_expired_answers_as_statuses() {
    use glide_core::api::SessionStatus;
    let server = TestServer::start().await;
    server.script(
        STATUS,
        [
            Canned::json(
                422,
                json!({"session_key": "k1", "status": "failed", "protocol": "link",
                       "extra": {"reason": "user_denied"}}),
            ),
            Canned::json(
                410,
                json!({"code": "SESSION_EXPIRED", "message": "Session has expired", "status": 410}),
            ),
            Canned::json(
                422,
                json!({"code": "INVALID_VERIFICATION", "message": "denied", "status": 422}),
            ),
            Canned::json(
                404,
                json!({"code": "SESSION_NOT_FOUND", "message": "no", "status": 404}),
            ),
        ],
    );
    let glide = server.glide();
    let failed = glide.status("k1").await.unwrap();
    assert_eq!(failed.status, SessionStatus::Failed);
    assert_eq!(failed.protocol.as_deref(), Some("link"));
    assert_eq!(failed.extra.unwrap()["reason"], "user_denied");
    let expired = glide.status("k1").await.unwrap();
    assert_eq!(
        (expired.session_key.as_str(), &expired.status),
        ("k1", &SessionStatus::Expired)
    );
    assert_eq!(serde_json::to_value(&expired).unwrap()["status"], "expired");
    let failed = glide.status("k1").await.unwrap();
    assert_eq!(failed.status, SessionStatus::Failed);
    assert_eq!(failed.extra.unwrap()["reason"], "INVALID_VERIFICATION");
    // an unknown session stays an error
    let api = api_err(glide.status("k1").await.unwrap_err());
    assert_eq!((api.status, api.code.as_str()), (404, "SESSION_NOT_FOUND"));
}

#[tokio::test]
async fn rate_limit_carries_retry_after_and_is_not_retried() {
    let server = TestServer::start().await;
    server.script(
        STATUS,
        [Canned::json(
            429,
            json!({"code": "RATE_LIMIT_EXCEEDED", "message": "slow down", "status": 429}),
        )
        .header("retry-after", "7")],
    );
    server.default_answer(STATUS, ok_status());
    let err = server.glide().status("k1").await.unwrap_err();
    assert!(err.is_retryable());
    assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));
    assert_eq!(err.code(), "RATE_LIMIT_EXCEEDED");
    assert_eq!(server.calls_to(STATUS).len(), 1);
}

#[tokio::test]
async fn service_unavailable_with_retry_after_is_waited_out() {
    let server = TestServer::start().await;
    server.script(
        STATUS,
        [Canned::json(
            503,
            json!({"code": "SERVICE_UNAVAILABLE", "message": "deploying"}),
        )
        .header("retry-after", "1")],
    );
    server.default_answer(STATUS, ok_status());
    let status = server.glide().status("k1").await.unwrap();
    assert_eq!(status.session_key, "k1");
    assert_eq!(server.calls_to(STATUS).len(), 2);
}

#[tokio::test]
async fn service_unavailable_retries_are_bounded() {
    let server = TestServer::start().await;
    server.default_answer(
        STATUS,
        Canned::json(
            503,
            json!({"code": "SERVICE_UNAVAILABLE", "message": "down"}),
        )
        .header("retry-after", "1"),
    );
    let err = server.glide().status("k1").await.unwrap_err();
    assert!(err.is_retryable());
    assert_eq!(api_err(err).retry_after, Some(Duration::from_secs(1)));
    assert_eq!(server.calls_to(STATUS).len(), 3, "first try + 2 retries");

    let none = server
        .builder()
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    none.status("k1").await.unwrap_err();
    assert_eq!(server.calls_to(STATUS).len(), 4);
}

#[tokio::test]
async fn service_unavailable_without_retry_after_is_returned() {
    let server = TestServer::start().await;
    server.script(STATUS, [Canned::text(503, "")]);
    server.default_answer(STATUS, ok_status());
    let err = server.glide().status("k1").await.unwrap_err();
    assert_eq!(err.http_status(), 503);
    assert_eq!(server.calls_to(STATUS).len(), 1);
}

#[tokio::test]
async fn bad_client_credentials() {
    let server = TestServer::start().await;
    let glide = Glide::builder(client_support::CLIENT_ID, "wrong-secret")
        .base_url(&server.base)
        .build()
        .unwrap();
    let api = api_err(glide.status("k1").await.unwrap_err());
    assert_eq!((api.status, api.code.as_str()), (401, "UNAUTHORIZED"));
    assert!(
        server.calls_to(STATUS).is_empty(),
        "no API call without a token"
    );

    *server.state.token_error.lock().unwrap() = Some(Canned::json(
        400,
        json!({"error": "invalid_request", "error_description": "bad grant"}),
    ));
    let api = api_err(server.glide().status("k1").await.unwrap_err());
    assert_eq!(
        (api.status, api.code.as_str(), api.message.as_str()),
        (400, "BAD_REQUEST", "bad grant")
    );
}

#[tokio::test]
async fn oversized_body_is_refused() {
    let server = TestServer::start().await;
    let big = "x".repeat(2 * 1024 * 1024);
    server.default_answer(STATUS, Canned::text(200, &big));
    match server.glide().status("k1").await.unwrap_err() {
        Error::Decode { status, message } => {
            assert_eq!(status, 200);
            assert!(message.contains("larger than"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    // without Content-Length the body is read in chunks and refused once over the cap
    server.default_answer("/public/status/big", Canned::text(200, &big).chunked());
    match server.glide().public_status("big").await.unwrap_err() {
        Error::Decode { status, message } => {
            assert_eq!(status, 200);
            assert!(message.contains("larger than"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    // a smaller configured cap applies to ordinary answers too
    server.default_answer("/public/status/k1", ok_status());
    let tiny = server.builder().max_response_bytes(10).build().unwrap();
    assert!(matches!(
        tiny.public_status("k1").await,
        Err(Error::Decode { .. })
    ));
}

/// A user-supplied client that ignores the cap: `Glide` enforces it anyway.
#[derive(Debug)]
struct Oversharing;

#[async_trait::async_trait]
impl HttpClient for Oversharing {
    async fn execute(&self, _req: http::Request<Bytes>) -> Result<http::Response<Bytes>, BoxError> {
        Ok(http::Response::builder()
            .status(200)
            .body(Bytes::from(vec![b' '; 4096]))?)
    }
}

#[tokio::test]
async fn cap_is_enforced_for_any_http_client() {
    let glide = Glide::builder("id", "secret")
        .http_client(Oversharing)
        .max_response_bytes(1024)
        .build()
        .unwrap();
    assert!(matches!(
        glide.public_status("k1").await,
        Err(Error::Decode { status: 200, .. })
    ));
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let server = TestServer::start().await;
    server.default_answer(
        STATUS,
        Canned::text(302, "").header("location", &format!("{}/elsewhere", server.base)),
    );
    server.default_answer("/elsewhere", ok_status());
    match server.glide().status("k1").await.unwrap_err() {
        Error::Decode { status, .. } => assert_eq!(status, 302),
        other => panic!("{other:?}"),
    }
    assert!(server.calls_to("/elsewhere").is_empty());
}

#[tokio::test]
async fn slow_answers_time_out() {
    let server = TestServer::start().await;
    server.default_answer(STATUS, ok_status().delay(Duration::from_secs(5)));
    let glide = server
        .builder()
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let err = glide.status("k1").await.unwrap_err();
    assert!(matches!(err, Error::Transport(_)), "{err:?}");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn connection_refused_is_a_transport_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let glide = Glide::builder("id", "secret")
        .base_url(format!("http://{addr}"))
        .build()
        .unwrap();
    assert!(matches!(
        glide.public_status("k1").await,
        Err(Error::Transport(_))
    ));
}

#[tokio::test]
async fn malformed_success_body_is_a_decode_error_without_content() {
    let server = TestServer::start().await;
    server.default_answer(
        "/magic-auth/v2/auth/verify-phone-number",
        Canned::json(200, json!({"phone_number": 15555550100_u64})),
    );
    let session = glide_core::api::GlideSession::from_json(client_support::session_json()).unwrap();
    let err = server
        .glide()
        .verify_phone_number(&glide_core::api::ProcessRequest::new(session, "c"))
        .await
        .unwrap_err();
    match &err {
        Error::Decode {
            status: 200,
            message,
        } => assert!(!message.contains("5555550100"), "{message}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(err.http_status(), 502);
}

#[test]
fn bad_configuration_is_refused_when_building() {
    for base in [
        "not a url",
        "ftp://example.com",
        "http://example.com/?q=1",
        "mailto:x@y",
    ] {
        assert!(
            matches!(
                Glide::builder("id", "secret").base_url(base).build(),
                Err(Error::Config(_))
            ),
            "{base}"
        );
    }
    assert!(Glide::builder("", "secret").build().is_err());
    assert!(Glide::builder("id", "").build().is_err());
    assert!(Glide::builder("id", "s")
        .timeout(Duration::ZERO)
        .build()
        .is_err());
}
