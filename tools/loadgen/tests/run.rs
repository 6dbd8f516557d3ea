//! `loadgen run` against an app that is already running: the scenario suite's world (the axum
//! adapter in front of the real engine, a real sandbox), both on 127.0.0.1. The binary is the
//! one cargo built for this package; its exit status is what a team's CI would see.

use std::process::Output;
use std::time::Duration;

use glide_tests::harness::{AxumAdapter, World};
use serde_json::Value;

/// Runs `loadgen --json run` against `w` for two seconds with four clients, plus `extra`.
async fn loadgen_run(w: &World, extra: &[&str]) -> Output {
    let sandbox_url = w.sandbox.base_url();
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_loadgen"));
    command
        .args(["--json", "run", "--seconds", "2", "--clients", "4"])
        .args(["--base-url", &w.app.base_url, "--sandbox-url", &sandbox_url])
        .args(extra)
        // Built with `--all-features`, the binary writes dhat-heap.json where it runs: not into
        // the source tree.
        .current_dir(env!("CARGO_TARGET_TMPDIR"))
        .kill_on_drop(true);
    tokio::time::timeout(Duration::from_secs(120), command.output())
        .await
        .expect("loadgen run ends by itself")
        .expect("loadgen runs")
}

/// The JSON summary `--json` printed on stdout.
fn summary(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "a JSON summary on stdout ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// Flows that went as expected, over every kind.
fn as_expected(summary: &Value) -> u64 {
    summary["flows"]
        .as_array()
        .expect("flows")
        .iter()
        .map(|f| f["as_expected"].as_u64().expect("as_expected"))
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_drives_a_running_app_and_exits_0_when_every_flow_goes_right() {
    let w = World::start(&AxumAdapter).await;
    let output = loadgen_run(&w, &[]).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "exit {:?}: {stderr}",
        output.status
    );
    let s = summary(&output);
    assert_eq!(s["command"], "run");
    assert_eq!(s["base_url"], w.app.base_url.as_str());
    assert_eq!(s["status_5xx"], 0, "{s:#}");
    assert_eq!(s["transport_errors"], 0, "{s:#}");
    assert!(as_expected(&s) > 0, "flows verified: {s:#}");
    for flow in s["flows"].as_array().expect("flows") {
        assert_eq!(flow["not_as_expected"], 0, "{flow}");
    }
    // The flows reached the app's own verified route: the middleware's session is real.
    let me_ok = s["routes"]
        .as_array()
        .expect("routes")
        .iter()
        .find(|r| r["route"] == "me" && r["status"] == 200)
        .map(|r| r["count"].as_u64().expect("count"));
    assert!(me_ok.unwrap_or(0) > 0, "GET /me answered 200: {s:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_exits_1_past_max_errors_when_the_app_answers_5xx() {
    let w = World::start(&AxumAdapter).await;
    // The app's store is down: every flow's first step answers 503.
    w.store.set_failing(true);

    let output = loadgen_run(&w, &[]).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("--max-errors 0"), "{stderr}");
    let s = summary(&output);
    let errors = s["status_5xx"].as_u64().expect("status_5xx");
    assert!(errors > 0, "the figures are printed on failure too: {s:#}");
    assert_eq!(as_expected(&s), 0, "{s:#}");

    // A threshold above the errors does not excuse a run in which nothing was verified.
    let output = loadgen_run(&w, &["--max-errors", "1000000"]).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no flow went as expected"), "{stderr}");

    // Once the store is back, the same app passes.
    w.store.set_failing(false);
    let output = loadgen_run(&w, &[]).await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
