//! One connection type over a single Redis node or a Redis Cluster, and the deadline every
//! Redis call runs under. Shared by `RedisStore` and `RedisEvents`.

use redis::aio::{AsyncPushSender, ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::Value;
use redis::{Client, Cmd, Pipeline, ProtocolVersion, RedisError, RedisFuture};
use std::future::Future;
use std::time::Duration;

use super::redis_target::redacted;
use super::StoreError;

/// A multiplexed connection to one node (reconnecting by itself) or to a cluster (following
/// slot moves, `MOVED` / `ASK` redirections and failovers by itself). Cheap to clone.
#[derive(Clone)]
pub(crate) enum RedisConn {
    /// One node.
    Node(ConnectionManager),
    /// A cluster.
    Cluster(ClusterConnection),
}

impl RedisConn {
    /// Connects to the node at `url`.
    pub(crate) async fn node(
        url: &str,
        connect: Duration,
        response: Duration,
    ) -> Result<Self, StoreError> {
        let client = Client::open(url).map_err(backend)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(connect))
            .set_response_timeout(Some(response))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(500));
        let conn = within(
            connect.saturating_add(response),
            ConnectionManager::new_with_config(client, config),
        )
        .await?;
        Ok(Self::Node(conn))
    }

    /// Connects to the cluster that `seeds` belong to.
    pub(crate) async fn cluster(
        seeds: &[impl AsRef<str>],
        connect: Duration,
        response: Duration,
    ) -> Result<Self, StoreError> {
        let no_pushes: Option<fn(redis::PushInfo) -> Result<(), ()>> = None;
        let conn = cluster_connection(seeds, connect, response, no_pushes).await?;
        Ok(Self::Cluster(conn))
    }

    /// Whether this speaks to a cluster.
    pub(crate) fn is_cluster(&self) -> bool {
        matches!(self, Self::Cluster(_))
    }
}

/// Connects to the cluster that `seeds` belong to. With `pushes`, the connection speaks RESP3
/// and hands every push (pub/sub messages, disconnections) to it.
pub(crate) async fn cluster_connection(
    seeds: &[impl AsRef<str>],
    connect: Duration,
    response: Duration,
    pushes: Option<impl AsyncPushSender>,
) -> Result<ClusterConnection, StoreError> {
    {
        if seeds.is_empty() {
            return Err(StoreError::Backend(
                "no Redis Cluster seed node given".into(),
            ));
        }
        let mut builder = ClusterClientBuilder::new(seeds.iter().map(AsRef::as_ref))
            .connection_timeout(connect)
            .response_timeout(response);
        if let Some(pushes) = pushes {
            builder = builder
                .use_protocol(ProtocolVersion::RESP3)
                .push_sender(pushes);
        }
        let client = builder.build().map_err(|err| {
            let seeds: Vec<String> = seeds.iter().map(|s| redacted(s.as_ref())).collect();
            tracing::warn!(?seeds, error = %err, "invalid Redis Cluster configuration");
            backend(err)
        })?;
        within(
            connect.saturating_add(response),
            client.get_async_connection(),
        )
        .await
    }
}

impl ConnectionLike for RedisConn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Node(conn) => conn.req_packed_command(cmd),
            Self::Cluster(conn) => conn.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Node(conn) => conn.req_packed_commands(pipeline, offset, count),
            Self::Cluster(conn) => conn.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Node(conn) => conn.get_db(),
            Self::Cluster(conn) => conn.get_db(),
        }
    }
}

/// Runs `op` with a deadline, mapping its failures to [`StoreError`].
pub(crate) async fn within<T>(
    limit: Duration,
    op: impl Future<Output = Result<T, RedisError>>,
) -> Result<T, StoreError> {
    match tokio::time::timeout(limit, op).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) if err.is_timeout() => Err(StoreError::Timeout),
        Ok(Err(err)) => Err(backend(err)),
        Err(_elapsed) => Err(StoreError::Timeout),
    }
}

/// A Redis failure as a [`StoreError`].
pub(crate) fn backend(err: RedisError) -> StoreError {
    StoreError::Backend(Box::new(err))
}
