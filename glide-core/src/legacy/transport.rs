//! The legacy paths on the api module's [`Transport`]: token endpoint `/oauth2/token` (scope
//! `magic-auth`), `503` + `Retry-After` retried by the transport's [`RetryPolicy`] as for
//! Magical Auth, no correlation id.
//!
//! [`RetryPolicy`]: crate::api::RetryPolicy

use bytes::Bytes;
use http::Method;
use serde::de::DeserializeOwned;

use super::LegacyClient;
use crate::api::token::TokenAnswer;
use crate::api::transport::{json_body, Auth, Reply, TokenEndpoint};
use crate::error::Error;

/// The legacy token endpoint: `POST /oauth2/token`, scope `magic-auth`.
pub(crate) const TOKEN_ENDPOINT: TokenEndpoint = TokenEndpoint {
    path: &["oauth2", "token"],
    scope: Some("magic-auth"),
};

impl LegacyClient {
    /// `path` under the base URL.
    pub(crate) fn url(&self, path: &[&str]) -> Result<url::Url, Error> {
        self.inner.url(path)
    }

    /// `POST /oauth2/token` with Basic auth and a form body.
    pub(crate) async fn token_request(&self, form: &[(&str, &str)]) -> Result<TokenAnswer, Error> {
        self.inner.token_request(form, None).await
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
        self.inner.call(&method, &url, body, auth, None).await
    }

    /// A JSON `POST`, its 2xx answer decoded.
    pub(crate) async fn post_json<B: serde::Serialize, T: DeserializeOwned>(
        &self,
        path: &[&str],
        body: &B,
        auth: Auth<'_>,
    ) -> Result<T, Error> {
        let bytes = json_body(body)?;
        self.call(Method::POST, path, Some((bytes, "application/json")), auth)
            .await?
            .json()
    }
}
