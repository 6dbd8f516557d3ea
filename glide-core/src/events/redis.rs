//! Notifications across app instances through Redis pub/sub.

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

use super::{FlowEvents, Hub, Subscription};
use crate::store::StoreError;

/// The channel prefix unless [`RedisEvents::connect_with_prefix`] sets another.
const DEFAULT_PREFIX: &str = "glide:v1:events:";

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
/// When the pub/sub connection drops, it is re-established in the background; meanwhile
/// [`subscribe`](FlowEvents::subscribe) fails with a [`StoreError`] (fail closed), and when it
/// is back every local waiter is woken once so that it re-reads the store (a publish during the
/// gap was lost). Publishing also wakes local waiters directly.
///
/// Cheap to clone; the connection task ends when the last clone is dropped.
#[derive(Clone)]
pub struct RedisEvents {
    inner: Arc<Inner>,
}

struct Inner {
    hub: Arc<Hub>,
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
        f.debug_struct("RedisEvents")
            .field("prefix", &self.inner.prefix)
            .field("connected", &self.inner.connected.load(Ordering::Relaxed))
            .field("waiting_topics", &self.inner.hub.len())
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
        let connected = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = oneshot::channel();
        let listener = tokio::spawn(listen(
            client,
            prefix.to_owned(),
            hub.clone(),
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
            inner: Arc::new(Inner {
                hub,
                publisher,
                prefix: prefix.to_owned(),
                connected,
                listener,
            }),
        })
    }

    /// Whether the pub/sub connection is up right now.
    pub fn is_connected(&self) -> bool {
        self.inner.connected.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl FlowEvents for RedisEvents {
    async fn publish(&self, topic: &str) -> Result<(), StoreError> {
        self.inner.hub.notify(topic);
        let mut conn = self.inner.publisher.clone();
        let mut cmd = redis::cmd("PUBLISH");
        cmd.arg(format!("{}{topic}", self.inner.prefix)).arg("");
        let _receivers: i64 = within(TIMEOUT, cmd.query_async(&mut conn)).await?;
        Ok(())
    }

    async fn subscribe(&self, topic: &str) -> Result<Subscription, StoreError> {
        // Subscribe first, then check the connection: a subscription made while connected
        // either sees every later publish or is woken by the reconnection.
        let subscription = self.inner.hub.subscribe(topic);
        if !self.is_connected() {
            return Err(StoreError::Backend(
                "Redis pub/sub connection is down".into(),
            ));
        }
        Ok(subscription)
    }
}

/// The listener task: (re)connects, pattern-subscribes, and fans messages out to `hub`.
async fn listen(
    client: Client,
    prefix: String,
    hub: Arc<Hub>,
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
                hub.notify_all();
            }
        }
        let mut messages = pubsub.into_on_message();
        while let Some(message) = messages.next().await {
            if let Some(topic) = message.get_channel_name().strip_prefix(prefix.as_str()) {
                hub.notify(topic);
            }
        }
        connected.store(false, Ordering::SeqCst);
        tracing::warn!("glide events: Redis pub/sub connection lost; reconnecting");
        // Waiters must not sleep through an outage: wake them to re-read the store.
        hub.notify_all();
    }
}

async fn within<T>(
    limit: Duration,
    op: impl std::future::Future<Output = Result<T, redis::RedisError>>,
) -> Result<T, StoreError> {
    match tokio::time::timeout(limit, op).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) if err.is_timeout() => Err(StoreError::Timeout),
        Ok(Err(err)) => Err(backend(err)),
        Err(_) => Err(StoreError::Timeout),
    }
}

fn backend(err: redis::RedisError) -> StoreError {
    StoreError::Backend(Box::new(err))
}
