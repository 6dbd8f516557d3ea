//! The HTTP seam: [`HttpClient`] sends one request and returns one buffered response.
//!
//! [`ReqwestClient`] (feature `reqwest`, on by default) is the default implementation. Bring your
//! own by implementing the trait — for a proxy, a custom TLS setup or a test double. Whatever
//! the client, [`Glide`](super::Glide) applies its own request timeout and response size cap on
//! top, and never follows redirects (a `3xx` is an error).

use std::fmt::Debug;

use async_trait::async_trait;
use bytes::Bytes;

use crate::error::BoxError;

/// Sends HTTP requests for [`Glide`](super::Glide).
///
/// Implementations must not follow redirects, and should stop reading a response body once it
/// is larger than the cap they were built with.
///
/// ```
/// use bytes::Bytes;
/// use glide_core::api::HttpClient;
/// use glide_core::error::BoxError;
///
/// /// Answers every request with 503 (a test double).
/// #[derive(Debug)]
/// struct AlwaysDown;
///
/// #[async_trait::async_trait]
/// impl HttpClient for AlwaysDown {
///     async fn execute(
///         &self,
///         _request: http::Request<Bytes>,
///     ) -> Result<http::Response<Bytes>, BoxError> {
///         Ok(http::Response::builder().status(503).body(Bytes::new())?)
///     }
/// }
/// ```
#[async_trait]
pub trait HttpClient: Debug + Send + Sync + 'static {
    /// Sends `request` and returns the whole response (transport failures as `Err`).
    async fn execute(
        &self,
        request: http::Request<Bytes>,
    ) -> Result<http::Response<Bytes>, BoxError>;
}

/// The default limit on a response body: 1 MiB.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// A response body was larger than the configured cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("response body larger than {limit} bytes (HTTP {status})")]
pub struct BodyTooLarge {
    /// The HTTP status of the response.
    pub status: u16,
    /// The cap.
    pub limit: usize,
}

#[cfg(feature = "reqwest")]
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest")))]
pub use self::reqwest_client::{ReqwestClient, ReqwestClientBuilder};

#[cfg(feature = "reqwest")]
mod reqwest_client {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, RwLock};
    use std::time::Duration;

    use async_trait::async_trait;
    use bytes::{Bytes, BytesMut};

    use super::{BodyTooLarge, HttpClient, DEFAULT_MAX_RESPONSE_BYTES};
    use crate::error::BoxError;

    /// [`HttpClient`] on reqwest: no redirects followed, 5 s connect timeout, a request timeout
    /// (default 30 s), and the response body read in chunks up to a cap (default 1 MiB) —
    /// an oversized body is refused without being buffered whole.
    ///
    /// HTTP/2 is used where the server offers it (ALPN over TLS, or
    /// [`http2_prior_knowledge`](ReqwestClientBuilder::http2_prior_knowledge) over plain HTTP):
    /// many calls then share one connection as streams, which is what makes thousands of
    /// waiting desktop calls cheap. Requests are spread over *lanes*, each its own connection
    /// pool: a lane carries at most
    /// [`streams_per_connection`](ReqwestClientBuilder::streams_per_connection) requests at a
    /// time and a new lane opens when all are full, so no call queues behind a server's
    /// limit on concurrent streams.
    #[derive(Debug, Clone)]
    pub struct ReqwestClient {
        lanes: Arc<Lanes>,
        max_response_bytes: usize,
    }

    /// Configures a [`ReqwestClient`].
    #[derive(Debug, Clone)]
    pub struct ReqwestClientBuilder {
        timeout: Duration,
        max_response_bytes: usize,
        http2_prior_knowledge: bool,
        streams_per_connection: usize,
        max_connections: usize,
    }

    impl ReqwestClientBuilder {
        /// Request timeout (default 30 s).
        pub fn timeout(mut self, timeout: Duration) -> Self {
            self.timeout = timeout;
            self
        }

        /// Response size cap (default 1 MiB).
        pub fn max_response_bytes(mut self, max: usize) -> Self {
            self.max_response_bytes = max;
            self
        }

        /// Speak HTTP/2 from the first byte over plain `http://` (h2c), for a server known to
        /// accept it — the sandbox does. Over `https://` HTTP/2 is negotiated anyway.
        pub fn http2_prior_knowledge(mut self) -> Self {
            self.http2_prior_knowledge = true;
            self
        }

        /// How many requests one lane (one HTTP/2 connection) carries at once before another
        /// opens (default 100, the least RFC 9113 asks servers to allow). At least 1.
        pub fn streams_per_connection(mut self, streams: usize) -> Self {
            self.streams_per_connection = streams.max(1);
            self
        }

        /// How many lanes may open (default 1,000); past that, requests go to the least busy
        /// lane. At least 1.
        pub fn max_connections(mut self, lanes: usize) -> Self {
            self.max_connections = lanes.max(1);
            self
        }

        /// Builds the client (its first lane; the others open when needed).
        pub fn build(self) -> Result<ReqwestClient, BoxError> {
            let timeout = self.timeout;
            let h2 = self.http2_prior_knowledge;
            let make = move || {
                let mut builder = reqwest::Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .connect_timeout(ReqwestClient::CONNECT_TIMEOUT)
                    .timeout(timeout);
                if h2 {
                    builder = builder.http2_prior_knowledge();
                }
                builder.build()
            };
            let first = make()?;
            Ok(ReqwestClient {
                lanes: Arc::new(Lanes::new(
                    first,
                    Some(Box::new(make)),
                    self.streams_per_connection,
                    self.max_connections,
                )),
                max_response_bytes: self.max_response_bytes,
            })
        }
    }

    impl ReqwestClient {
        /// Connect timeout.
        pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
        /// Default request timeout.
        pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
        /// Default number of requests one lane (connection) carries at once.
        pub const DEFAULT_STREAMS_PER_CONNECTION: usize = 100;

        /// A client with the default timeout and cap.
        pub fn new() -> Result<Self, BoxError> {
            Self::builder().build()
        }

        /// Starts configuring a client.
        pub fn builder() -> ReqwestClientBuilder {
            ReqwestClientBuilder {
                timeout: Self::DEFAULT_TIMEOUT,
                max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
                http2_prior_knowledge: false,
                streams_per_connection: Self::DEFAULT_STREAMS_PER_CONNECTION,
                max_connections: 1000,
            }
        }

        /// A client with the given request timeout and response size cap.
        pub fn with_limits(timeout: Duration, max_response_bytes: usize) -> Result<Self, BoxError> {
            Self::builder()
                .timeout(timeout)
                .max_response_bytes(max_response_bytes)
                .build()
        }

        /// Wraps a reqwest client you configured yourself (build it with
        /// `redirect::Policy::none()`), with a response size cap. It is the only lane: every
        /// request goes through its own pool.
        pub fn from_client(client: reqwest::Client, max_response_bytes: usize) -> Self {
            Self {
                lanes: Arc::new(Lanes::new(client, None, usize::MAX, 1)),
                max_response_bytes,
            }
        }

        /// How many lanes (connection pools) are open.
        pub fn lanes(&self) -> usize {
            self.lanes.len()
        }
    }

    /// Makes the client of a new lane.
    type MakeLane = Box<dyn Fn() -> reqwest::Result<reqwest::Client> + Send + Sync>;

    /// One connection pool and the requests it carries now.
    #[derive(Debug)]
    struct Lane {
        client: reqwest::Client,
        in_flight: AtomicUsize,
    }

    /// The lanes, opened on demand.
    struct Lanes {
        open: RwLock<Vec<Arc<Lane>>>,
        make: Option<MakeLane>,
        per_lane: usize,
        max_lanes: usize,
    }

    impl std::fmt::Debug for Lanes {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("Lanes")
                .field("open", &self.len())
                .field("per_lane", &self.per_lane)
                .field("max_lanes", &self.max_lanes)
                .finish()
        }
    }

    /// A request's place on a lane, given back when the request ends.
    struct Taken(Arc<Lane>);

    impl Drop for Taken {
        fn drop(&mut self) {
            self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
        }
    }

    impl Lanes {
        fn new(
            first: reqwest::Client,
            make: Option<MakeLane>,
            per_lane: usize,
            max: usize,
        ) -> Self {
            Self {
                open: RwLock::new(vec![Arc::new(Lane {
                    client: first,
                    in_flight: AtomicUsize::new(0),
                })]),
                make,
                per_lane,
                max_lanes: max,
            }
        }

        fn len(&self) -> usize {
            self.open.read().map_or(0, |open| open.len())
        }

        /// A place on the first lane with room; else on a new lane; else (all lanes open) on
        /// the least busy one.
        fn take(&self) -> Result<Taken, BoxError> {
            if let Some(taken) = self.room_on(&self.open.read().map_err(|_| "lanes poisoned")?) {
                return Ok(taken);
            }
            let mut lanes = self.open.write().map_err(|_| "lanes poisoned")?;
            if let Some(taken) = self.room_on(&lanes) {
                return Ok(taken);
            }
            if let (Some(make), true) = (&self.make, lanes.len() < self.max_lanes) {
                let lane = Arc::new(Lane {
                    client: make()?,
                    in_flight: AtomicUsize::new(1),
                });
                lanes.push(Arc::clone(&lane));
                return Ok(Taken(lane));
            }
            let lane = lanes
                .iter()
                .min_by_key(|lane| lane.in_flight.load(Ordering::Acquire))
                .ok_or("no lane")?;
            lane.in_flight.fetch_add(1, Ordering::AcqRel);
            Ok(Taken(Arc::clone(lane)))
        }

        fn room_on(&self, lanes: &[Arc<Lane>]) -> Option<Taken> {
            lanes.iter().find_map(|lane| {
                lane.in_flight
                    .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                        (n < self.per_lane).then_some(n + 1)
                    })
                    .ok()
                    .map(|_| Taken(Arc::clone(lane)))
            })
        }
    }

    #[async_trait]
    impl HttpClient for ReqwestClient {
        async fn execute(
            &self,
            request: http::Request<Bytes>,
        ) -> Result<http::Response<Bytes>, BoxError> {
            let request = reqwest::Request::try_from(request)?;
            let lane = self.lanes.take()?;
            let mut response = lane.0.client.execute(request).await?;
            let limit = self.max_response_bytes;
            let status = response.status().as_u16();
            if response
                .content_length()
                .is_some_and(|len| len > limit as u64)
            {
                return Err(Box::new(BodyTooLarge { status, limit }));
            }
            let mut builder = http::Response::builder()
                .status(response.status())
                .version(response.version());
            if let Some(headers) = builder.headers_mut() {
                *headers = std::mem::take(response.headers_mut());
            }
            let mut body = BytesMut::new();
            while let Some(chunk) = response.chunk().await? {
                if body.len() + chunk.len() > limit {
                    return Err(Box::new(BodyTooLarge { status, limit }));
                }
                body.extend_from_slice(&chunk);
            }
            drop(lane);
            Ok(builder.body(body.freeze())?)
        }
    }
}
