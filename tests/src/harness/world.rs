//! The [`World`] of the scenario suite (a sandbox, an app on one adapter, two browsers, the
//! engine and its store) and the steps of a flow a scenario takes through it.

use std::sync::Arc;
use std::time::Duration;

use glide_core::endpoint::{GlideAuth, GlideAuthBuilder};
use glide_sandbox::{Sandbox, SandboxConfig};
use serde_json::{json, Value};

use super::{
    email_on_file, sandbox_client, serve_balancer, Adapter, Browser, FaultyStore, Reply,
    RunningApp, ANDROID_UA, BASE, DESKTOP_UA, DESKTOP_WAIT, NUMBER_VERIFY_CALLBACK,
};

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

/// A listener on a free port of 127.0.0.1, and its `http://` URL.
fn bind() -> (std::net::TcpListener, String) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the app's listener");
    let url = format!(
        "http://{}",
        listener.local_addr().expect("the app's address")
    );
    (listener, url)
}

/// The sandbox of a world whose app is at `app_url`.
async fn sandbox_for(app_url: &str) -> Sandbox {
    let config = SandboxConfig::default()
        .with_desktop_wait(DESKTOP_WAIT)
        .with_slow_carrier_delay(Duration::from_millis(300))
        .with_completion_redirect_url(format!("{app_url}/glide-complete"))
        .with_number_verify_redirect_url(format!("{app_url}{NUMBER_VERIFY_CALLBACK}"));
    Sandbox::start(config).await.expect("start the sandbox")
}

/// The engine of a world's app at `app_url`, on `store`.
fn world_engine(sandbox: &Sandbox, app_url: &str, store: &FaultyStore) -> GlideAuthBuilder {
    GlideAuth::builder(sandbox_client(sandbox))
        .insecure_dev_cookies(true)
        .email_on_file(email_on_file)
        .shared_store(Arc::new(store.clone()))
        .busy_wait(Duration::from_secs(10))
        .number_verify_callback_url(format!("{app_url}{NUMBER_VERIFY_CALLBACK}"))
}

impl World {
    /// Starts a sandbox (short desktop wait) and the app on `adapter`.
    pub async fn start(adapter: &'static dyn Adapter) -> World {
        let (listener, app_url) = bind();
        let sandbox = sandbox_for(&app_url).await;
        let store = FaultyStore::default();
        let auth = world_engine(&sandbox, &app_url, &store)
            .build()
            .expect("GlideAuth");
        let app = adapter.serve(auth.clone(), listener).await;
        assert_eq!(
            app.base_url, app_url,
            "the app serves on the bound listener"
        );
        Self::assemble(adapter, sandbox, app, store, auth)
    }

    /// The same world scaled out: two instances of the app on `adapter` behind a round-robin
    /// balancer (every request goes to the other instance than the one before, whatever
    /// connection it comes on), sharing the test Redis Cluster for their store (under a key
    /// prefix of their own) and their events. `w.app` is the balancer, `w.auth` the first
    /// instance's engine, `w.store` the shared store. `None` (after printing `SKIPPED: …`, or a
    /// panic under `GLIDE_REQUIRE_EXTERNAL=1`) without a cluster.
    pub async fn start_pair_on_cluster(adapter: &'static dyn Adapter) -> Option<World> {
        use glide_core::events::RedisEvents;
        use glide_core::store::RedisStore;
        use std::sync::atomic::{AtomicUsize, Ordering};

        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let cluster = crate::redis_server::RedisCluster::shared()?;
        let urls = cluster.urls();
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let prefix = format!("pair{}-{n}:", std::process::id());
        let (listener, app_url) = bind();
        let sandbox = sandbox_for(&app_url).await;
        let redis = RedisStore::connect_cluster(&urls)
            .await
            .expect("connect the cluster store")
            .with_prefix(prefix.clone());
        let store = FaultyStore::wrapping(Arc::new(redis));
        let mut instances = Vec::new();
        let mut engines = Vec::new();
        for _ in 0..2 {
            let events =
                RedisEvents::connect_cluster_with_prefix(&urls, &format!("{prefix}events:"))
                    .await
                    .expect("connect the cluster events");
            let auth = world_engine(&sandbox, &app_url, &store)
                .events(events)
                .build()
                .expect("GlideAuth");
            let (instance_listener, _) = bind();
            instances.push(adapter.serve(auth.clone(), instance_listener).await);
            engines.push(auth);
        }
        let balancer = serve_balancer(
            instances.iter().map(|app| app.base_url.clone()).collect(),
            listener,
        );
        let app = RunningApp::new(balancer.base_url.clone(), move || {
            drop(balancer);
            drop(instances);
        });
        assert_eq!(
            app.base_url, app_url,
            "the balancer serves on the bound listener"
        );
        Some(Self::assemble(
            adapter,
            sandbox,
            app,
            store,
            engines.swap_remove(0),
        ))
    }

    fn assemble(
        adapter: &'static dyn Adapter,
        sandbox: Sandbox,
        app: RunningApp,
        store: FaultyStore,
        auth: GlideAuth,
    ) -> World {
        let app_url = app.base_url.clone();
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
