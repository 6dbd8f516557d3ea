//! Reading an HTTP answer: [`Reply`] (status, headers, body, with the suite's assertions on
//! them) and [`SetCookie`] (one parsed `Set-Cookie` header).

use serde_json::Value;

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
