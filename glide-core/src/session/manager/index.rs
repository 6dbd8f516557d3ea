//! The per-number index of verified sessions: which sessions a number has, so that they can be
//! listed and revoked (one, all others, all) and capped at `max_per_number`. Every change is a
//! compare-and-set on the index; an index that cannot be decoded is an error, never empty.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{
    contention, from_millis, raw_hash, session_key, until, SessionId, SessionManager,
    StoredSession, EMPTY_INDEX_TTL, INDEX_ROUNDS,
};
use crate::binding::constant_time_eq;
use crate::error::Error;
use crate::session::SessionInfo;
use crate::store::{to_json, StoreError};
use crate::PhoneNumber;

/// The store key of a number's index (the number itself never reaches the store).
pub(super) fn index_key(phone: &PhoneNumber) -> String {
    format!(
        "phone:{}",
        hex::encode(Sha256::digest(phone.as_str().as_bytes()))
    )
}

/// The sessions of one number, for revoke-all.
#[derive(Serialize, Deserialize, Default)]
pub(super) struct Index {
    /// Oldest first.
    pub(super) sessions: Vec<IndexEntry>,
}

#[derive(Serialize, Deserialize, Clone)]
pub(super) struct IndexEntry {
    /// Hash of the session id.
    pub(super) id: String,
    /// Unix milliseconds of its absolute end.
    pub(super) ends_ms: i64,
}

/// A number's index as stored: one that cannot be read is an error, never an empty list (an
/// empty one would make a revocation end nothing and a rewrite forget every live session).
pub(super) fn decode_index(bytes: &[u8]) -> Result<Index, Error> {
    serde_json::from_slice(bytes).map_err(|e| {
        tracing::error!(
            target: "glide::session",
            error = %e,
            "a per-number session index could not be decoded"
        );
        Error::Store(StoreError::Decode(Box::new(e)))
    })
}

impl SessionManager {
    /// Ends every session of `phone`; returns how many were live.
    pub async fn revoke_all(&self, phone: &PhoneNumber) -> Result<usize, Error> {
        self.revoke_except(phone, None).await
    }

    /// Ends every session of `phone` except `current` (a session id, normally the caller's);
    /// returns how many were live.
    pub async fn revoke_others(&self, phone: &PhoneNumber, current: &str) -> Result<usize, Error> {
        let keep = SessionId::parse(current).map(|id| id.hash());
        self.revoke_except(phone, keep.as_deref()).await
    }

    /// Ends the session of `phone` named by `handle` (see [`SessionInfo::handle`]); `false`
    /// when no live session of this number has that handle — a handle of another number's
    /// session, a forged one and an ended one all take the same path: one load of this
    /// number's index, a constant-time compare against each of its entries.
    pub async fn revoke(&self, phone: &PhoneNumber, handle: &str) -> Result<bool, Error> {
        let Some(stored) = self.store.load(&index_key(phone)).await? else {
            return Ok(false);
        };
        let index = decode_index(&stored.value)?;
        let mut found = None;
        for entry in &index.sessions {
            if constant_time_eq(entry.id.as_bytes(), handle.as_bytes()) {
                found = Some(entry.id.as_str());
            }
        }
        let Some(hash) = found else {
            return Ok(false);
        };
        let revoked = self.store.take(&session_key(hash)).await?.is_some();
        if revoked {
            self.announce_ended(&raw_hash(hash).into_iter().collect::<Vec<_>>())
                .await;
            tracing::info!(phone = %phone.masked(), "verified session revoked");
        }
        Ok(revoked)
    }

    /// The live sessions of `phone`, oldest first; `current` (the caller's session id) is
    /// marked [`SessionInfo::current`]. Reads only: a listing never writes to the store, and
    /// `last_seen_at` is as fresh as the idle refresh (at most a minute old).
    pub async fn list(
        &self,
        phone: &PhoneNumber,
        current: Option<&str>,
    ) -> Result<Vec<SessionInfo>, Error> {
        let Some(stored) = self.store.load(&index_key(phone)).await? else {
            return Ok(Vec::new());
        };
        let index = decode_index(&stored.value)?;
        let current = current.and_then(SessionId::parse).map(|id| id.hash());
        let now = self.now_ms();
        let mut sessions = Vec::with_capacity(index.sessions.len());
        for entry in &index.sessions {
            let Some(stored) = self.store.load(&session_key(&entry.id)).await? else {
                continue;
            };
            // A damaged session record makes the listing an error, not a partial list.
            let record = serde_json::from_slice::<StoredSession>(&stored.value)
                .map_err(|e| Error::Store(StoreError::Decode(Box::new(e))))?;
            if !self.is_live(&record, now) || record.phone.phone_number != *phone {
                continue;
            }
            sessions.push(SessionInfo {
                current: current.as_deref() == Some(entry.id.as_str()),
                handle: entry.id.clone(),
                created_at: from_millis(record.created_ms),
                last_seen_at: from_millis(record.seen_ms),
                strategy: record.phone.strategy,
                user_agent: record.client.user_agent().map(str::to_owned),
                ip: record.client.ip().map(str::to_owned),
            });
        }
        Ok(sessions)
    }

    /// Ends every session of `phone` but the one hashed `keep`; returns how many were live.
    pub(super) async fn revoke_except(
        &self,
        phone: &PhoneNumber,
        keep: Option<&str>,
    ) -> Result<usize, Error> {
        let key = index_key(phone);
        let mut revoked = 0;
        for _ in 0..INDEX_ROUNDS {
            let Some(stored) = self.store.load(&key).await? else {
                return Ok(revoked);
            };
            let mut index = decode_index(&stored.value)?;
            let (kept, ended): (Vec<_>, Vec<_>) = index
                .sessions
                .drain(..)
                .partition(|entry| keep == Some(entry.id.as_str()));
            let mut taken = Vec::with_capacity(ended.len());
            for entry in &ended {
                if self.store.take(&session_key(&entry.id)).await?.is_some() {
                    revoked += 1;
                    taken.extend(raw_hash(&entry.id));
                }
            }
            self.announce_ended(&taken).await;
            // Rewrite the index only if nobody added a session meanwhile; else end those too.
            // (Deleting it outright could lose an entry added between the two steps.)
            let ttl = kept
                .iter()
                .map(|entry| until(self.now_ms(), entry.ends_ms))
                .max()
                .unwrap_or(EMPTY_INDEX_TTL);
            index.sessions = kept;
            if self
                .store
                .compare_and_set(&key, stored.version, &to_json(&index)?, ttl)
                .await?
            {
                tracing::info!(phone = %phone.masked(), revoked, "verified sessions revoked");
                return Ok(revoked);
            }
        }
        Err(contention())
    }

    /// Adds session `hash` to the index of `phone`, ending the oldest sessions beyond
    /// `max_per_number`.
    pub(super) async fn index_add(
        &self,
        phone: &PhoneNumber,
        hash: &str,
        now: i64,
        ends: i64,
    ) -> Result<(), Error> {
        let key = index_key(phone);
        let entry = IndexEntry {
            id: hash.to_owned(),
            ends_ms: ends,
        };
        for _ in 0..INDEX_ROUNDS {
            let Some(stored) = self.store.load(&key).await? else {
                let index = Index {
                    sessions: vec![entry.clone()],
                };
                if self
                    .store
                    .create(&key, &to_json(&index)?, until(now, ends))
                    .await?
                {
                    return Ok(());
                }
                continue;
            };
            let mut index = decode_index(&stored.value)?;
            index.sessions.retain(|s| s.ends_ms > now);
            index.sessions.push(entry.clone());
            let mut evicted = Vec::new();
            if index.sessions.len() > self.config.max_per_number {
                // Forget sessions that already ended (logout, idle), then end the oldest.
                let mut kept = Vec::with_capacity(index.sessions.len());
                for s in index.sessions.drain(..) {
                    if s.id == hash || self.store.load(&session_key(&s.id)).await?.is_some() {
                        kept.push(s);
                    }
                }
                let excess = kept.len().saturating_sub(self.config.max_per_number);
                evicted = kept.drain(..excess).collect();
                index.sessions = kept;
            }
            let last_end = index
                .sessions
                .iter()
                .map(|s| s.ends_ms)
                .max()
                .unwrap_or(ends);
            if self
                .store
                .compare_and_set(
                    &key,
                    stored.version,
                    &to_json(&index)?,
                    until(now, last_end),
                )
                .await?
            {
                let mut ended = Vec::with_capacity(evicted.len());
                for old in evicted {
                    self.store.delete(&session_key(&old.id)).await?;
                    ended.extend(raw_hash(&old.id));
                }
                self.announce_ended(&ended).await;
                return Ok(());
            }
        }
        Err(contention())
    }
}
