//! Where flows, verified sessions and counters live between requests.
//!
//! A [`Store`] is a small key-value interface with the atomic operations the flow engine needs:
//! create-if-absent, compare-and-set on a version number, take (atomic get-and-delete), and a
//! bounded counter with a fixed expiry (for rate limits).
//! Values are opaque bytes; every entry has a time to live. [`MemoryStore`] (one process) is the
//! default; `RedisStore` (feature `redis`) serves many app instances, on one Redis node or a
//! Redis Cluster (`RedisTarget` says which, e.g. from `GLIDE_REDIS_CLUSTER_URLS` /
//! `GLIDE_REDIS_URL`).

use async_trait::async_trait;
use std::fmt;
use std::time::Duration;

use crate::error::BoxError;
use crate::events::SessionEndings;

mod json;
mod memory;
pub(crate) use json::{from_json, to_json};
pub use memory::MemoryStore;

#[cfg(feature = "redis")]
mod redis;
#[cfg(feature = "redis")]
pub(crate) mod redis_conn;
#[cfg(feature = "redis")]
mod redis_target;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use self::redis::{RedisStore, RedisTimeouts};
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use self::redis_target::{RedisTarget, REDIS_CLUSTER_URLS_VAR, REDIS_URL_VAR};

/// A stored value and its version. Versions start at 1 and grow by one with every
/// successful [`Store::compare_and_set`].
#[derive(Clone, PartialEq, Eq)]
pub struct Versioned {
    /// The stored bytes.
    pub value: Vec<u8>,
    /// The version of these bytes.
    pub version: u64,
}

impl fmt::Debug for Versioned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Versioned")
            .field("value", &format_args!("<{} bytes>", self.value.len()))
            .field("version", &self.version)
            .finish()
    }
}

/// What [`Store::load_if_changed`] found at a key.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Freshness {
    /// The live value is still at the version the caller knows.
    Unchanged,
    /// The live value is at another version: here it is.
    Changed(Versioned),
    /// No live value.
    Missing,
}

/// A store failure. The operation had no effect.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The backend could not be reached or answered an error.
    #[error("store backend unavailable")]
    Backend(#[source] BoxError),
    /// The operation did not finish in time.
    #[error("store operation timed out")]
    Timeout,
    /// A bounded store is full.
    #[error("store is full")]
    Full,
    /// A stored value could not be decoded.
    #[error("stored value could not be decoded")]
    Decode(#[source] BoxError),
}

/// The storage interface of glide-core. Object safe: the engine holds an `Arc<dyn Store>`.
///
/// Every method is atomic with respect to the others on the same key. Expired entries are never
/// returned.
#[async_trait]
pub trait Store: fmt::Debug + Send + Sync + 'static {
    /// Stores `value` at version 1 unless `key` already holds a live value. Returns whether it
    /// was stored.
    async fn create(&self, key: &str, value: &[u8], ttl: Duration) -> Result<bool, StoreError>;

    /// The live value at `key`.
    async fn load(&self, key: &str) -> Result<Option<Versioned>, StoreError>;

    /// The live value at `key` unless it is still at `version` (then only
    /// [`Freshness::Unchanged`]): how a cache of decoded values checks that an entry is current
    /// without copying the bytes it already holds. The default calls [`load`](Self::load).
    async fn load_if_changed(&self, key: &str, version: u64) -> Result<Freshness, StoreError> {
        Ok(match self.load(key).await? {
            None => Freshness::Missing,
            Some(stored) if stored.version == version => Freshness::Unchanged,
            Some(stored) => Freshness::Changed(stored),
        })
    }

    /// For a store that only this process can reach ([`MemoryStore`]): the feed on which every
    /// session manager sharing it announces the sessions it ends, so that each can trust its
    /// cache of decoded sessions without asking the store. `None` (the default) for a store
    /// other processes share: their announcements travel on the events instead
    /// ([`FlowEvents::session_endings`](crate::events::FlowEvents::session_endings)).
    fn session_endings(&self) -> Option<SessionEndings> {
        None
    }

    /// Replaces the value at `key` with `value` at version `expected_version + 1`, and sets its
    /// time to live to `ttl`, only if the live value is at `expected_version`. Returns whether it
    /// was replaced; a missing or expired key gives `false`.
    async fn compare_and_set(
        &self,
        key: &str,
        expected_version: u64,
        value: &[u8],
        ttl: Duration,
    ) -> Result<bool, StoreError>;

    /// Removes the live value at `key` and returns it; exactly one of many concurrent callers
    /// gets it.
    async fn take(&self, key: &str) -> Result<Option<Versioned>, StoreError>;

    /// Removes `key`. Removing a missing key is not an error.
    async fn delete(&self, key: &str) -> Result<(), StoreError>;

    /// Adds one to the counter at `key` unless it already reached `max`, in one atomic step,
    /// and returns the new count; `None` when the counter is at `max` (nothing was counted).
    ///
    /// A missing or expired counter starts from zero and lives for `ttl` from this call; later
    /// increments keep that expiry (a fixed window). However many callers race, none is lost
    /// and none is refused below `max`: of `n` increments in one window, `min(n, max)` succeed.
    /// Counters are their own kind of value: reading or writing a counter's key with the other
    /// methods is unspecified.
    async fn increment(
        &self,
        key: &str,
        max: u64,
        ttl: Duration,
    ) -> Result<Option<u64>, StoreError>;
}
