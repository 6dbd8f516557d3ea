//! Forgetting things when their lifetime passes, without scanning everything that is still
//! alive: a min-heap of `(expiry, key)`, popped from the front on each insert.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};
use std::time::Instant;

/// Keys in expiry order.
#[derive(Debug, Default)]
pub(crate) struct ExpiryQueue {
    heap: BinaryHeap<Reverse<(Instant, String)>>,
}

impl ExpiryQueue {
    /// Remembers that `key` expires at `at`.
    pub(crate) fn push(&mut self, at: Instant, key: String) {
        self.heap.push(Reverse((at, key)));
    }

    /// The next key whose expiry is at or before `now`, removed from the queue.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<String> {
        if self.heap.peek().is_some_and(|Reverse((at, _))| *at <= now) {
            self.heap.pop().map(|Reverse((_, key))| key)
        } else {
            None
        }
    }

    /// How many keys are queued.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }
}

/// Ids that may be used once while they are valid (TS43 credential `jti`s): each is
/// remembered until its credential expires, then forgotten.
#[derive(Debug, Default)]
pub(crate) struct UsedIds {
    ids: HashSet<String>,
    expiry: ExpiryQueue,
}

impl UsedIds {
    /// Records `id` as used until `valid_until`; `false` when it was used already. Ids whose
    /// validity passed are forgotten first.
    pub(crate) fn insert(&mut self, id: &str, valid_until: Instant) -> bool {
        let now = Instant::now();
        while let Some(old) = self.expiry.pop_due(now) {
            self.ids.remove(&old);
        }
        if !self.ids.insert(id.to_owned()) {
            return false;
        }
        self.expiry.push(valid_until, id.to_owned());
        true
    }

    /// How many ids are remembered.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn used_ids_are_refused_until_they_expire_then_forgotten() {
        let mut used = UsedIds::default();
        let now = Instant::now();
        assert!(used.insert("a", now + Duration::from_secs(60)));
        assert!(!used.insert("a", now + Duration::from_secs(60)));
        // "b" is already past its validity: forgotten on the next insert
        assert!(used.insert("b", now));
        assert!(used.insert("c", now + Duration::from_secs(60)));
        assert_eq!(used.len(), 2);
        assert!(!used.insert("a", now + Duration::from_secs(60)));
    }

    #[test]
    fn queue_pops_in_expiry_order_only_when_due() {
        let mut q = ExpiryQueue::default();
        let now = Instant::now();
        q.push(now + Duration::from_secs(10), "late".into());
        q.push(now, "due".into());
        assert_eq!(q.pop_due(now).as_deref(), Some("due"));
        assert_eq!(q.pop_due(now), None);
        assert_eq!(q.len(), 1);
    }
}
