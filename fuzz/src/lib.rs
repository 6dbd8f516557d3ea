//! The properties every fuzz target asserts, shared so that each target stays a few lines long.
//!
//! Every function here panics (and so makes libFuzzer record a crash) when glide-core breaks a
//! promise about input it did not choose: a cookie header, a phone number, an e-mail address, a
//! request body, a query string or an answer from Glide.

use glide_core::binding::{
    is_hex64, parse_binding_cookie, set_binding_cookie, stale_binding_cookies,
    validate_session_key, FeCode, BINDING_COOKIE_PREFIX,
};
use glide_core::cookie::{cookie_pairs, find_cookie, CookieSpec};
use glide_core::endpoint::EndpointResponse;
use glide_core::legacy::{Email, MAX_EMAIL_LEN};
use glide_core::PhoneNumber;

/// Every status code the contract documents for our routes.
pub const DOCUMENTED_STATUSES: &[u16] = &[
    200, 202, 204, 302, 400, 401, 403, 404, 405, 409, 413, 415, 422, 429, 500, 502, 503,
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

/// `cookie_pairs` yields trimmed non-empty names and unquoted values free of `;`; `find_cookie`
/// finds the first pair of a name; a binding cookie is returned only as 64 lowercase hex for a
/// valid session key, and survives a round trip through `set_binding_cookie`; stale binding
/// cookies are listed once each, all with the prefix and a non-empty key.
pub fn check_cookie_header(header: &str, session_key: &str) {
    let pairs: Vec<(&str, &str)> = cookie_pairs(header).collect();
    for (name, value) in &pairs {
        assert!(!name.is_empty());
        assert_eq!(*name, name.trim(), "untrimmed name {name:?}");
        assert!(!name.contains(';') && !name.contains('='), "{name:?}");
        assert!(!value.contains(';'), "{value:?}");
        assert!(
            !value.starts_with('"') && !value.ends_with('"'),
            "{value:?}"
        );
    }
    // find_cookie answers the first pair of a name (checked on the first 32 pairs, so that a
    // header of thousands of pairs stays linear).
    let mut seen: Vec<&str> = Vec::new();
    for (name, value) in pairs.iter().take(32) {
        let found = find_cookie(header, name);
        if seen.contains(name) {
            assert_ne!(found, None);
        } else {
            assert_eq!(
                found,
                Some(*value),
                "find_cookie({name:?}) is not the first pair"
            );
            seen.push(name);
        }
    }
    let key_ok = validate_session_key(session_key).is_ok();
    if let Some(code) = parse_binding_cookie(header, session_key) {
        assert!(
            key_ok,
            "accepted a binding cookie for a bad key {session_key:?}"
        );
        let secret = code.secret();
        assert!(
            is_hex64(secret) && secret == secret.to_ascii_lowercase(),
            "fe_code {secret:?}"
        );
        let raw = find_cookie(header, &format!("{BINDING_COOKIE_PREFIX}{session_key}"))
            .expect("the cookie it came from");
        assert_eq!(raw.to_ascii_lowercase(), secret);
    }
    if key_ok {
        let code = FeCode::parse(&"aB".repeat(32)).expect("64 hex");
        let set = set_binding_cookie(&CookieSpec::new("unused"), session_key, &code)
            .expect("a valid key makes a cookie");
        let pair = set.split(';').next().expect("name=value first");
        let sent = format!("{pair}; {header}");
        let back = parse_binding_cookie(&sent, session_key).expect("round trip");
        assert_eq!(back, code);
    }

    let stale = stale_binding_cookies(header);
    let names: std::collections::HashSet<&str> = pairs.iter().map(|(n, _)| *n).collect();
    for (i, name) in stale.iter().enumerate() {
        assert!(
            name.starts_with(BINDING_COOKIE_PREFIX) && name.len() > BINDING_COOKIE_PREFIX.len()
        );
        if i < 32 {
            assert!(!stale[..i].contains(name), "listed twice: {name:?}");
        }
        assert!(names.contains(name.as_str()));
    }
    let expected = pairs
        .iter()
        .filter(|(n, _)| {
            n.len() > BINDING_COOKIE_PREFIX.len() && n.starts_with(BINDING_COOKIE_PREFIX)
        })
        .count();
    assert!(stale.len() <= expected);
    assert_eq!(stale.is_empty(), expected == 0);
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
    let status = response.status;
    assert!(
        DOCUMENTED_STATUSES.contains(&status),
        "undocumented status {status}"
    );
    for (name, value) in &response.headers {
        assert!(
            !value.contains(['\r', '\n']),
            "header {name} carries CR/LF: {value:?}"
        );
    }
    if status == 302 {
        assert!(
            response.header("location").is_some(),
            "302 without Location"
        );
        return;
    }
    if (200..300).contains(&status) {
        return;
    }
    assert_eq!(response.header("content-type"), Some("application/json"));
    assert_eq!(response.header("cache-control"), Some("no-store"));
    let body: serde_json::Value =
        serde_json::from_slice(&response.body).expect("every error body is JSON");
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
    for (name, value) in &response.headers {
        if name == "set-cookie" && value.starts_with(&prefix) {
            assert!(
                value[prefix.len()..].starts_with(';'),
                "a verified session was issued: {value}"
            );
        }
    }
}
