//! The swap checks of every verification that is not Magical Auth (right SMS / e-mail code,
//! legacy carrier check, server-side auth, Number Verify): once per verification, after the
//! verification record was taken and before the risk policy, the engine asks Glide's SIM Swap
//! API ([`SimSwap::signal`]) and Device Swap API ([`DeviceSwap::signal`]) for the number, both
//! at once, and fills [`VerifiedPhone::sim_swap`] and [`VerifiedPhone::device_swap`] — the two
//! signals Magical Auth gets from Glide with its answer, so that the risk policy reads the same
//! signals on every path.
//!
//! For each of the two:
//!
//! - a signal (`checked: true` with a risk level, or `checked: false`,
//!   `reason: "carrier_not_supported"`) is stored as it is; the risk policy then decides;
//! - a failed check (Glide 4xx/5xx, timeout, refused CIBA token, unreadable answer) refuses with
//!   an opaque 503 under [`SimSwapFailure::Closed`] (the default), or, under
//!   [`SimSwapFailure::Open`], lets the verification through with `checked: false`,
//!   `reason: "check_failed"` and logs a warning (one failure mode governs both checks);
//! - switched off, nothing is asked and the signal stays unset (never a made-up signal): the
//!   builder's `sim_swap_check(false)` switches off both checks, `device_swap_check(false)` the
//!   device-swap one alone.
//!
//! Logs carry the number masked, never a CIBA `auth_req_id` or token.

use time::format_description::well_known::Rfc3339;

use crate::error::{Error, LogError};
use crate::legacy::{DeviceSwap, LegacyClient, SimSwap, SimSwapRiskMapping};
use crate::session::VerifiedPhone;
use crate::types::SwapInfo;

/// The `reason` of a swap signal whose check failed and was let through
/// ([`SimSwapFailure::Open`]).
pub const REASON_CHECK_FAILED: &str = "check_failed";

/// What a code-based verification does when one of its swap checks (SIM swap, device swap)
/// itself fails (Glide 5xx, a timeout, a refused CIBA token, an unreadable answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SimSwapFailure {
    /// Refuse: 503 `SERVICE_UNAVAILABLE` (opaque body), no session. The default: the code-based
    /// paths are exactly the ones a SIM-swap (or stolen-number) attacker uses.
    #[default]
    Closed,
    /// Let the verification through with that signal `{checked: false, reason:
    /// "check_failed"}` (the risk policy still applies, e.g. `require_sim_swap_checked`,
    /// `require_device_swap_checked`) and log a warning.
    Open,
}

/// Which swap checks run, and how (see the module's documentation).
#[derive(Debug, Clone, Copy)]
pub(crate) struct SwapCheckConfig {
    /// Both checks (the builder's `sim_swap_check`).
    pub(crate) enabled: bool,
    /// The device-swap check (the builder's `device_swap_check`), when `enabled`.
    pub(crate) device_swap: bool,
    /// Age → risk of a SIM change.
    pub(crate) sim_swap_mapping: SimSwapRiskMapping,
    /// Age → risk of a device change.
    pub(crate) device_swap_mapping: SimSwapRiskMapping,
    /// What a failed check does.
    pub(crate) on_failure: SimSwapFailure,
}

/// One of the two APIs.
#[derive(Debug)]
enum Api {
    Sim(SimSwap),
    Device(DeviceSwap),
}

/// One check: its API and mapping.
#[derive(Debug)]
struct Check {
    api: Api,
    mapping: SimSwapRiskMapping,
}

impl Check {
    /// The name of the check in logs and errors.
    fn name(&self) -> &'static str {
        match self.api {
            Api::Sim(_) => "SIM swap",
            Api::Device(_) => "device swap",
        }
    }

    async fn signal(&self, verified: &VerifiedPhone) -> Result<SwapInfo, Error> {
        let phone = &verified.phone_number;
        match &self.api {
            Api::Sim(api) => api.signal(phone, &self.mapping).await,
            Api::Device(api) => api.signal(phone, &self.mapping).await,
        }
    }
}

/// `check`'s answer for `verified`, or `None` when the check is off.
async fn ask(check: Option<&Check>, verified: &VerifiedPhone) -> Option<Result<SwapInfo, Error>> {
    match check {
        Some(check) => Some(check.signal(verified).await),
        None => None,
    }
}

/// The swap checks of the code-based flows (see the module's documentation).
#[derive(Debug)]
pub(crate) struct SwapChecks {
    /// `None` when switched off.
    sim_swap: Option<Check>,
    /// `None` when switched off.
    device_swap: Option<Check>,
    on_failure: SimSwapFailure,
}

impl SwapChecks {
    /// The checks through `client`, as `config` says.
    pub(crate) fn new(client: &LegacyClient, config: SwapCheckConfig) -> Self {
        Self {
            sim_swap: config.enabled.then(|| Check {
                api: Api::Sim(client.sim_swap()),
                mapping: config.sim_swap_mapping,
            }),
            device_swap: (config.enabled && config.device_swap).then(|| Check {
                api: Api::Device(client.device_swap()),
                mapping: config.device_swap_mapping,
            }),
            on_failure: config.on_failure,
        }
    }

    /// Asks Glide once per check (both at once) for `verified`'s number and fills its
    /// `sim_swap` and `device_swap`; `Err` (503) only when a check failed and fails closed.
    pub(crate) async fn fill(&self, verified: &mut VerifiedPhone) -> Result<(), Error> {
        let (sim, device) = {
            let verified = &*verified;
            // Both answers are awaited (no early cancel), so each check makes its calls whatever
            // the other one's fate.
            tokio::join!(
                ask(self.sim_swap.as_ref(), verified),
                ask(self.device_swap.as_ref(), verified)
            )
        };
        let sim = self.settle(self.sim_swap.as_ref(), sim, verified)?;
        let device = self.settle(self.device_swap.as_ref(), device, verified)?;
        if sim.is_some() {
            verified.sim_swap = sim;
        }
        if device.is_some() {
            verified.device_swap = device;
        }
        Ok(())
    }

    /// The signal to store from one check's answer (`None`: the check is off), or the error
    /// when it failed closed.
    fn settle(
        &self,
        check: Option<&Check>,
        answer: Option<Result<SwapInfo, Error>>,
        verified: &VerifiedPhone,
    ) -> Result<Option<SwapInfo>, Error> {
        let (Some(check), Some(answer)) = (check, answer) else {
            return Ok(None);
        };
        match answer {
            Ok(signal) => Ok(Some(signal)),
            Err(error) => match self.on_failure {
                SimSwapFailure::Open => {
                    tracing::warn!(
                        target: "glide::verification",
                        phone = %verified.phone_number.masked(),
                        strategy = %verified.strategy,
                        check = check.name(),
                        error = %LogError(&error),
                        "swap check failed; verification let through unchecked (fail-open)"
                    );
                    // Unchecked (`SwapInfo::default()` has `checked: false`), with the reason.
                    Ok(Some(SwapInfo {
                        reason: Some(REASON_CHECK_FAILED.to_owned()),
                        checked_at: verified.verified_at.format(&Rfc3339).ok(),
                        ..SwapInfo::default()
                    }))
                }
                SimSwapFailure::Closed => Err(Error::CheckFailed {
                    check: check.name(),
                    source: Box::new(error),
                }),
            },
        }
    }
}
