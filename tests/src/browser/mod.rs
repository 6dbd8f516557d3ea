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
//!
//! # Files
//!
//! * `tools`: finding Chromium and chromedriver ([`BrowserTools`]);
//! * `chromedriver`: the chromedriver process and new sessions ([`ChromeDriver`],
//!   [`SessionOptions`]);
//! * `session`: the commands of one Chromium ([`Session`], [`BrowserCookie`], [`js_string`],
//!   [`screenshots_dir`]);
//! * `wire`: the WebDriver protocol on the wire (JSON over `reqwest`, blocking requests);
//! * `demo_process`: a demo app as a child process ([`Demo`], [`DemoApp`]);
//! * `demo_build`: building the demo binaries ([`demo_binary`]);
//! * `temp_dir`: a temporary directory removed on drop (the Chromium profiles).
//!
//! This file holds what several of them share.

use std::time::Duration;

mod chromedriver;
mod demo_build;
mod demo_process;
mod session;
mod temp_dir;
mod tools;
mod wire;

pub use chromedriver::{ChromeDriver, SessionOptions};
pub use demo_build::demo_binary;
pub use demo_process::{Demo, DemoApp};
pub use session::{js_string, screenshots_dir, BrowserCookie, Session, WAIT_TIMEOUT};
pub use tools::BrowserTools;

/// A user agent of Chrome on Android: the sandbox picks `ts43` for it.
pub const ANDROID_UA: &str = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 \
(KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36";

/// A user agent of Safari on an iPhone: the sandbox picks `link` for it.
pub const IPHONE_UA: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) \
AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";

/// How long chromedriver and a demo may take to start.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Prints `line` to stderr when `GLIDE_E2E_TRACE=1` (timings of the suite's steps).
fn trace(line: &str) {
    if std::env::var("GLIDE_E2E_TRACE").as_deref() == Ok("1") {
        eprintln!("[e2e] {line}");
    }
}
