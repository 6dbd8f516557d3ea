//! Errors: Glide's error body on the wire, and the library's own error types.

use std::collections::BTreeMap;

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::util;

/// Why [`crate::Sandbox::start`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The address could not be bound.
    #[error("cannot bind {addr}: {source}")]
    Bind {
        /// The address that was asked for.
        addr: std::net::SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Another I/O error (reading the bound address, building a runtime, spawning a thread).
    #[error("sandbox I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The server thread of [`crate::Sandbox::start_on_thread`] ended before reporting its address.
    #[error("the sandbox thread ended before it started")]
    ThreadEnded,
}

/// Why a [`crate::SandboxControl`] action was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ControlError {
    /// No session has that key (or, for TS43, that nonce).
    #[error("session not found")]
    SessionNotFound,
    /// The session's lifetime has passed.
    #[error("session expired")]
    SessionExpired,
    /// The session uses another strategy than the action needs.
    #[error("session uses strategy {actual}, this action needs {expected}")]
    WrongStrategy {
        /// The strategy the action needs.
        expected: &'static str,
        /// The session's strategy.
        actual: &'static str,
    },
    /// The session is not in a state that allows the action.
    #[error("session is {0}")]
    InvalidState(&'static str),
    /// The simulated user refused (fixture `+15555550108`); the session is now `failed`.
    #[error("the user denied the request on the device")]
    UserDenied,
    /// A malformed argument (phone number, origin).
    #[error("invalid argument: {0}")]
    InvalidArgument(&'static str),
}

impl ControlError {
    /// Glide's code string for this error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::SessionNotFound => "SESSION_NOT_FOUND",
            Self::SessionExpired => "SESSION_EXPIRED",
            Self::WrongStrategy { .. } | Self::InvalidState(_) => "SESSION_NOT_ELIGIBLE",
            Self::UserDenied => "USER_DENIED",
            Self::InvalidArgument(_) => "VALIDATION_ERROR",
        }
    }

    /// The HTTP status the control API answers with.
    pub fn http_status(&self) -> u16 {
        match self {
            Self::SessionNotFound => 404,
            Self::SessionExpired => 410,
            Self::WrongStrategy { .. } | Self::InvalidState(_) => 409,
            Self::UserDenied => 403,
            Self::InvalidArgument(_) => 400,
        }
    }
}

impl From<ControlError> for ApiError {
    fn from(e: ControlError) -> Self {
        let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
        ApiError::new(status, e.code(), e.to_string())
    }
}

/// An error answered with Glide's error body:
/// `{code, message, status, request_id, timestamp, details?}`.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
    pub fields: Option<BTreeMap<String, String>>,
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.to_owned(),
            message: message.into(),
            fields: None,
            retry_after: None,
        }
    }

    /// 400 `VALIDATION_ERROR` with `details.fields`.
    pub(crate) fn validation(fields: BTreeMap<String, String>) -> Self {
        let mut e = Self::new(
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
            "Request validation failed",
        );
        e.fields = Some(fields);
        e
    }

    /// 400 `VALIDATION_ERROR` for one field.
    pub(crate) fn field(name: &str, problem: &str) -> Self {
        Self::validation(BTreeMap::from([(name.to_owned(), problem.to_owned())]))
    }

    pub(crate) fn unauthorized(message: &str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", message)
    }

    pub(crate) fn session_not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "SESSION_NOT_FOUND",
            "Session not found or already used",
        )
    }

    pub(crate) fn session_expired() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "SESSION_EXPIRED",
            "Session has expired",
        )
    }

    pub(crate) fn binding_failed(message: &str) -> Self {
        Self::new(StatusCode::FORBIDDEN, "DEVICE_BINDING_FAILED", message)
    }

    pub(crate) fn invalid_credential() -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "INVALID_CREDENTIAL_FORMAT",
            "The credential is malformed, forged, expired or already used",
        )
    }

    pub(crate) fn not_eligible(message: &str) -> Self {
        Self::new(StatusCode::CONFLICT, "SESSION_NOT_ELIGIBLE", message)
    }

    /// The error a fault of kind `status` answers with.
    pub(crate) fn for_status(status: u16, retry_after: Option<u64>) -> Self {
        let (code, message) = match status {
            400 => ("BAD_REQUEST", "Bad request"),
            401 => ("UNAUTHORIZED", "Unauthorized"),
            403 => ("FORBIDDEN", "Forbidden"),
            404 => ("SESSION_NOT_FOUND", "Session not found"),
            409 => ("SESSION_NOT_ELIGIBLE", "Session not eligible"),
            422 => ("UNPROCESSABLE_ENTITY", "Unprocessable entity"),
            429 => ("RATE_LIMIT_EXCEEDED", "Too many requests"),
            503 => ("SERVICE_UNAVAILABLE", "Service temporarily unavailable"),
            _ => ("INTERNAL_SERVER_ERROR", "Internal server error"),
        };
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut e = Self::new(status, code, message);
        e.retry_after = retry_after;
        e
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({
            "code": self.code,
            "message": self.message,
            "status": self.status.as_u16(),
            "request_id": format!("req_{}", util::random_hex(8)),
            "timestamp": util::rfc3339(util::now()),
        });
        let mut details = serde_json::Map::new();
        if let Some(fields) = &self.fields {
            details.insert("fields".to_owned(), json!(fields));
        }
        if let Some(secs) = self.retry_after {
            details.insert("retry_after".to_owned(), json!(secs));
        }
        if !details.is_empty() {
            body["details"] = serde_json::Value::Object(details);
        }
        let mut response = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                response.headers_mut().insert("retry-after", v);
            }
        }
        response
    }
}
