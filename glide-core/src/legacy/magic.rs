//! Magic Auth: `start_auth` / `verify_auth` and the server-side variant.

use http::Method;

use super::types::{
    CheckServerAuthResponse, StartAuthRequest, StartAuthResponse, StartServerAuthRequest,
    StartServerAuthResponse, VerifyAuthRequest, VerifyAuthResponse,
};
use super::LegacyClient;
use crate::api::transport::Auth;
use crate::error::Error;

/// Magic Auth calls; from [`LegacyClient::magic_auth`].
#[derive(Debug, Clone)]
pub struct MagicAuth {
    client: LegacyClient,
}

fn check_target(phone: bool, email: bool) -> Result<(), Error> {
    if phone || email {
        Ok(())
    } else {
        Err(Error::validation(
            "phone_number",
            "one of phone_number or email is required",
        ))
    }
}

impl MagicAuth {
    pub(crate) fn new(client: LegacyClient) -> Self {
        Self { client }
    }

    /// `POST /magic-auth/verification/start`: the carrier check if the number's carrier
    /// supports it ([`AuthType::Magic`](super::AuthType::Magic) with `auth_url`), else a code
    /// by the fallback channel.
    pub async fn start_auth(&self, request: &StartAuthRequest) -> Result<StartAuthResponse, Error> {
        check_target(request.phone_number.is_some(), request.email.is_some())?;
        self.client
            .post_json(
                &["magic-auth", "verification", "start"],
                request,
                Auth::ClientCredentials,
            )
            .await
    }

    /// `POST /magic-auth/verification/check`: a token (MAGIC) or a code (SMS / EMAIL).
    pub async fn verify_auth(
        &self,
        request: &VerifyAuthRequest,
    ) -> Result<VerifyAuthResponse, Error> {
        check_target(request.phone_number.is_some(), request.email.is_some())?;
        if request.code.is_none() && request.token.is_none() {
            return Err(Error::validation(
                "code",
                "one of code or token is required",
            ));
        }
        self.client
            .post_json(
                &["magic-auth", "verification", "check"],
                request,
                Auth::ClientCredentials,
            )
            .await
    }

    /// `POST /magic-auth/verification/start-server-auth`.
    pub async fn start_server_auth(
        &self,
        request: &StartServerAuthRequest,
    ) -> Result<StartServerAuthResponse, Error> {
        check_target(
            request.start.phone_number.is_some(),
            request.start.email.is_some(),
        )?;
        self.client
            .post_json(
                &["magic-auth", "verification", "start-server-auth"],
                request,
                Auth::ClientCredentials,
            )
            .await
    }

    /// `GET /magic-auth/verification/check-server-auth?sessionId=…`.
    pub async fn check_server_auth(
        &self,
        session_id: &str,
    ) -> Result<CheckServerAuthResponse, Error> {
        if session_id.is_empty() || session_id.len() > 256 {
            return Err(Error::validation("session_id", "session_id is invalid"));
        }
        let mut url = self
            .client
            .url(&["magic-auth", "verification", "check-server-auth"])?;
        url.query_pairs_mut().append_pair("sessionId", session_id);
        self.client
            .call_url(Method::GET, url, None, Auth::ClientCredentials)
            .await?
            .json()
    }
}
