//! `load`: a fixed number of clients mixing every flow against a running axum-demo (started here
//! with `GLIDE_REDIS_URL` and a Redis of its own) for a fixed time; statuses counted, the demo's
//! RSS sampled every 5 s.
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
}

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
    app: String,
    sandbox: String,
    counts: Counts,
}

impl Browser {
    fn new(n: u64, ua: &str, app: &str, sandbox: &str) -> Result<Self, String> {
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
            app: app.to_owned(),
            sandbox: sandbox.to_owned(),
            counts: Counts::default(),
        })
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
                self.counts.add(label, status);
                (status, body, location)
            }
            Err(_) => {
                self.counts.add(label, 0);
                (0, Value::Null, String::new())
            }
        }
    }

    async fn app_post(&mut self, route: &str, body: &Value) -> (u16, Value) {
        let request = self
            .http
            .post(format!("{}{BASE}/{route}", self.app))
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
        let request = self.http.get(format!("{}/me", self.app));
        let (me, _, _) = self.send("me", request).await;
        let (out, _) = self.app_post("logout", &json!({})).await;
        me == 200 && out == 204
    }

    /// Runs one flow of `kind`; `true` when every step answered as that flow should.
    async fn flow(&mut self, kind: Kind, n: u64) -> bool {
        let phone = nth_phone(n);
        match kind {
            Kind::Ts43 => {
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
                    && self.me_and_logout().await
            }
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
                    .http
                    .post(format!("{}{BASE}/process", self.app))
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
                self.counts.add("sandbox:desktop-approve", approved);
                let status = processed.map(|r| r.status().as_u16()).unwrap_or(0);
                self.counts.add("process", status);
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
                self.process("0123456789abcdef", "0123456789abcdef", "VerifyPhoneNumber")
                    .await
                    == 404
            }
        }
    }
}

/// Runs the load and prints its figures.
pub async fn run(options: Options) -> Result<(), String> {
    let redis = glide_tests::redis_server::RedisServer::start().ok_or("redis-server is missing")?;
    let own_sandbox = if options.embedded_sandbox {
        None
    } else {
        Some(
            glide_sandbox::Sandbox::start(crate::desktop::sandbox_config(Duration::from_secs(25)))
                .await
                .map_err(|e| e.to_string())?,
        )
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    let mut command = std::process::Command::new(&options.demo_bin);
    command
        .env("PORT", port.to_string())
        .env("GLIDE_REDIS_URL", redis.url())
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
    let demo = Running::start(command, "listening on", Duration::from_secs(30))?;
    let app = demo.url_after("listening on").ok_or("no demo URL")?;
    let sandbox_url = match &own_sandbox {
        Some(s) => s.base_url(),
        None => demo.url_after("sandbox on").ok_or("no sandbox URL")?,
    };
    let pid = demo.pid();
    println!(
        "load: {} clients for {} s against axum-demo pid {pid} at {app} (Redis store; sandbox {})",
        options.clients,
        options.seconds,
        if options.embedded_sandbox {
            "embedded in the demo"
        } else {
            "in the load generator"
        }
    );

    let deadline = Instant::now() + Duration::from_secs(options.seconds);
    let next = Arc::new(AtomicU64::new(0));
    let totals = Arc::new(Mutex::new((Counts::default(), Counts::default())));
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
    let clients: Vec<_> = (0..options.clients)
        .map(|_| {
            let (next, totals, durations) = (next.clone(), totals.clone(), durations.clone());
            let (app, sandbox) = (app.clone(), sandbox_url.clone());
            tokio::spawn(async move {
                let mut local = (Counts::default(), Counts::default());
                let mut times = Vec::new();
                while Instant::now() < deadline {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    let kind = Kind::nth(n);
                    let ua = match kind {
                        Kind::Link => IPHONE_UA,
                        Kind::Desktop => DESKTOP_UA,
                        _ => ANDROID_UA,
                    };
                    let Ok(mut browser) = Browser::new(n, ua, &app, &sandbox) else {
                        local.1.add(kind.name(), 0);
                        continue;
                    };
                    let started = Instant::now();
                    let ok = browser.flow(kind, n).await;
                    times.push((kind, started.elapsed()));
                    local.0.merge(&browser.counts);
                    local.1.add(kind.name(), if ok { 1 } else { 2 });
                }
                let mut t = totals.lock().unwrap_or_else(|e| e.into_inner());
                t.0.merge(&local.0);
                t.1.merge(&local.1);
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
    let (statuses, outcomes) = totals.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let durations = std::mem::take(&mut *durations.lock().unwrap_or_else(|e| e.into_inner()));

    println!("| route | status | count |");
    println!("|---|---|---|");
    for ((label, status), count) in &statuses.0 {
        println!("| {label} | {status} | {count} |");
    }
    println!(
        "requests {} · 5xx {} · transport errors {} · 429 {}",
        statuses.total(),
        statuses.in_range(500..600),
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
    println!("| t (s) | demo RSS (KiB) |");
    println!("|---|---|");
    for (t, rss) in &samples {
        println!("| {t} | {rss} |");
    }
    drop(demo);
    drop(redis);
    Ok(())
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
