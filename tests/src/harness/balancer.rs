//! A round-robin HTTP balancer in front of app instances: request *n* goes to instance
//! `n % instances`, whatever connection it came on, as a load balancer without sticky sessions
//! does. The request is forwarded as it came (method, path and query, every header including
//! `Host` and `Origin`, the body); the answer comes back as the instance gave it (status, every
//! header including each `Set-Cookie`, the body).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderName, StatusCode};
use axum::response::Response;

use super::{serve_axum, RunningApp};

/// The largest body the balancer carries (the engine's own limit is far below).
const MAX_BODY: usize = 16 << 20;

struct Balance {
    instances: Vec<String>,
    next: AtomicUsize,
    http: reqwest::Client,
}

/// Headers of one hop, never forwarded.
fn hop_by_hop(name: &HeaderName) -> bool {
    name == header::CONNECTION
        || name == header::TRANSFER_ENCODING
        || name == header::CONTENT_LENGTH
        || name.as_str() == "keep-alive"
}

fn copy(headers: &HeaderMap, into: &mut HeaderMap) {
    for (name, value) in headers {
        if !hop_by_hop(name) {
            into.append(name.clone(), value.clone());
        }
    }
}

async fn forward(State(balance): State<Arc<Balance>>, request: Request) -> Response {
    let n = balance.next.fetch_add(1, Ordering::SeqCst) % balance.instances.len();
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY).await else {
        return status(StatusCode::PAYLOAD_TOO_LARGE);
    };
    let target = format!(
        "{}{}",
        balance.instances[n],
        parts.uri.path_and_query().map_or("/", |p| p.as_str())
    );
    let mut headers = HeaderMap::new();
    copy(&parts.headers, &mut headers);
    let sent = balance
        .http
        .request(parts.method, target)
        .headers(headers)
        .body(body)
        .send()
        .await;
    let Ok(answer) = sent else {
        return status(StatusCode::BAD_GATEWAY);
    };
    let code = answer.status();
    let mut headers = HeaderMap::new();
    copy(answer.headers(), &mut headers);
    let Ok(bytes) = answer.bytes().await else {
        return status(StatusCode::BAD_GATEWAY);
    };
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = code;
    *response.headers_mut() = headers;
    response
}

fn status(code: StatusCode) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = code;
    response
}

/// Serves the balancer on `listener` in front of `instances` (their base URLs); dropping the
/// returned app stops it (and only it).
pub fn serve_balancer(instances: Vec<String>, listener: std::net::TcpListener) -> RunningApp {
    assert!(!instances.is_empty(), "a balancer needs an instance");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .expect("the balancer's client");
    let balance = Arc::new(Balance {
        instances,
        next: AtomicUsize::new(0),
        http,
    });
    serve_axum(
        axum::Router::new().fallback(forward).with_state(balance),
        listener,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;

    /// An instance that answers its name, the `Host` and `Origin` it got, and two cookies.
    fn instance(name: &'static str) -> RunningApp {
        let app = axum::Router::new().route(
            "/who",
            get(move |headers: HeaderMap| async move {
                let seen = |h: header::HeaderName| {
                    headers
                        .get(h)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-")
                        .to_owned()
                };
                (
                    axum::response::AppendHeaders([
                        (header::SET_COOKIE, format!("a={name}")),
                        (header::SET_COOKIE, "b=2".to_owned()),
                    ]),
                    format!("{name} {} {}", seen(header::HOST), seen(header::ORIGIN)),
                )
            }),
        );
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        serve_axum(app, listener)
    }

    #[tokio::test]
    async fn requests_alternate_and_travel_unchanged() {
        let (one, two) = (instance("one"), instance("two"));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let host = listener.local_addr().expect("address").to_string();
        let balancer = serve_balancer(vec![one.base_url.clone(), two.base_url.clone()], listener);
        let http = reqwest::Client::new();
        let mut answered = Vec::new();
        for _ in 0..4 {
            let answer = http
                .get(format!("{}/who", balancer.base_url))
                .header("origin", "http://app.test")
                .send()
                .await
                .expect("an answer");
            let cookies: Vec<_> = answer
                .headers()
                .get_all(header::SET_COOKIE)
                .iter()
                .map(|v| v.to_str().unwrap_or_default().to_owned())
                .collect();
            assert_eq!(cookies.len(), 2, "{cookies:?}");
            answered.push(answer.text().await.expect("a body"));
        }
        let expected = |name| format!("{name} {host} http://app.test");
        assert_eq!(
            answered,
            [
                expected("one"),
                expected("two"),
                expected("one"),
                expected("two")
            ]
        );
    }
}
