//! The mixed flows of `load` and `run`: a fixed number of clients, each one fresh browser at a
//! time, start flows of every kind against an app's instances for a fixed time; statuses per
//! route, flows as expected and flow durations are counted.
//!
//! Mix (per 20 flows): 8 TS43, 4 Link, 3 desktop, 2 risk denial, 1 carrier not eligible, 2
//! process on an unknown session. The sandbox's control API plays the phones.
//!
//! Each flow is one fresh "browser": its own cookie jar and, on IPv4 loopback, its own source
//! address (127.1.0.1, 127.1.0.2, …), so the app's per-IP limits (the demo's defaults: prepare
//! 30/min, checks 60/min) apply per browser as in production rather than throttling one
//! load-generator address.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{json, Value};

use crate::stats::{Counts, Latencies, Percentiles};

/// What the browsers talk to, and the counters the progress bar reads.
#[derive(Debug)]
pub struct Target {
    /// The app's instances (`http://127.0.0.1:3000`, no trailing slash); a browser's requests
    /// reach them in turn.
    pub apps: Vec<String>,
    /// The `Host` every request carries (the first instance's).
    pub host: String,
    /// The `Origin` every request carries (the first instance's scheme, host and port).
    pub origin: String,
    /// The sandbox (no trailing slash).
    pub sandbox: String,
    /// Give each browser its own 127.1.x.y source address (every host on IPv4 loopback).
    pub bind_sources: bool,
    /// Live counters.
    pub live: Live,
}

/// Counters read while the run goes on.
#[derive(Debug, Default)]
pub struct Live {
    /// Flows finished.
    pub flows: AtomicU64,
    /// Requests answered or failed.
    pub requests: AtomicU64,
    /// 5xx answers and transport errors.
    pub failed: AtomicU64,
}

impl Target {
    /// The target of `apps` (base URLs without the trailing slash; the first one is the origin)
    /// and `sandbox`.
    pub fn new(apps: Vec<String>, sandbox: String, bind_sources: bool) -> Result<Self, String> {
        let first = apps.first().ok_or("no instance")?;
        let url = reqwest::Url::parse(first).map_err(|e| format!("{first}: {e}"))?;
        let host = match (url.host_str(), url.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_owned(),
            (None, _) => return Err(format!("{first}: no host")),
        };
        let origin = format!("{}://{host}", url.scheme());
        Ok(Self {
            apps,
            host,
            origin,
            sandbox,
            bind_sources,
            live: Live::default(),
        })
    }
}

/// An Android Chrome: the sandbox picks TS43.
pub const ANDROID_UA: &str = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36";
/// An iPhone's Safari: the sandbox picks Link.
const IPHONE_UA: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";
/// A desktop browser: the sandbox picks desktop (QR code).
const DESKTOP_UA: &str = crate::desktop::DESKTOP_UA;
/// Where the layer mounts its routes.
const BASE: &str = "/api/magical-auth";

/// The kinds of flow in the mix, by weight out of 20.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// prepare → `/sandbox/ts43/credential` → process → `/me` → logout.
    Ts43,
    /// prepare → carrier page approves → complete → process → `/me` → logout.
    Link,
    /// prepare; process and, 100 ms later, the phone's approval; `/me` → logout.
    Desktop,
    /// GetPhoneNumber answered with the SIM-swapped fixture: 403.
    RiskDenied,
    /// The not-eligible fixture number: 422 (429 after its per-phone limit).
    NotEligible,
    /// process without the flow's binding cookie: 403.
    UnknownSession,
}

impl Kind {
    /// The kind of the `n`-th flow.
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

    /// Its name in the tables.
    pub fn name(self) -> &'static str {
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
pub fn source(n: u64) -> IpAddr {
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
pub struct Browser {
    http: reqwest::Client,
    /// The app's instances (its requests reach them in turn), the sandbox and the live counters.
    target: Arc<Target>,
    turn: usize,
    counts: Counts,
    /// Statuses by second of the run (`"0042"`).
    timeline: Counts,
    started: Instant,
}

impl Browser {
    /// The `n`-th browser, with user agent `ua`; on IPv4 loopback from its own source address.
    pub fn new(n: u64, ua: &str, target: &Arc<Target>, started: Instant) -> Result<Self, String> {
        let mut http = reqwest::Client::builder();
        if target.bind_sources {
            http = http.local_address(source(n));
        }
        let http = http
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(ua)
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self {
            http,
            target: target.clone(),
            turn: n as usize,
            counts: Counts::default(),
            timeline: Counts::default(),
            started,
        })
    }

    /// A request to the next instance, as the app's origin.
    fn app_request(&mut self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let apps = &self.target.apps;
        let app = &apps[self.turn % apps.len()];
        self.turn += 1;
        self.http
            .request(method, format!("{app}{path}"))
            .header("host", &self.target.host)
    }

    fn record(&mut self, label: &str, status: u16) {
        self.counts.add(label, status);
        self.target.live.requests.fetch_add(1, Ordering::Relaxed);
        if status == 0 || status >= 500 {
            self.target.live.failed.fetch_add(1, Ordering::Relaxed);
        }
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
            .header("origin", &self.target.origin)
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
        let mut body = json!({"session_key": key, "origin": self.target.origin});
        if let Some(phone) = phone {
            body["phone_number"] = json!(phone);
        }
        let request = self
            .http
            .post(format!("{}/sandbox/ts43/credential", self.target.sandbox))
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
    pub async fn me(&mut self) -> (u16, Value) {
        let request = self.app_request(reqwest::Method::GET, "/me");
        let (status, body, _) = self.send("me", request).await;
        (status, body)
    }

    /// A TS43 verification that keeps its session (a witness of the failover).
    pub async fn verify_and_keep(&mut self, n: u64) -> bool {
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
                    self.target.sandbox
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
                let approve = self.http.post(format!(
                    "{}/sandbox/desktop/{key}/approve",
                    self.target.sandbox
                ));
                let body = json!({
                    "session": {"session_key": key},
                    "credential": key,
                    "use_case": "VerifyPhoneNumber",
                });
                let process = self
                    .app_request(reqwest::Method::POST, &format!("{BASE}/process"))
                    .header("origin", &self.target.origin)
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

/// Every kind, in the order of the tables.
const KINDS: [Kind; 6] = [
    Kind::Ts43,
    Kind::Link,
    Kind::Desktop,
    Kind::RiskDenied,
    Kind::NotEligible,
    Kind::UnknownSession,
];

/// What the clients counted.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// `(route, status)` counts; status 0 is a transport error.
    pub statuses: Counts,
    /// `(flow kind, 1)` as expected, `(flow kind, 2)` not.
    pub outcomes: Counts,
    /// `(second of the run as "0042", status)` counts.
    pub timeline: Counts,
    /// Flow durations by kind, in the order of [`KINDS`].
    pub durations: Vec<(Kind, Latencies)>,
}

impl Outcome {
    /// Nothing counted yet.
    pub fn new() -> Result<Self, String> {
        Ok(Self {
            statuses: Counts::default(),
            outcomes: Counts::default(),
            timeline: Counts::default(),
            durations: KINDS
                .iter()
                .map(|kind| Latencies::new().map(|l| (*kind, l)))
                .collect::<Result<_, _>>()?,
        })
    }

    /// Adds everything `other` counted.
    pub fn merge(&mut self, other: &Outcome) -> Result<(), String> {
        self.statuses.merge(&other.statuses);
        self.outcomes.merge(&other.outcomes);
        self.timeline.merge(&other.timeline);
        for ((_, mine), (_, theirs)) in self.durations.iter_mut().zip(&other.durations) {
            mine.merge(theirs)?;
        }
        Ok(())
    }

    fn record(&mut self, kind: Kind, ok: bool, took: Option<Duration>) {
        self.outcomes.add(kind.name(), if ok { 1 } else { 2 });
        if let (Some(took), Some((_, l))) =
            (took, self.durations.iter_mut().find(|(k, _)| *k == kind))
        {
            l.record(took);
        }
    }
}

/// Runs `clients` clients against `target` from `started` for `seconds`: each starts one flow
/// after another until the time is up, then finishes the one in progress.
pub async fn drive(
    target: &Arc<Target>,
    seconds: u64,
    clients: usize,
    started: Instant,
) -> Result<Outcome, String> {
    let deadline = started + Duration::from_secs(seconds);
    let next = Arc::new(AtomicU64::new(0));
    let totals = Arc::new(Mutex::new(Outcome::new()?));
    let bar = crate::progress::bar(seconds, "load (s)");
    let ticker = {
        let (bar, target) = (bar.clone(), target.clone());
        tokio::spawn(async move {
            loop {
                let elapsed = started.elapsed().as_secs().min(seconds);
                bar.set_position(elapsed);
                let live = &target.live;
                bar.set_message(format!(
                    "{} flows · {} requests · {} 5xx or transport errors{}",
                    live.flows.load(Ordering::Relaxed),
                    live.requests.load(Ordering::Relaxed),
                    live.failed.load(Ordering::Relaxed),
                    if Instant::now() >= deadline {
                        " · finishing the flows in progress"
                    } else {
                        ""
                    }
                ));
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        })
    };
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (next, totals, target) = (next.clone(), totals.clone(), target.clone());
            tokio::spawn(async move {
                let mut local = Outcome::new()?;
                while Instant::now() < deadline {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    let kind = Kind::nth(n);
                    let ua = match kind {
                        Kind::Link => IPHONE_UA,
                        Kind::Desktop => DESKTOP_UA,
                        _ => ANDROID_UA,
                    };
                    let Ok(mut browser) = Browser::new(n, ua, &target, started) else {
                        local.record(kind, false, None);
                        continue;
                    };
                    let flow_started = Instant::now();
                    let ok = browser.flow(kind, n).await;
                    local.record(kind, ok, Some(flow_started.elapsed()));
                    local.statuses.merge(&browser.counts);
                    local.timeline.merge(&browser.timeline);
                    target.live.flows.fetch_add(1, Ordering::Relaxed);
                }
                totals
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .merge(&local)
            })
        })
        .collect();
    let mut result = Ok(());
    for task in tasks {
        let joined = task.await.map_err(|e| e.to_string()).and_then(|r| r);
        if result.is_ok() {
            result = joined;
        }
    }
    ticker.abort();
    bar.finish_and_clear();
    result?;
    let outcome = totals.lock().unwrap_or_else(|e| e.into_inner()).clone();
    Ok(outcome)
}

/// One `(route, status)` count of a summary.
#[derive(Debug, Clone, Serialize)]
pub struct RouteCount {
    /// The route (`prepare`, `me`, `sandbox:credential`, …).
    pub route: String,
    /// The HTTP status; 0 is a transport error.
    pub status: u16,
    /// How many.
    pub count: u64,
}

/// One kind of flow in a summary.
#[derive(Debug, Clone, Serialize)]
pub struct FlowSummary {
    /// The kind (`ts43`, `link`, …).
    pub flow: &'static str,
    /// Flows in which every step answered as that flow should.
    pub as_expected: u64,
    /// The others.
    pub not_as_expected: u64,
    /// Whole-flow durations (`null` when none ran).
    pub duration: Option<Percentiles>,
}

/// The figures of a run of the mixed flows, for the tables and for `--json`.
#[derive(Debug, Clone, Serialize)]
pub struct DriveSummary {
    /// Every request.
    pub requests: u64,
    /// Answers 500..=599.
    pub status_5xx: u64,
    /// Answers 500.
    pub status_500: u64,
    /// Answers 503.
    pub status_503: u64,
    /// Answers 429.
    pub status_429: u64,
    /// Requests that got no answer.
    pub transport_errors: u64,
    /// Counts by route and status.
    pub routes: Vec<RouteCount>,
    /// Flows by kind.
    pub flows: Vec<FlowSummary>,
}

impl DriveSummary {
    /// The summary of `outcome`.
    pub fn of(outcome: &Outcome) -> Self {
        let s = &outcome.statuses;
        let get = |kind: Kind, v| {
            outcome
                .outcomes
                .0
                .get(&(kind.name().to_owned(), v))
                .copied()
                .unwrap_or(0)
        };
        Self {
            requests: s.total(),
            status_5xx: s.in_range(500..600),
            status_500: s.in_range(500..501),
            status_503: s.in_range(503..504),
            status_429: s.in_range(429..430),
            transport_errors: s.in_range(0..1),
            routes: s
                .0
                .iter()
                .map(|((route, status), count)| RouteCount {
                    route: route.clone(),
                    status: *status,
                    count: *count,
                })
                .collect(),
            flows: outcome
                .durations
                .iter()
                .map(|(kind, latencies)| FlowSummary {
                    flow: kind.name(),
                    as_expected: get(*kind, 1),
                    not_as_expected: get(*kind, 2),
                    duration: Percentiles::of(latencies),
                })
                .collect(),
        }
    }

    /// The markdown tables (as in docs/scale.md).
    pub fn print_markdown(&self) {
        println!("| route | status | count |");
        println!("|---|---|---|");
        for r in &self.routes {
            println!("| {} | {} | {} |", r.route, r.status, r.count);
        }
        println!(
            "requests {} · 5xx {} (500: {}, 503: {}) · transport errors {} · 429 {}",
            self.requests,
            self.status_5xx,
            self.status_500,
            self.status_503,
            self.transport_errors,
            self.status_429
        );
        println!("| flow | as expected | not | duration |");
        println!("|---|---|---|---|");
        for f in &self.flows {
            let p = f.duration.map(|p| p.to_string()).unwrap_or_default();
            println!(
                "| {} | {} | {} | {p} |",
                f.flow, f.as_expected, f.not_as_expected
            );
        }
    }
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
        assert_eq!(kinds.len(), KINDS.len());
    }

    #[test]
    fn target_host_and_origin() {
        let t = Target::new(
            vec!["https://staging.example:8443/app".into()],
            "http://127.0.0.1:8910".into(),
            false,
        )
        .expect("target");
        assert_eq!(t.host, "staging.example:8443");
        assert_eq!(t.origin, "https://staging.example:8443");
        let t =
            Target::new(vec!["http://127.0.0.1:3000".into()], String::new(), true).expect("target");
        assert_eq!(
            (t.host.as_str(), t.origin.as_str()),
            ("127.0.0.1:3000", "http://127.0.0.1:3000")
        );
        assert!(Target::new(Vec::new(), String::new(), true).is_err());
    }

    /// The JSON shape `--json` prints for the mixed flows: the field names are an interface.
    #[test]
    fn summary_json_shape() {
        let mut outcome = Outcome::new().expect("outcome");
        outcome.statuses.add("prepare", 200);
        outcome.statuses.add("prepare", 200);
        outcome.statuses.add("process", 503);
        outcome.statuses.add("me", 0);
        outcome.record(Kind::Ts43, true, Some(Duration::from_millis(12)));
        outcome.record(Kind::Link, false, Some(Duration::from_millis(30)));
        let value = serde_json::to_value(DriveSummary::of(&outcome)).expect("serializes");
        assert_eq!(value["requests"], 4);
        assert_eq!(value["status_5xx"], 1);
        assert_eq!(value["status_503"], 1);
        assert_eq!(value["status_500"], 0);
        assert_eq!(value["status_429"], 0);
        assert_eq!(value["transport_errors"], 1);
        assert_eq!(
            value["routes"][0],
            json!({"route": "me", "status": 0, "count": 1})
        );
        assert_eq!(value["routes"].as_array().map(Vec::len), Some(3));
        let flows = value["flows"].as_array().expect("flows");
        let names: Vec<_> = flows.iter().map(|f| f["flow"].clone()).collect();
        assert_eq!(
            names,
            [
                "ts43",
                "link",
                "desktop",
                "risk-denied",
                "not-eligible",
                "unknown-session"
            ]
        );
        assert_eq!(flows[0]["as_expected"], 1);
        assert_eq!(flows[0]["not_as_expected"], 0);
        assert_eq!(flows[1]["not_as_expected"], 1);
        let d = &flows[0]["duration"];
        assert_eq!(d["count"], 1);
        let p50 = d["p50_ms"].as_f64().expect("p50_ms");
        assert!((p50 - 12.0).abs() < 0.02, "{d}");
        assert!(d["p99_ms"].is_f64() && d["max_ms"].is_f64());
        assert!(flows[2]["duration"].is_null());
    }
}
