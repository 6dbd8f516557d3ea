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
//! Number ranges (E.164 prefixes: a country calling code such as `+44`, or any longer prefix)
//! can be allowed or denied, and a strategy can have stricter rules of its own:
//!
//! ```
//! use glide_core::policy::{NumberRange, RiskPolicy};
//! use glide_core::{RiskLevel, Strategy};
//!
//! let policy = RiskPolicy::default()
//!     .allow_numbers([NumberRange::parse("+1")?, NumberRange::parse("+44")?])
//!     .deny_numbers([NumberRange::parse("+1900")?])
//!     // A code sent by e-mail proves less: deny MEDIUM too, and an unchecked SIM.
//!     .for_strategy(
//!         Strategy::Email,
//!         RiskPolicy::default().deny_at(RiskLevel::Medium).require_sim_swap_checked(true),
//!     );
//! # let _ = policy;
//! # Ok::<(), glide_core::policy::NumberRangeError>(())
//! ```
//!
//! Every decision goes to `tracing` (target `glide::policy`) with its rule, its reason and the
//! number masked. A second policy can run in **shadow mode** beside the enforced one
//! (`GlideAuthBuilder::shadow_risk_policy`): its decisions are logged and counted, never
//! enforced, so a stricter policy can be tried on live traffic before it refuses anyone.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use crate::types::{RiskLevel, SwapInfo};
use crate::{PhoneNumber, Strategy, VerifiedPhone};

/// The outcome of [`RiskPolicy::evaluate`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RiskDecision {
    /// Give the verified session.
    Allow,
    /// Refuse it (403 `RISK_POLICY_DENIED`).
    #[non_exhaustive]
    Deny {
        /// Why, safe for logs and for the client (never the number), e.g.
        /// `sim_swap RISK_LEVEL_HIGH (0-4 hours)`.
        reason: String,
        /// Which kind of rule denied.
        rule: RiskRule,
    },
}

impl RiskDecision {
    /// A denial with `reason`, by a [`custom`](RiskPolicy::custom) rule.
    pub fn deny(reason: impl Into<String>) -> Self {
        Self::denied_by(RiskRule::Custom, reason)
    }

    fn denied_by(rule: RiskRule, reason: impl Into<String>) -> Self {
        Self::Deny {
            reason: reason.into(),
            rule,
        }
    }

    /// Whether the session is allowed.
    pub fn is_allowed(&self) -> bool {
        matches!(self, Self::Allow)
    }

    /// The rule that denied, or `None` for an allow.
    pub fn rule(&self) -> Option<RiskRule> {
        match self {
            Self::Allow => None,
            Self::Deny { rule, .. } => Some(*rule),
        }
    }
}

/// The kind of rule behind a denial: a closed set, fit for a metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RiskRule {
    /// The SIM-swap signal.
    SimSwap,
    /// The device-swap signal.
    DeviceSwap,
    /// A number range ([`allow_numbers`](RiskPolicy::allow_numbers),
    /// [`deny_numbers`](RiskPolicy::deny_numbers)).
    NumberRange,
    /// The app's [`custom`](RiskPolicy::custom) rule.
    Custom,
}

impl RiskRule {
    /// `sim_swap`, `device_swap`, `number_range` or `custom`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SimSwap => "sim_swap",
            Self::DeviceSwap => "device_swap",
            Self::NumberRange => "number_range",
            Self::Custom => "custom",
        }
    }
}

/// Whether a policy's decisions are enforced or only logged and counted (shadow mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PolicyMode {
    /// Its denials refuse the session.
    Enforced,
    /// Its decisions are logged and counted, never enforced.
    Shadow,
}

impl PolicyMode {
    /// `enforced` or `shadow`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enforced => "enforced",
            Self::Shadow => "shadow",
        }
    }
}

/// Numbers by E.164 prefix: `+` and 1 to 15 digits, e.g. a country calling code (`+44`) or a
/// narrower range (`+1900`, `+4479`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NumberRange(String);

/// A [`NumberRange`] that is not `+` followed by 1 to 15 digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a number range is '+' followed by 1 to 15 digits")]
pub struct NumberRangeError;

impl NumberRange {
    /// Parses `+` and 1 to 15 digits.
    pub fn parse(text: &str) -> Result<Self, NumberRangeError> {
        let digits = text.strip_prefix('+').ok_or(NumberRangeError)?;
        if (1..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(text.to_owned()))
        } else {
            Err(NumberRangeError)
        }
    }

    /// Whether `phone` is in this range.
    pub fn contains(&self, phone: &PhoneNumber) -> bool {
        phone.as_str().starts_with(&self.0)
    }

    /// The prefix, `+44`.
    pub fn as_str(&self) -> &str {
        &self.0
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
/// 1. number ranges: a number in a [denied range](RiskPolicy::deny_numbers) is denied; when
///    [allowed ranges](RiskPolicy::allow_numbers) are set, a number in none of them is denied
///    (the engine also applies these before it starts a verification: see
///    [`check_number`](RiskPolicy::check_number));
/// 2. when the verification's strategy has a policy of its own
///    ([`for_strategy`](RiskPolicy::for_strategy)), that policy decides from here on;
/// 3. for `sim_swap` then `device_swap`: if required, the signal must be present and `checked`;
///    a level, when there is one, must be below the signal's threshold
///    ([`deny_at`](RiskPolicy::deny_at)); `RISK_LEVEL_UNKNOWN` (or `checked` without a level)
///    denies only with [`deny_unknown`](RiskPolicy::deny_unknown); an absent signal, or an
///    unchecked one without a level, is otherwise allowed;
/// 4. the [`custom`](RiskPolicy::custom) rule, if any.
#[derive(Clone)]
pub struct RiskPolicy {
    sim_swap: SignalRule,
    device_swap: SignalRule,
    deny_unknown: bool,
    allowed_numbers: Vec<NumberRange>,
    denied_numbers: Vec<NumberRange>,
    per_strategy: HashMap<Strategy, RiskPolicy>,
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
            allowed_numbers: Vec::new(),
            denied_numbers: Vec::new(),
            per_strategy: HashMap::new(),
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
            .field("allowed_numbers", &self.allowed_numbers)
            .field("denied_numbers", &self.denied_numbers)
            .field("per_strategy", &self.per_strategy)
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
            ..Self::default()
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

    /// Only numbers in these ranges get a verified session (added to any set before); others
    /// are denied (`number range not allowed`).
    pub fn allow_numbers(mut self, ranges: impl IntoIterator<Item = NumberRange>) -> Self {
        self.allowed_numbers.extend(ranges);
        self
    }

    /// Numbers in these ranges get no verified session (`number range denied (+1900)`), whatever
    /// the allowed ranges say.
    pub fn deny_numbers(mut self, ranges: impl IntoIterator<Item = NumberRange>) -> Self {
        self.denied_numbers.extend(ranges);
        self
    }

    /// Verifications by `strategy` are decided by `policy` once this policy's number ranges
    /// passed: e.g. stricter signal thresholds for codes sent by e-mail or SMS.
    pub fn for_strategy(mut self, strategy: Strategy, policy: RiskPolicy) -> Self {
        self.per_strategy.insert(strategy, policy);
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

    /// Decides for `phone`, and logs the decision, its rule and its reason (number masked).
    pub fn evaluate(&self, phone: &VerifiedPhone) -> RiskDecision {
        self.evaluate_as(phone, PolicyMode::Enforced)
    }

    /// [`evaluate`](Self::evaluate), logged as the decision of a policy in `mode`.
    pub fn evaluate_as(&self, phone: &VerifiedPhone, mode: PolicyMode) -> RiskDecision {
        let decision = self.decide(phone);
        let masked = phone.phone_number.masked();
        match &decision {
            RiskDecision::Allow => tracing::info!(
                target: "glide::policy",
                phone = %masked,
                strategy = %phone.strategy,
                mode = mode.as_str(),
                decision = "allow",
                "risk policy decision"
            ),
            RiskDecision::Deny { reason, rule } => tracing::info!(
                target: "glide::policy",
                phone = %masked,
                strategy = %phone.strategy,
                mode = mode.as_str(),
                decision = "deny",
                rule = rule.as_str(),
                reason = %reason,
                "risk policy decision"
            ),
        }
        decision
    }

    /// The number-range rules alone, for a number not verified yet: the engine asks before it
    /// starts a verification, so that no code is sent to a range that would be denied.
    pub fn check_number(&self, number: &PhoneNumber) -> RiskDecision {
        if let Some(range) = self.denied_numbers.iter().find(|r| r.contains(number)) {
            return RiskDecision::denied_by(
                RiskRule::NumberRange,
                format!("number range denied ({})", range.as_str()),
            );
        }
        if !self.allowed_numbers.is_empty()
            && !self.allowed_numbers.iter().any(|r| r.contains(number))
        {
            return RiskDecision::denied_by(RiskRule::NumberRange, "number range not allowed");
        }
        RiskDecision::Allow
    }

    fn decide(&self, phone: &VerifiedPhone) -> RiskDecision {
        let ranges = self.check_number(&phone.phone_number);
        if !ranges.is_allowed() {
            return ranges;
        }
        if let Some(policy) = self.per_strategy.get(&phone.strategy) {
            return policy.decide(phone);
        }
        let signals = [
            (RiskRule::SimSwap, &self.sim_swap, phone.sim_swap.as_ref()),
            (
                RiskRule::DeviceSwap,
                &self.device_swap,
                phone.device_swap.as_ref(),
            ),
        ];
        for (rule, signal_rule, signal) in signals {
            if let Some(reason) = self.check_signal(rule.as_str(), signal_rule, signal) {
                return RiskDecision::denied_by(rule, reason);
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
        let RiskDecision::Deny { reason, .. } = RiskPolicy::default().evaluate(&p) else {
            panic!("HIGH must be denied by default");
        };
        assert_eq!(reason, "sim_swap RISK_LEVEL_HIGH (0-4 hours)");
        assert!(!reason.contains("5555550101"));

        let p = phone(None, Some(signal(Some(RiskLevel::High))));
        let RiskDecision::Deny { reason, .. } = RiskPolicy::default().evaluate(&p) else {
            panic!("device HIGH must be denied by default");
        };
        assert!(
            reason.starts_with("device_swap RISK_LEVEL_HIGH"),
            "{reason}"
        );
    }

    /// The device-swap rules apply to a verification whatever proved it: a HIGH device swap is
    /// denied by default on every strategy, and `require_device_swap_checked` denies an absent,
    /// not-supported or failed device-swap check on every strategy (issue 33, items 3–5).
    #[test]
    fn device_swap_rules_hold_on_every_strategy() {
        let high = SwapInfo {
            age_band: Some("1-2 days".into()),
            ..signal(Some(RiskLevel::High))
        };
        let unchecked = |reason: &str| SwapInfo {
            checked: false,
            reason: Some(reason.into()),
            ..SwapInfo::default()
        };
        let low = Some(signal(Some(RiskLevel::Low)));
        let strict = RiskPolicy::default().require_device_swap_checked(true);
        // (policy, device_swap, expected denial reason or None for allowed)
        let table: [(&RiskPolicy, Option<SwapInfo>, Option<&str>); 8] = [
            (
                &RiskPolicy::default(),
                Some(high.clone()),
                Some("device_swap RISK_LEVEL_HIGH (1-2 days)"),
            ),
            (&RiskPolicy::default(), low.clone(), None),
            (&RiskPolicy::default(), None, None),
            (
                &RiskPolicy::default(),
                Some(unchecked("carrier_not_supported")),
                None,
            ),
            (
                &RiskPolicy::default(),
                Some(unchecked("check_failed")),
                None,
            ),
            (&strict, None, Some("device_swap missing")),
            (
                &strict,
                Some(unchecked("carrier_not_supported")),
                Some("device_swap not checked (carrier_not_supported)"),
            ),
            (
                &strict,
                Some(unchecked("check_failed")),
                Some("device_swap not checked (check_failed)"),
            ),
        ];
        for strategy in [
            Strategy::Ts43,
            Strategy::Link,
            Strategy::Desktop,
            Strategy::Magic,
            Strategy::Sms,
            Strategy::Email,
            Strategy::NumberVerify,
        ] {
            for (policy, device, expected) in &table {
                let mut p = phone(low.clone(), device.clone());
                p.strategy = strategy;
                let decision = policy.evaluate(&p);
                let expected = match expected {
                    Some(reason) => RiskDecision::denied_by(RiskRule::DeviceSwap, *reason),
                    None => RiskDecision::Allow,
                };
                assert_eq!(decision, expected, "{strategy:?} device={device:?}");
            }
            // A strict device rule leaves a checked low device signal allowed.
            let mut p = phone(low.clone(), low.clone());
            p.strategy = strategy;
            assert!(strict.evaluate(&p).is_allowed(), "{strategy:?}");
        }
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
            RiskDecision::denied_by(RiskRule::SimSwap, "sim_swap missing")
        );
        assert_eq!(
            strict.evaluate(&phone(Some(unchecked.clone()), None)),
            RiskDecision::denied_by(
                RiskRule::SimSwap,
                "sim_swap not checked (carrier_not_supported)"
            )
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
            RiskDecision::denied_by(RiskRule::SimSwap, "sim_swap RISK_LEVEL_MEDIUM (0-4 hours)")
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
            RiskDecision::denied_by(RiskRule::SimSwap, "sim_swap RISK_LEVEL_UNKNOWN")
        );
        assert_eq!(
            policy
                .require_sim_swap_checked(true)
                .evaluate(&phone(Some(unchecked), None)),
            RiskDecision::denied_by(RiskRule::SimSwap, "sim_swap not checked (carrier_timeout)")
        );
    }

    #[test]
    fn per_signal_thresholds_allow_all_and_custom() {
        let p = phone(
            Some(signal(Some(RiskLevel::Medium))),
            Some(signal(Some(RiskLevel::High))),
        );
        assert!(RiskPolicy::allow_all().evaluate(&p).is_allowed());
        // HIGH on either signal alone: allowed too.
        let high = Some(signal(Some(RiskLevel::High)));
        assert!(RiskPolicy::allow_all()
            .evaluate(&phone(high.clone(), None))
            .is_allowed());
        assert!(RiskPolicy::allow_all()
            .evaluate(&phone(None, high))
            .is_allowed());
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
            RiskDecision::denied_by(
                RiskRule::DeviceSwap,
                "device_swap RISK_LEVEL_HIGH (0-4 hours)"
            )
        );
        assert!(format!("{both:?}").contains("<fn>"));
    }

    fn verified_by(number: &str, strategy: Strategy, sim: Option<RiskLevel>) -> VerifiedPhone {
        let mut p = VerifiedPhone::new(
            PhoneNumber::parse(number).unwrap(),
            UseCase::VerifyPhoneNumber,
            strategy,
            time::OffsetDateTime::UNIX_EPOCH,
        );
        p.sim_swap = sim.map(|l| signal(Some(l)));
        p
    }

    fn range(text: &str) -> NumberRange {
        NumberRange::parse(text).unwrap()
    }

    #[test]
    fn number_ranges_are_a_plus_and_one_to_fifteen_digits() {
        for good in ["+1", "+44", "+1900", "+123456789012345"] {
            assert_eq!(NumberRange::parse(good).unwrap().as_str(), good);
        }
        for bad in [
            "",
            "+",
            "44",
            "+44 ",
            "+4a",
            "++44",
            "+1234567890123456",
            "+١",
        ] {
            assert_eq!(NumberRange::parse(bad), Err(NumberRangeError), "{bad:?}");
        }
        assert!(range("+1555").contains(&PhoneNumber::parse("+15555550100").unwrap()));
        assert!(!range("+1556").contains(&PhoneNumber::parse("+15555550100").unwrap()));
    }

    #[test]
    fn denied_ranges_win_over_allowed_ones_and_signals() {
        let policy = RiskPolicy::allow_all()
            .allow_numbers([range("+1555")])
            .deny_numbers([range("+15555550103")]);
        let low = Some(RiskLevel::Low);
        assert_eq!(
            policy.evaluate(&verified_by("+15555550100", Strategy::Ts43, low)),
            RiskDecision::Allow
        );
        let denied = policy.evaluate(&verified_by("+15555550103", Strategy::Ts43, low));
        assert_eq!(denied.rule(), Some(RiskRule::NumberRange));
        assert!(
            matches!(&denied, RiskDecision::Deny { reason, .. } if reason == "number range denied (+15555550103)"),
            "{denied:?}"
        );
        let outside = policy.evaluate(&verified_by("+447700900123", Strategy::Ts43, low));
        assert!(
            matches!(&outside, RiskDecision::Deny { reason, rule: RiskRule::NumberRange } if reason == "number range not allowed"),
            "{outside:?}"
        );
        // No allowed range set: every range is allowed.
        let open = RiskPolicy::default().deny_numbers([range("+1900")]);
        assert!(open
            .evaluate(&verified_by("+447700900123", Strategy::Ts43, low))
            .is_allowed());
        assert!(!open
            .evaluate(&verified_by("+19005550100", Strategy::Ts43, low))
            .is_allowed());
    }

    #[test]
    fn a_strategy_policy_decides_for_its_strategy_only() {
        let policy = RiskPolicy::default()
            .deny_numbers([range("+1900")])
            .for_strategy(
                Strategy::Email,
                RiskPolicy::default().deny_at(RiskLevel::Medium),
            );
        let medium = Some(RiskLevel::Medium);
        let by_email = policy.evaluate(&verified_by("+15555550103", Strategy::Email, medium));
        assert_eq!(by_email.rule(), Some(RiskRule::SimSwap), "{by_email:?}");
        assert!(policy
            .evaluate(&verified_by("+15555550103", Strategy::Ts43, medium))
            .is_allowed());
        // The outer policy's ranges come first, whatever the strategy.
        let ranged = policy.evaluate(&verified_by("+19005550100", Strategy::Email, None));
        assert_eq!(ranged.rule(), Some(RiskRule::NumberRange));
    }

    #[test]
    fn every_denial_names_its_rule() {
        let high = verified_by("+15555550101", Strategy::Ts43, Some(RiskLevel::High));
        assert_eq!(
            RiskPolicy::default().evaluate(&high).rule(),
            Some(RiskRule::SimSwap)
        );
        let mut device = verified_by("+15555550101", Strategy::Ts43, None);
        device.device_swap = Some(signal(Some(RiskLevel::High)));
        assert_eq!(
            RiskPolicy::default().evaluate(&device).rule(),
            Some(RiskRule::DeviceSwap)
        );
        let custom = RiskPolicy::default().custom(|_| RiskDecision::deny("no"));
        assert_eq!(
            custom
                .evaluate(&verified_by("+15555550100", Strategy::Ts43, None))
                .rule(),
            Some(RiskRule::Custom)
        );
        let names: Vec<&str> = [
            RiskRule::SimSwap,
            RiskRule::DeviceSwap,
            RiskRule::NumberRange,
            RiskRule::Custom,
        ]
        .iter()
        .map(|r| r.as_str())
        .collect();
        assert_eq!(names, ["sim_swap", "device_swap", "number_range", "custom"]);
        assert_eq!(
            [PolicyMode::Enforced.as_str(), PolicyMode::Shadow.as_str()],
            ["enforced", "shadow"]
        );
    }
}
