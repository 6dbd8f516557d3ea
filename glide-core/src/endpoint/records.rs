//! Short-lived records of the code-based flows (a Magic Auth verification, a Number Verify
//! state) in a [`Store`], under random ids held in a browser cookie: the same compare-and-set
//! discipline as the flow repository, with a bounded number of rounds.

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{Error, FlowError};
use crate::store::{from_json, to_json, Store};

/// How many times an update is re-evaluated after losing a compare-and-set race.
const MAX_RACES: usize = 16;

/// What a record type says about itself.
pub(crate) trait Record: Serialize + DeserializeOwned + Send + Sync {
    /// The store key prefix (`legacy:verification:`).
    const PREFIX: &'static str;
    /// The record's lifetime from its creation.
    const TTL: Duration;
    /// When it was created (unix seconds).
    fn created(&self) -> i64;
}

/// Records of type `T`.
#[derive(Debug)]
pub(crate) struct Records<T> {
    store: Arc<dyn Store>,
    _record: PhantomData<fn() -> T>,
}

impl<T: Record> Records<T> {
    pub(crate) fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            _record: PhantomData,
        }
    }

    fn key(id: &str) -> String {
        format!("{}{id}", T::PREFIX)
    }

    /// The store TTL left for `record` at `now` (at least 1 s).
    fn ttl(record: &T, now: i64) -> Duration {
        let left = (record.created() + T::TTL.as_secs() as i64 - now).max(1);
        Duration::from_secs(left.unsigned_abs())
    }

    /// Stores a new record under a fresh id and returns the id.
    pub(crate) async fn create(&self, record: &T) -> Result<String, Error> {
        let id = random_id();
        if self
            .store
            .create(&Self::key(&id), &to_json(record)?, T::TTL)
            .await?
        {
            Ok(id)
        } else {
            Err(Error::Internal("a fresh record id was taken".into()))
        }
    }

    /// The live record `id`, with its version.
    pub(crate) async fn load(&self, id: &str) -> Result<Option<(T, u64)>, Error> {
        match self.store.load(&Self::key(id)).await? {
            Some(v) => Ok(Some((from_json(&v.value)?, v.version))),
            None => Ok(None),
        }
    }

    /// Changes record `id` with `change`, re-reading and re-applying after a lost race:
    /// `change` sees the current record every round, so no concurrent change is lost. Missing:
    /// `SESSION_NOT_FOUND`; still contended after 16 rounds: `SESSION_BUSY`.
    pub(crate) async fn update<R>(
        &self,
        id: &str,
        now: i64,
        mut change: impl FnMut(&mut T) -> Result<R, Error>,
    ) -> Result<(T, R), Error> {
        let key = Self::key(id);
        for _ in 0..MAX_RACES {
            let (mut record, version) = self.load(id).await?.ok_or(FlowError::NotFound)?;
            let out = change(&mut record)?;
            if self
                .store
                .compare_and_set(&key, version, &to_json(&record)?, Self::ttl(&record, now))
                .await?
            {
                return Ok((record, out));
            }
        }
        Err(FlowError::Busy.into())
    }

    /// Takes record `id` (single use): whether this caller took exactly `version`.
    pub(crate) async fn take(&self, id: &str, version: Option<u64>) -> Result<bool, Error> {
        let taken = self.store.take(&Self::key(id)).await?;
        Ok(match (taken, version) {
            (Some(_), None) => true,
            (Some(v), Some(version)) => v.version == version,
            (None, _) => false,
        })
    }
}

/// A fresh record id: 32 random bytes, base64url (43 characters).
pub(crate) fn random_id() -> String {
    crate::random::token()
}

/// Whether `text` has the shape of [`random_id`]'s ids (so junk never reaches the store).
pub(crate) fn is_id(text: &str) -> bool {
    text.len() == 43
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;
    use serde::Deserialize;

    #[test]
    fn only_the_shape_of_a_random_id_is_an_id() {
        for _ in 0..32 {
            assert!(is_id(&random_id()));
        }
        let good = "A".repeat(43);
        assert!(is_id(&good));
        assert!(is_id(&format!("{}-_", "a".repeat(41))));
        for bad in [
            "A".repeat(42),
            "A".repeat(44),
            String::new(),
            format!("{}=", "A".repeat(42)),
            format!("{}.", "A".repeat(42)),
            format!("{}/", "A".repeat(42)),
            format!("{}é", "A".repeat(41)),
        ] {
            assert!(!is_id(&bad), "{bad:?}");
        }
    }

    #[derive(Debug, Serialize, Deserialize)]
    struct Counter {
        n: u32,
        created: i64,
    }

    impl Record for Counter {
        const PREFIX: &'static str = "test:counter:";
        const TTL: Duration = Duration::from_secs(60);
        fn created(&self) -> i64 {
            self.created
        }
    }

    #[tokio::test]
    async fn concurrent_updates_lose_nothing_and_take_is_single_use() {
        let records = Arc::new(Records::<Counter>::new(Arc::new(MemoryStore::default())));
        let id = records
            .create(&Counter { n: 0, created: 0 })
            .await
            .expect("create");
        assert!(is_id(&id));
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (records, id) = (records.clone(), id.clone());
                tokio::spawn(async move {
                    records
                        .update(&id, 0, |c| {
                            c.n += 1;
                            Ok(())
                        })
                        .await
                })
            })
            .collect();
        let mut ok = 0;
        for task in tasks {
            if task.await.expect("join").is_ok() {
                ok += 1;
            }
        }
        let (counter, version) = records.load(&id).await.expect("load").expect("live");
        assert_eq!(counter.n, ok);
        assert!(!records.take(&id, Some(version + 1)).await.expect("take"));
        assert!(!records.take(&id, None).await.expect("second take"));
        let missing = records.update(&id, 0, |_| Ok(())).await.unwrap_err();
        assert_eq!(missing.code(), "SESSION_NOT_FOUND");
    }
}
