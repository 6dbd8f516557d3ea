//! The WebDriver wire: JSON commands to chromedriver over `reqwest`, and bodiless HTTP/1.1
//! requests on a plain socket for start-up and `Drop`, where nothing can be awaited.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use serde_json::Value;

#[derive(Debug)]
pub(super) struct WebDriverError {
    /// The W3C error code (`no such element`, …) or `transport`.
    error: String,
    message: String,
}

impl WebDriverError {
    pub(super) fn is_retryable_interaction(&self) -> bool {
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

pub(super) fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(90))
        .no_proxy()
        .build()
        .expect("build the WebDriver HTTP client")
}

pub(super) async fn send(
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

pub(super) fn driver_ready(port: u16) -> bool {
    blocking_request(port, "GET", "/status", Duration::from_secs(2))
        .and_then(|body| serde_json::from_str::<Value>(&body).ok())
        .is_some_and(|status| status["value"]["ready"] == true)
}

pub(super) fn delete_session_blocking(port: u16, id: &str) {
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
