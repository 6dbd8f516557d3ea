//! Complete TS43 flows against an embedded sandbox (loopback HTTP), three ways:
//!
//! * `client_direct`: the Glide client alone: prepare → wallet credential → verify-phone-number
//!   (the floor: what the flow costs without any middleware);
//! * `engine`: the same flow through the engine (`GlideAuth::handle`, as both adapters call it):
//!   prepare → credential → process, with its store, rate limits, policy and verified session;
//! * `axum_loopback`: through `GlideLayer` on a real axum server on 127.0.0.1, driven by reqwest
//!   as a browser would (two more HTTP hops per flow than `client_direct`).
//!
//! Each is measured one flow at a time (latency) and with 16 flows in flight (throughput, on the
//! machine's 2 cores shared by the sandbox, the app and the load).
//!
//! `cargo bench -p glide-tests --bench flow_throughput`

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use glide_axum::GlideLayer;
use glide_core::api::Glide;
use glide_core::endpoint::GlideAuth;
use glide_sandbox::SandboxControl;
use serde_json::{json, Value};
use tokio::runtime::Runtime;

mod common;

/// Flows in flight in the throughput runs.
const IN_FLIGHT: u64 = 16;

/// One way of running a whole flow; `n` picks the number and the client address.
#[derive(Clone)]
enum Way {
    ClientDirect(Glide),
    Engine(GlideAuth),
    AxumLoopback(reqwest::Client, String),
}

impl Way {
    async fn flow(&self, wallet: &SandboxControl, n: u64) {
        let phone = common::nth_phone(n);
        match self {
            Way::ClientDirect(glide) => common::client_flow(glide, wallet, &phone).await,
            Way::Engine(auth) => {
                let cookie = common::engine_flow(auth, wallet, &phone, common::nth_peer(n)).await;
                std::hint::black_box(cookie);
            }
            Way::AxumLoopback(http, base) => http_flow(http, base, wallet, &phone).await,
        }
    }
}

/// The flow as the browser helper runs it against the app at `base`.
async fn http_flow(http: &reqwest::Client, base: &str, wallet: &SandboxControl, phone: &str) {
    let prepared = http
        .post(format!("{base}/api/magical-auth/prepare"))
        .header("origin", base)
        .json(&json!({
            "use_case": "VerifyPhoneNumber",
            "phone_number": phone,
            "client_info": {"user_agent": common::ANDROID},
        }))
        .send()
        .await
        .expect("prepare answers")
        .error_for_status()
        .expect("prepare succeeds");
    // The flow's binding cookie, as the browser keeps it for process.
    let binding = prepared
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|c| c.split(';').next())
        .find(|pair| pair.starts_with("_glide_bind_"))
        .expect("a binding cookie")
        .to_owned();
    let prepared: Value = prepared.json().await.expect("prepare's JSON");
    let key = prepared["session"]["session_key"]
        .as_str()
        .expect("a session key");
    let credential = wallet
        .ts43_credential(key, base, None)
        .expect("the wallet's credential");
    let response = http
        .post(format!("{base}/api/magical-auth/process"))
        .header("origin", base)
        .header("cookie", binding)
        .json(&json!({
            "session": {"session_key": key},
            "credential": credential,
            "use_case": "VerifyPhoneNumber",
        }))
        .send()
        .await
        .expect("process answers");
    assert_eq!(response.status(), 200, "process");
    std::hint::black_box(response.bytes().await.expect("process's body"));
}

/// Serves `GlideLayer` around `auth` on 127.0.0.1; returns its base URL.
async fn serve_axum(auth: GlideAuth) -> String {
    async fn me(phone: glide_axum::VerifiedPhone) -> String {
        phone.phone_number.as_str().to_owned()
    }
    let app = axum::Router::new()
        .route("/me", axum::routing::get(me))
        .layer(GlideLayer::new(auth));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let addr = listener.local_addr().expect("the bound address");
    tokio::spawn(async move {
        let served = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await;
        if let Err(e) = served {
            eprintln!("axum app stopped: {e}");
        }
    });
    format!("http://{addr}")
}

/// `iters` flows, `in_flight` at a time, spread over tasks of `rt`.
async fn run_flows(
    way: &Way,
    wallet: &SandboxControl,
    next: &Arc<AtomicU64>,
    iters: u64,
    in_flight: u64,
) -> Duration {
    let start = Instant::now();
    let end = next.load(Ordering::Relaxed) + iters;
    let tasks: Vec<_> = (0..in_flight.min(iters))
        .map(|_| {
            let (way, wallet, next) = (way.clone(), wallet.clone(), Arc::clone(next));
            tokio::spawn(async move {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= end {
                        break;
                    }
                    way.flow(&wallet, n).await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("a flow task");
    }
    start.elapsed()
}

fn bench(c: &mut Criterion) {
    let rt: Runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let sandbox = rt.block_on(common::sandbox());
    let wallet = sandbox.control();
    let base = sandbox.base_url();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("a reqwest client");
    let app = rt.block_on(serve_axum(common::engine(&base, None)));
    let ways = [
        ("client_direct", Way::ClientDirect(common::client(&base))),
        ("engine", Way::Engine(common::engine(&base, None))),
        ("axum_loopback", Way::AxumLoopback(http, app)),
    ];
    let next = Arc::new(AtomicU64::new(0));

    // Each way once before timing: a broken flow fails here, not inside the measurement.
    // It also shows which Glide calls each way makes per flow (the sandbox logs them).
    for (name, way) in &ways {
        rt.block_on(run_flows(way, &wallet, &next, 2, 1));
        wallet.clear_requests();
        rt.block_on(run_flows(way, &wallet, &next, 1, 1));
        let calls: Vec<String> = wallet
            .requests()
            .iter()
            .map(|r| format!("{} {}", r.method, r.path))
            .collect();
        eprintln!("note: {name}: Glide calls per flow: {calls:?}");
    }
    // And what one flow asks of the store (an engine of its own, not measured).
    let counting = Arc::new(common::CountingStore::default());
    let counted = Way::Engine(common::engine(&base, Some(counting.clone())));
    rt.block_on(run_flows(&counted, &wallet, &next, 1, 1));
    eprintln!(
        "note: engine: store operations per flow: {:?}",
        counting.take_counts()
    );

    for (group_name, in_flight) in [
        ("ts43_flow_sequential", 1),
        ("ts43_flow_16_in_flight", IN_FLIGHT),
    ] {
        let mut group = c.benchmark_group(group_name);
        group.throughput(Throughput::Elements(1));
        for (name, way) in &ways {
            group.bench_function(*name, |b| {
                b.to_async(&rt)
                    .iter_custom(|iters| run_flows(way, &wallet, &next, iters, in_flight));
            });
        }
        group.finish();
    }
    drop(rt);
    drop(sandbox);
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = bench
}
criterion_main!(benches);
