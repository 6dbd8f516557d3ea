//! Flow-finished notifications: wake a waiting request the moment the phone finishes, without
//! polling the store.
//!
//! A desktop `process` request waits server-side while the user approves on the phone; the
//! phone's request (possibly served by another app instance) publishes on the flow's topic when
//! it changes the flow. [`LocalEvents`] wakes waiters in this process; `RedisEvents` (feature
//! `redis`) carries the wake-up to every instance through Redis pub/sub (one node) or sharded
//! pub/sub (a Redis Cluster).
//!
//! # The pattern: subscribe, re-check, wait
//!
//! A publish that happens before a subscription exists reaches nobody. So a waiter subscribes
//! first, then reads the state it waits for, and only then waits:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), glide_core::store::StoreError> {
//! use glide_core::events::{FlowEvents, LocalEvents};
//! use std::time::Duration;
//!
//! let events = LocalEvents::default();
//! let mut subscription = events.subscribe("flow-123").await?;
//! // ... re-read the flow from the store here; if it is already finished, answer at once ...
//! # events.publish("flow-123").await?;
//! if subscription.wait(Duration::from_secs(25)).await {
//!     // something happened on the topic: read the flow again
//! #   return Ok(());
//! } else {
//!     // timed out: answer "still waiting"
//! #   unreachable!("the publish above wakes it");
//! }
//! # Ok(()) }
//! ```
//!
//! A wake-up says "look again", nothing more: it may be spurious (e.g. after a Redis
//! reconnection every waiter is woken, since publishes during the gap were lost), and the state
//! must always be read from the store.

use async_trait::async_trait;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::watch;

use crate::store::StoreError;

mod endings;
pub(crate) use endings::announcement;
pub(crate) use endings::EndingsSink;
pub use endings::{SessionEndings, SessionHash};

#[cfg(feature = "redis")]
mod redis;
#[cfg(feature = "redis")]
mod redis_cluster;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use self::redis::RedisEvents;

/// Publishes and subscribes to flow topics (one topic per flow). Object safe.
#[async_trait]
pub trait FlowEvents: fmt::Debug + Send + Sync + 'static {
    /// Wakes every current subscriber of `topic`, in every app instance this reaches.
    ///
    /// Call it after the new state is in the store. A failure leaves the store untouched; remote
    /// waiters then only look again at their timeout, so callers usually log it and go on.
    async fn publish(&self, topic: &str) -> Result<(), StoreError>;

    /// Subscribes to `topic`. Every publish after this returns wakes the subscription.
    async fn subscribe(&self, topic: &str) -> Result<Subscription, StoreError>;

    /// Announces to every app instance that the verified sessions hashed `hashes` ended, for
    /// their [`session_endings`](Self::session_endings). The default announces nothing (and
    /// [`session_endings`](Self::session_endings) is `None`): implement both or neither.
    async fn publish_sessions_ended(&self, hashes: &[SessionHash]) -> Result<(), StoreError> {
        // Relaxing is safe: without `session_endings` a session cache asks the store on every hit.
        let _ = hashes;
        Ok(())
    }

    /// The ends of verified sessions announced by every app instance, when these events carry
    /// them across instances (`RedisEvents` does). With it, the engine keeps decoded sessions in
    /// memory and trusts them until an announcement or a lost subscription says otherwise; with
    /// `None` (the default, and [`LocalEvents`]) it checks each one against the store on every
    /// lookup.
    fn session_endings(&self) -> Option<SessionEndings> {
        None
    }
}

#[async_trait]
impl<T: FlowEvents + ?Sized> FlowEvents for Arc<T> {
    async fn publish(&self, topic: &str) -> Result<(), StoreError> {
        (**self).publish(topic).await
    }

    async fn subscribe(&self, topic: &str) -> Result<Subscription, StoreError> {
        (**self).subscribe(topic).await
    }

    async fn publish_sessions_ended(&self, hashes: &[SessionHash]) -> Result<(), StoreError> {
        (**self).publish_sessions_ended(hashes).await
    }

    fn session_endings(&self) -> Option<SessionEndings> {
        (**self).session_endings()
    }
}

/// A subscription to one topic; unsubscribes when dropped.
pub struct Subscription {
    receiver: Option<watch::Receiver<u64>>,
    topic: String,
    hub: Arc<Hub>,
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription").finish_non_exhaustive()
    }
}

impl Subscription {
    /// Waits until a publish on the topic arrives (`true`) or `timeout` passes (`false`).
    /// Returns at once with `true` if a publish arrived since the subscription (or since the
    /// last `wait` that returned `true`).
    pub async fn wait(&mut self, timeout: Duration) -> bool {
        let Some(receiver) = self.receiver.as_mut() else {
            return false;
        };
        matches!(
            tokio::time::timeout(timeout, receiver.changed()).await,
            Ok(Ok(()))
        )
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        drop(self.receiver.take());
        self.hub.release(&self.topic);
    }
}

/// The waiters of one process, by topic. Entries exist only while someone waits.
#[derive(Default)]
pub(crate) struct Hub {
    topics: Mutex<HashMap<String, watch::Sender<u64>>>,
    /// Told every topic that loses its last waiter (on a Redis Cluster, to unsubscribe it).
    released: Option<tokio::sync::mpsc::UnboundedSender<String>>,
}

impl Hub {
    /// A hub that sends every topic losing its last waiter to `released`.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn with_release_notifier(
        released: tokio::sync::mpsc::UnboundedSender<String>,
    ) -> Self {
        Self {
            topics: Mutex::default(),
            released: Some(released),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, watch::Sender<u64>>> {
        // Never held across an await; the map stays consistent even after a panic elsewhere.
        self.topics
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn subscribe(self: &Arc<Self>, topic: &str) -> Subscription {
        let mut topics = self.lock();
        let receiver = match topics.get(topic) {
            Some(sender) => sender.subscribe(),
            None => {
                let (sender, receiver) = watch::channel(0);
                topics.insert(topic.to_owned(), sender);
                receiver
            }
        };
        Subscription {
            receiver: Some(receiver),
            topic: topic.to_owned(),
            hub: self.clone(),
        }
    }

    /// Wakes the waiters of `topic` in this process.
    pub(crate) fn notify(&self, topic: &str) {
        if let Some(sender) = self.lock().get(topic) {
            sender.send_modify(|n| *n = n.wrapping_add(1));
        }
    }

    /// Wakes every waiter in this process (after a lost connection: they must look again).
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn notify_all(&self) {
        for sender in self.lock().values() {
            sender.send_modify(|n| *n = n.wrapping_add(1));
        }
    }

    fn release(&self, topic: &str) {
        let mut topics = self.lock();
        if topics
            .get(topic)
            .is_some_and(|sender| sender.receiver_count() == 0)
        {
            topics.remove(topic);
            if let Some(released) = &self.released {
                let _ = released.send(topic.to_owned());
            }
        }
    }

    /// Whether `topic` has a waiter.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn is_waited(&self, topic: &str) -> bool {
        self.lock().contains_key(topic)
    }

    /// The topics with a waiter.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn topics(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }

    /// Topics with at least one waiter.
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }
}

/// In-process notifications: enough for a single app instance (the default).
///
/// Cheap to clone; clones share their waiters.
#[derive(Clone, Default)]
pub struct LocalEvents {
    hub: Arc<Hub>,
}

impl LocalEvents {
    /// Notifications for this process.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many topics have a waiter right now.
    pub fn waiting_topics(&self) -> usize {
        self.hub.len()
    }
}

impl fmt::Debug for LocalEvents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalEvents")
            .field("waiting_topics", &self.hub.len())
            .finish()
    }
}

#[async_trait]
impl FlowEvents for LocalEvents {
    async fn publish(&self, topic: &str) -> Result<(), StoreError> {
        self.hub.notify(topic);
        Ok(())
    }

    async fn subscribe(&self, topic: &str) -> Result<Subscription, StoreError> {
        Ok(self.hub.subscribe(topic))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn publish_after_subscribe_is_never_missed() {
        let events = LocalEvents::new();
        let mut sub = events.subscribe("t").await.unwrap();
        // Published before `wait` is called: still seen.
        events.publish("t").await.unwrap();
        assert!(sub.wait(Duration::from_secs(5)).await);
        // Consumed: the next wait needs a new publish.
        assert!(!sub.wait(Duration::from_millis(10)).await);
    }

    #[tokio::test]
    async fn waiter_is_woken_by_a_later_publish() {
        let events = LocalEvents::new();
        let mut sub = events.subscribe("t").await.unwrap();
        let publisher = events.clone();
        let task = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            publisher.publish("t").await.unwrap();
        });
        assert!(sub.wait(Duration::from_secs(30)).await);
        task.await.unwrap();
    }

    #[tokio::test]
    async fn topics_are_separate_and_cleaned_up() {
        let events = LocalEvents::new();
        let mut a = events.subscribe("a").await.unwrap();
        let mut a2 = events.subscribe("a").await.unwrap();
        let b = events.subscribe("b").await.unwrap();
        assert_eq!(events.waiting_topics(), 2);
        events.publish("b").await.unwrap();
        assert!(!a.wait(Duration::from_millis(10)).await);
        events.publish("a").await.unwrap();
        assert!(a.wait(Duration::from_millis(10)).await);
        assert!(
            a2.wait(Duration::from_millis(10)).await,
            "every waiter is woken"
        );
        drop(b);
        assert_eq!(events.waiting_topics(), 1);
        drop(a);
        assert_eq!(events.waiting_topics(), 1, "a2 still waits");
        drop(a2);
        assert_eq!(events.waiting_topics(), 0);
        // Publishing to nobody is fine and leaves nothing behind.
        events.publish("a").await.unwrap();
        assert_eq!(events.waiting_topics(), 0);
    }
}
