//! The client for Glide's legacy APIs: Magic Auth with SMS / e-mail fallback, server-side
//! Magic Auth, Number Verify (operator OAuth code flow) and the SIM swap and Device Swap checks.
//!
//! A [`LegacyClient`] shares the credentials, base URL and [`HttpClient`] of a
//! [`Glide`] client ([`LegacyClient::new`]) or is built from parts
//! ([`LegacyClient::from_parts`]). It keeps its own client-credentials token
//! (`POST /oauth2/token`, scope `magic-auth`), cached, refreshed 60 s before expiry with one
//! request in flight, and refreshed once when a call answers 401. SIM swap and Device Swap calls
//! use a per-subscriber token instead (one per API scope), obtained through CIBA
//! (`POST /oauth2/backchannel-authentication`, then the CIBA grant at `/oauth2/token`) and
//! cached per number the same way. A `503` with `Retry-After` is waited out and retried as the
//! [`RetryPolicy`](crate::api::RetryPolicy) allows (the [`Glide`] client's policy for
//! [`LegacyClient::new`], the default one for [`LegacyClient::from_parts`]).
//!
//! Method names follow Glide's SDKs: [`MagicAuth::start_auth`], [`MagicAuth::verify_auth`],
//! [`MagicAuth::start_server_auth`], [`MagicAuth::check_server_auth`],
//! [`NumberVerify::get_auth_url`], [`NumberVerify::for_user`] (and [`NumberVerify::for_flow`],
//! which binds the code to its flow with a [`FlowSecrets`]: nonce and PKCE),
//! [`NumberVerifyUser::verify_number`], [`SimSwap::check`], [`SimSwap::retrieve_date`]; plus
//! [`SimSwap::signal`], the SIM swap signal as a [`SwapInfo`](crate::SwapInfo) with the risk
//! mapped by a [`SimSwapRiskMapping`], and the same three for Device Swap
//! ([`DeviceSwap::check`], [`DeviceSwap::retrieve_date`], [`DeviceSwap::signal`]).
//!
//! ```no_run
//! use glide_core::legacy::{AuthType, LegacyClient, OtpCode, StartAuthRequest, VerifyAuthRequest};
//! use glide_core::PhoneNumber;
//! # async fn demo(code_typed_by_user: String) -> Result<(), glide_core::Error> {
//! let legacy = LegacyClient::from_env()?;
//! let phone = PhoneNumber::parse("+15555550106").expect("valid");
//! let started = legacy.magic_auth().start_auth(&StartAuthRequest::phone(phone.clone())).await?;
//! if started.auth_type == AuthType::Sms {
//!     let check = VerifyAuthRequest::sms(phone, OtpCode::new(code_typed_by_user));
//!     let verified = legacy.magic_auth().verify_auth(&check).await?.verified;
//!     println!("verified: {verified}");
//! }
//! # Ok(()) }
//! ```

// `Error` is large; boxing it is error.rs's business.
#![allow(clippy::result_large_err)]

mod ciba;
mod magic;
mod number_verify;
mod risk;
mod swap;
mod transport;
mod types;

pub use magic::MagicAuth;
pub use number_verify::{AuthUrlOptions, FlowSecrets, NumberVerify, NumberVerifyUser};
pub use risk::{age_band, SimSwapRiskMapping};
pub use swap::{DeviceSwap, SimSwap, REASON_CARRIER_NOT_SUPPORTED};
pub use types::{
    AuthCode, AuthType, CheckServerAuthResponse, DeviceSwapCheckResponse, DeviceSwapDateResponse,
    Email, EmailError, FallbackChannel, MagicToken, NumberVerifyResponse, OtpCode,
    ServerAuthStatus, SimSwapCheckResponse, SimSwapDateResponse, StartAuthRequest,
    StartAuthResponse, StartServerAuthRequest, StartServerAuthResponse, VerifyAuthRequest,
    VerifyAuthResponse, MAX_EMAIL_LEN,
};

use std::sync::Arc;

use crate::api::client::{check_credentials, parse_base_url};
use crate::api::transport::Transport;
use crate::api::{Glide, HttpClient};
use crate::error::Error;
use crate::secret::{ClientId, ClientSecret};

/// The legacy API client. Cheap to clone; `Send + Sync`.
#[derive(Clone)]
pub struct LegacyClient {
    inner: Arc<Transport>,
    ciba: Arc<ciba::CibaTokens>,
}

impl std::fmt::Debug for LegacyClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LegacyClient")
            .field("client_id", &self.inner.client_id)
            .field("client_secret", &self.inner.client_secret)
            .field("base_url", &self.inner.base_url.as_str())
            .field("timeout", &self.inner.timeout)
            .finish_non_exhaustive()
    }
}

impl LegacyClient {
    /// A client sharing `glide`'s credentials, base URL, HTTP client, timeout, size cap, retry
    /// policy and clock (with token caches of its own).
    pub fn new(glide: &Glide) -> Self {
        Self {
            inner: Arc::new(glide.inner.sibling(transport::TOKEN_ENDPOINT)),
            ciba: Arc::default(),
        }
    }

    /// A client from parts: the default timeout (30 s), response cap (1 MiB) and retry policy
    /// (2 retries of a `503` with `Retry-After`, ≤ 5 s each).
    pub fn from_parts(
        client_id: impl Into<ClientId>,
        client_secret: impl Into<ClientSecret>,
        base_url: &str,
        http: Arc<dyn HttpClient>,
    ) -> Result<Self, Error> {
        let client_id = client_id.into();
        let client_secret = client_secret.into();
        check_credentials(&client_id, &client_secret)?;
        let base_url = parse_base_url(base_url)?;
        let shared = Transport::new(
            client_id,
            client_secret,
            base_url,
            http,
            transport::TOKEN_ENDPOINT,
        );
        Ok(Self {
            inner: Arc::new(shared),
            ciba: Arc::default(),
        })
    }

    /// A client from `GLIDE_CLIENT_ID`, `GLIDE_CLIENT_SECRET` and `GLIDE_API_BASE_URL`, as
    /// [`Glide::from_env`].
    pub fn from_env() -> Result<Self, Error> {
        Ok(Self::new(&Glide::from_env()?))
    }

    /// The base URL.
    pub fn base_url(&self) -> &url::Url {
        &self.inner.base_url
    }

    /// Magic Auth (with SMS / e-mail fallback) and server-side Magic Auth.
    pub fn magic_auth(&self) -> MagicAuth {
        MagicAuth::new(self.clone())
    }

    /// Number Verify.
    pub fn number_verify(&self) -> NumberVerify {
        NumberVerify::new(self.clone())
    }

    /// The SIM swap API (with per-subscriber CIBA tokens) and its signal.
    pub fn sim_swap(&self) -> SimSwap {
        SimSwap::new(self.clone())
    }

    /// The Device Swap API (with per-subscriber CIBA tokens of its own scope) and its signal.
    pub fn device_swap(&self) -> DeviceSwap {
        DeviceSwap::new(self.clone())
    }
}
