//! The engine's metrics, through the `metrics` crate facade (the app installs a recorder, e.g.
//! `metrics-exporter-prometheus`; without one these calls cost next to nothing). Names and
//! labels are stable; label values come from closed sets (never a number or an id).
//!
//! | metric | kind | labels |
//! |---|---|---|
//! | `glide_verifications_total` | counter | `strategy` (`ts43`, `link`, `desktop`, `magic`, `sms`, `email`, `number_verify`), `outcome` (`verified`, `denied`, `not_verified`) |
//! | `glide_risk_decisions_total` | counter | `decision` (`allow`, `deny`), `mode` (`enforced`, `shadow`), `rule` (`none`, `sim_swap`, `device_swap`, `number_range`, `custom`) |
//! | `glide_rate_limit_refusals_total` | counter | `route` (the route kind: `start`, `check`, `glide_call`, `cooldown`) |
//! | `glide_api_request_duration_seconds` | histogram | `endpoint` (Glide's path, a session key as `{key}`), `outcome` (`2xx`, `3xx`, `4xx`, `5xx`, `error`) |
//! | `glide_api_errors_total` | counter | `endpoint`, `kind` (`timeout`, `transport`, `decode`, `status_5xx`) |
//! | `glide_desktop_waits_in_progress` | gauge | — |
//! | `glide_revocation_failures_total` | counter | `cause` (`sim_swap`): a revocation that had to happen and could not (the verification that asked for it got no session) |

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

/// Counts one revocation of a number's sessions that failed where it was required.
pub(crate) fn revocation_failed(cause: &'static str) {
    metrics::counter!("glide_revocation_failures_total", "cause" => cause).increment(1);
}

/// Counts one request refused by a rate limit or a cooldown.
pub(crate) fn rate_limited(route: &'static str) {
    metrics::counter!("glide_rate_limit_refusals_total", "route" => route).increment(1);
}

/// Times one call to Glide (each attempt, retries apart) and counts it when it failed: no
/// answer, an answer we could not read, or a 5xx.
pub(crate) fn glide_call(endpoint: &str, elapsed: std::time::Duration, result: GlideCallResult) {
    let outcome = match result {
        GlideCallResult::Status(status) => match status {
            200..=299 => "2xx",
            300..=399 => "3xx",
            400..=499 => "4xx",
            _ => "5xx",
        },
        GlideCallResult::Timeout | GlideCallResult::Transport | GlideCallResult::Decode => "error",
    };
    metrics::histogram!(
        "glide_api_request_duration_seconds",
        "endpoint" => endpoint.to_owned(),
        "outcome" => outcome
    )
    .record(elapsed.as_secs_f64());
    let kind = match result {
        GlideCallResult::Status(500..) => "status_5xx",
        GlideCallResult::Status(_) => return,
        GlideCallResult::Timeout => "timeout",
        GlideCallResult::Transport => "transport",
        GlideCallResult::Decode => "decode",
    };
    metrics::counter!(
        "glide_api_errors_total",
        "endpoint" => endpoint.to_owned(),
        "kind" => kind
    )
    .increment(1);
}

/// How one call to Glide ended, as counted.
#[derive(Debug, Clone, Copy)]
pub(crate) enum GlideCallResult {
    /// Glide answered with this status.
    Status(u16),
    /// No answer within the client's timeout.
    Timeout,
    /// The connection failed.
    Transport,
    /// An answer too large to read.
    Decode,
}

/// A desktop `process` call waiting for the phone, while it waits: the gauge goes up now and
/// down when this guard is dropped (answered, timed out, or the request went away).
#[derive(Debug)]
pub(crate) struct DesktopWait(());

impl DesktopWait {
    /// Starts counting one wait.
    pub(crate) fn start() -> Self {
        metrics::gauge!("glide_desktop_waits_in_progress").increment(1.0);
        Self(())
    }
}

impl Drop for DesktopWait {
    fn drop(&mut self) {
        metrics::gauge!("glide_desktop_waits_in_progress").decrement(1.0);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::time::Duration;

    use metrics_util::debugging::{DebugValue, DebuggingRecorder};

    use super::*;

    /// Every metric recorded by `run`: `name{labels}` and its value, sorted (for the tests of
    /// other modules too).
    pub(crate) fn recorded(run: impl FnOnce()) -> Vec<(String, String)> {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        metrics::with_local_recorder(&recorder, run);
        let mut all: Vec<(String, String)> = snapshotter
            .snapshot()
            .into_vec()
            .into_iter()
            .map(|(key, _, _, value)| {
                let labels: Vec<String> = key
                    .key()
                    .labels()
                    .map(|l| format!("{}={}", l.key(), l.value()))
                    .collect();
                let value = match value {
                    DebugValue::Counter(n) => n.to_string(),
                    DebugValue::Gauge(g) => g.into_inner().to_string(),
                    DebugValue::Histogram(h) => format!("{} samples", h.len()),
                };
                (
                    format!("{}{{{}}}", key.key().name(), labels.join(",")),
                    value,
                )
            })
            .collect();
        all.sort();
        all
    }

    #[test]
    fn glide_calls_are_timed_and_their_failures_counted_by_kind() {
        let ms = Duration::from_millis(3);
        let all = recorded(|| {
            glide_call("/p", ms, GlideCallResult::Status(200));
            glide_call("/p", ms, GlideCallResult::Status(422));
            glide_call("/p", ms, GlideCallResult::Status(503));
            glide_call("/p", ms, GlideCallResult::Timeout);
            glide_call("/p", ms, GlideCallResult::Transport);
            glide_call("/p", ms, GlideCallResult::Decode);
            glide_call("/q", ms, GlideCallResult::Status(302));
        });
        let want = [
            ("glide_api_errors_total{endpoint=/p,kind=decode}", "1"),
            ("glide_api_errors_total{endpoint=/p,kind=status_5xx}", "1"),
            ("glide_api_errors_total{endpoint=/p,kind=timeout}", "1"),
            ("glide_api_errors_total{endpoint=/p,kind=transport}", "1"),
            (
                "glide_api_request_duration_seconds{endpoint=/p,outcome=2xx}",
                "1 samples",
            ),
            (
                "glide_api_request_duration_seconds{endpoint=/p,outcome=4xx}",
                "1 samples",
            ),
            (
                "glide_api_request_duration_seconds{endpoint=/p,outcome=5xx}",
                "1 samples",
            ),
            (
                "glide_api_request_duration_seconds{endpoint=/p,outcome=error}",
                "3 samples",
            ),
            (
                "glide_api_request_duration_seconds{endpoint=/q,outcome=3xx}",
                "1 samples",
            ),
        ];
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        assert_eq!(all, want);
    }

    #[test]
    fn a_desktop_wait_is_counted_while_it_lasts() {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        // The debugging recorder hands out each gauge's change since the last snapshot.
        let total = std::cell::Cell::new(0.0);
        let in_progress = || {
            let change: f64 = snapshotter
                .snapshot()
                .into_vec()
                .into_iter()
                .filter(|(key, ..)| key.key().name() == "glide_desktop_waits_in_progress")
                .map(|(_, _, _, value)| match value {
                    DebugValue::Gauge(g) => g.into_inner(),
                    other => panic!("{other:?}"),
                })
                .sum();
            total.set(total.get() + change);
            total.get()
        };
        metrics::with_local_recorder(&recorder, || {
            let first = DesktopWait::start();
            let second = DesktopWait::start();
            assert_eq!(in_progress(), 2.0);
            drop(first);
            assert_eq!(in_progress(), 1.0);
            drop(second);
            assert_eq!(in_progress(), 0.0);
        });
    }
}
