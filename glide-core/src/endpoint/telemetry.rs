//! The engine's metrics, through the `metrics` crate facade (the app installs a recorder, e.g.
//! `metrics-exporter-prometheus`; without one these calls cost next to nothing). Names and
//! labels are stable; label values come from closed sets (never a number or an id).
//!
//! | metric | kind | labels |
//! |---|---|---|
//! | `glide_verifications_total` | counter | `strategy` (`ts43`, `link`, `desktop`, `magic`, `sms`, `email`, `number_verify`), `outcome` (`verified`, `denied`, `not_verified`) |
//! | `glide_risk_decisions_total` | counter | `decision` (`allow`, `deny`), `mode` (`enforced`, `shadow`), `rule` (`none`, `sim_swap`, `device_swap`, `number_range`, `custom`) |
//! | `glide_rate_limit_refusals_total` | counter | `route` (the route kind: `start`, `check`, `glide_call`, `cooldown`) |

use crate::policy::{PolicyMode, RiskDecision};
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

/// Counts one decision of a risk policy (the enforced one or the shadow).
pub(crate) fn risk_decision(mode: PolicyMode, decision: &RiskDecision) {
    let (verdict, rule) = match decision.rule() {
        None => ("allow", "none"),
        Some(rule) => ("deny", rule.as_str()),
    };
    metrics::counter!(
        "glide_risk_decisions_total",
        "decision" => verdict,
        "mode" => mode.as_str(),
        "rule" => rule
    )
    .increment(1);
}

/// Counts one request refused by a rate limit or a cooldown.
pub(crate) fn rate_limited(route: &'static str) {
    metrics::counter!("glide_rate_limit_refusals_total", "route" => route).increment(1);
}
