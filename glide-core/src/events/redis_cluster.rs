//! Flow notifications on a Redis Cluster: sharded pub/sub (`SSUBSCRIBE` / `SPUBLISH`,
//! Redis ≥ 7), one channel per topic somebody waits on.
//!
//! - The channel of topic `t` is `<prefix>{t}`: its slot depends on the topic alone, so the
//!   channel of a flow (`flow:<session key>`) lives in the same slot as that flow's record in a
//!   cluster `RedisStore` (`glide:v1:{flow:<session key>}`).
//! - An instance subscribes a channel while it has a local waiter on its topic, and only
//!   then: it receives the messages of the flows it waits for, not everybody's. Every
//!   [`subscribe`](ClusterEvents::subscribe) sends `SSUBSCRIBE` and waits for the shard's
//!   confirmation, so a subscription that returns is live, and one whose shard is unreachable
//!   fails (fail closed).
//! - When the last local waiter of a topic leaves, a background task unsubscribes its channel.
//!   Subscribing and unsubscribing exclude each other (a read/write gate), so an unsubscription
//!   never cancels a subscription made meanwhile.
//! - The cluster client re-subscribes by itself after a reconnection or a slot move. A lost node
//!   connection wakes every local waiter (publishes may have been lost) and, once every waited
//!   topic is subscribed again, wakes them once more to re-read the store.
//! - The ends of verified sessions travel on one more channel, `<prefix>{sessions-ended}`,
//!   subscribed for as long as the connection lives; a lost node connection tells the
//!   [`SessionEndings`] listeners to drop what they hold until it is subscribed again.

use futures_util::future::join_all;
use redis::cluster_async::ClusterConnection;
use redis::{PushInfo, PushKind, Value};
use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, RwLock};
use tokio::task::JoinHandle;

use super::redis::SESSIONS_ENDED;
use super::{announcement, Hub, SessionEndings, SessionHash, Subscription};
use crate::store::redis_conn::{cluster_connection, within};
use crate::store::StoreError;

/// How long connecting and each command may take.
const TIMEOUT: Duration = Duration::from_secs(2);

/// At most this many channels are unsubscribed in one go.
const UNSUBSCRIBE_BATCH: usize = 256;

/// The cluster side of `RedisEvents`.
pub(super) struct ClusterEvents {
    shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
}

/// What the connection's push handler and the background tasks share.
struct Shared {
    conn: ClusterConnection,
    hub: Arc<Hub>,
    endings: SessionEndings,
    prefix: String,
    /// Subscribing takes it shared, unsubscribing exclusively.
    gate: RwLock<()>,
    /// False from a lost node connection until every waited topic is subscribed again.
    healthy: Arc<AtomicBool>,
}

impl Drop for ClusterEvents {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl ClusterEvents {
    /// Connects to the cluster of `seeds`, with channels under `prefix`.
    pub(super) async fn connect(
        seeds: &[impl AsRef<str>],
        prefix: &str,
    ) -> Result<Self, StoreError> {
        let (released_tx, released_rx) = mpsc::unbounded_channel();
        let hub = Arc::new(Hub::with_release_notifier(released_tx));
        let endings = SessionEndings::new();
        let healthy = Arc::new(AtomicBool::new(true));
        let (lost_tx, lost_rx) = mpsc::unbounded_channel();
        let pushes = {
            let (hub, endings, prefix, healthy) = (
                hub.clone(),
                endings.clone(),
                prefix.to_owned(),
                healthy.clone(),
            );
            move |push: PushInfo| -> Result<(), Infallible> {
                match push.kind {
                    PushKind::SMessage => {
                        match push.data.first().and_then(|c| topic_of(&prefix, c)) {
                            Some(SESSIONS_ENDED) => match push.data.get(1) {
                                Some(Value::BulkString(payload)) => endings.deliver(payload),
                                _ => endings.deliver(&[]),
                            },
                            Some(topic) => hub.notify(topic),
                            None => {}
                        }
                    }
                    PushKind::Disconnection => {
                        healthy.store(false, Ordering::SeqCst);
                        // Session ends may be missed until the re-subscription.
                        endings.lost();
                        // Publishes may be lost until the re-subscription: look again now.
                        hub.notify_all();
                        let _ = lost_tx.send(());
                    }
                    _ => {}
                }
                Ok(())
            }
        };
        let conn = cluster_connection(seeds, TIMEOUT, TIMEOUT, Some(pushes)).await?;
        let shared = Arc::new(Shared {
            conn,
            hub,
            endings,
            prefix: prefix.to_owned(),
            gate: RwLock::new(()),
            healthy,
        });
        let mut conn = shared.conn.clone();
        within(TIMEOUT, conn.ssubscribe(shared.channel(SESSIONS_ENDED))).await?;
        let tasks = vec![
            tokio::spawn(unsubscribe_released(shared.clone(), released_rx)),
            tokio::spawn(resubscribe_after_loss(shared.clone(), lost_rx)),
        ];
        Ok(Self { shared, tasks })
    }

    /// Wakes local waiters of `topic`, then `SPUBLISH`es it to the other instances.
    pub(super) async fn publish(&self, topic: &str) -> Result<(), StoreError> {
        self.shared.hub.notify(topic);
        let mut conn = self.shared.conn.clone();
        let mut cmd = redis::cmd("SPUBLISH");
        cmd.arg(self.shared.channel(topic)).arg("");
        let _receivers: i64 = within(TIMEOUT, cmd.query_async(&mut conn)).await?;
        Ok(())
    }

    /// `SPUBLISH`es the end of the sessions hashed `hashes` to every instance (this one too).
    pub(super) async fn publish_sessions_ended(
        &self,
        hashes: &[SessionHash],
    ) -> Result<(), StoreError> {
        let mut conn = self.shared.conn.clone();
        let mut cmd = redis::cmd("SPUBLISH");
        cmd.arg(self.shared.channel(SESSIONS_ENDED))
            .arg(announcement(hashes));
        let _receivers: i64 = within(TIMEOUT, cmd.query_async(&mut conn)).await?;
        Ok(())
    }

    /// The ends of sessions, as announced on the cluster.
    pub(super) fn endings(&self) -> &SessionEndings {
        &self.shared.endings
    }

    /// Registers a local waiter and makes sure the topic's channel is subscribed.
    pub(super) async fn subscribe(&self, topic: &str) -> Result<Subscription, StoreError> {
        let _open = self.shared.gate.read().await;
        let subscription = self.shared.hub.subscribe(topic);
        let mut conn = self.shared.conn.clone();
        within(TIMEOUT, conn.ssubscribe(self.shared.channel(topic))).await?;
        Ok(subscription)
    }

    /// Whether no node connection was lost since every waited topic was last subscribed.
    pub(super) fn is_connected(&self) -> bool {
        self.shared.healthy.load(Ordering::SeqCst)
    }

    /// The local waiters.
    pub(super) fn hub(&self) -> &Hub {
        &self.shared.hub
    }

    /// The channel prefix.
    pub(super) fn prefix(&self) -> &str {
        &self.shared.prefix
    }
}

impl Shared {
    fn channel(&self, topic: &str) -> String {
        channel(&self.prefix, topic)
    }
}

/// `<prefix>{<topic>}`.
fn channel(prefix: &str, topic: &str) -> String {
    format!("{prefix}{{{topic}}}")
}

/// The topic of a channel name pushed by the server, if it is one of ours.
fn topic_of<'a>(prefix: &str, channel: &'a Value) -> Option<&'a str> {
    let Value::BulkString(bytes) = channel else {
        return None;
    };
    std::str::from_utf8(bytes)
        .ok()?
        .strip_prefix(prefix)?
        .strip_prefix('{')?
        .strip_suffix('}')
}

/// Unsubscribes the channels of topics that lost their last local waiter.
async fn unsubscribe_released(shared: Arc<Shared>, mut released: mpsc::UnboundedReceiver<String>) {
    let mut batch = Vec::with_capacity(UNSUBSCRIBE_BATCH);
    while released.recv_many(&mut batch, UNSUBSCRIBE_BATCH).await > 0 {
        let _closed = shared.gate.write().await;
        let idle = batch
            .drain(..)
            .filter(|topic| !shared.hub.is_waited(topic))
            .map(|topic| {
                let mut conn = shared.conn.clone();
                let channel = shared.channel(&topic);
                async move { within(TIMEOUT, conn.sunsubscribe(channel)).await }
            });
        for result in join_all(idle).await {
            if let Err(err) = result {
                // The channel stays subscribed; its messages find no waiter and are dropped.
                tracing::debug!(error = %err, "glide events: SUNSUBSCRIBE failed");
            }
        }
    }
}

/// After a lost node connection: subscribes every waited topic again (retrying until the
/// cluster answers), then wakes every waiter once to re-read the store.
async fn resubscribe_after_loss(shared: Arc<Shared>, mut lost: mpsc::UnboundedReceiver<()>) {
    while lost.recv().await.is_some() {
        tracing::warn!("glide events: a Redis Cluster node connection was lost; re-subscribing");
        let mut backoff = Duration::from_millis(50);
        loop {
            tokio::time::sleep(backoff).await;
            while lost.try_recv().is_ok() {}
            let all_subscribed = {
                let _open = shared.gate.read().await;
                let mut topics = shared.hub.topics();
                topics.push(SESSIONS_ENDED.to_owned());
                let subscribed = join_all(topics.iter().map(|topic| {
                    let mut conn = shared.conn.clone();
                    let channel = shared.channel(topic);
                    async move { within(TIMEOUT, conn.ssubscribe(channel)).await }
                }))
                .await;
                subscribed.iter().all(Result::is_ok)
            };
            if all_subscribed && lost.is_empty() {
                shared.healthy.store(true, Ordering::SeqCst);
                shared.endings.restored();
                tracing::info!("glide events: Redis Cluster subscriptions restored");
                shared.hub.notify_all();
                break;
            }
            backoff = (backoff * 2).min(Duration::from_secs(2));
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn channels_are_hash_tagged_by_topic_and_parse_back() {
        let name = channel("glide:v1:events:", "flow:abc");
        assert_eq!(name, "glide:v1:events:{flow:abc}");
        let pushed = Value::BulkString(name.into_bytes());
        assert_eq!(topic_of("glide:v1:events:", &pushed), Some("flow:abc"));
        assert_eq!(topic_of("other:", &pushed), None);
        let untagged = Value::BulkString(b"glide:v1:events:flow:abc".to_vec());
        assert_eq!(topic_of("glide:v1:events:", &untagged), None);
        assert_eq!(topic_of("glide:v1:events:", &Value::Nil), None);
    }
}
