//! [`Http2Client`]: an [`HttpClient`] that speaks HTTP/2 only, on the `h2` crate directly — a
//! call is one stream on a shared connection and nothing else.
//!
//! [`ReqwestClient`](super::ReqwestClient) speaks HTTP/2 too, but each call it carries holds
//! reqwest's and hyper's pooled-request state and a task of its own (~14 KiB, measured in
//! `docs/scale.md`): for a desktop flow's long poll, which waits up to a minute for the phone,
//! that state is held by every waiting browser. Here a call holds its stream's slot in the
//! connection and the future awaiting its answer.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use std::future::Future;
use std::pin::Pin;

use bytes::{Bytes, BytesMut};
use h2::client::SendRequest;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::http::{BodyTooLarge, HttpClient, DEFAULT_MAX_RESPONSE_BYTES};
use crate::error::BoxError;

/// [`HttpClient`] for a Glide API that serves HTTP/2: `https://` negotiates it by ALPN (a
/// server that does not offer `h2` is refused, never spoken to in HTTP/1), `http://` speaks it
/// from the first byte (h2c, as the sandbox serves it).
///
/// Calls are streams, at most
/// [`streams_per_connection`](Http2ClientBuilder::streams_per_connection) to a connection; a
/// connection opens when all are full (one at a time per origin) and is dropped when the server
/// closes it. Redirects are never followed (a `3xx` is returned as it is), the connect step
/// has a deadline (5 s), and a response body is read up to a cap (default 1 MiB) and refused
/// past it. The request deadline is [`Glide`](super::Glide)'s own.
///
/// ```no_run
/// use glide_core::api::{Glide, Http2Client};
///
/// # fn demo() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
/// let glide = Glide::builder("client-id", "client-secret")
///     .http_client(Http2Client::new()?)
///     .build()?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Http2Client {
    inner: Arc<Inner>,
}

/// Configures an [`Http2Client`].
#[derive(Debug, Clone)]
pub struct Http2ClientBuilder {
    max_response_bytes: usize,
    streams_per_connection: usize,
    max_connections: usize,
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl Http2ClientBuilder {
    /// Response size cap (default 1 MiB).
    pub fn max_response_bytes(mut self, max: usize) -> Self {
        self.max_response_bytes = max;
        self
    }

    /// How many calls one connection carries at once before another opens (default 100, the
    /// least RFC 9113 asks servers to allow). At least 1.
    pub fn streams_per_connection(mut self, streams: usize) -> Self {
        self.streams_per_connection = streams.max(1);
        self
    }

    /// How many connections one origin may have (default 1,000); past that, calls go to the
    /// least busy one. At least 1.
    pub fn max_connections(mut self, connections: usize) -> Self {
        self.max_connections = connections.max(1);
        self
    }

    /// The TLS settings for `https://` (default: the Mozilla roots of `webpki-roots`). Its ALPN
    /// protocols are replaced with `h2`.
    pub fn tls_config(mut self, config: rustls::ClientConfig) -> Self {
        self.tls = Some(Arc::new(config));
        self
    }

    /// Builds the client; no connection opens before the first call.
    pub fn build(self) -> Result<Http2Client, BoxError> {
        let mut tls = match self.tls {
            Some(config) => Arc::unwrap_or_clone(config),
            None => default_tls()?,
        };
        tls.alpn_protocols = vec![b"h2".to_vec()];
        Ok(Http2Client {
            inner: Arc::new(Inner {
                max_response_bytes: self.max_response_bytes,
                per_connection: self.streams_per_connection,
                max_connections: self.max_connections,
                tls: tokio_rustls::TlsConnector::from(Arc::new(tls)),
                origins: Mutex::new(HashMap::new()),
            }),
        })
    }
}

/// TLS with the Mozilla roots, on *ring*.
fn default_tls() -> Result<rustls::ClientConfig, BoxError> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

impl Http2Client {
    /// Connect deadline (TCP, then TLS, then the HTTP/2 handshake).
    pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
    /// Default number of calls one connection carries at once.
    pub const DEFAULT_STREAMS_PER_CONNECTION: usize = 100;

    /// A client with the default settings.
    pub fn new() -> Result<Self, BoxError> {
        Self::builder().build()
    }

    /// Starts configuring a client.
    pub fn builder() -> Http2ClientBuilder {
        Http2ClientBuilder {
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            streams_per_connection: Self::DEFAULT_STREAMS_PER_CONNECTION,
            max_connections: 1000,
            tls: None,
        }
    }

    /// How many connections are open, over all origins.
    pub fn connections(&self) -> usize {
        self.inner
            .origins
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .map(|pool| pool.open())
            .sum()
    }
}

impl fmt::Debug for Http2Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Http2Client")
            .field("connections", &self.connections())
            .field("streams_per_connection", &self.inner.per_connection)
            .field("max_connections", &self.inner.max_connections)
            .field("max_response_bytes", &self.inner.max_response_bytes)
            .finish()
    }
}

struct Inner {
    max_response_bytes: usize,
    per_connection: usize,
    max_connections: usize,
    tls: tokio_rustls::TlsConnector,
    origins: Mutex<HashMap<Origin, Arc<Pool>>>,
}

/// Where a connection goes: scheme, host (without IPv6 brackets) and port.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Origin {
    tls: bool,
    host: String,
    port: u16,
}

impl Origin {
    fn of(uri: &http::Uri) -> Result<Self, BoxError> {
        let tls = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err("an absolute http(s) URL is needed".into()),
        };
        let host = uri.host().ok_or("a URL without a host")?;
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
        Ok(Self { tls, host, port })
    }
}

/// One origin's connections.
#[derive(Default)]
struct Pool {
    connections: Mutex<Vec<Arc<Connection>>>,
    /// Held while a connection opens: calls that find every connection full wait for it
    /// instead of each opening their own.
    opening: tokio::sync::Mutex<()>,
}

struct Connection {
    send: SendRequest<Bytes>,
    in_flight: AtomicUsize,
    /// Set when the connection's driver ends (closed by either side, or failed).
    closed: Arc<AtomicBool>,
}

impl Connection {
    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }
}

/// A call's place on a connection, given back when the call ends.
struct Taken(Arc<Connection>);

impl Drop for Taken {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Pool {
    fn open(&self) -> usize {
        self.connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|c| !c.is_closed())
            .count()
    }

    /// A place on the first open connection with room (closed ones are dropped on the way).
    fn room(&self, per_connection: usize) -> Option<Taken> {
        let mut connections = self
            .connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        connections.retain(|c| !c.is_closed());
        connections.iter().find_map(|c| {
            c.in_flight
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                    (n < per_connection).then_some(n + 1)
                })
                .ok()
                .map(|_| Taken(Arc::clone(c)))
        })
    }

    /// A place on the least busy connection, when no more may open.
    fn least_busy(&self, max_connections: usize) -> Option<Taken> {
        let connections = self
            .connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if connections.len() < max_connections {
            return None;
        }
        let least = connections
            .iter()
            .min_by_key(|c| c.in_flight.load(Ordering::Acquire))?;
        least.in_flight.fetch_add(1, Ordering::AcqRel);
        Some(Taken(Arc::clone(least)))
    }

    fn add(&self, (send, closed): Opened) -> Taken {
        let connection = Arc::new(Connection {
            send,
            in_flight: AtomicUsize::new(1),
            closed,
        });
        self.connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Arc::clone(&connection));
        Taken(connection)
    }
}

impl Inner {
    fn pool(&self, origin: &Origin) -> Arc<Pool> {
        let mut origins = self.origins.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(origins.entry(origin.clone()).or_default())
    }

    /// A place for one call to `uri`'s origin: on a connection with room, else on a new one,
    /// else (all connections open) on the least busy. Connections open one at a time: a call
    /// that waited for another's opening finds room on it.
    async fn take(&self, uri: &http::Uri) -> Result<Taken, BoxError> {
        let origin = Origin::of(uri)?;
        let pool = self.pool(&origin);
        if let Some(taken) = pool.room(self.per_connection) {
            return Ok(taken);
        }
        let _opening = pool.opening.lock().await;
        if let Some(taken) = pool.room(self.per_connection) {
            return Ok(taken);
        }
        if let Some(taken) = pool.least_busy(self.max_connections) {
            return Ok(taken);
        }
        // Boxed: opening a connection (TCP, TLS, handshake) is a large future that only the
        // opening call needs; the calls queued behind it must not each hold one.
        let opened = Box::pin(tokio::time::timeout(
            Http2Client::CONNECT_TIMEOUT,
            self.connect(&origin),
        ))
        .await
        .map_err(|_| "no HTTP/2 connection within the connect deadline")??;
        Ok(pool.add(opened))
    }

    async fn connect(&self, origin: &Origin) -> Result<Opened, BoxError> {
        let tcp = TcpStream::connect((origin.host.as_str(), origin.port)).await?;
        // An HTTP/2 request is several small frames: Nagle's algorithm would hold the last.
        tcp.set_nodelay(true)?;
        if origin.tls {
            let name = rustls::pki_types::ServerName::try_from(origin.host.clone())?;
            let tls = self.tls.connect(name, tcp).await?;
            if tls.get_ref().1.alpn_protocol() != Some(b"h2") {
                return Err("the server does not offer HTTP/2 (ALPN h2)".into());
            }
            handshake(tls).await
        } else {
            handshake(tcp).await
        }
    }
}

/// A new connection's request handle, and its closed flag.
type Opened = (SendRequest<Bytes>, Arc<AtomicBool>);

/// The HTTP/2 handshake on `io`; the connection is then driven by a task of its own until it
/// closes.
async fn handshake<T>(io: T) -> Result<Opened, BoxError>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (send, connection) = h2::client::handshake(io).await?;
    let closed = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&closed);
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(%error, "HTTP/2 connection to Glide ended");
        }
        flag.store(true, Ordering::Release);
    });
    Ok((send, closed))
}

impl HttpClient for Http2Client {
    /// The request is handed to a boxed future that takes a place and sends it: during the
    /// wait for the answer, the call holds its place and the answer's future only.
    fn execute<'a, 'b>(
        &'a self,
        request: http::Request<Bytes>,
    ) -> Pin<Box<dyn Future<Output = Result<http::Response<Bytes>, BoxError>> + Send + 'b>>
    where
        'a: 'b,
        Self: 'b,
    {
        let limit = self.inner.max_response_bytes;
        let start = Box::pin(start(Arc::clone(&self.inner), request));
        Box::pin(async move {
            let (taken, answer) = start.await?;
            let response = answer.await?;
            let read = Box::pin(read(response, limit)).await;
            drop(taken);
            read
        })
    }
}

/// Takes a place for `request` and sends it.
async fn start(
    inner: Arc<Inner>,
    request: http::Request<Bytes>,
) -> Result<(Taken, h2::client::ResponseFuture), BoxError> {
    let taken = Box::pin(inner.take(request.uri())).await?;
    let answer = send(&taken.0, request).await?;
    Ok((taken, answer))
}

/// Opens a stream on `connection` for `request` and sends it whole.
async fn send(
    connection: &Connection,
    request: http::Request<Bytes>,
) -> Result<h2::client::ResponseFuture, BoxError> {
    let (parts, body) = request.into_parts();
    let mut send = connection.send.clone().ready().await?;
    let (answer, mut stream) =
        send.send_request(http::Request::from_parts(parts, ()), body.is_empty())?;
    if !body.is_empty() {
        stream.send_data(body, true)?;
    }
    Ok(answer)
}

/// Reads an answer's body, up to `limit` bytes.
async fn read(
    response: http::Response<h2::RecvStream>,
    limit: usize,
) -> Result<http::Response<Bytes>, BoxError> {
    let status = response.status().as_u16();
    let declared = response
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(Box::new(BodyTooLarge { status, limit }));
    }
    let (parts, mut incoming) = response.into_parts();
    let mut body = BytesMut::new();
    while let Some(chunk) = incoming.data().await {
        let chunk = chunk?;
        // Taken: the server may send more.
        incoming.flow_control().release_capacity(chunk.len())?;
        if body.len() + chunk.len() > limit {
            return Err(Box::new(BodyTooLarge { status, limit }));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(http::Response::from_parts(parts, body.freeze()))
}
