//! The raw HTTP client of the scenarios: a cookie-keeping [`Browser`] and the [`Call`] that
//! builds and sends one request.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::Value;

use super::Reply;

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
                .header("origin", &browser.origin)
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
    /// The `Origin` its pages have: the base URL, unless the app is served behind TLS.
    origin: String,
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
            origin: base_url.to_owned(),
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

    /// The same browser, its pages at `origin` (e.g. `https://127.0.0.1:PORT` for an app in
    /// secure mode, as if behind a TLS proxy, while the test talks plain HTTP to it).
    pub fn with_origin(mut self, origin: &str) -> Self {
        self.origin = origin.to_owned();
        self
    }

    /// The app's origin (`http://127.0.0.1:PORT`).
    pub fn origin(&self) -> &str {
        &self.origin
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
