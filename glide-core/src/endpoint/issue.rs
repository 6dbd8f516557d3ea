//! Issuing a verified session: the steps every successful flow (Magical Auth, fallback codes,
//! Number Verify) shares — the risk policy, a fresh id, the end of the browser's previous
//! session, the cookie; and the memory of the numbers the risk policy refused, which a
//! verification chain reads so that a refused number never falls through to a weaker channel.

use std::sync::Arc;
use std::time::Duration;

use cookie::Cookie;
use sha2::{Digest as _, Sha256};

use super::io::Incoming;
use super::telemetry::{self, Outcome};
use crate::cookie::CookieSpec;
use crate::error::{DeniedSignals, Error, RequestError, RiskDenial};
use crate::policy::{RiskDecision, RiskPolicy};
use crate::session::{SessionId, SessionManager};
use crate::store::Store;
use crate::{PhoneNumber, VerifiedPhone};

/// How long a risk denial of a number is remembered.
pub(crate) const DENIAL_MEMORY: Duration = Duration::from_secs(3600);

/// Hands verified sessions to browsers.
#[derive(Debug)]
pub(crate) struct SessionIssuer {
    pub(crate) sessions: SessionManager,
    pub(crate) cookie: CookieSpec,
    pub(crate) policy: RiskPolicy,
    /// Where denials are remembered (the pending store).
    pub(crate) denials: Arc<dyn Store>,
}

impl SessionIssuer {
    /// The verified-session id carried by this request's cookie, if any.
    pub(crate) fn current_id<'a>(&self, request: &'a Incoming) -> Option<&'a str> {
        request.cookies.get(&self.cookie.name)
    }

    /// The risk policy's word on a verification: `Ok` to issue, else 403 `RISK_POLICY_DENIED`
    /// carrying the signals (and Glide's `verified`) for the browser.
    pub(crate) fn check_policy(
        &self,
        verified: &VerifiedPhone,
        glide_verified: Option<bool>,
    ) -> Result<(), Error> {
        match self.policy.evaluate(verified) {
            RiskDecision::Allow => {
                telemetry::risk_decision(true);
                Ok(())
            }
            RiskDecision::Deny { reason } => {
                telemetry::risk_decision(false);
                telemetry::verification(verified.strategy, Outcome::Denied);
                let mut signals = DeniedSignals::from(verified);
                signals.verified = glide_verified;
                Err(RequestError::RiskPolicyDenied(Box::new(RiskDenial::new(
                    reason,
                    Some(signals),
                )))
                .into())
            }
        }
    }

    /// [`check_policy`](Self::check_policy), remembering a denial of the number for
    /// [`DENIAL_MEMORY`] (see [`was_denied`](Self::was_denied)).
    pub(crate) async fn check_policy_noted(
        &self,
        verified: &VerifiedPhone,
        glide_verified: Option<bool>,
    ) -> Result<(), Error> {
        let decision = self.check_policy(verified, glide_verified);
        if decision.is_err() {
            let key = denial_key(&verified.phone_number);
            if let Err(e) = self.denials.create(&key, b"1", DENIAL_MEMORY).await {
                tracing::warn!(error = %e, "could not remember a risk denial");
            }
        }
        decision
    }

    /// Whether the risk policy refused a verification of `phone` within [`DENIAL_MEMORY`]
    /// (fails closed: a store error is an error).
    pub(crate) async fn was_denied(&self, phone: &PhoneNumber) -> Result<bool, Error> {
        Ok(self.denials.load(&denial_key(phone)).await?.is_some())
    }

    /// Stores a fresh session (a new id on every verification).
    pub(crate) async fn create(&self, verified: VerifiedPhone) -> Result<SessionId, Error> {
        self.sessions.create(verified).await
    }

    /// Removes a stored session that was never handed out.
    pub(crate) async fn discard(&self, id: &SessionId) {
        if let Err(e) = self.sessions.destroy(id.as_str()).await {
            tracing::warn!(error = %e, "could not remove an unissued session; it will expire");
        }
    }

    /// After a fresh session was stored: ends the one this browser held before (the old id dies
    /// server side), logs the verification with the number masked, and returns the cookie that
    /// hands the new id to the browser.
    pub(crate) async fn hand_over(
        &self,
        request: &Incoming,
        id: &SessionId,
        verified: &VerifiedPhone,
    ) -> Cookie<'static> {
        if let Some(old) = self.current_id(request) {
            if old != id.as_str() {
                if let Err(e) = self.sessions.destroy(old).await {
                    tracing::warn!(error = %e, "could not end the previous session");
                }
            }
        }
        telemetry::verification(verified.strategy, Outcome::Verified);
        tracing::info!(
            target: "glide::verification",
            phone = %verified.phone_number.masked(),
            strategy = %verified.strategy,
            "phone number verified"
        );
        self.cookie.set(id.as_str())
    }

    /// Policy, store, hand over: the whole issue for flows with nothing to record in between.
    pub(crate) async fn issue(
        &self,
        request: &Incoming,
        verified: VerifiedPhone,
    ) -> Result<Cookie<'static>, Error> {
        self.check_policy_noted(&verified, None).await?;
        let id = self.create(verified.clone()).await?;
        Ok(self.hand_over(request, &id, &verified).await)
    }

    /// The cookie that removes the verified-session cookie.
    pub(crate) fn removal(&self) -> Cookie<'static> {
        self.cookie.removal()
    }
}

/// The store key of a number's denial (the number itself never reaches the store).
fn denial_key(phone: &PhoneNumber) -> String {
    format!(
        "risk_denied:{}",
        hex::encode(Sha256::digest(phone.as_str().as_bytes()))
    )
}
