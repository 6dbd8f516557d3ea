//! A throw-away `redis-server` for tests.
//!
//! ```no_run
//! # async fn demo() {
//! use glide_tests::redis_server::RedisServer;
//! let Some(redis) = RedisServer::start() else { return }; // prints SKIPPED when absent
//! let url = redis.url(); // redis://127.0.0.1:<port>/
//! # let _ = url; }
//! ```

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
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
            if std::env::var("GLIDE_REQUIRE_EXTERNAL").as_deref() == Ok("1") {
                panic!(
                    "redis-server not found on PATH, and GLIDE_REQUIRE_EXTERNAL=1 forbids \
                     skipping: install redis-server (Debian: apt-get install redis-server)"
                );
            }
            // Straight to stderr, past the test harness's output capture: a skip must be seen.
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED: redis-server not found; install redis-server to run this test"
            );
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

fn redis_server_installed() -> bool {
    Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// A port that was free a moment ago (bound to 127.0.0.1:0, then released).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("find a free port on 127.0.0.1")
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
