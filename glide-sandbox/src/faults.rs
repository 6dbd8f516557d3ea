//! Injected faults: the next `times` requests to a path fail in a chosen way.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How a faulted request fails.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FaultKind {
    /// Answer this HTTP status with Glide's error body (and `Retry-After` when given).
    Status {
        /// The HTTP status.
        status: u16,
        /// Seconds for the `Retry-After` header.
        retry_after: Option<u64>,
    },
    /// Wait, then handle the request normally.
    Delay(Duration),
    /// Answer 200 with a body that is not JSON.
    Malformed,
    /// Close the connection without a complete response.
    Drop,
}

/// One fault rule: the next `times` requests to exactly `path` fail as `kind`.
///
/// ```
/// use glide_sandbox::{Fault, FaultKind};
///
/// let fault = Fault::status("/magic-auth/v2/auth/prepare", 503)
///     .with_retry_after(1)
///     .times(2);
/// assert_eq!(fault.times, 2);
/// assert_eq!(fault.kind, FaultKind::Status { status: 503, retry_after: Some(1) });
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// The exact request path (no query string), e.g. `/magic-auth/v2/auth/prepare`.
    pub path: String,
    /// How the request fails.
    pub kind: FaultKind,
    /// How many requests fail (then the rule is gone).
    pub times: u32,
}

impl Fault {
    /// A fault of `kind` on `path`, once.
    pub fn new(path: impl Into<String>, kind: FaultKind) -> Self {
        Self {
            path: path.into(),
            kind,
            times: 1,
        }
    }

    /// Answer `status` with Glide's error body.
    pub fn status(path: impl Into<String>, status: u16) -> Self {
        Self::new(
            path,
            FaultKind::Status {
                status,
                retry_after: None,
            },
        )
    }

    /// Wait `delay`, then proceed normally.
    pub fn delay(path: impl Into<String>, delay: Duration) -> Self {
        Self::new(path, FaultKind::Delay(delay))
    }

    /// Answer 200 with a non-JSON body.
    pub fn malformed(path: impl Into<String>) -> Self {
        Self::new(path, FaultKind::Malformed)
    }

    /// Close the connection without a complete response.
    pub fn drop_connection(path: impl Into<String>) -> Self {
        Self::new(path, FaultKind::Drop)
    }

    /// Adds a `Retry-After` (seconds) to a [`FaultKind::Status`] fault; no effect on other kinds.
    #[must_use]
    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        if let FaultKind::Status { retry_after, .. } = &mut self.kind {
            *retry_after = Some(seconds);
        }
        self
    }

    /// How many requests fail.
    #[must_use]
    pub fn times(mut self, times: u32) -> Self {
        self.times = times;
        self
    }
}

/// The JSON body of `POST /sandbox/faults`.
#[derive(Debug, Deserialize, Serialize)]
pub(crate) struct FaultSpec {
    pub path: Option<String>,
    pub kind: Option<String>,
    pub status: Option<u16>,
    pub retry_after: Option<u64>,
    pub delay_ms: Option<u64>,
    pub times: Option<u32>,
}

impl FaultSpec {
    /// The fault, or the name of the offending field and why.
    pub(crate) fn into_fault(self) -> Result<Fault, (&'static str, &'static str)> {
        let path = self
            .path
            .filter(|p| p.starts_with('/'))
            .ok_or(("path", "required, must start with '/'"))?;
        let kind = match self.kind.as_deref() {
            Some("status") => {
                let status = self
                    .status
                    .filter(|s| (400..=599).contains(s))
                    .ok_or(("status", "required for kind status, 400-599"))?;
                FaultKind::Status {
                    status,
                    retry_after: self.retry_after,
                }
            }
            Some("delay") => FaultKind::Delay(Duration::from_millis(
                self.delay_ms
                    .ok_or(("delay_ms", "required for kind delay"))?,
            )),
            Some("malformed") => FaultKind::Malformed,
            Some("drop") => FaultKind::Drop,
            _ => return Err(("kind", "must be status, delay, malformed or drop")),
        };
        Ok(Fault {
            path,
            kind,
            times: self.times.unwrap_or(1),
        })
    }
}

/// The active fault rules.
#[derive(Debug, Default)]
pub(crate) struct FaultSet {
    rules: Vec<Fault>,
}

impl FaultSet {
    pub(crate) fn add(&mut self, fault: Fault) {
        if fault.times > 0 {
            self.rules.push(fault);
        }
    }

    pub(crate) fn clear(&mut self) {
        self.rules.clear();
    }

    /// Takes one use of the first rule for `path`.
    pub(crate) fn take(&mut self, path: &str) -> Option<FaultKind> {
        let index = self.rules.iter().position(|f| f.path == path)?;
        let rule = &mut self.rules[index];
        let kind = rule.kind.clone();
        rule.times -= 1;
        if rule.times == 0 {
            self.rules.remove(index);
        }
        Some(kind)
    }
}
