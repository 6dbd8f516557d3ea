//! `load`: a fixed number of clients mixing every flow against a running axum-demo (started here
//! with `GLIDE_REDIS_URL` and a Redis of its own) for a fixed time; statuses counted, the demo's
//! RSS sampled every 5 s.
//!
//! With `--cluster`, the Redis is a Redis Cluster of its own (three masters, three replicas;
//! `GLIDE_REDIS_CLUSTER_URLS`); with `--instances 2`, two demos share it and every browser's
//! requests alternate between them (as behind a load balancer without sticky sessions: each
//! request carries the first instance's `Host` and `Origin`); with `--kill-master-after S`, a
//! master is killed with `SIGKILL` S seconds in (its replica takes over), 100 "witness"
//! browsers verified in the two seconds before it keep their sessions, and the figures say what
//! failed per second around the kill, when requests succeeded again, and how many witnesses lost
//! their session.
//!
//! The flows and their browsers are [`crate::flows`]' (shared with `run`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::child::Running;
use crate::cli::LoadArgs;
use crate::flows::{self, Browser, DriveSummary, Target, ANDROID_UA};
use crate::progress::Notes;
use crate::stats::{self, Counts};

/// Browsers verified just before the kill, whose sessions are checked after it.
const WITNESSES: usize = 100;

/// The Redis the demos share.
enum Backend {
    Node(glide_tests::redis_server::RedisServer),
    Cluster(Arc<Mutex<glide_tests::redis_server::RedisCluster>>),
}

impl Backend {
    fn start(cluster: bool) -> Result<Self, String> {
        use glide_tests::redis_server::{RedisCluster, RedisServer};
        Ok(if cluster {
            Self::Cluster(Arc::new(Mutex::new(
                RedisCluster::start().ok_or("redis-server ≥ 7 and redis-cli are needed")?,
            )))
        } else {
            Self::Node(RedisServer::start().ok_or("redis-server is missing")?)
        })
    }

    /// The demo's environment variable and its value.
    fn env(&self) -> (&'static str, String) {
        match self {
            Self::Node(redis) => ("GLIDE_REDIS_URL", redis.url()),
            Self::Cluster(cluster) => (
                "GLIDE_REDIS_CLUSTER_URLS",
                cluster
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .env_value(),
            ),
        }
    }
}

/// One RSS sample of the first demo instance.
#[derive(Debug, Clone, Serialize)]
pub struct RssSample {
    /// Seconds into the run.
    pub t_s: u64,
    /// `VmRSS` in KiB (0 if it could not be read).
    pub kib: u64,
}

/// The figures of a `load` run, for the tables and for `--json`.
#[derive(Debug, Clone, Serialize)]
pub struct LoadSummary {
    /// `"load"`.
    pub command: &'static str,
    /// How long the clients started flows.
    pub seconds: u64,
    /// Concurrent clients.
    pub clients: usize,
    /// The demo instances.
    pub targets: Vec<String>,
    /// The sandbox the demos used as Glide.
    pub sandbox_url: String,
    /// Where the sandbox ran: `"load generator"` or `"embedded in the demo"`.
    pub sandbox: &'static str,
    /// `"redis node"` or `"redis cluster"` (3 masters + 3 replicas).
    pub store: &'static str,
    /// The mixed flows' figures.
    #[serde(flatten)]
    pub drive: DriveSummary,
    /// The failover (with `--kill-master-after`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failover: Option<FailoverSummary>,
    /// The first demo's RSS every 5 s.
    pub demo_rss_kib: Vec<RssSample>,
}

impl LoadSummary {
    /// The markdown tables (as in docs/scale.md).
    fn print_markdown(&self) {
        self.drive.print_markdown();
        if let Some(failover) = &self.failover {
            failover.print_markdown();
        }
        println!("| t (s) | demo RSS (KiB) |");
        println!("|---|---|");
        for sample in &self.demo_rss_kib {
            println!("| {} | {} |", sample.t_s, sample.kib);
        }
    }
}

/// Starts Redis, the sandbox and the demos, runs the load and prints its figures.
pub async fn run(options: LoadArgs, notes: Notes) -> Result<(), String> {
    let demo_bin = match &options.demo_bin {
        Some(path) => path.clone(),
        None => std::env::current_exe()
            .map_err(|e| e.to_string())?
            .with_file_name("axum-demo"),
    };
    let (seconds, clients) = (options.drive.seconds, options.drive.clients);
    let backend = Backend::start(options.cluster)?;
    let own_sandbox = if options.embedded_sandbox {
        None
    } else {
        Some(
            glide_sandbox::Sandbox::start(crate::desktop::sandbox_config(Duration::from_secs(25)))
                .await
                .map_err(|e| e.to_string())?,
        )
    };
    let (redis_var, redis_value) = backend.env();
    let mut demos = Vec::new();
    for _ in 0..options.instances {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let mut command = std::process::Command::new(&demo_bin);
        command
            .env("PORT", port.to_string())
            .env(redis_var, &redis_value)
            .env("RUST_LOG", "warn");
        match &own_sandbox {
            Some(sandbox) => {
                command
                    .env("GLIDE_CLIENT_ID", "sandbox-client")
                    .env("GLIDE_CLIENT_SECRET", "sandbox-secret")
                    .env("GLIDE_API_BASE_URL", sandbox.base_url());
            }
            None => {
                command.env("GLIDE_SANDBOX_PORT", "0");
            }
        }
        demos.push(Running::start(
            command,
            "listening on",
            Duration::from_secs(30),
        )?);
    }
    let targets: Vec<String> = demos
        .iter()
        .map(|demo| demo.url_after("listening on").ok_or("no demo URL"))
        .collect::<Result<_, _>>()?;
    let first = demos.first().ok_or("no demo started")?;
    let sandbox_url = match &own_sandbox {
        Some(s) => s.base_url(),
        None => first.url_after("sandbox on").ok_or("no sandbox URL")?,
    };
    let pid = first.pid();
    let store = if options.cluster {
        "redis cluster"
    } else {
        "redis node"
    };
    let sandbox = if options.embedded_sandbox {
        "embedded in the demo"
    } else {
        "load generator"
    };
    notes.line(&format!(
        "load: {clients} clients for {seconds} s against {} axum-demo instance(s) (first pid {pid}) at {} ({}; sandbox {})",
        options.instances,
        targets.join(", "),
        if options.cluster { "Redis Cluster, 3 masters + 3 replicas" } else { "Redis node" },
        if options.embedded_sandbox {
            "embedded in the demo"
        } else {
            "in the load generator"
        }
    ));

    let target = Arc::new(Target::new(targets.clone(), sandbox_url.clone(), true)?);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let sampler = tokio::spawn(async move {
        let mut samples = Vec::new();
        let start = Instant::now();
        while Instant::now() < deadline + Duration::from_secs(1) {
            samples.push(RssSample {
                t_s: start.elapsed().as_secs(),
                kib: stats::rss_kib(Some(pid)).unwrap_or(0),
            });
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
        samples
    });
    // The failover: witnesses verified in the two seconds before the kill, then the kill.
    let failover = match (&backend, options.kill_master_after) {
        (Backend::Cluster(cluster), Some(after)) => {
            let (cluster, target) = (cluster.clone(), target.clone());
            Some(tokio::spawn(async move {
                let at = started + Duration::from_secs(after);
                tokio::time::sleep_until((at - Duration::from_secs(2)).into()).await;
                let witnesses = (0..WITNESSES as u64).map(|i| {
                    let target = target.clone();
                    tokio::spawn(async move {
                        let n = 3_000_000 + i;
                        let mut browser = Browser::new(n, ANDROID_UA, &target, started).ok()?;
                        browser.verify_and_keep(n).await.then_some(browser)
                    })
                });
                let mut kept = Vec::new();
                for witness in witnesses.collect::<Vec<_>>() {
                    if let Ok(Some(browser)) = witness.await {
                        kept.push(browser);
                    }
                }
                tokio::time::sleep_until(at.into()).await;
                let killed = tokio::task::spawn_blocking(move || {
                    let mut cluster = cluster.lock().unwrap_or_else(|e| e.into_inner());
                    let master = cluster.masters().first().copied();
                    if let Some(port) = master {
                        cluster.kill_node(port);
                    }
                    master
                })
                .await
                .ok()
                .flatten();
                (kept, killed, started.elapsed())
            }))
        }
        _ => None,
    };
    let outcome = flows::drive(&target, seconds, clients, started).await?;
    let demo_rss_kib = sampler.await.map_err(|e| e.to_string())?;
    let failover = match failover {
        Some(failover) => {
            let (witnesses, killed, at) = failover.await.map_err(|e| e.to_string())?;
            Some(FailoverSummary::of(&outcome.timeline, witnesses, killed, at).await)
        }
        None => None,
    };
    let summary = LoadSummary {
        command: "load",
        seconds,
        clients,
        targets,
        sandbox_url,
        sandbox,
        store,
        drive: DriveSummary::of(&outcome),
        failover,
        demo_rss_kib,
    };
    if notes.json {
        let text = serde_json::to_string_pretty(&summary).map_err(|e| e.to_string())?;
        println!("{text}");
    } else {
        summary.print_markdown();
    }
    drop(demos);
    drop(backend);
    Ok(())
}

/// One second of the run around the kill.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FailoverSecond {
    /// Second of the run.
    pub t_s: u64,
    /// Answers below 500.
    pub answered_below_500: u64,
    /// Of which 2xx.
    pub status_2xx: u64,
    /// 500 and 5xx other than 503.
    pub status_5xx_not_503: u64,
    /// 503.
    pub status_503: u64,
    /// No answer.
    pub transport_errors: u64,
}

/// The failover's figures: statuses per second around the kill, the first second after it
/// without a failure, and the witnesses' sessions checked after it.
#[derive(Debug, Clone, Serialize)]
pub struct FailoverSummary {
    /// The killed master's port (`None`: no master found).
    pub killed_port: Option<u16>,
    /// When it was killed, seconds into the run.
    pub killed_at_s: f64,
    /// From two seconds before the kill to twenty after.
    pub per_second: Vec<FailoverSecond>,
    /// Requests that failed (5xx or transport) from the kill on.
    pub failed_from_kill: u64,
    /// The second after the last failure (the kill's own second if none failed).
    pub failures_ended_by_s: u64,
    /// Witnesses verified in the two seconds before the kill.
    pub witnesses: usize,
    /// Of which still verified (`/me` 200).
    pub witnesses_kept: usize,
    /// Of which lost (`/me` 401).
    pub witnesses_lost: usize,
    /// The other answers to the witnesses' `/me`.
    pub witnesses_other: Vec<u16>,
}

impl FailoverSummary {
    /// The figures from the run's `timeline`, checking the `witnesses`' sessions now.
    async fn of(
        timeline: &Counts,
        mut witnesses: Vec<Browser>,
        killed: Option<u16>,
        at: Duration,
    ) -> Self {
        let kill_second = at.as_secs();
        let mut per_second: BTreeMap<u64, FailoverSecond> = BTreeMap::new();
        for ((second, status), count) in &timeline.0 {
            let Ok(second) = second.parse::<u64>() else {
                continue;
            };
            let row = per_second.entry(second).or_insert_with(|| FailoverSecond {
                t_s: second,
                ..FailoverSecond::default()
            });
            match status {
                0 => row.transport_errors += count,
                503 => row.status_503 += count,
                500..=599 => row.status_5xx_not_503 += count,
                _ => row.answered_below_500 += count,
            }
            if (200..300).contains(status) {
                row.status_2xx += count;
            }
        }
        let failures =
            |row: &FailoverSecond| row.status_5xx_not_503 + row.status_503 + row.transport_errors;
        let failed_from_kill = per_second
            .range(kill_second..)
            .map(|(_, r)| failures(r))
            .sum();
        // Failures are counted when their answer comes (a request stuck on the dead master
        // answers at its deadline): recovered is the second after the last one with a failure.
        let last_failure = per_second
            .range(kill_second..)
            .filter(|(_, r)| failures(r) > 0)
            .map(|(second, _)| *second)
            .next_back();
        let mut kept = 0;
        let mut lost = 0;
        let mut other = Vec::new();
        for witness in &mut witnesses {
            match witness.me().await.0 {
                200 => kept += 1,
                401 => lost += 1,
                status => other.push(status),
            }
        }
        Self {
            killed_port: killed,
            killed_at_s: at.as_secs_f64(),
            per_second: per_second
                .range(kill_second.saturating_sub(2)..=kill_second + 20)
                .map(|(_, r)| r.clone())
                .collect(),
            failed_from_kill,
            failures_ended_by_s: last_failure.map_or(kill_second, |s| s + 1),
            witnesses: witnesses.len(),
            witnesses_kept: kept,
            witnesses_lost: lost,
            witnesses_other: other,
        }
    }

    /// The markdown lines (as in docs/scale.md section 3a).
    fn print_markdown(&self) {
        println!(
            "failover: master on port {} killed with SIGKILL at t = {:.1} s",
            self.killed_port
                .map_or("(none found)".to_owned(), |p| p.to_string()),
            self.killed_at_s
        );
        println!(
            "| t (s) | answered < 500 | of which 2xx | 500 / other 5xx | 503 | transport errors |"
        );
        println!("|---|---|---|---|---|---|");
        for r in &self.per_second {
            println!(
                "| {} | {} | {} | {} | {} | {} |",
                r.t_s,
                r.answered_below_500,
                r.status_2xx,
                r.status_5xx_not_503,
                r.status_503,
                r.transport_errors
            );
        }
        let kill_second = self.killed_at_s as u64;
        println!(
            "failed requests from the kill on: {}; failures ended by: t = {} s ({} s after the kill)",
            self.failed_from_kill,
            self.failures_ended_by_s,
            self.failures_ended_by_s.saturating_sub(kill_second)
        );
        println!(
            "witness sessions verified in the 2 s before the kill: {} · still verified: {} · lost (401): {} · other answers: {:?}",
            self.witnesses, self.witnesses_kept, self.witnesses_lost, self.witnesses_other
        );
    }
}
