//! [`Glide`], its builder and its retry policy.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::HeaderValue;
use url::Url;

use super::http::{HttpClient, DEFAULT_MAX_RESPONSE_BYTES};
use super::transport::{TokenEndpoint, Transport};
use crate::clock::{Clock, SystemClock};
use crate::error::Error;
use crate::secret::{ClientId, ClientSecret};

/// Glide's production API.
pub const DEFAULT_BASE_URL: &str = "https://api.glideidentity.app";

/// Default request timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// How `503 Service Unavailable` answers carrying `Retry-After` are retried.
///
/// A 503 with `Retry-After` means Glide did not process the request (a rolling deploy), so it is
/// safe to send again. Each wait is `Retry-After` capped at `max_wait`. A 503 without
/// `Retry-After`, 429 and other errors are returned at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    max_retries: u32,
    max_wait: Duration,
}

impl RetryPolicy {
    /// At most 2 retries, waiting at most 5 s each time.
    pub const fn new() -> Self {
        Self {
            max_retries: 2,
            max_wait: Duration::from_secs(5),
        }
    }

    /// Never retry.
    pub const fn none() -> Self {
        Self {
            max_retries: 0,
            max_wait: Duration::ZERO,
        }
    }

    /// Sets the number of retries after the first attempt.
    pub const fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// Sets the longest wait before one retry.
    pub const fn max_wait(mut self, wait: Duration) -> Self {
        self.max_wait = wait;
        self
    }

    /// The number of retries.
    pub const fn retries(&self) -> u32 {
        self.max_retries
    }

    /// The longest wait.
    pub const fn wait_cap(&self) -> Duration {
        self.max_wait
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self::new()
    }
}

/// The client for Glide's Magical Auth API.
///
/// Cheap to clone (an `Arc` inside); `Send + Sync`. Every method returns
/// `Result<_, glide_core::Error>`; Glide's error answers are [`Error::Api`] carrying Glide's
/// code, the HTTP status, `Retry-After`, request and trace ids.
///
/// ```no_run
/// # async fn demo() -> Result<(), glide_core::Error> {
/// use glide_core::api::Glide;
/// let glide = Glide::builder("my-client-id", "my-client-secret")
///     .base_url("http://127.0.0.1:8910")
///     .timeout(std::time::Duration::from_secs(30))
///     .build()?;
/// let status = glide.public_status("ee25b966c9395f0b").await?;
/// println!("{}", status.status);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Glide {
    pub(crate) inner: Arc<Transport>,
    pub(crate) correlation_id: Option<HeaderValue>,
}

impl fmt::Debug for Glide {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Glide")
            .field("client_id", &self.inner.client_id)
            .field("client_secret", &self.inner.client_secret)
            .field("base_url", &self.inner.base_url.as_str())
            .field("http", &self.inner.http)
            .field("timeout", &self.inner.timeout)
            .field("max_response_bytes", &self.inner.max_response_bytes)
            .field("retry", &self.inner.retry)
            .field("correlation_id", &self.correlation_id)
            .finish()
    }
}

impl Glide {
    /// Starts configuring a client.
    pub fn builder(
        client_id: impl Into<ClientId>,
        client_secret: impl Into<ClientSecret>,
    ) -> GlideBuilder {
        GlideBuilder {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            base_url: DEFAULT_BASE_URL.to_owned(),
            http: None,
            timeout: DEFAULT_TIMEOUT,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            retry: RetryPolicy::new(),
            clock: Arc::new(SystemClock),
        }
    }

    /// A client from `GLIDE_CLIENT_ID`, `GLIDE_CLIENT_SECRET` and `GLIDE_API_BASE_URL`
    /// (default `https://api.glideidentity.app`).
    pub fn from_env() -> Result<Self, Error> {
        Self::builder_from_env()?.build()
    }

    /// A builder from the environment (see [`Glide::from_env`]), to adjust further.
    pub fn builder_from_env() -> Result<GlideBuilder, Error> {
        let var = |name: &str| {
            std::env::var(name)
                .ok()
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let id = var("GLIDE_CLIENT_ID")
            .ok_or_else(|| Error::Config("GLIDE_CLIENT_ID is not set".to_owned()))?;
        let secret = var("GLIDE_CLIENT_SECRET")
            .ok_or_else(|| Error::Config("GLIDE_CLIENT_SECRET is not set".to_owned()))?;
        let mut builder = Self::builder(id, secret);
        if let Some(base) = var("GLIDE_API_BASE_URL") {
            builder = builder.base_url(base.as_str());
        }
        Ok(builder)
    }

    /// A clone that sends `X-Correlation-ID: id` with every request (an id that is not a valid
    /// header value is dropped, with a warning).
    pub fn with_correlation_id(&self, id: impl AsRef<str>) -> Glide {
        let value = HeaderValue::from_str(id.as_ref())
            .ok()
            .filter(|_| id.as_ref().len() <= 256);
        if value.is_none() {
            tracing::warn!("glide: invalid correlation id dropped");
        }
        Glide {
            inner: Arc::clone(&self.inner),
            correlation_id: value,
        }
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &Url {
        &self.inner.base_url
    }

    /// The client id.
    pub fn client_id(&self) -> &ClientId {
        &self.inner.client_id
    }
}

/// Configures a [`Glide`] client; see [`Glide::builder`].
pub struct GlideBuilder {
    client_id: ClientId,
    client_secret: ClientSecret,
    base_url: String,
    http: Option<Arc<dyn HttpClient>>,
    timeout: Duration,
    max_response_bytes: usize,
    retry: RetryPolicy,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for GlideBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GlideBuilder")
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("base_url", &self.base_url)
            .field("timeout", &self.timeout)
            .field("max_response_bytes", &self.max_response_bytes)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl GlideBuilder {
    /// The API's base URL (default `https://api.glideidentity.app`); may carry a path prefix.
    /// Takes `&str`, `String` or [`Url`].
    pub fn base_url(mut self, url: impl AsRef<str>) -> Self {
        self.base_url = url.as_ref().to_owned();
        self
    }

    /// Sends requests through your own [`HttpClient`] instead of reqwest. It must not follow
    /// redirects; the timeout and size cap below are enforced on top of it.
    pub fn http_client(mut self, client: impl HttpClient) -> Self {
        self.http = Some(Arc::new(client));
        self
    }

    /// Request timeout (default 30 s). Desktop process calls are long-polled by Glide for up to
    /// about 25 s, so keep it above that.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The largest response body accepted (default 1 MiB); larger answers are
    /// [`Error::Decode`].
    pub fn max_response_bytes(mut self, max: usize) -> Self {
        self.max_response_bytes = max;
        self
    }

    /// How 503 answers with `Retry-After` are retried (default: 2 retries, ≤ 5 s each).
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// The clock the token cache uses (tests use [`ManualClock`](crate::clock::ManualClock)).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Checks the configuration and builds the client.
    pub fn build(self) -> Result<Glide, Error> {
        check_credentials(&self.client_id, &self.client_secret)?;
        let base_url = parse_base_url(&self.base_url)?;
        if self.timeout.is_zero() {
            return Err(Error::Config("timeout must be positive".to_owned()));
        }
        if self.max_response_bytes == 0 {
            return Err(Error::Config(
                "max_response_bytes must be positive".to_owned(),
            ));
        }
        let http = match self.http {
            Some(http) => http,
            None => default_http(self.timeout, self.max_response_bytes)?,
        };
        Ok(Glide {
            inner: Arc::new(Transport {
                timeout: self.timeout,
                max_response_bytes: self.max_response_bytes,
                retry: self.retry,
                clock: self.clock,
                ..Transport::new(
                    self.client_id,
                    self.client_secret,
                    base_url,
                    http,
                    TokenEndpoint::MAGICAL_AUTH,
                )
            }),
            correlation_id: None,
        })
    }
}

/// Refuses an empty client id or secret.
pub(crate) fn check_credentials(id: &ClientId, secret: &ClientSecret) -> Result<(), Error> {
    if id.as_str().is_empty() {
        return Err(Error::Config("Glide client id is empty".to_owned()));
    }
    if secret.secret().is_empty() {
        return Err(Error::Config("Glide client secret is empty".to_owned()));
    }
    Ok(())
}

/// Parses a base URL: absolute `http(s)` with a host, no query, no fragment.
pub(crate) fn parse_base_url(text: &str) -> Result<Url, Error> {
    let base_url = Url::parse(text.trim())
        .map_err(|e| Error::Config(format!("invalid Glide base URL: {e}")))?;
    if !matches!(base_url.scheme(), "http" | "https")
        || base_url.cannot_be_a_base()
        || base_url.host().is_none()
    {
        return Err(Error::Config(
            "Glide base URL must be an absolute http(s) URL".to_owned(),
        ));
    }
    if base_url.query().is_some() || base_url.fragment().is_some() {
        return Err(Error::Config(
            "Glide base URL must not have a query or fragment".to_owned(),
        ));
    }
    Ok(base_url)
}

#[cfg(feature = "reqwest")]
fn default_http(timeout: Duration, max: usize) -> Result<Arc<dyn HttpClient>, Error> {
    let client = super::http::ReqwestClient::with_limits(timeout, max)
        .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))?;
    Ok(Arc::new(client))
}

#[cfg(not(feature = "reqwest"))]
fn default_http(_timeout: Duration, _max: usize) -> Result<Arc<dyn HttpClient>, Error> {
    Err(Error::Config(
        "no HTTP client: enable the `reqwest` feature or call GlideBuilder::http_client".to_owned(),
    ))
}
