//! The rate limits every flow draws on: who the client is, and the counters per route kind.

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
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

/// The source bucket of every request whose client address is unknown (no peer address from
/// the adapter): they share one bucket, so that they can neither slip past the per-source
/// limits nor spend the share of a number that belongs to clients with an address.
const UNKNOWN_SOURCE: &str = "unknown";

/// How long a source that verified a number stays exempt from that number's totals.
const GOOD_SOURCE_MEMORY: Duration = Duration::from_secs(30 * 24 * 3600);

/// The configured limits and their counters.
#[derive(Debug)]
pub(crate) struct Limits {
    pub(crate) config: RateLimitConfig,
    pub(crate) limiter: RateLimiter,
    /// Counters, cooldowns and the sources in good standing: never the evicting pending store,
    /// where a flood of starts would evict an exhausted counter back to zero.
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: SharedClock,
    /// Whether the warning about a request without a client address was logged.
    pub(crate) warned_unknown_source: AtomicBool,
}

impl Limits {
    /// Limits under `config`, counting in `store`.
    pub(crate) fn new(config: RateLimitConfig, store: Arc<dyn Store>, clock: SharedClock) -> Self {
        Self {
            config,
            limiter: RateLimiter::new(store.clone(), clock.clone()),
            store,
            clock,
            warned_unknown_source: AtomicBool::new(false),
        }
    }

    /// The client's address: the peer, or `X-Forwarded-For` from a trusted proxy.
    pub(crate) fn client_ip(&self, request: &Incoming) -> Option<IpAddr> {
        self.config
            .client_ip(request.peer, forwarded_for(request).as_deref())
    }

    /// The bucket the client's requests are counted in: its address (IPv6 by /64), or the one
    /// shared bucket of requests without an address (logged loudly, once).
    pub(crate) fn source(&self, request: &Incoming) -> String {
        match self.client_ip(request) {
            Some(ip) => ip_bucket(ip),
            None => {
                if !self.warned_unknown_source.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        target: "glide::ratelimit",
                        "a request reached glide-rs without a client address: every such request \
                         shares one rate-limit bucket. Serve axum with \
                         `into_make_service_with_connect_info::<SocketAddr>()` (actix-web has the \
                         peer address), or put a `PeerAddr` into the request's extensions"
                    );
                }
                UNKNOWN_SOURCE.to_owned()
            }
        }
    }

    /// A start of a flow (`scope`: `prepare`, `legacy_start`, …): per client source; per
    /// number *and* source (a stranger exhausts only their own share of a number); per number
    /// from everywhere, a higher ceiling that a source which verified the number before does
    /// not hit. Call it once the request is known to be valid: a refused request spends none of
    /// the number's budget.
    pub(crate) async fn start(
        &self,
        scope: &str,
        request: &Incoming,
        phone: Option<&PhoneNumber>,
    ) -> Result<(), Error> {
        let source = self.source(request);
        if let Some(limit) = self.config.prepare_per_ip {
            counted(self.limiter.check(scope, &source, limit).await, "start")?;
        }
        let Some(phone) = phone else {
            return Ok(());
        };
        if let Some(limit) = self.config.prepare_per_phone {
            let key = phone_and_source(phone, &source);
            counted(
                self.limiter
                    .check(&format!("{scope}:phone_source"), &key, limit)
                    .await,
                "start",
            )?;
        }
        if let Some(limit) = self.config.prepare_per_phone_total {
            self.total(&format!("{scope}:phone"), phone, &source, limit, "start")
                .await?;
        }
        Ok(())
    }

    /// Another call to Glide on the app's credentials (status, check-server-auth,
    /// report-invocation): per client source.
    pub(crate) async fn glide_call(&self, request: &Incoming) -> Result<(), Error> {
        if let Some(limit) = self.config.glide_calls_per_ip {
            let source = self.source(request);
            counted(
                self.limiter.check("glide_call", &source, limit).await,
                "glide_call",
            )?;
        }
        Ok(())
    }

    /// A request that checks a code or a credential: per client source.
    pub(crate) async fn check(&self, request: &Incoming) -> Result<(), Error> {
        if let Some(limit) = self.config.check_per_ip {
            let source = self.source(request);
            counted(self.limiter.check("check", &source, limit).await, "check")?;
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
        // A value that is not a start time is read as "started now": the cooldown holds its
        // whole period (never relaxed by a damaged record).
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

    /// A code checked for `phone`: per number *and* client source, so that a stranger's wrong
    /// codes use up only their own share; and per number from every source, so that rotating
    /// addresses buys no more guesses than the number's total budget (a source that verified the
    /// number before is not held to that total). Each verification has its own attempt budget
    /// besides.
    pub(crate) async fn check_phone(
        &self,
        scope: &str,
        request: &Incoming,
        phone: &PhoneNumber,
    ) -> Result<(), Error> {
        let source = self.source(request);
        if let Some(limit) = self.config.check_per_phone {
            let key = phone_and_source(phone, &source);
            counted(self.limiter.check(scope, &key, limit).await, "check")?;
        }
        if let Some(limit) = self.config.check_per_phone_total {
            self.total(&format!("{scope}:phone"), phone, &source, limit, "check")
                .await?;
        }
        Ok(())
    }

    /// Remembers that `request`'s source verified `phone` (for 30 days): its starts and checks
    /// of that number are then not held to the number's totals, which a stranger with many
    /// addresses can spend. Requests without an address are never remembered.
    pub(crate) async fn remember_good_source(&self, request: &Incoming, phone: &PhoneNumber) {
        let source = self.source(request);
        if source == UNKNOWN_SOURCE {
            return;
        }
        let key = good_source_key(phone, &source);
        // Not remembering only keeps this source under the totals: stricter, never looser.
        if let Err(e) = self.store.create(&key, b"1", GOOD_SOURCE_MEMORY).await {
            tracing::warn!(error = %e, "could not remember a verifying source");
        }
    }

    /// One draw from `phone`'s total in `scope`; once it is spent, only a source in good
    /// standing for the number goes on (looked up only then: no store call on the usual path).
    async fn total(
        &self,
        scope: &str,
        phone: &PhoneNumber,
        source: &str,
        limit: crate::ratelimit::RateLimit,
        route: &'static str,
    ) -> Result<(), Error> {
        match self.limiter.check_phone(scope, phone, limit).await {
            Err(Error::RateLimited { retry_after }) => {
                if source != UNKNOWN_SOURCE
                    && self
                        .store
                        .load(&good_source_key(phone, source))
                        .await?
                        .is_some()
                {
                    return Ok(());
                }
                counted(Err(Error::RateLimited { retry_after }), route)
            }
            other => other,
        }
    }
}

/// Every `X-Forwarded-For` line of the request, joined with `,` as [`client_ip`] reads them: a
/// proxy that adds a line of its own (rather than appending to the client's) must not leave the
/// client's forged first line the only one read. A line that is not text gives `None` (the
/// request then counts under the peer's own address).
///
/// [`client_ip`]: crate::ratelimit::client_ip
fn forwarded_for(request: &Incoming) -> Option<std::borrow::Cow<'_, str>> {
    let mut lines = request.headers.get_all(X_FORWARDED_FOR).iter();
    let first = lines.next()?.to_str().ok()?;
    let Some(second) = lines.next() else {
        return Some(std::borrow::Cow::Borrowed(first));
    };
    let mut joined = format!("{first},{}", second.to_str().ok()?);
    for line in lines {
        joined.push(',');
        joined.push_str(line.to_str().ok()?);
    }
    Some(std::borrow::Cow::Owned(joined))
}

/// The counter key of a number as seen from one source bucket: a stranger's requests use up
/// only their own share of a number's limit.
pub(crate) fn phone_and_source(phone: &PhoneNumber, source: &str) -> String {
    format!("{}|{source}", phone.as_str())
}

/// The store key of a source in good standing for a number (neither reaches the store raw).
fn good_source_key(phone: &PhoneNumber, source: &str) -> String {
    format!(
        "good_source:{}",
        hex::encode(Sha256::digest(phone_and_source(phone, source).as_bytes()))
    )
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
