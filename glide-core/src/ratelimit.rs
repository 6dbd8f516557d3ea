//! Rate limits per phone number and per client IP: fixed-window counters on top of a
//! [`Store`], so that every app instance sharing a `RedisStore` shares the counts.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), glide_core::Error> {
//! use glide_core::ratelimit::{RateLimit, RateLimiter};
//! use glide_core::store::MemoryStore;
//! use std::{sync::Arc, time::Duration};
//!
//! let limiter = RateLimiter::new(Arc::new(MemoryStore::new()), Arc::new(glide_core::clock::SystemClock));
//! let limit = RateLimit::new(2, Duration::from_secs(60));
//! limiter.check("prepare:ip", "203.0.113.7", limit).await?;
//! limiter.check("prepare:ip", "203.0.113.7", limit).await?;
//! let err = limiter.check("prepare:ip", "203.0.113.7", limit).await.unwrap_err();
//! assert_eq!(err.http_status(), 429);
//! # Ok(()) }
//! ```
//!
//! A store failure fails closed ([`Error::Store`], 503): no unlimited guessing while the
//! counters are unreachable.

use sha2::{Digest, Sha256};
use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use crate::clock::SharedClock;
use crate::error::Error;
use crate::store::Store;
use crate::PhoneNumber;

/// At most `max` events per fixed `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Events allowed per window (0 refuses everything).
    pub max: u32,
    /// The window length (at least one second is used).
    pub window: Duration,
}

impl RateLimit {
    /// `max` events per `window`.
    pub const fn new(max: u32, window: Duration) -> Self {
        Self { max, window }
    }
}

/// Which limits apply, and whom to believe about the client's address.
///
/// Defaults: starts of a flow (prepare, the legacy starts, Number Verify) 10 per phone number
/// *and client address* per 10 minutes, 50 per phone number from all addresses per 10 minutes
/// (so that one stranger cannot lock a number's owner out), and 30 per IP per minute; code checks
/// (process, complete, fallback code checks) 10 per phone number and client address per 10
/// minutes, 20 per phone number from all addresses per hour (a source that verified the number
/// in the last 30 days is held to neither total) and 60 per IP per minute; other routes that call Glide on the app's credentials (status, check-server-auth,
/// report-invocation) 300 per IP per minute; no trusted proxies (the client IP is the peer
/// address).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RateLimitConfig {
    /// Starts per phone number and client address (`None`: unlimited).
    pub prepare_per_phone: Option<RateLimit>,
    /// Starts per phone number from all addresses: the ceiling above
    /// [`prepare_per_phone`](Self::prepare_per_phone) (`None`: unlimited).
    pub prepare_per_phone_total: Option<RateLimit>,
    /// Prepares per client IP (IPv6 by /64).
    pub prepare_per_ip: Option<RateLimit>,
    /// Code checks per phone number and client address.
    pub check_per_phone: Option<RateLimit>,
    /// Code checks per phone number from all addresses: the ceiling above
    /// [`check_per_phone`](Self::check_per_phone), so that rotating addresses buys no more
    /// guesses (a source that verified the number in the last 30 days is not held to it).
    pub check_per_phone_total: Option<RateLimit>,
    /// Code checks per client IP (IPv6 by /64).
    pub check_per_ip: Option<RateLimit>,
    /// Other calls to Glide on the app's credentials (status, check-server-auth,
    /// report-invocation) per client IP.
    pub glide_calls_per_ip: Option<RateLimit>,
    /// Proxies whose `X-Forwarded-For` is believed (see [`client_ip`]).
    pub trusted_proxies: Vec<IpNet>,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            prepare_per_phone: Some(RateLimit::new(10, Duration::from_secs(600))),
            prepare_per_phone_total: Some(RateLimit::new(50, Duration::from_secs(600))),
            prepare_per_ip: Some(RateLimit::new(30, Duration::from_secs(60))),
            check_per_phone: Some(RateLimit::new(10, Duration::from_secs(600))),
            check_per_phone_total: Some(RateLimit::new(20, Duration::from_secs(3600))),
            check_per_ip: Some(RateLimit::new(60, Duration::from_secs(60))),
            glide_calls_per_ip: Some(RateLimit::new(300, Duration::from_secs(60))),
            trusted_proxies: Vec::new(),
        }
    }
}

impl RateLimitConfig {
    /// No limits at all.
    pub fn disabled() -> Self {
        Self {
            prepare_per_phone: None,
            prepare_per_phone_total: None,
            prepare_per_ip: None,
            check_per_phone: None,
            check_per_phone_total: None,
            check_per_ip: None,
            glide_calls_per_ip: None,
            trusted_proxies: Vec::new(),
        }
    }

    /// The same config, believing `X-Forwarded-For` from these proxies.
    pub fn with_trusted_proxies(mut self, proxies: impl IntoIterator<Item = IpNet>) -> Self {
        self.trusted_proxies = proxies.into_iter().collect();
        self
    }

    /// Refuses what the limiter would silently change and what lets a stranger lock an owner
    /// out, however the fields were set: a window under one second (counted as one second), a
    /// number's share per address above the number's total (one address could spend it all).
    pub(crate) fn validate(&self) -> Result<(), Error> {
        let limits = [
            ("prepare_per_phone", self.prepare_per_phone),
            ("prepare_per_phone_total", self.prepare_per_phone_total),
            ("prepare_per_ip", self.prepare_per_ip),
            ("check_per_phone", self.check_per_phone),
            ("check_per_phone_total", self.check_per_phone_total),
            ("check_per_ip", self.check_per_ip),
            ("glide_calls_per_ip", self.glide_calls_per_ip),
        ];
        for (field, limit) in limits {
            if limit.is_some_and(|l| l.window < Duration::from_secs(1)) {
                return Err(Error::Config(format!(
                    "RateLimitConfig::{field}: the window must be at least one second"
                )));
            }
        }
        if self.trusted_proxies.iter().any(|net| net.prefix == 0) {
            return Err(Error::Config(
                "RateLimitConfig::trusted_proxies: a /0 range would believe X-Forwarded-For from \
                 every client"
                    .into(),
            ));
        }
        for (share, total, field) in [
            (
                self.prepare_per_phone,
                self.prepare_per_phone_total,
                "prepare_per_phone",
            ),
            (
                self.check_per_phone,
                self.check_per_phone_total,
                "check_per_phone",
            ),
        ] {
            if let (Some(share), Some(total)) = (share, total) {
                if share.max > total.max {
                    return Err(Error::Config(format!(
                        "RateLimitConfig::{field} must not exceed the number's total ({field}_total)"
                    )));
                }
            }
        }
        Ok(())
    }

    /// The client IP of a request under this config; see [`client_ip`].
    pub fn client_ip(&self, peer: Option<IpAddr>, forwarded_for: Option<&str>) -> Option<IpAddr> {
        client_ip(peer, forwarded_for, &self.trusted_proxies)
    }
}

/// Fixed-window counters in a [`Store`]. Cheap to clone.
#[derive(Clone)]
pub struct RateLimiter {
    store: Arc<dyn Store>,
    clock: SharedClock,
}

impl fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimiter")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl RateLimiter {
    /// Counters in `store`, windows on `clock`.
    pub fn new(store: Arc<dyn Store>, clock: SharedClock) -> Self {
        Self { store, clock }
    }

    /// Counts one event for `key` in `scope` (e.g. `"prepare:phone"`), or refuses it with
    /// [`Error::RateLimited`] (429, with the time left in the window as `Retry-After`) once
    /// `limit.max` events happened in the current window. Refused events are not counted.
    ///
    /// `key` may be anything (a phone number, an IP bucket): it is hashed before it reaches the
    /// store. Store failures give [`Error::Store`] (fail closed).
    pub async fn check(&self, scope: &str, key: &str, limit: RateLimit) -> Result<(), Error> {
        let window_ms = u64::try_from(limit.window.as_millis())
            .unwrap_or(u64::MAX)
            .max(1000);
        let now_ms = unix_millis(self.clock.now());
        let index = now_ms / window_ms;
        let window_end = index.saturating_add(1).saturating_mul(window_ms);
        let left = Duration::from_millis(window_end.saturating_sub(now_ms).max(1));
        let limited = Error::RateLimited {
            retry_after: Duration::from_secs(left.as_millis().div_ceil(1000).max(1) as u64),
        };
        if limit.max == 0 {
            return Err(limited);
        }
        let store_key = format!("ratelimit:{scope}:{index}:{}", hashed(key));
        // One atomic step in the store: however many requests race on one key, exactly
        // `limit.max` of them pass in a window, and a refused one is not counted.
        match self
            .store
            .increment(&store_key, u64::from(limit.max), left)
            .await?
        {
            Some(_) => Ok(()),
            None => {
                tracing::info!(scope, "rate limit exceeded");
                Err(limited)
            }
        }
    }

    /// [`check`](Self::check) for a phone number (one bucket per number, however it was typed).
    pub async fn check_phone(
        &self,
        scope: &str,
        phone: &PhoneNumber,
        limit: RateLimit,
    ) -> Result<(), Error> {
        self.check(scope, phone.as_str(), limit).await
    }

    /// [`check`](Self::check) for a client IP, bucketed by [`ip_bucket`] (IPv6 by /64).
    pub async fn check_ip(&self, scope: &str, ip: IpAddr, limit: RateLimit) -> Result<(), Error> {
        self.check(scope, &ip_bucket(ip), limit).await
    }
}

fn unix_millis(t: time::OffsetDateTime) -> u64 {
    // Relaxing is safe: only a clock before 1970 reads as 0; each counter's TTL then still
    // holds it for a whole window.
    u64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
}

fn hashed(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// The rate-limit bucket of an address: IPv4 as is (IPv4-mapped IPv6 too), IPv6 by its /64
/// (one customer usually holds a whole /64).
///
/// ```
/// use glide_core::ratelimit::ip_bucket;
/// assert_eq!(ip_bucket("2001:db8:1:2:aaaa::1".parse().unwrap()), "2001:db8:1:2::/64");
/// assert_eq!(ip_bucket("::ffff:203.0.113.7".parse().unwrap()), "203.0.113.7");
/// ```
pub fn ip_bucket(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                let net = Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
                format!("{net}/64")
            }
        },
    }
}

/// The client's address: the peer, unless the peer is a trusted proxy, in which case the
/// right-most address of `X-Forwarded-For` that is not itself a trusted proxy.
///
/// `X-Forwarded-For` from an untrusted peer is ignored (anyone can send one). Pass every
/// `X-Forwarded-For` header of the request joined with `,`. An unparsable entry stops the walk:
/// the last trusted address is used then.
///
/// ```
/// use glide_core::ratelimit::{client_ip, IpNet};
/// let proxies: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
/// let peer = Some("10.1.2.3".parse().unwrap());
/// let xff = Some("6.6.6.6, 198.51.100.4, 10.0.0.9");
/// assert_eq!(client_ip(peer, xff, &proxies), Some("198.51.100.4".parse().unwrap()));
/// // From an untrusted peer the header is ignored.
/// let direct = Some("198.51.100.9".parse().unwrap());
/// assert_eq!(client_ip(direct, xff, &proxies), direct);
/// ```
pub fn client_ip(
    peer: Option<IpAddr>,
    forwarded_for: Option<&str>,
    trusted_proxies: &[IpNet],
) -> Option<IpAddr> {
    let peer = peer?;
    let trusted = |ip: &IpAddr| trusted_proxies.iter().any(|net| net.contains(*ip));
    if !trusted(&peer) {
        return Some(peer);
    }
    let mut client = peer;
    for entry in forwarded_for.unwrap_or("").rsplit(',') {
        let Some(ip) = parse_forwarded_entry(entry.trim()) else {
            break;
        };
        client = ip;
        if !trusted(&ip) {
            break;
        }
    }
    Some(client)
}

/// `203.0.113.7`, `203.0.113.7:4711`, `2001:db8::1`, `[2001:db8::1]:4711`.
fn parse_forwarded_entry(entry: &str) -> Option<IpAddr> {
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Some(rest) = entry.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    let (host, port) = entry.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

/// An address range, `10.0.0.0/8`, `2001:db8::/32`, or a single address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

/// Why an [`IpNet`] could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid address range {0:?}: expected an IP address with an optional /prefix")]
pub struct IpNetError(String);

impl IpNet {
    /// The range of `addr` with `prefix` leading bits (clamped to 32 / 128).
    pub fn new(addr: IpAddr, prefix: u8) -> Self {
        let max = if addr.is_ipv4() { 32 } else { 128 };
        Self {
            addr,
            prefix: prefix.min(max),
        }
    }

    /// Whether `ip` is inside the range (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                // A /0 shifts by the full width: its mask is 0, the whole space, as written.
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                // A /0 shifts by the full width: its mask is 0, the whole space, as written.
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for IpNet {
    type Err = IpNetError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || IpNetError(s.to_owned());
        let (addr, prefix) = match s.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (s, None),
        };
        let addr: IpAddr = addr.trim().parse().map_err(|_| err())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(err)?,
            None => max,
        };
        Ok(Self { addr, prefix })
    }
}

impl From<IpAddr> for IpNet {
    fn from(addr: IpAddr) -> Self {
        Self::new(addr, 128)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::store::MemoryStore;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn limiter() -> (RateLimiter, ManualClock) {
        let clock = ManualClock::at(time::macros::datetime!(2030-01-01 00:00:00 UTC));
        let shared: SharedClock = Arc::new(clock.clone());
        let store = MemoryStore::new().with_clock(shared.clone());
        (RateLimiter::new(Arc::new(store), shared), clock)
    }

    #[tokio::test]
    async fn counts_per_key_and_window_with_retry_after() {
        let (limiter, clock) = limiter();
        let limit = RateLimit::new(3, Duration::from_secs(60));
        clock.advance(time::Duration::seconds(15));
        for _ in 0..3 {
            limiter.check("s", "a", limit).await.unwrap();
        }
        let err = limiter.check("s", "a", limit).await.unwrap_err();
        assert_eq!(
            (err.http_status(), err.code()),
            (429, "RATE_LIMIT_EXCEEDED")
        );
        assert_eq!(err.retry_after(), Some(Duration::from_secs(45)));
        // Another key and another scope have their own counters.
        limiter.check("s", "b", limit).await.unwrap();
        limiter.check("t", "a", limit).await.unwrap();
        // The next window starts afresh.
        clock.advance(time::Duration::seconds(44));
        assert!(limiter.check("s", "a", limit).await.is_err());
        clock.advance(time::Duration::seconds(1));
        limiter.check("s", "a", limit).await.unwrap();
    }

    #[tokio::test]
    async fn a_number_has_one_bucket_however_it_was_typed() {
        let (limiter, _clock) = limiter();
        let limit = RateLimit::new(2, Duration::from_secs(60));
        let typed = PhoneNumber::parse_lenient("+1 (555) 555-0100").unwrap();
        let plain = PhoneNumber::parse("+15555550100").unwrap();
        limiter.check_phone("s", &typed, limit).await.unwrap();
        limiter.check_phone("s", &plain, limit).await.unwrap();
        let err = limiter.check_phone("s", &typed, limit).await.unwrap_err();
        assert_eq!(err.code(), "RATE_LIMIT_EXCEEDED");
        let other = PhoneNumber::parse("+15555550101").unwrap();
        limiter.check_phone("s", &other, limit).await.unwrap();
    }

    #[tokio::test]
    async fn concurrent_checks_never_exceed_the_limit() {
        let (limiter, _clock) = limiter();
        let limit = RateLimit::new(10, Duration::from_secs(60));
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let limiter = limiter.clone();
                tokio::spawn(async move { limiter.check("s", "k", limit).await.is_ok() })
            })
            .collect();
        let mut allowed = 0;
        for t in tasks {
            allowed += usize::from(t.await.unwrap());
        }
        assert_eq!(
            allowed, 10,
            "exactly the limit passes, none lost to contention"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_limit_out_of_reach_never_refuses_under_contention() {
        // Many users behind one NAT address: with the limit out of reach, none is refused.
        let (limiter, _clock) = limiter();
        let limit = RateLimit::new(u32::MAX, Duration::from_secs(60));
        let tasks: Vec<_> = (0..200)
            .map(|_| {
                let limiter = limiter.clone();
                tokio::spawn(async move { limiter.check("s", "k", limit).await.is_ok() })
            })
            .collect();
        for t in tasks {
            assert!(t.await.unwrap());
        }
    }

    #[tokio::test]
    async fn zero_refuses_and_store_failure_fails_closed() {
        let (limiter, _clock) = limiter();
        assert!(limiter
            .check("s", "k", RateLimit::new(0, Duration::from_secs(1)))
            .await
            .is_err());
        let full = RateLimiter::new(
            Arc::new(MemoryStore::with_capacity(0)),
            Arc::new(crate::clock::SystemClock),
        );
        let err = full
            .check("s", "k", RateLimit::new(5, Duration::from_secs(1)))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Store(_)));
        assert_eq!(err.http_status(), 503);
    }

    #[tokio::test]
    async fn ipv6_shares_a_slash_64() {
        let (limiter, _clock) = limiter();
        let limit = RateLimit::new(1, Duration::from_secs(60));
        limiter
            .check_ip("ip", ip("2001:db8:0:1::1"), limit)
            .await
            .unwrap();
        assert!(limiter
            .check_ip("ip", ip("2001:db8:0:1:ffff::2"), limit)
            .await
            .is_err());
        limiter
            .check_ip("ip", ip("2001:db8:0:2::1"), limit)
            .await
            .unwrap();
    }

    #[test]
    fn spoofed_forwarded_for_from_untrusted_peer_is_ignored() {
        let proxies: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap(), "::1".parse().unwrap()];
        let attacker = Some(ip("198.51.100.66"));
        for xff in [Some("1.2.3.4"), Some("10.0.0.1"), Some("garbage"), None] {
            assert_eq!(client_ip(attacker, xff, &proxies), attacker, "{xff:?}");
        }
        // No proxies configured: the header is never believed.
        assert_eq!(
            client_ip(Some(ip("10.0.0.1")), Some("1.2.3.4"), &[]),
            Some(ip("10.0.0.1"))
        );
        assert_eq!(client_ip(None, Some("1.2.3.4"), &proxies), None);
    }

    #[test]
    fn a_config_believes_forwarded_for_only_from_its_proxies() {
        let behind_proxy = RateLimitConfig::default()
            .with_trusted_proxies(["10.0.0.0/8".parse::<IpNet>().unwrap()]);
        let proxy = Some(ip("10.0.0.2"));
        assert_eq!(
            behind_proxy.client_ip(proxy, Some("203.0.113.5")),
            Some(ip("203.0.113.5"))
        );
        // The same header from a peer that is not a configured proxy is the peer's own claim.
        let stranger = Some(ip("198.51.100.66"));
        assert_eq!(
            behind_proxy.client_ip(stranger, Some("203.0.113.5")),
            stranger
        );
        // The default config trusts no proxy.
        assert_eq!(
            RateLimitConfig::default().client_ip(proxy, Some("203.0.113.5")),
            proxy
        );
    }

    #[test]
    fn disabled_has_no_limit_and_default_has_every_limit() {
        let off = RateLimitConfig::disabled();
        let limits = |c: &RateLimitConfig| {
            [
                c.prepare_per_phone,
                c.prepare_per_phone_total,
                c.prepare_per_ip,
                c.check_per_phone,
                c.check_per_ip,
                c.glide_calls_per_ip,
            ]
        };
        assert!(limits(&off).iter().all(Option::is_none), "{off:?}");
        assert!(limits(&RateLimitConfig::default())
            .iter()
            .all(Option::is_some));
    }

    #[test]
    fn debug_names_the_limiter_and_its_store() {
        let (limiter, _) = limiter();
        let text = format!("{limiter:?}");
        assert!(text.starts_with("RateLimiter { store: "), "{text}");
    }

    #[test]
    fn trusted_chain_takes_the_rightmost_untrusted() {
        let proxies: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap(), "::1".parse().unwrap()];
        let proxy = Some(ip("10.0.0.2"));
        // The client prepended a fake entry; the real one is right-most untrusted.
        assert_eq!(
            client_ip(proxy, Some("6.6.6.6, 203.0.113.5, 10.0.0.3"), &proxies),
            Some(ip("203.0.113.5"))
        );
        assert_eq!(
            client_ip(Some(ip("::1")), Some("[2001:db8::5]:4711"), &proxies),
            Some(ip("2001:db8::5"))
        );
        assert_eq!(
            client_ip(proxy, Some("203.0.113.5:1234"), &proxies),
            Some(ip("203.0.113.5"))
        );
        // Only proxies, or junk: the last trusted hop.
        assert_eq!(
            client_ip(proxy, Some("10.0.0.4"), &proxies),
            Some(ip("10.0.0.4"))
        );
        assert_eq!(
            client_ip(proxy, Some("junk, 10.0.0.4"), &proxies),
            Some(ip("10.0.0.4"))
        );
        assert_eq!(client_ip(proxy, None, &proxies), proxy);
    }

    #[test]
    fn ip_nets_parse_and_match() {
        let net: IpNet = "192.168.0.0/16".parse().unwrap();
        assert!(net.contains(ip("192.168.7.1")));
        assert!(net.contains(ip("::ffff:192.168.7.1")));
        assert!(!net.contains(ip("192.169.0.1")));
        assert!(!net.contains(ip("2001:db8::1")));
        let all: IpNet = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("8.8.8.8")));
        let v6: IpNet = "2001:db8::/32".parse().unwrap();
        assert!(v6.contains(ip("2001:db8:ffff::1")));
        assert!(!v6.contains(ip("2001:db9::1")));
        for bad in ["", "10.0.0.0/33", "nope", "10.0.0.0/x", "::/129"] {
            assert!(bad.parse::<IpNet>().is_err(), "{bad}");
        }
    }
}
