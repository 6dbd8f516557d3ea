//! Issuing a verified session: the steps every successful flow (Magical Auth, fallback codes,
//! Number Verify) shares — the risk policy, a fresh id, the end of the browser's previous
//! session, the cookie; and the memory of the numbers the risk policy refused, which a
//! verification chain reads so that a refused number never falls through to a weaker channel.

use std::sync::Arc;
use std::time::Duration;

use cookie::Cookie;
use http::header::USER_AGENT;
use sha2::{Digest as _, Sha256};

use super::hook::{Hook, RevokeCause, VerificationEvent};
use super::io::Incoming;
use super::limits::Limits;
use crate::cookie::CookieSpec;
use crate::error::{DeniedSignals, Error, RequestError, RiskDenial};
use crate::policy::{PolicyMode, RiskDecision, RiskPolicy};
use crate::session::{SessionClient, SessionId, SessionManager};
use crate::store::Store;
use crate::telemetry::{self, Outcome};
use crate::{PhoneNumber, VerifiedPhone};

/// How long a risk denial of a number is remembered.
pub(crate) const DENIAL_MEMORY: Duration = Duration::from_secs(3600);

/// Hands verified sessions to browsers.
#[derive(Debug)]
pub(crate) struct SessionIssuer {
    pub(crate) sessions: SessionManager,
    pub(crate) cookie: CookieSpec,
    pub(crate) policy: RiskPolicy,
    /// A second policy whose decisions are logged and counted, never enforced.
    pub(crate) shadow_policy: Option<RiskPolicy>,
    /// The app's hook on verifications and sessions.
    pub(crate) hook: Hook,
    /// Where denials are remembered (the pending store).
    pub(crate) denials: Arc<dyn Store>,
    /// Who the client is (the peer, or `X-Forwarded-For` from a trusted proxy).
    pub(crate) limits: Arc<Limits>,
}

impl SessionIssuer {
    /// The verified-session id carried by this request's cookie, if any.
    pub(crate) fn current_id<'a>(&self, request: &'a Incoming) -> Option<&'a str> {
        request.cookies.get(&self.cookie.name)
    }

    /// The risk policy's word on a verification: `Ok` to issue, else 403 `RISK_POLICY_DENIED`
    /// carrying the signals (and Glide's `verified`) for the browser. The shadow policy, if
    /// any, decides too: logged and counted only.
    pub(crate) async fn check_policy(
        &self,
        verified: &VerifiedPhone,
        glide_verified: Option<bool>,
    ) -> Result<(), Error> {
        self.revoke_on_sim_swap(verified).await?;
        if let Some(shadow) = &self.shadow_policy {
            let decision = shadow.evaluate_as(verified, PolicyMode::Shadow);
            telemetry::risk_decision(PolicyMode::Shadow, &decision);
        }
        let decision = self.policy.evaluate(verified);
        telemetry::risk_decision(PolicyMode::Enforced, &decision);
        match decision {
            RiskDecision::Allow => Ok(()),
            RiskDecision::Deny { reason, rule } => {
                telemetry::verification(verified.strategy, Outcome::Denied);
                self.hook
                    .emit(VerificationEvent::denied(
                        &verified.phone_number,
                        verified.strategy,
                        rule,
                        &reason,
                    ))
                    .await;
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

    /// A verification whose SIM-swap signal is `RISK_LEVEL_HIGH` ends every live session of its
    /// number, whatever the policy then decides for this one: the SIM that proved them may be in
    /// someone else's phone now. A store failure here refuses the verification (503).
    async fn revoke_on_sim_swap(&self, verified: &VerifiedPhone) -> Result<(), Error> {
        let swapped = verified
            .sim_swap
            .as_ref()
            .is_some_and(|s| s.checked && s.risk_level == Some(crate::RiskLevel::High));
        if !swapped {
            return Ok(());
        }
        let revoked = match self.sessions.revoke_all(&verified.phone_number).await {
            Ok(revoked) => revoked,
            Err(error) => {
                // Fail closed: the sessions the swapped SIM proved may still be live, so this
                // verification gets none either.
                tracing::error!(
                    target: "glide::verification",
                    phone = %verified.phone_number.masked(),
                    error = %crate::error::LogError(&error),
                    "SIM swap reported but the number's sessions could not be revoked; no session issued"
                );
                telemetry::revocation_failed("sim_swap");
                return Err(Error::CheckFailed {
                    check: "session revocation",
                    source: Box::new(error),
                });
            }
        };
        if revoked > 0 {
            tracing::warn!(
                target: "glide::verification",
                phone = %verified.phone_number.masked(),
                revoked,
                "SIM swap reported: every session of the number revoked"
            );
            self.hook
                .emit(VerificationEvent::revoked(
                    &verified.phone_number,
                    revoked,
                    RevokeCause::SimSwap,
                ))
                .await;
        }
        Ok(())
    }

    /// Before a verification of `phone` starts: 403 `RISK_POLICY_DENIED` (no signals) for a
    /// number the enforced policy's number ranges deny, so that no code goes to it and Glide is
    /// not asked.
    pub(crate) fn check_number(&self, phone: &PhoneNumber) -> Result<(), Error> {
        match self.policy.check_number(phone) {
            RiskDecision::Allow => Ok(()),
            RiskDecision::Deny { reason, .. } => {
                tracing::info!(
                    target: "glide::policy",
                    phone = %phone.masked(),
                    reason = %reason,
                    "verification not started: number range"
                );
                Err(RequestError::RiskPolicyDenied(Box::new(RiskDenial::new(reason, None))).into())
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
        let decision = self.check_policy(verified, glide_verified).await;
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

    /// Stores a fresh session (a new id on every verification) with the device of `request`:
    /// its `User-Agent` summarised, its address masked.
    pub(crate) async fn create(
        &self,
        request: &Incoming,
        verified: VerifiedPhone,
    ) -> Result<SessionId, Error> {
        let client = SessionClient::new(request.header(USER_AGENT), self.limits.client_ip(request));
        self.sessions.create_for(verified, client).await
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
        self.limits
            .remember_good_source(request, &verified.phone_number)
            .await;
        telemetry::verification(verified.strategy, Outcome::Verified);
        self.hook
            .emit(VerificationEvent::verified(
                &verified.phone_number,
                verified.strategy,
            ))
            .await;
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
        let id = self.create(request, verified.clone()).await?;
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::clock::SystemClock;
    use crate::policy::NumberRange;
    use crate::session::SessionConfig;
    use crate::store::MemoryStore;
    use crate::{PhoneNumber, Strategy, UseCase};

    fn issuer_with(policy: RiskPolicy, shadow_policy: Option<RiskPolicy>) -> SessionIssuer {
        SessionIssuer {
            sessions: SessionManager::new(
                Arc::new(MemoryStore::new()),
                Arc::new(SystemClock),
                SessionConfig::default(),
            ),
            cookie: CookieSpec::host_only("glide_session", false, Duration::from_secs(60)),
            policy,
            shadow_policy,
            hook: Hook::default(),
            denials: Arc::new(MemoryStore::new()),
            limits: Arc::new(Limits::new(
                crate::ratelimit::RateLimitConfig::disabled(),
                Arc::new(MemoryStore::new()),
                Arc::new(SystemClock),
            )),
        }
    }

    /// The issuer's policy check, run to its end here (without a hook it never waits).
    fn decide(issuer: &SessionIssuer, verified: &VerifiedPhone) -> Result<(), Error> {
        use futures_util::FutureExt as _;
        issuer
            .check_policy(verified, None)
            .now_or_never()
            .expect("no hook: nothing to wait for")
    }

    /// `glide_risk_decisions_total` by (decision, mode, rule) after `run`.
    fn risk_counts(run: impl FnOnce()) -> Vec<(String, u64)> {
        crate::telemetry::tests::recorded(run)
            .into_iter()
            .filter_map(|(key, value)| {
                let labels = key.strip_prefix("glide_risk_decisions_total{")?;
                Some((labels.trim_end_matches('}').to_owned(), value.parse().ok()?))
            })
            .collect()
    }

    #[test]
    fn the_shadow_decides_beside_the_enforced_policy_and_is_counted_apart() {
        let shadow = RiskPolicy::default().allow_numbers([NumberRange::parse("+44").unwrap()]);
        let issuer = issuer_with(RiskPolicy::default(), Some(shadow));
        let verified = VerifiedPhone::new(
            PhoneNumber::parse("+15555550100").unwrap(),
            UseCase::VerifyPhoneNumber,
            Strategy::Sms,
            time::OffsetDateTime::UNIX_EPOCH,
        );
        let counts = risk_counts(|| {
            assert!(decide(&issuer, &verified).is_ok());
            assert!(decide(&issuer, &verified).is_ok());
        });
        assert_eq!(
            counts,
            [
                ("decision=allow,mode=enforced,rule=none".to_owned(), 2),
                ("decision=deny,mode=shadow,rule=number_range".to_owned(), 2),
            ]
        );
        // Without a shadow, only the enforced decision is counted; a denial refuses.
        let strict = issuer_with(
            RiskPolicy::default().deny_numbers([NumberRange::parse("+1555").unwrap()]),
            None,
        );
        let counts = risk_counts(|| {
            let refused = decide(&strict, &verified).unwrap_err();
            assert_eq!(refused.code(), "RISK_POLICY_DENIED");
        });
        assert_eq!(
            counts,
            [(
                "decision=deny,mode=enforced,rule=number_range".to_owned(),
                1
            )]
        );
    }
}
