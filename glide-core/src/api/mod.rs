//! The typed client for Glide's Magical Auth API (OAuth2 generation, with device binding).
//!
//! - [`Glide`]: one method per endpoint — [`eligibility`](Glide::eligibility),
//!   [`prepare`](Glide::prepare), [`report_invocation`](Glide::report_invocation),
//!   [`verify_phone_number`](Glide::verify_phone_number) /
//!   [`get_phone_number`](Glide::get_phone_number) (or [`process`](Glide::process) by use
//!   case, and [`process_until_done`](Glide::process_until_done) for desktop),
//!   [`complete`](Glide::complete), [`status`](Glide::status) and
//!   [`public_status`](Glide::public_status).
//! - The OAuth2 client-credentials token (`/oauth2-cc/token`) is cached, refreshed 60 s before
//!   it expires with a single request however many callers wait, and refreshed once more when
//!   an API call answers 401 (the call is then retried once).
//! - `503` with `Retry-After` is waited out and retried (bounded by [`RetryPolicy`]); `429`
//!   is returned with its `retry_after`; the desktop `202` is a value,
//!   [`ProcessOutcome::Pending`], not an error.
//! - Requests are checked before anything is sent (E.164, use-case rules, MCC/MNC,
//!   `session_timeout` 60–900, `fe_hash` for Link).
//! - HTTP goes through the [`HttpClient`] seam ([`ReqwestClient`] by default): redirects are
//!   never followed, requests time out, response bodies are capped, `X-Correlation-ID` is
//!   forwarded ([`Glide::with_correlation_id`]). Secrets are redacted and phone numbers masked
//!   in `Debug` and logs.
//!
//! ```no_run
//! use glide_core::api::{ClientInfo, Glide, PrepareRequest, ProcessOutcome, ProcessRequest};
//! use glide_core::binding::FeCode;
//! use glide_core::{PhoneNumber, UseCase};
//!
//! # async fn demo(credential_from_browser: String) -> Result<(), glide_core::Error> {
//! let glide = Glide::from_env()?; // GLIDE_CLIENT_ID, GLIDE_CLIENT_SECRET, GLIDE_API_BASE_URL
//!
//! // 1. prepare, with the end user's browser and a fresh binding code (used if Glide picks Link)
//! let fe_code = FeCode::generate();
//! let number = PhoneNumber::parse("+15555550100").expect("valid number");
//! let prepared = glide
//!     .prepare(
//!         &PrepareRequest::verify_phone_number(&number, ClientInfo::new("Mozilla/5.0 …"))
//!             .with_fe_hash(&fe_code.hash()),
//!     )
//!     .await?;
//!
//! // 2. the browser runs the strategy and hands back a credential; 3. verify
//! let request = ProcessRequest::new(prepared.session.clone(), credential_from_browser);
//! match glide.process(UseCase::VerifyPhoneNumber, &request).await? {
//!     ProcessOutcome::Done(result) => println!("verified: {:?}", result.verified),
//!     ProcessOutcome::Pending(p) => println!("phone not done yet; retry in {:?}", p.retry_after),
//!     _ => {}
//! }
//! # Ok(()) }
//! ```

// `Error` is large because `ApiError` is stored inline in error.rs (boxing it there is the fix).
#![allow(clippy::result_large_err)]

mod calls;
pub(crate) mod client;
pub(crate) mod error_body;
pub mod http;
#[cfg(feature = "http2")]
mod http2;
pub(crate) mod token;
pub(crate) mod transport;
pub mod types;
mod validate;

pub(crate) use self::calls::EncodedProcess;
pub use self::calls::DEFAULT_PENDING_RETRY;
pub use self::client::{Glide, GlideBuilder, RetryPolicy, DEFAULT_BASE_URL, DEFAULT_TIMEOUT};
pub use self::error_body::code_for_status;
pub use self::http::{BodyTooLarge, HttpClient, DEFAULT_MAX_RESPONSE_BYTES};
#[cfg(feature = "reqwest")]
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest")))]
pub use self::http::{ReqwestClient, ReqwestClientBuilder};
#[cfg(feature = "http2")]
#[cfg_attr(docsrs, doc(cfg(feature = "http2")))]
pub use self::http2::{Http2Client, Http2ClientBuilder};
pub use self::token::{DEFAULT_LIFETIME, REFRESH_AHEAD};
pub use self::transport::{CLIENT_USER_AGENT, CORRELATION_HEADER};
pub use self::types::{
    Challenge, ClientInfo, CompleteRequest, ConsentData, DesktopData, DesktopQrData, DeviceInfo,
    EligibilityOption, EligibilityRequest, EligibilityResponse, GlideSession, LinkData, LinkType,
    Pending, PhoneNumberDetails, PhoneResult, Plmn, PrepareOptions, PrepareRequest,
    PrepareResponse, ProcessOutcome, ProcessRequest, Requirements, SessionStatus, StatusResponse,
    Ts43Data, Ts43Request,
};
