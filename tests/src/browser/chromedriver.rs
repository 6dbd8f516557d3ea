//! The `chromedriver` process of a test: [`ChromeDriver`] starts it on a free port and opens
//! [`Session`]s on it, each a Chromium started with [`SessionOptions`].

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;

use super::session::Session;
use super::temp_dir::TempDir;
use super::tools::BrowserTools;
use super::wire::{driver_ready, http_client, send};
use super::{trace, START_TIMEOUT};

/// A running `chromedriver` of this test. Cheap to clone; the process ends when the last clone
/// and the last [`Session`] made from it are dropped.
#[derive(Debug, Clone)]
pub struct ChromeDriver {
    process: Arc<DriverProcess>,
    http: reqwest::Client,
}

#[derive(Debug)]
pub(super) struct DriverProcess {
    tools: BrowserTools,
    pub(super) port: u16,
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

/// A port that was free a moment ago (bound to 127.0.0.1:0, then released).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("find a free port on 127.0.0.1")
}
