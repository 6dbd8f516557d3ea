//! What the benches share: an embedded sandbox, an engine pointed at it, and one TS43 flow driven
//! either through the engine (as the middleware does) or with the Glide client directly.
//!
//! Not every bench uses every helper.
#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use criterion::Criterion;
use glide_core::api::{ClientInfo, Glide, PrepareRequest, ProcessOutcome, ProcessRequest};
use glide_core::endpoint::{GlideAuth, PeerAddr};
use glide_core::events::FlowEvents;
use glide_core::phone::PhoneNumber;
use glide_core::ratelimit::{RateLimit, RateLimitConfig};
use glide_core::store::Store;
use glide_sandbox::{Sandbox, SandboxConfig, SandboxControl};
use serde_json::{json, Value};

/// An Android Chrome user agent: the sandbox picks `ts43`.
pub const ANDROID: &str =
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/126.0 Mobile Safari/537.36";
/// The app's origin (the `Host` is `app.test`).
pub const ORIGIN: &str = "http://app.test";
/// The number the protected-route benches verify.
pub const PHONE: &str = "+15555550100";

/// Criterion with the settings of these benches: short runs (a 2-core machine shared with
/// builds), no plots. Command-line flags (`--measurement-time`, `--sample-size`, …) still win.
pub fn criterion() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(5))
        .sample_size(50)
        .without_plots()
}

/// A sandbox on a free port of 127.0.0.1, on the current tokio runtime.
pub async fn sandbox() -> Sandbox {
    Sandbox::start(
        SandboxConfig::default()
            .with_port(0)
            .with_completion_redirect_url(format!("{ORIGIN}/glide-complete")),
    )
    .await
    .expect("the sandbox starts")
}

/// A Glide client for the sandbox's default credentials.
pub fn client(sandbox_url: &str) -> Glide {
    let config = SandboxConfig::default();
    Glide::builder(config.client_id, config.client_secret)
        .base_url(sandbox_url)
        .timeout(Duration::from_secs(10))
        .build()
        .expect("the Glide client builds")
}

/// Rate limits that are checked (their store round trips are part of the cost) but that a
/// benchmark never reaches.
fn unreachable_limits() -> RateLimitConfig {
    let huge = |window| Some(RateLimit::new(u32::MAX, Duration::from_secs(window)));
    let mut limits = RateLimitConfig::default();
    limits.prepare_per_phone = huge(600);
    limits.prepare_per_phone_total = huge(600);
    limits.glide_calls_per_ip = huge(60);
    limits.prepare_per_ip = huge(60);
    limits.check_per_phone = huge(600);
    limits.check_per_ip = huge(60);
    limits
}

/// The engine against the sandbox at `sandbox_url`, with development cookies (`glide_session`)
/// and `store` (the default memory store when `None`).
pub fn engine(sandbox_url: &str, store: Option<Arc<dyn Store>>) -> GlideAuth {
    engine_with_events(sandbox_url, store, None)
}

/// [`engine`] with `events` too (e.g. `RedisEvents` beside a `RedisStore`, as an app running
/// several instances configures it).
pub fn engine_with_events(
    sandbox_url: &str,
    store: Option<Arc<dyn Store>>,
    events: Option<Arc<dyn FlowEvents>>,
) -> GlideAuth {
    let builder = GlideAuth::builder(client(sandbox_url))
        .insecure_dev_cookies(true)
        .rate_limits(unreachable_limits());
    let builder = match store {
        Some(store) => builder.shared_store(store),
        None => builder,
    };
    let builder = match events {
        Some(events) => builder.events(events),
        None => builder,
    };
    builder.build().expect("the engine builds")
}

/// A `RedisStore` and `RedisEvents` on the Redis at `url`, as an app running several instances
/// configures them.
pub async fn redis_backend(url: &str) -> (Arc<dyn Store>, Arc<dyn FlowEvents>) {
    let store = glide_core::store::RedisStore::connect(url)
        .await
        .expect("RedisStore connects");
    let events = glide_core::events::RedisEvents::connect(url)
        .await
        .expect("RedisEvents connects");
    (Arc::new(store), Arc::new(events))
}

/// The `n`-th benchmark number: `+1555556` and seven digits, never one of the sandbox's fixture
/// numbers, so each flow is a different user.
pub fn nth_phone(n: u64) -> String {
    format!("+1555556{:04}", n % 10_000)
}

/// The `n`-th client address, 127.0.x.y (per-IP limits are per client, as in production).
pub fn nth_peer(n: u64) -> IpAddr {
    let [_, _, _, _, _, _, hi, lo] = n.to_be_bytes();
    IpAddr::V4(Ipv4Addr::new(127, 0, hi, lo.max(1)))
}

fn post(
    path: &str,
    body: &Value,
    peer: IpAddr,
    cookie: Option<&str>,
) -> http::Request<bytes::Bytes> {
    let mut builder = http::Request::builder()
        .method("POST")
        .uri(path)
        .header("host", "app.test")
        .header("origin", ORIGIN)
        .header("content-type", "application/json")
        .header("user-agent", ANDROID)
        .extension(PeerAddr(peer));
    if let Some(cookie) = cookie {
        builder = builder.header("cookie", cookie);
    }
    builder.body(body.to_string().into()).expect("a request")
}

async fn call(auth: &GlideAuth, request: http::Request<bytes::Bytes>) -> (u16, Value, Vec<String>) {
    let route = auth
        .match_route(request.uri().path())
        .expect("one of the engine's routes");
    let response = auth.handle(route, request).await;
    let body = serde_json::from_slice(response.body()).unwrap_or(Value::Null);
    let cookies = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok().map(str::to_owned))
        .collect();
    (response.status().as_u16(), body, cookies)
}

/// One whole TS43 flow through the engine, as the middleware runs it for a browser: `prepare`,
/// the credential from the sandbox's simulated wallet (`wallet`), `process`. Returns the verified-session
/// cookie as `name=value`.
///
/// # Panics
///
/// When a step does not answer as a successful flow does.
pub async fn engine_flow(
    auth: &GlideAuth,
    wallet: &SandboxControl,
    phone: &str,
    peer: IpAddr,
) -> String {
    let prepare = json!({
        "use_case": "VerifyPhoneNumber",
        "phone_number": phone,
        "client_info": {"user_agent": ANDROID},
    });
    let (status, prepared, cookies) = call(
        auth,
        post("/api/magical-auth/prepare", &prepare, peer, None),
    )
    .await;
    assert_eq!(status, 200, "prepare: {prepared}");
    let key = prepared["session"]["session_key"]
        .as_str()
        .expect("a session key")
        .to_owned();
    let credential = wallet
        .ts43_credential(&key, ORIGIN, None)
        .expect("the wallet's credential");
    let process = json!({
        "session": {"session_key": key},
        "credential": credential,
        "use_case": "VerifyPhoneNumber",
    });
    let binding = cookies
        .iter()
        .find(|c| c.contains("_glide_bind_"))
        .and_then(|c| c.split(';').next())
        .expect("a binding cookie");
    let (status, result, cookies) = call(
        auth,
        post("/api/magical-auth/process", &process, peer, Some(binding)),
    )
    .await;
    assert_eq!(status, 200, "process: {result}");
    let prefix = format!("{}=", auth.session_cookie_name());
    cookies
        .into_iter()
        .find(|c| c.starts_with(&prefix) && !c.contains("Max-Age=0"))
        .and_then(|c| c.split(';').next().map(str::to_owned))
        .expect("a verified-session cookie")
}

/// The same TS43 flow with the Glide client alone (no engine): `prepare`, the credential,
/// `verify-phone-number`. What an app would do by hand, and the floor the engine adds to.
///
/// # Panics
///
/// When a step fails or the number is not verified.
pub async fn client_flow(glide: &Glide, wallet: &SandboxControl, phone: &str) {
    let number = PhoneNumber::parse(phone).expect("an E.164 number");
    let prepared = glide
        .prepare(&PrepareRequest::verify_phone_number(
            &number,
            ClientInfo::new(ANDROID),
        ))
        .await
        .expect("prepare");
    let key = prepared.session.session_key().to_owned();
    let credential = wallet
        .ts43_credential(&key, ORIGIN, None)
        .expect("the wallet's credential");
    let outcome = glide
        .verify_phone_number(&ProcessRequest::new(prepared.session, credential))
        .await
        .expect("verify-phone-number");
    assert!(
        matches!(outcome, ProcessOutcome::Done(_)),
        "verify-phone-number did not finish"
    );
}

/// A store that counts the operations made on it, by kind, for the benches' `note:` lines.
#[derive(Debug, Default)]
pub struct CountingStore {
    inner: glide_core::store::MemoryStore,
    counts: std::sync::Mutex<std::collections::BTreeMap<&'static str, u64>>,
}

impl CountingStore {
    fn count(&self, kind: &'static str) {
        *self
            .counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(kind)
            .or_default() += 1;
    }

    /// The counts so far, and resets them.
    pub fn take_counts(&self) -> std::collections::BTreeMap<&'static str, u64> {
        std::mem::take(&mut *self.counts.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

#[async_trait::async_trait]
impl Store for CountingStore {
    async fn create(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<bool, glide_core::store::StoreError> {
        self.count("create");
        self.inner.create(key, value, ttl).await
    }

    async fn load(
        &self,
        key: &str,
    ) -> Result<Option<glide_core::store::Versioned>, glide_core::store::StoreError> {
        self.count("load");
        self.inner.load(key).await
    }

    async fn compare_and_set(
        &self,
        key: &str,
        expected_version: u64,
        value: &[u8],
        ttl: Duration,
    ) -> Result<bool, glide_core::store::StoreError> {
        self.count("compare_and_set");
        self.inner
            .compare_and_set(key, expected_version, value, ttl)
            .await
    }

    async fn take(
        &self,
        key: &str,
    ) -> Result<Option<glide_core::store::Versioned>, glide_core::store::StoreError> {
        self.count("take");
        self.inner.take(key).await
    }

    async fn delete(&self, key: &str) -> Result<(), glide_core::store::StoreError> {
        self.count("delete");
        self.inner.delete(key).await
    }

    async fn increment(
        &self,
        key: &str,
        max: u64,
        ttl: Duration,
    ) -> Result<Option<u64>, glide_core::store::StoreError> {
        self.count("increment");
        self.inner.increment(key, max, ttl).await
    }
}
