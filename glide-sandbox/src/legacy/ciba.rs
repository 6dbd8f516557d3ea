//! CIBA state: backchannel authentication requests (`auth_req_id`) and the per-subscriber
//! tokens they are exchanged for (SIM swap, Device Swap, KYC match).
//!
//! Like every legacy secret, both are stored under their SHA-256 digest; an `auth_req_id` is
//! single use. The simulated subscriber consents at once, so a grant never answers
//! `authorization_pending`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{digest, prune};
use crate::state::lock;
use crate::util;

/// How long an `auth_req_id` may be exchanged.
pub(crate) const AUTH_REQ_LIFETIME: Duration = Duration::from_secs(120);

/// The polling interval the backchannel answer names.
pub(crate) const POLL_INTERVAL_SECS: u64 = 2;

/// What a CIBA token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CibaScope {
    /// `sim-swap`: `/sim-swap/check` and `/sim-swap/retrieve-date`.
    SimSwap,
    /// `device-swap`: `/device-swap/v1/check` and `/device-swap/v1/retrieve-date`.
    DeviceSwap,
    /// `kyc-match`: `/kyc-match/match`.
    KycMatch,
}

impl CibaScope {
    /// The scope's name on the wire.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::SimSwap => "sim-swap",
            Self::DeviceSwap => "device-swap",
            Self::KycMatch => "kyc-match",
        }
    }

    /// The CIBA scope named in a space-separated `scope` (other scopes such as `openid` or a
    /// `dpv:` purpose are ignored).
    pub(crate) fn find(scope: &str) -> Option<Self> {
        scope.split_whitespace().find_map(|s| match s {
            "sim-swap" => Some(Self::SimSwap),
            "device-swap" => Some(Self::DeviceSwap),
            "kyc-match" => Some(Self::KycMatch),
            _ => None,
        })
    }
}

/// Whom a CIBA request or token is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Subscriber {
    /// The subscriber's number (E.164).
    pub phone: String,
    /// What the token may be used for.
    pub scope: CibaScope,
}

#[derive(Debug)]
struct Entry {
    subscriber: Subscriber,
    expires_at: Instant,
}

/// Why a CIBA grant was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GrantError {
    /// Unknown or already used: `invalid_grant`.
    Unknown,
    /// Its lifetime passed: `expired_token`.
    Expired,
}

/// Backchannel requests and CIBA tokens.
#[derive(Debug, Default)]
pub(crate) struct CibaState {
    requests: Mutex<HashMap<String, Entry>>,
    tokens: Mutex<HashMap<String, Entry>>,
}

impl CibaState {
    /// Files a backchannel authentication request; returns its `auth_req_id`.
    pub(crate) fn start(&self, subscriber: Subscriber) -> String {
        let id = util::random_hex(24);
        let mut requests = lock(&self.requests);
        prune(&mut requests, |e| e.expires_at);
        requests.insert(
            digest(&id),
            Entry {
                subscriber,
                expires_at: Instant::now() + AUTH_REQ_LIFETIME,
            },
        );
        id
    }

    /// Takes an `auth_req_id` (single use): whom it is about.
    pub(crate) fn grant(&self, auth_req_id: &str) -> Result<Subscriber, GrantError> {
        let entry = lock(&self.requests)
            .remove(&digest(auth_req_id))
            .ok_or(GrantError::Unknown)?;
        if entry.expires_at <= Instant::now() {
            return Err(GrantError::Expired);
        }
        Ok(entry.subscriber)
    }

    /// Issues a token for `subscriber`.
    pub(crate) fn issue_token(&self, subscriber: Subscriber, lifetime: Duration) -> String {
        let token = util::random_hex(32);
        let mut tokens = lock(&self.tokens);
        prune(&mut tokens, |e| e.expires_at);
        tokens.insert(
            digest(&token),
            Entry {
                subscriber,
                expires_at: Instant::now() + lifetime,
            },
        );
        token
    }

    /// Whom a valid token is about.
    pub(crate) fn token(&self, token: &str) -> Option<Subscriber> {
        lock(&self.tokens)
            .get(&digest(token))
            .filter(|e| e.expires_at > Instant::now())
            .map(|e| e.subscriber.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_req_ids_are_single_use_and_tokens_carry_the_subscriber() {
        let state = CibaState::default();
        let sub = Subscriber {
            phone: "+15555550101".into(),
            scope: CibaScope::SimSwap,
        };
        let id = state.start(sub.clone());
        assert_eq!(state.grant(&id), Ok(sub.clone()));
        assert_eq!(state.grant(&id), Err(GrantError::Unknown));
        let token = state.issue_token(sub.clone(), Duration::from_secs(60));
        assert_eq!(state.token(&token), Some(sub));
        assert_eq!(state.token("nope"), None);
        assert_eq!(
            CibaScope::find("openid kyc-match"),
            Some(CibaScope::KycMatch)
        );
        assert_eq!(
            CibaScope::find("openid device-swap"),
            Some(CibaScope::DeviceSwap)
        );
        assert_eq!(CibaScope::find("magic-auth"), None);
    }
}
