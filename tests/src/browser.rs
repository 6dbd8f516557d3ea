//! Headless Chromium over WebDriver, and a launcher for the demo apps, for the end-to-end suite.
//!
//! ```no_run
//! # async fn demo() {
//! use glide_tests::browser::{ChromeDriver, Demo, DemoApp, SessionOptions, ANDROID_UA};
//! let Some(driver) = ChromeDriver::start() else { return }; // prints SKIPPED when absent
//! let app = DemoApp::start(Demo::Axum); // builds the demo binaries once, then spawns one
//! let phone = driver.new_session(SessionOptions::with_user_agent(ANDROID_UA)).await;
//! phone.goto(app.base_url()).await;
//! phone.type_into("#phone", "+15555550100").await;
//! phone.click("#btn-ts43").await;
//! phone
//!     .wait_until("the verified number", "return document.querySelector('#result-phone').textContent")
//!     .await;
//! # }
//! ```
//!
//! # Why a small WebDriver client of our own
//!
//! The W3C WebDriver protocol is JSON over HTTP, and the suite needs a dozen of its commands plus
//! chromedriver's `goog/cdp/execute` (DevTools commands on the current tab). This module speaks
//! it with the `reqwest` client the workspace already builds, instead of `fantoccini`, whose
//! `webdriver` dependency pulls in the ICU segmenter data crates and a second `cookie` version:
//! a measurable build cost on the 2-core CI machine for no extra capability.
//!
//! # Processes
//!
//! * [`ChromeDriver`]: one `chromedriver` per test, on a free port of 127.0.0.1, killed when the
//!   last handle and [`Session`] are dropped.
//! * [`Session`]: one Chromium (a "browser context": own profile in a fresh temporary
//!   `--user-data-dir`, so own cookies and `localStorage`), ended (`DELETE /session`) on drop.
//! * [`DemoApp`]: `axum-demo` / `actix-demo` as a child process on free ports with the embedded
//!   sandbox. Integration tests of `glide-tests` cannot use `CARGO_BIN_EXE_…` of another package,
//!   so [`demo_binary`] runs `cargo build --workspace --all-features --bin axum-demo --bin
//!   actix-demo` once per test process (same cargo, same target directory and profile as the
//!   running test, found from the test executable's path `…/<target>/<profile>/deps/<test>`),
//!   and takes the binaries from `…/<target>/<profile>/`. `--workspace --all-features` resolves
//!   features as the README's test command does, so the build reuses that command's artifacts.
//!
//! # Missing Chromium
//!
//! When `/usr/bin/chromium` or `/usr/bin/chromedriver` (or `chromium` / `chromedriver` on `PATH`)
//! is missing, [`ChromeDriver::start`] prints `SKIPPED: chromium/chromedriver not found …` and
//! returns `None`, unless `GLIDE_REQUIRE_EXTERNAL=1` (as in CI), in which case it panics.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// A user agent of Chrome on Android: the sandbox picks `ts43` for it.
pub const ANDROID_UA: &str = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 \
(KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36";

/// A user agent of Safari on an iPhone: the sandbox picks `link` for it.
pub const IPHONE_UA: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) \
AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";

/// How long [`Session::wait_until`] polls before failing the test.
pub const WAIT_TIMEOUT: Duration = Duration::from_secs(40);

/// How often [`Session::wait_until`] evaluates its condition.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// How long chromedriver and a demo may take to start.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The W3C key of an element reference.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

// ---------------------------------------------------------------------------------------------
// Finding Chromium
// ---------------------------------------------------------------------------------------------

/// The two programs the suite drives.
#[derive(Debug, Clone)]
pub struct BrowserTools {
    /// The Chromium executable (`/usr/bin/chromium` on Debian).
    pub chromium: PathBuf,
    /// The chromedriver executable (`/usr/bin/chromedriver`, package `chromium-driver`).
    pub chromedriver: PathBuf,
}

impl BrowserTools {
    /// Finds Chromium and chromedriver: `/usr/bin/…` first, then `PATH`.
    pub fn find() -> Option<Self> {
        Some(Self {
            chromium: find_program(&["chromium", "chromium-browser"])?,
            chromedriver: find_program(&["chromedriver"])?,
        })
    }
}

fn find_program(names: &[&str]) -> Option<PathBuf> {
    let mut dirs = vec![PathBuf::from("/usr/bin")];
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    dirs.iter()
        .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

// ---------------------------------------------------------------------------------------------
// chromedriver
// ---------------------------------------------------------------------------------------------

/// A running `chromedriver` of this test. Cheap to clone; the process ends when the last clone
/// and the last [`Session`] made from it are dropped.
#[derive(Debug, Clone)]
pub struct ChromeDriver {
    process: Arc<DriverProcess>,
    http: reqwest::Client,
}

#[derive(Debug)]
struct DriverProcess {
    tools: BrowserTools,
    port: u16,
    child: Mutex<Child>,
}

impl Drop for DriverProcess {
    fn drop(&mut self) {
        if let Ok(child) = self.child.get_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl ChromeDriver {
    /// Starts chromedriver on a free port and waits until it reports ready, or returns `None`
    /// (after printing `SKIPPED: …`) when Chromium or chromedriver is not installed and
    /// `GLIDE_REQUIRE_EXTERNAL` is not `1`.
    ///
    /// # Panics
    ///
    /// When they are installed but chromedriver does not start, or when they are missing and
    /// `GLIDE_REQUIRE_EXTERNAL=1`.
    pub fn start() -> Option<Self> {
        let Some(tools) = BrowserTools::find() else {
            if std::env::var("GLIDE_REQUIRE_EXTERNAL").as_deref() == Ok("1") {
                panic!(
                    "chromium/chromedriver not found (/usr/bin/chromium, /usr/bin/chromedriver or \
                     on PATH), and GLIDE_REQUIRE_EXTERNAL=1 forbids skipping: install them \
                     (Debian: apt-get install chromium chromium-driver)"
                );
            }
            eprintln!(
                "SKIPPED: chromium/chromedriver not found; install chromium and chromium-driver \
                 (Debian) to run the browser end-to-end tests"
            );
            return None;
        };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let port = free_port();
            let mut child = Command::new(&tools.chromedriver)
                .arg(format!("--port={port}"))
                .arg("--allowed-ips=127.0.0.1")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("spawn {}: {e}", tools.chromedriver.display()));
            while Instant::now() < deadline {
                if driver_ready(port) {
                    let process = DriverProcess {
                        tools,
                        port,
                        child: Mutex::new(child),
                    };
                    return Some(Self {
                        process: Arc::new(process),
                        http: http_client(),
                    });
                }
                if child.try_wait().ok().flatten().is_some() {
                    break; // most likely the port was taken meanwhile: try another one
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
            assert!(
                Instant::now() < deadline,
                "chromedriver did not become ready within {START_TIMEOUT:?}"
            );
        }
    }

    /// The programs in use.
    pub fn tools(&self) -> &BrowserTools {
        &self.process.tools
    }

    /// Starts a Chromium of its own (a fresh profile: its own cookies and `localStorage`) and
    /// opens a WebDriver session on it.
    ///
    /// # Panics
    ///
    /// When chromedriver refuses the session.
    pub async fn new_session(&self, options: SessionOptions) -> Session {
        let started = Instant::now();
        let profile = TempDir::new("glide-e2e-profile");
        let (width, height) = options.window;
        let mut args = vec![
            "--headless".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--disable-quic".to_owned(),
            "--hide-scrollbars".to_owned(),
            format!("--window-size={width},{height}"),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        if let Some(ua) = &options.user_agent {
            args.push(format!("--user-agent={ua}"));
        }
        let capabilities = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "pageLoadStrategy": "normal",
                    "timeouts": { "script": 30_000, "pageLoad": 30_000, "implicit": 0 },
                    "goog:chromeOptions": {
                        "binary": self.process.tools.chromium.to_string_lossy(),
                        "args": args,
                    }
                }
            }
        });
        let url = format!("http://127.0.0.1:{}/session", self.process.port);
        let value = send(&self.http, reqwest::Method::POST, &url, Some(capabilities))
            .await
            .unwrap_or_else(|e| panic!("chromedriver refused a new session: {e}"));
        let id = value["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("new session answer without sessionId: {value}"))
            .to_owned();
        trace(&format!(
            "started a Chromium session in {:.1?}",
            started.elapsed()
        ));
        Session {
            base: format!("{url}/{id}"),
            id,
            http: self.http.clone(),
            driver: Arc::clone(&self.process),
            profile: Some(profile),
            ended: false,
        }
    }
}

/// How a [`Session`]'s Chromium is started.
#[derive(Debug, Clone)]
pub struct SessionOptions {
    /// `--user-agent=…` (Chromium's own when `None`: headless Linux Chrome, a "desktop").
    pub user_agent: Option<String>,
    /// The window size in CSS pixels (and the screenshots' size).
    pub window: (u32, u32),
}

impl Default for SessionOptions {
    fn default() -> Self {
        Self {
            user_agent: None,
            window: (1200, 900),
        }
    }
}

impl SessionOptions {
    /// The defaults (1200×900) with the given user agent.
    pub fn with_user_agent(user_agent: &str) -> Self {
        Self {
            user_agent: Some(user_agent.to_owned()),
            ..Self::default()
        }
    }
}

// ---------------------------------------------------------------------------------------------
// WebDriver session
// ---------------------------------------------------------------------------------------------

/// One Chromium driven over WebDriver. Its methods panic with context (the test fails) when a
/// command fails. Dropping it ends the session (Chromium exits) and removes its profile.
#[derive(Debug)]
pub struct Session {
    id: String,
    base: String,
    http: reqwest::Client,
    driver: Arc<DriverProcess>,
    profile: Option<TempDir>,
    ended: bool,
}

/// A cookie as WebDriver reports it (it sees `HttpOnly` cookies too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrowserCookie {
    /// The name.
    pub name: String,
    /// The value.
    pub value: String,
    /// Whether the cookie is `HttpOnly` (invisible to `document.cookie`).
    pub http_only: bool,
    /// The `Path` attribute.
    pub path: String,
    /// The `SameSite` attribute as Chromium reports it (`Lax`, `Strict`, `None`).
    pub same_site: Option<String>,
}

impl Session {
    async fn cmd(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.base);
        match send(&self.http, method.clone(), &url, body).await {
            Ok(value) => value,
            Err(e) => panic!("WebDriver {method} {path} failed: {e}"),
        }
    }

    async fn try_cmd(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, WebDriverError> {
        send(&self.http, method, &format!("{}{path}", self.base), body).await
    }

    /// The WebDriver session id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Navigates the current tab to `url` and waits for the page to load.
    pub async fn goto(&self, url: &str) {
        self.cmd(reqwest::Method::POST, "/url", Some(json!({ "url": url })))
            .await;
    }

    /// The address bar of the current tab.
    pub async fn current_url(&self) -> String {
        let value = self.cmd(reqwest::Method::GET, "/url", None).await;
        value.as_str().unwrap_or_default().to_owned()
    }

    /// Runs `script` (a function body; `arguments[i]` are `args`) in the current tab and returns
    /// its result. A returned promise is awaited.
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Value {
        self.cmd(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({ "script": script, "args": args })),
        )
        .await
    }

    /// Polls `script` (a function body) every 100 ms until it returns something other than
    /// `null`, `undefined`, `false` or `""`, and returns that. Script errors (the page is
    /// navigating, say) count as "not yet".
    ///
    /// # Panics
    ///
    /// After [`WAIT_TIMEOUT`], naming `what`, the last result, the address bar and the page's
    /// text (and saving a screenshot to the temporary directory).
    pub async fn wait_until(&self, what: &str, script: &str) -> Value {
        self.wait_until_for(what, script, WAIT_TIMEOUT).await
    }

    /// [`wait_until`](Self::wait_until) with another timeout.
    pub async fn wait_until_for(&self, what: &str, script: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        let mut last = String::from("(never evaluated)");
        while Instant::now() < deadline {
            let body = json!({ "script": script, "args": [] });
            match self
                .try_cmd(reqwest::Method::POST, "/execute/sync", Some(body))
                .await
            {
                Ok(value) if is_truthy(&value) => {
                    trace(&format!(
                        "waited {:.1?} for {what}",
                        timeout.saturating_sub(deadline.saturating_duration_since(Instant::now()))
                    ));
                    return value;
                }
                Ok(value) => last = value.to_string(),
                Err(e) => last = format!("error: {e}"),
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
        let state = self.describe().await;
        panic!("timed out after {timeout:?} waiting for {what}; last result: {last}\n{state}");
    }

    /// Waits until the element `css` exists and is displayed.
    pub async fn wait_for_element(&self, css: &str) {
        let script = format!(
            "var e = document.querySelector({sel}); \
             return !!e && !!(e.offsetWidth || e.offsetHeight || e.getClientRects().length);",
            sel = js_string(css)
        );
        self.wait_until(&format!("element {css} to be displayed"), &script)
            .await;
    }

    /// Waits until the text of `css` contains `needle`, and returns the whole text.
    pub async fn wait_for_text(&self, css: &str, needle: &str) -> String {
        let script = format!(
            "var e = document.querySelector({sel}); var t = e ? (e.innerText || e.textContent || '') : ''; \
             return t.indexOf({needle}) >= 0 ? t : null;",
            sel = js_string(css),
            needle = js_string(needle)
        );
        let value = self
            .wait_until(&format!("{css} to contain {needle:?}"), &script)
            .await;
        value.as_str().unwrap_or_default().to_owned()
    }

    /// The text of the first element matching `css` (`""` when there is none).
    pub async fn text(&self, css: &str) -> String {
        let script = format!(
            "var e = document.querySelector({sel}); return e ? (e.innerText || e.textContent || '') : '';",
            sel = js_string(css)
        );
        let value = self.execute(&script, vec![]).await;
        value.as_str().unwrap_or_default().to_owned()
    }

    /// An attribute of the first element matching `css`.
    pub async fn attribute(&self, css: &str, name: &str) -> Option<String> {
        let script = format!(
            "var e = document.querySelector({sel}); return e ? e.getAttribute({name}) : null;",
            sel = js_string(css),
            name = js_string(name)
        );
        self.execute(&script, vec![])
            .await
            .as_str()
            .map(str::to_owned)
    }

    async fn element(&self, css: &str) -> String {
        self.wait_for_element(css).await;
        let value = self
            .cmd(
                reqwest::Method::POST,
                "/element",
                Some(json!({ "using": "css selector", "value": css })),
            )
            .await;
        value[ELEMENT_KEY]
            .as_str()
            .unwrap_or_else(|| panic!("find {css}: unexpected answer {value}"))
            .to_owned()
    }

    /// Waits for the element `css` to be displayed, then clicks it like a user (a real click
    /// event, so a user gesture).
    pub async fn click(&self, css: &str) {
        let deadline = Instant::now() + WAIT_TIMEOUT;
        loop {
            let element = self.element(css).await;
            match self
                .try_cmd(
                    reqwest::Method::POST,
                    &format!("/element/{element}/click"),
                    Some(json!({})),
                )
                .await
            {
                Ok(_) => return,
                Err(e) if Instant::now() < deadline && e.is_retryable_interaction() => {
                    tokio::time::sleep(POLL_INTERVAL).await;
                }
                Err(e) => panic!("click {css}: {e}\n{}", self.describe().await),
            }
        }
    }

    /// Waits for the input `css`, clears it and types `text` into it.
    pub async fn type_into(&self, css: &str, text: &str) {
        let element = self.element(css).await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{element}/clear"),
            Some(json!({})),
        )
        .await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{element}/value"),
            Some(json!({ "text": text })),
        )
        .await;
    }

    /// Scrolls the element `css` to the middle of the viewport (for screenshots). Does nothing
    /// when there is no such element.
    pub async fn scroll_into_view(&self, css: &str) {
        let script = format!(
            "var e = document.querySelector({sel}); \
             if (e) e.scrollIntoView({{ block: 'center', behavior: 'instant' }}); return !!e;",
            sel = js_string(css)
        );
        self.execute(&script, vec![]).await;
    }

    /// The handle of the current tab.
    pub async fn window_handle(&self) -> String {
        let value = self.cmd(reqwest::Method::GET, "/window", None).await;
        value.as_str().unwrap_or_default().to_owned()
    }

    /// The handles of all open tabs.
    pub async fn window_handles(&self) -> Vec<String> {
        let value = self
            .cmd(reqwest::Method::GET, "/window/handles", None)
            .await;
        value
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|h| h.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Waits until a tab other than `known` is open, and returns its handle (without switching).
    pub async fn wait_for_new_window(&self, known: &[String]) -> String {
        let deadline = Instant::now() + WAIT_TIMEOUT;
        while Instant::now() < deadline {
            if let Some(handle) = self
                .window_handles()
                .await
                .into_iter()
                .find(|h| !known.contains(h))
            {
                return handle;
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
        panic!(
            "timed out after {WAIT_TIMEOUT:?} waiting for a new tab\n{}",
            self.describe().await
        );
    }

    /// Makes `handle` the current tab.
    pub async fn switch_to_window(&self, handle: &str) {
        self.cmd(
            reqwest::Method::POST,
            "/window",
            Some(json!({ "handle": handle })),
        )
        .await;
    }

    /// The cookies visible to the current tab's URL, `HttpOnly` ones included.
    pub async fn cookies(&self) -> Vec<BrowserCookie> {
        let value = self.cmd(reqwest::Method::GET, "/cookie", None).await;
        value
            .as_array()
            .map(|cookies| {
                cookies
                    .iter()
                    .map(|c| BrowserCookie {
                        name: c["name"].as_str().unwrap_or_default().to_owned(),
                        value: c["value"].as_str().unwrap_or_default().to_owned(),
                        http_only: c["httpOnly"].as_bool().unwrap_or(false),
                        path: c["path"].as_str().unwrap_or_default().to_owned(),
                        same_site: c["sameSite"].as_str().map(str::to_owned),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Sends a DevTools protocol command to the current tab (chromedriver's
    /// `goog/cdp/execute`) and returns its result.
    pub async fn cdp(&self, command: &str, params: Value) -> Value {
        self.cmd(
            reqwest::Method::POST,
            "/goog/cdp/execute",
            Some(json!({ "cmd": command, "params": params })),
        )
        .await
    }

    /// Runs `source` in every document the current tab loads from now on, before the page's
    /// own scripts (DevTools `Page.addScriptToEvaluateOnNewDocument`).
    pub async fn add_init_script(&self, source: &str) {
        self.cdp(
            "Page.addScriptToEvaluateOnNewDocument",
            json!({ "source": source }),
        )
        .await;
    }

    /// A PNG of the current tab's viewport.
    pub async fn screenshot(&self) -> Vec<u8> {
        use base64::Engine as _;
        let value = self.cmd(reqwest::Method::GET, "/screenshot", None).await;
        base64::engine::general_purpose::STANDARD
            .decode(value.as_str().unwrap_or_default())
            .unwrap_or_else(|e| panic!("screenshot is not base64: {e}"))
    }

    /// Saves a screenshot of the current tab as `<name>.png` in [`screenshots_dir`], and returns
    /// the path.
    pub async fn save_screenshot(&self, name: &str) -> PathBuf {
        let png = self.screenshot().await;
        assert!(
            png.starts_with(b"\x89PNG"),
            "the screenshot of {name} is not a PNG"
        );
        let dir = screenshots_dir();
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        path
    }

    /// The address bar, the page's text and a screenshot path, for failure messages.
    pub async fn describe(&self) -> String {
        let url = match self.try_cmd(reqwest::Method::GET, "/url", None).await {
            Ok(v) => v.as_str().unwrap_or_default().to_owned(),
            Err(e) => format!("(unknown: {e})"),
        };
        let text = match self
            .try_cmd(
                reqwest::Method::POST,
                "/execute/sync",
                Some(json!({ "script": "return document.body ? document.body.innerText : '';", "args": [] })),
            )
            .await
        {
            Ok(v) => v.as_str().unwrap_or_default().chars().take(1500).collect(),
            Err(e) => format!("(unknown: {e})"),
        };
        let shot = match self
            .try_cmd(reqwest::Method::GET, "/screenshot", None)
            .await
        {
            Ok(v) => {
                use base64::Engine as _;
                let path = std::env::temp_dir().join(format!("glide-e2e-failure-{}.png", self.id));
                match base64::engine::general_purpose::STANDARD
                    .decode(v.as_str().unwrap_or_default())
                {
                    Ok(png) if std::fs::write(&path, &png).is_ok() => path.display().to_string(),
                    _ => "(not saved)".to_owned(),
                }
            }
            Err(e) => format!("(none: {e})"),
        };
        format!("  address bar: {url}\n  screenshot: {shot}\n  page text:\n{text}")
    }

    /// Ends the session (Chromium exits). Dropping does the same.
    pub async fn quit(mut self) {
        let _ = self.try_cmd(reqwest::Method::DELETE, "", None).await;
        self.ended = true;
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if !self.ended {
            // Drop cannot await: a blocking HTTP/1.1 DELETE on a plain socket.
            let started = Instant::now();
            delete_session_blocking(self.driver.port, &self.id);
            trace(&format!(
                "ended a Chromium session in {:.1?}",
                started.elapsed()
            ));
        }
        drop(self.profile.take());
    }
}

fn delete_session_blocking(port: u16, id: &str) {
    let _ = blocking_request(
        port,
        "DELETE",
        &format!("/session/{id}"),
        Duration::from_secs(30),
    );
}

/// A bodiless HTTP/1.1 request to chromedriver on a plain socket (for `Drop` and start-up, where
/// nothing can be awaited); the answer's body, read up to its `Content-Length`.
fn blocking_request(port: u16, method: &str, path: &str, timeout: Duration) -> Option<String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    stream.set_read_timeout(Some(timeout)).ok()?;
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).ok()?;
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = answer.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&answer[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok());
            if let Some(length) = length {
                if answer.len() >= end + 4 + length {
                    return Some(
                        String::from_utf8_lossy(&answer[end + 4..end + 4 + length]).into_owned(),
                    );
                }
            }
        }
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&chunk[..n]),
            Err(_) => return None,
        }
    }
    let end = answer.windows(4).position(|w| w == b"\r\n\r\n")?;
    Some(String::from_utf8_lossy(&answer[end + 4..]).into_owned())
}

/// Where the suite writes its screenshots: the directory named by `GLIDE_E2E_SCREENSHOTS` (set
/// it to `docs/screenshots` to refresh the README's images), else `target/e2e-screenshots`, so
/// that an ordinary test run leaves the checkout clean.
pub fn screenshots_dir() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    match std::env::var_os("GLIDE_E2E_SCREENSHOTS") {
        Some(dir) if Path::new(&dir).is_absolute() => PathBuf::from(dir),
        Some(dir) => root.join(dir),
        None => root.join("target").join("e2e-screenshots"),
    }
}

fn is_truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::String(s) => !s.is_empty(),
        _ => true,
    }
}

/// Prints `line` to stderr when `GLIDE_E2E_TRACE=1` (timings of the suite's steps).
fn trace(line: &str) {
    if std::env::var("GLIDE_E2E_TRACE").as_deref() == Ok("1") {
        eprintln!("[e2e] {line}");
    }
}

/// `s` as a JavaScript string literal.
pub fn js_string(s: &str) -> String {
    Value::String(s.to_owned()).to_string()
}

// ---------------------------------------------------------------------------------------------
// WebDriver wire
// ---------------------------------------------------------------------------------------------

#[derive(Debug)]
struct WebDriverError {
    /// The W3C error code (`no such element`, …) or `transport`.
    error: String,
    message: String,
}

impl WebDriverError {
    fn is_retryable_interaction(&self) -> bool {
        matches!(
            self.error.as_str(),
            "element not interactable" | "element click intercepted" | "stale element reference"
        )
    }
}

impl std::fmt::Display for WebDriverError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let message: String = self.message.lines().next().unwrap_or_default().to_owned();
        write!(f, "{}: {message}", self.error)
    }
}

fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(90))
        .no_proxy()
        .build()
        .expect("build the WebDriver HTTP client")
}

async fn send(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    body: Option<Value>,
) -> Result<Value, WebDriverError> {
    let transport = |e: reqwest::Error| WebDriverError {
        error: "transport".to_owned(),
        message: e.to_string(),
    };
    let mut request = http.request(method, url);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.map_err(transport)?;
    let status = response.status();
    let json: Value = response.json().await.map_err(transport)?;
    let value = json.get("value").cloned().unwrap_or(Value::Null);
    if status.is_success() {
        return Ok(value);
    }
    Err(WebDriverError {
        error: value["error"]
            .as_str()
            .unwrap_or("unknown error")
            .to_owned(),
        message: value["message"].as_str().unwrap_or_default().to_owned(),
    })
}

fn driver_ready(port: u16) -> bool {
    blocking_request(port, "GET", "/status", Duration::from_secs(2))
        .and_then(|body| serde_json::from_str::<Value>(&body).ok())
        .is_some_and(|status| status["value"]["ready"] == true)
}

// ---------------------------------------------------------------------------------------------
// The demo apps
// ---------------------------------------------------------------------------------------------

/// Which demo app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Demo {
    /// `axum-demo`.
    Axum,
    /// `actix-demo`.
    Actix,
}

impl Demo {
    /// The binary's name: `axum-demo` or `actix-demo`.
    pub fn binary_name(self) -> &'static str {
        match self {
            Demo::Axum => "axum-demo",
            Demo::Actix => "actix-demo",
        }
    }

    /// A short name for file names: `axum` or `actix`.
    pub fn name(self) -> &'static str {
        match self {
            Demo::Axum => "axum",
            Demo::Actix => "actix",
        }
    }
}

/// A demo app running as a child process on free ports of 127.0.0.1, with its embedded sandbox
/// (no `GLIDE_CLIENT_ID`, `GLIDE_CLIENT_SECRET`, `GLIDE_API_BASE_URL` or `GLIDE_REDIS_URL` from
/// the environment reach it). Killed when dropped; when dropped during a panic, its last output
/// lines are printed to stderr.
#[derive(Debug)]
pub struct DemoApp {
    demo: Demo,
    child: Child,
    base_url: String,
    sandbox_url: String,
    log: Arc<Mutex<VecDeque<String>>>,
}

/// How many output lines of a demo are kept for failure messages.
const LOG_LINES: usize = 200;

impl DemoApp {
    /// Builds the demo binaries (once per test process), starts `demo` and waits for its
    /// `listening on …` and `sandbox on …` lines.
    ///
    /// # Panics
    ///
    /// When the build fails or the demo does not start within a minute.
    pub fn start(demo: Demo) -> Self {
        let binary = demo_binary(demo);
        let started = Instant::now();
        let deadline = Instant::now() + START_TIMEOUT;
        // Port 0: the demo binds any free port and prints it (no race with other tests).
        let mut child = Command::new(&binary)
            .env("PORT", "0")
            .env("GLIDE_SANDBOX_PORT", "0")
            .env_remove("GLIDE_CLIENT_ID")
            .env_remove("GLIDE_CLIENT_SECRET")
            .env_remove("GLIDE_API_BASE_URL")
            .env_remove("GLIDE_REDIS_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", binary.display()));
        let log = Arc::new(Mutex::new(VecDeque::new()));
        let (lines_tx, lines_rx) = std::sync::mpsc::channel::<String>();
        if let Some(stdout) = child.stdout.take() {
            drain(stdout, Arc::clone(&log), Some(lines_tx.clone()));
        }
        if let Some(stderr) = child.stderr.take() {
            drain(stderr, Arc::clone(&log), Some(lines_tx));
        }
        let mut base_url = None;
        let mut sandbox_url = None;
        while base_url.is_none() || sandbox_url.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines_rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(url) = url_after(&line, "listening on ") {
                        base_url = Some(url);
                    } else if let Some(url) = url_after(&line, "sandbox on ") {
                        sandbox_url = Some(url);
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    let status = child.wait();
                    panic!(
                        "{} did not print `listening on …` and `sandbox on …` (within \
                         {START_TIMEOUT:?}; process: {status:?}); output:\n{}",
                        demo.binary_name(),
                        tail(&log)
                    );
                }
            }
        }
        trace(&format!(
            "started {} in {:.1?}",
            demo.binary_name(),
            started.elapsed()
        ));
        Self {
            demo,
            child,
            base_url: base_url.unwrap_or_default(),
            sandbox_url: sandbox_url.unwrap_or_default(),
            log,
        }
    }

    /// Which demo this is.
    pub fn demo(&self) -> Demo {
        self.demo
    }

    /// The app's base URL, `http://127.0.0.1:<port>` (no trailing slash).
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// `base_url` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// The embedded sandbox's base URL (no trailing slash).
    pub fn sandbox_url(&self) -> &str {
        &self.sandbox_url
    }

    /// The demo's last output lines.
    pub fn log_tail(&self) -> String {
        tail(&self.log)
    }
}

impl Drop for DemoApp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "--- last output of {} ({}) ---\n{}",
                self.demo.binary_name(),
                self.base_url,
                tail(&self.log)
            );
        }
    }
}

fn url_after(line: &str, marker: &str) -> Option<String> {
    let start = line.find(marker)? + marker.len();
    let url: String = line[start..]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect();
    url.starts_with("http://")
        .then(|| url.trim_end_matches('/').to_owned())
}

fn drain(
    stream: impl Read + Send + 'static,
    log: Arc<Mutex<VecDeque<String>>>,
    lines: Option<std::sync::mpsc::Sender<String>>,
) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if let Some(tx) = &lines {
                let _ = tx.send(line.clone());
            }
            if let Ok(mut log) = log.lock() {
                if log.len() == LOG_LINES {
                    log.pop_front();
                }
                log.push_back(line);
            }
        }
    });
}

fn tail(log: &Mutex<VecDeque<String>>) -> String {
    log.lock()
        .map(|l| l.iter().cloned().collect::<Vec<_>>().join("\n"))
        .unwrap_or_default()
}

/// The path of a demo binary, built for this test run.
///
/// The first call in a test process runs `cargo build --workspace --all-features --bin
/// axum-demo --bin actix-demo` with the cargo that runs the tests (`$CARGO`), into the target
/// directory and profile of the running test executable (`<target>/<profile>/deps/<test>` → `CARGO_TARGET_DIR=<target>`,
/// `--profile <profile>`), so the build reuses the test build's artifacts and the binary is
/// never stale. Later calls reuse the result.
///
/// # Panics
///
/// When the build fails (with cargo's output).
pub fn demo_binary(demo: Demo) -> PathBuf {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match BUILT.get_or_init(build_demos) {
        Ok(dir) => {
            let path = dir.join(format!(
                "{}{}",
                demo.binary_name(),
                std::env::consts::EXE_SUFFIX
            ));
            assert!(path.is_file(), "{} was not built", path.display());
            path
        }
        Err(e) => panic!("{e}"),
    }
}

fn build_demos() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    // <target>/<profile>/deps/<test-executable>
    let profile_dir = exe
        .parent()
        .filter(|deps| deps.file_name().is_some_and(|n| n == "deps"))
        .and_then(Path::parent)
        .ok_or_else(|| format!("{} is not in a cargo deps directory", exe.display()))?
        .to_path_buf();
    let target_dir = profile_dir
        .parent()
        .ok_or_else(|| format!("{} has no parent", profile_dir.display()))?;
    let profile = match profile_dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("debug")
    {
        "debug" => "dev".to_owned(),
        other => other.to_owned(),
    };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into());
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let started = Instant::now();
    let output = Command::new(cargo)
        .current_dir(&workspace)
        .env("CARGO_TARGET_DIR", target_dir)
        .args(["build", "--workspace", "--all-features"])
        .args([
            "--bin",
            Demo::Axum.binary_name(),
            "--bin",
            Demo::Actix.binary_name(),
        ])
        .args(["--profile", &profile])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("run cargo build for the demos: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "cargo build of the demo binaries failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    eprintln!(
        "built the demo binaries into {} in {:.1?}",
        profile_dir.display(),
        started.elapsed()
    );
    Ok(profile_dir)
}

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

/// A port that was free a moment ago (bound to 127.0.0.1:0, then released).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("find a free port on 127.0.0.1")
}

/// A directory under the system's temporary directory, removed when dropped.
#[derive(Debug)]
struct TempDir(PathBuf);

impl TempDir {
    fn new(prefix: &str) -> Self {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path = std::env::temp_dir().join(format!(
            "{prefix}-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
        Self(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn banner_lines_give_the_urls() {
        assert_eq!(
            url_after("listening on http://127.0.0.1:3000", "listening on ").as_deref(),
            Some("http://127.0.0.1:3000")
        );
        assert_eq!(
            url_after(
                "sandbox on http://127.0.0.1:8910/ (embedded)",
                "sandbox on "
            )
            .as_deref(),
            Some("http://127.0.0.1:8910")
        );
        assert_eq!(url_after("listening on port 3000", "listening on "), None);
        assert_eq!(url_after("INFO started", "listening on "), None);
    }

    #[test]
    fn only_meaningful_values_end_a_wait() {
        for value in [json!(null), json!(false), json!("")] {
            assert!(!is_truthy(&value), "{value}");
        }
        for value in [json!(true), json!("x"), json!(0), json!({}), json!([])] {
            assert!(is_truthy(&value), "{value}");
        }
    }

    #[test]
    fn js_strings_are_escaped() {
        assert_eq!(js_string("a'b\"c\n"), "\"a'b\\\"c\\n\"");
    }

    #[test]
    fn temp_dirs_are_removed_on_drop() {
        let dir = TempDir::new("glide-e2e-test");
        let path = dir.path().to_path_buf();
        assert!(path.is_dir());
        drop(dir);
        assert!(!path.exists());
    }
}
