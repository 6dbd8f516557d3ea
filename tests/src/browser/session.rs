//! One Chromium driven over WebDriver: [`Session`]'s commands (navigate, run scripts, wait,
//! click, type, tabs, cookies, DevTools, screenshots) and the helpers they use.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::chromedriver::DriverProcess;
use super::temp_dir::TempDir;
use super::trace;
use super::wire::{delete_session_blocking, send, WebDriverError};

/// How long [`Session::wait_until`] polls before failing the test.
pub const WAIT_TIMEOUT: Duration = Duration::from_secs(40);

/// How often [`Session::wait_until`] evaluates its condition.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// The W3C key of an element reference.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// One Chromium driven over WebDriver. Its methods panic with context (the test fails) when a
/// command fails. Dropping it ends the session (Chromium exits) and removes its profile.
#[derive(Debug)]
pub struct Session {
    pub(super) id: String,
    pub(super) base: String,
    pub(super) http: reqwest::Client,
    pub(super) driver: Arc<DriverProcess>,
    pub(super) profile: Option<TempDir>,
    pub(super) ended: bool,
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

/// `s` as a JavaScript string literal.
pub fn js_string(s: &str) -> String {
    Value::String(s.to_owned()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
}
