//! The stored flow record.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::{PhoneNumber, Strategy, UseCase};

/// Where a flow stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
#[non_exhaustive]
pub enum FlowState {
    /// Glide prepared a session; nothing else happened yet.
    Prepared,
    /// The user pressed the button (report-invocation).
    Invoked,
    /// Link only: `/complete` checked the binding cookie and the `agg_code`.
    BindingConfirmed,
    /// One request holds the flow while it asks Glide for the result.
    Processing {
        /// The state to return to when Glide says "not yet" or fails transiently.
        resume: Box<FlowState>,
        /// When the lease lapses, so that a crashed holder does not block the flow forever.
        #[serde(with = "time::serde::rfc3339")]
        lease_until: OffsetDateTime,
    },
    /// Link only: one request is calling Glide's `/complete`.
    Completing {
        /// The state to return to when `/complete` fails.
        resume: Box<FlowState>,
        /// When the lease lapses.
        #[serde(with = "time::serde::rfc3339")]
        lease_until: OffsetDateTime,
    },
    /// The flow ended; it cannot be used again.
    Ended(Terminal),
}

/// How a flow ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Terminal {
    /// Verified; a verified session was issued.
    Verified,
    /// Glide answered, but the number is not the device's (`verified: false`).
    NotVerified,
    /// The risk policy refused a verified session.
    Denied,
    /// The verification failed (user denied, session gone at Glide).
    Failed {
        /// The public error code it failed with.
        code: String,
    },
}

/// One verification flow, stored under its Glide `session_key`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlowRecord {
    /// Record layout version.
    pub schema: u16,
    /// Glide's session key (16 hex).
    pub session_key: String,
    /// The strategy Glide chose.
    pub strategy: Strategy,
    /// The use case.
    pub use_case: UseCase,
    /// The number being verified (VerifyPhoneNumber).
    pub phone_number: Option<PhoneNumber>,
    /// Glide's session object, verbatim; it never leaves the server whole.
    pub glide_session: serde_json::Value,
    /// Link: SHA-256 (hex) of the `fe_code` in the browser's binding cookie. Never the code.
    pub fe_hash: Option<String>,
    /// Where the flow stands.
    pub state: FlowState,
    /// When it was prepared.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it stops being usable.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

impl FlowRecord {
    /// The current record layout.
    pub const SCHEMA: u16 = 1;
}
