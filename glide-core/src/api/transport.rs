//! Sending one API call: URL, headers, token, timeout, size cap, 503 retries, 401 refresh.
//!
//! [`Transport`] serves both clients: [`Glide`] (token endpoint `/oauth2-cc/token`) and the
//! legacy client (`/oauth2/token` with scope `magic-auth`, tokens from a code exchange and CIBA
//! tokens from `/oauth2/backchannel-authentication`).

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use http::{HeaderMap, HeaderValue, Method};
use serde::de::DeserializeOwned;
use url::Url;

use super::client::{Glide, RetryPolicy, DEFAULT_TIMEOUT};
use super::error_body::{api_error, retry_after_header, token_error};
use super::http::{BodyTooLarge, HttpClient, DEFAULT_MAX_RESPONSE_BYTES};
use super::token::{TokenAnswer, TokenCache};
use crate::clock::{Clock, SystemClock};
use crate::error::Error;
use crate::secret::{AccessToken, ClientId, ClientSecret};
use crate::telemetry::{self, GlideCallResult};

/// The `User-Agent` sent to Glide.
pub const CLIENT_USER_AGENT: &str = concat!("glide-rs/", env!("CARGO_PKG_VERSION"));

/// The correlation header.
pub const CORRELATION_HEADER: &str = "x-correlation-id";

/// Where a client's client-credentials token comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TokenEndpoint {
    /// Path segments under the base URL.
    pub(crate) path: &'static [&'static str],
    /// The `scope` sent with `grant_type=client_credentials`, if any.
    pub(crate) scope: Option<&'static str>,
}

impl TokenEndpoint {
    /// Magical Auth's `POST /oauth2-cc/token` (no scope).
    pub(crate) const MAGICAL_AUTH: Self = Self {
        path: &["oauth2-cc", "token"],
        scope: None,
    };
}

/// How a call authenticates.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Auth<'a> {
    /// `Authorization: Bearer` with the cached client-credentials token; a `401` refreshes it
    /// once and the call is sent once more.
    ClientCredentials,
    /// `Authorization: Bearer` with a token obtained elsewhere (a code exchange, CIBA).
    Token(&'a AccessToken),
    /// No authorization (the public status endpoint).
    None,
}

/// One answer, body already capped.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl Reply {
    /// 2xx → decode `T`; ≥ 400 → [`Error::Api`]; anything else → [`Error::Decode`].
    pub(crate) fn json<T: DeserializeOwned>(self) -> Result<T, Error> {
        self.check()?;
        decode(self.status, &self.body)
    }

    /// A token endpoint's answer: 2xx → [`TokenAnswer`]; ≥ 400 → [`Error::Api`] read as an
    /// OAuth error ([`token_error`]); anything else → [`Error::Decode`].
    pub(crate) fn token_answer(self) -> Result<TokenAnswer, Error> {
        self.oauth_json()
    }

    /// An OAuth endpoint's answer (token, CIBA): 2xx → `T`; ≥ 400 → [`Error::Api`] read as an
    /// OAuth error ([`token_error`]); anything else → [`Error::Decode`].
    pub(crate) fn oauth_json<T: DeserializeOwned>(self) -> Result<T, Error> {
        if self.status >= 400 {
            return Err(Error::from(token_error(
                self.status,
                &self.headers,
                &self.body,
            )));
        }
        self.json()
    }

    /// Like [`check`](Self::check), for answers whose body carries nothing we need: a 2xx must
    /// have an empty body or a JSON one (`{"status":"completed"}`); anything else is not Glide
    /// speaking, and gives [`Error::Decode`] rather than a success.
    pub(crate) fn check_json_or_empty(&self) -> Result<(), Error> {
        self.check()?;
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(());
        }
        decode::<serde_json::Value>(self.status, &self.body).map(drop)
    }

    /// 2xx → `Ok`; ≥ 400 → [`Error::Api`]; 1xx/3xx → [`Error::Decode`] (redirects are never
    /// followed).
    pub(crate) fn check(&self) -> Result<(), Error> {
        match self.status {
            200..=299 => Ok(()),
            400.. => Err(Error::from(api_error(
                self.status,
                &self.headers,
                &self.body,
            ))),
            300..=399 => Err(Error::Decode {
                status: self.status,
                message: "unexpected redirect (redirects are not followed)".to_owned(),
            }),
            _ => Err(Error::Decode {
                status: self.status,
                message: "unexpected status".to_owned(),
            }),
        }
    }
}

/// Decodes a JSON body; the error names the position only, never the content (which may hold a
/// phone number).
pub(crate) fn decode<T: DeserializeOwned>(status: u16, body: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(body).map_err(|e| Error::Decode {
        status,
        message: format!(
            "invalid JSON ({:?} error at line {} column {})",
            e.classify(),
            e.line(),
            e.column()
        ),
    })
}

/// A request body as JSON.
pub(crate) fn json_body<T: serde::Serialize>(value: &T) -> Result<Bytes, Error> {
    serde_json::to_vec(value)
        .map(Bytes::from)
        .map_err(|e| Error::Config(format!("cannot encode a request: {e}")))
}

/// What [`HttpClient::execute`] returns.
type HttpFuture<'a> = std::pin::Pin<
    Box<
        dyn std::future::Future<Output = Result<http::Response<Bytes>, crate::error::BoxError>>
            + Send
            + 'a,
    >,
>;

/// One request to send (built again for each retry).
struct Outgoing<'a> {
    method: &'a Method,
    url: &'a Url,
    authorization: Option<HeaderValue>,
    body: Option<(&'a Bytes, &'static str)>,
    correlation_id: Option<&'a HeaderValue>,
}

impl Outgoing<'_> {
    fn build(&self) -> Result<http::Request<Bytes>, Error> {
        let mut builder = http::Request::builder()
            .method(self.method.clone())
            .uri(self.url.as_str())
            .header(ACCEPT, "application/json")
            .header(USER_AGENT, CLIENT_USER_AGENT);
        if let Some(value) = &self.authorization {
            builder = builder.header(AUTHORIZATION, value.clone());
        }
        if let Some(id) = self.correlation_id {
            builder = builder.header(CORRELATION_HEADER, id.clone());
        }
        let body = match self.body {
            Some((bytes, content_type)) => {
                builder = builder.header(CONTENT_TYPE, content_type);
                bytes.clone()
            }
            None => Bytes::new(),
        };
        builder
            .body(body)
            .map_err(|e| Error::Config(format!("cannot build a request to Glide: {e}")))
    }
}

/// A client's connection to Glide: credentials, base URL, HTTP client, limits, retry policy and
/// its client-credentials token cache.
pub(crate) struct Transport {
    pub(crate) client_id: ClientId,
    pub(crate) client_secret: ClientSecret,
    pub(crate) base_url: Url,
    pub(crate) http: Arc<dyn HttpClient>,
    pub(crate) timeout: Duration,
    pub(crate) max_response_bytes: usize,
    pub(crate) retry: RetryPolicy,
    pub(crate) clock: Arc<dyn Clock>,
    pub(super) token_endpoint: TokenEndpoint,
    pub(super) token: TokenCache,
}

impl Transport {
    /// A transport with the default timeout (30 s), response cap (1 MiB), retry policy and
    /// system clock, and an empty token cache.
    pub(crate) fn new(
        client_id: ClientId,
        client_secret: ClientSecret,
        base_url: Url,
        http: Arc<dyn HttpClient>,
        token_endpoint: TokenEndpoint,
    ) -> Self {
        Self {
            client_id,
            client_secret,
            base_url,
            http,
            timeout: DEFAULT_TIMEOUT,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            retry: RetryPolicy::new(),
            clock: Arc::new(SystemClock),
            token_endpoint,
            token: TokenCache::default(),
        }
    }

    /// The same credentials, base URL, HTTP client, limits, retry policy and clock, with
    /// another token endpoint and a token cache of its own.
    pub(crate) fn sibling(&self, token_endpoint: TokenEndpoint) -> Self {
        Self {
            client_id: self.client_id.clone(),
            client_secret: self.client_secret.clone(),
            base_url: self.base_url.clone(),
            http: Arc::clone(&self.http),
            timeout: self.timeout,
            max_response_bytes: self.max_response_bytes,
            retry: self.retry,
            clock: Arc::clone(&self.clock),
            token_endpoint,
            token: TokenCache::default(),
        }
    }

    /// `segments` appended to the base URL's path.
    pub(crate) fn url(&self, segments: &[&str]) -> Result<Url, Error> {
        let mut url = self.base_url.clone();
        url.path_segments_mut()
            .map_err(|()| Error::Config("Glide base URL cannot be a base".to_owned()))?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    /// Sends once, with the timeout and the size cap.
    ///
    /// Not an `async fn`: the request is handed to the HTTP client before the returned future
    /// starts, so the future (which a desktop call holds while it waits) keeps no slot for it.
    fn execute_once<'a>(
        &'a self,
        request: http::Request<Bytes>,
        correlation_id: Option<&'a HeaderValue>,
    ) -> impl std::future::Future<Output = Result<Reply, Error>> + Send + 'a {
        let method = request.method().clone();
        // A status path carries the flow's session key (a desktop flow's is in its QR code):
        // logged as `…/status/{key}`.
        let path = loggable_path(request.uri().path());
        let sending = self.http.execute(request);
        self.settle_once(sending, method, path, correlation_id)
    }

    /// Awaits one sent request within the timeout, and reads its answer.
    async fn settle_once(
        &self,
        sending: HttpFuture<'_>,
        method: Method,
        path: String,
        correlation_id: Option<&HeaderValue>,
    ) -> Result<Reply, Error> {
        let limit = self.max_response_bytes;
        let started = std::time::Instant::now();
        let sent = tokio::time::timeout(self.timeout, sending).await;
        let elapsed = started.elapsed();
        let counted = match &sent {
            Err(_) => GlideCallResult::Timeout,
            Ok(Err(e)) if e.downcast_ref::<BodyTooLarge>().is_some() => GlideCallResult::Decode,
            Ok(Err(_)) => GlideCallResult::Transport,
            Ok(Ok(response)) if response.body().len() > limit => GlideCallResult::Decode,
            Ok(Ok(response)) => GlideCallResult::Status(response.status().as_u16()),
        };
        let outcome = match sent {
            Err(_) => Err(Error::Transport(
                format!("no answer within {:?}", self.timeout).into(),
            )),
            Ok(Err(e)) => match e.downcast_ref::<BodyTooLarge>() {
                Some(too_large) => Err(Error::Decode {
                    status: too_large.status,
                    message: too_large.to_string(),
                }),
                None => Err(Error::Transport(e)),
            },
            Ok(Ok(response)) => {
                let (parts, body) = response.into_parts();
                let status = parts.status.as_u16();
                if body.len() > limit {
                    Err(Error::Decode {
                        status,
                        message: BodyTooLarge { status, limit }.to_string(),
                    })
                } else {
                    Ok(Reply {
                        status,
                        headers: parts.headers,
                        body,
                    })
                }
            }
        };
        let correlation_id = correlation_id.and_then(|v| v.to_str().ok());
        telemetry::glide_call(&path, elapsed, counted);
        match &outcome {
            Ok(reply) => tracing::debug!(
                %method, path, status = reply.status, correlation_id, "glide api call"
            ),
            Err(error) => tracing::debug!(
                %method, path, correlation_id, error = %error, "glide api call failed"
            ),
        }
        outcome
    }

    /// Sends, waiting out and retrying `503` + `Retry-After` as the retry policy allows.
    async fn execute_retrying(&self, outgoing: Outgoing<'_>) -> Result<Reply, Error> {
        let policy = self.retry;
        let mut retries = 0;
        loop {
            let request = outgoing.build()?;
            let reply = self.execute_once(request, outgoing.correlation_id).await?;
            if reply.status == 503 && retries < policy.retries() {
                if let Some(wait) = retry_after_header(&reply.headers) {
                    retries += 1;
                    let wait = wait.min(policy.wait_cap());
                    tracing::debug!(?wait, retries, "glide answered 503; retrying");
                    tokio::time::sleep(wait).await;
                    continue;
                }
            }
            return Ok(reply);
        }
    }

    /// `Authorization: Basic` with the client id and secret.
    fn basic(&self) -> Result<HeaderValue, Error> {
        let credentials = format!(
            "{}:{}",
            self.client_id.as_str(),
            self.client_secret.secret()
        );
        let basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(credentials)
        );
        let mut basic = HeaderValue::from_str(&basic)
            .map_err(|_| Error::Config("client credentials are not valid header text".into()))?;
        basic.set_sensitive(true);
        Ok(basic)
    }

    /// `POST` to the token endpoint with Basic auth and `form` as the body; error answers are
    /// read as OAuth errors.
    pub(crate) async fn token_request(
        &self,
        form: &[(&str, &str)],
        correlation_id: Option<&HeaderValue>,
    ) -> Result<TokenAnswer, Error> {
        self.basic_form(self.token_endpoint.path, form, correlation_id)
            .await?
            .token_answer()
    }

    /// `POST` to `segments` under the base URL with Basic auth (the client credentials) and
    /// `form` as an `application/x-www-form-urlencoded` body; `503` + `Retry-After` is retried
    /// as the retry policy allows. The answer is returned as it is.
    pub(crate) async fn basic_form(
        &self,
        segments: &[&str],
        form: &[(&str, &str)],
        correlation_id: Option<&HeaderValue>,
    ) -> Result<Reply, Error> {
        let url = self.url(segments)?;
        let body = Bytes::from(
            url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(form)
                .finish(),
        );
        self.execute_retrying(Outgoing {
            method: &Method::POST,
            url: &url,
            authorization: Some(self.basic()?),
            body: Some((&body, "application/x-www-form-urlencoded")),
            correlation_id,
        })
        .await
    }

    /// A valid client-credentials token (from the cache, or fetched once for all waiting
    /// callers); `rejected` is a token the API just refused.
    async fn access_token(
        &self,
        rejected: Option<&AccessToken>,
        correlation_id: Option<&HeaderValue>,
    ) -> Result<AccessToken, Error> {
        let mut form = vec![("grant_type", "client_credentials")];
        if let Some(scope) = self.token_endpoint.scope {
            form.push(("scope", scope));
        }
        self.token
            .get(self.clock.as_ref(), rejected, || {
                self.token_request(&form, correlation_id)
            })
            .await
    }

    /// One call; with [`Auth::ClientCredentials`] a `401` refreshes the token once and the call
    /// is sent once more.
    pub(crate) async fn call(
        &self,
        method: &Method,
        url: &Url,
        body: Option<(&Bytes, &'static str)>,
        auth: Auth<'_>,
        correlation_id: Option<&HeaderValue>,
    ) -> Result<Reply, Error> {
        let send = |authorization| {
            self.execute_retrying(Outgoing {
                method,
                url,
                authorization,
                body,
                correlation_id,
            })
        };
        match auth {
            Auth::None => send(None).await,
            Auth::Token(token) => send(Some(bearer(token)?)).await,
            Auth::ClientCredentials => {
                let mut rejected: Option<AccessToken> = None;
                loop {
                    // Boxed: fetching a token is a whole call of its own, rarely made (the
                    // token is cached); it must not set the size of every call's future.
                    let token =
                        Box::pin(self.access_token(rejected.as_ref(), correlation_id)).await?;
                    let reply = send(Some(bearer(&token)?)).await?;
                    if reply.status == 401 && rejected.is_none() {
                        tracing::debug!(
                            "glide answered 401; refreshing the token and retrying once"
                        );
                        rejected = Some(token);
                        continue;
                    }
                    return Ok(reply);
                }
            }
        }
    }
}

/// `Authorization: Bearer` with `token`, marked sensitive.
fn bearer(token: &AccessToken) -> Result<HeaderValue, Error> {
    let mut value = HeaderValue::from_str(&format!("Bearer {}", token.secret())).map_err(|_| {
        Error::Decode {
            status: 200,
            message: "access token is not valid header text".to_owned(),
        }
    })?;
    value.set_sensitive(true);
    Ok(value)
}

impl Glide {
    /// One API call to `segments` under the base URL, with this handle's correlation id.
    pub(crate) async fn call(
        &self,
        method: Method,
        segments: &[&str],
        json: Option<Bytes>,
        auth: Auth<'_>,
    ) -> Result<Reply, Error> {
        let url = self.inner.url(segments)?;
        let body = json.as_ref().map(|b| (b, "application/json"));
        self.inner
            .call(&method, &url, body, auth, self.correlation_id.as_ref())
            .await
    }
}

/// A request path fit for logs: the session key after a `status` segment is replaced with
/// `{key}`.
fn loggable_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut after_status = false;
    for (i, segment) in path.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        if after_status && !segment.is_empty() {
            out.push_str("{key}");
        } else {
            out.push_str(segment);
        }
        after_status = segment == "status";
    }
    out
}

#[cfg(test)]
mod log_tests {
    use super::loggable_path;

    #[test]
    fn session_keys_never_reach_the_logs() {
        assert_eq!(
            loggable_path("/magic-auth/v2/auth/status/abc123secret"),
            "/magic-auth/v2/auth/status/{key}"
        );
        assert_eq!(loggable_path("/public/status/k"), "/public/status/{key}");
        assert_eq!(
            loggable_path("/magic-auth/v2/auth/prepare"),
            "/magic-auth/v2/auth/prepare"
        );
    }
}
