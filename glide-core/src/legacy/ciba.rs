//! Per-subscriber tokens through CIBA (OpenID Connect Client-Initiated Backchannel
//! Authentication, poll mode), as Glide's legacy API hands them out for SIM swap, Device Swap and KYC match:
//!
//! 1. `POST /oauth2/backchannel-authentication` (HTTP Basic with the client credentials), form
//!    `scope=<scope>&login_hint=tel:+<digits>` → `{auth_req_id, expires_in, interval}`;
//! 2. `POST /oauth2/token`, form `grant_type=urn:openid:params:grant-type:ciba&auth_req_id=…`
//!    → `{access_token, expires_in, …}`, polled every `interval` while Glide answers
//!    `authorization_pending` (`slow_down` adds 5 s), for at most [`MAX_POLL`].
//!
//! Tokens are cached per scope and number ([`CibaTokens`]) for their lifetime, with one grant in
//! flight per number. Neither `auth_req_id` nor tokens are ever logged; numbers are masked.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http::Method;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use time::OffsetDateTime;

use super::transport::TOKEN_ENDPOINT;
use super::LegacyClient;
use crate::api::token::{TokenAnswer, TokenCache};
use crate::api::transport::{json_body, Auth, Reply};
use crate::error::Error;
use crate::secret::{AccessToken, AuthReqId};
use crate::PhoneNumber;

/// The backchannel authentication endpoint, under the base URL.
pub(crate) const BC_AUTHORIZE: &[&str] = &["oauth2", "backchannel-authentication"];

/// The CIBA grant type.
pub(crate) const CIBA_GRANT: &str = "urn:openid:params:grant-type:ciba";

/// The SIM swap scope.
pub(crate) const SIM_SWAP_SCOPE: &str = "sim-swap";

/// The Device Swap scope.
pub(crate) const DEVICE_SWAP_SCOPE: &str = "device-swap";

/// The polling interval when Glide names none (the CIBA default).
const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);

/// The longest time spent polling for one grant (also bounded by the request's `expires_in`).
pub(crate) const MAX_POLL: Duration = Duration::from_secs(30);

/// Above this many cached subscribers, caches with nothing usable are dropped on the next insert.
const PRUNE_ABOVE: usize = 10_000;

/// The backchannel authentication answer.
#[derive(Deserialize)]
struct Started {
    auth_req_id: String,
    #[serde(default)]
    expires_in: Option<i64>,
    #[serde(default)]
    interval: Option<i64>,
}

/// An OAuth error body, read only for its `error` code.
#[derive(Deserialize)]
struct OAuthError {
    #[serde(default)]
    error: Option<String>,
}

/// What a token poll answered.
enum Poll {
    /// `authorization_pending`: ask again after the interval.
    Pending,
    /// `slow_down`: ask again after a longer interval.
    SlowDown,
    /// Anything else: the final answer.
    Done(Reply),
}

impl Poll {
    fn of(reply: Reply) -> Self {
        if reply.status == 400 {
            let error = serde_json::from_slice::<OAuthError>(&reply.body)
                .ok()
                .and_then(|e| e.error);
            match error.as_deref() {
                Some("authorization_pending") => return Self::Pending,
                Some("slow_down") => return Self::SlowDown,
                _ => {}
            }
        }
        Self::Done(reply)
    }
}

/// A positive number of seconds, or `default`.
fn seconds_or(value: Option<i64>, default: Duration) -> Duration {
    match value {
        Some(secs) if secs > 0 => Duration::from_secs(secs.unsigned_abs()),
        _ => default,
    }
}

/// The CIBA token caches, one per scope and number.
#[derive(Default)]
pub(crate) struct CibaTokens {
    slots: Mutex<HashMap<String, Arc<TokenCache>>>,
}

impl fmt::Debug for CibaTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CibaTokens([redacted])")
    }
}

impl CibaTokens {
    /// The cache for `scope` and `phone` (created when missing).
    fn slot(&self, scope: &str, phone: &PhoneNumber, now: OffsetDateTime) -> Arc<TokenCache> {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        if slots.len() >= PRUNE_ABOVE {
            slots.retain(|_, cache| Arc::strong_count(cache) > 1 || !cache.is_stale(now));
        }
        Arc::clone(
            slots
                .entry(format!("{scope} {}", phone.as_str()))
                .or_default(),
        )
    }
}

impl LegacyClient {
    /// Runs the CIBA flow for `scope` and `phone`: the backchannel request, then the grant,
    /// polled while pending.
    async fn ciba_grant(&self, scope: &str, phone: &PhoneNumber) -> Result<TokenAnswer, Error> {
        tracing::debug!(scope, phone = %phone.masked(), "glide legacy: CIBA authentication");
        let hint = format!("tel:{}", phone.as_str());
        let started: Started = self
            .inner
            .basic_form(
                BC_AUTHORIZE,
                &[("scope", scope), ("login_hint", &hint)],
                None,
            )
            .await?
            .oauth_json()?;
        if started.auth_req_id.is_empty() {
            return Err(Error::Decode {
                status: 200,
                message: "backchannel authentication answer without auth_req_id".to_owned(),
            });
        }
        let auth_req_id = AuthReqId::new(started.auth_req_id);
        // No wait is longer than the whole poll (an `interval` of i64::MAX seconds overflowed
        // the instant of the next poll).
        let mut interval = seconds_or(started.interval, DEFAULT_INTERVAL).min(MAX_POLL);
        let lifetime = seconds_or(started.expires_in, MAX_POLL).min(MAX_POLL);
        let deadline = tokio::time::Instant::now() + lifetime;
        loop {
            let reply = self
                .inner
                .basic_form(
                    TOKEN_ENDPOINT.path,
                    &[
                        ("grant_type", CIBA_GRANT),
                        ("auth_req_id", auth_req_id.secret()),
                    ],
                    None,
                )
                .await?;
            match Poll::of(reply) {
                Poll::Done(reply) => return reply.token_answer(),
                Poll::SlowDown => interval += Duration::from_secs(5),
                Poll::Pending => {}
            }
            let next = tokio::time::Instant::now() + interval;
            if next > deadline {
                return Err(Error::Transport(
                    format!("CIBA authorization still pending after {lifetime:?}").into(),
                ));
            }
            tracing::debug!(?interval, "glide legacy: CIBA authorization pending");
            tokio::time::sleep_until(next).await;
        }
    }

    /// A JSON `POST` to `path` with the subscriber token of `scope` for `phone` (from the cache,
    /// or a fresh CIBA grant); a `401` drops that token, runs CIBA again and sends once more.
    pub(crate) async fn ciba_post<B: serde::Serialize, T: DeserializeOwned>(
        &self,
        scope: &'static str,
        phone: &PhoneNumber,
        path: &[&str],
        body: &B,
    ) -> Result<T, Error> {
        let clock = self.inner.clock.as_ref();
        let slot = self.ciba.slot(scope, phone, clock.now());
        let body: Bytes = json_body(body)?;
        let mut rejected: Option<AccessToken> = None;
        loop {
            let token = slot
                .get(clock, rejected.as_ref(), || self.ciba_grant(scope, phone))
                .await?;
            let reply = self
                .call(
                    Method::POST,
                    path,
                    Some((body.clone(), "application/json")),
                    Auth::Token(&token),
                )
                .await?;
            if reply.status == 401 && rejected.is_none() {
                tracing::debug!(
                    phone = %phone.masked(),
                    "glide legacy: subscriber token refused; a new CIBA grant, once"
                );
                rejected = Some(token);
                continue;
            }
            return reply.json();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::HttpClient;
    use crate::error::BoxError;

    /// Glide answering the backchannel request with `interval` and every poll with
    /// `authorization_pending`.
    #[derive(Debug)]
    struct Pending(&'static str);

    #[async_trait::async_trait]
    impl HttpClient for Pending {
        async fn execute(
            &self,
            request: http::Request<Bytes>,
        ) -> Result<http::Response<Bytes>, BoxError> {
            let (status, body) = if request.uri().path().ends_with("backchannel-authentication") {
                (200, self.0)
            } else {
                (400, r#"{"error":"authorization_pending"}"#)
            };
            Ok(http::Response::builder()
                .status(status)
                .body(Bytes::from_static(body.as_bytes()))?)
        }
    }

    #[tokio::test]
    async fn an_interval_beyond_the_clock_ends_the_poll_without_overflow() {
        // Found by the `ciba` fuzz target: `"interval": 9223372036854775807` panicked
        // ("overflow when adding duration to instant") at the first pending answer.
        let answer = r#"{"auth_req_id":"r","expires_in":120,"interval":9223372036854775807}"#;
        let legacy = LegacyClient::from_parts(
            "id",
            "secret",
            "http://glide.test",
            Arc::new(Pending(answer)),
        )
        .expect("a client");
        let phone = PhoneNumber::parse("+15555550101").expect("valid");
        let started = std::time::Instant::now();
        let error = legacy.sim_swap().check(&phone, None).await.unwrap_err();
        assert!(matches!(error, Error::Transport(_)), "{error:?}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
