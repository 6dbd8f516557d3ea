//! Time as a dependency, so that expiry boundaries can be tested exactly.
//!
//! Everything in glide-core that asks "what time is it?" asks a [`Clock`]. Production code uses
//! [`SystemClock`]; tests use [`ManualClock`] and move time by hand.

use std::fmt;
use std::sync::{Arc, Mutex};
use time::{Duration, OffsetDateTime};

/// A source of the current time.
pub trait Clock: fmt::Debug + Send + Sync + 'static {
    /// The current instant, in UTC.
    fn now(&self) -> OffsetDateTime;
}

/// The operating system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock that only moves when told to; for tests of lifetimes and expiry.
///
/// ```
/// use glide_core::clock::{Clock, ManualClock};
/// let clock = ManualClock::new();
/// let t0 = clock.now();
/// clock.advance(time::Duration::seconds(5));
/// assert_eq!(clock.now() - t0, time::Duration::seconds(5));
/// ```
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<Mutex<OffsetDateTime>>,
}

impl ManualClock {
    /// A clock stopped at the current system time.
    pub fn new() -> Self {
        Self::at(OffsetDateTime::now_utc())
    }

    /// A clock stopped at `instant`.
    pub fn at(instant: OffsetDateTime) -> Self {
        Self {
            now: Arc::new(Mutex::new(instant)),
        }
    }

    /// Moves the clock forward (or back, with a negative duration).
    pub fn advance(&self, by: Duration) {
        let mut now = self
            .now
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *now += by;
    }

    /// Sets the clock to `instant`.
    pub fn set(&self, instant: OffsetDateTime) {
        let mut now = self
            .now
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *now = instant;
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self
            .now
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A shared clock handle, as stored by the components that need one.
pub type SharedClock = Arc<dyn Clock>;
