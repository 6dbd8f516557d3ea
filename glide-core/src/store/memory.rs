//! The in-process store.

use async_trait::async_trait;
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use time::OffsetDateTime;

use super::{Freshness, Store, StoreError, Versioned};
use crate::clock::{SharedClock, SystemClock};
use crate::events::SessionEndings;

/// How many entries a [`MemoryStore`] holds by default.
const DEFAULT_CAPACITY: usize = 100_000;

/// Expired entries are swept after this many writes (and when the store is full: see
/// [`State::make_room`]).
const SWEEP_EVERY_WRITES: u64 = 1024;

/// The default store: a bounded map in this process's memory.
///
/// - Single process only: two app instances behind one load balancer need `RedisStore`
///   (feature `redis`).
/// - Bounded: when [`capacity`](MemoryStore::with_capacity) live entries exist, new keys are
///   refused with [`StoreError::Full`] (after sweeping expired entries), or, for a store made
///   [`evicting_oldest`](MemoryStore::evicting_oldest), the oldest entry makes room.
/// - Expired entries are invisible at once and removed opportunistically (every 1024 writes, and
///   when the store is full: before refusing a key, or, for an evicting store, at most once per
///   `capacity / 16` writes).
/// - Expiry follows a [`Clock`](crate::clock::Clock), so tests can move time by hand with
///   [`with_clock`](MemoryStore::with_clock).
/// - Cheap to clone: clones share the same map.
///
/// ```
/// # tokio_test_block(async {
/// use glide_core::store::{MemoryStore, Store};
/// use std::time::Duration;
///
/// let store = MemoryStore::new();
/// assert!(store.create("k", b"v", Duration::from_secs(60)).await?);
/// assert!(!store.create("k", b"other", Duration::from_secs(60)).await?);
/// let v = store.take("k").await?.expect("live");
/// assert_eq!((v.value.as_slice(), v.version), (&b"v"[..], 1));
/// assert!(store.take("k").await?.is_none());
/// # Ok::<(), glide_core::store::StoreError>(())
/// # });
/// # fn tokio_test_block<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().build().expect("rt").block_on(f)
/// # }
/// ```
#[derive(Clone)]
pub struct MemoryStore {
    inner: Arc<Inner>,
}

struct Inner {
    state: Mutex<State>,
    /// Where the session managers sharing this store announce the sessions they end.
    endings: SessionEndings,
    capacity: usize,
    /// When full: evict the oldest entry (`true`) or refuse the new one (`false`).
    evict_oldest: bool,
    clock: SharedClock,
}

#[derive(Default)]
struct State {
    entries: HashMap<String, Entry>,
    writes: u64,
    /// Keys in insertion order with the sequence number they were inserted under (an entry
    /// removed or re-inserted since leaves a stale pair, skipped and compacted lazily).
    order: VecDeque<(u64, String)>,
    next_seq: u64,
    /// `writes` at the last sweep.
    swept_at: u64,
    /// Sweeps so far (what the tests count).
    sweeps: u64,
}

struct Entry {
    value: Vec<u8>,
    version: u64,
    expires_at: OffsetDateTime,
    seq: u64,
}

impl Entry {
    fn is_live(&self, now: OffsetDateTime) -> bool {
        now < self.expires_at
    }

    fn versioned(&self) -> Versioned {
        Versioned {
            value: self.value.clone(),
            version: self.version,
        }
    }
}

impl MemoryStore {
    /// An empty store holding at most 100 000 entries, on the system clock.
    pub fn new() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }

    /// An empty store holding at most `capacity` live entries.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                state: Mutex::new(State::default()),
                endings: SessionEndings::new(),
                capacity,
                evict_oldest: false,
                clock: Arc::new(SystemClock),
            }),
        }
    }

    /// The same store, making room when full by evicting its oldest entry (after sweeping
    /// expired ones) instead of refusing the new one: for unauthenticated, short-lived state
    /// (prepared flows, pending code verifications), which a flood must not be able to pin so
    /// that nobody else can start a flow.
    ///
    /// Meant for construction time, like [`with_clock`](Self::with_clock).
    pub fn evicting_oldest(self) -> Self {
        let state = std::mem::take(&mut *self.inner.lock());
        Self {
            inner: Arc::new(Inner {
                state: Mutex::new(state),
                endings: SessionEndings::new(),
                capacity: self.inner.capacity,
                evict_oldest: true,
                clock: self.inner.clock.clone(),
            }),
        }
    }

    /// The same store, with expiry following `clock` (a `ManualClock` in tests).
    ///
    /// Meant for construction time: the returned store no longer shares its map with clones
    /// made before this call.
    pub fn with_clock(self, clock: SharedClock) -> Self {
        let state = std::mem::take(&mut *self.inner.lock());
        Self {
            inner: Arc::new(Inner {
                state: Mutex::new(state),
                endings: SessionEndings::new(),
                capacity: self.inner.capacity,
                evict_oldest: self.inner.evict_oldest,
                clock,
            }),
        }
    }

    /// The number of entries held, including expired ones not yet swept.
    pub fn len(&self) -> usize {
        self.inner.lock().entries.len()
    }

    /// Whether the store holds no entries at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes every expired entry now.
    pub fn sweep(&self) {
        let now = self.inner.clock.now();
        self.inner.lock().sweep(now);
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("len", &self.len())
            .field("capacity", &self.inner.capacity)
            .finish_non_exhaustive()
    }
}

impl Inner {
    /// Locks the map. The lock is never held across an await, so a poisoned lock only means a
    /// panic elsewhere mid-update of a plain map; the map itself is still consistent.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl State {
    fn sweep(&mut self, now: OffsetDateTime) {
        self.entries.retain(|_, entry| entry.is_live(now));
        self.swept_at = self.writes;
        self.sweeps = self.sweeps.wrapping_add(1);
    }

    /// Counts a write and sweeps every [`SWEEP_EVERY_WRITES`] writes.
    fn note_write(&mut self, now: OffsetDateTime) {
        self.writes = self.writes.wrapping_add(1);
        if self.writes.is_multiple_of(SWEEP_EVERY_WRITES) {
            self.sweep(now);
        }
    }

    fn live(&self, key: &str, now: OffsetDateTime) -> Option<&Entry> {
        self.entries.get(key).filter(|entry| entry.is_live(now))
    }

    /// Makes room for a new `key`: nothing to do below `capacity`; else expired entries are
    /// swept, and if still full the oldest entry is evicted (`evict_oldest`) or the new key is
    /// refused with [`StoreError::Full`].
    ///
    /// A sweep scans the whole map under the lock, so a full evicting store sweeps at most once
    /// per `capacity / 16` writes and otherwise just evicts: a flood of new keys (unauthenticated
    /// starts into the pending store) costs each O(1), not a scan of every entry. (Found by the
    /// `cookie` fuzz target: once its pending store held 100 000 flows, every prepare swept them
    /// all, and the target fell from 2 600 to 150 inputs a second.)
    fn make_room(
        &mut self,
        key: &str,
        capacity: usize,
        evict_oldest: bool,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        if self.entries.contains_key(key) || self.entries.len() < capacity {
            return Ok(());
        }
        let sweep_due = self.writes.wrapping_sub(self.swept_at) >= (capacity as u64 / 16).max(1);
        if !evict_oldest || sweep_due {
            self.sweep(now);
        }
        while self.entries.len() >= capacity {
            if !evict_oldest {
                return Err(StoreError::Full);
            }
            let Some((seq, oldest)) = self.order.pop_front() else {
                return Err(StoreError::Full);
            };
            if self.entries.get(&oldest).is_some_and(|e| e.seq == seq) {
                self.entries.remove(&oldest);
            }
        }
        Ok(())
    }

    /// Inserts (or replaces) `key` as the newest entry.
    fn insert(&mut self, key: &str, value: Vec<u8>, expires_at: OffsetDateTime) {
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        self.entries.insert(
            key.to_owned(),
            Entry {
                value,
                version: 1,
                expires_at,
                seq,
            },
        );
        self.order.push_back((seq, key.to_owned()));
        // Stale pairs (entries taken, deleted or swept) are dropped once they outnumber the
        // live ones, so the queue stays within twice the map.
        if self.order.len() > 2 * self.entries.len() + 64 {
            let entries = &self.entries;
            self.order
                .retain(|(seq, key)| entries.get(key).is_some_and(|e| e.seq == *seq));
        }
    }
}

/// The instant `ttl` after `now`; a zero TTL counts as one millisecond (as in Redis, where
/// `PX 0` is refused), an absurdly large one as "far future".
fn deadline(now: OffsetDateTime, ttl: Duration) -> OffsetDateTime {
    let ttl = ttl.max(Duration::from_millis(1));
    time::Duration::try_from(ttl)
        .ok()
        .and_then(|ttl| now.checked_add(ttl))
        .unwrap_or_else(|| {
            // Far enough for any store entry; `checked_add` of 100 years cannot overflow from a
            // realistic clock, and if it did the entry simply never expires.
            now.checked_add(time::Duration::days(36_500)).unwrap_or(now)
        })
}

#[async_trait]
impl Store for MemoryStore {
    async fn create(&self, key: &str, value: &[u8], ttl: Duration) -> Result<bool, StoreError> {
        let now = self.inner.clock.now();
        let mut state = self.inner.lock();
        if state.live(key, now).is_some() {
            return Ok(false);
        }
        state.make_room(key, self.inner.capacity, self.inner.evict_oldest, now)?;
        state.insert(key, value.to_vec(), deadline(now, ttl));
        state.note_write(now);
        Ok(true)
    }

    async fn load(&self, key: &str) -> Result<Option<Versioned>, StoreError> {
        let now = self.inner.clock.now();
        Ok(self.inner.lock().live(key, now).map(Entry::versioned))
    }

    fn session_endings(&self) -> Option<SessionEndings> {
        Some(self.inner.endings.clone())
    }

    async fn load_if_changed(&self, key: &str, version: u64) -> Result<Freshness, StoreError> {
        let now = self.inner.clock.now();
        Ok(match self.inner.lock().live(key, now) {
            None => Freshness::Missing,
            Some(entry) if entry.version == version => Freshness::Unchanged,
            Some(entry) => Freshness::Changed(entry.versioned()),
        })
    }

    async fn compare_and_set(
        &self,
        key: &str,
        expected_version: u64,
        value: &[u8],
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let now = self.inner.clock.now();
        let mut state = self.inner.lock();
        let Some(entry) = state
            .entries
            .get_mut(key)
            .filter(|entry| entry.is_live(now) && entry.version == expected_version)
        else {
            return Ok(false);
        };
        entry.value = value.to_vec();
        entry.version = expected_version.wrapping_add(1);
        entry.expires_at = deadline(now, ttl);
        state.note_write(now);
        Ok(true)
    }

    async fn take(&self, key: &str) -> Result<Option<Versioned>, StoreError> {
        let now = self.inner.clock.now();
        let entry = self.inner.lock().entries.remove(key);
        Ok(entry
            .filter(|entry| entry.is_live(now))
            .map(|entry| Versioned {
                value: entry.value,
                version: entry.version,
            }))
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.inner.lock().entries.remove(key);
        Ok(())
    }

    async fn increment(
        &self,
        key: &str,
        max: u64,
        ttl: Duration,
    ) -> Result<Option<u64>, StoreError> {
        let now = self.inner.clock.now();
        let mut state = self.inner.lock();
        if let Some(entry) = state
            .entries
            .get_mut(key)
            .filter(|entry| entry.is_live(now))
        {
            let count = <[u8; 8]>::try_from(entry.value.as_slice())
                .map(u64::from_be_bytes)
                .map_err(|_| StoreError::Decode("the value at this key is not a counter".into()))?;
            if count >= max {
                return Ok(None);
            }
            let count = count.saturating_add(1);
            entry.value = count.to_be_bytes().to_vec();
            return Ok(Some(count));
        }
        if max == 0 {
            return Ok(None);
        }
        state.make_room(key, self.inner.capacity, self.inner.evict_oldest, now)?;
        state.insert(key, 1u64.to_be_bytes().to_vec(), deadline(now, ttl));
        state.note_write(now);
        Ok(Some(1))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    #[tokio::test]
    async fn expired_entries_are_swept_and_free_capacity() {
        let clock = ManualClock::new();
        let store = MemoryStore::with_capacity(2).with_clock(Arc::new(clock.clone()));
        let ttl = Duration::from_secs(10);
        assert!(store.create("a", b"1", ttl).await.unwrap());
        assert!(store.create("b", b"2", ttl).await.unwrap());
        assert!(matches!(
            store.create("c", b"3", ttl).await,
            Err(StoreError::Full)
        ));
        // Rewriting an existing key is not a new key.
        assert!(store.compare_and_set("a", 1, b"1b", ttl).await.unwrap());
        clock.advance(time::Duration::seconds(10));
        assert!(store.create("c", b"3", ttl).await.unwrap());
        assert_eq!(store.len(), 1, "expired a and b swept when full");
    }

    #[tokio::test]
    async fn an_evicting_store_drops_its_oldest_entry_when_full() {
        let store = MemoryStore::with_capacity(3).evicting_oldest();
        let ttl = Duration::from_secs(60);
        for key in ["a", "b", "c"] {
            assert!(store.create(key, b"v", ttl).await.unwrap());
        }
        // A CAS does not make "a" younger; taking "b" frees a place.
        assert!(store.compare_and_set("a", 1, b"w", ttl).await.unwrap());
        assert!(store.create("d", b"v", ttl).await.unwrap());
        assert!(store.load("a").await.unwrap().is_none(), "the oldest went");
        assert!(store.take("b").await.unwrap().is_some());
        assert!(store.create("e", b"v", ttl).await.unwrap());
        assert!(
            store.load("c").await.unwrap().is_some(),
            "room without eviction"
        );
        assert!(store.create("f", b"v", ttl).await.unwrap());
        assert!(store.load("c").await.unwrap().is_none());
        for key in ["d", "e", "f"] {
            assert!(store.load(key).await.unwrap().is_some(), "{key}");
        }
        assert_eq!(store.len(), 3);
        // Many churned keys: the order queue stays bounded.
        for i in 0..10_000 {
            let key = format!("k{i}");
            assert!(store.create(&key, b"v", ttl).await.unwrap());
            store.take(&key).await.unwrap();
        }
        assert!(store.inner.lock().order.len() <= 2 * 3 + 64 + 1);
        // The default store still refuses instead.
        let refusing = MemoryStore::with_capacity(1);
        assert!(refusing.create("x", b"v", ttl).await.unwrap());
        assert!(matches!(
            refusing.create("y", b"v", ttl).await,
            Err(StoreError::Full)
        ));
    }

    #[tokio::test]
    async fn a_flood_of_new_keys_into_a_full_evicting_store_does_not_sweep_it_each_time() {
        let store = MemoryStore::with_capacity(1_024).evicting_oldest();
        let ttl = Duration::from_secs(60);
        for i in 0..1_024 {
            assert!(store.create(&format!("old{i}"), b"v", ttl).await.unwrap());
        }
        let before = store.inner.lock().sweeps;
        for i in 0..10_240 {
            assert!(store.create(&format!("new{i}"), b"v", ttl).await.unwrap());
        }
        let sweeps = store.inner.lock().sweeps - before;
        // One sweep per write before (10 240 scans of 1 024 entries); now one per 64 writes
        // when full, plus the periodic one per 1 024 writes.
        assert!(
            sweeps <= 10_240 / 64 + 10_240 / 1_024 + 1,
            "{sweeps} sweeps"
        );
        assert_eq!(store.len(), 1_024);
        assert!(store.load("old0").await.unwrap().is_none());
        assert!(store.load("new10239").await.unwrap().is_some());
    }

    #[tokio::test]
    async fn sweep_removes_only_expired() {
        let clock = ManualClock::new();
        let store = MemoryStore::new().with_clock(Arc::new(clock.clone()));
        store
            .create("short", b"", Duration::from_secs(1))
            .await
            .unwrap();
        store
            .create("long", b"", Duration::from_secs(5))
            .await
            .unwrap();
        clock.advance(time::Duration::seconds(2));
        store.sweep();
        assert_eq!(store.len(), 1);
        assert!(store.load("long").await.unwrap().is_some());
    }

    #[tokio::test]
    async fn counters_stop_at_max_and_restart_after_their_window() {
        let clock = ManualClock::new();
        let store = MemoryStore::new().with_clock(Arc::new(clock.clone()));
        let window = Duration::from_secs(10);
        assert_eq!(store.increment("c", 2, window).await.unwrap(), Some(1));
        clock.advance(time::Duration::seconds(5));
        assert_eq!(store.increment("c", 2, window).await.unwrap(), Some(2));
        assert_eq!(store.increment("c", 2, window).await.unwrap(), None);
        // The window counts from the first increment, not the last.
        clock.advance(time::Duration::milliseconds(4_999));
        assert_eq!(store.increment("c", 2, window).await.unwrap(), None);
        clock.advance(time::Duration::milliseconds(1));
        assert_eq!(store.increment("c", 2, window).await.unwrap(), Some(1));
        assert_eq!(store.increment("zero", 0, window).await.unwrap(), None);
        assert!(
            store.load("zero").await.unwrap().is_none(),
            "nothing stored"
        );
        store.create("v", b"not a counter", window).await.unwrap();
        assert!(matches!(
            store.increment("v", 5, window).await,
            Err(StoreError::Decode(_))
        ));
    }

    #[tokio::test]
    async fn clones_share_entries() {
        let a = MemoryStore::new();
        let b = a.clone();
        a.create("k", b"v", Duration::from_secs(5)).await.unwrap();
        assert_eq!(b.load("k").await.unwrap().unwrap().value, b"v");
    }
}
