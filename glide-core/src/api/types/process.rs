//! `verify-phone-number` / `get-phone-number` ("process"): request and outcomes.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::session::GlideSession;
use crate::api::validate;
use crate::binding::FeCode;
use crate::error::Error;
use crate::types::SwapInfo;
use crate::PhoneNumber;

/// The body of `verify-phone-number` / `get-phone-number`.
///
/// `credential` and `fe_code` are redacted in `Debug`; `fe_code` goes on the wire as its hex text.
#[derive(Clone)]
pub struct ProcessRequest {
    /// The session from prepare, verbatim.
    pub session: GlideSession,
    /// ts43: the SD-JWT from the browser; link/desktop: the session key.
    pub credential: String,
    /// Link (web): the binding code from the binding cookie.
    pub fe_code: Option<FeCode>,
    /// Link (native): base64 DER ECDSA signature of `{session_key}:{credential}`.
    pub signature: Option<String>,
}

impl ProcessRequest {
    /// A request without binding proof.
    pub fn new(session: GlideSession, credential: impl Into<String>) -> Self {
        Self {
            session,
            credential: credential.into(),
            fe_code: None,
            signature: None,
        }
    }

    /// Adds the binding code (Link, web).
    pub fn with_fe_code(mut self, fe_code: FeCode) -> Self {
        self.fe_code = Some(fe_code);
        self
    }

    /// Adds the native binding signature (Link, native).
    pub fn with_signature(mut self, signature: impl Into<String>) -> Self {
        self.signature = Some(signature.into());
        self
    }

    /// `credential` is required (at most 64 KiB); the session has a key by construction.
    pub fn validate(&self) -> Result<(), Error> {
        if self.credential.trim().is_empty() {
            return Err(Error::validation("credential", "is required"));
        }
        if self.credential.len() > 64 * 1024 {
            return Err(Error::validation("credential", "is too long"));
        }
        if let Some(signature) = &self.signature {
            validate::text("signature", signature, 1024)?;
        }
        Ok(())
    }
}

#[derive(Serialize)]
pub(crate) struct ProcessWire<'a> {
    session: &'a GlideSession,
    credential: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    fe_code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    signature: Option<&'a str>,
}

impl<'a> From<&'a ProcessRequest> for ProcessWire<'a> {
    fn from(req: &'a ProcessRequest) -> Self {
        Self {
            session: &req.session,
            credential: &req.credential,
            fe_code: req.fe_code.as_ref().map(FeCode::secret),
            signature: req.signature.as_deref(),
        }
    }
}

impl fmt::Debug for ProcessRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProcessRequest")
            .field("session", &self.session)
            .field("credential", &"[redacted]")
            .field("fe_code", &self.fe_code)
            .field("signature", &self.signature.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

/// What process answered: the result, or (desktop) "the phone has not finished yet".
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
#[allow(clippy::large_enum_variant)] // the common case; moved once per call
pub enum ProcessOutcome {
    /// 200: the number.
    Done(PhoneResult),
    /// 202: the phone has not finished; re-issue the same request after `retry_after`.
    Pending(Pending),
}

/// The 202 answer of a desktop process call: `{status:"waiting", message, session_key,
/// session_status, retry, session_expires_in_seconds}`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Pending {
    /// How long to wait before re-issuing: the `Retry-After` header, else 1 s (counted from when
    /// the 202 was requested, so a long-polled 202 is re-issued at once).
    pub retry_after: Duration,
    /// Remaining session lifetime (`session_expires_in_seconds`).
    pub expires_in: Option<Duration>,
    /// The session key.
    pub session_key: String,
    /// Glide's status of the session (`pending`, `scanned`, …).
    pub session_status: Option<String>,
    /// Glide's message.
    pub message: Option<String>,
    /// `retry` (`false` means re-issuing is pointless).
    pub retry: bool,
}

impl Pending {
    /// A pending outcome (for tests and adapters).
    pub fn new(session_key: impl Into<String>, retry_after: Duration) -> Self {
        Self {
            retry_after,
            expires_in: None,
            session_key: session_key.into(),
            session_status: None,
            message: None,
            retry: true,
        }
    }
}

/// The raw 202 body.
#[derive(Deserialize)]
pub(crate) struct PendingWire {
    #[serde(default)]
    pub(crate) message: Option<String>,
    #[serde(default)]
    pub(crate) session_key: Option<String>,
    #[serde(default)]
    pub(crate) session_status: Option<String>,
    #[serde(default)]
    pub(crate) retry: Option<bool>,
    #[serde(default)]
    pub(crate) session_expires_in_seconds: Option<i64>,
}

/// The 200 answer of process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PhoneResult {
    /// The number (VerifyPhoneNumber: the one asked about; GetPhoneNumber: the device's).
    pub phone_number: PhoneNumber,
    /// VerifyPhoneNumber only: whether it is the device's number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified: Option<bool>,
    /// ts43: the web origin the credential was bound to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    /// SIM-swap signal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sim_swap: Option<SwapInfo>,
    /// Device-swap (IMEI change) signal, when the carrier supports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_swap: Option<SwapInfo>,
    /// The number's parts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number_details: Option<PhoneNumberDetails>,
}

/// The parts of a number (`phone_number_details`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PhoneNumberDetails {
    /// Calling code (`1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country_code: Option<u32>,
    /// The national number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub national_number: Option<String>,
    /// ISO region (`US`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region_code: Option<String>,
}

impl fmt::Debug for PhoneNumberDetails {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PhoneNumberDetails")
            .field("country_code", &self.country_code)
            .field(
                "national_number",
                &self
                    .national_number
                    .as_deref()
                    .map(crate::phone::mask_phone),
            )
            .field("region_code", &self.region_code)
            .finish()
    }
}
