//! The plain request and response types that cross the seam between glide-core and an adapter.

use bytes::Bytes;
use std::net::IpAddr;

use crate::error::Error;

/// An HTTP request to one of our routes, as an adapter hands it over.
///
/// Header names must be lowercase (both http 1.x and actix-web's `HeaderName` already are).
#[derive(Debug, Clone, Default)]
pub struct EndpointRequest {
    /// The method, upper case (`GET`, `POST`).
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The raw query string, without `?`.
    pub query: Option<String>,
    /// Headers, names lowercase, in the order received.
    pub headers: Vec<(String, String)>,
    /// The body, already bounded by [`GlideAuth::body_limit`](crate::endpoint::GlideAuth::body_limit).
    pub body: Bytes,
    /// The address of the TCP peer.
    pub peer_addr: Option<IpAddr>,
}

impl EndpointRequest {
    /// The first value of header `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// All `Cookie` headers joined with `; ` (HTTP/2 may split them).
    pub fn cookie_header(&self) -> Option<String> {
        crate::cookie::join_cookie_headers(
            self.headers
                .iter()
                .filter(|(n, _)| n == "cookie")
                .map(|(_, v)| v.as_str()),
        )
    }

    /// The value of query parameter `name`, percent-decoded.
    pub fn query_param(&self, name: &str) -> Option<String> {
        let query = self.query.as_deref()?;
        url::form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }
}

/// The answer to an [`EndpointRequest`]: status, headers (including every `Set-Cookie`) and body.
#[derive(Debug, Clone)]
pub struct EndpointResponse {
    /// HTTP status code.
    pub status: u16,
    /// Headers, in order; `set-cookie` may appear several times.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Bytes,
}

impl EndpointResponse {
    /// A response with a status and no body.
    pub fn empty(status: u16) -> Self {
        Self {
            status,
            headers: vec![("cache-control".into(), "no-store".into())],
            body: Bytes::new(),
        }
    }

    /// A JSON response (`Cache-Control: no-store`).
    pub fn json(status: u16, value: &serde_json::Value) -> Self {
        Self {
            status,
            headers: vec![
                ("content-type".into(), "application/json".into()),
                ("cache-control".into(), "no-store".into()),
                ("x-content-type-options".into(), "nosniff".into()),
            ],
            body: Bytes::from(value.to_string()),
        }
    }

    /// The error body of every route: `{"code", "message", "status"}`, with `Retry-After` when
    /// the error has one. 5xx messages are opaque.
    pub fn error(error: &Error) -> Self {
        let status = error.http_status();
        if status >= 500 {
            tracing::error!(target: "glide::endpoint", error = %crate::error::LogError(error), "request failed");
        } else {
            tracing::debug!(target: "glide::endpoint", error = %crate::error::LogError(error), "request refused");
        }
        let mut response = Self::json(
            status,
            &serde_json::json!({
                "code": error.code(),
                "message": error.public_message(),
                "status": status,
            }),
        );
        if let Some(retry_after) = error.retry_after() {
            let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
            response
                .headers
                .push(("retry-after".into(), secs.max(1).to_string()));
        }
        response
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    /// Adds a `Set-Cookie` header.
    pub fn with_cookie(self, set_cookie: impl Into<String>) -> Self {
        self.with_header("set-cookie", set_cookie)
    }

    /// The first value of header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

impl From<Error> for EndpointResponse {
    fn from(error: Error) -> Self {
        Self::error(&error)
    }
}
