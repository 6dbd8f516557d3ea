//! Number Verify: the operator authorization URL, the code exchange and the number check.

use http::Method;

use super::types::{AuthCode, NumberVerifyResponse};
use super::LegacyClient;
use crate::api::transport::Auth;
use crate::error::Error;
use crate::secret::AccessToken;
use crate::PhoneNumber;

/// The scope purpose of Number Verify.
const PURPOSE: &str = "dpv:FraudPreventionAndDetection:number-verification";

/// Options of [`NumberVerify::get_auth_url`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthUrlOptions {
    /// The `state` echoed on the redirect (bind it to the browser and check it on return). A
    /// random one is made when absent.
    pub state: Option<String>,
    /// `login_hint=tel:…`: the number the sandbox device has (Glide's `use_dev_number`).
    pub use_dev_number: Option<PhoneNumber>,
    /// The `redirect_uri` (absolute); else the one registered with Glide.
    pub redirect_uri: Option<String>,
    /// `dev_print=true`: the URL answers `{"code"}` instead of redirecting (development only).
    pub print_code: bool,
}

/// Number Verify calls; from [`LegacyClient::number_verify`].
#[derive(Debug, Clone)]
pub struct NumberVerify {
    client: LegacyClient,
}

impl NumberVerify {
    pub(crate) fn new(client: LegacyClient) -> Self {
        Self { client }
    }

    /// The URL to open on the user's device:
    /// `{base}/oauth2/auth?client_id=…&response_type=code&scope=openid&purpose=…&state=…&nonce=…&max_age=0`
    /// with `redirect_uri`, `login_hint` and `dev_print` as the options say.
    pub fn get_auth_url(&self, options: &AuthUrlOptions) -> Result<url::Url, Error> {
        let mut url = self.client.url(&["oauth2", "auth"])?;
        let state = options.state.clone().unwrap_or_else(random_text);
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("client_id", self.client.inner.client_id.as_str())
                .append_pair("response_type", "code")
                .append_pair("scope", "openid")
                .append_pair("purpose", PURPOSE)
                .append_pair("state", &state)
                .append_pair("nonce", &random_text())
                .append_pair("max_age", "0");
            if let Some(redirect) = &options.redirect_uri {
                query.append_pair("redirect_uri", redirect);
            }
            if let Some(number) = &options.use_dev_number {
                query.append_pair("login_hint", &format!("tel:{number}"));
            }
            if options.print_code {
                query.append_pair("dev_print", "true");
            }
        }
        Ok(url)
    }

    /// Exchanges the code from the redirect for the user's token
    /// (`grant_type=authorization_code`); `phone_number` is the number
    /// [`NumberVerifyUser::verify_number`] checks by default.
    pub async fn for_user(
        &self,
        code: &AuthCode,
        phone_number: Option<PhoneNumber>,
    ) -> Result<NumberVerifyUser, Error> {
        if code.secret().is_empty() || code.secret().len() > 2048 {
            return Err(Error::validation("code", "code is invalid"));
        }
        let answer = self
            .client
            .token_request(&[
                ("grant_type", "authorization_code"),
                ("code", code.secret()),
            ])
            .await?;
        let (token, _) = answer.into_token()?;
        Ok(NumberVerifyUser {
            client: self.client.clone(),
            token,
            phone_number,
        })
    }
}

/// The user's Number Verify session (holds the exchanged token); from
/// [`NumberVerify::for_user`].
#[derive(Debug, Clone)]
pub struct NumberVerifyUser {
    client: LegacyClient,
    token: AccessToken,
    phone_number: Option<PhoneNumber>,
}

impl NumberVerifyUser {
    /// `POST /number-verification/verify`: whether `phone_number` (or the one given to
    /// [`NumberVerify::for_user`]) is the device's own.
    pub async fn verify_number(
        &self,
        phone_number: Option<&PhoneNumber>,
    ) -> Result<NumberVerifyResponse, Error> {
        let phone = phone_number
            .or(self.phone_number.as_ref())
            .ok_or_else(|| Error::validation("phone_number", "phone_number is required"))?;
        self.client
            .post_json(
                &["number-verification", "verify"],
                &serde_json::json!({ "phoneNumber": phone }),
                Auth::Token(&self.token),
            )
            .await
    }

    /// `GET /number-verification/device-phone-number`: the device's own number.
    pub async fn get_phone_number(&self) -> Result<PhoneNumber, Error> {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Answer {
            device_phone_number: PhoneNumber,
        }
        let answer: Answer = self
            .client
            .call(
                Method::GET,
                &["number-verification", "device-phone-number"],
                None,
                Auth::Token(&self.token),
            )
            .await?
            .json()?;
        Ok(answer.device_phone_number)
    }
}

/// 16 random bytes as 32 hex characters.
fn random_text() -> String {
    use rand::RngCore as _;
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}
