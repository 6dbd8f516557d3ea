//! The app's hook on what happens to verifications and sessions: verified, denied, not verified,
//! revoked. Events carry no secret and only the masked number.

use std::sync::Arc;

use async_trait::async_trait;

use crate::policy::RiskRule;
use crate::{PhoneNumber, Strategy};

/// What happened, as the app's [`VerificationHook`] hears it. No session id, no code, no token;
/// the number masked (`+1555***0100`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerificationEvent {
    /// A verified session was handed to a browser.
    Verified {
        /// The verified number, masked.
        phone: String,
        /// How it was verified.
        strategy: Strategy,
    },
    /// The number was verified but the risk policy refused the session.
    Denied {
        /// The verified number, masked.
        phone: String,
        /// How it was verified.
        strategy: Strategy,
        /// Which kind of rule refused.
        rule: RiskRule,
        /// The policy's reason (never the number).
        reason: String,
    },
    /// The carrier did not verify the number (Glide's `verified: false`, or another number
    /// than the one asked for).
    NotVerified {
        /// The number that was asked for, masked, when there was one.
        phone: Option<String>,
        /// The strategy that was tried.
        strategy: Strategy,
    },
    /// Verified sessions ended before their time.
    Revoked {
        /// Their number, masked.
        phone: String,
        /// How many sessions ended.
        sessions: usize,
        /// Why.
        cause: RevokeCause,
    },
}

/// Why sessions were revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RevokeCause {
    /// The browser logged out.
    Logout,
    /// A later verification of the number reported a SIM swap of `RISK_LEVEL_HIGH`: every live
    /// session of the number ended.
    SimSwap,
}

impl VerificationEvent {
    pub(crate) fn verified(phone: &PhoneNumber, strategy: Strategy) -> Self {
        Self::Verified {
            phone: phone.masked(),
            strategy,
        }
    }

    pub(crate) fn denied(
        phone: &PhoneNumber,
        strategy: Strategy,
        rule: RiskRule,
        reason: &str,
    ) -> Self {
        Self::Denied {
            phone: phone.masked(),
            strategy,
            rule,
            reason: reason.to_owned(),
        }
    }

    pub(crate) fn not_verified(phone: Option<&PhoneNumber>, strategy: Strategy) -> Self {
        Self::NotVerified {
            phone: phone.map(PhoneNumber::masked),
            strategy,
        }
    }

    pub(crate) fn revoked(phone: &PhoneNumber, sessions: usize, cause: RevokeCause) -> Self {
        Self::Revoked {
            phone: phone.masked(),
            sessions,
            cause,
        }
    }
}

/// The app's hook, registered with
/// [`GlideAuthBuilder::verification_hook`](super::GlideAuthBuilder::verification_hook). The
/// engine awaits it before it answers the request: keep it quick, and hand slow work (a
/// webhook, an e-mail) to a task of your own.
///
/// A closure taking `&VerificationEvent` is a hook:
///
/// ```
/// use glide_core::endpoint::VerificationEvent;
/// let hook = |event: &VerificationEvent| {
///     if let VerificationEvent::Denied { phone, reason, .. } = event {
///         eprintln!("denied {phone}: {reason}");
///     }
/// };
/// # let _ = hook;
/// ```
#[async_trait]
pub trait VerificationHook: Send + Sync + 'static {
    /// Called once per event.
    async fn on_event(&self, event: &VerificationEvent);
}

#[async_trait]
impl<F> VerificationHook for F
where
    F: Fn(&VerificationEvent) + Send + Sync + 'static,
{
    async fn on_event(&self, event: &VerificationEvent) {
        self(event);
    }
}

/// The registered hook, if any.
#[derive(Clone, Default)]
pub(crate) struct Hook(Option<Arc<dyn VerificationHook>>);

impl Hook {
    pub(crate) fn new(hook: Option<Arc<dyn VerificationHook>>) -> Self {
        Self(hook)
    }

    /// Tells the app's hook, if there is one.
    pub(crate) async fn emit(&self, event: VerificationEvent) {
        if let Some(hook) = &self.0 {
            hook.on_event(&event).await;
        }
    }
}

impl std::fmt::Debug for Hook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Hook(set)"
        } else {
            "Hook(none)"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_says_whether_a_hook_is_set() {
        assert_eq!(format!("{:?}", Hook::default()), "Hook(none)");
        let hook: Arc<dyn VerificationHook> = Arc::new(|_: &VerificationEvent| {});
        assert_eq!(format!("{:?}", Hook::new(Some(hook))), "Hook(set)");
    }
}
