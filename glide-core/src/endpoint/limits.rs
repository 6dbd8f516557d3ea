//! The rate limits every flow draws on: who the client is, and the counters per route kind.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest as _, Sha256};

use http::header::HeaderName;

use super::io::Incoming;
use crate::clock::SharedClock;
use crate::error::Error;
use crate::ratelimit::{ip_bucket, RateLimitConfig, RateLimiter};
use crate::store::Store;
use crate::PhoneNumber;

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// The configured limits and their counters.
#[derive(Debug)]
pub(crate) struct Limits {
    pub(crate) config: RateLimitConfig,
    pub(crate) limiter: RateLimiter,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: SharedClock,
}

impl Limits {
    /// The client's address: the peer, or `X-Forwarded-For` from a trusted proxy.
    pub(crate) fn client_ip(&self, request: &Incoming) -> Option<IpAddr> {
        self.config
            .client_ip(request.peer, request.header(X_FORWARDED_FOR))
    }

    /// A start of a flow (`scope`: `prepare`, `legacy_start`, …): per client address; per
    /// number *and* client address (a stranger exhausts only their own share of a number); per
    /// number from everywhere, a higher ceiling.
    pub(crate) async fn start(
        &self,
        scope: &str,
        request: &Incoming,
        phone: Option<&PhoneNumber>,
    ) -> Result<(), Error> {
        let ip = self.client_ip(request);
        if let (Some(limit), Some(ip)) = (self.config.prepare_per_ip, ip) {
            counted(self.limiter.check_ip(scope, ip, limit).await, "start")?;
        }
        let Some(phone) = phone else {
            return Ok(());
        };
        if let Some(limit) = self.config.prepare_per_phone {
            let key = phone_and_source(phone, ip);
            counted(
                self.limiter
                    .check(&format!("{scope}:phone_source"), &key, limit)
                    .await,
                "start",
            )?;
        }
        if let Some(limit) = self.config.prepare_per_phone_total {
            counted(
                self.limiter
                    .check_phone(&format!("{scope}:phone"), phone, limit)
                    .await,
                "start",
            )?;
        }
        Ok(())
    }

    /// Another call to Glide on the app's credentials (status, check-server-auth,
    /// report-invocation): per client address.
    pub(crate) async fn glide_call(&self, request: &Incoming) -> Result<(), Error> {
        if let (Some(limit), Some(ip)) = (self.config.glide_calls_per_ip, self.client_ip(request)) {
            counted(
                self.limiter.check_ip("glide_call", ip, limit).await,
                "glide_call",
            )?;
        }
        Ok(())
    }

    /// A request that checks a code or a credential: per client address.
    pub(crate) async fn check(&self, request: &Incoming) -> Result<(), Error> {
        if let (Some(limit), Some(ip)) = (self.config.check_per_ip, self.client_ip(request)) {
            counted(self.limiter.check_ip("check", ip, limit).await, "check")?;
        }
        Ok(())
    }

    /// Reserves a cooldown on `key` (e.g. a phone number) in `scope`: the first call passes and
    /// starts it; every other call within `period`, from any browser, is refused with 429
    /// `RATE_LIMIT_EXCEEDED` and the seconds left as `Retry-After` (atomic: of concurrent
    /// callers exactly one passes). [`release_cooldown`](Self::release_cooldown) gives it back
    /// when nothing was spent after all.
    pub(crate) async fn cooldown(
        &self,
        scope: &str,
        key: &str,
        period: Duration,
    ) -> Result<(), Error> {
        let store_key = cooldown_key(scope, key);
        let now = self.clock.now().unix_timestamp();
        if self
            .store
            .create(&store_key, &now.to_be_bytes(), period)
            .await?
        {
            return Ok(());
        }
        let Some(current) = self.store.load(&store_key).await? else {
            // Ended between the two calls: this caller may go, once.
            return if self
                .store
                .create(&store_key, &now.to_be_bytes(), period)
                .await?
            {
                Ok(())
            } else {
                Err(Error::RateLimited {
                    retry_after: period,
                })
            };
        };
        let started = <[u8; 8]>::try_from(current.value.as_slice())
            .map(i64::from_be_bytes)
            .unwrap_or(now);
        let left = started + period.as_secs() as i64 - now;
        // The engine's clock decides, not the store's TTL: a cooldown past its time is renewed
        // (compare-and-set: of two callers only one goes).
        if left <= 0
            && self
                .store
                .compare_and_set(&store_key, current.version, &now.to_be_bytes(), period)
                .await?
        {
            return Ok(());
        }
        counted(
            Err(Error::RateLimited {
                retry_after: Duration::from_secs(
                    left.clamp(1, period.as_secs() as i64).unsigned_abs(),
                ),
            }),
            "cooldown",
        )
    }

    /// Gives back a cooldown this request just reserved (the send it guarded did not happen).
    pub(crate) async fn release_cooldown(&self, scope: &str, key: &str) {
        if let Err(e) = self.store.delete(&cooldown_key(scope, key)).await {
            tracing::warn!(error = %e, "could not release a cooldown; it will lapse");
        }
    }

    /// A code checked for `phone`: per number *and* client address, so that a stranger's
    /// wrong codes use up only their own share and never lock the owner out (each verification
    /// has its own attempt budget besides).
    pub(crate) async fn check_phone(
        &self,
        scope: &str,
        request: &Incoming,
        phone: &PhoneNumber,
    ) -> Result<(), Error> {
        if let Some(limit) = self.config.check_per_phone {
            let key = phone_and_source(phone, self.client_ip(request));
            counted(self.limiter.check(scope, &key, limit).await, "check")?;
        }
        Ok(())
    }
}

/// The counter key of a number as seen from one client address (IPv6 by /64): a stranger's
/// requests use up only their own share of a number's limit.
pub(crate) fn phone_and_source(phone: &PhoneNumber, ip: Option<IpAddr>) -> String {
    let source = ip.map(ip_bucket).unwrap_or_default();
    format!("{}|{source}", phone.as_str())
}

/// The store key of a cooldown: the key itself never reaches the store (it may be a number).
fn cooldown_key(scope: &str, key: &str) -> String {
    format!(
        "cooldown:{scope}:{}",
        hex::encode(Sha256::digest(key.as_bytes()))
    )
}

/// `result`, with a refusal by a rate limit counted under `route`.
fn counted(result: Result<(), Error>, route: &'static str) -> Result<(), Error> {
    if matches!(result, Err(Error::RateLimited { .. })) {
        crate::telemetry::rate_limited(route);
    }
    result
}
