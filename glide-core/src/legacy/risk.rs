//! From the age of the last SIM change (or device change) to a [`RiskLevel`] and an age band, in
//! the shape of Magical Auth's `sim_swap` (`device_swap`) signal.

use std::time::Duration;

use crate::types::RiskLevel;

const HOUR: u64 = 3600;
const DAY: u64 = 24 * HOUR;

/// How the age of the last SIM change (or device change: the Device Swap signal uses the same
/// mapping type, with the same default) maps to a [`RiskLevel`]: younger than
/// [`high_below`](Self::high_below) is [`RiskLevel::High`], younger than
/// [`medium_below`](Self::medium_below) is [`RiskLevel::Medium`], older is [`RiskLevel::Low`].
///
/// The default is Glide's reading of a swap's age for code-based verification: under 72 hours
/// high, 72 hours to 30 days medium, older low.
///
/// ```
/// use std::time::Duration;
/// use glide_core::legacy::SimSwapRiskMapping;
/// use glide_core::RiskLevel;
///
/// let default = SimSwapRiskMapping::default();
/// assert_eq!(default.risk_for(Duration::from_secs(2 * 3600)), RiskLevel::High);
/// assert_eq!(default.risk_for(Duration::from_secs(20 * 86_400)), RiskLevel::Medium);
/// assert_eq!(default.risk_for(Duration::from_secs(400 * 86_400)), RiskLevel::Low);
///
/// // A stricter app: anything within 7 days is high, within 90 days medium.
/// let strict = SimSwapRiskMapping::new()
///     .high_below(Duration::from_secs(7 * 86_400))
///     .medium_below(Duration::from_secs(90 * 86_400));
/// assert_eq!(strict.risk_for(Duration::from_secs(5 * 86_400)), RiskLevel::High);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SimSwapRiskMapping {
    high_below: Duration,
    medium_below: Duration,
}

impl SimSwapRiskMapping {
    /// The default mapping: high under 72 hours, medium under 30 days, low after.
    pub const fn new() -> Self {
        Self {
            high_below: Duration::from_secs(72 * HOUR),
            medium_below: Duration::from_secs(30 * DAY),
        }
    }

    /// Sets the age under which a swap is [`RiskLevel::High`] (default 72 hours). When it is
    /// above [`medium_below`](Self::medium_below), nothing is medium.
    pub const fn high_below(mut self, age: Duration) -> Self {
        self.high_below = age;
        self
    }

    /// Sets the age under which a swap is at least [`RiskLevel::Medium`] (default 30 days).
    pub const fn medium_below(mut self, age: Duration) -> Self {
        self.medium_below = age;
        self
    }

    /// The age under which a swap is high risk.
    pub const fn high_threshold(&self) -> Duration {
        self.high_below
    }

    /// The age under which a swap is at least medium risk.
    pub const fn medium_threshold(&self) -> Duration {
        self.medium_below
    }

    /// The risk of a SIM that last changed `age` ago.
    pub fn risk_for(&self, age: Duration) -> RiskLevel {
        if age < self.high_below {
            RiskLevel::High
        } else if age < self.medium_below {
            RiskLevel::Medium
        } else {
            RiskLevel::Low
        }
    }
}

impl Default for SimSwapRiskMapping {
    fn default() -> Self {
        Self::new()
    }
}

/// Glide's age band for a change `age` ago, in words (`"0-4 hours"`, `"14-30 days"`,
/// `"more than 3 years"`), as Magical Auth's `age_band`.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(glide_core::legacy::age_band(Duration::from_secs(7200)), "0-4 hours");
/// assert_eq!(glide_core::legacy::age_band(Duration::from_secs(20 * 86_400)), "14-30 days");
/// ```
pub fn age_band(age: Duration) -> &'static str {
    const BANDS: [(u64, &str); 10] = [
        (4 * HOUR, "0-4 hours"),
        (DAY, "4-24 hours"),
        (2 * DAY, "1-2 days"),
        (7 * DAY, "2-7 days"),
        (14 * DAY, "7-14 days"),
        (30 * DAY, "14-30 days"),
        (90 * DAY, "1-3 months"),
        (365 * DAY, "3-12 months"),
        (3 * 365 * DAY, "1-3 years"),
        (u64::MAX, "more than 3 years"),
    ];
    let secs = age.as_secs();
    BANDS
        .iter()
        .find(|(below, _)| secs < *below)
        .map_or("more than 3 years", |(_, band)| band)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_are_exclusive_and_bands_cover_everything() {
        let m = SimSwapRiskMapping::default();
        let h = |n: u64| Duration::from_secs(n * HOUR);
        assert_eq!(m.risk_for(Duration::ZERO), RiskLevel::High);
        assert_eq!(m.risk_for(h(72) - Duration::from_secs(1)), RiskLevel::High);
        assert_eq!(m.risk_for(h(72)), RiskLevel::Medium);
        assert_eq!(
            m.risk_for(h(30 * 24) - Duration::from_secs(1)),
            RiskLevel::Medium
        );
        assert_eq!(m.risk_for(h(30 * 24)), RiskLevel::Low);
        let none_medium = m.high_below(h(100)).medium_below(h(50));
        assert_eq!(none_medium.risk_for(h(60)), RiskLevel::High);
        assert_eq!(none_medium.risk_for(h(100)), RiskLevel::Low);
        assert_eq!(age_band(h(3)), "0-4 hours");
        assert_eq!(age_band(h(4)), "4-24 hours");
        assert_eq!(age_band(h(30)), "1-2 days");
        assert_eq!(age_band(Duration::MAX), "more than 3 years");
    }
}
