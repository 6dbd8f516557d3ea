//! Sending one API call: URL, headers, token, timeout, size cap, 503 retries, 401 refresh.

use base64::Engine as _;
use bytes::Bytes;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use http::{HeaderMap, HeaderValue, Method};
use serde::de::DeserializeOwned;

use super::client::Glide;
use super::error_body::{api_error, retry_after_header, token_error};
use super::http::BodyTooLarge;
use super::token::TokenAnswer;
use crate::error::Error;
use crate::secret::AccessToken;

/// The `User-Agent` sent to Glide.
pub const CLIENT_USER_AGENT: &str = concat!("glide-rs/", env!("CARGO_PKG_VERSION"));

/// The correlation header.
pub const CORRELATION_HEADER: &str = "x-correlation-id";

/// How a call authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Auth {
    /// `Authorization: Bearer` from the token cache.
    Bearer,
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

impl Glide {
    pub(crate) fn url(&self, segments: &[&str]) -> Result<url::Url, Error> {
        let mut url = self.inner.base_url.clone();
        url.path_segments_mut()
            .map_err(|()| Error::Config("Glide base URL cannot be a base".to_owned()))?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    fn request(
        &self,
        method: &Method,
        url: &url::Url,
        authorization: Option<HeaderValue>,
        body: Option<(&Bytes, &'static str)>,
    ) -> Result<http::Request<Bytes>, Error> {
        let mut builder = http::Request::builder()
            .method(method.clone())
            .uri(url.as_str())
            .header(ACCEPT, "application/json")
            .header(USER_AGENT, CLIENT_USER_AGENT);
        if let Some(value) = authorization {
            builder = builder.header(AUTHORIZATION, value);
        }
        if let Some(id) = &self.correlation_id {
            builder = builder.header(CORRELATION_HEADER, id.clone());
        }
        let body = match body {
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

    /// Sends once, with the timeout and the size cap.
    async fn execute_once(&self, request: http::Request<Bytes>) -> Result<Reply, Error> {
        let method = request.method().clone();
        let path = request.uri().path().to_owned();
        let limit = self.inner.max_response_bytes;
        let sent = tokio::time::timeout(self.inner.timeout, self.inner.http.execute(request)).await;
        let outcome = match sent {
            Err(_) => Err(Error::Transport(
                format!("no answer within {:?}", self.inner.timeout).into(),
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
        let correlation_id = self.correlation_id.as_ref().and_then(|v| v.to_str().ok());
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
    async fn execute_retrying(
        &self,
        method: &Method,
        url: &url::Url,
        authorization: Option<HeaderValue>,
        body: Option<(&Bytes, &'static str)>,
    ) -> Result<Reply, Error> {
        let policy = self.inner.retry;
        let mut retries = 0;
        loop {
            let request = self.request(method, url, authorization.clone(), body)?;
            let reply = self.execute_once(request).await?;
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

    async fn fetch_token(&self) -> Result<TokenAnswer, Error> {
        let url = self.url(&["oauth2-cc", "token"])?;
        let credentials = format!(
            "{}:{}",
            self.inner.client_id.as_str(),
            self.inner.client_secret.secret()
        );
        let basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(credentials)
        );
        let mut basic = HeaderValue::from_str(&basic)
            .map_err(|_| Error::Config("client credentials are not valid header text".into()))?;
        basic.set_sensitive(true);
        let body = Bytes::from_static(b"grant_type=client_credentials");
        let reply = self
            .execute_retrying(
                &Method::POST,
                &url,
                Some(basic),
                Some((&body, "application/x-www-form-urlencoded")),
            )
            .await?;
        match reply.status {
            200..=299 => decode(reply.status, &reply.body),
            400.. => Err(Error::from(token_error(
                reply.status,
                &reply.headers,
                &reply.body,
            ))),
            _ => reply
                .check()
                .and_then(|()| decode(reply.status, &reply.body)),
        }
    }

    /// A valid access token (from the cache, or fetched once for all waiting callers).
    pub(crate) async fn access_token(
        &self,
        rejected: Option<&AccessToken>,
    ) -> Result<AccessToken, Error> {
        self.inner
            .token
            .get(self.inner.clock.as_ref(), rejected, || self.fetch_token())
            .await
    }

    /// One API call: for `Auth::Bearer`, a `401` refreshes the token once and retries once.
    pub(crate) async fn call(
        &self,
        method: Method,
        segments: &[&str],
        json: Option<Bytes>,
        auth: Auth,
    ) -> Result<Reply, Error> {
        let url = self.url(segments)?;
        let body = json.as_ref().map(|b| (b, "application/json"));
        if auth == Auth::None {
            return self.execute_retrying(&method, &url, None, body).await;
        }
        let mut rejected: Option<AccessToken> = None;
        loop {
            let token = self.access_token(rejected.as_ref()).await?;
            let mut bearer =
                HeaderValue::from_str(&format!("Bearer {}", token.secret())).map_err(|_| {
                    Error::Decode {
                        status: 200,
                        message: "access token is not valid header text".to_owned(),
                    }
                })?;
            bearer.set_sensitive(true);
            let reply = self
                .execute_retrying(&method, &url, Some(bearer), body)
                .await?;
            if reply.status == 401 && rejected.is_none() {
                tracing::debug!("glide answered 401; refreshing the token and retrying once");
                rejected = Some(token);
                continue;
            }
            return Ok(reply);
        }
    }

    pub(crate) fn json_body<T: serde::Serialize>(value: &T) -> Result<Bytes, Error> {
        serde_json::to_vec(value)
            .map(Bytes::from)
            .map_err(|e| Error::Config(format!("cannot encode a request: {e}")))
    }
}
