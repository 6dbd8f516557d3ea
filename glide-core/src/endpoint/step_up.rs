//! Step-up: what a sensitive action asks of a verification beyond "verified" — not older than a
//! maximum age, by a strategy it trusts. A verification that falls short is answered 401
//! `STEP_UP_REQUIRED` (distinct from `NOT_VERIFIED`), saying what would do.

use std::time::Duration;

use bytes::Bytes;
use http::{Response, StatusCode};
use serde::Serialize;
use time::OffsetDateTime;

use super::io;
use crate::{Strategy, VerifiedPhone};

/// A requirement on the verification behind a request, checked with
/// [`RequireVerified::check`].
///
/// ```
/// use std::time::Duration;
/// use glide_core::endpoint::RequireVerified;
/// use glide_core::Strategy;
///
/// let payouts = RequireVerified::new()
///     .max_age(Duration::from_secs(300))
///     .strategies([Strategy::Ts43, Strategy::Link, Strategy::Desktop]);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequireVerified {
    max_age: Option<Duration>,
    strategies: Option<Vec<Strategy>>,
}

impl RequireVerified {
    /// Any verified session will do (until narrowed).
    pub fn new() -> Self {
        Self::default()
    }

    /// The verification must be at most `max_age` old.
    #[must_use]
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = Some(max_age);
        self
    }

    /// The verification must have been made by one of `strategies`.
    #[must_use]
    pub fn strategies(mut self, strategies: impl IntoIterator<Item = Strategy>) -> Self {
        self.strategies = Some(strategies.into_iter().collect());
        self
    }

    /// `Ok` when `phone` meets the requirement at `now`; else what a fresh verification must do.
    pub fn check(&self, phone: &VerifiedPhone, now: OffsetDateTime) -> Result<(), StepUp> {
        let too_old = self.max_age.is_some_and(|max_age| {
            let age = now - phone.verified_at;
            age.is_negative() || age > max_age
        });
        let too_weak = self
            .strategies
            .as_ref()
            .is_some_and(|allowed| !allowed.contains(&phone.strategy));
        if too_old || too_weak {
            Err(StepUp {
                max_age_seconds: self.max_age.map(|d| d.as_secs()),
                strategies: self.strategies.clone(),
            })
        } else {
            Ok(())
        }
    }
}

/// A requirement named by a type, for the adapters' extractor form (`VerifiedWith<R>` in
/// glide-axum and glide-actix): the handler's signature says what it needs.
///
/// ```
/// use std::time::Duration;
/// use glide_core::endpoint::{Requirement, RequireVerified};
/// use glide_core::Strategy;
///
/// /// A payout: verified by the carrier within five minutes.
/// struct Payouts;
///
/// impl Requirement for Payouts {
///     fn requirement() -> RequireVerified {
///         RequireVerified::new()
///             .max_age(Duration::from_secs(300))
///             .strategies([Strategy::Ts43, Strategy::Link, Strategy::Desktop])
///     }
/// }
/// ```
pub trait Requirement: Send + Sync + 'static {
    /// What the verification must meet.
    fn requirement() -> RequireVerified;
}

/// A verification too old or too weak for the action: 401 `STEP_UP_REQUIRED`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("a fresh verification is required for this action")]
pub struct StepUp {
    /// The largest age accepted, when the requirement has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_age_seconds: Option<u64>,
    /// The strategies accepted, when the requirement names them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strategies: Option<Vec<Strategy>>,
}

#[derive(Serialize)]
struct StepUpBody<'a> {
    code: &'static str,
    message: &'static str,
    status: u16,
    #[serde(flatten)]
    step_up: &'a StepUp,
}

impl StepUp {
    /// The answer: 401 `{"code":"STEP_UP_REQUIRED","message","status":401,"max_age_seconds"?,
    /// "strategies"?}`.
    pub fn to_response(&self) -> Response<Bytes> {
        io::json(
            StatusCode::UNAUTHORIZED,
            &StepUpBody {
                code: "STEP_UP_REQUIRED",
                message: "Verify your phone number again to continue.",
                status: 401,
                step_up: self,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{PhoneNumber, UseCase};

    fn phone(strategy: Strategy, verified_at: OffsetDateTime) -> VerifiedPhone {
        VerifiedPhone::new(
            PhoneNumber::parse_lenient("+15555550100").expect("phone"),
            UseCase::VerifyPhoneNumber,
            strategy,
            verified_at,
        )
    }

    #[test]
    fn too_old_or_too_weak_asks_for_a_step_up() {
        let now = OffsetDateTime::UNIX_EPOCH + time::Duration::days(1);
        let guard = RequireVerified::new()
            .max_age(Duration::from_secs(300))
            .strategies([Strategy::Ts43, Strategy::Magic]);
        let fresh = now - time::Duration::seconds(300);
        assert_eq!(guard.check(&phone(Strategy::Ts43, fresh), now), Ok(()));
        assert_eq!(guard.check(&phone(Strategy::Magic, now), now), Ok(()));
        let old = now - time::Duration::seconds(301);
        let refused = guard.check(&phone(Strategy::Ts43, old), now).unwrap_err();
        assert_eq!(refused.max_age_seconds, Some(300));
        assert!(guard.check(&phone(Strategy::Sms, now), now).is_err());
        assert!(guard.check(&phone(Strategy::Email, fresh), now).is_err());
        // A verification "from the future" (clock skew, tampering) is not fresh.
        let future = now + time::Duration::seconds(60);
        assert!(guard.check(&phone(Strategy::Ts43, future), now).is_err());
        assert_eq!(
            RequireVerified::new().check(&phone(Strategy::Sms, old), now),
            Ok(())
        );

        let response = refused.to_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let body: serde_json::Value = serde_json::from_slice(response.body()).expect("json");
        assert_eq!(body["code"], "STEP_UP_REQUIRED");
        assert_eq!(body["status"], 401);
        assert_eq!(body["max_age_seconds"], 300);
        assert_eq!(body["strategies"], serde_json::json!(["ts43", "magic"]));
    }
}
