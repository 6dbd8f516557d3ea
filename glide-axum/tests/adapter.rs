//! The axum adapter over a real socket, against the real sandbox.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::routing::get;
use axum::{Extension, Json, Router};
use glide_axum::core::api::Glide;
use glide_axum::core::endpoint::{GlideAuth, RequestContext};
use glide_axum::core::store::{MemoryStore, Store, StoreError, Versioned};
use glide_axum::{glide_router, GlideLayer, VerifiedPhone};
use glide_sandbox::{Sandbox, SandboxConfig};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ANDROID: &str =
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/126.0 Mobile Safari/537.36";
const IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 Safari/604.1";

/// A store that counts `load` calls, to see how often a request reads the session.
#[derive(Debug)]
struct CountingStore {
    inner: MemoryStore,
    loads: Arc<AtomicUsize>,
}

#[async_trait]
impl Store for CountingStore {
    async fn create(&self, key: &str, value: &[u8], ttl: Duration) -> Result<bool, StoreError> {
        self.inner.create(key, value, ttl).await
    }
    async fn load(&self, key: &str) -> Result<Option<Versioned>, StoreError> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        self.inner.load(key).await
    }
    async fn compare_and_set(
        &self,
        key: &str,
        expected_version: u64,
        value: &[u8],
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        self.inner
            .compare_and_set(key, expected_version, value, ttl)
            .await
    }
    async fn take(&self, key: &str) -> Result<Option<Versioned>, StoreError> {
        self.inner.take(key).await
    }
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.inner.delete(key).await
    }
    async fn increment(
        &self,
        key: &str,
        max: u64,
        ttl: Duration,
    ) -> Result<Option<u64>, StoreError> {
        self.inner.increment(key, max, ttl).await
    }
}

struct Harness {
    base: String,
    sandbox: Sandbox,
    loads: Arc<AtomicUsize>,
    http: reqwest::Client,
}

async fn auth_for(sandbox: &Sandbox, loads: Arc<AtomicUsize>, body_limit: usize) -> GlideAuth {
    let glide = Glide::builder("sandbox-client", "sandbox-secret")
        .base_url(sandbox.base_url())
        .build()
        .expect("glide client");
    GlideAuth::builder(glide)
        .store(CountingStore {
            inner: MemoryStore::default(),
            loads,
        })
        .insecure_dev_cookies(true)
        .body_limit(body_limit)
        .build()
        .expect("engine")
}

async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .expect("serve");
    });
    format!("http://{addr}")
}

async fn me(phone: VerifiedPhone) -> Json<VerifiedPhone> {
    Json(phone)
}

async fn maybe(phone: Option<VerifiedPhone>) -> String {
    phone.map_or_else(|| "none".to_owned(), |p| p.phone_number.to_string())
}

async fn twice(first: VerifiedPhone, second: Option<VerifiedPhone>) -> String {
    if second.as_ref() == Some(&first) {
        first.phone_number.to_string()
    } else {
        "the two extractors disagree".to_owned()
    }
}

async fn context(Extension(ctx): Extension<RequestContext>) -> String {
    ctx.auth().session_cookie_name().to_owned()
}

/// Any verification will do: the extractor form with the weakest requirement.
struct AnyVerification;

impl glide_core::endpoint::Requirement for AnyVerification {
    fn requirement() -> glide_core::endpoint::RequireVerified {
        glide_core::endpoint::RequireVerified::new()
    }
}

async fn guarded(phone: glide_axum::VerifiedWith<AnyVerification>) -> String {
    phone.phone_number.as_str().to_owned()
}

fn app() -> Router {
    Router::new()
        .route("/me", get(me))
        .route("/guarded", get(guarded))
        .route("/maybe", get(maybe))
        .route("/twice", get(twice))
        .route("/context", get(context))
        .route("/plain", get(|| async { "hello" }))
}

async fn harness() -> Harness {
    let sandbox = Sandbox::start(SandboxConfig::default())
        .await
        .expect("sandbox");
    let loads = Arc::new(AtomicUsize::new(0));
    let auth = auth_for(&sandbox, Arc::clone(&loads), 1024).await;
    let base = serve(app().layer(GlideLayer::new(auth))).await;
    Harness {
        base,
        sandbox,
        loads,
        http: reqwest::Client::new(),
    }
}

impl Harness {
    async fn prepare(&self, body: Value) -> reqwest::Response {
        self.http
            .post(format!("{}/api/magical-auth/prepare", self.base))
            .json(&body)
            .send()
            .await
            .expect("prepare")
    }

    async fn get(&self, path: &str, cookie: Option<&str>) -> reqwest::Response {
        let mut request = self.http.get(format!("{}{path}", self.base));
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        request.send().await.expect("get")
    }

    /// A full TS43 verification; returns the session cookie (`name=value`).
    async fn verify_ts43(&self, phone: &str) -> String {
        let response = self
            .prepare(json!({
                "use_case": "VerifyPhoneNumber",
                "phone_number": phone,
                "client_info": { "user_agent": ANDROID },
            }))
            .await;
        let binding = binding_cookie(&response);
        let prepared: Value = response.json().await.expect("prepare json");
        let key = prepared["session"]["session_key"]
            .as_str()
            .expect("session key");
        let credential = self
            .sandbox
            .control()
            .ts43_credential(key, &self.base, None)
            .expect("credential");
        let processed = self
            .http
            .post(format!("{}/api/magical-auth/process", self.base))
            .header("cookie", binding)
            .json(&json!({
                "session": prepared["session"],
                "credential": credential,
                "use_case": "VerifyPhoneNumber",
            }))
            .send()
            .await
            .expect("process");
        assert_eq!(processed.status(), 200);
        let cookie = processed
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().expect("ascii cookie"))
            .find(|c| c.starts_with("glide_session="))
            .expect("session cookie")
            .split(';')
            .next()
            .expect("name=value")
            .to_owned();
        let body: Value = processed.json().await.expect("process json");
        assert_eq!(body["phone_number"], phone);
        cookie
    }
}

#[tokio::test]
async fn prepare_is_answered_by_the_layer_without_fe_code() {
    let h = harness().await;
    let response = h
        .prepare(json!({
            "use_case": "VerifyPhoneNumber",
            "phone_number": "+15555550100",
            "client_info": { "user_agent": ANDROID },
        }))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let text = response.text().await.expect("body");
    assert!(!text.contains("fe_code"), "{text}");
    let body: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(body["authentication_strategy"], "ts43");
    assert!(body["session"]["session_key"].is_string());

    // Link sets the binding cookie, through axum, as a Set-Cookie header.
    let link = h
        .prepare(json!({
            "use_case": "VerifyPhoneNumber",
            "phone_number": "+15555550100",
            "client_info": { "user_agent": IPHONE },
        }))
        .await;
    assert_eq!(link.status(), 200);
    let cookies: Vec<_> = link.headers().get_all("set-cookie").iter().collect();
    assert!(
        cookies
            .iter()
            .any(|c| c.to_str().is_ok_and(|c| c.starts_with("_glide_bind_"))),
        "{cookies:?}"
    );

    // The engine checks the method: a GET on prepare is a 405, not a pass-through.
    let wrong = h.get("/api/magical-auth/prepare", None).await;
    assert_eq!(wrong.status(), 405);
    let glide_js = h.get("/api/magical-auth/glide.js", None).await;
    assert_eq!(glide_js.status(), 200);
    assert!(glide_js.text().await.expect("js").contains("GlideAuth"));
}

#[tokio::test]
async fn other_routes_pass_through_with_the_context() {
    let h = harness().await;
    let plain = h.get("/plain", None).await;
    assert_eq!(plain.status(), 200);
    assert_eq!(plain.text().await.expect("body"), "hello");
    let ctx = h.get("/context", None).await;
    assert_eq!(ctx.text().await.expect("body"), "glide_session");
    assert_eq!(h.get("/nowhere", None).await.status(), 404);
    // Nothing reads the store for requests that do not ask for the session.
    assert_eq!(h.loads.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn without_a_session_the_extractor_rejects_and_option_gives_none() {
    let h = harness().await;
    let response = h.get("/me", None).await;
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["code"], "NOT_VERIFIED");
    assert_eq!(body["status"], 401);

    let unknown = h.get("/me", Some("glide_session=not-a-real-session")).await;
    assert_eq!(unknown.status(), 401);

    let maybe = h.get("/maybe", None).await;
    assert_eq!(maybe.status(), 200);
    assert_eq!(maybe.text().await.expect("body"), "none");
}

#[tokio::test]
async fn without_the_layer_the_extractor_is_a_500_naming_it() {
    let base = serve(app()).await;
    let http = reqwest::Client::new();
    for path in ["/me", "/maybe", "/guarded"] {
        let response = http.get(format!("{base}{path}")).send().await.expect("get");
        assert_eq!(response.status(), 500, "{path}");
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["code"], "MISSING_MIDDLEWARE");
        assert!(
            body["message"]
                .as_str()
                .is_some_and(|m| m.contains("GlideLayer")),
            "{body}"
        );
    }
}

#[tokio::test]
async fn a_full_ts43_flow_gives_a_session_read_once_per_request() {
    let h = harness().await;
    let cookie = h.verify_ts43("+15555550100").await;

    h.loads.store(0, Ordering::SeqCst);
    let me = h.get("/me", Some(&cookie)).await;
    assert_eq!(me.status(), 200);
    let body: Value = me.json().await.expect("json");
    assert_eq!(body["phone_number"], "+15555550100");
    assert_eq!(body["strategy"], "ts43");
    assert_eq!(body["use_case"], "VerifyPhoneNumber");
    assert_eq!(body["sim_swap"]["risk_level"], "RISK_LEVEL_LOW");
    assert!(body["verified_at"].is_string());
    assert_eq!(h.loads.load(Ordering::SeqCst), 1);

    // Two extractors in one handler: still one store read.
    h.loads.store(0, Ordering::SeqCst);
    let twice = h.get("/twice", Some(&cookie)).await;
    assert_eq!(twice.status(), 200);
    assert_eq!(twice.text().await.expect("body"), "+15555550100");
    assert_eq!(h.loads.load(Ordering::SeqCst), 1);

    let maybe = h.get("/maybe", Some(&cookie)).await;
    assert_eq!(maybe.text().await.expect("body"), "+15555550100");

    // Logout through the layer ends the session server-side and removes the cookie.
    let logout = h
        .http
        .post(format!("{}/api/magical-auth/logout", h.base))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("logout");
    assert_eq!(logout.status(), 204);
    let removal = logout.headers()["set-cookie"].to_str().expect("ascii");
    assert!(removal.starts_with("glide_session=;"), "{removal}");
    assert_eq!(h.get("/me", Some(&cookie)).await.status(), 401);
}

#[tokio::test]
async fn bodies_over_the_limit_are_413() {
    let h = harness().await;
    // Declared too long: refused from the Content-Length.
    let big = json!({ "use_case": "GetPhoneNumber", "id": "x".repeat(2000),
                      "client_info": { "user_agent": ANDROID } });
    let response = h.prepare(big).await;
    assert_eq!(response.status(), 413);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["code"], "PAYLOAD_TOO_LARGE");

    // Streamed without a length: cut off while reading.
    let addr = h.base.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    let chunk = "a".repeat(4096);
    let request = format!(
        "POST /api/magical-auth/prepare HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{chunk}\r\n0\r\n\r\n",
        chunk.len()
    );
    stream
        .write_all(request.as_bytes())
        .await
        .expect("write request");
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .await
        .expect("read answer");
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("PAYLOAD_TOO_LARGE"), "{answer}");
}

/// `name=value` of the flow's binding cookie set by a prepare answer.
fn binding_cookie(response: &reqwest::Response) -> String {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|c| c.split(';').next())
        .find(|pair| pair.starts_with("_glide_bind_"))
        .expect("a binding cookie")
        .to_owned()
}

#[tokio::test]
async fn glide_router_serves_the_same_routes_for_merge() {
    let sandbox = Sandbox::start(SandboxConfig::default())
        .await
        .expect("sandbox");
    let auth = auth_for(&sandbox, Arc::new(AtomicUsize::new(0)), 64 * 1024).await;
    let base = serve(
        Router::new()
            .route("/plain", get(|| async { "hello" }))
            .merge(glide_router(auth)),
    )
    .await;
    let http = reqwest::Client::new();
    let prepared = http
        .post(format!("{base}/api/magical-auth/prepare"))
        .json(&json!({
            "use_case": "VerifyPhoneNumber",
            "phone_number": "+15555550100",
            "client_info": { "user_agent": ANDROID },
        }))
        .send()
        .await
        .expect("prepare");
    assert_eq!(prepared.status(), 200);
    let binding = binding_cookie(&prepared);
    let body: Value = prepared.json().await.expect("json");
    let key = body["session"]["session_key"].as_str().expect("key");
    // A nested path parameter route: the status of a flow this app prepared, to its browser.
    let status = http
        .get(format!("{base}/api/magical-auth/status/{key}"))
        .header("cookie", binding)
        .send()
        .await
        .expect("status");
    assert_eq!(status.status(), 200);
    let wrong = http
        .get(format!("{base}/api/magical-auth/process"))
        .send()
        .await
        .expect("get process");
    assert_eq!(wrong.status(), 405);
    let completion = http
        .get(format!("{base}/glide-complete"))
        .send()
        .await
        .expect("completion page");
    assert_eq!(completion.status(), 200);
    assert_eq!(completion.headers()["x-frame-options"], "DENY");
    let plain = http
        .get(format!("{base}/plain"))
        .send()
        .await
        .expect("plain");
    assert_eq!(plain.text().await.expect("body"), "hello");
}

/// An app served without `ConnectInfo` (the quick start's old `axum::serve(listener, app)`):
/// its requests carry no client address, and the per-source limits count them all in one
/// bucket instead of skipping them.
#[tokio::test]
async fn without_connect_info_every_request_shares_one_source() {
    use glide_axum::core::ratelimit::{RateLimit, RateLimitConfig};
    let sandbox = Sandbox::start(SandboxConfig::default().with_port(0))
        .await
        .expect("sandbox");
    let glide = Glide::builder("sandbox-client", "sandbox-secret")
        .base_url(sandbox.base_url())
        .build()
        .expect("glide client");
    let mut limits = RateLimitConfig::disabled();
    limits.prepare_per_ip = Some(RateLimit::new(2, Duration::from_secs(60)));
    let auth = GlideAuth::builder(glide)
        .insecure_dev_cookies(true)
        .rate_limits(limits)
        .build()
        .expect("engine");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let app = app().layer(GlideLayer::new(auth));
    tokio::spawn(async move {
        axum::serve(listener, app).await.expect("serve");
    });
    let http = reqwest::Client::new();
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let reply = http
            .post(format!("{base}/api/magical-auth/prepare"))
            .json(&json!({"use_case": "GetPhoneNumber", "client_info": {"user_agent": ANDROID}}))
            .send()
            .await
            .expect("prepare");
        statuses.push(reply.status().as_u16());
    }
    assert_eq!(
        statuses,
        [200, 200, 429],
        "one bucket for every address-less request"
    );
}
