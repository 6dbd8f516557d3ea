//! The legacy client against a small local axum server: every call's wire shape, the
//! `magic-auth` token (cached, refreshed on 401), the per-subscriber CIBA token of SIM swap
//! (cached per number, refreshed on 401, polled while pending), 503 retries, the SIM swap
//! signal, error mapping; and the SIM swap signal against the real sandbox's fixtures.

#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use glide_core::legacy::{
    AuthCode, AuthType, AuthUrlOptions, Email, FallbackChannel, FlowSecrets, LegacyClient, OtpCode,
    ServerAuthStatus, SimSwapRiskMapping, StartAuthRequest, StartServerAuthRequest,
    VerifyAuthRequest,
};
use glide_core::{Error, PhoneNumber, RiskLevel};
use serde_json::{json, Value};

mod log_support;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

#[derive(Default)]
struct Seen {
    tokens: AtomicUsize,
    reject_next: AtomicUsize,
    bodies: Mutex<Vec<(String, String, Value)>>,
    /// CIBA: the backchannel forms, the grant forms, and auth_req_id → number.
    ciba_forms: Mutex<Vec<(String, String)>>,
    grant_forms: Mutex<Vec<String>>,
    auth_reqs: Mutex<Vec<String>>,
    /// Grants still to answer `authorization_pending`.
    pending_left: AtomicUsize,
    /// SIM swap calls still to answer 401 with a valid token.
    reject_swap_next: AtomicUsize,
    /// Starts still to answer 503 (with `Retry-After: 1` unless `unavailable_bare`).
    unavailable_next: AtomicUsize,
    unavailable_bare: std::sync::atomic::AtomicBool,
    starts: AtomicUsize,
}

type S = State<Arc<Seen>>;

fn bearer(headers: &HeaderMap) -> String {
    headers
        .get("authorization")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// Basic sandbox-client:sandbox-secret
const BASIC: &str = "Basic c2FuZGJveC1jbGllbnQ6c2FuZGJveC1zZWNyZXQ=";

fn form_of(body: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect()
}

fn field<'a>(form: &'a [(String, String)], key: &str) -> Option<&'a str> {
    form.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// `POST /oauth2/backchannel-authentication`.
async fn backchannel(State(s): S, headers: HeaderMap, body: String) -> impl IntoResponse {
    if bearer(&headers) != BASIC {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_client"})),
        );
    }
    s.ciba_forms.lock().unwrap().push((
        headers["content-type"].to_str().unwrap().to_owned(),
        body.clone(),
    ));
    let form = form_of(&body);
    let phone = field(&form, "login_hint")
        .and_then(|h| h.strip_prefix("tel:"))
        .unwrap_or_default()
        .to_owned();
    let mut reqs = s.auth_reqs.lock().unwrap();
    reqs.push(phone);
    (
        StatusCode::OK,
        Json(
            json!({"auth_req_id": format!("req-secret-{}", reqs.len() - 1), "expires_in": 120, "interval": 1}),
        ),
    )
}

/// The CIBA grant: `ciba-<number>-<n>`, after `pending_left` pending answers.
fn ciba_grant(s: &Seen, body: &str) -> (StatusCode, Json<Value>) {
    s.grant_forms.lock().unwrap().push(body.to_owned());
    let form = form_of(body);
    let index: Option<usize> = field(&form, "auth_req_id")
        .and_then(|id| id.strip_prefix("req-secret-"))
        .and_then(|n| n.parse().ok());
    let phone = index.and_then(|i| s.auth_reqs.lock().unwrap().get(i).cloned());
    let Some(phone) = phone else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_grant"})),
        );
    };
    if s.pending_left
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "authorization_pending"})),
        );
    }
    (
        StatusCode::OK,
        Json(json!({
            "access_token": format!("ciba-{phone}-{}", index.unwrap_or_default()),
            "token_type": "Bearer",
            "expires_in": 3600,
            "scope": "sim-swap",
        })),
    )
}

async fn token(State(s): S, headers: HeaderMap, body: String) -> impl IntoResponse {
    if bearer(&headers) != BASIC {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_client"})),
        );
    }
    if body.contains("grant_type=urn%3Aopenid%3Aparams%3Agrant-type%3Aciba") {
        return ciba_grant(&s, &body);
    }
    if body.contains("grant_type=authorization_code") {
        let form = form_of(&body);
        let code = form
            .iter()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        if let Some(id) = code.strip_prefix("idt-") {
            // A bound exchange: the answer's ID token as the code says.
            s.grant_forms.lock().unwrap().push(body.clone());
            let claims = match id {
                "none" => None,
                "garbage" => Some(json!("garbage")),
                "no-nonce" => Some(json!({"aud": "sandbox-client"})),
                nonce => Some(json!({"aud": "sandbox-client", "nonce": nonce})),
            };
            let mut answer =
                json!({"access_token": "user-token", "token_type": "Bearer", "expires_in": 3600});
            if let Some(claims) = claims {
                answer["id_token"] = match claims {
                    Value::String(raw) => json!(raw),
                    claims => json!(format!(
                        "eyJhbGciOiJFUzI1NiJ9.{}.c2ln",
                        base64::Engine::encode(
                            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                            claims.to_string()
                        )
                    )),
                };
            }
            return (StatusCode::OK, Json(answer));
        }
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
        .route("/oauth2/backchannel-authentication", post(backchannel))
        .route("/magic-auth/verification/start", post(|State(s): S, h: HeaderMap, Json(b): Json<Value>| async move {
            s.starts.fetch_add(1, Ordering::SeqCst);
            if s.unavailable_next.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() {
                let mut r = (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"code": "SERVICE_UNAVAILABLE", "message": "deploying", "status": 503}))).into_response();
                if !s.unavailable_bare.load(Ordering::SeqCst) {
                    r.headers_mut().insert("retry-after", axum::http::HeaderValue::from_static("1"));
                }
                return r;
            }
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
            if let Some(refused) = swap_auth(&s, &h, &b) { return refused; }
            record(&s, "swap", &h, b.clone()).await;
            let hours = b["maxAge"].as_u64().unwrap_or(240);
            Json(json!({"swapped": b["phoneNumber"] == "+15555550101" && hours >= 2})).into_response()
        }))
        .route("/sim-swap/retrieve-date", post(|State(s): S, h: HeaderMap, Json(b): Json<Value>| async move {
            if let Some(refused) = swap_auth(&s, &h, &b) { return refused; }
            record(&s, "date", &h, b.clone()).await;
            let now = OffsetDateTime::now_utc();
            let ago = |d: time::Duration| Json(json!({"latestSimChange": (now - d).format(&Rfc3339).unwrap()})).into_response();
            match b["phoneNumber"].as_str().unwrap_or_default() {
                "+15555550101" => ago(time::Duration::hours(2)),
                "+15555550103" => ago(time::Duration::days(20)),
                "+15555550104" => (StatusCode::UNPROCESSABLE_ENTITY, Json(json!({"status": 422, "code": "SERVICE_NOT_APPLICABLE", "message": "not supported"}))).into_response(),
                "+15555550105" => Json(json!({"latestSimChange": null, "monitoredPeriod": 120})).into_response(),
                "+15555550107" => (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({"status": 500, "code": "INTERNAL", "message": "boom"}))).into_response(),
                _ => Json(json!({"latestSimChange": "2020-01-01T00:00:00Z"})).into_response(),
            }
        }))
        .with_state(seen)
}

/// SIM swap calls need a CIBA token for the number in the body.
fn swap_auth(s: &Seen, h: &HeaderMap, b: &Value) -> Option<axum::response::Response> {
    let unauthorized = || {
        (
            StatusCode::UNAUTHORIZED,
            Json(json!({"code": "UNAUTHORIZED", "message": "Invalid or expired access token", "status": 401})),
        )
            .into_response()
    };
    let auth = bearer(h);
    let phone = b["phoneNumber"].as_str().unwrap_or_default();
    if !auth.starts_with(&format!("Bearer ciba-{phone}-")) {
        return Some(unauthorized());
    }
    if s.reject_swap_next.swap(0, Ordering::SeqCst) > 0 {
        return Some(unauthorized());
    }
    None
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
async fn number_verify_calls() {
    let (client, _, base) = server().await;
    let nv = client.number_verify();
    let url = nv
        .get_auth_url(&AuthUrlOptions {
            state: Some("st&ate".into()),
            use_dev_number: Some(phone("+15555550100")),
            redirect_uri: Some("https://app.test/cb".into()),
            print_code: true,
            secrets: None,
        })
        .unwrap();
    assert!(!url.as_str().contains("code_challenge"), "{url}");
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
}

/// `for_flow`: the URL carries the flow's nonce and S256 challenge (never the verifier), the
/// exchange sends the verifier, and the ID token must carry the nonce.
#[tokio::test]
async fn number_verify_flow_binds_the_code_with_nonce_and_pkce() {
    let (client, seen, _) = server().await;
    let nv = client.number_verify();
    let secrets = FlowSecrets::random();
    let url = nv
        .get_auth_url(&AuthUrlOptions {
            state: Some("st".into()),
            secrets: Some(secrets.clone()),
            ..AuthUrlOptions::default()
        })
        .unwrap();
    let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let get = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(get("nonce"), Some(secrets.nonce()));
    assert_eq!(
        get("code_challenge"),
        Some(secrets.code_challenge().as_str())
    );
    assert_eq!(get("code_challenge_method"), Some("S256"));
    assert!(!url.as_str().contains(secrets.code_verifier()), "{url}");

    let code = AuthCode::new(format!("idt-{}", secrets.nonce()));
    let user = nv
        .for_flow(&code, &secrets, Some(phone("+15555550100")))
        .await
        .unwrap();
    assert!(
        user.verify_number(None)
            .await
            .unwrap()
            .device_phone_number_verified
    );
    let sent = seen.grant_forms.lock().unwrap().pop().unwrap();
    let form = form_of(&sent);
    assert!(
        form.contains(&("code_verifier".into(), secrets.code_verifier().into())),
        "{sent}"
    );

    let other = FlowSecrets::random();
    for (what, code) in [
        (
            "the nonce of another flow",
            format!("idt-{}", other.nonce()),
        ),
        ("no ID token", "idt-none".to_owned()),
        ("an unreadable ID token", "idt-garbage".to_owned()),
        ("an ID token without nonce", "idt-no-nonce".to_owned()),
    ] {
        let e = nv
            .for_flow(&AuthCode::new(code), &secrets, None)
            .await
            .unwrap_err();
        assert_eq!(
            (e.http_status(), e.code()),
            (403, "NONCE_MISMATCH"),
            "{what}"
        );
    }
    let e = nv
        .for_flow(&AuthCode::new("used"), &secrets, None)
        .await
        .unwrap_err();
    assert_eq!((e.http_status(), e.code()), (400, "INVALID_GRANT"));
    assert!(!format!("{secrets:?}{nv:?}").contains(secrets.code_verifier()));
}

/// `for_flow` against the sandbox: a code issued for one flow's challenge is refused with any
/// other verifier, or none, and is then still redeemable, once, by its own flow; a code issued
/// without PKCE (as for Glide's SDKs) refuses a verifier and works with `for_user`.
#[tokio::test]
async fn number_verify_flow_against_the_sandbox() {
    let sandbox =
        glide_sandbox::Sandbox::start(glide_sandbox::SandboxConfig::default().with_port(0))
            .await
            .unwrap();
    let http: Arc<dyn glide_core::api::HttpClient> =
        Arc::new(glide_core::api::ReqwestClient::new().unwrap());
    let client = LegacyClient::from_parts(
        "sandbox-client",
        "sandbox-secret",
        &sandbox.base_url(),
        http,
    )
    .unwrap();
    let nv = client.number_verify();
    let number = phone("+15555550100");
    let code_of = |secrets: Option<FlowSecrets>| {
        let url = nv
            .get_auth_url(&AuthUrlOptions {
                use_dev_number: Some(number.clone()),
                print_code: true,
                secrets,
                ..AuthUrlOptions::default()
            })
            .unwrap();
        async move {
            let text = reqwest::get(url).await.unwrap().text().await.unwrap();
            let answer: Value = serde_json::from_str(&text).unwrap();
            AuthCode::new(answer["code"].as_str().unwrap())
        }
    };
    let secrets = FlowSecrets::random();
    let code = code_of(Some(secrets.clone())).await;
    for (what, attempt) in [
        (
            "another flow's verifier",
            nv.for_flow(&code, &FlowSecrets::random(), None).await,
        ),
        ("no verifier", nv.for_user(&code, None).await),
    ] {
        let e = attempt.unwrap_err();
        assert_eq!(
            (e.http_status(), e.code()),
            (400, "INVALID_GRANT"),
            "{what}"
        );
    }
    let user = nv
        .for_flow(&code, &secrets, Some(number.clone()))
        .await
        .unwrap();
    assert!(
        user.verify_number(None)
            .await
            .unwrap()
            .device_phone_number_verified
    );
    let replayed = nv.for_flow(&code, &secrets, None).await.unwrap_err();
    assert_eq!(
        (replayed.http_status(), replayed.code()),
        (400, "INVALID_GRANT")
    );

    let unbound = code_of(None).await;
    let e = nv.for_flow(&unbound, &secrets, None).await.unwrap_err();
    assert_eq!(
        (e.http_status(), e.code()),
        (400, "INVALID_GRANT"),
        "downgrade"
    );
    let user = nv.for_user(&unbound, Some(number)).await.unwrap();
    assert!(
        user.verify_number(None)
            .await
            .unwrap()
            .device_phone_number_verified
    );
}

#[tokio::test]
async fn sim_swap_speaks_ciba_with_a_token_per_number() {
    let (client, seen, _) = server().await;
    let swap = client.sim_swap();
    let swapped = phone("+15555550101");
    assert!(swap.check(&swapped, Some(240)).await.unwrap().swapped);
    assert!(!swap.check(&swapped, Some(1)).await.unwrap().swapped);
    let date = swap.retrieve_date(&swapped).await.unwrap();
    let age = OffsetDateTime::now_utc() - date.latest_sim_change.unwrap();
    assert!(
        age >= time::Duration::hours(2) && age < time::Duration::hours(3),
        "{age}"
    );
    // one CIBA authentication and one grant for three calls on one number
    let forms = seen.ciba_forms.lock().unwrap().clone();
    assert_eq!(
        forms,
        [(
            "application/x-www-form-urlencoded".to_owned(),
            "scope=sim-swap&login_hint=tel%3A%2B15555550101".to_owned()
        )]
    );
    assert_eq!(
        seen.grant_forms.lock().unwrap().clone(),
        ["grant_type=urn%3Aopenid%3Aparams%3Agrant-type%3Aciba&auth_req_id=req-secret-0"]
    );
    // the client-credentials token is never used for SIM swap
    assert_eq!(seen.tokens.load(Ordering::SeqCst), 0);
    let bodies = seen.bodies.lock().unwrap().clone();
    assert_eq!(
        bodies[0],
        (
            "swap".to_owned(),
            "Bearer ciba-+15555550101-0".to_owned(),
            json!({"phoneNumber": "+15555550101", "maxAge": 240})
        )
    );
    assert_eq!(bodies[2].2, json!({"phoneNumber": "+15555550101"}));

    // another number: its own CIBA authentication and token
    assert!(
        !swap
            .check(&phone("+15555550100"), None)
            .await
            .unwrap()
            .swapped
    );
    assert_eq!(seen.ciba_forms.lock().unwrap().len(), 2);
    let last = seen.bodies.lock().unwrap().last().unwrap().clone();
    assert_eq!(last.1, "Bearer ciba-+15555550100-1");
    assert_eq!(last.2, json!({"phoneNumber": "+15555550100"}));

    // a 401 on a cached token: one new CIBA grant for that number, the call sent once more
    seen.reject_swap_next.store(1, Ordering::SeqCst);
    assert!(swap.check(&swapped, None).await.unwrap().swapped);
    assert_eq!(seen.ciba_forms.lock().unwrap().len(), 3);
    let last = seen.bodies.lock().unwrap().last().unwrap().clone();
    assert_eq!(last.1, "Bearer ciba-+15555550101-2");

    // nothing is sent for an out-of-range window
    assert!(matches!(
        swap.check(&swapped, Some(0)).await,
        Err(Error::Validation { .. })
    ));
    assert!(matches!(
        swap.check(&swapped, Some(2401)).await,
        Err(Error::Validation { .. })
    ));
    assert_eq!(seen.ciba_forms.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn ciba_grant_is_polled_while_pending() {
    let (client, seen, _) = server().await;
    seen.pending_left.store(1, Ordering::SeqCst);
    let date = client
        .sim_swap()
        .retrieve_date(&phone("+15555550103"))
        .await
        .unwrap();
    assert!(date.latest_sim_change.is_some());
    let grants = seen.grant_forms.lock().unwrap().clone();
    assert_eq!(grants.len(), 2, "one pending answer, then the token");
    assert_eq!(grants[0], grants[1], "the same auth_req_id is polled");
    assert_eq!(seen.ciba_forms.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn signal_maps_the_swap_age_to_a_risk_level() {
    let (client, _, _) = server().await;
    let swap = client.sim_swap();
    let default = SimSwapRiskMapping::default();
    let recent = swap.signal(&phone("+15555550101"), &default).await.unwrap();
    assert!(recent.checked);
    assert_eq!(recent.risk_level, Some(RiskLevel::High));
    assert_eq!(recent.age_band.as_deref(), Some("0-4 hours"));
    assert!(recent.reason.is_none());
    let checked_at =
        OffsetDateTime::parse(recent.checked_at.as_deref().unwrap(), &Rfc3339).unwrap();
    assert!((OffsetDateTime::now_utc() - checked_at).abs() < time::Duration::minutes(1));

    let weeks = swap.signal(&phone("+15555550103"), &default).await.unwrap();
    assert_eq!(
        (weeks.risk_level, weeks.age_band.as_deref()),
        (Some(RiskLevel::Medium), Some("14-30 days"))
    );
    // a stricter mapping turns the same answer high
    let strict = SimSwapRiskMapping::new().high_below(std::time::Duration::from_secs(21 * 86_400));
    let weeks = swap.signal(&phone("+15555550103"), &strict).await.unwrap();
    assert_eq!(weeks.risk_level, Some(RiskLevel::High));

    let old = swap.signal(&phone("+15555550100"), &default).await.unwrap();
    assert_eq!(
        (old.checked, old.risk_level, old.age_band.as_deref()),
        (true, Some(RiskLevel::Low), Some("more than 3 years"))
    );
    // no date, but 120 days watched without a change
    let watched = swap.signal(&phone("+15555550105"), &default).await.unwrap();
    assert_eq!(
        (watched.risk_level, watched.age_band.as_deref()),
        (Some(RiskLevel::Low), Some("older than query window"))
    );

    let unsupported = swap.signal(&phone("+15555550104"), &default).await.unwrap();
    assert!(!unsupported.checked);
    assert_eq!(unsupported.reason.as_deref(), Some("carrier_not_supported"));
    assert!(unsupported.risk_level.is_none() && unsupported.checked_at.is_some());
    assert_eq!(
        serde_json::to_value(&unsupported).unwrap()["reason"],
        "carrier_not_supported"
    );

    // a failing check is the caller's to decide on: an error, never a made-up signal
    let failed = swap
        .signal(&phone("+15555550107"), &default)
        .await
        .unwrap_err();
    assert_eq!(failed.http_status(), 503);
    assert!(matches!(&failed, Error::Api(api) if api.status == 500));
}

#[tokio::test]
async fn legacy_calls_wait_out_503_with_retry_after() {
    let (client, seen, _) = server().await;
    let magic = client.magic_auth();
    let start = StartAuthRequest::phone(phone("+15555550100"));
    seen.unavailable_next.store(1, Ordering::SeqCst);
    let started = magic.start_auth(&start).await.unwrap();
    assert_eq!(started.auth_type, AuthType::Magic);
    assert_eq!(seen.starts.load(Ordering::SeqCst), 2, "sent twice");
    // more 503s than the policy's two retries: Glide's 503 comes back
    seen.unavailable_next.store(5, Ordering::SeqCst);
    let e = magic.start_auth(&start).await.unwrap_err();
    assert!(matches!(&e, Error::Api(api) if api.status == 503));
    assert_eq!(seen.starts.load(Ordering::SeqCst), 5);
    // without Retry-After: never retried
    seen.unavailable_next.store(1, Ordering::SeqCst);
    seen.unavailable_bare.store(true, Ordering::SeqCst);
    assert!(magic.start_auth(&start).await.is_err());
    assert_eq!(seen.starts.load(Ordering::SeqCst), 6);
}

#[tokio::test]
async fn ciba_secrets_and_numbers_stay_out_of_logs() {
    let (logs, _guard) = log_support::capture(tracing::Level::TRACE);
    let (client, seen, _) = server().await;
    seen.pending_left.store(1, Ordering::SeqCst);
    seen.reject_swap_next.store(1, Ordering::SeqCst);
    let swap = client.sim_swap();
    swap.signal(&phone("+15555550101"), &SimSwapRiskMapping::default())
        .await
        .unwrap();
    let text = logs.text();
    assert!(text.contains("CIBA"), "the flow is logged: {text}");
    for secret in ["req-secret", "ciba-", "sandbox-secret", "5555550101"] {
        assert!(!text.contains(secret), "{secret} in logs: {text}");
    }
    assert!(!format!("{client:?}{swap:?}").contains("req-secret"));
}

#[tokio::test]
async fn signal_against_the_sandbox_fixtures() {
    let sandbox =
        glide_sandbox::Sandbox::start(glide_sandbox::SandboxConfig::default().with_port(0))
            .await
            .unwrap();
    let http: Arc<dyn glide_core::api::HttpClient> =
        Arc::new(glide_core::api::ReqwestClient::new().unwrap());
    let client = LegacyClient::from_parts(
        "sandbox-client",
        "sandbox-secret",
        &sandbox.base_url(),
        http,
    )
    .unwrap();
    let swap = client.sim_swap();
    let mapping = SimSwapRiskMapping::default();
    for (number, risk, band) in [
        ("+15555550101", RiskLevel::High, "0-4 hours"),
        ("+15555550109", RiskLevel::High, "0-4 hours"),
        ("+15555550103", RiskLevel::Medium, "14-30 days"),
        ("+15555550100", RiskLevel::Low, "more than 3 years"),
        ("+15555550142", RiskLevel::Low, "more than 3 years"),
    ] {
        let signal = swap.signal(&phone(number), &mapping).await.unwrap();
        assert!(signal.checked, "{number}");
        assert_eq!(signal.risk_level, Some(risk), "{number}");
        assert_eq!(signal.age_band.as_deref(), Some(band), "{number}");
    }
    let unsupported = swap.signal(&phone("+15555550104"), &mapping).await.unwrap();
    assert_eq!(
        (unsupported.checked, unsupported.reason.as_deref()),
        (false, Some("carrier_not_supported"))
    );
    assert!(
        swap.check(&phone("+15555550109"), Some(3))
            .await
            .unwrap()
            .swapped
    );
    assert!(
        !swap
            .check(&phone("+15555550109"), Some(1))
            .await
            .unwrap()
            .swapped
    );
    assert!(
        !swap
            .check(&phone("+15555550100"), Some(2400))
            .await
            .unwrap()
            .swapped
    );
    sandbox.shutdown();
}

/// The Device Swap client against the sandbox: its own CIBA scope (`device-swap`, a token of
/// its own beside the SIM swap one), `/device-swap/v1/*`, and the signal read as the SIM swap
/// one with the same default mapping, so `+15555550102` (device changed 1-2 days ago) is high
/// risk as its Magical Auth `device_swap` says.
#[tokio::test]
async fn device_swap_signal_against_the_sandbox_fixtures() {
    let sandbox =
        glide_sandbox::Sandbox::start(glide_sandbox::SandboxConfig::default().with_port(0))
            .await
            .unwrap();
    let http: Arc<dyn glide_core::api::HttpClient> =
        Arc::new(glide_core::api::ReqwestClient::new().unwrap());
    let client = LegacyClient::from_parts(
        "sandbox-client",
        "sandbox-secret",
        &sandbox.base_url(),
        http,
    )
    .unwrap();
    let device = client.device_swap();
    let mapping = SimSwapRiskMapping::default();
    for (number, risk, band) in [
        ("+15555550102", RiskLevel::High, "1-2 days"),
        // its SIM changed, not its device
        ("+15555550101", RiskLevel::Low, "more than 3 years"),
        ("+15555550100", RiskLevel::Low, "more than 3 years"),
    ] {
        let signal = device.signal(&phone(number), &mapping).await.unwrap();
        assert!(signal.checked, "{number}");
        assert_eq!(signal.risk_level, Some(risk), "{number}");
        assert_eq!(signal.age_band.as_deref(), Some(band), "{number}");
        assert!(signal.checked_at.is_some(), "{number}");
    }
    let unsupported = device
        .signal(&phone("+15555550104"), &mapping)
        .await
        .unwrap();
    assert_eq!(
        (unsupported.checked, unsupported.reason.as_deref()),
        (false, Some("carrier_not_supported"))
    );
    let changed = phone("+15555550102");
    assert!(device.check(&changed, Some(48)).await.unwrap().swapped);
    assert!(!device.check(&changed, Some(24)).await.unwrap().swapped);
    let date = device.retrieve_date(&changed).await.unwrap();
    assert!(date.latest_device_change.is_some());
    assert!(matches!(
        device.check(&changed, Some(0)).await,
        Err(Error::Validation { .. })
    ));
    // The SIM swap signal of the same number is asked with a token of its own scope.
    let sim = client.sim_swap().signal(&changed, &mapping).await.unwrap();
    assert_eq!(sim.risk_level, Some(RiskLevel::Low));
    let requests = sandbox.control().requests();
    let scopes: Vec<&str> = requests
        .iter()
        .filter(|r| r.path == "/oauth2/backchannel-authentication")
        .filter(|r| r.body["login_hint"] == "tel:+15555550102")
        .filter_map(|r| r.body["scope"].as_str())
        .collect();
    assert_eq!(scopes, ["device-swap", "sim-swap"], "{requests:?}");
    assert!(requests
        .iter()
        .any(|r| r.path == "/device-swap/v1/retrieve-date"));
    sandbox.shutdown();
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

/// Every sandbox fault on each call of the signal (the CIBA request, the grant, retrieve-date):
/// an error, never a made-up signal; a 503 with `Retry-After` is waited out; and the next call
/// recovers without a restart.
#[tokio::test]
async fn signal_faults_are_errors_and_recover() {
    use glide_sandbox::Fault;
    let sandbox =
        glide_sandbox::Sandbox::start(glide_sandbox::SandboxConfig::default().with_port(0))
            .await
            .unwrap();
    let control = sandbox.control();
    let http: Arc<dyn glide_core::api::HttpClient> =
        Arc::new(glide_core::api::ReqwestClient::new().unwrap());
    let mapping = SimSwapRiskMapping::default();
    for path in [
        "/oauth2/backchannel-authentication",
        "/oauth2/token",
        "/sim-swap/retrieve-date",
    ] {
        for (fault, recovers_in_the_call) in [
            (Fault::status(path, 503).with_retry_after(1), true),
            (Fault::status(path, 503), false),
            (Fault::status(path, 500), false),
            (Fault::malformed(path), false),
            (Fault::drop_connection(path), false),
        ] {
            // a fresh client each time: no cached subscriber token skips the faulted step
            let client = LegacyClient::from_parts(
                "sandbox-client",
                "sandbox-secret",
                &sandbox.base_url(),
                Arc::clone(&http),
            )
            .unwrap();
            let what = format!("{fault:?}");
            control.add_fault(fault);
            let outcome = client
                .sim_swap()
                .signal(&phone("+15555550101"), &mapping)
                .await;
            if recovers_in_the_call {
                assert_eq!(outcome.unwrap().risk_level, Some(RiskLevel::High), "{what}");
            } else {
                let error = outcome.unwrap_err();
                assert!(error.http_status() >= 500, "{what}: {error:?}");
            }
            control.clear_faults();
            let again = client
                .sim_swap()
                .signal(&phone("+15555550101"), &mapping)
                .await
                .unwrap();
            assert_eq!(again.risk_level, Some(RiskLevel::High), "{what}: recovery");
        }
    }
    sandbox.shutdown();
}
