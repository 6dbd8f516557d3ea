//! The properties every fuzz target asserts, shared so that each target stays a few lines long.
//!
//! Every function here panics (and so makes libFuzzer record a crash) when glide-core breaks a
//! promise about input it did not choose: a cookie header, a phone number, an e-mail address, a
//! request body, a query string or an answer from Glide.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use glide_core::api::{Glide, HttpClient, RetryPolicy};
use glide_core::endpoint::{EndpointResponse, GlideAuth, PeerAddr, Route};
use glide_core::error::BoxError;
use glide_core::legacy::{Email, MAX_EMAIL_LEN};
use glide_core::PhoneNumber;

/// Every status code the contract documents for our routes (410: `CHAIN_EXPIRED`, a
/// verification chain past its deadline).
pub const DOCUMENTED_STATUSES: &[u16] = &[
    200, 202, 204, 302, 400, 401, 403, 404, 405, 409, 410, 413, 415, 422, 429, 500, 502, 503,
];

/// The only messages a 5xx body may carry.
pub const OPAQUE_MESSAGES: &[&str] = &[
    "Internal server error.",
    "The verification service gave an unexpected answer.",
    "The verification service is temporarily unavailable. Please try again.",
];

/// `^\+[1-9]\d{1,14}$`, written out.
pub fn is_e164(text: &str) -> bool {
    let Some(digits) = text.strip_prefix('+') else {
        return false;
    };
    (2..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

/// `parse` accepts exactly E.164 and keeps it verbatim; `parse_lenient` accepts a superset, only
/// ever yields E.164 made of the input's own digits, is idempotent, gives one value for every
/// spelling, and `Debug` never shows the whole number.
pub fn check_phone(input: &str) {
    let strict = PhoneNumber::parse(input);
    assert_eq!(strict.is_ok(), is_e164(input), "parse vs regex: {input:?}");
    if let Ok(n) = &strict {
        assert_eq!(n.as_str(), input);
        assert_eq!(PhoneNumber::parse_lenient(input).as_ref(), Ok(n));
    }
    let Ok(n) = PhoneNumber::parse_lenient(input) else {
        return;
    };
    let text = n.as_str();
    assert!(is_e164(text), "lenient gave {text:?} for {input:?}");
    let digits: String = input.chars().filter(char::is_ascii_digit).collect();
    assert_eq!(&text[1..], digits, "digits changed: {input:?}");
    assert_eq!(
        PhoneNumber::parse_lenient(text).as_ref(),
        Ok(&n),
        "not idempotent"
    );
    assert_eq!(PhoneNumber::parse(text).as_ref(), Ok(&n));
    assert_eq!(
        respell(text).parse_lenient_ok().as_ref(),
        Some(&n),
        "respelling"
    );
    let debug = format!("{n:?}");
    assert!(!debug.contains(text), "Debug leaks the number: {debug}");
    let json = serde_json::to_string(&n).expect("a phone number serialises");
    assert_eq!(
        serde_json::from_str::<PhoneNumber>(&json).ok().as_ref(),
        Some(&n)
    );
}

/// Another spelling of an E.164 number: the first digit in parentheses, then `-`, `.`, ` ` and
/// nothing between the digits in turn.
pub fn respell(e164: &str) -> Spelling {
    let mut out = String::from("+");
    for (i, c) in e164.chars().skip(1).enumerate() {
        if i == 0 {
            out.push('(');
            out.push(c);
            out.push(')');
            continue;
        }
        out.push_str(["-", ".", " ", ""][i % 4]);
        out.push(c);
    }
    Spelling(out)
}

/// A spelling made by [`respell`].
#[derive(Debug)]
pub struct Spelling(pub String);

impl Spelling {
    /// `parse_lenient` of the spelling, as an `Option`.
    pub fn parse_lenient_ok(&self) -> Option<PhoneNumber> {
        PhoneNumber::parse_lenient(&self.0).ok()
    }
}

/// The name every binding cookie starts with in secure mode.
pub const BINDING_PREFIX_SECURE: &str = "__Host-_glide_bind_";

/// The name every binding cookie starts with under insecure development cookies.
pub const BINDING_PREFIX_DEV: &str = "_glide_bind_";

/// At most this many stale binding cookies are removed per answer, however many a request
/// carries.
pub const MAX_STALE_REMOVALS: usize = 8;

/// A Glide stand-in that answers only prepare: the token endpoint answers a token, prepare a
/// `link` flow under a fresh, unguessable session key, every other call 503 (so that a route
/// which gets past its own checks and asks Glide answers 5xx).
#[derive(Debug, Default, Clone)]
pub struct PrepareOnlyGlide {
    calls: Arc<AtomicU64>,
}

#[async_trait]
impl HttpClient for PrepareOnlyGlide {
    async fn execute(
        &self,
        request: http::Request<Bytes>,
    ) -> Result<http::Response<Bytes>, BoxError> {
        let path = request.uri().path();
        let (status, body) = if path.ends_with("/token") {
            (
                200,
                r#"{"access_token":"t","token_type":"Bearer","expires_in":3600}"#.to_owned(),
            )
        } else if path.ends_with("/prepare") {
            let n = self.calls.fetch_add(1, Ordering::Relaxed);
            let key = format!(
                "{:016x}",
                n.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x5bd1_e995
            );
            (
                200,
                format!(
                    r#"{{"authentication_strategy":"link","session":{{"session_key":"{key}","nonce":"n"}},"data":{{"url":"https://x"}},"session_expires_in_seconds":300}}"#
                ),
            )
        } else {
            (503, r#"{"message":"unavailable"}"#.to_owned())
        };
        Ok(http::Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(Bytes::from(body))?)
    }
}

/// An engine around [`PrepareOnlyGlide`]: no rate limits, secure cookies or (with `secure` false)
/// insecure development cookies.
pub fn prepare_only_engine(secure: bool) -> GlideAuth {
    let glide = Glide::builder("fuzz-client", "fuzz-secret")
        .base_url(UNREACHABLE_GLIDE)
        .http_client(PrepareOnlyGlide::default())
        .retry_policy(RetryPolicy::none())
        .build()
        .expect("a valid client configuration");
    GlideAuth::builder(glide)
        .insecure_dev_cookies(!secure)
        .rate_limits(glide_core::ratelimit::RateLimitConfig::disabled())
        .build()
        .expect("a valid engine configuration")
}

/// A request to one of our routes as an adapter hands it over: `Host: app.example.com`, the
/// client at 127.0.0.1, the given `Cookie` header (left out when empty).
pub fn engine_request(
    method: &str,
    path: &str,
    cookie: &str,
    body: &'static [u8],
) -> Option<http::Request<Bytes>> {
    let mut builder = http::Request::builder()
        .method(method)
        .uri(path)
        .header("host", "app.example.com")
        .extension(PeerAddr([127, 0, 0, 1].into()));
    if !body.is_empty() {
        builder = builder.header("content-type", "application/json");
    }
    if !cookie.is_empty() {
        builder = builder.header("cookie", http::HeaderValue::from_str(cookie).ok()?);
    }
    builder.body(Bytes::from_static(body)).ok()
}

/// The `Set-Cookie` values of an answer.
pub fn set_cookies(response: &EndpointResponse) -> Vec<String> {
    response
        .headers()
        .get_all(http::header::SET_COOKIE)
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect()
}

/// The name and value of a `Set-Cookie` value, and whether it removes the cookie (`Max-Age=0`).
pub fn split_set_cookie(set: &str) -> (&str, &str, bool) {
    let mut parts = set.split(';');
    let pair = parts.next().unwrap_or_default();
    let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
    let removal = parts.any(|a| a.trim().eq_ignore_ascii_case("max-age=0"));
    (name.trim(), value.trim(), removal)
}

/// The cookie names of a `Cookie` header as a browser's cookie parser reads them (the `cookie`
/// crate's): in order, each once (the first pair of a name wins), empty names skipped.
pub fn cookie_names(header: &str) -> Vec<String> {
    let mut seen = HashSet::new();
    cookie::Cookie::split_parse(header)
        .flatten()
        .map(|c| c.name().to_owned())
        .filter(|name| !name.is_empty() && seen.insert(name.clone()))
        .collect()
}

/// Any `Cookie` header, through the engine (its cookie jar and the per-flow binding cookies are
/// private: they are checked through the routes that use them).
///
/// `POST prepare` carrying `header` answers 200 with exactly one binding cookie that is set, for
/// the new flow (`{prefix}{session_key}`, 64 lowercase hex), and otherwise only removals: of the
/// request's other binding cookies (names with the prefix and more), each once, in the order
/// received, at most [`MAX_STALE_REMOVALS`], each no longer than its name plus the fixed
/// attributes (the answer stays linear in the request, however many pairs it has); never a
/// verified session.
///
/// The binding cookie set by prepare, sent back first and followed by `header`, is accepted:
/// `GET status/{key}` gets past the binding check to Glide (5xx from the stand-in); `header`
/// alone is refused with 403 (missing or wrong binding). `GET status/{probe_key}` with `header`
/// (any key, any cookies) is refused with 404 or 403.
pub fn check_cookie_header(
    runtime: &tokio::runtime::Runtime,
    auth: &GlideAuth,
    secure: bool,
    header: &str,
    probe_key: &str,
) {
    let prefix = if secure {
        BINDING_PREFIX_SECURE
    } else {
        BINDING_PREFIX_DEV
    };
    // A header no HTTP stack would deliver (control characters) is not sent at all.
    let header = if http::HeaderValue::from_str(header).is_ok() {
        header
    } else {
        ""
    };
    let prepare_path = auth.routes().route("prepare");
    let request = engine_request(
        "POST",
        &prepare_path,
        header,
        br#"{"use_case":"GetPhoneNumber","client_info":{"user_agent":"fuzz","platform":"test"}}"#,
    )
    .expect("a valid request");
    let response = runtime.block_on(auth.handle(Route::Prepare, request));
    check_response(&response);
    assert_eq!(response.status(), 200, "prepare refused: {response:?}");
    assert_no_session_cookie(&response, auth);
    let body: serde_json::Value = serde_json::from_slice(response.body()).expect("JSON");
    let key = body["session"]["session_key"]
        .as_str()
        .expect("a session key")
        .to_owned();

    let expected: Vec<String> = cookie_names(header)
        .into_iter()
        .filter(|name| name.len() > prefix.len() && name.starts_with(prefix))
        .take(MAX_STALE_REMOVALS)
        .collect();
    let mut removed = Vec::new();
    let mut own = None;
    for set in set_cookies(&response) {
        let (name, value, removal) = split_set_cookie(&set);
        if removal {
            assert!(
                name.len() > prefix.len() && name.starts_with(prefix),
                "removal of a cookie that is not a binding cookie: {set:?}"
            );
            assert!(
                set.len() <= name.len() + 160,
                "removal cookie longer than its name plus its attributes: {set:?}"
            );
            removed.push(name.to_owned());
        } else {
            assert!(own.is_none(), "two cookies set by prepare: {set:?}");
            assert_eq!(name, format!("{prefix}{key}"), "{set:?}");
            assert!(
                value.len() == 64
                    && value
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
                "binding code {value:?}"
            );
            own = Some(format!("{name}={value}"));
        }
    }
    assert!(removed.len() <= MAX_STALE_REMOVALS);
    assert_eq!(removed, expected, "stale binding removals for {header:?}");
    let own = own.expect("prepare sets the flow's binding cookie");

    let status_path = auth.routes().route(&format!("status/{key}"));
    let status = |cookie: &str| {
        let request = engine_request("GET", &status_path, cookie, b"").expect("a valid request");
        let response = runtime.block_on(auth.handle(Route::Status, request));
        check_response(&response);
        assert_no_session_cookie(&response, auth);
        response
    };
    let with_own = status(&format!("{own}; {header}"));
    assert!(
        with_own.status().is_server_error(),
        "the binding cookie set by prepare was not accepted before {header:?}: {with_own:?}"
    );
    let without = status(header);
    assert_eq!(
        without.status(),
        403,
        "status without the binding cookie: {without:?}"
    );

    let probe_path = auth.routes().route(&format!("status/{probe_key}"));
    if let Some(request) = engine_request("GET", &probe_path, header, b"") {
        if auth.match_route(request.uri().path()) == Some(Route::Status) {
            let response = runtime.block_on(auth.handle(Route::Status, request));
            check_response(&response);
            assert!(
                [403, 404].contains(&response.status().as_u16()),
                "status/{probe_key:?} answered {response:?}"
            );
        }
    }
}

/// An accepted e-mail address is 3–254 bytes, one `@` with text on both sides, no whitespace,
/// control character, `<` or `>`; it is kept verbatim, and `Debug` hides the local part.
pub fn check_email(input: &str) {
    let Ok(email) = Email::parse(input) else {
        return;
    };
    assert_eq!(email.as_str(), input);
    assert_eq!(email.to_string(), input);
    assert!((3..=MAX_EMAIL_LEN).contains(&input.len()), "{input:?}");
    assert_eq!(input.matches('@').count(), 1, "{input:?}");
    let (local, domain) = input.split_once('@').expect("one @");
    assert!(!local.is_empty() && !domain.is_empty());
    assert!(
        !input
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>'),
        "{input:?}"
    );
    let first: String = local.chars().take(1).collect();
    assert_eq!(format!("{email:?}"), format!("Email({first}***@{domain})"));
    let json = serde_json::to_string(&email).expect("serialises");
    assert_eq!(
        serde_json::from_str::<Email>(&json).ok().as_ref(),
        Some(&email)
    );
}

/// Whether `code` is `UPPER_SNAKE` (`A-Z`, `0-9`, `_`, starting with a letter).
pub fn is_upper_snake(code: &str) -> bool {
    code.bytes().next().is_some_and(|b| b.is_ascii_uppercase())
        && code
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

/// A documented status; every answer but 2xx and 302 is the JSON error body `{code, message,
/// status}` with `status` equal to the HTTP status and an opaque message on 5xx; a 302 has a
/// `Location`; no header value carries CR or LF.
pub fn check_response(response: &EndpointResponse) {
    let status = response.status().as_u16();
    assert!(
        DOCUMENTED_STATUSES.contains(&status),
        "undocumented status {status}"
    );
    for (name, value) in response.headers() {
        assert!(
            !value.as_bytes().iter().any(|b| matches!(b, b'\r' | b'\n')),
            "header {name} carries CR/LF: {value:?}"
        );
    }
    if status == 302 {
        assert!(
            header(response, "location").is_some(),
            "302 without Location"
        );
        return;
    }
    if (200..300).contains(&status) {
        return;
    }
    assert_eq!(header(response, "content-type"), Some("application/json"));
    assert_eq!(header(response, "cache-control"), Some("no-store"));
    let body: serde_json::Value =
        serde_json::from_slice(response.body()).expect("every error body is JSON");
    let code = body["code"].as_str().expect("code is a string");
    assert!(is_upper_snake(code), "code {code:?}");
    let message = body["message"].as_str().expect("message is a string");
    assert_eq!(body["status"].as_u64(), Some(u64::from(status)), "{body}");
    if status >= 500 {
        assert!(
            OPAQUE_MESSAGES.contains(&message),
            "5xx message {message:?}"
        );
    }
}

/// The first value of header `name`, if it is text.
pub fn header<'a>(response: &'a EndpointResponse, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

/// Splits fuzz bytes at the first `0` byte (the rest is empty when there is none).
pub fn split_nul(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[]),
    }
}

/// Where nothing listens: every request to Glide there fails with a transport error.
pub const UNREACHABLE_GLIDE: &str = "http://127.0.0.1:9";

/// A Glide client for [`UNREACHABLE_GLIDE`], never retrying.
pub fn unreachable_glide() -> glide_core::api::Glide {
    glide_core::api::Glide::builder("fuzz-client", "fuzz-secret")
        .base_url(UNREACHABLE_GLIDE)
        .retry_policy(glide_core::api::RetryPolicy::none())
        .timeout(std::time::Duration::from_secs(5))
        .build()
        .expect("a valid client configuration")
}

/// An engine around [`unreachable_glide`]: secure cookies, one allowed origin
/// (`https://app.example.com`), no rate limits, Number Verify configured with `return_path`.
pub fn unreachable_engine(return_path: &str) -> glide_core::endpoint::GlideAuth {
    engine_with(unreachable_glide(), return_path)
}

/// [`unreachable_engine`] around a given client (cheap to call per input: the client is shared).
pub fn engine_with(
    glide: glide_core::api::Glide,
    return_path: &str,
) -> glide_core::endpoint::GlideAuth {
    glide_core::endpoint::GlideAuth::builder(glide)
        .allowed_origins(["https://app.example.com"])
        .rate_limits(glide_core::ratelimit::RateLimitConfig::disabled())
        .number_verify_callback_url(
            "https://app.example.com/api/magical-auth/number-verify/callback",
        )
        .legacy_return_path(return_path)
        .build()
        .expect("a valid engine configuration")
}

/// No answer sets the verified-session cookie to a value (removal cookies are allowed).
pub fn assert_no_session_cookie(
    response: &EndpointResponse,
    auth: &glide_core::endpoint::GlideAuth,
) {
    let prefix = format!("{}=", auth.session_cookie_name());
    for value in set_cookies(response) {
        if value.starts_with(&prefix) {
            assert!(
                value[prefix.len()..].starts_with(';'),
                "a verified session was issued: {value}"
            );
        }
    }
}

/// An error of the Glide client maps to a status in 400–599, with an opaque message on 5xx, and
/// renders as a well-formed `{code, message, status}` body without CR or LF in its headers.
pub fn check_error(error: &glide_core::Error) {
    let status = error.http_status();
    assert!(
        (400..=599).contains(&status),
        "error status {status}: {error:?}"
    );
    if status >= 500 {
        assert!(OPAQUE_MESSAGES.contains(&error.public_message().as_str()));
    }
    let response = glide_core::endpoint::error_response(error);
    assert_eq!(response.status().as_u16(), status);
    let body: serde_json::Value = serde_json::from_slice(response.body()).expect("JSON");
    assert!(
        body["code"].as_str().is_some_and(|c| !c.is_empty()),
        "{body}"
    );
    assert!(body["message"].is_string());
    assert_eq!(body["status"].as_u64(), Some(u64::from(status)));
    for value in response.headers().values() {
        assert!(!value.as_bytes().iter().any(|b| matches!(b, b'\r' | b'\n')));
    }
}

/// A [`Store`](glide_core::Store) that counts the operations asked of it (to bound the work one
/// request does) and hands them to the store it wraps.
#[derive(Debug, Clone)]
pub struct CountingStore {
    inner: Arc<dyn glide_core::Store>,
    ops: Arc<AtomicU64>,
}

impl CountingStore {
    /// Counts the operations on `inner`.
    pub fn new(inner: Arc<dyn glide_core::Store>) -> Self {
        Self {
            inner,
            ops: Arc::default(),
        }
    }

    /// The operations so far.
    pub fn ops(&self) -> u64 {
        self.ops.load(Ordering::Relaxed)
    }

    fn count(&self) {
        self.ops.fetch_add(1, Ordering::Relaxed);
    }
}

#[async_trait]
impl glide_core::Store for CountingStore {
    async fn create(
        &self,
        key: &str,
        value: &[u8],
        ttl: std::time::Duration,
    ) -> Result<bool, glide_core::store::StoreError> {
        self.count();
        self.inner.create(key, value, ttl).await
    }

    async fn load(
        &self,
        key: &str,
    ) -> Result<Option<glide_core::store::Versioned>, glide_core::store::StoreError> {
        self.count();
        self.inner.load(key).await
    }

    async fn load_if_changed(
        &self,
        key: &str,
        version: u64,
    ) -> Result<glide_core::store::Freshness, glide_core::store::StoreError> {
        self.count();
        self.inner.load_if_changed(key, version).await
    }

    fn session_endings(&self) -> Option<glide_core::events::SessionEndings> {
        self.inner.session_endings()
    }

    async fn compare_and_set(
        &self,
        key: &str,
        expected_version: u64,
        value: &[u8],
        ttl: std::time::Duration,
    ) -> Result<bool, glide_core::store::StoreError> {
        self.count();
        self.inner
            .compare_and_set(key, expected_version, value, ttl)
            .await
    }

    async fn take(
        &self,
        key: &str,
    ) -> Result<Option<glide_core::store::Versioned>, glide_core::store::StoreError> {
        self.count();
        self.inner.take(key).await
    }

    async fn delete(&self, key: &str) -> Result<(), glide_core::store::StoreError> {
        self.count();
        self.inner.delete(key).await
    }

    async fn increment(
        &self,
        key: &str,
        max: u64,
        ttl: std::time::Duration,
    ) -> Result<Option<u64>, glide_core::store::StoreError> {
        self.count();
        self.inner.increment(key, max, ttl).await
    }
}

/// The lines of a line-based input (`key value`, one a line; the bytes read as UTF-8, invalid
/// sequences replaced), at most `max` of them: what the targets with readable seeds take.
pub fn keyed_lines(data: &[u8], max: usize) -> Vec<(String, String)> {
    String::from_utf8_lossy(data)
        .split('\n')
        .take(max)
        .map(|line| {
            let (key, value) = line.split_once(' ').unwrap_or((line, ""));
            (key.to_owned(), value.to_owned())
        })
        .collect()
}
