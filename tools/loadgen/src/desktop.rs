//! `desktop-scale`: N desktop `process` calls waiting at once on one engine (or, with `--pair`,
//! a second engine's calls for the same flows waiting on Redis pub/sub), their memory, and the
//! wake-up latency once the phone approves.
//!
//! The engine is driven through [`GlideAuth::handle`], as both adapters call it, not over HTTP:
//! this process's open-file limit (hard 20,000 here) would otherwise go to the client's and the
//! server's sockets of each waiting request too, and the client side would dominate the figure.
//! Every waiting request still holds its real loopback HTTP connection from the engine's Glide
//! client to the sandbox.

use std::sync::Arc;
use std::time::{Duration, Instant};

use glide_core::api::Glide;
use glide_core::endpoint::{GlideAuth, PeerAddr};
use glide_core::events::RedisEvents;
use glide_core::ratelimit::{RateLimit, RateLimitConfig};
use glide_core::store::RedisStore;
use glide_sandbox::{Sandbox, SandboxConfig, SandboxControl};
use indicatif::ProgressBar;
use serde::Serialize;
use serde_json::{json, Value};

use crate::child::Running;
use crate::progress::{self, Notes};
use crate::stats::{self, Counts, Latencies, Percentiles};

/// A desktop Firefox user agent: the sandbox picks `desktop`.
pub const DESKTOP_UA: &str =
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
const ORIGIN: &str = "http://app.test";
const PREPARE: &str = "/api/magical-auth/prepare";
const PROCESS: &str = "/api/magical-auth/process";

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Flows waiting at once.
    pub flows: usize,
    /// The sandbox in a child process (the figure is then the engine's alone).
    pub split: bool,
    /// Two engines sharing Redis; the second one's calls wait on pub/sub.
    pub pair: bool,
    /// Approvals per second.
    pub approve_rate: u32,
    /// How long the sandbox holds a desktop verify call.
    pub desktop_wait: Duration,
    /// The engine speaks HTTP/2 to the sandbox (prior knowledge): the long polls are streams
    /// of shared connections instead of one connection each.
    pub http2: Option<Http2>,
}

/// Which HTTP/2 client the engine talks to Glide with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Http2 {
    /// `glide_core::api::Http2Client` (`--http2`): hyper's connection API, a call is a stream.
    Lean,
    /// `glide_core::api::ReqwestClient` with HTTP/2 (`--http2-reqwest`): reqwest's pooled
    /// requests over HTTP/2 lanes, for the side-by-side figure.
    Reqwest,
}

/// How the phone's approval reaches the sandbox.
enum Approver {
    Control(SandboxControl),
    Http(reqwest::Client, String),
}

impl Approver {
    async fn approve(&self, key: &str) -> Result<(), String> {
        match self {
            Self::Control(control) => control.desktop_approve(key).map_err(|e| e.to_string()),
            Self::Http(client, base) => {
                let response = client
                    .post(format!("{base}/sandbox/desktop/{key}/approve"))
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                if response.status().is_success() {
                    Ok(())
                } else {
                    Err(format!("approve answered {}", response.status()))
                }
            }
        }
    }
}

/// The sandbox of a run, in this process or in a child.
struct SandboxSide {
    url: String,
    approver: Approver,
    child: Option<Running>,
    _sandbox: Option<Sandbox>,
}

async fn start_sandbox(split: bool, wait: Duration) -> Result<SandboxSide, String> {
    if split {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let mut command = std::process::Command::new(exe);
        command.args(["sandbox", "--desktop-wait", &wait.as_secs().to_string()]);
        let child = Running::start(command, "sandbox on", Duration::from_secs(20))?;
        let url = child
            .url_after("sandbox on")
            .ok_or("the sandbox child printed no URL")?;
        let client = reqwest::Client::builder()
            .build()
            .map_err(|e| e.to_string())?;
        Ok(SandboxSide {
            approver: Approver::Http(client, url.clone()),
            url,
            child: Some(child),
            _sandbox: None,
        })
    } else {
        let sandbox = Sandbox::start(sandbox_config(wait))
            .await
            .map_err(|e| e.to_string())?;
        Ok(SandboxSide {
            url: sandbox.base_url(),
            approver: Approver::Control(sandbox.control()),
            child: None,
            _sandbox: Some(sandbox),
        })
    }
}

/// The sandbox's configuration for these runs: a long desktop wait.
pub fn sandbox_config(wait: Duration) -> SandboxConfig {
    SandboxConfig::default()
        .with_port(0)
        .with_desktop_wait(wait)
}

/// Limits that are checked (their store round trips count) but never reached.
fn unreachable_limits() -> RateLimitConfig {
    let huge = |window| Some(RateLimit::new(u32::MAX, Duration::from_secs(window)));
    let mut limits = RateLimitConfig::default();
    limits.prepare_per_phone = huge(600);
    limits.prepare_per_phone_total = huge(600);
    limits.glide_calls_per_ip = huge(60);
    limits.prepare_per_ip = huge(60);
    limits.check_per_phone = huge(600);
    limits.check_per_ip = huge(60);
    limits
}

/// One engine instance of a run.
struct Instance {
    auth: GlideAuth,
    /// Its Redis events (with `--pair`).
    events: Option<Arc<RedisEvents>>,
    /// How many connections its HTTP/2 client to Glide opened (with `--http2`).
    http2_connections: Option<Box<dyn Fn() -> usize + Send + Sync>>,
}

/// An engine instance against the sandbox at `url`; with `redis`, its own Redis store and
/// pub/sub connections.
async fn engine(
    url: &str,
    wait: Duration,
    redis: Option<&str>,
    http2: Option<Http2>,
) -> Result<Instance, String> {
    let config = SandboxConfig::default();
    let timeout = wait + Duration::from_secs(60);
    let mut glide = Glide::builder(config.client_id, config.client_secret)
        .base_url(url)
        .timeout(timeout);
    let mut http2_connections: Option<Box<dyn Fn() -> usize + Send + Sync>> = None;
    match http2 {
        Some(Http2::Lean) => {
            let client = glide_core::api::Http2Client::new().map_err(|e| e.to_string())?;
            glide = glide.http_client(client.clone());
            http2_connections = Some(Box::new(move || client.connections()));
        }
        Some(Http2::Reqwest) => {
            let client = glide_core::api::ReqwestClient::builder()
                .http2_prior_knowledge()
                .timeout(timeout)
                .build()
                .map_err(|e| e.to_string())?;
            glide = glide.http_client(client.clone());
            http2_connections = Some(Box::new(move || client.lanes()));
        }
        None => {}
    }
    let glide = glide.build().map_err(|e| e.to_string())?;
    let mut builder = GlideAuth::builder(glide)
        .insecure_dev_cookies(true)
        .rate_limits(unreachable_limits())
        .busy_wait(wait + Duration::from_secs(60));
    let mut events = None;
    if let Some(redis) = redis {
        let store = RedisStore::connect(redis)
            .await
            .map_err(|e| e.to_string())?;
        let ev = Arc::new(
            RedisEvents::connect(redis)
                .await
                .map_err(|e| e.to_string())?,
        );
        builder = builder.store(store).events(Arc::clone(&ev));
        events = Some(ev);
    }
    Ok(Instance {
        auth: builder.build().map_err(|e| e.to_string())?,
        events,
        http2_connections,
    })
}

/// A browser's request; `n` picks its address (127.1.x.y): per-IP limits count per browser, as
/// in production, and one shared address would make its counter a hot key. `cookie` is the
/// flow's binding cookie (`name=value`), for process.
fn post(path: &str, body: &Value, n: usize, cookie: Option<&str>) -> http::Request<bytes::Bytes> {
    let [_, _, _, _, _, _, hi, lo] = (n as u64).to_be_bytes();
    let mut builder = http::Request::builder()
        .method("POST")
        .uri(path)
        .header("host", "app.test")
        .header("origin", ORIGIN)
        .header("content-type", "application/json")
        .header("user-agent", DESKTOP_UA)
        .extension(PeerAddr(std::net::IpAddr::from([127, 1, hi, lo])));
    if let Some(cookie) = cookie {
        builder = builder.header("cookie", cookie);
    }
    builder.body(body.to_string().into()).unwrap_or_default()
}

/// Sends a request through the engine: its status, JSON body and the first `Set-Cookie`'s
/// `name=value`.
async fn call(
    auth: &GlideAuth,
    request: http::Request<bytes::Bytes>,
) -> (u16, Value, Option<String>) {
    let Some(route) = auth.match_route(request.uri().path()) else {
        return (0, Value::Null, None);
    };
    let response = auth.handle(route, request).await;
    let cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::to_owned);
    let body = serde_json::from_slice(response.body()).unwrap_or(Value::Null);
    (response.status().as_u16(), body, cookie)
}

/// The `n`-th number of these runs: never a sandbox fixture.
fn nth_phone(n: usize) -> String {
    format!("+1555{:07}", 6_000_000 + n % 4_000_000)
}

/// Prepares `flows` desktop flows on `auth`, 64 at a time: their session keys and binding
/// cookies.
async fn prepare_all(
    auth: &GlideAuth,
    flows: usize,
    bar: &ProgressBar,
) -> Result<Vec<(String, String)>, String> {
    let mut keys = Vec::with_capacity(flows);
    let mut next = 0;
    while next < flows {
        let batch: Vec<_> = (next..flows.min(next + 64))
            .map(|n| {
                let auth = auth.clone();
                tokio::spawn(async move {
                    let body = json!({
                        "use_case": "VerifyPhoneNumber",
                        "phone_number": nth_phone(n),
                        "client_info": {"user_agent": DESKTOP_UA},
                    });
                    call(&auth, post(PREPARE, &body, n, None)).await
                })
            })
            .collect();
        next += batch.len();
        for task in batch {
            let (status, body, cookie) = task.await.map_err(|e| e.to_string())?;
            let key = body["session"]["session_key"].as_str();
            match (
                status,
                key,
                body["authentication_strategy"].as_str(),
                cookie,
            ) {
                (200, Some(key), Some("desktop"), Some(cookie)) => {
                    keys.push((key.to_owned(), cookie))
                }
                _ => return Err(format!("prepare answered {status}: {body}")),
            }
            bar.inc(1);
        }
    }
    Ok(keys)
}

type Waiting = Vec<tokio::task::JoinHandle<(u16, Instant)>>;

/// Fires one `process` per key on `auth`, a batch at a time (to spare the listen backlog).
async fn fire(auth: &GlideAuth, keys: &[(String, String)], bar: &ProgressBar) -> Waiting {
    let mut tasks = Vec::with_capacity(keys.len());
    for (i, (key, cookie)) in keys.iter().enumerate() {
        let auth = auth.clone();
        let body = json!({
            "session": {"session_key": key},
            "credential": key,
            "use_case": "VerifyPhoneNumber",
        });
        // Built here: the task holds the request a browser's connection would, not the JSON
        // tree it was written from.
        let request = post(PROCESS, &body, i, Some(cookie));
        tasks.push(tokio::spawn(async move {
            let (status, _, _) = call(&auth, request).await;
            (status, Instant::now())
        }));
        bar.inc(1);
        if i % 200 == 199 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    tasks
}

/// Waits until `ready()` holds and this process's RSS has settled (two polls 500 ms apart
/// within 1 %), at most `limit`.
async fn settle(limit: Duration, ready: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    let mut last = 0u64;
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let rss = stats::rss_kib(None).unwrap_or(0);
        let steady = rss.abs_diff(last) * 100 <= rss;
        last = rss;
        if ready() && steady {
            return true;
        }
    }
    false
}

/// The number of topics with waiters in `events`, read from its `Debug` (`waiting_topics`).
fn waiting_topics(events: &RedisEvents) -> usize {
    let text = format!("{events:?}");
    text.split("waiting_topics: ")
        .nth(1)
        .and_then(|t| t.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Waits for every call: their statuses, and each one's latency from its approval (`approved`,
/// in the order of the calls) to its answer.
async fn collect(tasks: Waiting, approved: &[Instant]) -> Result<(Counts, Latencies), String> {
    let mut counts = Counts::default();
    let mut latencies = Latencies::new()?;
    for (i, task) in tasks.into_iter().enumerate() {
        let (status, done) = task.await.map_err(|e| e.to_string())?;
        counts.add("process", status);
        if let Some(at) = approved.get(i) {
            latencies.record(done.saturating_duration_since(*at));
        }
    }
    Ok((counts, latencies))
}

/// The RSS figures of a child process (the sandbox with `--split`).
#[derive(Debug, Clone, Serialize)]
pub struct ChildRss {
    /// After the prepares, KiB.
    pub prepared_kib: u64,
    /// With every call waiting, KiB.
    pub waiting_kib: u64,
    /// (waiting − prepared) / N.
    pub kib_per_wait: f64,
}

/// One instance's `process` calls: statuses and wake-up latencies.
#[derive(Debug, Clone, Serialize)]
pub struct InstanceCalls {
    /// `process` answers by status.
    pub statuses: std::collections::BTreeMap<u16, u64>,
    /// Approval → response.
    pub wake_up: Option<Percentiles>,
}

impl InstanceCalls {
    fn of(counts: &Counts, latencies: &Latencies) -> Self {
        Self {
            statuses: counts.0.iter().map(|((_, s), n)| (*s, *n)).collect(),
            wake_up: Percentiles::of(latencies),
        }
    }
}

/// The figures of a `desktop-scale` run, for the table and for `--json`.
#[derive(Debug, Clone, Serialize)]
pub struct DesktopSummary {
    /// `"desktop-scale"`.
    pub command: &'static str,
    /// Flows waiting at once.
    pub flows: usize,
    /// `"child process"` or `"in-process"`.
    pub sandbox: &'static str,
    /// Engine instances (2 with `--pair`).
    pub instances: usize,
    /// `"http1"`, `"http2"` (`Http2Client`) or `"http2-reqwest"`.
    pub client: &'static str,
    /// Approvals per second.
    pub approve_rate: u32,
    /// This process's RSS at start, KiB.
    pub rss_start_kib: u64,
    /// After the prepares, KiB.
    pub rss_prepared_kib: u64,
    /// With every call of instance A waiting, KiB.
    pub rss_waiting_kib: u64,
    /// (waiting − prepared) / N: the memory of one waiting call.
    pub kib_per_wait: f64,
    /// (waiting − start) / N: including its prepared flow.
    pub kib_per_flow: f64,
    /// The sandbox child's RSS (with `--split`).
    pub sandbox_child: Option<ChildRss>,
    /// (A + B waiting − A waiting) / N (with `--pair`).
    pub kib_per_pubsub_waiter: Option<f64>,
    /// Size of one `GlideAuth::handle` future.
    pub handle_future_bytes: usize,
    /// HTTP/2 connections (or lanes) instance A opened.
    pub http2_connections: Option<usize>,
    /// Approvals the sandbox refused.
    pub approvals_failed: usize,
    /// Instance A's calls (long polls).
    pub a: InstanceCalls,
    /// Instance B's calls (Redis pub/sub waiters, with `--pair`).
    pub b: Option<InstanceCalls>,
}

impl DesktopSummary {
    /// The markdown table (as in docs/scale.md).
    fn print_markdown(&self) {
        let n = self.flows;
        println!("| figure | value |");
        println!("|---|---|");
        println!(
            "| RSS at start / after {n} prepares / all waiting | {} / {} / {} KiB |",
            self.rss_start_kib, self.rss_prepared_kib, self.rss_waiting_kib
        );
        println!(
            "| **KiB per waiting request** (waiting − prepared) / N, this process | **{:.2}** |",
            self.kib_per_wait
        );
        println!(
            "| KiB per flow incl. its prepared state (waiting − start) / N | {:.2} |",
            self.kib_per_flow
        );
        if let Some(c) = &self.sandbox_child {
            println!(
                "| sandbox child RSS prepared / waiting | {} / {} KiB ({:.2} KiB per waiting call) |",
                c.prepared_kib, c.waiting_kib, c.kib_per_wait
            );
        }
        if let Some(w) = self.kib_per_pubsub_waiter {
            println!("| instance B: KiB per pub/sub waiter (B waiting − A waiting) / N | {w:.2} |");
        }
        println!(
            "| size of one `GlideAuth::handle` future | {} bytes |",
            self.handle_future_bytes
        );
        if let Some(connections) = self.http2_connections {
            println!("| HTTP/2 connections instance A opened | {connections} |");
        }
        println!("| approvals failed | {} |", self.approvals_failed);
        let statuses = |calls: &InstanceCalls| {
            calls
                .statuses
                .iter()
                .map(|(s, n)| format!("{n} × {s}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        println!("| instance A process statuses | {} |", statuses(&self.a));
        if let Some(p) = self.a.wake_up {
            println!("| **wake-up, approve → A's response** | {p} |");
        }
        if let Some(b) = &self.b {
            println!("| instance B process statuses | {} |", statuses(b));
            if let Some(p) = b.wake_up {
                println!("| **wake-up, approve → B's response (Redis pub/sub)** | {p} |");
            }
        }
    }
}

/// Runs the scenario and prints its figures.
pub async fn run(options: Options, notes: Notes) -> Result<(), String> {
    let n = options.flows;
    notes.line(&format!(
        "desktop-scale: flows={n} sandbox={} instances={} approve_rate={}/s fd_limit={:?}",
        if options.split {
            "child process"
        } else {
            "in-process"
        },
        if options.pair { 2 } else { 1 },
        options.approve_rate,
        stats::fd_limit()
    ));
    let rss_start = stats::rss_kib(None).unwrap_or(0);
    let redis = if options.pair {
        Some(glide_tests::redis_server::RedisServer::start().ok_or("redis-server is missing")?)
    } else {
        None
    };
    let redis_url = redis.as_ref().map(|r| r.url());
    let side = start_sandbox(options.split, options.desktop_wait).await?;
    let instance_a = engine(
        &side.url,
        options.desktop_wait,
        redis_url.as_deref(),
        options.http2,
    )
    .await?;
    let a = &instance_a.auth;
    let b = match &redis_url {
        Some(url) => Some(engine(&side.url, options.desktop_wait, Some(url), options.http2).await?),
        None => None,
    };

    // Warm-up: one whole flow (token, pools, allocator).
    let warm = prepare_all(a, 1, &ProgressBar::hidden()).await?;
    let warm_tasks = fire(a, &warm, &ProgressBar::hidden()).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (warm_key, _) = warm.first().ok_or("no warm-up flow")?;
    side.approver.approve(warm_key).await?;
    let (warm_counts, _) = collect(warm_tasks, &[]).await?;
    if warm_counts.in_range(200..201) != 1 {
        return Err(format!("the warm-up flow did not verify: {warm_counts:?}"));
    }

    let started = Instant::now();
    let bar = progress::bar(n as u64, "prepare");
    let keys = prepare_all(a, n, &bar).await?;
    bar.finish_and_clear();
    notes.line(&format!(
        "prepared {n} flows in {:.1} s",
        started.elapsed().as_secs_f64()
    ));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_prepared = stats::rss_kib(None).unwrap_or(0);
    let child_pid = side.child.as_ref().map(Running::pid);
    let child_prepared = child_pid.and_then(|p| stats::rss_kib(Some(p)));
    let fds_prepared = stats::open_fds();

    let started = Instant::now();
    let bar = progress::bar(n as u64, "fire");
    let tasks_a = fire(a, &keys, &bar).await;
    bar.finish_and_clear();
    let spinner = progress::spinner("wait");
    spinner.set_message("until every call waits and RSS settles");
    let per_request_fds = match (options.http2, options.split) {
        (Some(_), _) => 0,
        (None, true) => 1,
        (None, false) => 2,
    };
    let want = fds_prepared + per_request_fds * n;
    // The prepares left up to 64 idle pooled connections, which the first calls reuse.
    let slack = per_request_fds * 64 + 50;
    if options.http2.is_some() {
        // No socket per call to count: give the streams time to open, then wait for RSS to settle.
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
    let all_waiting = settle(Duration::from_secs(90), || {
        stats::open_fds() + slack >= want
    })
    .await;
    spinner.finish_and_clear();
    let finished_early = tasks_a.iter().filter(|t| t.is_finished()).count();
    notes.line(&format!(
        "fired {n} process calls; waiting after {:.1} s (all waiting: {all_waiting}, open fds {} of ~{want}, finished early {finished_early})",
        started.elapsed().as_secs_f64(),
        stats::open_fds()
    ));
    let rss_waiting = stats::rss_kib(None).unwrap_or(0);
    let child_waiting = child_pid.and_then(|p| stats::rss_kib(Some(p)));

    let mut tasks_b = None;
    let mut rss_b_waiting = None;
    if let Some(b) = &b {
        let events = b.events.as_ref().ok_or("instance B has no Redis events")?;
        let started = Instant::now();
        let bar = progress::bar(n as u64, "fire B");
        let tasks = fire(&b.auth, &keys, &bar).await;
        bar.finish_and_clear();
        let spinner = progress::spinner("wait B");
        spinner.set_message("until every call waits on pub/sub");
        let ok = settle(Duration::from_secs(90), || waiting_topics(events) >= n).await;
        spinner.finish_and_clear();
        notes.line(&format!(
            "instance B: {n} process calls waiting on pub/sub after {:.1} s (all: {ok}, topics {})",
            started.elapsed().as_secs_f64(),
            waiting_topics(events)
        ));
        rss_b_waiting = stats::rss_kib(None);
        tasks_b = Some(tasks);
    }

    // The phone approves, paced.
    let interval = Duration::from_secs_f64(1.0 / f64::from(options.approve_rate.max(1)));
    let mut approved = Vec::with_capacity(n);
    let mut approve_errors = 0usize;
    let start = tokio::time::Instant::now();
    let bar = progress::bar(n as u64, "approve");
    for (i, (key, _)) in keys.iter().enumerate() {
        tokio::time::sleep_until(start + interval.mul_f64(i as f64)).await;
        approved.push(Instant::now());
        if side.approver.approve(key).await.is_err() {
            approve_errors += 1;
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    let (counts_a, lat_a) = collect(tasks_a, &approved).await?;
    let b_result = match tasks_b {
        Some(tasks) => Some(collect(tasks, &approved).await?),
        None => None,
    };

    // The state machine of one waiting call, before any allocation it makes.
    let probe = post(PROCESS, &json!({}), 0, None);
    let future_bytes = a
        .match_route(PROCESS)
        .map(|route| std::mem::size_of_val(&a.handle(route, probe)))
        .unwrap_or(0);
    let kib = |from: u64, to: u64| (to.saturating_sub(from)) as f64 / n as f64;
    let summary = DesktopSummary {
        command: "desktop-scale",
        flows: n,
        sandbox: if options.split {
            "child process"
        } else {
            "in-process"
        },
        instances: if options.pair { 2 } else { 1 },
        client: match options.http2 {
            None => "http1",
            Some(Http2::Lean) => "http2",
            Some(Http2::Reqwest) => "http2-reqwest",
        },
        approve_rate: options.approve_rate,
        rss_start_kib: rss_start,
        rss_prepared_kib: rss_prepared,
        rss_waiting_kib: rss_waiting,
        kib_per_wait: kib(rss_prepared, rss_waiting),
        kib_per_flow: kib(rss_start, rss_waiting),
        sandbox_child: match (child_prepared, child_waiting) {
            (Some(p), Some(w)) => Some(ChildRss {
                prepared_kib: p,
                waiting_kib: w,
                kib_per_wait: kib(p, w),
            }),
            _ => None,
        },
        kib_per_pubsub_waiter: rss_b_waiting.map(|w| kib(rss_waiting, w)),
        handle_future_bytes: future_bytes,
        http2_connections: instance_a.http2_connections.as_ref().map(|c| c()),
        approvals_failed: approve_errors,
        a: InstanceCalls::of(&counts_a, &lat_a),
        b: b_result.map(|(counts, latencies)| InstanceCalls::of(&counts, &latencies)),
    };
    if notes.json {
        let text = serde_json::to_string_pretty(&summary).map_err(|e| e.to_string())?;
        println!("{text}");
    } else {
        summary.print_markdown();
    }
    drop(redis);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_are_not_fixtures() {
        for n in [0, 1, 99, 3_999_999, 4_000_000] {
            let p = nth_phone(n);
            assert_eq!(p.len(), 12, "{p}");
            assert!(!p.starts_with("+155555501"), "{p}");
        }
    }
}
