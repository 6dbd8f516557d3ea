//! The harness of the cross-adapter scenario suite.
//!
//! A scenario talks HTTP to an app over a real socket on 127.0.0.1; the app runs one adapter
//! ([`AxumAdapter`] or [`ActixAdapter`]) in front of the real engine, which talks to a real
//! [`Sandbox`]. The app under test mounts the middleware plus three routes of its own:
//!
//! | route | handler |
//! |---|---|
//! | `GET /me` | the `VerifiedPhone` as JSON (the extractor's 401 without one) |
//! | `GET /me/optional` | `Option<VerifiedPhone>` → `{"verified": bool}` |
//! | `GET /public` | no extractor: `public` |
//!
//! [`World`] bundles a fresh sandbox, a fresh app and two independent [`Browser`]s.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use glide_core::api::Glide;
use glide_core::endpoint::{GlideAuth, GlideAuthBuilder};
use glide_core::store::{MemoryStore, Store, StoreError, Versioned};
use glide_sandbox::{Sandbox, SandboxConfig};
use serde_json::{json, Value};

/// An Android Chrome user agent: the sandbox picks `ts43`.
pub const ANDROID_UA: &str = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36";
/// An iPhone Safari user agent: the sandbox picks `link`.
pub const IPHONE_UA: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";
/// A desktop Firefox user agent: the sandbox picks `desktop`.
pub const DESKTOP_UA: &str =
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";

/// The name of the verified-session cookie with insecure development cookies.
pub const SESSION_COOKIE: &str = "glide_session";

/// The base path of the middleware's routes.
pub const BASE: &str = "/api/magical-auth";

/// The path of the Number Verify callback route (the engine's `number_verify_callback_url` is
/// the app's base URL followed by it).
pub const NUMBER_VERIFY_CALLBACK: &str = "/api/magical-auth/number-verify/callback";

/// How long the sandbox holds a desktop process call before answering 202.
pub const DESKTOP_WAIT: Duration = Duration::from_secs(1);

/// A running app under test; dropping it shuts the server down.
pub struct RunningApp {
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub base_url: String,
    stop: Mutex<Option<Box<dyn FnOnce() + Send>>>,
}

impl RunningApp {
    /// An app at `base_url` that `stop` shuts down.
    pub fn new(base_url: String, stop: impl FnOnce() + Send + 'static) -> Self {
        Self {
            base_url,
            stop: Mutex::new(Some(Box::new(stop))),
        }
    }
}

impl std::fmt::Debug for RunningApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningApp")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl Drop for RunningApp {
    fn drop(&mut self) {
        let stop = self
            .stop
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(stop) = stop {
            stop();
        }
    }
}

/// One web framework adapter under test.
#[async_trait]
pub trait Adapter: Send + Sync {
    /// A short name for messages (`axum`, `actix`).
    fn name(&self) -> &'static str;

    /// Serves the app under test (the middleware around `auth` plus `/me`, `/me/optional` and
    /// `/public`) on `listener`, already bound to 127.0.0.1 (bound before the engine is built,
    /// so that the sandbox's completion redirect can point at the app).
    async fn serve(&self, auth: GlideAuth, listener: std::net::TcpListener) -> RunningApp;
}

/// axum with `glide_axum::GlideLayer`.
#[derive(Debug, Clone, Copy, Default)]
pub struct AxumAdapter;

#[async_trait]
impl Adapter for AxumAdapter {
    fn name(&self) -> &'static str {
        "axum"
    }

    async fn serve(&self, auth: GlideAuth, listener: std::net::TcpListener) -> RunningApp {
        use axum::routing::get;
        use axum::Json;
        use glide_axum::{GlideLayer, VerifiedPhone};

        async fn me(phone: VerifiedPhone) -> Json<VerifiedPhone> {
            Json(phone)
        }
        async fn optional(phone: Option<VerifiedPhone>) -> Json<Value> {
            Json(json!({ "verified": phone.is_some() }))
        }
        async fn public() -> &'static str {
            "public"
        }

        let app = axum::Router::new()
            .route("/me", get(me))
            .route("/me/optional", get(optional))
            .route("/public", get(public))
            .layer(GlideLayer::new(auth));
        let addr = listener.local_addr().expect("listener address");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let served = axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async move {
                let _ = stop_rx.await;
            })
            .await;
            if let Err(e) = served {
                eprintln!("axum app stopped with an error: {e}");
            }
        });
        RunningApp::new(format!("http://{addr}"), move || {
            let _ = stop_tx.send(());
        })
    }
}

/// actix-web with `glide_actix::GlideMiddleware`, on its own thread and actix `System`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ActixAdapter;

#[async_trait]
impl Adapter for ActixAdapter {
    fn name(&self) -> &'static str {
        "actix"
    }

    async fn serve(&self, auth: GlideAuth, listener: std::net::TcpListener) -> RunningApp {
        use actix_web::{web, App, HttpResponse, HttpServer};
        use glide_actix::{GlideMiddleware, VerifiedPhone};

        async fn me(phone: VerifiedPhone) -> HttpResponse {
            HttpResponse::Ok().json(&phone.0)
        }
        async fn optional(phone: Option<VerifiedPhone>) -> HttpResponse {
            HttpResponse::Ok().json(json!({ "verified": phone.is_some() }))
        }
        async fn public() -> HttpResponse {
            HttpResponse::Ok().content_type("text/plain").body("public")
        }

        let addr = listener.local_addr().expect("listener address");
        let (handle_tx, handle_rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("actix-app".into())
            .spawn(move || {
                let system = actix_web::rt::System::new();
                let served = system.block_on(async move {
                    let server = HttpServer::new(move || {
                        App::new()
                            .wrap(GlideMiddleware::new(auth.clone()))
                            .route("/me", web::get().to(me))
                            .route("/me/optional", web::get().to(optional))
                            .route("/public", web::get().to(public))
                    })
                    .workers(1)
                    .disable_signals()
                    .shutdown_timeout(1)
                    .listen(listener)?
                    .run();
                    let _ = handle_tx.send(server.handle());
                    server.await
                });
                if let Err(e) = served {
                    eprintln!("actix app stopped with an error: {e}");
                }
            })
            .expect("spawn the actix thread");
        let handle = tokio::task::spawn_blocking(move || handle_rx.recv())
            .await
            .expect("join")
            .expect("the actix server did not start");
        RunningApp::new(format!("http://{addr}"), move || {
            // Sends the stop command at once; the returned future only reports completion.
            drop(handle.stop(false));
        })
    }
}

/// The app's address on file for a number, as the demos have it: `user-DDDD@example.com` for
/// `+1555555DDDD`, none for other numbers.
pub fn email_on_file(phone: &glide_core::PhoneNumber) -> Option<glide_core::legacy::Email> {
    let digits = phone.as_str().strip_prefix("+1555555")?;
    glide_core::legacy::Email::parse(&format!("user-{digits}@example.com")).ok()
}

/// A Glide client for the sandbox's default credentials.
pub fn sandbox_client(sandbox: &Sandbox) -> Glide {
    let config = SandboxConfig::default();
    Glide::builder(config.client_id, config.client_secret)
        .base_url(sandbox.base_url())
        .timeout(Duration::from_secs(10))
        .build()
        .expect("Glide client")
}

/// A [`Store`] that can be switched to fail every operation (a store outage).
#[derive(Debug, Clone, Default)]
pub struct FaultyStore {
    inner: Arc<MemoryStore>,
    failing: Arc<AtomicBool>,
}

impl FaultyStore {
    /// Turns the outage on or off.
    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    fn check(&self) -> Result<(), StoreError> {
        if self.failing.load(Ordering::SeqCst) {
            Err(StoreError::Backend(
                "injected store outage at 10.9.8.7:6379 (secret detail)".into(),
            ))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl Store for FaultyStore {
    async fn create(&self, key: &str, value: &[u8], ttl: Duration) -> Result<bool, StoreError> {
        self.check()?;
        self.inner.create(key, value, ttl).await
    }

    async fn load(&self, key: &str) -> Result<Option<Versioned>, StoreError> {
        self.check()?;
        self.inner.load(key).await
    }

    async fn compare_and_set(
        &self,
        key: &str,
        expected_version: u64,
        value: &[u8],
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        self.check()?;
        self.inner
            .compare_and_set(key, expected_version, value, ttl)
            .await
    }

    async fn take(&self, key: &str) -> Result<Option<Versioned>, StoreError> {
        self.check()?;
        self.inner.take(key).await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.check()?;
        self.inner.delete(key).await
    }

    async fn increment(
        &self,
        key: &str,
        max: u64,
        ttl: Duration,
    ) -> Result<Option<u64>, StoreError> {
        self.check()?;
        self.inner.increment(key, max, ttl).await
    }
}

/// One `Set-Cookie` header, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetCookie {
    /// The cookie's name.
    pub name: String,
    /// The cookie's value.
    pub value: String,
    /// Attributes in order: lowercase name, optional value.
    pub attributes: Vec<(String, Option<String>)>,
    /// The header as received.
    pub raw: String,
}

impl SetCookie {
    /// Parses a `Set-Cookie` header value.
    pub fn parse(raw: &str) -> Self {
        let mut parts = raw.split(';');
        let pair = parts.next().unwrap_or_default();
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let attributes = parts
            .map(|a| {
                let a = a.trim();
                match a.split_once('=') {
                    Some((n, v)) => (n.trim().to_ascii_lowercase(), Some(v.trim().to_owned())),
                    None => (a.to_ascii_lowercase(), None),
                }
            })
            .collect();
        Self {
            name: name.trim().to_owned(),
            value: value.trim().to_owned(),
            attributes,
            raw: raw.to_owned(),
        }
    }

    /// Whether attribute `name` (case-insensitive) is present.
    pub fn has(&self, name: &str) -> bool {
        self.attributes
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name))
    }

    /// The value of attribute `name` (case-insensitive).
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.as_deref())
    }

    /// Whether this cookie removes the stored one (`Max-Age=0` or negative).
    pub fn is_removal(&self) -> bool {
        self.attr("max-age")
            .and_then(|v| v.parse::<i64>().ok())
            .is_some_and(|v| v <= 0)
    }

    /// Asserts the attributes every cookie of ours carries in insecure development mode:
    /// `HttpOnly`, `SameSite=Lax`, `Path=/`, no `Domain`, no `Secure`.
    pub fn assert_dev_attributes(&self, context: &str) {
        assert!(
            self.has("httponly"),
            "{context}: HttpOnly missing in {}",
            self.raw
        );
        assert!(
            self.attr("samesite")
                .is_some_and(|v| v.eq_ignore_ascii_case("lax")),
            "{context}: SameSite=Lax missing in {}",
            self.raw
        );
        assert_eq!(
            self.attr("path"),
            Some("/"),
            "{context}: Path=/ in {}",
            self.raw
        );
        assert!(!self.has("domain"), "{context}: no Domain in {}", self.raw);
        assert!(
            !self.has("secure"),
            "{context}: dev cookies are not Secure: {}",
            self.raw
        );
    }
}

/// An HTTP answer, fully read.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// The headers.
    pub headers: reqwest::header::HeaderMap,
    /// The body.
    pub body: Vec<u8>,
}

impl Reply {
    /// The first value of header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON; panics with the body when it is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {:?}", self.text()))
    }

    /// Every `Set-Cookie` header, parsed.
    pub fn set_cookies(&self) -> Vec<SetCookie> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(SetCookie::parse)
            .collect()
    }

    /// The `Set-Cookie` for cookie `name`, if any.
    pub fn set_cookie(&self, name: &str) -> Option<SetCookie> {
        self.set_cookies().into_iter().find(|c| c.name == name)
    }

    /// The `Set-Cookie` whose name starts with `prefix`, if any.
    pub fn set_cookie_starting(&self, prefix: &str) -> Option<SetCookie> {
        self.set_cookies()
            .into_iter()
            .find(|c| c.name.starts_with(prefix))
    }

    /// Asserts the status (with the body in the message).
    #[track_caller]
    pub fn assert_status(&self, status: u16, context: &str) -> &Self {
        assert_eq!(
            self.status,
            status,
            "{context}: expected HTTP {status}, got {} with body {:?}",
            self.status,
            self.text()
        );
        self
    }

    /// Asserts an error answer: the status, the JSON error body `{"code","message","status"}`
    /// with `code` and `status` equal to the HTTP status, `Content-Type: application/json`.
    /// Returns the body.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str, context: &str) -> Value {
        self.assert_status(status, context);
        self.assert_error_shape(context);
        let body = self.json();
        assert_eq!(body["code"], code, "{context}: error code, body {body}");
        body
    }

    /// Asserts the error body shape only: `{"code": UPPER_SNAKE, "message": string, "status": N}`
    /// with N equal to the HTTP status, JSON content type.
    #[track_caller]
    pub fn assert_error_shape(&self, context: &str) {
        let content_type = self.header("content-type").unwrap_or_default();
        assert!(
            content_type.starts_with("application/json"),
            "{context}: error content type {content_type:?}"
        );
        let body = self.json();
        let code = body["code"]
            .as_str()
            .unwrap_or_else(|| panic!("{context}: error body has no string code: {body}"));
        assert!(
            !code.is_empty()
                && code
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'),
            "{context}: code {code:?} is not UPPER_SNAKE"
        );
        assert!(
            body["message"].is_string(),
            "{context}: error body has no message: {body}"
        );
        assert_eq!(
            body["status"].as_u64(),
            Some(u64::from(self.status)),
            "{context}: body status differs from HTTP status: {body}"
        );
    }
}

/// One HTTP request being built; see [`Browser::call`].
#[derive(Debug)]
#[must_use]
pub struct Call<'a> {
    browser: &'a Browser,
    method: reqwest::Method,
    path: String,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    origin: bool,
    cookies: bool,
}

impl Call<'_> {
    /// Adds (or, for `origin`, replaces) a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        if name.eq_ignore_ascii_case("origin") {
            self.origin = false;
        }
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// A JSON body with `Content-Type: application/json`.
    pub fn json(self, body: &Value) -> Self {
        self.raw_body("application/json", body.to_string().into_bytes())
    }

    /// A body with the given content type.
    pub fn raw_body(mut self, content_type: &str, body: Vec<u8>) -> Self {
        self.headers
            .push(("content-type".to_owned(), content_type.to_owned()));
        self.body = Some(body);
        self
    }

    /// A body without any `Content-Type`.
    pub fn body_without_type(mut self, body: Vec<u8>) -> Self {
        self.body = Some(body);
        self
    }

    /// Sends no `Origin` header (a non-browser client).
    pub fn without_origin(mut self) -> Self {
        self.origin = false;
        self
    }

    /// Sends none of the browser's cookies.
    pub fn without_cookies(mut self) -> Self {
        self.cookies = false;
        self
    }

    /// Sends the request; the browser stores the cookies of the answer. Panics when no answer
    /// comes (see [`try_send`](Self::try_send)).
    pub async fn send(self) -> Reply {
        let what = format!("{} {}", self.method, self.path);
        self.try_send()
            .await
            .unwrap_or_else(|e| panic!("{what}: no answer: {e}"))
    }

    /// Sends the request; `Err` with the error chain when the connection failed.
    pub async fn try_send(self) -> Result<Reply, String> {
        let browser = self.browser;
        let url = format!("{}{}", browser.base_url, self.path);
        let mut request = browser
            .http
            .request(self.method.clone(), &url)
            .header("user-agent", browser.user_agent());
        if self.origin {
            request = request
                .header("origin", &browser.base_url)
                .header("sec-fetch-site", "same-origin");
        }
        if self.cookies {
            if let Some(cookie) = browser.cookie_header() {
                request = request.header("cookie", cookie);
            }
        }
        for (name, value) in &self.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        if let Some(body) = self.body {
            request = request.body(body);
        }
        let response = request.send().await.map_err(|e| error_chain(&e))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response
            .bytes()
            .await
            .map_err(|e| error_chain(&e))?
            .to_vec();
        let reply = Reply {
            status,
            headers,
            body,
        };
        if self.cookies {
            browser.store(&reply);
        }
        Ok(reply)
    }
}

/// An error with its sources, `: `-separated.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

/// A browser: its own cookie jar and user agent; sends `Origin` and `Sec-Fetch-Site:
/// same-origin` on POSTs like a page of the app would.
#[derive(Debug)]
pub struct Browser {
    http: reqwest::Client,
    base_url: String,
    user_agent: Mutex<String>,
    jar: Mutex<BTreeMap<String, String>>,
}

impl Browser {
    /// A browser without cookies talking to the app at `base_url`.
    pub fn new(base_url: &str, user_agent: &str) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("reqwest client");
        Self {
            http,
            base_url: base_url.to_owned(),
            user_agent: Mutex::new(user_agent.to_owned()),
            jar: Mutex::new(BTreeMap::new()),
        }
    }

    /// The `User-Agent` this browser sends.
    pub fn user_agent(&self) -> String {
        self.user_agent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Changes the `User-Agent` this browser sends.
    pub fn set_user_agent(&self, user_agent: &str) {
        *self.user_agent.lock().unwrap_or_else(|e| e.into_inner()) = user_agent.to_owned();
    }

    /// The app's origin (`http://127.0.0.1:PORT`).
    pub fn origin(&self) -> &str {
        &self.base_url
    }

    /// A request to `path` on the app.
    pub fn call(&self, method: &str, path: &str) -> Call<'_> {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let origin = method == reqwest::Method::POST;
        Call {
            browser: self,
            method,
            path: path.to_owned(),
            headers: Vec::new(),
            body: None,
            origin,
            cookies: true,
        }
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> Reply {
        self.call("GET", path).send().await
    }

    /// `POST path` with a JSON body, as the page's `fetch` would send it.
    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        self.call("POST", path).json(body).send().await
    }

    /// The value of cookie `name` in the jar.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.lock().get(name).cloned()
    }

    /// The names of the cookies in the jar.
    pub fn cookie_names(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }

    /// Puts a cookie in the jar (as an attacker or a test would).
    pub fn set_cookie(&self, name: &str, value: &str) {
        self.lock().insert(name.to_owned(), value.to_owned());
    }

    /// Removes a cookie from the jar.
    pub fn remove_cookie(&self, name: &str) {
        self.lock().remove(name);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, String>> {
        self.jar.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn cookie_header(&self) -> Option<String> {
        let jar = self.lock();
        if jar.is_empty() {
            return None;
        }
        Some(
            jar.iter()
                .map(|(n, v)| format!("{n}={v}"))
                .collect::<Vec<_>>()
                .join("; "),
        )
    }

    fn store(&self, reply: &Reply) {
        let mut jar = self.lock();
        for cookie in reply.set_cookies() {
            if cookie.is_removal() {
                jar.remove(&cookie.name);
            } else {
                jar.insert(cookie.name, cookie.value);
            }
        }
    }
}

/// A successful prepare.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The whole answer.
    pub reply: Reply,
    /// The answer's JSON.
    pub body: Value,
    /// `session.session_key`.
    pub session_key: String,
    /// `authentication_strategy`.
    pub strategy: String,
}

impl Prepared {
    /// The `session` object to send back to process, as the browser SDK does.
    pub fn session(&self) -> Value {
        self.body["session"].clone()
    }
}

/// Everything a scenario needs: a fresh sandbox, a fresh app on one adapter, two browsers.
pub struct World {
    /// The adapter's name, for messages.
    pub adapter: &'static str,
    /// The adapter, to start more apps with [`World::start_app`].
    pub adapter_impl: &'static dyn Adapter,
    /// The sandbox the engine talks to.
    pub sandbox: Sandbox,
    /// The app under test.
    pub app: RunningApp,
    /// The main browser (desktop until a prepare sets its user agent).
    pub browser: Browser,
    /// Another, independent browser.
    pub other: Browser,
    /// The engine's store; [`FaultyStore::set_failing`] simulates an outage.
    pub store: FaultyStore,
    /// The engine.
    pub auth: GlideAuth,
}

impl std::fmt::Debug for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("World")
            .field("adapter", &self.adapter)
            .field("app", &self.app)
            .field("sandbox", &self.sandbox.base_url())
            .finish_non_exhaustive()
    }
}

impl World {
    /// Starts a sandbox (short desktop wait) and the app on `adapter`.
    pub async fn start(adapter: &'static dyn Adapter) -> World {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the app's listener");
        let app_url = format!(
            "http://{}",
            listener.local_addr().expect("the app's address")
        );
        let config = SandboxConfig::default()
            .with_desktop_wait(DESKTOP_WAIT)
            .with_slow_carrier_delay(Duration::from_millis(300))
            .with_completion_redirect_url(format!("{app_url}/glide-complete"))
            .with_number_verify_redirect_url(format!("{app_url}{NUMBER_VERIFY_CALLBACK}"));
        let sandbox = Sandbox::start(config).await.expect("start the sandbox");
        let glide = sandbox_client(&sandbox);
        let store = FaultyStore::default();
        let auth = GlideAuth::builder(glide)
            .insecure_dev_cookies(true)
            .email_on_file(email_on_file)
            .shared_store(Arc::new(store.clone()))
            .busy_wait(Duration::from_secs(10))
            .number_verify_callback_url(format!("{app_url}{NUMBER_VERIFY_CALLBACK}"))
            .build()
            .expect("GlideAuth");
        let app = adapter.serve(auth.clone(), listener).await;
        assert_eq!(
            app.base_url, app_url,
            "the app serves on the bound listener"
        );
        World {
            adapter: adapter.name(),
            adapter_impl: adapter,
            sandbox,
            browser: Browser::new(&app_url, DESKTOP_UA),
            other: Browser::new(&app_url, DESKTOP_UA),
            app,
            store,
            auth,
        }
    }

    /// Starts another app on the same adapter and sandbox, with an engine configured by
    /// `configure` (from `insecure_dev_cookies(true)`, a fresh memory store and the app's own
    /// Number Verify callback URL), and a browser for it.
    pub async fn start_app(
        &self,
        configure: impl FnOnce(GlideAuthBuilder) -> GlideAuthBuilder,
    ) -> (RunningApp, Browser) {
        self.start_app_on(&self.sandbox, configure).await
    }

    /// [`start_app`](Self::start_app) with an engine talking to `sandbox` (e.g. one started
    /// with another [`SandboxConfig`]).
    pub async fn start_app_on(
        &self,
        sandbox: &Sandbox,
        configure: impl FnOnce(GlideAuthBuilder) -> GlideAuthBuilder,
    ) -> (RunningApp, Browser) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the app's listener");
        let app_url = format!(
            "http://{}",
            listener.local_addr().expect("the app's address")
        );
        let builder = GlideAuth::builder(sandbox_client(sandbox))
            .insecure_dev_cookies(true)
            .email_on_file(email_on_file)
            .number_verify_callback_url(format!("{app_url}{NUMBER_VERIFY_CALLBACK}"));
        let auth = configure(builder).build().expect("GlideAuth");
        let app = self.adapter_impl.serve(auth, listener).await;
        let browser = Browser::new(&app.base_url, DESKTOP_UA);
        (app, browser)
    }

    /// The path of API route `name` (`prepare`, `process`, …).
    pub fn route(name: &str) -> String {
        format!("{BASE}/{name}")
    }

    /// The prepare body the browser SDK sends.
    pub fn prepare_body(user_agent: &str, phone: Option<&str>) -> Value {
        let mut body = json!({
            "use_case": if phone.is_some() { "VerifyPhoneNumber" } else { "GetPhoneNumber" },
            "client_info": { "user_agent": user_agent, "platform": "test" },
        });
        if let Some(phone) = phone {
            body["phone_number"] = json!(phone);
        }
        body
    }

    /// `POST prepare` with any body.
    pub async fn prepare_raw(&self, browser: &Browser, body: &Value) -> Reply {
        browser.post(&Self::route("prepare"), body).await
    }

    /// A prepare that must succeed: VerifyPhoneNumber for `phone`, or GetPhoneNumber without.
    /// The browser's `User-Agent` becomes `user_agent`, as `client_info` is `navigator.userAgent`.
    pub async fn prepare(
        &self,
        browser: &Browser,
        user_agent: &str,
        phone: Option<&str>,
    ) -> Prepared {
        browser.set_user_agent(user_agent);
        let reply = self
            .prepare_raw(browser, &Self::prepare_body(user_agent, phone))
            .await;
        reply.assert_status(200, &format!("[{}] prepare", self.adapter));
        let body = reply.json();
        let session_key = body["session"]["session_key"]
            .as_str()
            .unwrap_or_else(|| panic!("prepare without session.session_key: {body}"))
            .to_owned();
        let strategy = body["authentication_strategy"]
            .as_str()
            .unwrap_or_else(|| panic!("prepare without authentication_strategy: {body}"))
            .to_owned();
        Prepared {
            reply,
            body,
            session_key,
            strategy,
        }
    }

    /// The process body the browser SDK sends.
    pub fn process_body(prepared: &Prepared, credential: &str) -> Value {
        json!({
            "session": prepared.session(),
            "credential": credential,
            "use_case": prepared.body["session"]["metadata"]["use_case"],
        })
    }

    /// `POST process` for a prepared flow.
    pub async fn process(&self, browser: &Browser, prepared: &Prepared, credential: &str) -> Reply {
        browser
            .post(
                &Self::route("process"),
                &Self::process_body(prepared, credential),
            )
            .await
    }

    /// `POST complete` as the completion page sends it.
    pub async fn complete(
        &self,
        browser: &Browser,
        agg_code: &str,
        session_key: &str,
        user_agent: Option<&str>,
    ) -> Reply {
        let mut body = json!({ "agg_code": agg_code, "session_key": session_key });
        if let Some(ua) = user_agent {
            body["user_agent"] = json!(ua);
        }
        browser.post(&Self::route("complete"), &body).await
    }

    /// The TS43 credential the wallet hands a page of this app for `session_key`.
    pub fn ts43_credential(&self, session_key: &str, phone: Option<&str>) -> String {
        self.sandbox
            .control()
            .ts43_credential(session_key, &self.app.base_url, phone)
            .unwrap_or_else(|e| panic!("sandbox ts43_credential: {e}"))
    }

    /// Approves a Link flow on the simulated carrier page: `(agg_code, session_key)` from the
    /// completion URL's fragment (which must point at this app's completion page).
    pub fn link_approve(&self, session_key: &str) -> (String, String) {
        let url = self
            .sandbox
            .control()
            .link_approve(session_key)
            .unwrap_or_else(|e| panic!("sandbox link_approve: {e}"));
        let (page, fragment) = url
            .split_once('#')
            .unwrap_or_else(|| panic!("completion URL without a fragment: {url}"));
        assert_eq!(page, format!("{}/glide-complete", self.app.base_url));
        let mut agg_code = None;
        let mut key = None;
        for pair in fragment.split('&') {
            match pair.split_once('=') {
                Some(("agg_code", v)) => agg_code = Some(v.to_owned()),
                Some(("session_key", v)) => key = Some(v.to_owned()),
                _ => {}
            }
        }
        (
            agg_code.unwrap_or_else(|| panic!("no agg_code in {url}")),
            key.unwrap_or_else(|| panic!("no session_key in {url}")),
        )
    }

    /// A whole TS43 verification of `phone` in `browser`; returns the process answer.
    pub async fn verify_ts43(&self, browser: &Browser, phone: &str) -> Reply {
        let prepared = self.prepare(browser, ANDROID_UA, Some(phone)).await;
        assert_eq!(prepared.strategy, "ts43");
        let credential = self
            .sandbox
            .control()
            .ts43_credential(&prepared.session_key, browser.origin(), None)
            .unwrap_or_else(|e| panic!("sandbox ts43_credential: {e}"));
        self.process(browser, &prepared, &credential).await
    }

    /// `GET /me`.
    pub async fn me(&self, browser: &Browser) -> Reply {
        browser.get("/me").await
    }

    /// The last OTP the sandbox "sent" to `phone_or_email` (panics when none was sent).
    pub fn legacy_otp(&self, phone_or_email: &str) -> String {
        self.sandbox
            .control()
            .legacy_otp(phone_or_email)
            .unwrap_or_else(|| panic!("{}: no OTP was sent", self.ctx(phone_or_email)))
    }

    /// A context string for assertion messages.
    pub fn ctx(&self, what: &str) -> String {
        format!("[{}] {what}", self.adapter)
    }
}
