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
//! Each flow is one fresh "browser": its own cookie jar and its own loopback source address
//! (127.1.0.1, 127.1.0.2, …), so the demo's default per-IP limits (prepare 30/min, checks
//! 60/min) apply per browser as in production rather than throttling one load-generator address.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::child::Running;
use crate::stats::{self, Counts, Percentiles};

const ANDROID_UA: &str = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36";
const IPHONE_UA: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";
const DESKTOP_UA: &str = crate::desktop::DESKTOP_UA;
const BASE: &str = "/api/magical-auth";

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// How long the clients keep starting flows.
    pub seconds: u64,
    /// Concurrent clients.
    pub clients: usize,
    /// The axum-demo binary.
    pub demo_bin: std::path::PathBuf,
    /// Let the demo run its embedded sandbox (its RSS then includes the sandbox's sessions);
    /// otherwise a sandbox in this process stands in for Glide (`GLIDE_API_BASE_URL`).
    pub embedded_sandbox: bool,
    /// A Redis Cluster instead of one node.
    pub cluster: bool,
    /// Demo instances sharing the store (1 or 2).
    pub instances: usize,
    /// Kill a master of the cluster this many seconds in.
    pub kill_master_after: Option<u64>,
}

/// Browsers verified just before the kill, whose sessions are checked after it.
const WITNESSES: usize = 100;

/// The kinds of flow in the mix, by weight out of 20.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Ts43,
    Link,
    Desktop,
    RiskDenied,
    NotEligible,
    UnknownSession,
}

impl Kind {
    fn nth(n: u64) -> Self {
        match n % 20 {
            0..=7 => Self::Ts43,
            8..=11 => Self::Link,
            12..=14 => Self::Desktop,
            15..=16 => Self::RiskDenied,
            17 => Self::NotEligible,
            _ => Self::UnknownSession,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Ts43 => "ts43",
            Self::Link => "link",
            Self::Desktop => "desktop",
            Self::RiskDenied => "risk-denied",
            Self::NotEligible => "not-eligible",
            Self::UnknownSession => "unknown-session",
        }
    }
}

/// The `n`-th source address: 127.1.0.1 onwards (never .0 or .255 in the last byte).
fn source(n: u64) -> IpAddr {
    let d = 1 + n % 254;
    let c = (n / 254) % 256;
    let b = 1 + (n / (254 * 256)) % 254;
    IpAddr::V4(Ipv4Addr::new(127, b as u8, c as u8, d as u8))
}

/// The `n`-th number of the load: never a sandbox fixture.
fn nth_phone(n: u64) -> String {
    format!("+1555{:07}", 6_000_000 + n % 4_000_000)
}

/// One browser of one flow.
struct Browser {
    http: reqwest::Client,
    /// The origin the browser sees (the first instance), and the instances its requests reach
    /// in turn.
    app: String,
    host: String,
    targets: Arc<Vec<String>>,
    turn: usize,
    sandbox: String,
    counts: Counts,
    /// Statuses by second of the run (`"0042"`).
    timeline: Counts,
    started: Instant,
}

impl Browser {
    fn new(
        n: u64,
        ua: &str,
        targets: &Arc<Vec<String>>,
        sandbox: &str,
        started: Instant,
    ) -> Result<Self, String> {
        let app = targets.first().ok_or("no instance")?.clone();
        let host = app.trim_start_matches("http://").to_owned();
        let http = reqwest::Client::builder()
            .local_address(source(n))
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(ua)
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self {
            http,
            app,
            host,
            targets: targets.clone(),
            turn: n as usize,
            sandbox: sandbox.to_owned(),
            counts: Counts::default(),
            timeline: Counts::default(),
            started,
        })
    }

    /// A request to the next instance, as the app's origin.
    fn app_request(&mut self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let target = &self.targets[self.turn % self.targets.len()];
        self.turn += 1;
        self.http
            .request(method, format!("{target}{path}"))
            .header("host", &self.host)
    }

    fn record(&mut self, label: &str, status: u16) {
        self.counts.add(label, status);
        let second = format!("{:04}", self.started.elapsed().as_secs());
        self.timeline.add(&second, status);
    }

    async fn send(
        &mut self,
        label: &str,
        request: reqwest::RequestBuilder,
    ) -> (u16, Value, String) {
        match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let location = response
                    .headers()
                    .get("location")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                let body = response.json().await.unwrap_or(Value::Null);
                self.record(label, status);
                (status, body, location)
            }
            Err(_) => {
                self.record(label, 0);
                (0, Value::Null, String::new())
            }
        }
    }

    async fn app_post(&mut self, route: &str, body: &Value) -> (u16, Value) {
        let request = self
            .app_request(reqwest::Method::POST, &format!("{BASE}/{route}"))
            .header("origin", &self.app)
            .json(body);
        let (status, body, _) = self.send(route, request).await;
        (status, body)
    }

    async fn prepare(&mut self, use_case: &str, phone: Option<&str>, ua: &str) -> (u16, String) {
        let mut body = json!({"use_case": use_case, "client_info": {"user_agent": ua}});
        if let Some(phone) = phone {
            body["phone_number"] = json!(phone);
        }
        let (status, body) = self.app_post("prepare", &body).await;
        let key = body["session"]["session_key"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        (status, key)
    }

    async fn process(&mut self, key: &str, credential: &str, use_case: &str) -> u16 {
        let body = json!({
            "session": {"session_key": key},
            "credential": credential,
            "use_case": use_case,
        });
        self.app_post("process", &body).await.0
    }

    async fn credential(&mut self, key: &str, phone: Option<&str>) -> Option<String> {
        let mut body = json!({"session_key": key, "origin": self.app});
        if let Some(phone) = phone {
            body["phone_number"] = json!(phone);
        }
        let request = self
            .http
            .post(format!("{}/sandbox/ts43/credential", self.sandbox))
            .json(&body);
        let (status, body, _) = self.send("sandbox:credential", request).await;
        (status == 200)
            .then(|| body["credential"].as_str().map(str::to_owned))
            .flatten()
    }

    async fn me_and_logout(&mut self) -> bool {
        let (me, _) = self.me().await;
        let (out, _) = self.app_post("logout", &json!({})).await;
        me == 200 && out == 204
    }

    /// `GET /me`: its status.
    async fn me(&mut self) -> (u16, Value) {
        let request = self.app_request(reqwest::Method::GET, "/me");
        let (status, body, _) = self.send("me", request).await;
        (status, body)
    }

    /// A TS43 verification that keeps its session (a witness of the failover).
    async fn verify_and_keep(&mut self, n: u64) -> bool {
        let phone = nth_phone(n);
        let (s, key) = self
            .prepare("VerifyPhoneNumber", Some(&phone), ANDROID_UA)
            .await;
        if s != 200 {
            return false;
        }
        let Some(credential) = self.credential(&key, None).await else {
            return false;
        };
        self.process(&key, &credential, "VerifyPhoneNumber").await == 200
    }

    /// Runs one flow of `kind`; `true` when every step answered as that flow should.
    async fn flow(&mut self, kind: Kind, n: u64) -> bool {
        let phone = nth_phone(n);
        match kind {
            Kind::Ts43 => self.verify_and_keep(n).await && self.me_and_logout().await,
            Kind::Link => {
                let (s, key) = self
                    .prepare("VerifyPhoneNumber", Some(&phone), IPHONE_UA)
                    .await;
                if s != 200 {
                    return false;
                }
                let request = self.http.get(format!(
                    "{}/sandbox/link/{key}?decision=approve",
                    self.sandbox
                ));
                let (s, _, location) = self.send("sandbox:link-approve", request).await;
                let fragment = location.split('#').nth(1).unwrap_or_default().to_owned();
                let agg = fragment
                    .split('&')
                    .find_map(|p| p.strip_prefix("agg_code="))
                    .unwrap_or_default();
                if s != 302 || agg.is_empty() {
                    return false;
                }
                let body = json!({"agg_code": agg, "session_key": key, "user_agent": IPHONE_UA});
                self.app_post("complete", &body).await.0 == 204
                    && self.process(&key, &key, "VerifyPhoneNumber").await == 200
                    && self.me_and_logout().await
            }
            Kind::Desktop => {
                let (s, key) = self
                    .prepare("VerifyPhoneNumber", Some(&phone), DESKTOP_UA)
                    .await;
                if s != 200 {
                    return false;
                }
                let approve = self
                    .http
                    .post(format!("{}/sandbox/desktop/{key}/approve", self.sandbox));
                let body = json!({
                    "session": {"session_key": key},
                    "credential": key,
                    "use_case": "VerifyPhoneNumber",
                });
                let process = self
                    .app_request(reqwest::Method::POST, &format!("{BASE}/process"))
                    .header("origin", &self.app)
                    .json(&body)
                    .send();
                let phone_side = async {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    approve
                        .send()
                        .await
                        .map(|r| r.status().as_u16())
                        .unwrap_or(0)
                };
                let (processed, approved) = tokio::join!(process, phone_side);
                self.record("sandbox:desktop-approve", approved);
                let status = processed.map(|r| r.status().as_u16()).unwrap_or(0);
                self.record("process", status);
                status == 200 && self.me_and_logout().await
            }
            Kind::RiskDenied => {
                // GetPhoneNumber: the device answers with the SIM-swapped fixture number.
                let (s, key) = self.prepare("GetPhoneNumber", None, ANDROID_UA).await;
                if s != 200 {
                    return false;
                }
                let Some(credential) = self.credential(&key, Some("+15555550101")).await else {
                    return false;
                };
                self.process(&key, &credential, "GetPhoneNumber").await == 403
            }
            Kind::NotEligible => {
                // One fixture number: its per-phone prepare limit (10 per 10 min) answers 429
                // after the first ten, by design.
                let (s, _) = self
                    .prepare("VerifyPhoneNumber", Some("+15555550106"), ANDROID_UA)
                    .await;
                s == 422 || s == 429
            }
            Kind::UnknownSession => {
                // No binding cookie for that key: refused before any lookup (403), so that the
                // answer never tells which session keys exist.
                self.process("0123456789abcdef", "0123456789abcdef", "VerifyPhoneNumber")
                    .await
                    == 403
            }
        }
    }
}

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

/// Runs the load and prints its figures.
pub async fn run(options: Options) -> Result<(), String> {
    if options.instances > 1 && options.embedded_sandbox {
        return Err("--instances 2 needs one sandbox for both: drop --embedded-sandbox".into());
    }
    if options.kill_master_after.is_some() && !options.cluster {
        return Err("--kill-master-after needs --cluster".into());
    }
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
        let mut command = std::process::Command::new(&options.demo_bin);
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
    let targets = Arc::new(targets);
    let sandbox_url = match &own_sandbox {
        Some(s) => s.base_url(),
        None => demos[0].url_after("sandbox on").ok_or("no sandbox URL")?,
    };
    let pid = demos[0].pid();
    println!(
        "load: {} clients for {} s against {} axum-demo instance(s) (first pid {pid}) at {} ({}; sandbox {})",
        options.clients,
        options.seconds,
        options.instances,
        targets.join(", "),
        if options.cluster { "Redis Cluster, 3 masters + 3 replicas" } else { "Redis node" },
        if options.embedded_sandbox {
            "embedded in the demo"
        } else {
            "in the load generator"
        }
    );

    let started = Instant::now();
    let deadline = started + Duration::from_secs(options.seconds);
    let next = Arc::new(AtomicU64::new(0));
    let totals = Arc::new(Mutex::new((
        Counts::default(),
        Counts::default(),
        Counts::default(),
    )));
    let durations = Arc::new(Mutex::new(Vec::<(Kind, Duration)>::new()));
    let sampler = tokio::spawn(async move {
        let mut samples = Vec::new();
        let start = Instant::now();
        while Instant::now() < deadline + Duration::from_secs(1) {
            samples.push((
                start.elapsed().as_secs(),
                stats::rss_kib(Some(pid)).unwrap_or(0),
            ));
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
        samples
    });
    // The failover: witnesses verified in the two seconds before the kill, then the kill.
    let failover = match (&backend, options.kill_master_after) {
        (Backend::Cluster(cluster), Some(after)) => {
            let (cluster, targets, sandbox) =
                (cluster.clone(), targets.clone(), sandbox_url.clone());
            Some(tokio::spawn(async move {
                let at = started + Duration::from_secs(after);
                tokio::time::sleep_until((at - Duration::from_secs(2)).into()).await;
                let witnesses = (0..WITNESSES as u64).map(|i| {
                    let (targets, sandbox) = (targets.clone(), sandbox.clone());
                    tokio::spawn(async move {
                        let n = 3_000_000 + i;
                        let mut browser =
                            Browser::new(n, ANDROID_UA, &targets, &sandbox, started).ok()?;
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
    let clients: Vec<_> = (0..options.clients)
        .map(|_| {
            let (next, totals, durations) = (next.clone(), totals.clone(), durations.clone());
            let (targets, sandbox) = (targets.clone(), sandbox_url.clone());
            tokio::spawn(async move {
                let mut local = (Counts::default(), Counts::default(), Counts::default());
                let mut times = Vec::new();
                while Instant::now() < deadline {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    let kind = Kind::nth(n);
                    let ua = match kind {
                        Kind::Link => IPHONE_UA,
                        Kind::Desktop => DESKTOP_UA,
                        _ => ANDROID_UA,
                    };
                    let Ok(mut browser) = Browser::new(n, ua, &targets, &sandbox, started) else {
                        local.1.add(kind.name(), 0);
                        continue;
                    };
                    let flow_started = Instant::now();
                    let ok = browser.flow(kind, n).await;
                    times.push((kind, flow_started.elapsed()));
                    local.0.merge(&browser.counts);
                    local.1.add(kind.name(), if ok { 1 } else { 2 });
                    local.2.merge(&browser.timeline);
                }
                let mut t = totals.lock().unwrap_or_else(|e| e.into_inner());
                t.0.merge(&local.0);
                t.1.merge(&local.1);
                t.2.merge(&local.2);
                durations
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .extend(times);
            })
        })
        .collect();
    for client in clients {
        client.await.map_err(|e| e.to_string())?;
    }
    let samples = sampler.await.map_err(|e| e.to_string())?;
    let (statuses, outcomes, timeline) = totals.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let durations = std::mem::take(&mut *durations.lock().unwrap_or_else(|e| e.into_inner()));

    println!("| route | status | count |");
    println!("|---|---|---|");
    for ((label, status), count) in &statuses.0 {
        println!("| {label} | {status} | {count} |");
    }
    println!(
        "requests {} · 5xx {} (500: {}, 503: {}) · transport errors {} · 429 {}",
        statuses.total(),
        statuses.in_range(500..600),
        statuses.in_range(500..501),
        statuses.in_range(503..504),
        statuses.in_range(0..1),
        statuses.in_range(429..430)
    );
    println!("| flow | as expected | not | duration |");
    println!("|---|---|---|---|");
    for kind in [
        Kind::Ts43,
        Kind::Link,
        Kind::Desktop,
        Kind::RiskDenied,
        Kind::NotEligible,
        Kind::UnknownSession,
    ] {
        let get = |v| {
            outcomes
                .0
                .get(&(kind.name().to_owned(), v))
                .copied()
                .unwrap_or(0)
        };
        let times = durations
            .iter()
            .filter(|(k, _)| *k == kind)
            .map(|(_, d)| *d)
            .collect();
        let p = Percentiles::of(times)
            .map(|p| p.to_string())
            .unwrap_or_default();
        println!("| {} | {} | {} | {p} |", kind.name(), get(1), get(2));
    }
    if let Some(failover) = failover {
        let (witnesses, killed, at) = failover.await.map_err(|e| e.to_string())?;
        report_failover(&timeline, witnesses, killed, at).await;
    }
    println!("| t (s) | demo RSS (KiB) |");
    println!("|---|---|");
    for (t, rss) in &samples {
        println!("| {t} | {rss} |");
    }
    drop(demos);
    drop(backend);
    Ok(())
}

/// The failover's figures: statuses per second around the kill, the first second after it
/// without a failure, and the witnesses' sessions checked now.
async fn report_failover(
    timeline: &Counts,
    mut witnesses: Vec<Browser>,
    killed: Option<u16>,
    at: Duration,
) {
    let kill_second = at.as_secs();
    println!(
        "failover: master on port {} killed with SIGKILL at t = {:.1} s",
        killed.map_or("(none found)".to_owned(), |p| p.to_string()),
        at.as_secs_f64()
    );
    let mut per_second: std::collections::BTreeMap<u64, (u64, u64, u64, u64, u64)> =
        std::collections::BTreeMap::new();
    for ((second, status), count) in &timeline.0 {
        let Ok(second) = second.parse::<u64>() else {
            continue;
        };
        let row = per_second.entry(second).or_default();
        match status {
            0 => row.4 += count,
            500 => row.2 += count,
            503 => row.3 += count,
            501..=599 => row.2 += count,
            _ => row.0 += count,
        }
        if (200..300).contains(status) {
            row.1 += count;
        }
    }
    println!(
        "| t (s) | answered < 500 | of which 2xx | 500 / other 5xx | 503 | transport errors |"
    );
    println!("|---|---|---|---|---|---|");
    for (second, (ok, good, five, unavailable, errors)) in
        per_second.range(kill_second.saturating_sub(2)..=kill_second + 20)
    {
        println!("| {second} | {ok} | {good} | {five} | {unavailable} | {errors} |");
    }
    let failed_after: u64 = per_second
        .range(kill_second..)
        .map(|(_, (_, _, five, unavailable, errors))| five + unavailable + errors)
        .sum();
    // Failures are counted when their answer comes (a request stuck on the dead master answers
    // at its deadline): recovered is the second after the last one with a failure.
    let last_failure = per_second
        .range(kill_second..)
        .filter(|(_, (_, _, five, unavailable, errors))| five + unavailable + errors > 0)
        .map(|(second, _)| *second)
        .next_back();
    let recovered = Some(last_failure.map_or(kill_second, |s| s + 1));
    println!(
        "failed requests from the kill on: {failed_after}; failures ended by: {}",
        recovered.map_or("none".to_owned(), |s| format!(
            "t = {s} s ({} s after the kill)",
            s - kill_second
        ))
    );
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
    println!(
        "witness sessions verified in the 2 s before the kill: {} · still verified: {kept} · lost (401): {lost} · other answers: {other:?}",
        witnesses.len()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_stay_in_loopback_and_differ() {
        let a = source(0);
        let b = source(253);
        let c = source(254);
        assert_eq!(a, IpAddr::V4(Ipv4Addr::new(127, 1, 0, 1)));
        assert_eq!(b, IpAddr::V4(Ipv4Addr::new(127, 1, 0, 254)));
        assert_eq!(c, IpAddr::V4(Ipv4Addr::new(127, 1, 1, 1)));
        for n in [0u64, 1_000_000, 50_000_000] {
            assert!(source(n).is_loopback());
        }
    }

    #[test]
    fn the_mix_has_every_kind() {
        let kinds: std::collections::BTreeSet<_> = (0..20).map(Kind::nth).collect();
        assert_eq!(kinds.len(), 6);
    }
}
