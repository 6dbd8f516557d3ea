//! The risk policy: which verified numbers get a verified session, given the carrier's SIM-swap
//! and device-swap signals.
//!
//! The default denies a verification whose `sim_swap` or `device_swap` is `RISK_LEVEL_HIGH`
//! (403 `RISK_POLICY_DENIED`, signals still returned) and allows everything else. Apps tighten it:
//!
//! ```
//! use glide_core::policy::{RiskDecision, RiskPolicy};
//! use glide_core::RiskLevel;
//!
//! let strict = RiskPolicy::default()
//!     .deny_at(RiskLevel::Medium)        // MEDIUM and HIGH on either signal
//!     .require_sim_swap_checked(true)    // no signal, or not checked: deny
//!     .deny_unknown(true);               // RISK_LEVEL_UNKNOWN: deny
//! # let _ = strict;
//! ```
//!
//! Every decision goes to `tracing` (target `glide_core::policy`) with its reason and the number
//! masked.

use std::fmt;
use std::sync::Arc;

use crate::types::{RiskLevel, SwapInfo};
use crate::VerifiedPhone;

/// The outcome of [`RiskPolicy::evaluate`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RiskDecision {
    /// Give the verified session.
    Allow,
    /// Refuse it (403 `RISK_POLICY_DENIED`).
    Deny {
        /// Why, safe for logs and for the client (never the number), e.g.
        /// `sim_swap RISK_LEVEL_HIGH (0-4 hours)`.
        reason: String,
    },
}

impl RiskDecision {
    /// A denial with `reason`.
    pub fn deny(reason: impl Into<String>) -> Self {
        Self::Deny {
            reason: reason.into(),
        }
    }

    /// Whether the session is allowed.
    pub fn is_allowed(&self) -> bool {
        matches!(self, Self::Allow)
    }
}

type CustomRule = Arc<dyn Fn(&VerifiedPhone) -> RiskDecision + Send + Sync>;

/// The rules for one signal (`sim_swap` or `device_swap`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SignalRule {
    /// Deny at this level and above (Low < Medium < High); `None` never denies on the level.
    deny_at: Option<RiskLevel>,
    /// Deny when the signal is absent or was not checked.
    require_checked: bool,
}

/// Decides, from a [`VerifiedPhone`]'s signals, whether it gets a verified session.
///
/// Rules, in order; the first denial wins:
/// 1. for `sim_swap` then `device_swap`: if required, the signal must be present and `checked`;
///    a level, when there is one, must be below the signal's threshold
///    ([`deny_at`](RiskPolicy::deny_at)); `RISK_LEVEL_UNKNOWN` (or `checked` without a level)
///    denies only with [`deny_unknown`](RiskPolicy::deny_unknown); an absent signal, or an
///    unchecked one without a level, is otherwise allowed;
/// 2. the [`custom`](RiskPolicy::custom) rule, if any.
#[derive(Clone)]
pub struct RiskPolicy {
    sim_swap: SignalRule,
    device_swap: SignalRule,
    deny_unknown: bool,
    custom: Option<CustomRule>,
}

impl Default for RiskPolicy {
    /// Deny `RISK_LEVEL_HIGH` on either signal; allow everything else.
    fn default() -> Self {
        let rule = SignalRule {
            deny_at: Some(RiskLevel::High),
            require_checked: false,
        };
        Self {
            sim_swap: rule,
            device_swap: rule,
            deny_unknown: false,
            custom: None,
        }
    }
}

impl fmt::Debug for RiskPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RiskPolicy")
            .field("sim_swap", &self.sim_swap)
            .field("device_swap", &self.device_swap)
            .field("deny_unknown", &self.deny_unknown)
            .field("custom", &self.custom.as_ref().map(|_| "<fn>"))
            .finish()
    }
}

/// Order of severity for thresholds; `Unknown` is handled separately.
fn severity(level: RiskLevel) -> Option<u8> {
    match level {
        RiskLevel::Low => Some(1),
        RiskLevel::Medium => Some(2),
        RiskLevel::High => Some(3),
        _ => None,
    }
}

/// Carrier-provided words (age band, reason) for a log line: short, plain characters only.
fn sanitized(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '-' | '_' | '.'))
        .take(40)
        .collect()
}

impl RiskPolicy {
    /// The default policy (deny HIGH on either signal).
    pub fn new() -> Self {
        Self::default()
    }

    /// A policy that allows every verification (signals are still returned to handlers).
    pub fn allow_all() -> Self {
        let rule = SignalRule {
            deny_at: None,
            require_checked: false,
        };
        Self {
            sim_swap: rule,
            device_swap: rule,
            deny_unknown: false,
            custom: None,
        }
    }

    /// Deny at `level` and above on both signals (`Medium` denies MEDIUM and HIGH). `Unknown`
    /// here means "only with [`deny_unknown`](Self::deny_unknown)" and sets no threshold.
    pub fn deny_at(mut self, level: RiskLevel) -> Self {
        let threshold = severity(level).map(|_| level);
        self.sim_swap.deny_at = threshold;
        self.device_swap.deny_at = threshold;
        self
    }

    /// The threshold for `sim_swap` alone (`None`: never deny on its level).
    pub fn sim_swap_deny_at(mut self, level: Option<RiskLevel>) -> Self {
        self.sim_swap.deny_at = level.filter(|l| severity(*l).is_some());
        self
    }

    /// The threshold for `device_swap` alone (`None`: never deny on its level).
    pub fn device_swap_deny_at(mut self, level: Option<RiskLevel>) -> Self {
        self.device_swap.deny_at = level.filter(|l| severity(*l).is_some());
        self
    }

    /// Deny when `sim_swap` is absent or was not checked (carrier timeout, unsupported, …).
    pub fn require_sim_swap_checked(mut self, required: bool) -> Self {
        self.sim_swap.require_checked = required;
        self
    }

    /// Deny when `device_swap` is absent or was not checked.
    pub fn require_device_swap_checked(mut self, required: bool) -> Self {
        self.device_swap.require_checked = required;
        self
    }

    /// Deny a checked signal whose level is `RISK_LEVEL_UNKNOWN` (or one this version does not
    /// know).
    pub fn deny_unknown(mut self, deny: bool) -> Self {
        self.deny_unknown = deny;
        self
    }

    /// An extra rule, run when the built-in rules allow; its answer is final.
    ///
    /// ```
    /// use glide_core::policy::{RiskDecision, RiskPolicy};
    /// let policy = RiskPolicy::default().custom(|phone| {
    ///     if phone.phone_number.as_str().starts_with("+99") {
    ///         RiskDecision::deny("country not served")
    ///     } else {
    ///         RiskDecision::Allow
    ///     }
    /// });
    /// # let _ = policy;
    /// ```
    pub fn custom(
        mut self,
        rule: impl Fn(&VerifiedPhone) -> RiskDecision + Send + Sync + 'static,
    ) -> Self {
        self.custom = Some(Arc::new(rule));
        self
    }

    /// Decides for `phone`, and logs the decision and its reason (number masked).
    pub fn evaluate(&self, phone: &VerifiedPhone) -> RiskDecision {
        let decision = self.decide(phone);
        let masked = phone.phone_number.masked();
        match &decision {
            RiskDecision::Allow => tracing::info!(
                phone = %masked,
                strategy = %phone.strategy,
                decision = "allow",
                "risk policy decision"
            ),
            RiskDecision::Deny { reason } => tracing::info!(
                phone = %masked,
                strategy = %phone.strategy,
                decision = "deny",
                reason = %reason,
                "risk policy decision"
            ),
        }
        decision
    }

    fn decide(&self, phone: &VerifiedPhone) -> RiskDecision {
        let signals = [
            ("sim_swap", &self.sim_swap, phone.sim_swap.as_ref()),
            ("device_swap", &self.device_swap, phone.device_swap.as_ref()),
        ];
        for (name, rule, signal) in signals {
            if let Some(reason) = self.check_signal(name, rule, signal) {
                return RiskDecision::Deny { reason };
            }
        }
        match &self.custom {
            Some(rule) => rule(phone),
            None => RiskDecision::Allow,
        }
    }

    fn check_signal(
        &self,
        name: &str,
        rule: &SignalRule,
        signal: Option<&SwapInfo>,
    ) -> Option<String> {
        let Some(info) = signal else {
            return rule.require_checked.then(|| format!("{name} missing"));
        };
        if rule.require_checked && !info.checked {
            let why = info
                .reason
                .as_deref()
                .map(|r| format!(" ({})", sanitized(r)))
                .unwrap_or_default();
            return Some(format!("{name} not checked{why}"));
        }
        let level = match info.risk_level {
            Some(level) => level,
            // Checked, but the carrier gave no level: as unknown.
            None if info.checked => RiskLevel::Unknown,
            None => return None,
        };
        let denied = match (severity(level), rule.deny_at.and_then(severity)) {
            (Some(level), Some(threshold)) => level >= threshold,
            (None, _) => self.deny_unknown,
            (Some(_), None) => false,
        };
        denied.then(|| {
            let band = info
                .age_band
                .as_deref()
                .map(|b| format!(" ({})", sanitized(b)))
                .unwrap_or_default();
            format!("{name} {}{band}", level.as_str())
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::{PhoneNumber, Strategy, UseCase};

    fn signal(level: Option<RiskLevel>) -> SwapInfo {
        SwapInfo {
            checked: true,
            risk_level: level,
            age_band: Some("0-4 hours".into()),
            ..SwapInfo::default()
        }
    }

    fn phone(sim: Option<SwapInfo>, device: Option<SwapInfo>) -> VerifiedPhone {
        let mut p = VerifiedPhone::new(
            PhoneNumber::parse("+15555550101").unwrap(),
            UseCase::VerifyPhoneNumber,
            Strategy::Ts43,
            time::OffsetDateTime::UNIX_EPOCH,
        );
        p.sim_swap = sim;
        p.device_swap = device;
        p
    }

    const LEVELS: [Option<RiskLevel>; 5] = [
        None,
        Some(RiskLevel::Low),
        Some(RiskLevel::Medium),
        Some(RiskLevel::High),
        Some(RiskLevel::Unknown),
    ];

    /// Expected decision of a threshold policy for one checked signal level.
    fn denied_by(threshold: u8, deny_unknown: bool, level: Option<RiskLevel>) -> bool {
        match level.and_then(severity) {
            Some(s) => s >= threshold,
            None => deny_unknown,
        }
    }

    #[test]
    fn every_level_combination_under_default_and_medium() {
        let policies = [
            (RiskPolicy::default(), 3, false),
            (RiskPolicy::default().deny_at(RiskLevel::Medium), 2, false),
            (RiskPolicy::default().deny_unknown(true), 3, true),
            (RiskPolicy::default().deny_at(RiskLevel::Low), 1, false),
        ];
        for (policy, threshold, deny_unknown) in policies {
            for sim in LEVELS {
                for device in LEVELS {
                    let p = phone(Some(signal(sim)), Some(signal(device)));
                    let expect_deny = denied_by(threshold, deny_unknown, sim)
                        || denied_by(threshold, deny_unknown, device);
                    let decision = policy.evaluate(&p);
                    assert_eq!(
                        !decision.is_allowed(),
                        expect_deny,
                        "{policy:?} sim={sim:?} device={device:?}: {decision:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn reason_names_the_signal_and_never_the_number() {
        let p = phone(Some(signal(Some(RiskLevel::High))), None);
        let RiskDecision::Deny { reason } = RiskPolicy::default().evaluate(&p) else {
            panic!("HIGH must be denied by default");
        };
        assert_eq!(reason, "sim_swap RISK_LEVEL_HIGH (0-4 hours)");
        assert!(!reason.contains("5555550101"));

        let p = phone(None, Some(signal(Some(RiskLevel::High))));
        let RiskDecision::Deny { reason } = RiskPolicy::default().evaluate(&p) else {
            panic!("device HIGH must be denied by default");
        };
        assert!(
            reason.starts_with("device_swap RISK_LEVEL_HIGH"),
            "{reason}"
        );
    }

    #[test]
    fn missing_or_unchecked_signals() {
        let unchecked = SwapInfo {
            checked: false,
            reason: Some("carrier_not_supported".into()),
            ..SwapInfo::default()
        };
        // Default: absent or unchecked signals are allowed.
        assert!(RiskPolicy::default()
            .evaluate(&phone(None, None))
            .is_allowed());
        assert!(RiskPolicy::default()
            .evaluate(&phone(Some(unchecked.clone()), None))
            .is_allowed());
        // A level is never ignored, even on a signal marked unchecked (fail closed).
        let mut odd = unchecked.clone();
        odd.risk_level = Some(RiskLevel::High);
        assert!(!RiskPolicy::default()
            .evaluate(&phone(Some(odd), None))
            .is_allowed());
        // Checked without a level counts as unknown.
        let no_level = SwapInfo {
            checked: true,
            ..SwapInfo::default()
        };
        assert!(RiskPolicy::default()
            .evaluate(&phone(Some(no_level.clone()), None))
            .is_allowed());
        assert!(!RiskPolicy::default()
            .deny_unknown(true)
            .evaluate(&phone(Some(no_level), None))
            .is_allowed());

        let strict = RiskPolicy::default().require_sim_swap_checked(true);
        assert_eq!(
            strict.evaluate(&phone(None, None)),
            RiskDecision::deny("sim_swap missing")
        );
        assert_eq!(
            strict.evaluate(&phone(Some(unchecked.clone()), None)),
            RiskDecision::deny("sim_swap not checked (carrier_not_supported)")
        );
        assert!(strict
            .evaluate(&phone(Some(signal(Some(RiskLevel::Low))), None))
            .is_allowed());
        // device_swap is independent.
        let strict_device = RiskPolicy::default().require_device_swap_checked(true);
        assert!(strict_device
            .evaluate(&phone(Some(signal(Some(RiskLevel::Low))), None))
            .is_allowed()
            .eq(&false));
        assert!(strict_device
            .evaluate(&phone(None, Some(signal(Some(RiskLevel::Low)))))
            .is_allowed());
    }

    #[test]
    fn a_per_signal_threshold_keeps_the_rest_of_the_policy() {
        let medium_sim = phone(Some(signal(Some(RiskLevel::Medium))), None);
        assert!(RiskPolicy::allow_all().evaluate(&medium_sim).is_allowed());
        assert!(RiskPolicy::default().evaluate(&medium_sim).is_allowed());
        let sim_medium = RiskPolicy::allow_all().sim_swap_deny_at(Some(RiskLevel::Medium));
        assert_eq!(
            sim_medium.evaluate(&medium_sim),
            RiskDecision::deny("sim_swap RISK_LEVEL_MEDIUM (0-4 hours)")
        );
        assert!(sim_medium
            .evaluate(&phone(Some(signal(Some(RiskLevel::Low))), None))
            .is_allowed());
        // The rest of the policy is kept: allow_all's device_swap stays allowed at HIGH, and a
        // configured deny_unknown survives a later per-signal threshold.
        assert!(sim_medium
            .evaluate(&phone(None, Some(signal(Some(RiskLevel::High)))))
            .is_allowed());
        let unknown = phone(Some(signal(Some(RiskLevel::Unknown))), None);
        assert!(!RiskPolicy::allow_all()
            .deny_unknown(true)
            .sim_swap_deny_at(Some(RiskLevel::High))
            .evaluate(&unknown)
            .is_allowed());
        let medium_device = phone(None, Some(signal(Some(RiskLevel::Medium))));
        assert!(!RiskPolicy::allow_all()
            .device_swap_deny_at(Some(RiskLevel::Medium))
            .evaluate(&medium_device)
            .is_allowed());
    }

    #[test]
    fn an_unchecked_signal_without_a_level_is_not_unknown() {
        // The documented rule: RISK_LEVEL_UNKNOWN (or `checked` without a level) denies under
        // deny_unknown; an unchecked signal without a level is allowed unless checks are
        // required.
        let unchecked = SwapInfo {
            checked: false,
            reason: Some("carrier_timeout".into()),
            ..SwapInfo::default()
        };
        let checked_no_level = SwapInfo {
            checked: true,
            ..SwapInfo::default()
        };
        let policy = RiskPolicy::default().deny_unknown(true);
        assert!(policy
            .evaluate(&phone(Some(unchecked.clone()), None))
            .is_allowed());
        assert!(policy
            .evaluate(&phone(None, Some(unchecked.clone())))
            .is_allowed());
        assert_eq!(
            policy.evaluate(&phone(Some(checked_no_level), None)),
            RiskDecision::deny("sim_swap RISK_LEVEL_UNKNOWN")
        );
        assert_eq!(
            policy
                .require_sim_swap_checked(true)
                .evaluate(&phone(Some(unchecked), None)),
            RiskDecision::deny("sim_swap not checked (carrier_timeout)")
        );
    }

    #[test]
    fn per_signal_thresholds_allow_all_and_custom() {
        let p = phone(
            Some(signal(Some(RiskLevel::Medium))),
            Some(signal(Some(RiskLevel::High))),
        );
        assert!(RiskPolicy::allow_all().evaluate(&p).is_allowed());
        let sim_only = RiskPolicy::allow_all().sim_swap_deny_at(Some(RiskLevel::Medium));
        assert!(!sim_only.evaluate(&p).is_allowed());
        let device_off = RiskPolicy::default().device_swap_deny_at(None);
        assert!(device_off.evaluate(&p).is_allowed());

        let custom = RiskPolicy::allow_all().custom(|phone| {
            if phone.strategy == Strategy::Ts43 {
                RiskDecision::deny("no ts43 here")
            } else {
                RiskDecision::Allow
            }
        });
        assert_eq!(custom.evaluate(&p), RiskDecision::deny("no ts43 here"));
        // Built-in rules run first.
        let both = RiskPolicy::default().custom(|_| RiskDecision::deny("custom"));
        assert_eq!(
            both.evaluate(&p),
            RiskDecision::deny("device_swap RISK_LEVEL_HIGH (0-4 hours)")
        );
        assert!(format!("{both:?}").contains("<fn>"));
    }
}
