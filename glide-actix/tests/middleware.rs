//! glide-actix against the real sandbox: the middleware answers the engine's routes, passes the
//! rest through, and the extractor sees the verified session (or rejects without a panic).

use std::io::{Read as _, Write as _};
use std::sync::OnceLock;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::test::{self, TestRequest};
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use glide_actix::core::api::Glide;
use glide_actix::core::endpoint::{GlideAuth, Rejection};
use glide_actix::{GlideMiddleware, GlideRequestExt as _, GlideRoutes, VerifiedPhone};
use glide_sandbox::{Sandbox, SandboxConfig};
use serde_json::{json, Value};

const ANDROID: &str =
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/126.0 Mobile Safari/537.36";
const ORIGIN: &str = "http://localhost:8080";

/// One sandbox for the whole file, on its own runtime thread (actix runs its own runtime).
fn sandbox() -> &'static Sandbox {
    static SANDBOX: OnceLock<Sandbox> = OnceLock::new();
    SANDBOX.get_or_init(|| {
        Sandbox::start_on_thread(SandboxConfig::default()).expect("the sandbox starts")
    })
}

/// A fresh engine (own memory store) talking to the sandbox, with cookies for plain http.
fn auth() -> GlideAuth {
    let glide = Glide::builder("sandbox-client", "sandbox-secret")
        .base_url(sandbox().base_url())
        .build()
        .expect("client");
    GlideAuth::builder(glide)
        .insecure_dev_cookies(true)
        .build()
        .expect("engine")
}

async fn me(phone: VerifiedPhone) -> web::Json<VerifiedPhone> {
    web::Json(phone)
}

async fn maybe(phone: Option<VerifiedPhone>) -> HttpResponse {
    match phone {
        Some(phone) => HttpResponse::Ok().body(phone.phone_number.as_str().to_owned()),
        None => HttpResponse::Ok().body("none"),
    }
}

async fn via_ext(request: HttpRequest) -> HttpResponse {
    match request.verified_phone().await {
        Ok(Some(phone)) => HttpResponse::Ok().body(phone.phone_number.as_str().to_owned()),
        Ok(None) => HttpResponse::Ok().body("none"),
        Err(error) => HttpResponse::Ok().body(format!("error: {error}")),
    }
}

/// Any verification will do: the extractor form with the weakest requirement.
struct AnyVerification;

impl glide_core::endpoint::Requirement for AnyVerification {
    fn requirement() -> glide_core::endpoint::RequireVerified {
        glide_core::endpoint::RequireVerified::new()
    }
}

async fn guarded(phone: glide_actix::VerifiedWith<AnyVerification>) -> String {
    phone.phone_number.as_str().to_owned()
}

async fn hello() -> &'static str {
    "hello from the app"
}

/// The demo-shaped app: middleware + `/me`, `/maybe`, `/ext`, `/hello`.
fn app(
    auth: GlideAuth,
) -> App<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new()
        .wrap(GlideMiddleware::new(auth))
        .route("/me", web::get().to(me))
        .route("/maybe", web::get().to(maybe))
        .route("/ext", web::get().to(via_ext))
        .route("/hello", web::get().to(hello))
}

async fn body_json(response: ServiceResponse<impl MessageBody>) -> Value {
    let bytes = test::read_body(response).await;
    serde_json::from_slice(&bytes).expect("a JSON body")
}

fn prepare_request(user_agent: &str) -> TestRequest {
    TestRequest::post()
        .uri("/api/magical-auth/prepare")
        .insert_header(("content-type", "application/json"))
        .set_payload(
            json!({"use_case": "GetPhoneNumber", "client_info": {"user_agent": user_agent}})
                .to_string(),
        )
}

/// `name=value` of the first `Set-Cookie` whose name is `name`.
fn cookie_pair(response: &ServiceResponse<impl MessageBody>, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .filter_map(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or_default().trim().to_owned())
        .find(|pair| pair.starts_with(&format!("{name}=")))
}

#[actix_web::test]
async fn the_middleware_answers_prepare_and_passes_other_routes_through() {
    let service = test::init_service(app(auth())).await;

    let response = test::call_service(&service, prepare_request(ANDROID).to_request()).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response
            .headers()
            .get("cache-control")
            .map(|v| v.as_bytes()),
        Some(&b"no-store"[..])
    );
    let body = body_json(response).await;
    assert_eq!(body["authentication_strategy"], "ts43");
    assert!(body["session"]["session_key"].is_string(), "{body}");
    assert!(!body.to_string().contains("fe_code"));

    let response =
        test::call_service(&service, TestRequest::get().uri("/hello").to_request()).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(test::read_body(response).await, "hello from the app");

    // Our routes check the method themselves: a wrong one is a 405 with the error body.
    let response = test::call_service(
        &service,
        TestRequest::get()
            .uri("/api/magical-auth/prepare")
            .to_request(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(body_json(response).await["code"], "METHOD_NOT_ALLOWED");
}

#[actix_web::test]
async fn without_a_session_me_is_401_not_verified_and_option_is_none() {
    let service = test::init_service(app(auth())).await;

    let response = test::call_service(&service, TestRequest::get().uri("/me").to_request()).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let expected = Rejection::NotVerified.to_response();
    assert_eq!(
        response.headers().get("content-type").map(|v| v.as_bytes()),
        Some(&b"application/json"[..])
    );
    assert_eq!(test::read_body(response).await, expected.body());

    // An unknown session id is no session either.
    let request = TestRequest::get()
        .uri("/me")
        .insert_header(("cookie", "glide_session=forged"))
        .to_request();
    let response = test::call_service(&service, request).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(body_json(response).await["code"], "NOT_VERIFIED");

    let response =
        test::call_service(&service, TestRequest::get().uri("/maybe").to_request()).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(test::read_body(response).await, "none");

    let response = test::call_service(&service, TestRequest::get().uri("/ext").to_request()).await;
    assert_eq!(test::read_body(response).await, "none");
}

#[actix_web::test]
async fn without_the_middleware_the_extractor_is_a_500_naming_it() {
    let service = test::init_service(
        App::new()
            .route("/me", web::get().to(me))
            .route("/maybe", web::get().to(maybe))
            .route("/guarded", web::get().to(guarded))
            .route("/ext", web::get().to(via_ext)),
    )
    .await;

    let expected = Rejection::MissingMiddleware("GlideMiddleware").to_response();
    let response =
        test::call_service(&service, TestRequest::get().uri("/guarded").to_request()).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(test::read_body(response).await, expected.body());

    let response = test::call_service(&service, TestRequest::get().uri("/me").to_request()).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body = test::read_body(response).await;
    assert_eq!(body, expected.body());
    let body: Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(body["code"], "MISSING_MIDDLEWARE");
    assert!(body["message"]
        .as_str()
        .is_some_and(|m| m.contains("GlideMiddleware")));

    // `Option<VerifiedPhone>` cannot tell the handler, so it reads None (and logs an error).
    let response =
        test::call_service(&service, TestRequest::get().uri("/maybe").to_request()).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(test::read_body(response).await, "none");

    let response = test::call_service(&service, TestRequest::get().uri("/ext").to_request()).await;
    let body = test::read_body(response).await;
    assert!(
        String::from_utf8_lossy(&body).contains("GlideMiddleware is not installed"),
        "{body:?}"
    );
}

/// Prepare (Android → TS43) → the sandbox's credential → process: returns the session cookie.
async fn verify_by_ts43<S, B>(service: &S) -> String
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let response = test::call_service(service, prepare_request(ANDROID).to_request()).await;
    assert_eq!(response.status(), StatusCode::OK);
    let binding = response
        .headers()
        .get_all("set-cookie")
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .find(|pair| pair.starts_with("_glide_bind_"))
        .expect("a binding cookie")
        .to_owned();
    let prepared = body_json(response).await;
    let session = prepared["session"].clone();
    let session_key = session["session_key"].as_str().expect("session_key");
    let credential = sandbox()
        .control()
        .ts43_credential(session_key, ORIGIN, None)
        .expect("a credential");

    let request = TestRequest::post()
        .uri("/api/magical-auth/process")
        .insert_header(("content-type", "application/json"))
        .insert_header(("cookie", binding.as_str()))
        .insert_header(("host", ORIGIN.trim_start_matches("http://")))
        .set_payload(
            json!({"session": session, "credential": credential, "use_case": "GetPhoneNumber"})
                .to_string(),
        )
        .to_request();
    let response = test::call_service(service, request).await;
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = cookie_pair(&response, "glide_session").expect("a verified-session cookie");
    let body = body_json(response).await;
    assert_eq!(body["phone_number"], "+15555550100", "{body}");
    cookie
}

#[actix_web::test]
async fn a_full_ts43_flow_gives_me_the_verified_phone_and_logout_ends_it() {
    let service = test::init_service(app(auth())).await;
    let cookie = verify_by_ts43(&service).await;

    let request = TestRequest::get()
        .uri("/me")
        .insert_header(("cookie", cookie.as_str()))
        .to_request();
    let response = test::call_service(&service, request).await;
    assert_eq!(response.status(), StatusCode::OK);
    let me = body_json(response).await;
    assert_eq!(me["phone_number"], "+15555550100");
    assert_eq!(me["use_case"], "GetPhoneNumber");
    assert_eq!(me["strategy"], "ts43");
    assert_eq!(me["sim_swap"]["risk_level"], "RISK_LEVEL_LOW");
    assert!(me["verified_at"].is_string());

    for uri in ["/maybe", "/ext"] {
        let request = TestRequest::get()
            .uri(uri)
            .insert_header(("cookie", format!("other=1; {cookie}")))
            .to_request();
        let response = test::call_service(&service, request).await;
        assert_eq!(test::read_body(response).await, "+15555550100", "{uri}");
    }

    let request = TestRequest::post()
        .uri("/api/magical-auth/logout")
        .insert_header(("cookie", cookie.as_str()))
        .to_request();
    let response = test::call_service(&service, request).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        cookie_pair(&response, "glide_session").as_deref(),
        Some("glide_session=")
    );

    let request = TestRequest::get()
        .uri("/me")
        .insert_header(("cookie", cookie.as_str()))
        .to_request();
    let response = test::call_service(&service, request).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[actix_web::test]
async fn glide_routes_mount_the_same_routes_and_app_data_feeds_the_extractor() {
    let auth = auth();
    let service = test::init_service(
        App::new()
            .app_data(auth.clone())
            .service(GlideRoutes::new(auth))
            .route("/me", web::get().to(me)),
    )
    .await;

    let response = test::call_service(&service, TestRequest::get().uri("/me").to_request()).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(body_json(response).await["code"], "NOT_VERIFIED");

    let response = test::call_service(
        &service,
        TestRequest::get()
            .uri("/api/magical-auth/glide.js")
            .to_request(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);

    let response = test::call_service(
        &service,
        TestRequest::get().uri("/glide-complete").to_request(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response
            .headers()
            .get("x-frame-options")
            .map(|v| v.as_bytes()),
        Some(&b"DENY"[..])
    );

    let response = test::call_service(
        &service,
        TestRequest::get()
            .uri("/api/magical-auth/status/unknown-key")
            .to_request(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(body_json(response).await["code"], "SESSION_NOT_FOUND");

    let cookie = verify_by_ts43(&service).await;
    let request = TestRequest::get()
        .uri("/me")
        .insert_header(("cookie", cookie.as_str()))
        .to_request();
    let response = test::call_service(&service, request).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body_json(response).await["phone_number"], "+15555550100");
}

#[actix_web::test]
async fn a_declared_body_over_the_limit_is_413() {
    let glide = Glide::builder("sandbox-client", "sandbox-secret")
        .base_url(sandbox().base_url())
        .build()
        .expect("client");
    let auth = GlideAuth::builder(glide)
        .insecure_dev_cookies(true)
        .body_limit(1024)
        .build()
        .expect("engine");
    let service = test::init_service(app(auth)).await;
    let request = TestRequest::post()
        .uri("/api/magical-auth/prepare")
        .insert_header(("content-type", "application/json"))
        .set_payload(vec![b' '; 2048])
        .to_request();
    let response = test::call_service(&service, request).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body_json(response).await["code"], "PAYLOAD_TOO_LARGE");
}

/// Sends raw HTTP/1.1 and returns the whole answer (the server closes or we read what came).
fn raw_http(addr: std::net::SocketAddr, request: &[u8]) -> String {
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .expect("timeout");
    stream.write_all(request).expect("write");
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = stream.read(&mut buf) {
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&buf[..n]);
        if String::from_utf8_lossy(&answer).contains("\"status\":413}") {
            break;
        }
    }
    String::from_utf8_lossy(&answer).into_owned()
}

#[actix_web::test]
async fn a_chunked_body_streaming_past_the_limit_is_413_on_a_real_server() {
    let glide = Glide::builder("sandbox-client", "sandbox-secret")
        .base_url(sandbox().base_url())
        .build()
        .expect("client");
    let auth = GlideAuth::builder(glide)
        .insecure_dev_cookies(true)
        .body_limit(1024)
        .build()
        .expect("engine");
    let server = HttpServer::new(move || app(auth.clone()))
        .workers(1)
        .bind(("127.0.0.1", 0))
        .expect("bind");
    let addr = server.addrs()[0];
    let server = server.run();
    let handle = server.handle();
    actix_web::rt::spawn(server);

    let chunk = "x".repeat(600);
    let request = format!(
        "POST /api/magical-auth/prepare HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\n\r\n{len:x}\r\n{chunk}\r\n{len:x}\r\n{chunk}\r\n0\r\n\r\n",
        len = chunk.len()
    );
    let answer = actix_web::rt::task::spawn_blocking(move || raw_http(addr, request.as_bytes()))
        .await
        .expect("client thread");
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(
        answer.contains("\"code\":\"PAYLOAD_TOO_LARGE\""),
        "{answer}"
    );

    // The same server passes the app's own routes through.
    let answer = actix_web::rt::task::spawn_blocking(move || {
        raw_http(
            addr,
            format!("GET /hello HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
        )
    })
    .await
    .expect("client thread");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("hello from the app"), "{answer}");
    handle.stop(true).await;
}

async fn custom() -> &'static str {
    "the app's own route"
}

#[actix_web::test]
async fn glide_routes_answer_every_engine_route_like_the_middleware_and_shadow_no_app_route() {
    let auth = auth();
    let routes = test::init_service(
        App::new()
            .app_data(auth.clone())
            .service(GlideRoutes::new(auth.clone()))
            .route("/api/magical-auth/custom", web::get().to(custom)),
    )
    .await;
    let middleware = test::init_service(
        App::new()
            .wrap(GlideMiddleware::new(auth))
            .route("/api/magical-auth/custom", web::get().to(custom)),
    )
    .await;

    let response = test::call_service(
        &routes,
        TestRequest::get()
            .uri("/api/magical-auth/custom")
            .to_request(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(test::read_body(response).await, "the app's own route");

    let requests = || {
        [
            TestRequest::get().uri("/api/magical-auth/magic-auth/check-server-auth"),
            TestRequest::post()
                .uri("/api/magical-auth/magic-auth/start")
                .insert_header(("content-type", "application/json"))
                .set_payload("{}"),
            TestRequest::get().uri("/api/magical-auth/logout"),
            TestRequest::put().uri("/api/magical-auth/process"),
            TestRequest::get().uri("/api/magical-auth/status/nope"),
        ]
    };
    for (via_routes, via_middleware) in requests().into_iter().zip(requests()) {
        let a = test::call_service(&routes, via_routes.to_request()).await;
        let b = test::call_service(&middleware, via_middleware.to_request()).await;
        let (status_a, status_b) = (a.status(), b.status());
        let (body_a, body_b) = (test::read_body(a).await, test::read_body(b).await);
        assert!(status_a.is_client_error(), "{status_a} {body_a:?}");
        assert_eq!((status_a, &body_a), (status_b, &body_b));
        let body: Value = serde_json::from_slice(&body_a).expect("an error body");
        assert_eq!(body["status"], status_a.as_u16());
    }
}

/// A store whose backend is down: every operation times out.
#[derive(Debug)]
struct DownStore;

#[async_trait::async_trait]
impl glide_actix::core::store::Store for DownStore {
    async fn create(
        &self,
        _: &str,
        _: &[u8],
        _: std::time::Duration,
    ) -> Result<bool, glide_actix::core::store::StoreError> {
        Err(glide_actix::core::store::StoreError::Timeout)
    }
    async fn load(
        &self,
        _: &str,
    ) -> Result<Option<glide_actix::core::store::Versioned>, glide_actix::core::store::StoreError>
    {
        Err(glide_actix::core::store::StoreError::Timeout)
    }
    async fn compare_and_set(
        &self,
        _: &str,
        _: u64,
        _: &[u8],
        _: std::time::Duration,
    ) -> Result<bool, glide_actix::core::store::StoreError> {
        Err(glide_actix::core::store::StoreError::Timeout)
    }
    async fn take(
        &self,
        _: &str,
    ) -> Result<Option<glide_actix::core::store::Versioned>, glide_actix::core::store::StoreError>
    {
        Err(glide_actix::core::store::StoreError::Timeout)
    }
    async fn delete(&self, _: &str) -> Result<(), glide_actix::core::store::StoreError> {
        Err(glide_actix::core::store::StoreError::Timeout)
    }
    async fn increment(
        &self,
        _: &str,
        _: u64,
        _: std::time::Duration,
    ) -> Result<Option<u64>, glide_actix::core::store::StoreError> {
        Err(glide_actix::core::store::StoreError::Timeout)
    }
}

#[actix_web::test]
async fn a_store_failure_is_an_opaque_5xx_for_the_extractor_and_none_for_option() {
    let glide = Glide::builder("sandbox-client", "sandbox-secret")
        .base_url(sandbox().base_url())
        .build()
        .expect("client");
    let auth = GlideAuth::builder(glide)
        .insecure_dev_cookies(true)
        .store(DownStore)
        .build()
        .expect("engine");
    let service = test::init_service(app(auth)).await;
    let with_cookie = |uri: &str| {
        TestRequest::get()
            .uri(uri)
            .insert_header((
                "cookie",
                "glide_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            ))
            .to_request()
    };

    let response = test::call_service(&service, with_cookie("/me")).await;
    assert!(response.status().is_server_error(), "{}", response.status());
    let status = response.status().as_u16();
    let body = body_json(response).await;
    assert_eq!(body["status"], status);
    assert!(body["code"].is_string());
    assert!(
        !body.to_string().to_lowercase().contains("timed out"),
        "{body}"
    );

    let response = test::call_service(&service, with_cookie("/maybe")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(test::read_body(response).await, "none");

    // Without a session cookie there is nothing to look up: a plain 401.
    let response = test::call_service(&service, TestRequest::get().uri("/me").to_request()).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}
