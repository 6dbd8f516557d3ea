//! Decoded verified sessions kept in memory between requests, so that a lookup on a hit neither
//! decodes JSON nor (with announced session ends) asks the store.
//!
//! Two ways to know an entry is still current:
//!
//! - **Checked** (every store; the only way without announcements): each lookup asks the store
//!   whether the session's version moved ([`Store::load_if_changed`](crate::store::Store)); an
//!   unchanged version means the cached decoding is the stored value. Exact, one store call.
//! - **Trusted** (when the events carry session ends across instances): no store call on a hit.
//!   Every end of a session on any instance is announced ([`SessionEndings`]) and removes the
//!   entry here; while the announcements' subscription is down nothing is trusted (the cache is
//!   emptied, and fills nothing, until it is back).
//!
//! Both ways still enforce the session's lifetimes on every hit (the entry carries its creation
//! and last-refresh times), and an entry due for its idle refresh goes back to the store.
//!
//! A fill races an announcement: a lookup reads the store, an end is announced, then the lookup
//! inserts what it read. So each fill carries the cache's *epoch* from before its read, every
//! announcement (and every loss or return of the subscription) moves the epoch, and a fill from
//! an older epoch is dropped.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use super::VerifiedPhone;
use crate::events::{EndingsSink, SessionHash};

/// Shards of the map (by the first byte of the hash), so that lookups on many threads rarely
/// meet on one lock.
const SHARDS: usize = 16;

/// One shard: decoded sessions by the hash of their id.
type Shard = HashMap<SessionHash, Arc<Cached>>;

/// One decoded session as the store held it at `version`.
#[derive(Debug)]
pub(crate) struct Cached {
    /// The store version this decoding is of.
    pub(crate) version: u64,
    pub(crate) phone: Arc<VerifiedPhone>,
    /// Unix milliseconds of creation.
    pub(crate) created_ms: i64,
    /// Unix milliseconds of the last refresh written to the store.
    pub(crate) seen_ms: i64,
}

/// How entries are known to be current.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Trust {
    /// Ask the store for the version on every lookup.
    Checked,
    /// Announced ends remove entries; no store call on a hit.
    Announced,
}

/// The cache of decoded sessions of one session manager.
pub(crate) struct SessionCache {
    shards: Box<[Mutex<Shard>]>,
    /// Entries per shard at most.
    shard_capacity: usize,
    trust: Trust,
    /// Moved by every announcement and every loss or return of the subscription.
    epoch: AtomicU64,
    /// False while announcements may be missed (trusted mode only).
    delivering: AtomicBool,
}

impl std::fmt::Debug for SessionCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionCache")
            .field("trust", &self.trust)
            .field("entries", &self.len())
            .field("capacity", &(self.shard_capacity * SHARDS))
            .finish()
    }
}

impl SessionCache {
    /// A cache of at most `capacity` sessions (rounded up to a multiple of the shard count).
    pub(crate) fn new(capacity: usize, trust: Trust) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            shard_capacity: capacity.div_ceil(SHARDS).max(1),
            trust,
            epoch: AtomicU64::new(0),
            delivering: AtomicBool::new(true),
        }
    }

    pub(crate) fn trust(&self) -> Trust {
        self.trust
    }

    fn shard(&self, hash: &SessionHash) -> MutexGuard<'_, Shard> {
        // Never held across an await; a plain map stays consistent after a panic elsewhere.
        self.shards[usize::from(hash[0]) % SHARDS]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The entry of `hash`, if any (in trusted mode, only while announcements are delivered).
    pub(crate) fn get(&self, hash: &SessionHash) -> Option<Arc<Cached>> {
        if !self.delivering.load(Ordering::Acquire) {
            return None;
        }
        self.shard(hash).get(hash).cloned()
    }

    /// The epoch to give [`insert`](Self::insert) for a fill whose store read starts now.
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Keeps `entry` for `hash`, unless something was announced since `epoch` was read (the
    /// fill may predate an end) or announcements are not delivered. A full shard first drops
    /// one entry.
    pub(crate) fn insert(&self, hash: SessionHash, entry: Cached, epoch: u64) {
        let mut shard = self.shard(&hash);
        // Read under the shard lock: an announcement removes under the same lock after moving
        // the epoch, so either it sees this entry or this sees its epoch.
        if self.epoch.load(Ordering::Acquire) != epoch || !self.delivering.load(Ordering::Acquire) {
            return;
        }
        if shard.len() >= self.shard_capacity && !shard.contains_key(&hash) {
            if let Some(victim) = shard.keys().next().copied() {
                shard.remove(&victim);
            }
        }
        shard.insert(hash, Arc::new(entry));
    }

    /// Forgets `hash` (this instance ended it, or found it gone or changed).
    pub(crate) fn remove(&self, hash: &SessionHash) {
        let mut shard = self.shard(hash);
        self.epoch.fetch_add(1, Ordering::AcqRel);
        shard.remove(hash);
    }

    fn clear(&self) {
        for shard in self.shards.iter() {
            shard
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .clear();
        }
    }

    /// Entries held now.
    pub(crate) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|shard| {
                shard
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .len()
            })
            .sum()
    }
}

impl EndingsSink for SessionCache {
    fn ended(&self, hash: &SessionHash) {
        self.remove(hash);
    }

    fn lost(&self) {
        self.delivering.store(false, Ordering::Release);
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.clear();
    }

    fn restored(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.clear();
        self.delivering.store(true, Ordering::Release);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::types::{Strategy, UseCase};
    use crate::PhoneNumber;

    fn entry(version: u64) -> Cached {
        Cached {
            version,
            phone: Arc::new(VerifiedPhone::new(
                PhoneNumber::parse("+15555550100").unwrap(),
                UseCase::VerifyPhoneNumber,
                Strategy::Ts43,
                time::OffsetDateTime::UNIX_EPOCH,
            )),
            created_ms: 0,
            seen_ms: 0,
        }
    }

    #[test]
    fn a_fill_that_predates_an_announcement_is_dropped() {
        let cache = SessionCache::new(64, Trust::Announced);
        let epoch = cache.epoch();
        cache.ended(&[1; 32]);
        cache.insert([1; 32], entry(1), epoch);
        assert!(cache.get(&[1; 32]).is_none(), "stale fill kept");
        let epoch = cache.epoch();
        cache.insert([1; 32], entry(2), epoch);
        assert_eq!(cache.get(&[1; 32]).unwrap().version, 2);
        cache.ended(&[1; 32]);
        assert!(cache.get(&[1; 32]).is_none(), "announced end kept");
    }

    #[test]
    fn nothing_is_served_or_filled_while_announcements_are_lost() {
        let cache = SessionCache::new(64, Trust::Announced);
        cache.insert([1; 32], entry(1), cache.epoch());
        cache.lost();
        assert!(cache.get(&[1; 32]).is_none());
        cache.insert([2; 32], entry(1), cache.epoch());
        cache.restored();
        assert_eq!(
            cache.len(),
            0,
            "the entries from before and during the gap are gone"
        );
        cache.insert([3; 32], entry(1), cache.epoch());
        assert!(cache.get(&[3; 32]).is_some());
    }

    #[test]
    fn debug_shows_the_trust_the_entries_and_the_capacity() {
        let cache = SessionCache::new(32, Trust::Checked);
        cache.insert([1; 32], entry(1), cache.epoch());
        assert_eq!(
            format!("{cache:?}"),
            "SessionCache { trust: Checked, entries: 1, capacity: 32 }"
        );
    }

    #[test]
    fn the_cache_is_bounded() {
        let cache = SessionCache::new(32, Trust::Checked);
        for i in 0..=255u8 {
            cache.insert([i; 32], entry(1), cache.epoch());
        }
        assert_eq!(cache.len(), 32, "two per shard");
        assert!(cache.get(&[255; 32]).is_some(), "the newest is kept");
    }
}
