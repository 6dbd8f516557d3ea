//! The engine's metrics, through the `metrics` crate facade (the app installs a recorder, e.g.
//! `metrics-exporter-prometheus`; without one these calls cost next to nothing). Names and
//! labels are stable; label values come from closed sets (never a number or an id).
//!
//! | metric | kind | labels |
//! |---|---|---|
//! | `glide_verifications_total` | counter | `strategy` (`ts43`, `link`, `desktop`, `magic`, `sms`, `email`, `number_verify`), `outcome` (`verified`, `denied`, `not_verified`) |
//! | `glide_risk_decisions_total` | counter | `decision` (`allow`, `deny`) |
//! | `glide_rate_limit_refusals_total` | counter | `route` (the route kind: `start`, `check`, `glide_call`, `cooldown`) |

use crate::Strategy;

/// A verification's outcome, as counted.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Outcome {
    Verified,
    Denied,
    NotVerified,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Self::Verified => "verified",
            Self::Denied => "denied",
            Self::NotVerified => "not_verified",
        }
    }
}

/// Counts one verification outcome.
pub(crate) fn verification(strategy: Strategy, outcome: Outcome) {
    metrics::counter!(
        "glide_verifications_total",
        "strategy" => strategy.as_str(),
        "outcome" => outcome.as_str()
    )
    .increment(1);
}

/// Counts one decision of the risk policy.
pub(crate) fn risk_decision(allowed: bool) {
    metrics::counter!(
        "glide_risk_decisions_total",
        "decision" => if allowed { "allow" } else { "deny" }
    )
    .increment(1);
}

/// Counts one request refused by a rate limit or a cooldown.
pub(crate) fn rate_limited(route: &'static str) {
    metrics::counter!("glide_rate_limit_refusals_total", "route" => route).increment(1);
}
