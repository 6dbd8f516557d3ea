//! A plain view of requests and answers for the engine tests: build a request from strings,
//! read the answer's status, headers and body. Converts to and from the `http` types the engine
//! takes and returns.
#![allow(dead_code)]

pub mod engine;

use std::net::IpAddr;

use bytes::Bytes;
use glide_core::endpoint::{GlideAuth, PeerAddr, Route};

/// A request to one of the engine's routes, as strings.
#[derive(Debug, Clone, Default)]
pub struct EndpointRequest {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
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

    /// The value of query parameter `name`, percent-decoded.
    pub fn query_param(&self, name: &str) -> Option<String> {
        let query = self.query.as_deref()?;
        url::form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }

    /// The `http` request the engine takes; `None` when a header or the URI is not valid HTTP
    /// (no client could send it).
    pub fn into_http(self) -> Option<http::Request<Bytes>> {
        let uri = match &self.query {
            Some(q) => format!("{}?{q}", self.path),
            None => self.path.clone(),
        };
        let mut builder = http::Request::builder()
            .method(self.method.as_str())
            .uri(uri);
        for (name, value) in &self.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        if let Some(peer) = self.peer_addr {
            builder = builder.extension(PeerAddr(peer));
        }
        builder.body(self.body).ok()
    }
}

/// An answer, as strings.
#[derive(Debug, Clone)]
pub struct EndpointResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

impl EndpointResponse {
    /// The first value of header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn from_http(response: http::Response<Bytes>) -> Self {
        let (parts, body) = response.into_parts();
        Self {
            status: parts.status.as_u16(),
            headers: parts
                .headers
                .iter()
                .map(|(n, v)| {
                    (
                        n.as_str().to_owned(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            body,
        }
    }
}

/// Runs `request` through the engine's route `route`. A request no client could send (invalid
/// header bytes) answers 400, as a server would before any route runs.
pub async fn handle(auth: &GlideAuth, route: Route, request: EndpointRequest) -> EndpointResponse {
    match request.into_http() {
        Some(request) => EndpointResponse::from_http(auth.handle(route, request).await),
        None => EndpointResponse {
            status: 400,
            headers: Vec::new(),
            body: Bytes::from_static(
                br#"{"code":"BAD_REQUEST","message":"invalid request","status":400}"#,
            ),
        },
    }
}
