//! A small scripted Glide stand-in on 127.0.0.1 for the client tests: checks client
//! credentials and bearer tokens, counts token requests, records every call and answers each
//! path from a queue of canned responses.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Router;
use base64::Engine as _;
use bytes::Bytes;
use glide_core::api::Glide;

pub const CLIENT_ID: &str = "test-id";
pub const CLIENT_SECRET: &str = "test-secret-value";

#[derive(Clone, Debug)]
pub struct Canned {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub delay: Duration,
    /// Send the body in chunks, without `Content-Length`.
    pub chunked: bool,
}

impl Canned {
    pub fn json(status: u16, body: serde_json::Value) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: serde_json::to_vec(&body).unwrap(),
            delay: Duration::ZERO,
            chunked: false,
        }
    }

    pub fn text(status: u16, body: &str) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), "text/plain".into())],
            body: body.as_bytes().to_vec(),
            delay: Duration::ZERO,
            chunked: false,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn chunked(mut self) -> Self {
        self.chunked = true;
        self
    }

    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Recorded {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

#[derive(Default)]
pub struct ServerState {
    pub token_requests: AtomicUsize,
    pub token_expires_in: AtomicI64,
    pub token_delay_ms: AtomicU64,
    /// Bearer tokens `tok-N` are accepted when N >= this.
    pub min_valid_token: AtomicUsize,
    pub token_error: Mutex<Option<Canned>>,
    scripts: Mutex<HashMap<String, VecDeque<Canned>>>,
    defaults: Mutex<HashMap<String, Canned>>,
    calls: Mutex<Vec<Recorded>>,
}

pub struct TestServer {
    pub base: String,
    pub state: Arc<ServerState>,
}

impl TestServer {
    pub async fn start() -> Self {
        let state = Arc::new(ServerState::default());
        state.token_expires_in.store(3600, Ordering::SeqCst);
        let app = Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            base: format!("http://{addr}"),
            state,
        }
    }

    /// A client for this server (fast 503 retries).
    pub fn glide(&self) -> Glide {
        self.builder().build().unwrap()
    }

    pub fn builder(&self) -> glide_core::api::GlideBuilder {
        Glide::builder(CLIENT_ID, CLIENT_SECRET)
            .base_url(&self.base)
            .retry_policy(glide_core::api::RetryPolicy::new().max_wait(Duration::from_millis(20)))
    }

    /// Queue `canned` answers for `path` (used once each, in order).
    pub fn script(&self, path: &str, canned: impl IntoIterator<Item = Canned>) {
        self.state
            .scripts
            .lock()
            .unwrap()
            .entry(path.to_owned())
            .or_default()
            .extend(canned);
    }

    /// The answer for `path` once the queue is empty.
    pub fn default_answer(&self, path: &str, canned: Canned) {
        self.state
            .defaults
            .lock()
            .unwrap()
            .insert(path.to_owned(), canned);
    }

    pub fn calls(&self) -> Vec<Recorded> {
        self.state.calls.lock().unwrap().clone()
    }

    pub fn calls_to(&self, path: &str) -> Vec<Recorded> {
        self.calls()
            .into_iter()
            .filter(|c| c.path == path)
            .collect()
    }

    pub fn token_requests(&self) -> usize {
        self.state.token_requests.load(Ordering::SeqCst)
    }
}

fn respond(canned: &Canned, correlation: Option<&str>) -> Response {
    let mut builder = Response::builder().status(canned.status);
    for (k, v) in &canned.headers {
        builder = builder.header(k, v);
    }
    if let Some(id) = correlation {
        builder = builder.header("x-correlation-id", id);
    }
    if canned.chunked {
        let chunks: Vec<Result<Bytes, std::io::Error>> = canned
            .body
            .chunks(16 * 1024)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        return builder
            .body(Body::from_stream(futures_util::stream::iter(chunks)))
            .unwrap();
    }
    builder.body(Body::from(canned.body.clone())).unwrap()
}

async fn handle(State(state): State<Arc<ServerState>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = to_bytes(body, usize::MAX).await.unwrap();
    let path = parts.uri.path().to_owned();
    state.calls.lock().unwrap().push(Recorded {
        method: parts.method.to_string(),
        path: path.clone(),
        headers: parts.headers.clone(),
        body: body.clone(),
    });
    let correlation = parts
        .headers
        .get("x-correlation-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };

    if path == "/oauth2-cc/token" {
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD
                .encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"))
        );
        if header("authorization") != expected {
            return respond(
                &Canned::json(401, serde_json::json!({"error": "invalid_client"})),
                None,
            );
        }
        assert_eq!(&body[..], b"grant_type=client_credentials");
        assert_eq!(header("content-type"), "application/x-www-form-urlencoded");
        if let Some(err) = state.token_error.lock().unwrap().clone() {
            return respond(&err, None);
        }
        let n = state.token_requests.fetch_add(1, Ordering::SeqCst) + 1;
        let delay = state.token_delay_ms.load(Ordering::SeqCst);
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
        let expires_in = state.token_expires_in.load(Ordering::SeqCst);
        return respond(
            &Canned::json(
                200,
                serde_json::json!({"access_token": format!("tok-{n}"), "token_type": "Bearer", "expires_in": expires_in}),
            ),
            None,
        );
    }

    if path.starts_with("/magic-auth/") {
        let valid = header("authorization")
            .strip_prefix("Bearer tok-")
            .and_then(|n| n.parse::<usize>().ok())
            .is_some_and(|n| n >= state.min_valid_token.load(Ordering::SeqCst));
        if !valid {
            return respond(
                &Canned::json(
                    401,
                    serde_json::json!({"code": "UNAUTHORIZED", "message": "invalid token", "status": 401}),
                ),
                correlation.as_deref(),
            );
        }
    }

    let scripted = state
        .scripts
        .lock()
        .unwrap()
        .get_mut(&path)
        .and_then(VecDeque::pop_front);
    let canned = scripted.or_else(|| state.defaults.lock().unwrap().get(&path).cloned());
    match canned {
        Some(canned) => {
            if !canned.delay.is_zero() {
                tokio::time::sleep(canned.delay).await;
            }
            respond(&canned, correlation.as_deref())
        }
        None => Response::builder()
            .status(StatusCode::NOT_FOUND)
            .header("content-type", "application/json")
            .body(Body::from(
                r#"{"code":"SESSION_NOT_FOUND","message":"no script for this path","status":404}"#,
            ))
            .unwrap(),
    }
}

/// A prepare answer as Glide sends it (with members the client does not know).
pub fn session_json() -> serde_json::Value {
    serde_json::json!({
        "session_key": "ee25b966c9395f0b",
        "nonce": "n0nce",
        "enc_key": "{\"kty\":\"EC\",\"d\":\"PRIVATE\"}",
        "protocol_type": "ts43",
        "metadata": {"use_case": "VerifyPhoneNumber", "prepare_duration": "12ms"}
    })
}

/// Sends `calls` GETs at once through `client` to a server that answers none of them until all
/// are there, and returns how many TCP connections they came on. Every call must come back
/// 200 over HTTP/2 within 15 s: a call queued inside the client behind a stream limit never
/// reaches the server, and the others then wait forever.
pub async fn all_held_at_once<C>(client: C, calls: usize) -> usize
where
    C: glide_core::api::HttpClient + Clone,
{
    use std::collections::BTreeSet;
    use std::net::SocketAddr;

    use axum::extract::ConnectInfo;

    #[derive(Clone)]
    struct Seen {
        calls: usize,
        peers: Arc<Mutex<BTreeSet<SocketAddr>>>,
        arrived: Arc<AtomicUsize>,
        all_here: Arc<tokio::sync::Notify>,
    }
    async fn hold(
        State(seen): State<Seen>,
        ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ) -> &'static str {
        seen.peers.lock().unwrap().insert(peer);
        let notified = seen.all_here.notified();
        if seen.arrived.fetch_add(1, Ordering::SeqCst) + 1 == seen.calls {
            seen.all_here.notify_waiters();
            return "done";
        }
        // Answered only once every call is here at once.
        notified.await;
        "done"
    }
    let seen = Seen {
        calls,
        peers: Arc::default(),
        arrived: Arc::default(),
        all_here: Arc::default(),
    };
    let app = Router::new()
        .route("/wait", axum::routing::get(hold))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    });
    let sent: Vec<_> = (0..calls)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move {
                let request = http::Request::get(format!("http://{addr}/wait"))
                    .body(Bytes::new())
                    .unwrap();
                client.execute(request).await
            })
        })
        .collect();
    for call in sent {
        let response = tokio::time::timeout(Duration::from_secs(15), call)
            .await
            .expect("every call reached the server at once")
            .unwrap()
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.version(), http::Version::HTTP_2);
        assert_eq!(response.body().as_ref(), b"done");
    }
    let connections = seen.peers.lock().unwrap().len();
    connections
}
