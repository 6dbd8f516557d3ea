//! Notifications across app instances through Redis pub/sub (one node) or sharded pub/sub (a
//! Redis Cluster).

use async_trait::async_trait;
use futures_util::StreamExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::Client;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::redis_cluster::ClusterEvents;
use super::{announcement, FlowEvents, Hub, SessionEndings, SessionHash, Subscription};
use crate::store::redis_conn::{backend, within};
use crate::store::{RedisTarget, StoreError};

/// The channel prefix unless [`RedisEvents::connect_with_prefix`] sets another.
const DEFAULT_PREFIX: &str = "glide:v1:events:";

/// The topic that carries the ends of verified sessions ([`SessionEndings`]).
pub(super) const SESSIONS_ENDED: &str = "sessions-ended";

/// How long connecting and publishing may take.
const TIMEOUT: Duration = Duration::from_secs(2);

/// Notifications shared by every app instance on one Redis (feature `redis`).
///
/// Each instance keeps one pub/sub connection, pattern-subscribed to `glide:v1:events:*`, and
/// fans incoming messages out to its local waiters; [`publish`](FlowEvents::publish) is a
/// `PUBLISH glide:v1:events:<topic>`. Waking is immediate, no polling. So two instances behind
/// one load balancer both work: a desktop request waiting on instance A is woken by the phone's
/// request served by instance B.
///
/// The same connection carries the ends of verified sessions (topic `sessions-ended`, the raw
/// SHA-256 hashes of the ended sessions' ids as payload) to every instance's cache of decoded
/// sessions ([`session_endings`](FlowEvents::session_endings)); when it drops, every instance
/// drops its cached sessions and reads the store until it is back.
///
/// When the pub/sub connection drops, it is re-established in the background; meanwhile
/// [`subscribe`](FlowEvents::subscribe) fails with a [`StoreError`] (fail closed), and when it
/// is back every local waiter is woken once so that it re-reads the store (a publish during the
/// gap was lost). Publishing also wakes local waiters directly.
///
/// On a Redis Cluster ([`connect_cluster`](Self::connect_cluster)) it uses sharded pub/sub
/// instead (`SSUBSCRIBE` / `SPUBLISH`, Redis ≥ 7): the channel of a topic is
/// `glide:v1:events:{<topic>}`, in the slot of the topic alone (the slot of the flow's record in
/// a cluster `RedisStore`), and an instance subscribes the channel of a topic only while it has
/// a waiter on it, so each shard carries its own flows' wake-ups and each instance receives only
/// those it waits for. There, [`subscribe`](FlowEvents::subscribe) makes one round trip (it
/// returns once the shard confirmed the subscription, and fails when the shard is unreachable);
/// the cluster client re-subscribes after reconnections and slot moves, and a lost node
/// connection wakes every local waiter, then once more when every waited topic is subscribed
/// again.
///
/// Cheap to clone; the connection task ends when the last clone is dropped.
#[derive(Clone)]
pub struct RedisEvents {
    backend: Backend,
}

#[derive(Clone)]
enum Backend {
    Node(Arc<Inner>),
    Cluster(Arc<ClusterEvents>),
}

struct Inner {
    hub: Arc<Hub>,
    endings: SessionEndings,
    publisher: ConnectionManager,
    prefix: String,
    connected: Arc<AtomicBool>,
    listener: JoinHandle<()>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

impl fmt::Debug for RedisEvents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (prefix, hub) = match &self.backend {
            Backend::Node(inner) => (inner.prefix.as_str(), &*inner.hub),
            Backend::Cluster(cluster) => (cluster.prefix(), cluster.hub()),
        };
        f.debug_struct("RedisEvents")
            .field("cluster", &matches!(self.backend, Backend::Cluster(_)))
            .field("prefix", &prefix)
            .field("connected", &self.is_connected())
            .field("waiting_topics", &hub.len())
            .finish()
    }
}

impl RedisEvents {
    /// Connects to the Redis at `url` with the channel prefix `glide:v1:events:`. Returns once
    /// the subscription is active, so that no publish made after this returns is missed.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with_prefix(url, DEFAULT_PREFIX).await
    }

    /// Connects with another channel prefix (to separate apps sharing one Redis).
    pub async fn connect_with_prefix(url: &str, prefix: &str) -> Result<Self, StoreError> {
        let client = Client::open(url).map_err(backend)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(TIMEOUT))
            .set_response_timeout(Some(TIMEOUT))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(500));
        let publisher = within(
            TIMEOUT.saturating_mul(2),
            ConnectionManager::new_with_config(client.clone(), config),
        )
        .await?;

        let hub = Arc::new(Hub::default());
        let endings = SessionEndings::new();
        let connected = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = oneshot::channel();
        let listener = tokio::spawn(listen(
            client,
            prefix.to_owned(),
            Receivers {
                hub: hub.clone(),
                endings: endings.clone(),
            },
            connected.clone(),
            ready_tx,
        ));
        let first = tokio::time::timeout(TIMEOUT.saturating_mul(2), ready_rx).await;
        match first {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(err))) => {
                listener.abort();
                return Err(err);
            }
            Ok(Err(_)) | Err(_) => {
                listener.abort();
                return Err(StoreError::Timeout);
            }
        }
        Ok(Self {
            backend: Backend::Node(Arc::new(Inner {
                hub,
                endings,
                publisher,
                prefix: prefix.to_owned(),
                connected,
                listener,
            })),
        })
    }

    /// Connects to the Redis Cluster that the `seeds` (`redis://host:port` of any of its nodes)
    /// belong to, with the channel prefix `glide:v1:events:`; sharded pub/sub, Redis ≥ 7.
    pub async fn connect_cluster(seeds: &[impl AsRef<str>]) -> Result<Self, StoreError> {
        Self::connect_cluster_with_prefix(seeds, DEFAULT_PREFIX).await
    }

    /// Connects to a Redis Cluster with another channel prefix (to separate apps sharing one
    /// cluster). The prefix must not contain `{`.
    pub async fn connect_cluster_with_prefix(
        seeds: &[impl AsRef<str>],
        prefix: &str,
    ) -> Result<Self, StoreError> {
        let cluster = ClusterEvents::connect(seeds, prefix).await?;
        Ok(Self {
            backend: Backend::Cluster(Arc::new(cluster)),
        })
    }

    /// Connects to `target` (one node or a cluster) with the default prefix; see
    /// [`RedisTarget::from_env`] for the environment variables.
    pub async fn connect_target(target: &RedisTarget) -> Result<Self, StoreError> {
        match target {
            RedisTarget::Node(url) => Self::connect(url).await,
            RedisTarget::Cluster(seeds) => Self::connect_cluster(seeds).await,
        }
    }

    /// Whether the pub/sub connection is up right now (on a cluster: no node connection was
    /// lost since every waited topic was last subscribed).
    pub fn is_connected(&self) -> bool {
        match &self.backend {
            Backend::Node(inner) => inner.connected.load(Ordering::SeqCst),
            Backend::Cluster(cluster) => cluster.is_connected(),
        }
    }

    /// Whether this speaks to a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        matches!(self.backend, Backend::Cluster(_))
    }

    /// How many topics have a waiter in this instance right now.
    pub fn waiting_topics(&self) -> usize {
        match &self.backend {
            Backend::Node(inner) => inner.hub.len(),
            Backend::Cluster(cluster) => cluster.hub().len(),
        }
    }
}

#[async_trait]
impl FlowEvents for RedisEvents {
    async fn publish(&self, topic: &str) -> Result<(), StoreError> {
        let inner = match &self.backend {
            Backend::Node(inner) => inner,
            Backend::Cluster(cluster) => return cluster.publish(topic).await,
        };
        inner.hub.notify(topic);
        let mut conn = inner.publisher.clone();
        let mut cmd = redis::cmd("PUBLISH");
        cmd.arg(format!("{}{topic}", inner.prefix)).arg("");
        let _receivers: i64 = within(TIMEOUT, cmd.query_async(&mut conn)).await?;
        Ok(())
    }

    async fn subscribe(&self, topic: &str) -> Result<Subscription, StoreError> {
        let inner = match &self.backend {
            Backend::Node(inner) => inner,
            Backend::Cluster(cluster) => return cluster.subscribe(topic).await,
        };
        // Subscribe first, then check the connection: a subscription made while connected
        // either sees every later publish or is woken by the reconnection.
        let subscription = inner.hub.subscribe(topic);
        if !self.is_connected() {
            return Err(StoreError::Backend(
                "Redis pub/sub connection is down".into(),
            ));
        }
        Ok(subscription)
    }

    async fn publish_sessions_ended(&self, hashes: &[SessionHash]) -> Result<(), StoreError> {
        if hashes.is_empty() {
            return Ok(());
        }
        let inner = match &self.backend {
            Backend::Node(inner) => inner,
            Backend::Cluster(cluster) => return cluster.publish_sessions_ended(hashes).await,
        };
        // This instance hears its own announcement through the subscription, like the others.
        let mut conn = inner.publisher.clone();
        let mut cmd = redis::cmd("PUBLISH");
        cmd.arg(format!("{}{SESSIONS_ENDED}", inner.prefix))
            .arg(announcement(hashes));
        let _receivers: i64 = within(TIMEOUT, cmd.query_async(&mut conn)).await?;
        Ok(())
    }

    fn session_endings(&self) -> Option<SessionEndings> {
        Some(match &self.backend {
            Backend::Node(inner) => inner.endings.clone(),
            Backend::Cluster(cluster) => cluster.endings().clone(),
        })
    }
}

/// Where the listener delivers what arrives: flow wake-ups and the ends of sessions.
struct Receivers {
    hub: Arc<Hub>,
    endings: SessionEndings,
}

/// The listener task: (re)connects, pattern-subscribes, and fans messages out to `hub`.
async fn listen(
    client: Client,
    prefix: String,
    Receivers { hub, endings }: Receivers,
    connected: Arc<AtomicBool>,
    ready: oneshot::Sender<Result<(), StoreError>>,
) {
    let mut ready = Some(ready);
    let mut backoff = Duration::from_millis(50);
    loop {
        let subscribed = async {
            let mut pubsub = within(TIMEOUT, client.get_async_pubsub()).await?;
            within(TIMEOUT, pubsub.psubscribe(format!("{prefix}*"))).await?;
            Ok::<_, StoreError>(pubsub)
        }
        .await;
        let pubsub = match subscribed {
            Ok(pubsub) => pubsub,
            Err(err) => {
                if let Some(ready) = ready.take() {
                    let _ = ready.send(Err(err));
                    return;
                }
                tracing::warn!(error = %err, "glide events: Redis pub/sub reconnect failed");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(2));
                continue;
            }
        };
        backoff = Duration::from_millis(50);
        connected.store(true, Ordering::SeqCst);
        match ready.take() {
            Some(ready) => {
                let _ = ready.send(Ok(()));
            }
            None => {
                tracing::info!("glide events: Redis pub/sub reconnected");
                endings.restored();
                hub.notify_all();
            }
        }
        let mut messages = pubsub.into_on_message();
        while let Some(message) = messages.next().await {
            match message.get_channel_name().strip_prefix(prefix.as_str()) {
                Some(SESSIONS_ENDED) => endings.deliver(message.get_payload_bytes()),
                Some(topic) => hub.notify(topic),
                None => {}
            }
        }
        connected.store(false, Ordering::SeqCst);
        // Session ends announced from now on may be missed: stop trusting cached sessions.
        endings.lost();
        tracing::warn!("glide events: Redis pub/sub connection lost; reconnecting");
        // Waiters must not sleep through an outage: wake them to re-read the store.
        hub.notify_all();
    }
}
