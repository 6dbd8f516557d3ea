//! Verified sessions: what a handler receives once a phone number is verified.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::{PhoneNumber, Strategy, SwapInfo, UseCase};

/// A verified phone number and its anti-fraud signals, as handlers receive it.
///
/// Serialises to the JSON of the contract: `phone_number`, `use_case`, `strategy`,
/// `verified_at` (RFC 3339), `sim_swap`, `device_swap`, `aud`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct VerifiedPhone {
    /// The verified number, E.164.
    pub phone_number: PhoneNumber,
    /// What the verification was for.
    pub use_case: UseCase,
    /// How it was verified.
    pub strategy: Strategy,
    /// When it was verified.
    #[serde(with = "time::serde::rfc3339")]
    pub verified_at: OffsetDateTime,
    /// The SIM-swap signal, when the carrier gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sim_swap: Option<SwapInfo>,
    /// The device-swap signal, when the carrier gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_swap: Option<SwapInfo>,
    /// The web origin a TS43 credential was bound to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
}

impl VerifiedPhone {
    /// A verified phone without signals.
    pub fn new(
        phone_number: PhoneNumber,
        use_case: UseCase,
        strategy: Strategy,
        verified_at: OffsetDateTime,
    ) -> Self {
        Self {
            phone_number,
            use_case,
            strategy,
            verified_at,
            sim_swap: None,
            device_swap: None,
            aud: None,
        }
    }
}

mod cache;
mod client;
mod manager;
pub use client::{SessionClient, SessionInfo};
pub use manager::{SessionConfig, SessionId, SessionManager};
