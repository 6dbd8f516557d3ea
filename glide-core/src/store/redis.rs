//! The Redis store, on one node or a Redis Cluster.

use async_trait::async_trait;
use redis::{RedisError, Script};
use std::fmt;
use std::future::Future;
use std::time::Duration;

use super::redis_conn::{within, RedisConn};
use super::redis_target::RedisTarget;
use super::{Store, StoreError, Versioned};

/// The key prefix of [`RedisStore`] unless [`RedisStore::with_prefix`] changes it.
const DEFAULT_PREFIX: &str = "glide:v1:";

/// How long connecting and each command may take by default.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// Compare-and-set: replace the value only when its 8-byte version prefix is the expected one.
/// KEYS[1] = key; ARGV[1] = expected version (8 bytes, big-endian); ARGV[2] = new stored value;
/// ARGV[3] = TTL in milliseconds.
const CAS_SCRIPT: &str = r"
local cur = redis.call('GET', KEYS[1])
if not cur or string.len(cur) < 8 or string.sub(cur, 1, 8) ~= ARGV[1] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
";

/// Bounded increment with the window's expiry set by the first increment, in one step.
/// KEYS[1] = counter; ARGV[1] = max; ARGV[2] = TTL in milliseconds. Returns the new count, or
/// -1 when the counter is already at max. (Lua numbers are doubles: exact up to 2^53, which is
/// why `max` is capped there.)
const INCREMENT_SCRIPT: &str = r"
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if not n then
  return redis.error_reply('ERR the value at this key is not a counter')
end
if n >= tonumber(ARGV[1]) then
  return -1
end
n = redis.call('INCR', KEYS[1])
if n == 1 or redis.call('PTTL', KEYS[1]) == -1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return n
";

/// The largest `max` the increment script compares exactly (2^53).
const MAX_EXACT_COUNT: u64 = 1 << 53;

/// Timeouts of a [`RedisStore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RedisTimeouts {
    /// How long one connection attempt may take (default 2 s).
    pub connect: Duration,
    /// How long one command may take, including waiting for a reconnection (default 2 s).
    pub response: Duration,
}

impl Default for RedisTimeouts {
    fn default() -> Self {
        Self {
            connect: DEFAULT_TIMEOUT,
            response: DEFAULT_TIMEOUT,
        }
    }
}

impl RedisTimeouts {
    /// Both timeouts set to `timeout`.
    pub fn both(timeout: Duration) -> Self {
        Self {
            connect: timeout,
            response: timeout,
        }
    }
}

/// A store in Redis, shared by every instance of an app (feature `redis`), on one node or a
/// Redis Cluster.
///
/// - Each value is stored as one Redis string: its version (8 bytes, big-endian) followed by the
///   bytes, so that `GETDEL` returns both atomically.
/// - `create` is `SET key v NX PX ttl`, `compare_and_set` a small Lua script (check the version
///   prefix, then `SET … PX ttl`), `take` is `GETDEL` (Redis ≥ 6.2), `delete` is `DEL`,
///   `increment` a Lua script (`GET`, compare with the limit, `INCR`, and `PEXPIRE` when the
///   counter is new), so the count and its window's expiry change in one atomic step. Counts
///   are compared exactly up to 2^53; a larger `max` counts as 2^53.
/// - Built on redis-rs's [`ConnectionManager`](redis::aio::ConnectionManager) (one node) or its
///   cluster client (a cluster): after an outage it reconnects by itself, the store need not be
///   rebuilt. Every operation has a deadline ([`RedisTimeouts`], 2 s by default), so a dead
///   Redis gives a [`StoreError`] quickly instead of a hung request; callers answer 503.
/// - Keys are prefixed (default `glide:v1:`): `<prefix><key>` on one node.
/// - On a cluster ([`connect_cluster`](Self::connect_cluster)) each key is hash-tagged,
///   `<prefix>{<key>}`, so its slot depends on the key alone: every operation touches one key of
///   one slot (scripts included), and a flow's record `…{flow:<session key>}` shares its slot
///   with that flow's event channel (see `RedisEvents`). The prefix must not contain `{` then.
///   The cluster client follows slot moves and failovers by itself.
///
/// Cheap to clone: clones share one multiplexed connection.
///
/// ```no_run
/// # async fn demo() -> Result<(), glide_core::store::StoreError> {
/// use glide_core::store::{RedisStore, RedisTarget};
/// let store = RedisStore::connect("redis://127.0.0.1:6379").await?.with_prefix("myapp:glide:");
/// let cluster =
///     RedisStore::connect_cluster(&["redis://127.0.0.1:7000", "redis://127.0.0.1:7001"]).await?;
/// // Or whatever GLIDE_REDIS_CLUSTER_URLS / GLIDE_REDIS_URL say:
/// if let Some(target) = RedisTarget::from_env() {
///     let store = RedisStore::connect_target(&target).await?;
/// #   let _ = store;
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisStore {
    conn: RedisConn,
    prefix: String,
    timeouts: RedisTimeouts,
    cas: Script,
    increment: Script,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("cluster", &self.conn.is_cluster())
            .field("prefix", &self.prefix)
            .field("timeouts", &self.timeouts)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Connects to the Redis at `url` (`redis://host:port/db`, `rediss://…` needs a TLS feature
    /// of the `redis` crate) with the default timeouts.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with_timeouts(url, RedisTimeouts::default()).await
    }

    /// Connects to the Redis at `url` with the given timeouts.
    pub async fn connect_with_timeouts(
        url: &str,
        timeouts: RedisTimeouts,
    ) -> Result<Self, StoreError> {
        let conn = RedisConn::node(url, timeouts.connect, timeouts.response).await?;
        Ok(Self::with_conn(conn, timeouts))
    }

    /// Connects to the Redis Cluster that the `seeds` (`redis://host:port` of any of its
    /// nodes; one reachable node is enough) belong to, with the default timeouts.
    pub async fn connect_cluster(seeds: &[impl AsRef<str>]) -> Result<Self, StoreError> {
        Self::connect_cluster_with_timeouts(seeds, RedisTimeouts::default()).await
    }

    /// Connects to a Redis Cluster with the given timeouts.
    pub async fn connect_cluster_with_timeouts(
        seeds: &[impl AsRef<str>],
        timeouts: RedisTimeouts,
    ) -> Result<Self, StoreError> {
        let conn = RedisConn::cluster(seeds, timeouts.connect, timeouts.response).await?;
        Ok(Self::with_conn(conn, timeouts))
    }

    /// Connects to `target` (one node or a cluster) with the default timeouts; see
    /// [`RedisTarget::from_env`] for the environment variables.
    pub async fn connect_target(target: &RedisTarget) -> Result<Self, StoreError> {
        match target {
            RedisTarget::Node(url) => Self::connect(url).await,
            RedisTarget::Cluster(seeds) => Self::connect_cluster(seeds).await,
        }
    }

    fn with_conn(conn: RedisConn, timeouts: RedisTimeouts) -> Self {
        Self {
            conn,
            prefix: DEFAULT_PREFIX.to_owned(),
            timeouts,
            cas: Script::new(CAS_SCRIPT),
            increment: Script::new(INCREMENT_SCRIPT),
        }
    }

    /// Whether this store speaks to a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        self.conn.is_cluster()
    }

    /// The same store with keys under `prefix` instead of `glide:v1:`.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The Redis key of `key`: `<prefix><key>` on a node, `<prefix>{<key>}` on a cluster.
    fn key(&self, key: &str) -> String {
        if self.conn.is_cluster() {
            format!("{}{{{key}}}", self.prefix)
        } else {
            format!("{}{key}", self.prefix)
        }
    }

    async fn run<T>(
        &self,
        op: impl Future<Output = Result<T, RedisError>>,
    ) -> Result<T, StoreError> {
        within(self.timeouts.response, op).await
    }
}

/// The TTL in whole milliseconds, at least 1 (Redis refuses `PX 0`).
fn ttl_millis(ttl: Duration) -> u64 {
    // Saturates to the longest TTL; one beyond Redis's range is refused there (StoreError).
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

fn encode(version: u64, value: &[u8]) -> Vec<u8> {
    let mut stored = Vec::with_capacity(8 + value.len());
    stored.extend_from_slice(&version.to_be_bytes());
    stored.extend_from_slice(value);
    stored
}

fn decode(stored: Vec<u8>) -> Result<Versioned, StoreError> {
    let Some((version, value)) = stored.split_first_chunk::<8>() else {
        return Err(StoreError::Decode(
            "stored value shorter than its version prefix".into(),
        ));
    };
    Ok(Versioned {
        version: u64::from_be_bytes(*version),
        value: value.to_vec(),
    })
}

#[async_trait]
impl Store for RedisStore {
    async fn create(&self, key: &str, value: &[u8], ttl: Duration) -> Result<bool, StoreError> {
        let mut conn = self.conn.clone();
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.key(key))
            .arg(encode(1, value))
            .arg("NX")
            .arg("PX")
            .arg(ttl_millis(ttl));
        let reply: Option<String> = self.run(cmd.query_async(&mut conn)).await?;
        Ok(reply.is_some())
    }

    async fn load(&self, key: &str) -> Result<Option<Versioned>, StoreError> {
        let mut conn = self.conn.clone();
        let mut cmd = redis::cmd("GET");
        cmd.arg(self.key(key));
        let stored: Option<Vec<u8>> = self.run(cmd.query_async(&mut conn)).await?;
        stored.map(decode).transpose()
    }

    async fn compare_and_set(
        &self,
        key: &str,
        expected_version: u64,
        value: &[u8],
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let mut conn = self.conn.clone();
        let mut invocation = self.cas.key(self.key(key));
        invocation
            .arg(&expected_version.to_be_bytes()[..])
            .arg(encode(expected_version.wrapping_add(1), value))
            .arg(ttl_millis(ttl));
        let replaced: i64 = self.run(invocation.invoke_async(&mut conn)).await?;
        Ok(replaced == 1)
    }

    async fn take(&self, key: &str) -> Result<Option<Versioned>, StoreError> {
        let mut conn = self.conn.clone();
        let mut cmd = redis::cmd("GETDEL");
        cmd.arg(self.key(key));
        let stored: Option<Vec<u8>> = self.run(cmd.query_async(&mut conn)).await?;
        stored.map(decode).transpose()
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let mut cmd = redis::cmd("DEL");
        cmd.arg(self.key(key));
        let _removed: i64 = self.run(cmd.query_async(&mut conn)).await?;
        Ok(())
    }

    async fn increment(
        &self,
        key: &str,
        max: u64,
        ttl: Duration,
    ) -> Result<Option<u64>, StoreError> {
        let mut conn = self.conn.clone();
        let mut invocation = self.increment.key(self.key(key));
        invocation
            .arg(max.min(MAX_EXACT_COUNT))
            .arg(ttl_millis(ttl));
        let count: i64 = self.run(invocation.invoke_async(&mut conn)).await?;
        Ok(u64::try_from(count).ok())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn value_layout_round_trips() {
        let stored = encode(7, b"abc");
        assert_eq!(stored.len(), 11);
        let v = decode(stored).unwrap();
        assert_eq!((v.version, v.value.as_slice()), (7, &b"abc"[..]));
        assert!(matches!(decode(vec![1, 2]), Err(StoreError::Decode(_))));
        assert_eq!(ttl_millis(Duration::ZERO), 1);
        assert_eq!(ttl_millis(Duration::from_secs(2)), 2000);
    }
}
