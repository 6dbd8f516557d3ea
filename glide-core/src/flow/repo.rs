//! Loading and moving flow records in a [`Store`], with compare-and-set.

use std::sync::Arc;
use std::time::Duration;

use super::machine::{transition, Event};
use super::record::FlowRecord;
use crate::clock::SharedClock;
use crate::error::{Error, FlowError};
use crate::store::{from_json, to_json, Store};

/// How long an ended or expired flow is kept, so that a replay is told "already used" or
/// "expired" rather than "not found".
const TOMBSTONE: Duration = Duration::from_secs(600);

/// How many times a transition is re-evaluated after losing a compare-and-set race.
const MAX_RACES: usize = 16;

/// Flow records in a store, keyed `flow:{session_key}`.
#[derive(Debug, Clone)]
pub(crate) struct FlowRepo {
    store: Arc<dyn Store>,
    clock: SharedClock,
}

impl FlowRepo {
    /// A repository over `store`, telling time with `clock`.
    pub fn new(store: Arc<dyn Store>, clock: SharedClock) -> Self {
        Self { store, clock }
    }

    /// Whether `session_key` looks like a Glide session key (so junk never reaches the store).
    pub fn is_valid_key(session_key: &str) -> bool {
        (1..=64).contains(&session_key.len())
            && session_key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    }

    fn key(session_key: &str) -> String {
        format!("flow:{session_key}")
    }

    fn ttl(&self, record: &FlowRecord) -> Duration {
        let left = record.expires_at - self.clock.now();
        // Relaxing is safe: the state machine refuses a flow past `expires_at` itself; a flow
        // already past it only keeps the tombstone's TTL.
        let left = Duration::try_from(left).unwrap_or(Duration::ZERO);
        left + TOMBSTONE
    }

    /// Stores a new flow. A second flow for the same session key is refused.
    pub async fn create(&self, record: &FlowRecord) -> Result<(), Error> {
        let bytes = to_json(record)?;
        let created = self
            .store
            .create(&Self::key(&record.session_key), &bytes, self.ttl(record))
            .await?;
        if created {
            Ok(())
        } else {
            Err(FlowError::InvalidTransition("this session was already prepared".into()).into())
        }
    }

    /// The flow for `session_key`, with its version.
    pub async fn load(&self, session_key: &str) -> Result<Option<(FlowRecord, u64)>, Error> {
        if !Self::is_valid_key(session_key) {
            return Ok(None);
        }
        match self.store.load(&Self::key(session_key)).await? {
            None => Ok(None),
            Some(v) => Ok(Some((from_json(&v.value)?, v.version))),
        }
    }

    /// Applies `event` to the flow, re-evaluating after a lost race, and returns the record as
    /// it now stands. Exactly one of several concurrent callers wins a contested transition; the
    /// others get the error the new state gives (`Busy`, `AlreadyUsed`, …).
    pub async fn apply(&self, session_key: &str, event: &Event) -> Result<FlowRecord, Error> {
        for _ in 0..MAX_RACES {
            let Some((mut record, version)) = self.load(session_key).await? else {
                return Err(FlowError::NotFound.into());
            };
            let next = transition(&record, event, self.clock.now())?;
            if next == record.state {
                return Ok(record);
            }
            record.state = next;
            let bytes = to_json(&record)?;
            let swapped = self
                .store
                .compare_and_set(&Self::key(session_key), version, &bytes, self.ttl(&record))
                .await?;
            if swapped {
                return Ok(record);
            }
        }
        Err(FlowError::Busy.into())
    }
}

#[cfg(test)]
mod tests {
    use super::FlowRepo;

    #[test]
    fn session_keys_are_one_to_sixty_four_url_safe_characters() {
        let longest = "k".repeat(64);
        for good in ["a", "Z9", "a-b_c", "0123456789abcdef", longest.as_str()] {
            assert!(FlowRepo::is_valid_key(good), "{good:?}");
        }
        let too_long = "k".repeat(65);
        for bad in [
            "",
            "a b",
            "a/b",
            "a;b",
            "a=b",
            "a.b",
            "a%20",
            "ключ",
            "a\n",
            too_long.as_str(),
        ] {
            assert!(!FlowRepo::is_valid_key(bad), "{bad:?}");
        }
    }
}
