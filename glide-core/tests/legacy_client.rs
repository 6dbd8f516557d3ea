//! The legacy client against a small local axum server: every call's wire shape, the
//! `magic-auth` token (cached, refreshed on 401), and error mapping.

#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use glide_core::legacy::{
    AuthCode, AuthType, AuthUrlOptions, Email, FallbackChannel, LegacyClient, OtpCode,
    ServerAuthStatus, StartAuthRequest, StartServerAuthRequest, VerifyAuthRequest,
};
use glide_core::{Error, PhoneNumber};
use serde_json::{json, Value};

#[derive(Default)]
struct Seen {
    tokens: AtomicUsize,
    reject_next: AtomicUsize,
    bodies: Mutex<Vec<(String, String, Value)>>,
}

type S = State<Arc<Seen>>;

fn bearer(headers: &HeaderMap) -> String {
    headers
        .get("authorization")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

async fn token(State(s): S, headers: HeaderMap, body: String) -> impl IntoResponse {
    // Basic sandbox-client:sandbox-secret
    if bearer(&headers) != "Basic c2FuZGJveC1jbGllbnQ6c2FuZGJveC1zZWNyZXQ=" {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_client"})),
        );
    }
    if body.contains("grant_type=authorization_code") {
        if body.contains("code=good") {
            return (
                StatusCode::OK,
                Json(
                    json!({"access_token": "user-token", "token_type": "Bearer", "expires_in": 3600}),
                ),
            );
        }
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_grant"})),
        );
    }
    assert!(body.contains("scope=magic-auth"), "{body}");
    let n = s.tokens.fetch_add(1, Ordering::SeqCst) + 1;
    (
        StatusCode::OK,
        Json(
            json!({"access_token": format!("cc-{n}"), "token_type": "Bearer", "expires_in": 3600, "scope": "magic-auth"}),
        ),
    )
}

async fn record(
    s: &Seen,
    path: &str,
    headers: &HeaderMap,
    body: Value,
) -> Option<axum::response::Response> {
    if s.reject_next.swap(0, Ordering::SeqCst) > 0 {
        return Some(
            (
                StatusCode::UNAUTHORIZED,
                Json(json!({"code": "UNAUTHORIZED", "message": "expired", "status": 401})),
            )
                .into_response(),
        );
    }
    s.bodies
        .lock()
        .unwrap()
        .push((path.to_owned(), bearer(headers), body));
    None
}

fn app(seen: Arc<Seen>) -> Router {
    Router::new()
        .route("/oauth2/token", post(token))
        .route("/magic-auth/verification/start", post(|State(s): S, h: HeaderMap, Json(b): Json<Value>| async move {
            if let Some(r) = record(&s, "start", &h, b.clone()).await { return r; }
            if b["phoneNumber"] == "+15555550106" {
                return Json(json!({"type": "SMS"})).into_response();
            }
            Json(json!({"type": "MAGIC", "authUrl": "http://x/magic/1", "flatAuthUrl": "http://x/flat/1", "operatorId": "op"})).into_response()
        }))
        .route("/magic-auth/verification/check", post(|State(s): S, h: HeaderMap, Json(b): Json<Value>| async move {
            if let Some(r) = record(&s, "check", &h, b.clone()).await { return r; }
            if b.get("code").is_none() && b.get("token").is_none() {
                return (StatusCode::BAD_REQUEST, Json(json!({"code": "VALIDATION_ERROR", "message": "missing", "status": 400}))).into_response();
            }
            Json(json!({"verified": b["code"] == "123456"})).into_response()
        }))
        .route("/magic-auth/verification/start-server-auth", post(|State(s): S, h: HeaderMap, Json(b): Json<Value>| async move {
            record(&s, "server", &h, b).await;
            Json(json!({"sessionId": "0123456789abcdef0123456789abcdef", "authUrl": "http://x/server"}))
        }))
        .route("/magic-auth/verification/check-server-auth", get(|Query(q): Query<Vec<(String, String)>>| async move {
            if q.iter().any(|(k, v)| k == "sessionId" && v == "0123456789abcdef0123456789abcdef") {
                Json(json!({"status": "COMPLETED", "verified": true})).into_response()
            } else {
                (StatusCode::NOT_FOUND, Json(json!({"code": "SESSION_NOT_FOUND", "message": "no", "status": 404}))).into_response()
            }
        }))
        .route("/number-verification/verify", post(|State(s): S, h: HeaderMap, Json(b): Json<Value>| async move {
            let ok = bearer(&h) == "Bearer user-token";
            record(&s, "nv", &h, b.clone()).await;
            Json(json!({"devicePhoneNumberVerified": ok && b["phoneNumber"] == "+15555550100"}))
        }))
        .route("/number-verification/device-phone-number", get(|| async { Json(json!({"devicePhoneNumber": "+15555550100"})) }))
        .route("/sim-swap/check", post(|State(s): S, h: HeaderMap, Json(b): Json<Value>| async move {
            record(&s, "swap", &h, b.clone()).await;
            Json(json!({"swapped": b["phoneNumber"] == "+15555550101"}))
        }))
        .route("/sim-swap/retrieve-date", post(|| async { Json(json!({"latestSimChange": "2024-05-01T10:00:00Z"})) }))
        .with_state(seen)
}

async fn server() -> (LegacyClient, Arc<Seen>, String) {
    let seen = Arc::new(Seen::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = app(seen.clone());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let glide = glide_core::api::Glide::builder("sandbox-client", "sandbox-secret")
        .base_url(&base)
        .build()
        .unwrap();
    (LegacyClient::new(&glide), seen, base)
}

fn phone(n: &str) -> PhoneNumber {
    PhoneNumber::parse(n).unwrap()
}

#[tokio::test]
async fn magic_auth_calls_and_token_cache() {
    let (client, seen, _) = server().await;
    let magic = client.magic_auth();
    let started = magic
        .start_auth(&StartAuthRequest::phone(phone("+15555550100")).with_device_ip("203.0.113.9"))
        .await
        .unwrap();
    assert_eq!(started.auth_type, AuthType::Magic);
    assert_eq!(started.auth_url.as_deref(), Some("http://x/magic/1"));
    assert_eq!(started.operator_id.as_deref(), Some("op"));
    let sms = magic
        .start_auth(
            &StartAuthRequest::phone(phone("+15555550106"))
                .with_email(Email::parse("a@b.c").unwrap())
                .with_fallback(FallbackChannel::Email),
        )
        .await
        .unwrap();
    assert_eq!(sms.auth_type, AuthType::Sms);
    let ok = magic
        .verify_auth(&VerifyAuthRequest::sms(
            phone("+15555550106"),
            OtpCode::new("123456"),
        ))
        .await
        .unwrap();
    assert!(ok.verified);
    let bad = magic
        .verify_auth(&VerifyAuthRequest::sms(
            phone("+15555550106"),
            OtpCode::new("000000"),
        ))
        .await
        .unwrap();
    assert!(!bad.verified);
    // one token for all calls
    assert_eq!(seen.tokens.load(Ordering::SeqCst), 1);
    // a 401 refreshes once and retries
    seen.reject_next.store(1, Ordering::SeqCst);
    assert!(
        magic
            .verify_auth(&VerifyAuthRequest::sms(
                phone("+15555550106"),
                OtpCode::new("123456")
            ))
            .await
            .unwrap()
            .verified
    );
    assert_eq!(seen.tokens.load(Ordering::SeqCst), 2);
    let bodies = seen.bodies.lock().unwrap().clone();
    assert_eq!(
        bodies[0].2,
        json!({"phoneNumber": "+15555550100", "deviceIpAddress": "203.0.113.9"})
    );
    assert_eq!(bodies[0].1, "Bearer cc-1");
    assert_eq!(
        bodies[1].2,
        json!({"phoneNumber": "+15555550106", "email": "a@b.c", "fallbackChannel": "EMAIL"})
    );
    assert_eq!(
        bodies[2].2,
        json!({"phoneNumber": "+15555550106", "code": "123456"})
    );
    assert_eq!(bodies.last().unwrap().1, "Bearer cc-2");

    // server auth
    let server = magic
        .start_server_auth(&StartServerAuthRequest {
            otp_confirmation_url: Some("https://a.test/otp".into()),
            ..StartAuthRequest::phone(phone("+15555550100")).into()
        })
        .await
        .unwrap();
    assert_eq!(server.session_id.len(), 32);
    let status = magic.check_server_auth(&server.session_id).await.unwrap();
    assert_eq!(
        (status.status, status.verified),
        (ServerAuthStatus::Completed, true)
    );
    let missing = magic.check_server_auth("nope").await.unwrap_err();
    assert_eq!(
        (missing.http_status(), missing.code()),
        (404, "SESSION_NOT_FOUND")
    );
    // nothing sent without a target
    let e = magic
        .start_auth(&StartAuthRequest::default())
        .await
        .unwrap_err();
    assert_eq!(e.code(), "VALIDATION_ERROR");
}

#[tokio::test]
async fn number_verify_and_sim_swap() {
    let (client, seen, base) = server().await;
    let nv = client.number_verify();
    let url = nv
        .get_auth_url(&AuthUrlOptions {
            state: Some("st&ate".into()),
            use_dev_number: Some(phone("+15555550100")),
            redirect_uri: Some("https://app.test/cb".into()),
            print_code: true,
        })
        .unwrap();
    assert!(url.as_str().starts_with(&format!("{base}/oauth2/auth?client_id=sandbox-client&response_type=code&scope=openid&purpose=dpv%3AFraudPreventionAndDetection%3Anumber-verification&state=st%26ate&nonce=")), "{url}");
    for part in [
        "max_age=0",
        "redirect_uri=https%3A%2F%2Fapp.test%2Fcb",
        "login_hint=tel%3A%2B15555550100",
        "dev_print=true",
    ] {
        assert!(url.as_str().contains(part), "{part} in {url}");
    }
    let user = nv
        .for_user(&AuthCode::new("good"), Some(phone("+15555550100")))
        .await
        .unwrap();
    assert!(
        user.verify_number(None)
            .await
            .unwrap()
            .device_phone_number_verified
    );
    assert!(
        !user
            .verify_number(Some(&phone("+15555550199")))
            .await
            .unwrap()
            .device_phone_number_verified
    );
    assert_eq!(
        user.get_phone_number().await.unwrap().as_str(),
        "+15555550100"
    );
    let e = nv.for_user(&AuthCode::new("used"), None).await.unwrap_err();
    assert_eq!((e.http_status(), e.code()), (400, "INVALID_GRANT"));
    assert!(!format!("{user:?}").contains("user-token"));

    let swap = client.sim_swap();
    assert!(
        swap.check(&phone("+15555550101"), Some(240))
            .await
            .unwrap()
            .swapped
    );
    assert!(
        !swap
            .check(&phone("+15555550100"), None)
            .await
            .unwrap()
            .swapped
    );
    assert!(matches!(
        swap.check(&phone("+15555550100"), Some(0)).await,
        Err(Error::Validation { .. })
    ));
    let date = swap.retrieve_date(&phone("+15555550101")).await.unwrap();
    assert_eq!(
        date.latest_sim_change.unwrap().unix_timestamp(),
        1_714_557_600
    );
    let bodies = seen.bodies.lock().unwrap().clone();
    let swap_body = bodies.iter().find(|(p, _, _)| p == "swap").unwrap();
    assert_eq!(
        swap_body.2,
        json!({"phoneNumber": "+15555550101", "maxAge": 240})
    );
}

#[tokio::test]
async fn bad_credentials_map_to_unauthorized() {
    let (_, _, base) = server().await;
    let http: Arc<dyn glide_core::api::HttpClient> =
        Arc::new(glide_core::api::ReqwestClient::new().unwrap());
    let client = LegacyClient::from_parts("sandbox-client", "wrong", &base, http).unwrap();
    let e = client
        .magic_auth()
        .start_auth(&StartAuthRequest::phone(phone("+15555550100")))
        .await
        .unwrap_err();
    match &e {
        glide_core::Error::Api(api) => {
            assert_eq!((api.status, api.code.as_str()), (401, "UNAUTHORIZED"))
        }
        other => panic!("expected Glide's 401, got {other:?}"),
    }
    // On our routes, bad client credentials are our outage: an opaque 503.
    assert_eq!((e.http_status(), e.code()), (503, "SERVICE_UNAVAILABLE"));
    assert!(!format!("{client:?}").contains("wrong"));
}
