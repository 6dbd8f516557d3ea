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
pub use self::reqwest_client::ReqwestClient;

#[cfg(feature = "reqwest")]
mod reqwest_client {
    use std::time::Duration;

    use async_trait::async_trait;
    use bytes::{Bytes, BytesMut};

    use super::{BodyTooLarge, HttpClient, DEFAULT_MAX_RESPONSE_BYTES};
    use crate::error::BoxError;

    /// [`HttpClient`] on reqwest: no redirects followed, 5 s connect timeout, a request timeout
    /// (default 30 s), and the response body read in chunks up to a cap (default 1 MiB) —
    /// an oversized body is refused without being buffered whole.
    #[derive(Debug, Clone)]
    pub struct ReqwestClient {
        client: reqwest::Client,
        max_response_bytes: usize,
    }

    impl ReqwestClient {
        /// Connect timeout.
        pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
        /// Default request timeout.
        pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

        /// A client with the default timeout and cap.
        pub fn new() -> Result<Self, BoxError> {
            Self::with_limits(Self::DEFAULT_TIMEOUT, DEFAULT_MAX_RESPONSE_BYTES)
        }

        /// A client with the given request timeout and response size cap.
        pub fn with_limits(timeout: Duration, max_response_bytes: usize) -> Result<Self, BoxError> {
            let client = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .connect_timeout(Self::CONNECT_TIMEOUT)
                .timeout(timeout)
                .build()?;
            Ok(Self {
                client,
                max_response_bytes,
            })
        }

        /// Wraps a reqwest client you configured yourself (build it with
        /// `redirect::Policy::none()`), with a response size cap.
        pub fn from_client(client: reqwest::Client, max_response_bytes: usize) -> Self {
            Self {
                client,
                max_response_bytes,
            }
        }
    }

    #[async_trait]
    impl HttpClient for ReqwestClient {
        async fn execute(
            &self,
            request: http::Request<Bytes>,
        ) -> Result<http::Response<Bytes>, BoxError> {
            let request = reqwest::Request::try_from(request)?;
            let mut response = self.client.execute(request).await?;
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
            Ok(builder.body(body.freeze())?)
        }
    }
}
