//! A throw-away `redis-server`, or a throw-away Redis Cluster, for tests.
//!
//! ```no_run
//! # async fn demo() {
//! use glide_tests::redis_server::{RedisCluster, RedisServer};
//! let Some(redis) = RedisServer::start() else { return }; // prints SKIPPED when absent
//! let url = redis.url(); // redis://127.0.0.1:<port>/
//! let Some(cluster) = RedisCluster::shared() else { return }; // 3 masters + 3 replicas
//! let seeds = cluster.urls(); // what RedisStore::connect_cluster takes
//! # let _ = (url, seeds); }
//! ```

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How long a started server may take to answer `PING`.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// A `redis-server` process of this test alone, on a free port of 127.0.0.1, without
/// persistence. Killed when dropped.
///
/// When `redis-server` is not on `PATH`, [`RedisServer::start`] prints
/// `SKIPPED: redis-server not found; …` to stderr and returns `None`, so the test can return
/// early, unless the environment variable `GLIDE_REQUIRE_EXTERNAL=1` is set (as in CI), in which
/// case it panics.
///
/// [`stop`](RedisServer::stop) and [`restart`](RedisServer::restart) simulate an outage: the
/// server comes back on the same port (empty, as nothing is persisted).
#[derive(Debug)]
pub struct RedisServer {
    port: u16,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts a server, or returns `None` (after printing `SKIPPED: …`) when `redis-server` is
    /// not installed and `GLIDE_REQUIRE_EXTERNAL` is not `1`.
    ///
    /// # Panics
    ///
    /// When the server is installed but does not start, or when it is missing and
    /// `GLIDE_REQUIRE_EXTERNAL=1`.
    pub fn start() -> Option<Self> {
        if !redis_server_installed() {
            skip_or_fail("redis-server not found");
            return None;
        }
        let port = free_port();
        let mut server = Self { port, child: None };
        server.spawn();
        Some(server)
    }

    /// The URL of the server: `redis://127.0.0.1:<port>/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// The TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills the server (an outage). Idempotent.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port (empty), waiting until it answers `PING`.
    ///
    /// # Panics
    ///
    /// When it does not come back.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    fn spawn(&mut self) {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let child = Command::new("redis-server")
                .args(["--port", &self.port.to_string()])
                .args(["--bind", "127.0.0.1"])
                .args(["--save", ""])
                .args(["--appendonly", "no"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn redis-server");
            self.child = Some(child);
            while Instant::now() < deadline {
                if ping(self.port) {
                    return;
                }
                let exited = self
                    .child
                    .as_mut()
                    .and_then(|c| c.try_wait().ok().flatten())
                    .is_some();
                if exited {
                    // Most likely the port is still held by the previous process; try again.
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            self.stop();
            assert!(
                Instant::now() < deadline,
                "redis-server on port {} did not answer PING within {START_TIMEOUT:?}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The test's way out when a tool is missing: `SKIPPED: …` on stderr, or a panic under
/// `GLIDE_REQUIRE_EXTERNAL=1`.
fn skip_or_fail(why: &str) {
    if std::env::var("GLIDE_REQUIRE_EXTERNAL").as_deref() == Ok("1") {
        panic!(
            "{why}, and GLIDE_REQUIRE_EXTERNAL=1 forbids skipping: install redis-server \
             (Debian: apt-get install redis-server; Redis Cluster tests need version 7 or newer \
             and redis-cli)"
        );
    }
    // Straight to stderr, past the test harness's output capture: a skip must be seen.
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED: {why}; install redis-server to run this test"
    );
}

fn redis_server_installed() -> bool {
    redis_server_major_version().is_some()
}

/// The major version of the `redis-server` on `PATH` (`Redis server v=7.0.15 …` gives 7).
fn redis_server_major_version() -> Option<u32> {
    let output = Command::new("redis-server")
        .arg("--version")
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    let text = String::from_utf8_lossy(&output.stdout);
    let version = text.split("v=").nth(1).unwrap_or("0");
    Some(
        version
            .split('.')
            .next()
            .and_then(|major| major.parse().ok())
            .unwrap_or(0),
    )
}

fn redis_cli_installed() -> bool {
    Command::new("redis-cli")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// A port that was free a moment ago (bound to 127.0.0.1:0, then released).
fn free_port() -> u16 {
    free_ports(1)[0]
}

/// `n` distinct ports that were free a moment ago (all bound at once, then released).
fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("find a free port on 127.0.0.1"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().expect("local address").port())
        .collect()
}

/// Whether a Redis answers `PING` on `port`.
fn ping(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut reply = [0u8; 7];
    stream.read_exact(&mut reply).is_ok() && &reply == b"+PONG\r\n"
}

// ---- Redis Cluster -----------------------------------------------------------------------------

/// How long a cluster may take from the first `redis-server` to `cluster_state:ok` everywhere.
const CLUSTER_START_TIMEOUT: Duration = Duration::from_secs(30);

/// Nodes of a test cluster: three masters, each with one replica.
const CLUSTER_NODES: usize = 6;

/// A throw-away Redis Cluster on 127.0.0.1: three masters and three replicas
/// (`cluster-enabled yes`, joined by `redis-cli --cluster create … --cluster-replicas 1`),
/// without persistence, on free ports (client and cluster-bus ports picked by the OS, so
/// parallel tests and test processes do not collide). [`start`](Self::start) returns once every
/// node reports `cluster_state:ok` and the replicas are attached (a few seconds).
///
/// The nodes are killed when the value is dropped, and in any case shortly after the test
/// process exits (a small watchdog process), which is what stops the
/// [`shared`](Self::shared) cluster.
///
/// Needs `redis-server` ≥ 7 (sharded pub/sub, `cluster-port`) and `redis-cli`; without them
/// `start` prints `SKIPPED: …` and returns `None`, or panics under `GLIDE_REQUIRE_EXTERNAL=1`.
#[derive(Debug)]
pub struct RedisCluster {
    ports: Vec<u16>,
    nodes: Vec<Child>,
    watchdog: Option<Child>,
    dir: PathBuf,
}

impl RedisCluster {
    /// Starts a cluster of this test alone, or returns `None` (after printing `SKIPPED: …`)
    /// when redis-server ≥ 7 or redis-cli is missing and `GLIDE_REQUIRE_EXTERNAL` is not `1`.
    ///
    /// # Panics
    ///
    /// When the tools are there but the cluster does not come up, or when they are missing and
    /// `GLIDE_REQUIRE_EXTERNAL=1`.
    pub fn start() -> Option<Self> {
        match redis_server_major_version() {
            None => {
                skip_or_fail("redis-server not found");
                return None;
            }
            Some(major) if major < 7 => {
                skip_or_fail(&format!(
                    "redis-server {major}.x found, a Redis Cluster test needs 7 or newer"
                ));
                return None;
            }
            Some(_) => {}
        }
        if !redis_cli_installed() {
            skip_or_fail("redis-cli not found");
            return None;
        }
        let mut last_failure = String::new();
        for _attempt in 0..3 {
            match Self::try_start() {
                Ok(cluster) => return Some(cluster),
                // Most likely a port was taken between picking and binding: pick again.
                Err(why) => last_failure = why,
            }
        }
        panic!("the test Redis Cluster did not start: {last_failure}");
    }

    /// One cluster shared by every test of this test process, started by the first caller;
    /// `None` as for [`start`](Self::start). Tests sharing it keep apart by key and channel
    /// prefixes. It stops when the process exits.
    pub fn shared() -> Option<&'static Self> {
        static SHARED: OnceLock<Option<RedisCluster>> = OnceLock::new();
        SHARED.get_or_init(Self::start).as_ref()
    }

    /// The nodes' URLs, `redis://127.0.0.1:<port>/`: seed nodes for a cluster client.
    pub fn urls(&self) -> Vec<String> {
        self.ports
            .iter()
            .map(|port| format!("redis://127.0.0.1:{port}/"))
            .collect()
    }

    /// The value for `GLIDE_REDIS_CLUSTER_URLS`: the URLs, comma separated.
    pub fn env_value(&self) -> String {
        self.urls().join(",")
    }

    /// The nodes' client ports.
    pub fn ports(&self) -> &[u16] {
        &self.ports
    }

    /// Every key held by the cluster's nodes (replicas included, duplicates removed).
    pub fn keys(&self) -> Vec<String> {
        self.union_of(&["KEYS", "*"])
    }

    /// How many keys starting with `prefix` each master holds, one entry per master (in port
    /// order).
    pub fn keys_per_master(&self, prefix: &str) -> Vec<usize> {
        self.ports
            .iter()
            .filter(|port| {
                matches!(query(**port, &["ROLE"]),
                    Some(Reply::Array(role)) if matches!(role.first(), Some(Reply::Text(r)) if r == "master"))
            })
            .map(|port| match query(*port, &["KEYS", "*"]) {
                Some(Reply::Array(keys)) => keys
                    .iter()
                    .filter(|key| matches!(key, Reply::Text(k) if k.starts_with(prefix)))
                    .count(),
                _ => 0,
            })
            .collect()
    }

    /// Every sharded pub/sub channel with a subscriber on some node (`PUBSUB SHARDCHANNELS`).
    pub fn shard_channels(&self) -> Vec<String> {
        self.union_of(&["PUBSUB", "SHARDCHANNELS"])
    }

    /// The ports of the nodes that are masters now.
    pub fn masters(&self) -> Vec<u16> {
        self.ports
            .iter()
            .copied()
            .filter(|port| {
                matches!(query(*port, &["ROLE"]),
                    Some(Reply::Array(role)) if matches!(role.first(), Some(Reply::Text(r)) if r == "master"))
            })
            .collect()
    }

    /// The port of the master holding `key`, if any master holds it.
    pub fn master_with_key(&self, key: &str) -> Option<u16> {
        self.ports.iter().copied().find(|port| {
            let is_master = matches!(query(*port, &["ROLE"]),
                Some(Reply::Array(role)) if matches!(role.first(), Some(Reply::Text(r)) if r == "master"));
            is_master
                && matches!(query(*port, &["KEYS", key]),
                    Some(Reply::Array(keys)) if !keys.is_empty())
        })
    }

    /// The port of the node where sharded `channel` has a subscriber (the master of its slot,
    /// where a cluster client subscribes), if any.
    pub fn node_with_shard_channel(&self, channel: &str) -> Option<u16> {
        self.ports.iter().copied().find(|port| {
            matches!(query(*port, &["PUBSUB", "SHARDCHANNELS"]),
                Some(Reply::Array(channels)) if channels.iter().any(|c| matches!(c, Reply::Text(c) if c == channel)))
        })
    }

    /// Kills the node on `port` with `SIGKILL` (a crashed master, for failover tests); its
    /// replica takes over after the cluster's node timeout (2 s) and an election.
    ///
    /// # Panics
    ///
    /// When `port` is not a node of this cluster.
    pub fn kill_node(&mut self, port: u16) {
        let index = self
            .ports
            .iter()
            .position(|p| *p == port)
            .expect("a node of this cluster");
        let node = &mut self.nodes[index];
        let _ = node.kill();
        let _ = node.wait();
    }

    /// Kills every node. Idempotent.
    pub fn stop(&mut self) {
        for mut node in self.nodes.drain(..) {
            let _ = node.kill();
            let _ = node.wait();
        }
        if let Some(mut watchdog) = self.watchdog.take() {
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    fn union_of(&self, command: &[&str]) -> Vec<String> {
        let mut all: Vec<String> = self
            .ports
            .iter()
            .filter_map(|port| query(*port, command))
            .flat_map(|reply| match reply {
                Reply::Array(items) => items,
                _ => Vec::new(),
            })
            .filter_map(|item| match item {
                Reply::Text(text) => Some(text),
                _ => None,
            })
            .collect();
        all.sort();
        all.dedup();
        all
    }

    fn try_start() -> Result<Self, String> {
        static STARTED: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "glide-redis-cluster-{}-{}",
            std::process::id(),
            STARTED.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
        // Client and cluster-bus ports from the OS (the default bus port, client + 10000, could
        // be taken or out of range).
        let all = free_ports(2 * CLUSTER_NODES);
        let (ports, bus_ports) = all.split_at(CLUSTER_NODES);
        let mut cluster = Self {
            ports: ports.to_vec(),
            nodes: Vec::new(),
            watchdog: None,
            dir,
        };
        for (port, bus) in ports.iter().zip(bus_ports) {
            let node = Command::new("redis-server")
                .args(["--port", &port.to_string()])
                .args(["--cluster-port", &bus.to_string()])
                .args(["--bind", "127.0.0.1"])
                .args(["--cluster-enabled", "yes"])
                .args(["--cluster-config-file", &format!("nodes-{port}.conf")])
                .args(["--cluster-node-timeout", "2000"])
                // Replicas sync at once (the default waits 5 s for more replicas to share a
                // transfer); a replica that never synced would not take over from its master.
                .args(["--repl-diskless-sync-delay", "0"])
                .args(["--dir", &cluster.dir.display().to_string()])
                .args(["--save", ""])
                .args(["--appendonly", "no"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| format!("spawn redis-server: {e}"))?;
            cluster.nodes.push(node);
        }
        cluster.watchdog = Some(cluster.spawn_watchdog()?);
        let deadline = Instant::now() + CLUSTER_START_TIMEOUT;
        for port in cluster.ports.clone() {
            while !ping(port) {
                if Instant::now() > deadline || cluster.any_node_exited() {
                    return Err(format!("node on port {port} did not answer PING"));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let addresses: Vec<String> = cluster
            .ports
            .iter()
            .map(|port| format!("127.0.0.1:{port}"))
            .collect();
        let created = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addresses)
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("run redis-cli: {e}"))?;
        if !created.status.success() {
            return Err(format!(
                "redis-cli --cluster create failed: {}{}",
                String::from_utf8_lossy(&created.stdout),
                String::from_utf8_lossy(&created.stderr)
            ));
        }
        while !cluster.is_ready() {
            if Instant::now() > deadline {
                return Err("the cluster did not reach cluster_state:ok in time".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(cluster)
    }

    /// Kills the nodes once this test process is gone, even if `Drop` never runs.
    fn spawn_watchdog(&self) -> Result<Child, String> {
        let pids: Vec<String> = self.nodes.iter().map(|n| n.id().to_string()).collect();
        Command::new("sh")
            .arg("-c")
            .arg(
                r#"parent="$1"; dir="$2"; shift 2
while kill -0 "$parent" 2>/dev/null; do sleep 0.5; done
kill "$@" 2>/dev/null; sleep 0.5; rm -rf "$dir""#,
            )
            .arg("glide-cluster-watchdog")
            .arg(std::process::id().to_string())
            .arg(&self.dir)
            .args(&pids)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("spawn the watchdog: {e}"))
    }

    fn any_node_exited(&mut self) -> bool {
        self.nodes
            .iter_mut()
            .any(|node| node.try_wait().ok().flatten().is_some())
    }

    /// Every node says `cluster_state:ok` and knows all six nodes, and three replicas are
    /// attached and in sync with their masters (so that a failover can happen).
    fn is_ready(&self) -> bool {
        let synced_replicas = self
            .ports
            .iter()
            .filter(|port| {
                matches!(query(**port, &["INFO", "replication"]),
                    Some(Reply::Text(info)) if info.contains("role:slave") && info.contains("master_link_status:up"))
            })
            .count();
        if synced_replicas < CLUSTER_NODES / 2 {
            return false;
        }
        let all_ok = self.ports.iter().all(|port| {
            matches!(
                query(*port, &["CLUSTER", "INFO"]),
                Some(Reply::Text(info))
                    if info.contains("cluster_state:ok")
                        && info.contains(&format!("cluster_known_nodes:{CLUSTER_NODES}"))
            )
        });
        let replicas = match query(self.ports[0], &["CLUSTER", "NODES"]) {
            Some(Reply::Text(nodes)) => nodes
                .lines()
                .filter(|line| line.contains("slave") && !line.contains("fail"))
                .count(),
            _ => 0,
        };
        all_ok && replicas == CLUSTER_NODES / 2
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A RESP reply, as far as these helpers need.
#[derive(Debug)]
enum Reply {
    /// A simple or bulk string.
    Text(String),
    /// An integer, an error or nil.
    Other,
    /// An array.
    Array(Vec<Reply>),
}

/// Sends one command to the node on `port` and reads its reply.
fn query(port: u16, command: &[&str]) -> Option<Reply> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    let mut request = format!("*{}\r\n", command.len());
    for arg in command {
        request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
    }
    stream.write_all(request.as_bytes()).ok()?;
    read_reply(&mut BufReader::new(stream))
}

fn read_reply(reader: &mut impl BufRead) -> Option<Reply> {
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let line = line.trim_end_matches("\r\n");
    let (kind, rest) = line.split_at_checked(1)?;
    match kind {
        "+" => Some(Reply::Text(rest.to_owned())),
        "-" | ":" => Some(Reply::Other),
        "$" => {
            let Ok(len) = usize::try_from(rest.parse::<i64>().ok()?) else {
                return Some(Reply::Other);
            };
            let mut bytes = vec![0; len + 2];
            reader.read_exact(&mut bytes).ok()?;
            bytes.truncate(len);
            Some(Reply::Text(String::from_utf8_lossy(&bytes).into_owned()))
        }
        "*" => {
            let Ok(len) = usize::try_from(rest.parse::<i64>().ok()?) else {
                return Some(Reply::Other);
            };
            (0..len)
                .map(|_| read_reply(reader))
                .collect::<Option<Vec<_>>>()
                .map(Reply::Array)
        }
        _ => None,
    }
}
