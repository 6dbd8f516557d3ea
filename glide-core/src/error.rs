//! The one error type of glide-core, with a stable public code and an HTTP status for each case.
//!
//! Adapters render every error the same way: `{"code": public_code, "message": public_message,
//! "status": http_status}`. 5xx messages are opaque; the full error goes to `tracing`.

use std::fmt;
use std::time::Duration;

use crate::store::StoreError;

/// Boxed source error, for transport failures from any [`HttpClient`](crate::api::HttpClient).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong in glide-core.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The library was configured wrongly (returned by builders, never by a request).
    #[error("configuration error: {0}")]
    Config(String),
    /// A bug or broken invariant inside glide-core (e.g. a record that could not be encoded):
    /// 500 with an opaque body.
    #[error("internal error: {0}")]
    Internal(String),
    /// Input refused before anything was sent to Glide.
    #[error("invalid {field}: {message}")]
    Validation {
        /// The offending field, as named on the wire.
        field: &'static str,
        /// What is wrong with it, safe to show to the user.
        message: String,
    },
    /// Glide answered with an error (boxed: it is the largest variant).
    #[error(transparent)]
    Api(Box<ApiError>),
    /// The request never got an answer (connection refused, reset, timed out).
    #[error("could not reach Glide: {0}")]
    Transport(#[source] BoxError),
    /// Glide answered something that is not what the protocol says.
    #[error("unexpected response from Glide (HTTP {status}): {message}")]
    Decode {
        /// The HTTP status of the answer.
        status: u16,
        /// What was wrong with it (no body content).
        message: String,
    },
    /// The verification store failed; nothing was written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A flow step arrived in the wrong state, too late, or twice.
    #[error(transparent)]
    Flow(#[from] FlowError),
    /// A flow's binding to its browser failed (Link device binding, the Number Verify nonce).
    #[error(transparent)]
    Binding(#[from] BindingError),
    /// An HTTP request to one of our routes was refused before any flow logic ran.
    #[error(transparent)]
    Request(#[from] RequestError),
    /// A check that must pass before a session is issued (the SIM-swap and device-swap checks
    /// of the code-based flows) could not be made: 503 with an opaque body, whatever Glide
    /// answered.
    #[error("the {check} check failed")]
    CheckFailed {
        /// Which check (`SIM swap`, `device swap`).
        check: &'static str,
        /// Why it failed.
        #[source]
        source: Box<Error>,
    },
    /// Too many attempts; try again after the given delay.
    #[error("rate limit exceeded")]
    RateLimited {
        /// When to try again.
        retry_after: Duration,
    },
}

impl From<ApiError> for Error {
    fn from(error: ApiError) -> Self {
        Self::Api(Box::new(error))
    }
}

impl Error {
    /// A validation error on `field`.
    pub fn validation(field: &'static str, message: impl Into<String>) -> Self {
        Self::Validation {
            field,
            message: message.into(),
        }
    }

    /// The stable public code (`UPPER_SNAKE`), Glide's own code string where Glide has one.
    pub fn code(&self) -> &str {
        match self {
            // A damaged record: trying again will not help.
            Self::Config(_) | Self::Internal(_) | Self::Store(StoreError::Decode(_)) => {
                "INTERNAL_SERVER_ERROR"
            }
            Self::Validation { .. } => "VALIDATION_ERROR",
            // Glide refusing *our* credentials is our outage, not the user's fault.
            Self::Api(api) if api.status >= 500 || api.status == 401 => "SERVICE_UNAVAILABLE",
            Self::Api(api) => &api.code,
            Self::Transport(_) | Self::Store(_) | Self::CheckFailed { .. } => "SERVICE_UNAVAILABLE",
            Self::Decode { .. } => "BAD_GATEWAY",
            Self::Flow(e) => e.code(),
            Self::Binding(e) => e.code(),
            Self::Request(e) => e.code(),
            Self::RateLimited { .. } => "RATE_LIMIT_EXCEEDED",
        }
    }

    /// The HTTP status our routes answer with.
    pub fn http_status(&self) -> u16 {
        match self {
            Self::Config(_) | Self::Internal(_) | Self::Store(StoreError::Decode(_)) => 500,
            Self::Validation { .. } => 400,
            Self::Api(api) if api.status >= 500 || api.status == 401 => 503,
            Self::Api(api) => api.status,
            Self::Transport(_) | Self::Store(_) | Self::CheckFailed { .. } => 503,
            Self::Decode { .. } => 502,
            Self::Flow(e) => e.http_status(),
            Self::Binding(e) => e.http_status(),
            Self::Request(e) => e.http_status(),
            Self::RateLimited { .. } => 429,
        }
    }

    /// The message safe to show to a browser: the error's text for 4xx, a fixed sentence for 5xx.
    pub fn public_message(&self) -> String {
        match self.http_status() {
            500 => "Internal server error.".to_owned(),
            502 | 504 => "The verification service gave an unexpected answer.".to_owned(),
            503 => {
                "The verification service is temporarily unavailable. Please try again.".to_owned()
            }
            _ => match self {
                Self::Api(api) => api.message.clone(),
                other => other.to_string(),
            },
        }
    }

    /// Whether trying the same thing again later may succeed (429, 503, other 5xx, transport).
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Api(api) => api.is_retryable(),
            Self::Store(StoreError::Decode(_)) => false,
            Self::Transport(_)
            | Self::Store(_)
            | Self::RateLimited { .. }
            | Self::CheckFailed { .. } => true,
            _ => false,
        }
    }

    /// The delay a caller should wait before retrying, when one is known.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Api(api) => api.retry_after,
            Self::RateLimited { retry_after } => Some(*retry_after),
            _ => None,
        }
    }
}

/// An error answer from Glide's API: `{code, message, status, request_id, trace_id, …}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Glide answered {status} {code}: {message}")]
#[non_exhaustive]
pub struct ApiError {
    /// The HTTP status.
    pub status: u16,
    /// Glide's code string (`SESSION_NOT_FOUND`, …), or one derived from the status when the body
    /// carried none (`BAD_REQUEST`, `UNAUTHORIZED`, …, as Glide's Go SDK does).
    pub code: String,
    /// Glide's message.
    pub message: String,
    /// `request_id` from the body.
    pub request_id: Option<String>,
    /// `trace_id` from the body.
    pub trace_id: Option<String>,
    /// `Retry-After` (header, or `details.retry_after`), on 429 and 503.
    pub retry_after: Option<Duration>,
    /// `details.fields` of a validation error: field name → problem.
    pub fields: Vec<(String, String)>,
}

impl ApiError {
    /// An error with just a status, a code and a message.
    pub fn new(status: u16, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.into(),
            message: message.into(),
            request_id: None,
            trace_id: None,
            retry_after: None,
            fields: Vec::new(),
        }
    }

    /// 429, 503 and any other 5xx may succeed later.
    pub fn is_retryable(&self) -> bool {
        self.status == 429 || self.status >= 500
    }
}

/// A flow step that cannot happen now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FlowError {
    /// No such flow (never existed, or already cleaned up).
    #[error("verification session not found")]
    NotFound,
    /// The flow's lifetime has passed.
    #[error("verification session expired")]
    Expired,
    /// The flow already reached its end; it cannot be used again.
    #[error("verification session already used")]
    AlreadyUsed,
    /// The step does not fit the flow's state (out of order, or wrong strategy).
    #[error("this step is not allowed now: {0}")]
    InvalidTransition(String),
    /// Another request is processing this flow right now.
    #[error("this verification is already being processed")]
    Busy,
    /// The flow ended in failure (the user denied, the carrier refused).
    #[error("verification failed")]
    Failed,
    /// A verification chain's attempt budget (per number and client) is used up.
    #[error("Too many attempts for this number. Try again later.")]
    AttemptsExhausted,
    /// A verification chain's overall deadline passed.
    #[error("The verification took too long. Start again.")]
    ChainExpired,
}

impl FlowError {
    /// Public code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound => "SESSION_NOT_FOUND",
            Self::Expired => "SESSION_EXPIRED",
            Self::AlreadyUsed => "SESSION_ALREADY_USED",
            Self::InvalidTransition(_) => "SESSION_NOT_ELIGIBLE",
            Self::Busy => "SESSION_BUSY",
            Self::Failed => "VERIFICATION_FAILED",
            Self::AttemptsExhausted => "ATTEMPTS_EXHAUSTED",
            Self::ChainExpired => "CHAIN_EXPIRED",
        }
    }

    /// HTTP status.
    pub fn http_status(&self) -> u16 {
        match self {
            Self::NotFound | Self::Expired => 404,
            Self::AlreadyUsed | Self::InvalidTransition(_) | Self::Busy => 409,
            Self::Failed => 422,
            Self::AttemptsExhausted => 429,
            Self::ChainExpired => 410,
        }
    }
}

/// A flow's binding to its browser failed: Link device binding, or a Number Verify code that
/// was issued to another flow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BindingError {
    /// The browser did not send the binding cookie: prepare and complete happened in different
    /// browsers.
    #[error("Device binding cookie is missing. The prepare and complete must happen in the same browser.")]
    MissingCookie,
    /// A code was not 64 hex characters, or did not match.
    #[error("Device binding failed.")]
    Failed,
    /// The ID token of a Number Verify code exchange did not carry the nonce of this flow's
    /// authorization request (no ID token, an unreadable one, or a missing or different
    /// `nonce`): the code was issued to another flow.
    #[error("The authorization code was not issued for this verification.")]
    NonceMismatch,
}

impl BindingError {
    /// Public code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingCookie => "MISSING_BINDING_COOKIE",
            Self::Failed => "DEVICE_BINDING_FAILED",
            Self::NonceMismatch => "NONCE_MISMATCH",
        }
    }

    /// HTTP status (always 403).
    pub fn http_status(&self) -> u16 {
        403
    }
}

/// An HTTP request refused at the door of one of our routes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// The body is larger than the configured limit.
    #[error("request body too large")]
    PayloadTooLarge,
    /// State-changing routes take `application/json` only.
    #[error("content type must be application/json")]
    UnsupportedMediaType,
    /// The body is not the JSON this route expects.
    #[error("malformed request body: {0}")]
    MalformedBody(String),
    /// The request came from another origin (CSRF defence).
    #[error("cross-origin request refused")]
    OriginNotAllowed,
    /// Wrong method for this route.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// The route needs a verified session and there is none.
    #[error("phone number not verified")]
    NotVerified,
    /// The risk policy refused a verified session; the browser still sees the signals.
    #[error("verification refused by the risk policy: {}", .0.reason)]
    RiskPolicyDenied(Box<RiskDenial>),
    /// The body did not arrive within the deadline.
    #[error("the request body did not arrive in time")]
    BodyTimeout,
    /// A wrong one-time code; `attempts_left` more may be tried.
    #[error("The code is not valid.")]
    InvalidCode {
        /// Codes that may still be tried for this verification.
        attempts_left: u32,
    },
    /// Every attempt of this verification is used up; it is dead.
    #[error("Too many wrong codes. Start a new verification.")]
    TooManyAttempts,
    /// A TS43 credential bound to a web origin that is not this app's.
    #[error("The credential was issued for another web origin.")]
    AudienceMismatch,
    /// A Number Verify state that is missing, forged, reused or expired.
    #[error("The verification state is missing, invalid or already used.")]
    InvalidState,
}

/// Why the risk policy refused a verification, and the signals shown to the browser with it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RiskDenial {
    /// The policy's reason (for logs and the message).
    pub reason: String,
    /// The verification's outcome and signals, when there were any.
    pub signals: Option<Box<DeniedSignals>>,
}

impl RiskDenial {
    /// A denial for `reason`, with the signals the browser sees beside it.
    pub fn new(reason: impl Into<String>, signals: Option<DeniedSignals>) -> Self {
        Self {
            reason: reason.into(),
            signals: signals.map(Box::new),
        }
    }
}

/// The fields of a denied verification shown in the error body beside `code`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct DeniedSignals {
    /// The number the carrier verified.
    pub phone_number: crate::PhoneNumber,
    /// Glide's `verified`, when it said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verified: Option<bool>,
    /// The SIM-swap signal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sim_swap: Option<crate::SwapInfo>,
    /// The device-swap signal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_swap: Option<crate::SwapInfo>,
}

impl From<&crate::VerifiedPhone> for DeniedSignals {
    fn from(phone: &crate::VerifiedPhone) -> Self {
        Self {
            phone_number: phone.phone_number.clone(),
            verified: None,
            sim_swap: phone.sim_swap.clone(),
            device_swap: phone.device_swap.clone(),
        }
    }
}

impl RequestError {
    /// Public code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            Self::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            Self::MalformedBody(_) => "BAD_REQUEST",
            Self::OriginNotAllowed => "ORIGIN_NOT_ALLOWED",
            Self::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            Self::NotVerified => "NOT_VERIFIED",
            Self::RiskPolicyDenied(_) => "RISK_POLICY_DENIED",
            Self::BodyTimeout => "REQUEST_TIMEOUT",
            Self::InvalidCode { .. } => "INVALID_CODE",
            Self::TooManyAttempts => "TOO_MANY_ATTEMPTS",
            Self::InvalidState => "INVALID_STATE",
            Self::AudienceMismatch => "AUDIENCE_VALIDATION_FAILED",
        }
    }

    /// HTTP status.
    pub fn http_status(&self) -> u16 {
        match self {
            Self::PayloadTooLarge => 413,
            Self::UnsupportedMediaType => 415,
            Self::MalformedBody(_) => 400,
            Self::OriginNotAllowed | Self::RiskPolicyDenied(_) | Self::InvalidState => 403,
            Self::MethodNotAllowed => 405,
            Self::NotVerified | Self::InvalidCode { .. } => 401,
            Self::BodyTimeout => 408,
            Self::TooManyAttempts => 429,
            Self::AudienceMismatch => 422,
        }
    }
}

/// A compact display of an error for logs: code, status and the error chain.
#[derive(Debug)]
pub struct LogError<'a>(pub &'a Error);

impl fmt::Display for LogError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}): {}",
            self.0.code(),
            self.0.http_status(),
            self.0
        )?;
        let mut source = std::error::Error::source(self.0);
        while let Some(s) = source {
            write!(f, ": {s}")?;
            source = s.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_hundreds_are_opaque() {
        let e = Error::from(ApiError::new(
            500,
            "INTERNAL_SERVER_ERROR",
            "db at 10.0.0.3 down",
        ));
        assert_eq!(e.http_status(), 503);
        assert!(!e.public_message().contains("10.0.0.3"));
        let e = Error::Config("secret path /etc/x".into());
        assert!(!e.public_message().contains("/etc/x"));
        let e = Error::from(ApiError::new(401, "UNAUTHORIZED", "bad client secret"));
        assert_eq!((e.code(), e.http_status()), ("SERVICE_UNAVAILABLE", 503));
        assert!(!e.public_message().contains("secret"));
        let e = Error::CheckFailed {
            check: "SIM swap",
            source: Box::new(ApiError::new(429, "RATE_LIMITED", "slow down, client 42").into()),
        };
        assert_eq!((e.code(), e.http_status()), ("SERVICE_UNAVAILABLE", 503));
        assert!(!e.public_message().contains("42"));
        assert_eq!(e.retry_after(), None);
        let e = Error::from(ApiError::new(422, "BROWSER_MISMATCH", "Browser mismatch"));
        assert_eq!((e.code(), e.http_status()), ("BROWSER_MISMATCH", 422));
        assert_eq!(e.public_message(), "Browser mismatch");
    }
}
