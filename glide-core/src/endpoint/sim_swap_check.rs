//! The SIM-swap check of every verification that is not Magical Auth (right SMS / e-mail code,
//! legacy carrier check, server-side auth, Number Verify): once per verification, after the
//! verification record was taken and before the risk policy, the engine asks Glide's SIM Swap
//! API ([`SimSwap::signal`]) for the number and fills [`VerifiedPhone::sim_swap`].
//!
//! - a signal (`checked: true` with a risk level, or `checked: false`,
//!   `reason: "carrier_not_supported"`) is stored as it is; the risk policy then decides;
//! - a failed check (Glide 4xx/5xx, timeout, refused CIBA token, unreadable answer) refuses with
//!   an opaque 503 under [`SimSwapFailure::Closed`] (the default), or, under
//!   [`SimSwapFailure::Open`], lets the verification through with `checked: false`,
//!   `reason: "check_failed"` and logs a warning;
//! - switched off, nothing is asked and `sim_swap` stays unset (never a made-up signal).
//!
//! Logs carry the number masked, never a CIBA `auth_req_id` or token.

use time::format_description::well_known::Rfc3339;

use crate::error::{Error, LogError};
use crate::legacy::{LegacyClient, SimSwap, SimSwapRiskMapping};
use crate::session::VerifiedPhone;
use crate::types::SwapInfo;

/// The `reason` of a SIM-swap signal whose check failed and was let through
/// ([`SimSwapFailure::Open`]).
pub const REASON_CHECK_FAILED: &str = "check_failed";

/// What a code-based verification does when the SIM-swap check itself fails (Glide 5xx, a
/// timeout, a refused CIBA token, an unreadable answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SimSwapFailure {
    /// Refuse: 503 `SERVICE_UNAVAILABLE` (opaque body), no session. The default: the code-based
    /// paths are exactly the ones a SIM-swap attacker uses.
    #[default]
    Closed,
    /// Let the verification through with `sim_swap: {checked: false, reason: "check_failed"}`
    /// (the risk policy still applies, e.g. `require_sim_swap_checked`) and log a warning.
    Open,
}

/// The one SIM-swap check of the code-based flows (see the module's documentation).
#[derive(Debug)]
pub(crate) struct SimSwapCheck {
    /// The SIM Swap API; `None` when the check is switched off.
    sim_swap: Option<SimSwap>,
    mapping: SimSwapRiskMapping,
    on_failure: SimSwapFailure,
}

impl SimSwapCheck {
    /// A check through `client` (or none when `enabled` is false).
    pub(crate) fn new(
        client: &LegacyClient,
        enabled: bool,
        mapping: SimSwapRiskMapping,
        on_failure: SimSwapFailure,
    ) -> Self {
        Self {
            sim_swap: enabled.then(|| client.sim_swap()),
            mapping,
            on_failure,
        }
    }

    /// Asks Glide once for `verified`'s number and fills its `sim_swap`; `Err` (503) only when
    /// the check failed and fails closed.
    pub(crate) async fn fill(&self, verified: &mut VerifiedPhone) -> Result<(), Error> {
        let Some(sim_swap) = &self.sim_swap else {
            return Ok(());
        };
        let phone = &verified.phone_number;
        match sim_swap.signal(phone, &self.mapping).await {
            Ok(signal) => {
                verified.sim_swap = Some(signal);
                Ok(())
            }
            Err(error) => match self.on_failure {
                SimSwapFailure::Open => {
                    tracing::warn!(
                        target: "glide::verification",
                        phone = %phone.masked(),
                        strategy = %verified.strategy,
                        error = %LogError(&error),
                        "SIM swap check failed; verification let through unchecked (fail-open)"
                    );
                    // Unchecked (`SwapInfo::default()` has `checked: false`), with the reason.
                    verified.sim_swap = Some(SwapInfo {
                        reason: Some(REASON_CHECK_FAILED.to_owned()),
                        checked_at: verified.verified_at.format(&Rfc3339).ok(),
                        ..SwapInfo::default()
                    });
                    Ok(())
                }
                SimSwapFailure::Closed => Err(Error::CheckFailed {
                    check: "SIM swap",
                    source: Box::new(error),
                }),
            },
        }
    }
}
