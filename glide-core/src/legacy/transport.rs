//! Sending one legacy API call: URL, headers, token, timeout, size cap, error mapping.
//!
//! The api module's transport is private to it; this is the small equivalent for the legacy
//! paths, which use another token endpoint (`/oauth2/token`, scope `magic-auth`) and tokens
//! obtained by code exchange.

use base64::Engine as _;
use bytes::Bytes;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use http::{HeaderMap, HeaderValue, Method};
use serde::de::DeserializeOwned;

use super::LegacyClient;
use crate::api::error_body::token_error;
use crate::api::token::TokenAnswer;
use crate::api::{BodyTooLarge, CLIENT_USER_AGENT};
use crate::error::Error;
use crate::secret::AccessToken;

/// How a call authenticates.
pub(crate) enum Auth<'a> {
    /// The cached client-credentials token (scope `magic-auth`); a 401 refreshes it once.
    ClientCredentials,
    /// A token obtained elsewhere (the Number Verify code exchange).
    Bearer(&'a AccessToken),
}

/// One answer, body already capped.
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl Reply {
    /// 2xx → decode `T`; ≥ 400 → [`Error::Api`]; else [`Error::Decode`].
    pub(crate) fn json<T: DeserializeOwned>(self) -> Result<T, Error> {
        match self.status {
            200..=299 => serde_json::from_slice(&self.body).map_err(|e| Error::Decode {
                status: self.status,
                message: format!(
                    "invalid JSON ({:?} error at line {} column {})",
                    e.classify(),
                    e.line(),
                    e.column()
                ),
            }),
            400.. => Err(token_error(self.status, &self.headers, &self.body).into()),
            status => Err(Error::Decode {
                status,
                message: "unexpected status (redirects are not followed)".to_owned(),
            }),
        }
    }
}

impl LegacyClient {
    pub(crate) fn url(&self, path: &[&str]) -> Result<url::Url, Error> {
        let mut url = self.inner.base_url.clone();
        url.path_segments_mut()
            .map_err(|()| Error::Config("Glide base URL cannot be a base".to_owned()))?
            .pop_if_empty()
            .extend(path);
        Ok(url)
    }

    fn basic(&self) -> Result<HeaderValue, Error> {
        let credentials = format!(
            "{}:{}",
            self.inner.client_id.as_str(),
            self.inner.client_secret.secret()
        );
        let mut value = HeaderValue::from_str(&format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(credentials)
        ))
        .map_err(|_| Error::Config("client credentials are not valid header text".into()))?;
        value.set_sensitive(true);
        Ok(value)
    }

    async fn execute(
        &self,
        method: &Method,
        url: &url::Url,
        authorization: HeaderValue,
        body: Option<(&Bytes, &'static str)>,
    ) -> Result<Reply, Error> {
        let mut builder = http::Request::builder()
            .method(method.clone())
            .uri(url.as_str())
            .header(ACCEPT, "application/json")
            .header(USER_AGENT, CLIENT_USER_AGENT)
            .header(AUTHORIZATION, authorization);
        let bytes = match body {
            Some((bytes, content_type)) => {
                builder = builder.header(CONTENT_TYPE, content_type);
                bytes.clone()
            }
            None => Bytes::new(),
        };
        let request = builder
            .body(bytes)
            .map_err(|e| Error::Config(format!("cannot build a request to Glide: {e}")))?;
        let inner = &self.inner;
        let limit = inner.max_response_bytes;
        let outcome = match tokio::time::timeout(inner.timeout, inner.http.execute(request)).await {
            Err(_) => Err(Error::Transport(
                format!("no answer within {:?}", inner.timeout).into(),
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
        match &outcome {
            Ok(reply) => {
                tracing::debug!(%method, path = url.path(), status = reply.status, "glide legacy call")
            }
            Err(error) => {
                tracing::debug!(%method, path = url.path(), error = %error, "glide legacy call failed")
            }
        }
        outcome
    }

    /// `POST /oauth2/token` with Basic auth and a form body.
    pub(crate) async fn token_request(&self, form: &[(&str, &str)]) -> Result<TokenAnswer, Error> {
        let body = Bytes::from(
            url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(form)
                .finish(),
        );
        let url = self.url(&["oauth2", "token"])?;
        self.execute(
            &Method::POST,
            &url,
            self.basic()?,
            Some((&body, "application/x-www-form-urlencoded")),
        )
        .await?
        .json()
    }

    async fn client_token(&self, rejected: Option<&AccessToken>) -> Result<AccessToken, Error> {
        self.inner
            .token
            .get(self.inner.clock.as_ref(), rejected, || {
                self.token_request(&[
                    ("grant_type", "client_credentials"),
                    ("scope", "magic-auth"),
                ])
            })
            .await
    }

    /// One call to a path under the base URL.
    pub(crate) async fn call(
        &self,
        method: Method,
        path: &[&str],
        body: Option<(Bytes, &'static str)>,
        auth: Auth<'_>,
    ) -> Result<Reply, Error> {
        self.call_url(method, self.url(path)?, body, auth).await
    }

    /// One call. With [`Auth::ClientCredentials`], a 401 refreshes the token and retries once.
    pub(crate) async fn call_url(
        &self,
        method: Method,
        url: url::Url,
        body: Option<(Bytes, &'static str)>,
        auth: Auth<'_>,
    ) -> Result<Reply, Error> {
        let body = body.as_ref().map(|(b, t)| (b, *t));
        let bearer =
            |token: &AccessToken| {
                let mut value = HeaderValue::from_str(&format!("Bearer {}", token.secret()))
                    .map_err(|_| Error::Decode {
                        status: 200,
                        message: "access token is not valid header text".to_owned(),
                    })?;
                value.set_sensitive(true);
                Ok::<_, Error>(value)
            };
        match auth {
            Auth::Bearer(token) => self.execute(&method, &url, bearer(token)?, body).await,
            Auth::ClientCredentials => {
                let mut rejected: Option<AccessToken> = None;
                loop {
                    let token = self.client_token(rejected.as_ref()).await?;
                    let reply = self.execute(&method, &url, bearer(&token)?, body).await?;
                    if reply.status == 401 && rejected.is_none() {
                        rejected = Some(token);
                        continue;
                    }
                    return Ok(reply);
                }
            }
        }
    }

    /// A JSON call with the client-credentials token.
    pub(crate) async fn post_json<B: serde::Serialize, T: DeserializeOwned>(
        &self,
        path: &[&str],
        body: &B,
        auth: Auth<'_>,
    ) -> Result<T, Error> {
        let bytes = serde_json::to_vec(body)
            .map(Bytes::from)
            .map_err(|e| Error::Config(format!("cannot encode a request: {e}")))?;
        self.call(Method::POST, path, Some((bytes, "application/json")), auth)
            .await?
            .json()
    }
}
