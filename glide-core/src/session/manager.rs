//! The verified-session manager: random ids, lifetimes, logout, and the sessions of a number
//! (listed by opaque handle, revoked one by one, all but one, or all).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

mod index;

use super::cache::{Cached, SessionCache, Trust};
use super::{SessionClient, VerifiedPhone};
use crate::clock::SharedClock;
use crate::error::Error;
use crate::events::{announcement, EndingsSink, FlowEvents, SessionEndings, SessionHash};
use crate::store::{to_json, Freshness, Store, StoreError};
use crate::PhoneNumber;

/// Length of a session id: 32 random bytes in unpadded base64url.
const ID_LEN: usize = 43;
/// The idle deadline is pushed forward at most this often (one write per minute, not per
/// request).
const REFRESH_EVERY: Duration = Duration::from_secs(60);
/// Compare-and-set rounds on a per-number index before giving up.
const INDEX_ROUNDS: usize = 16;
/// How long an emptied per-number index lingers.
const EMPTY_INDEX_TTL: Duration = Duration::from_secs(60);
/// What a session's store key starts with; 64 hex digits of the id's hash follow.
const SESSION_KEY_PREFIX: &str = "session:";
/// The length of a session's store key.
const SESSION_KEY_LEN: usize = SESSION_KEY_PREFIX.len() + 64;

/// Lifetimes of verified sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionConfig {
    /// A session unused this long ends (default 30 minutes). Enforced with a granularity of at
    /// most one minute: the deadline moves forward at most once a minute.
    pub idle_timeout: Duration,
    /// A session ends this long after verification whatever happens (default 12 hours).
    pub absolute_timeout: Duration,
    /// Live sessions kept per phone number (default 32); a new one beyond ends the oldest.
    pub max_per_number: usize,
    /// Decoded sessions kept in memory between requests (default 10 000; 0 turns the cache
    /// off). A hit skips decoding; with events that announce session ends (`RedisEvents`) it
    /// skips the store too. See [`SessionManager::with_events`].
    pub cache_capacity: usize,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            idle_timeout: Duration::from_secs(30 * 60),
            absolute_timeout: Duration::from_secs(12 * 60 * 60),
            max_per_number: 32,
            cache_capacity: 10_000,
        }
    }
}

impl SessionConfig {
    /// The defaults: 30 minutes idle, 12 hours absolute, 32 per number.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the idle timeout.
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// Sets the absolute lifetime.
    pub fn absolute_timeout(mut self, timeout: Duration) -> Self {
        self.absolute_timeout = timeout;
        self
    }

    /// Sets how many live sessions one number may have (at least 1).
    pub fn max_per_number(mut self, max: usize) -> Self {
        self.max_per_number = max.max(1);
        self
    }

    /// Sets how many decoded sessions are kept in memory (0: none).
    pub fn cache_capacity(mut self, capacity: usize) -> Self {
        self.cache_capacity = capacity;
        self
    }

    /// Refuses what the setters would clamp and what makes the sessions unsafe, however the
    /// fields were set: no session per number (every login would end the others and stay out
    /// of the index, where nothing can revoke it), a zero lifetime, an idle lifetime above the
    /// absolute one.
    pub(crate) fn validate(&self) -> Result<(), Error> {
        let refuse = |why: &str| Err(Error::Config(format!("SessionConfig::{why}")));
        if self.max_per_number == 0 {
            return refuse("max_per_number must be at least 1");
        }
        if self.idle_timeout.is_zero() || self.absolute_timeout.is_zero() {
            return refuse("idle_timeout and absolute_timeout must be above zero");
        }
        if self.idle_timeout > self.absolute_timeout {
            return refuse("idle_timeout must not exceed absolute_timeout");
        }
        Ok(())
    }
}

/// A verified-session id: 32 random bytes (256 bits) as 43 characters of base64url, fresh for
/// every verification; the one type of a session id, from the cookie a request carries to the
/// id a verification issues, held on the stack. `Debug` is redacted; it belongs in a cookie and
/// nowhere else.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SessionId([u8; ID_LEN]);

impl SessionId {
    fn generate() -> Self {
        // 32 random bytes are always 43 base64url characters.
        let mut id = [0u8; ID_LEN];
        for (out, c) in id.iter_mut().zip(crate::random::token().bytes()) {
            *out = c;
        }
        Self(id)
    }

    /// Accepts exactly the shape [`SessionManager`] issues (43 base64url characters that
    /// decode to 32 bytes); anything else is `None`.
    pub fn parse(text: &str) -> Option<Self> {
        if !is_well_formed(text) {
            return None;
        }
        <[u8; ID_LEN]>::try_from(text.as_bytes()).ok().map(Self)
    }

    /// The id, for the cookie value.
    pub fn as_str(&self) -> &str {
        // base64url by construction.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The store key: a hash of the id, so that reading the store does not give usable ids.
    fn store_key(&self) -> String {
        session_key(&self.hash())
    }

    fn hash(&self) -> String {
        hex::encode(digest(self.as_str()))
    }

    /// The session's public handle ([`SessionInfo::handle`](crate::session::SessionInfo::handle)): the SHA-256 of the id, in hex.
    /// It names the session for listing and revocation and cannot be turned back into the id.
    pub fn handle(&self) -> String {
        self.hash()
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionId([redacted])")
    }
}

/// Whether `text` has the shape of a session id: 43 base64url characters that decode to
/// exactly 32 bytes (the last character carries 4 bits of the last byte and 2 zero bits), as
/// `URL_SAFE_NO_PAD` decodes them, checked without decoding.
fn is_well_formed(text: &str) -> bool {
    let base64url = |c: &u8| c.is_ascii_alphanumeric() || *c == b'-' || *c == b'_';
    let bytes = text.as_bytes();
    let Some((last, rest)) = bytes.split_last() else {
        return false;
    };
    // The characters whose value has its two low bits zero.
    bytes.len() == ID_LEN && rest.iter().all(base64url) && b"AEIMQUYcgkosw048".contains(last)
}

/// The SHA-256 of a session id: its store key and handle (in hex), its cache key (raw).
fn digest(id: &str) -> SessionHash {
    Sha256::digest(id.as_bytes()).into()
}

fn session_key(hash: &str) -> String {
    format!("{SESSION_KEY_PREFIX}{hash}")
}

/// The store key of the session hashed `hash`, built on the stack: `session:<hex>`.
struct SessionKey([u8; SESSION_KEY_LEN]);

impl SessionKey {
    fn new(hash: &SessionHash) -> Self {
        let mut key = [0u8; SESSION_KEY_LEN];
        let (prefix, digits) = key.split_at_mut(SESSION_KEY_PREFIX.len());
        prefix.copy_from_slice(SESSION_KEY_PREFIX.as_bytes());
        // 32 bytes always fit 64 hex digits.
        let _ = hex::encode_to_slice(hash, digits);
        Self(key)
    }

    fn as_str(&self) -> &str {
        // ASCII by construction.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

/// A cache of `capacity` sessions trusted until `endings` announces their end.
fn announced_cache(capacity: usize, endings: &SessionEndings) -> Arc<SessionCache> {
    let cache = Arc::new(SessionCache::new(capacity, Trust::Announced));
    let sink: Arc<dyn EndingsSink> = cache.clone();
    endings.attach(Arc::downgrade(&sink));
    cache
}

/// The raw hash of a hex handle, when it is one.
fn raw_hash(hex_hash: &str) -> Option<SessionHash> {
    let mut hash = [0u8; 32];
    hex::decode_to_slice(hex_hash, &mut hash).ok()?;
    Some(hash)
}

/// What is stored per session.
#[derive(Serialize, Deserialize)]
struct StoredSession {
    phone: VerifiedPhone,
    /// Unix milliseconds of creation (the absolute lifetime counts from here).
    created_ms: i64,
    /// Unix milliseconds of the last refresh (the idle timeout counts from here).
    seen_ms: i64,
    /// The device it was issued to (summary, masked address).
    #[serde(default)]
    client: SessionClient,
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn from_millis(ms: i64) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

fn until(now_ms: i64, end_ms: i64) -> Duration {
    Duration::from_millis(
        u64::try_from(end_ms.saturating_sub(now_ms))
            .unwrap_or(0)
            .max(1),
    )
}

fn contention() -> Error {
    Error::Store(StoreError::Backend(
        "session index too contended; try again".into(),
    ))
}

/// Verified sessions in a [`Store`]: created on success, loaded per request, ended by logout,
/// expiry, or revoke-all for a number. Cheap to clone.
///
/// Store keys: `session:<sha256 of id>` (JSON: the [`VerifiedPhone`], creation and last-seen
/// times) and `phone:<sha256 of number>` (the number's sessions, for
/// [`revoke_all`](Self::revoke_all)). Store failures are [`Error::Store`] (503): nothing is let in.
///
/// Decoded sessions are kept in memory ([`SessionConfig::cache_capacity`]): a lookup that hits
/// asks the store only whether the session's version moved, and with
/// [`with_events`](Self::with_events) on events that announce session ends, not even that.
/// Lifetimes are enforced on every hit all the same.
#[derive(Clone)]
pub struct SessionManager {
    store: Arc<dyn Store>,
    clock: SharedClock,
    config: SessionConfig,
    cache: Option<Arc<SessionCache>>,
    events: Option<Arc<dyn FlowEvents>>,
    /// The store's own feed of session ends (an in-process store).
    store_endings: Option<SessionEndings>,
}

impl fmt::Debug for SessionManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionManager")
            .field("store", &self.store)
            .field("config", &self.config)
            .field("cache", &self.cache)
            .finish_non_exhaustive()
    }
}

impl SessionManager {
    /// Sessions in `store`, lifetimes on `clock`. With a store only this process reaches
    /// ([`Store::session_endings`], the [`MemoryStore`](crate::store::MemoryStore)), cached
    /// sessions are trusted until a manager sharing the store ends them; with any other, each
    /// hit asks the store whether the session's version moved, unless
    /// [`with_events`](Self::with_events) brings announcements.
    pub fn new(store: Arc<dyn Store>, clock: SharedClock, config: SessionConfig) -> Self {
        let store_endings = store.session_endings();
        let cache = (config.cache_capacity > 0).then(|| match &store_endings {
            Some(endings) => announced_cache(config.cache_capacity, endings),
            None => Arc::new(SessionCache::new(config.cache_capacity, Trust::Checked)),
        });
        Self {
            store,
            clock,
            config,
            cache,
            events: None,
            store_endings,
        }
    }

    /// The same manager, announcing every session it ends on `events`; when `events` delivers
    /// the announcements of every instance ([`FlowEvents::session_endings`], e.g.
    /// `RedisEvents`), cached sessions are trusted without a store call until their end is
    /// announced or the subscription is lost. Every instance sharing the store must then use
    /// the same events: an instance that ends sessions without announcing them would leave
    /// them alive in the others' caches (until their next idle refresh, at most a minute).
    pub fn with_events(mut self, events: Arc<dyn FlowEvents>) -> Self {
        let checked = self
            .cache
            .as_ref()
            .is_some_and(|cache| cache.trust() == Trust::Checked);
        if let (Some(endings), true) = (events.session_endings(), checked) {
            self.cache = Some(announced_cache(self.config.cache_capacity, &endings));
        }
        self.events = Some(events);
        self
    }

    /// Forgets the sessions hashed `hashes` here and announces their end to every instance.
    /// An announcement that cannot be sent is logged: the store no longer holds them, and
    /// other instances find that out at their next store read (at most a minute later).
    async fn announce_ended(&self, hashes: &[SessionHash]) {
        if hashes.is_empty() {
            return;
        }
        if let Some(cache) = &self.cache {
            for hash in hashes {
                cache.remove(hash);
            }
        }
        if let Some(endings) = &self.store_endings {
            endings.deliver(&announcement(hashes));
        }
        if let Some(events) = &self.events {
            if let Err(err) = events.publish_sessions_ended(hashes).await {
                tracing::warn!(error = %err, "could not announce the end of verified sessions");
            }
        }
    }

    fn now_ms(&self) -> i64 {
        i64::try_from(self.clock.now().unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
    }

    /// Starts a session for `phone` under a fresh random id (never a reused one), with no
    /// device details; see [`create_for`](Self::create_for).
    pub async fn create(&self, phone: VerifiedPhone) -> Result<SessionId, Error> {
        self.create_for(phone, SessionClient::default()).await
    }

    /// Starts a session for `phone`, issued to `client`, under a fresh random id (never a
    /// reused one).
    ///
    /// The id is recorded in the number's index before the session exists, so a session that
    /// exists can always be found by [`list`](Self::list) and [`revoke_all`](Self::revoke_all).
    pub async fn create_for(
        &self,
        phone: VerifiedPhone,
        client: SessionClient,
    ) -> Result<SessionId, Error> {
        let now = self.now_ms();
        let ends = now.saturating_add(millis(self.config.absolute_timeout));
        let number = phone.phone_number.clone();
        let record = to_json(&StoredSession {
            phone,
            created_ms: now,
            seen_ms: now,
            client,
        })?;
        let ttl = until(
            now,
            ends.min(now.saturating_add(millis(self.config.idle_timeout))),
        );
        for _ in 0..4 {
            let id = SessionId::generate();
            self.index_add(&number, &id.hash(), now, ends).await?;
            if self.store.create(&id.store_key(), &record, ttl).await? {
                tracing::debug!(phone = %number.masked(), "verified session created");
                return Ok(id);
            }
        }
        // 256 random bits collided four times: the random source is broken.
        Err(Error::Store(StoreError::Backend(
            "could not allocate a unique session id".into(),
        )))
    }

    /// The verified phone of session `id`, if it is live. Malformed ids give `None` without a
    /// store lookup; an idle or too old session is ended and gives `None`.
    pub async fn load(&self, id: &str) -> Result<Option<VerifiedPhone>, Error> {
        let Some(id) = SessionId::parse(id) else {
            return Ok(None);
        };
        Ok(self.load_shared(&id).await?.as_deref().cloned())
    }

    /// [`load`](Self::load) for a request: the phone as the cache holds it, not copied.
    pub(crate) async fn load_shared(
        &self,
        id: &SessionId,
    ) -> Result<Option<Arc<VerifiedPhone>>, Error> {
        let hash = digest(id.as_str());
        if let Some(cache) = &self.cache {
            if let Some(cached) = cache.get(&hash) {
                if self.is_current(&cached, self.now_ms()) {
                    match cache.trust() {
                        Trust::Announced => return Ok(Some(Arc::clone(&cached.phone))),
                        Trust::Checked => {
                            let key = SessionKey::new(&hash);
                            match self
                                .store
                                .load_if_changed(key.as_str(), cached.version)
                                .await?
                            {
                                Freshness::Unchanged => return Ok(Some(Arc::clone(&cached.phone))),
                                Freshness::Missing => {
                                    cache.remove(&hash);
                                    return Ok(None);
                                }
                                _ => cache.remove(&hash),
                            }
                        }
                    }
                }
            }
        }
        self.load_from_store(&hash, SessionKey::new(&hash).as_str())
            .await
    }

    /// Whether a cached session is live at `now` and not yet due for its idle refresh (which
    /// only the store path writes).
    fn is_current(&self, cached: &Cached, now: i64) -> bool {
        self.within_lifetimes(cached.created_ms, cached.seen_ms, now)
            && now.saturating_sub(cached.seen_ms) < millis(self.refresh_every())
    }

    fn refresh_every(&self) -> Duration {
        REFRESH_EVERY.min(self.config.idle_timeout / 2)
    }

    /// [`load`](Self::load) from the store: decode, enforce the lifetimes, refresh the idle
    /// deadline when due, and keep the decoded session in the cache.
    async fn load_from_store(
        &self,
        hash: &SessionHash,
        key: &str,
    ) -> Result<Option<Arc<VerifiedPhone>>, Error> {
        for _ in 0..2 {
            let epoch = self.cache.as_ref().map(|cache| cache.epoch());
            let Some(stored) = self.store.load(key).await? else {
                self.forget(hash);
                return Ok(None);
            };
            let Ok(mut record) = serde_json::from_slice::<StoredSession>(&stored.value) else {
                tracing::warn!("undecodable verified session removed");
                self.store.delete(key).await?;
                self.forget(hash);
                return Ok(None);
            };
            let now = self.now_ms();
            if !self.is_live(&record, now) {
                self.store.delete(key).await?;
                self.forget(hash);
                return Ok(None);
            }
            let ends = record
                .created_ms
                .saturating_add(millis(self.config.absolute_timeout));
            let mut version = stored.version;
            if now.saturating_sub(record.seen_ms) >= millis(self.refresh_every()) {
                record.seen_ms = now;
                let ttl = until(
                    now,
                    ends.min(now.saturating_add(millis(self.config.idle_timeout))),
                );
                if !self
                    .store
                    .compare_and_set(key, version, &to_json(&record)?, ttl)
                    .await?
                {
                    // Someone refreshed or ended it meanwhile: look again.
                    continue;
                }
                version = version.wrapping_add(1);
            }
            let phone = Arc::new(record.phone);
            if let (Some(cache), Some(epoch)) = (&self.cache, epoch) {
                let cached = Cached {
                    version,
                    phone: Arc::clone(&phone),
                    created_ms: record.created_ms,
                    seen_ms: record.seen_ms,
                };
                cache.insert(*hash, cached, epoch);
            }
            return Ok(Some(phone));
        }
        Ok(None)
    }

    /// Drops the cached session hashed `hash`, if any.
    fn forget(&self, hash: &SessionHash) {
        if let Some(cache) = &self.cache {
            cache.remove(hash);
        }
    }

    /// Ends session `id` (a logout) in one atomic step; returns the number of the session it
    /// ended, when that session was live. Unknown, malformed and already-ended ids: `None`.
    pub async fn destroy(&self, id: &str) -> Result<Option<PhoneNumber>, Error> {
        let Some(id) = SessionId::parse(id) else {
            return Ok(None);
        };
        let Some(taken) = self.store.take(&id.store_key()).await? else {
            return Ok(None);
        };
        self.announce_ended(&[digest(id.as_str())]).await;
        let live = serde_json::from_slice::<StoredSession>(&taken.value)
            .ok()
            .filter(|record| self.is_live(record, self.now_ms()));
        Ok(live.map(|record| record.phone.phone_number))
    }

    /// Whether `record` is within both its lifetimes at `now`.
    fn is_live(&self, record: &StoredSession, now: i64) -> bool {
        self.within_lifetimes(record.created_ms, record.seen_ms, now)
    }

    /// Whether a session created at `created_ms` and last refreshed at `seen_ms` is within
    /// both its lifetimes at `now`.
    fn within_lifetimes(&self, created_ms: i64, seen_ms: i64, now: i64) -> bool {
        let ends = created_ms.saturating_add(millis(self.config.absolute_timeout));
        let idle_ends = seen_ms.saturating_add(millis(self.config.idle_timeout));
        now < ends && now < idle_ends
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::index::index_key;
    use super::*;
    use crate::clock::ManualClock;
    use crate::store::MemoryStore;
    use crate::{Strategy, UseCase};

    fn phone(n: &str) -> VerifiedPhone {
        VerifiedPhone::new(
            PhoneNumber::parse(n).unwrap(),
            UseCase::VerifyPhoneNumber,
            Strategy::Link,
            time::OffsetDateTime::UNIX_EPOCH,
        )
    }

    fn manager(config: SessionConfig) -> (SessionManager, ManualClock, MemoryStore) {
        let clock = ManualClock::new();
        let shared: SharedClock = Arc::new(clock.clone());
        let store = MemoryStore::new().with_clock(shared.clone());
        (
            SessionManager::new(Arc::new(store.clone()), shared, config),
            clock,
            store,
        )
    }

    fn secs(s: i64) -> time::Duration {
        time::Duration::seconds(s)
    }

    #[test]
    fn the_shape_check_agrees_with_the_base64_decoder() {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use base64::Engine as _;
        let decodes_to_32 = |text: &str| {
            text.len() == ID_LEN
                && URL_SAFE_NO_PAD
                    .decode(text)
                    .is_ok_and(|bytes| bytes.len() == 32)
        };
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/. ";
        let valid = SessionId::generate().as_str().to_owned();
        let mut cases = vec![
            String::new(),
            valid.clone(),
            format!("{valid}A"),
            valid[1..].into(),
        ];
        // Every character at the last place and at the first, and random strings.
        for &c in alphabet {
            for at in [0, ID_LEN - 1] {
                let mut bytes = valid.clone().into_bytes();
                bytes[at] = c;
                cases.push(String::from_utf8(bytes).unwrap());
            }
        }
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..5000 {
            let text: String = (0..ID_LEN)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    char::from(alphabet[(seed % 66) as usize])
                })
                .collect();
            cases.push(text);
        }
        for text in &cases {
            assert_eq!(is_well_formed(text), decodes_to_32(text), "{text:?}");
        }
        assert!(cases.iter().filter(|t| is_well_formed(t)).count() > 64);
    }

    #[test]
    fn a_parsed_id_is_the_issued_one_and_redacted() {
        let id = SessionId::generate();
        let parsed = SessionId::parse(id.as_str()).unwrap();
        assert_eq!(format!("{parsed:?}"), "SessionId([redacted])");
        assert_eq!(parsed, id);
    }

    #[tokio::test]
    async fn ids_are_fresh_long_and_redacted() {
        let (sessions, _, _) = manager(SessionConfig::default());
        let mut seen = std::collections::HashSet::new();
        for _ in 0..50 {
            let id = sessions.create(phone("+15555550100")).await.unwrap();
            assert_eq!(id.as_str().len(), 43);
            assert!(id
                .as_str()
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
            assert!(seen.insert(id.as_str().to_owned()), "id reused");
            assert_eq!(format!("{id:?}"), "SessionId([redacted])");
        }
        // The manager shows its store and lifetimes, and no session.
        let text = format!("{sessions:?}");
        assert!(
            text.starts_with("SessionManager { store: ") && text.contains("idle_timeout"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn load_returns_the_phone_and_refuses_bogus_ids() {
        let (sessions, _, store) = manager(SessionConfig::default());
        let id = sessions.create(phone("+15555550100")).await.unwrap();
        let got = sessions.load(id.as_str()).await.unwrap().unwrap();
        assert_eq!(got.phone_number.as_str(), "+15555550100");
        // The raw id is not a store key.
        assert!(store
            .load(&format!("session:{}", id.as_str()))
            .await
            .unwrap()
            .is_none());
        let mut tampered = id.as_str().to_owned();
        tampered.replace_range(0..1, if tampered.starts_with('A') { "B" } else { "A" });
        for bogus in [
            "",
            "x",
            &tampered,
            &id.as_str()[..42],
            &format!("{}=", id.as_str()),
        ] {
            assert!(sessions.load(bogus).await.unwrap().is_none(), "{bogus:?}");
        }
        // Shape: 43 base64url characters, canonical (the last one has 2 unused zero bits).
        assert!(SessionId::parse(&"A".repeat(43)).is_some());
        assert!(SessionId::parse(&format!("{}B", "A".repeat(42))).is_none());
        assert!(SessionId::parse(&format!("{}+", "A".repeat(42))).is_none());
    }

    #[tokio::test]
    async fn idle_timeout_boundary() {
        let config = SessionConfig::default()
            .idle_timeout(Duration::from_secs(600))
            .absolute_timeout(Duration::from_secs(3600));
        let (sessions, clock, _) = manager(config);
        let id = sessions.create(phone("+15555550100")).await.unwrap();
        clock.advance(secs(599));
        assert!(
            sessions.load(id.as_str()).await.unwrap().is_some(),
            "alive at idle - 1 s"
        );
        // That use refreshed the idle deadline: 599 s after it, still alive; at 600 s, gone.
        clock.advance(secs(599));
        assert!(sessions.load(id.as_str()).await.unwrap().is_some());
        clock.advance(secs(600));
        assert!(
            sessions.load(id.as_str()).await.unwrap().is_none(),
            "gone at idle"
        );
        assert!(sessions.load(id.as_str()).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn refresh_happens_at_most_once_a_minute() {
        let config = SessionConfig::default().idle_timeout(Duration::from_secs(600));
        let (sessions, clock, store) = manager(config);
        let id = sessions.create(phone("+15555550100")).await.unwrap();
        let key = id.store_key();
        clock.advance(secs(30));
        sessions.load(id.as_str()).await.unwrap().unwrap();
        assert_eq!(
            store.load(&key).await.unwrap().unwrap().version,
            1,
            "no write"
        );
        clock.advance(secs(30));
        sessions.load(id.as_str()).await.unwrap().unwrap();
        assert_eq!(
            store.load(&key).await.unwrap().unwrap().version,
            2,
            "refreshed"
        );
        // Idle counts from the last refresh: 600 s after it, gone.
        clock.advance(secs(599));
        assert!(sessions.load(id.as_str()).await.unwrap().is_some());
        clock.advance(secs(600));
        assert!(sessions.load(id.as_str()).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn absolute_timeout_boundary_despite_activity() {
        let config = SessionConfig::default()
            .idle_timeout(Duration::from_secs(600))
            .absolute_timeout(Duration::from_secs(1800));
        let (sessions, clock, _) = manager(config);
        let id = sessions.create(phone("+15555550100")).await.unwrap();
        for _ in 0..5 {
            clock.advance(secs(359));
            assert!(sessions.load(id.as_str()).await.unwrap().is_some());
        }
        // 1795 s so far.
        clock.advance(secs(4));
        assert!(
            sessions.load(id.as_str()).await.unwrap().is_some(),
            "alive at 1799 s"
        );
        clock.advance(secs(1));
        assert!(
            sessions.load(id.as_str()).await.unwrap().is_none(),
            "gone at 1800 s"
        );
    }

    #[tokio::test]
    async fn destroy_ends_only_that_session() {
        let (sessions, _, _) = manager(SessionConfig::default());
        let a = sessions.create(phone("+15555550100")).await.unwrap();
        let b = sessions.create(phone("+15555550100")).await.unwrap();
        // It says whose session it ended, once.
        assert_eq!(
            sessions.destroy(a.as_str()).await.unwrap(),
            Some(PhoneNumber::parse("+15555550100").unwrap())
        );
        assert_eq!(sessions.destroy(a.as_str()).await.unwrap(), None);
        assert_eq!(sessions.destroy("not-an-id").await.unwrap(), None);
        assert!(sessions.load(a.as_str()).await.unwrap().is_none());
        assert!(sessions.load(b.as_str()).await.unwrap().is_some());
    }

    #[tokio::test]
    async fn revoke_all_ends_every_session_of_one_number() {
        let (sessions, _, _) = manager(SessionConfig::default());
        let number = PhoneNumber::parse("+15555550100").unwrap();
        let mine: Vec<_> =
            futures_util::future::join_all((0..5).map(|_| sessions.create(phone("+15555550100"))))
                .await
                .into_iter()
                .map(Result::unwrap)
                .collect();
        let other = sessions.create(phone("+15555550199")).await.unwrap();
        sessions.destroy(mine[0].as_str()).await.unwrap();
        assert_eq!(sessions.revoke_all(&number).await.unwrap(), 4);
        for id in &mine {
            assert!(sessions.load(id.as_str()).await.unwrap().is_none());
        }
        assert!(sessions.load(other.as_str()).await.unwrap().is_some());
        assert_eq!(sessions.revoke_all(&number).await.unwrap(), 0);
        // New sessions after a revoke work and are revocable again.
        let again = sessions.create(phone("+15555550100")).await.unwrap();
        assert!(sessions.load(again.as_str()).await.unwrap().is_some());
        assert_eq!(sessions.revoke_all(&number).await.unwrap(), 1);
    }

    #[tokio::test]
    async fn list_shows_live_sessions_by_handle_with_current_marked() {
        let (sessions, clock, store) = manager(SessionConfig::default());
        let number = PhoneNumber::parse("+15555550100").unwrap();
        let ua =
            "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/124.0 Mobile Safari/537.36";
        let a = sessions
            .create_for(
                phone("+15555550100"),
                SessionClient::new(Some(ua), "203.0.113.77".parse().ok()),
            )
            .await
            .unwrap();
        clock.advance(secs(10));
        let b = sessions.create(phone("+15555550100")).await.unwrap();
        let ended = sessions.create(phone("+15555550100")).await.unwrap();
        sessions.destroy(ended.as_str()).await.unwrap();
        sessions.create(phone("+15555550199")).await.unwrap();

        let listed = sessions.list(&number, Some(b.as_str())).await.unwrap();
        assert_eq!(listed.len(), 2, "live sessions of this number only");
        assert_eq!(listed[0].handle, a.handle());
        assert_eq!(listed[1].handle, b.handle());
        assert_eq!(listed.iter().filter(|s| s.current).count(), 1);
        assert!(listed[1].current);
        assert_eq!(listed[0].user_agent.as_deref(), Some("Chrome on Android"));
        assert_eq!(listed[0].ip.as_deref(), Some("203.0.113.0/24"));
        assert_eq!(listed[1].user_agent, None);
        assert_eq!(listed[0].strategy, Strategy::Link);
        assert_eq!(listed[0].created_at, listed[0].last_seen_at);
        assert_eq!(listed[1].created_at - listed[0].created_at, secs(10));
        // A handle is not a usable id, and neither is anything in the store.
        for info in &listed {
            assert!(sessions.load(&info.handle).await.unwrap().is_none());
            let text = serde_json::to_string(info).unwrap();
            assert!(!text.contains(a.as_str()) && !text.contains(b.as_str()));
        }
        let index = store.load(&index_key(&number)).await.unwrap().unwrap();
        let index = String::from_utf8(index.value.to_vec()).unwrap();
        assert!(!index.contains(a.as_str()) && !index.contains(b.as_str()));

        // last_seen moves with use, at most once per refresh interval, and a listing writes
        // nothing.
        let version = store.load(&a.store_key()).await.unwrap().unwrap().version;
        clock.advance(secs(30));
        sessions.load(a.as_str()).await.unwrap().unwrap();
        sessions.list(&number, None).await.unwrap();
        assert_eq!(
            store.load(&a.store_key()).await.unwrap().unwrap().version,
            version
        );
        clock.advance(secs(40));
        sessions.load(a.as_str()).await.unwrap().unwrap();
        let listed = sessions.list(&number, None).await.unwrap();
        assert_eq!(listed[0].last_seen_at - listed[0].created_at, secs(80));
        assert!(listed.iter().all(|s| !s.current));
    }

    #[tokio::test]
    async fn list_leaves_out_a_session_past_its_idle_end_that_the_store_still_holds() {
        // The store keeps time by the system clock: its expiry comes late, as a store's may.
        let clock = ManualClock::new();
        let shared: SharedClock = Arc::new(clock.clone());
        let sessions = SessionManager::new(
            Arc::new(MemoryStore::new()),
            shared,
            SessionConfig::default(),
        );
        let number = PhoneNumber::parse("+15555550100").unwrap();
        let idle = sessions.create(phone("+15555550100")).await.unwrap();
        clock.advance(secs(20 * 60));
        let used = sessions.create(phone("+15555550100")).await.unwrap();
        clock.advance(secs(15 * 60));
        let listed = sessions.list(&number, None).await.unwrap();
        assert_eq!(
            listed.len(),
            1,
            "thirty-five minutes without use: idle-ended"
        );
        assert_eq!(listed[0].handle, used.handle());
        assert_ne!(listed[0].handle, idle.handle());
    }

    #[tokio::test]
    async fn revoke_by_handle_only_within_the_number() {
        let (sessions, _, _) = manager(SessionConfig::default());
        let number = PhoneNumber::parse("+15555550100").unwrap();
        let other_number = PhoneNumber::parse("+15555550199").unwrap();
        let a = sessions.create(phone("+15555550100")).await.unwrap();
        let b = sessions.create(phone("+15555550100")).await.unwrap();
        let foreign = sessions.create(phone("+15555550199")).await.unwrap();
        // Another number's handle, a raw id, a forged or empty handle: nothing happens.
        for handle in [
            foreign.handle(),
            a.as_str().to_owned(),
            "0".repeat(64),
            String::new(),
        ] {
            assert!(
                !sessions.revoke(&number, &handle).await.unwrap(),
                "{handle}"
            );
        }
        assert!(sessions.load(foreign.as_str()).await.unwrap().is_some());
        assert!(!sessions.revoke(&other_number, &a.handle()).await.unwrap());
        assert!(sessions.load(a.as_str()).await.unwrap().is_some());

        assert!(sessions.revoke(&number, &a.handle()).await.unwrap());
        assert!(sessions.load(a.as_str()).await.unwrap().is_none());
        assert!(sessions.load(b.as_str()).await.unwrap().is_some());
        assert!(
            !sessions.revoke(&number, &a.handle()).await.unwrap(),
            "once"
        );
    }

    #[tokio::test]
    async fn revoke_others_keeps_only_the_current_session() {
        let (sessions, _, _) = manager(SessionConfig::default());
        let number = PhoneNumber::parse("+15555550100").unwrap();
        let ids: Vec<_> =
            futures_util::future::join_all((0..4).map(|_| sessions.create(phone("+15555550100"))))
                .await
                .into_iter()
                .map(Result::unwrap)
                .collect();
        let foreign = sessions.create(phone("+15555550199")).await.unwrap();
        assert_eq!(
            sessions
                .revoke_others(&number, ids[2].as_str())
                .await
                .unwrap(),
            3
        );
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(sessions.load(id.as_str()).await.unwrap().is_some(), i == 2);
        }
        assert!(sessions.load(foreign.as_str()).await.unwrap().is_some());
        let listed = sessions.list(&number, Some(ids[2].as_str())).await.unwrap();
        assert_eq!(listed.len(), 1);
        assert!(listed[0].current);
        // The kept session is still in the index: revoke-all finds it.
        assert_eq!(sessions.revoke_all(&number).await.unwrap(), 1);
        assert!(sessions.list(&number, None).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn oldest_sessions_beyond_the_cap_end() {
        let (sessions, _, _) = manager(SessionConfig::default().max_per_number(2));
        let a = sessions.create(phone("+15555550100")).await.unwrap();
        let b = sessions.create(phone("+15555550100")).await.unwrap();
        let c = sessions.create(phone("+15555550100")).await.unwrap();
        assert!(sessions.load(a.as_str()).await.unwrap().is_none());
        assert!(sessions.load(b.as_str()).await.unwrap().is_some());
        assert!(sessions.load(c.as_str()).await.unwrap().is_some());
        // A logged-out session frees its place without ending another.
        sessions.destroy(b.as_str()).await.unwrap();
        let d = sessions.create(phone("+15555550100")).await.unwrap();
        assert!(sessions.load(c.as_str()).await.unwrap().is_some());
        assert!(sessions.load(d.as_str()).await.unwrap().is_some());
    }

    /// A store that keeps every record for a day whatever TTL it is given: a store whose TTLs
    /// are not exact, or a record written under a longer lifetime than the one now configured.
    #[derive(Debug)]
    struct LongLivedStore(MemoryStore);

    const A_DAY: Duration = Duration::from_secs(24 * 60 * 60);

    #[async_trait::async_trait]
    impl Store for LongLivedStore {
        async fn create(&self, key: &str, value: &[u8], _: Duration) -> Result<bool, StoreError> {
            self.0.create(key, value, A_DAY).await
        }
        async fn load(&self, key: &str) -> Result<Option<crate::store::Versioned>, StoreError> {
            self.0.load(key).await
        }
        async fn compare_and_set(
            &self,
            key: &str,
            expected_version: u64,
            value: &[u8],
            _: Duration,
        ) -> Result<bool, StoreError> {
            self.0
                .compare_and_set(key, expected_version, value, A_DAY)
                .await
        }
        async fn take(&self, key: &str) -> Result<Option<crate::store::Versioned>, StoreError> {
            self.0.take(key).await
        }
        async fn delete(&self, key: &str) -> Result<(), StoreError> {
            self.0.delete(key).await
        }
        async fn increment(
            &self,
            key: &str,
            max: u64,
            _: Duration,
        ) -> Result<Option<u64>, StoreError> {
            self.0.increment(key, max, A_DAY).await
        }
    }

    /// A shared store (no feed of its own) that counts full reads and version checks.
    #[derive(Debug, Default)]
    struct CountingStore {
        inner: MemoryStore,
        loads: std::sync::atomic::AtomicUsize,
        version_checks: std::sync::atomic::AtomicUsize,
        /// Every compare-and-set finds the key ended meanwhile (removes it, answers `false`).
        end_on_cas: std::sync::atomic::AtomicBool,
    }

    impl CountingStore {
        fn counts(&self) -> (usize, usize) {
            use std::sync::atomic::Ordering::SeqCst;
            (self.loads.load(SeqCst), self.version_checks.load(SeqCst))
        }
    }

    #[async_trait::async_trait]
    impl Store for CountingStore {
        async fn create(&self, key: &str, value: &[u8], ttl: Duration) -> Result<bool, StoreError> {
            self.inner.create(key, value, ttl).await
        }
        async fn load(&self, key: &str) -> Result<Option<crate::store::Versioned>, StoreError> {
            self.loads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            self.inner.load(key).await
        }
        async fn load_if_changed(&self, key: &str, version: u64) -> Result<Freshness, StoreError> {
            self.version_checks
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            self.inner.load_if_changed(key, version).await
        }
        async fn compare_and_set(
            &self,
            key: &str,
            expected_version: u64,
            value: &[u8],
            ttl: Duration,
        ) -> Result<bool, StoreError> {
            if self.end_on_cas.load(std::sync::atomic::Ordering::SeqCst) {
                self.inner.delete(key).await?;
                return Ok(false);
            }
            self.inner
                .compare_and_set(key, expected_version, value, ttl)
                .await
        }
        async fn take(&self, key: &str) -> Result<Option<crate::store::Versioned>, StoreError> {
            self.inner.take(key).await
        }
        async fn delete(&self, key: &str) -> Result<(), StoreError> {
            self.inner.delete(key).await
        }
        async fn increment(
            &self,
            key: &str,
            max: u64,
            ttl: Duration,
        ) -> Result<Option<u64>, StoreError> {
            self.inner.increment(key, max, ttl).await
        }
    }

    #[tokio::test]
    async fn a_checked_hit_reads_only_the_version() {
        let store = Arc::new(CountingStore::default());
        let sessions = SessionManager::new(
            store.clone(),
            Arc::new(ManualClock::new()),
            SessionConfig::default(),
        );
        let id = sessions.create(phone("+15555550100")).await.unwrap();
        let before = store.counts().0;
        assert!(sessions.load(id.as_str()).await.unwrap().is_some());
        for _ in 0..3 {
            assert!(sessions.load(id.as_str()).await.unwrap().is_some());
        }
        assert_eq!(
            store.counts(),
            (before + 1, 3),
            "one read, then version checks"
        );
        // Gone: the version check says so, no full read follows.
        store.inner.delete(&id.store_key()).await.unwrap();
        assert!(sessions.load(id.as_str()).await.unwrap().is_none());
        assert_eq!(store.counts(), (before + 1, 4));
    }

    #[tokio::test]
    async fn a_session_ended_during_its_refresh_is_not_served_nor_kept() {
        let clock = ManualClock::new();
        let store = Arc::new(CountingStore::default());
        let sessions = SessionManager::new(
            store.clone(),
            Arc::new(clock.clone()),
            SessionConfig::default(),
        );
        let id = sessions.create(phone("+15555550100")).await.unwrap();
        assert!(sessions.load(id.as_str()).await.unwrap().is_some());
        assert!(
            format!("{sessions:?}").contains("entries: 1"),
            "{sessions:?}"
        );
        // Due for its idle refresh, and ended by someone else while it is written.
        clock.advance(time::Duration::seconds(61));
        store
            .end_on_cas
            .store(true, std::sync::atomic::Ordering::SeqCst);
        assert!(sessions.load(id.as_str()).await.unwrap().is_none());
        assert!(
            format!("{sessions:?}").contains("entries: 0"),
            "the ended session is still cached: {sessions:?}"
        );
    }

    /// Events that carry session ends (as `RedisEvents` does), in this process.
    #[derive(Debug, Default)]
    struct AnnouncingEvents {
        local: crate::events::LocalEvents,
        endings: SessionEndings,
    }

    #[async_trait::async_trait]
    impl FlowEvents for AnnouncingEvents {
        async fn publish(&self, topic: &str) -> Result<(), StoreError> {
            self.local.publish(topic).await
        }

        async fn subscribe(&self, topic: &str) -> Result<crate::events::Subscription, StoreError> {
            self.local.subscribe(topic).await
        }

        async fn publish_sessions_ended(&self, hashes: &[SessionHash]) -> Result<(), StoreError> {
            self.endings.deliver(&announcement(hashes));
            Ok(())
        }

        fn session_endings(&self) -> Option<SessionEndings> {
            Some(self.endings.clone())
        }
    }

    #[tokio::test]
    async fn with_announcing_events_a_shared_store_is_not_asked_on_a_hit() {
        let (sessions, _clock, store) = long_lived_manager(SessionConfig::default());
        let events = Arc::new(AnnouncingEvents::default());
        let sessions = sessions.with_events(events.clone());
        let id = sessions.create(phone("+15555550100")).await.unwrap();
        assert!(sessions.load(id.as_str()).await.unwrap().is_some());
        // Gone from the store behind every manager's back, unannounced: the cache is trusted.
        store.delete(&id.store_key()).await.unwrap();
        assert!(
            sessions.load(id.as_str()).await.unwrap().is_some(),
            "a hit asked the store although the events announce ends"
        );
        // Announced: refused at once.
        events.endings.deliver(&digest(id.as_str()));
        assert!(sessions.load(id.as_str()).await.unwrap().is_none());
    }

    fn long_lived_manager(config: SessionConfig) -> (SessionManager, ManualClock, MemoryStore) {
        let clock = ManualClock::new();
        let shared: SharedClock = Arc::new(clock.clone());
        let store = MemoryStore::new().with_clock(shared.clone());
        let sessions = SessionManager::new(Arc::new(LongLivedStore(store.clone())), shared, config);
        (sessions, clock, store)
    }

    #[tokio::test]
    async fn a_session_ended_through_another_manager_is_never_served_from_a_cache() {
        let (one, clock, store) = manager(SessionConfig::default());
        let two = SessionManager::new(
            Arc::new(store.clone()),
            Arc::new(clock.clone()),
            SessionConfig::default(),
        );
        let id = one.create(phone("+15555550100")).await.unwrap();
        for _ in 0..2 {
            assert!(two.load(id.as_str()).await.unwrap().is_some(), "cached");
        }
        one.destroy(id.as_str()).await.unwrap();
        assert!(two.load(id.as_str()).await.unwrap().is_none());
        // And a session revoked with every other one of its number.
        let id = one.create(phone("+15555550100")).await.unwrap();
        assert!(two.load(id.as_str()).await.unwrap().is_some());
        one.revoke_all(&PhoneNumber::parse("+15555550100").unwrap())
            .await
            .unwrap();
        assert!(two.load(id.as_str()).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn with_the_cache_off_every_lookup_reads_the_store() {
        let (sessions, _clock, store) = manager(SessionConfig::default().cache_capacity(0));
        let id = sessions.create(phone("+15555550100")).await.unwrap();
        assert!(sessions.load(id.as_str()).await.unwrap().is_some());
        // Removed behind the manager's back (no announcement): only a store read can tell.
        store.delete(&id.store_key()).await.unwrap();
        assert!(sessions.load(id.as_str()).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_cached_session_still_ends_at_its_absolute_lifetime() {
        let config = SessionConfig::default()
            .idle_timeout(Duration::from_secs(600))
            .absolute_timeout(Duration::from_secs(3600));
        let (sessions, clock, store) = long_lived_manager(config);
        let id = sessions.create(phone("+15555550100")).await.unwrap();
        // Used until just before its end: refreshed and cached 10 s before it.
        for _ in 0..7 {
            clock.advance(secs(500));
            assert!(sessions.load(id.as_str()).await.unwrap().is_some());
        }
        clock.advance(secs(90));
        assert!(
            sessions.load(id.as_str()).await.unwrap().is_some(),
            "3590 s"
        );
        clock.advance(secs(10));
        assert!(
            store.load(&id.store_key()).await.unwrap().is_some(),
            "store kept it"
        );
        assert!(
            sessions.load(id.as_str()).await.unwrap().is_none(),
            "the cached session outlived its absolute lifetime"
        );
    }

    #[tokio::test]
    async fn idle_alone_ends_a_session_the_store_still_holds() {
        let config = SessionConfig::default()
            .idle_timeout(Duration::from_secs(600))
            .absolute_timeout(Duration::from_secs(3600));
        let (sessions, clock, store) = long_lived_manager(config);
        let id = sessions.create(phone("+15555550100")).await.unwrap();
        let key = id.store_key();
        clock.advance(secs(599));
        assert!(sessions.load(id.as_str()).await.unwrap().is_some());
        // 600 s without use; the absolute lifetime (3600 s) is far away, the record is still
        // in the store: the session ends all the same, and its record goes.
        clock.advance(secs(600));
        assert!(store.load(&key).await.unwrap().is_some(), "store kept it");
        assert!(
            sessions.load(id.as_str()).await.unwrap().is_none(),
            "idle alone ends the session"
        );
        assert!(store.load(&key).await.unwrap().is_none(), "record removed");
    }

    #[tokio::test]
    async fn absolute_lifetime_alone_ends_a_session_the_store_still_holds() {
        let config = SessionConfig::default()
            .idle_timeout(Duration::from_secs(600))
            .absolute_timeout(Duration::from_secs(1800));
        let (sessions, clock, store) = long_lived_manager(config);
        let id = sessions.create(phone("+15555550100")).await.unwrap();
        let key = id.store_key();
        // In use every 5 minutes: never idle.
        for _ in 0..5 {
            clock.advance(secs(300));
            assert!(sessions.load(id.as_str()).await.unwrap().is_some());
        }
        clock.advance(secs(299));
        assert!(
            sessions.load(id.as_str()).await.unwrap().is_some(),
            "alive at 1799 s"
        );
        clock.advance(secs(1));
        assert!(store.load(&key).await.unwrap().is_some(), "store kept it");
        assert!(
            sessions.load(id.as_str()).await.unwrap().is_none(),
            "the absolute lifetime alone ends the session at 1800 s"
        );
        assert!(store.load(&key).await.unwrap().is_none(), "record removed");
    }

    #[tokio::test]
    async fn a_lifetime_shortened_after_creation_applies_to_existing_sessions() {
        let long = SessionConfig::default()
            .idle_timeout(Duration::from_secs(3600))
            .absolute_timeout(Duration::from_secs(12 * 3600));
        let (sessions, clock, store) = manager(long);
        let id = sessions.create(phone("+15555550100")).await.unwrap();
        // The app restarts with a 10-minute idle timeout; the record was written with a 1-hour
        // TTL and is still in the store.
        let short = SessionConfig::default()
            .idle_timeout(Duration::from_secs(600))
            .absolute_timeout(Duration::from_secs(12 * 3600));
        let restarted =
            SessionManager::new(Arc::new(store.clone()), Arc::new(clock.clone()), short);
        clock.advance(secs(900));
        assert!(store.load(&id.store_key()).await.unwrap().is_some());
        assert!(restarted.load(id.as_str()).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_short_idle_timeout_is_refreshed_within_half_of_it() {
        // Idle 60 s: the deadline must move at least every 30 s, or a session used every 40 s
        // would end although it is never idle for 60 s.
        let config = SessionConfig::default().idle_timeout(Duration::from_secs(60));
        let (sessions, clock, store) = manager(config);
        let id = sessions.create(phone("+15555550100")).await.unwrap();
        for round in 1..=6 {
            clock.advance(secs(40));
            assert!(
                sessions.load(id.as_str()).await.unwrap().is_some(),
                "used every 40 s, alive at {} s",
                round * 40
            );
        }
        assert!(store.load(&id.store_key()).await.unwrap().unwrap().version > 1);
        clock.advance(secs(60));
        assert!(sessions.load(id.as_str()).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn store_failure_fails_closed() {
        let store = MemoryStore::with_capacity(0);
        let sessions = SessionManager::new(
            Arc::new(store),
            Arc::new(crate::clock::SystemClock),
            SessionConfig::default(),
        );
        let err = sessions.create(phone("+15555550100")).await.unwrap_err();
        assert_eq!(err.http_status(), 503);
    }
}
