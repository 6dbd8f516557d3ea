//! `run`: the mixed flows of `load` against an app the user already runs (the demo, or their
//! own deployment of glide-rs on loopback or their staging), with the sandbox it uses as Glide
//! playing the phones. Nothing is started or killed here.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::cli::{self, RunArgs};
use crate::flows::{self, DriveSummary, Target};
use crate::progress::Notes;

/// The figures of a `run`, for the tables and for `--json`.
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    /// `"run"`.
    pub command: &'static str,
    /// How long the clients started flows.
    pub seconds: u64,
    /// Concurrent clients.
    pub clients: usize,
    /// The app driven.
    pub base_url: String,
    /// The sandbox that played the phones.
    pub sandbox_url: String,
    /// Whether each flow came from its own 127.1.x.y address (both URLs on IPv4 loopback).
    pub per_flow_source_address: bool,
    /// The mixed flows' figures.
    #[serde(flatten)]
    pub drive: DriveSummary,
}

/// Answers `GET url` with 200, or says what went wrong.
async fn reachable(http: &reqwest::Client, what: &str, url: &str) -> Result<(), String> {
    match http.get(url).send().await {
        Ok(response) if response.status().is_success() => Ok(()),
        Ok(response) => Err(format!(
            "{what}: GET {url} answered {} (is this the right URL?)",
            response.status()
        )),
        Err(e) => Err(format!("{what}: GET {url} failed: {e} (is it running?)")),
    }
}

/// Checks that the app and the sandbox answer, drives the app and prints the figures.
pub async fn run(options: RunArgs, notes: Notes) -> Result<(), String> {
    let (seconds, clients) = (options.drive.seconds, options.drive.clients);
    let base_url = cli::base(&options.base_url);
    let sandbox_url = cli::base(&options.sandbox_url);
    let bind_sources =
        cli::is_ipv4_loopback(&options.base_url) && cli::is_ipv4_loopback(&options.sandbox_url);

    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| e.to_string())?;
    reachable(
        &http,
        "the app (--base-url)",
        &format!("{base_url}/api/magical-auth/glide.js"),
    )
    .await?;
    reachable(
        &http,
        "the sandbox (--sandbox-url)",
        &format!("{sandbox_url}/sandbox/wallet.js"),
    )
    .await?;
    notes.line(&format!(
        "run: {clients} clients for {seconds} s against {base_url} (sandbox {sandbox_url}; {})",
        if bind_sources {
            "each flow from its own 127.1.x.y address"
        } else {
            "every flow from this machine's address"
        }
    ));

    let target = Arc::new(Target::new(
        vec![base_url.clone()],
        sandbox_url.clone(),
        bind_sources,
    )?);
    let outcome = flows::drive(&target, seconds, clients, Instant::now()).await?;
    let summary = RunSummary {
        command: "run",
        seconds,
        clients,
        base_url,
        sandbox_url,
        per_flow_source_address: bind_sources,
        drive: DriveSummary::of(&outcome),
    };
    if notes.json {
        let text = serde_json::to_string_pretty(&summary).map_err(|e| e.to_string())?;
        println!("{text}");
    } else {
        summary.drive.print_markdown();
    }
    verdict(&summary.drive, options.max_errors)
}

/// Whether a run passed: at most `max_errors` requests answered 5xx or not at all, and at least
/// one flow went as expected (a run that verified nothing did not test the deployment).
fn verdict(drive: &DriveSummary, max_errors: u64) -> Result<(), String> {
    let errors = drive.status_5xx + drive.transport_errors;
    if errors > max_errors {
        return Err(format!(
            "{errors} requests got a 5xx answer or none ({} 5xx, {} transport errors), more than --max-errors {max_errors}",
            drive.status_5xx, drive.transport_errors
        ));
    }
    if drive.flows.iter().all(|f| f.as_expected == 0) {
        return Err(format!(
            "no flow went as expected in {} requests (is --sandbox-url the sandbox the app uses?)",
            drive.requests
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flows::FlowSummary;

    /// A run's figures: `status_5xx` 5xx answers, `transport` unanswered requests, and
    /// `as_expected` TS43 flows that went as expected.
    fn drive(status_5xx: u64, transport: u64, as_expected: u64) -> DriveSummary {
        DriveSummary {
            requests: 100,
            status_5xx,
            status_500: status_5xx,
            status_503: 0,
            status_429: 0,
            transport_errors: transport,
            routes: Vec::new(),
            flows: vec![FlowSummary {
                flow: "ts43",
                as_expected,
                not_as_expected: 0,
                duration: None,
            }],
        }
    }

    /// `--max-errors N` lets exactly N failed requests through, 5xx and transport errors
    /// counted together.
    #[test]
    fn verdict_counts_5xx_and_transport_errors_against_max_errors() {
        assert_eq!(verdict(&drive(0, 0, 3), 0), Ok(()));
        assert_eq!(verdict(&drive(2, 1, 3), 3), Ok(()));
        let failed = verdict(&drive(2, 1, 3), 2).expect_err("3 errors > 2");
        assert!(failed.contains("3 requests"), "{failed}");
        assert!(failed.contains("--max-errors 2"), "{failed}");
        assert!(
            verdict(&drive(0, 1, 3), 0).is_err(),
            "a transport error counts"
        );
        assert!(verdict(&drive(1, 0, 3), 0).is_err(), "a 5xx counts");
    }

    /// A run that verified nothing fails, whatever the threshold.
    #[test]
    fn verdict_fails_a_run_in_which_no_flow_went_as_expected() {
        let failed = verdict(&drive(0, 0, 0), 1000).expect_err("nothing verified");
        assert!(failed.contains("no flow went as expected"), "{failed}");
    }

    /// `run --json`: the run's own fields, then the mixed flows' flattened in.
    #[test]
    fn summary_json_shape() {
        let outcome = flows::Outcome::new().expect("outcome");
        let summary = RunSummary {
            command: "run",
            seconds: 5,
            clients: 5,
            base_url: "http://127.0.0.1:3000".into(),
            sandbox_url: "http://127.0.0.1:8910".into(),
            per_flow_source_address: true,
            drive: DriveSummary::of(&outcome),
        };
        let value = serde_json::to_value(&summary).expect("serializes");
        let keys: Vec<&str> = value
            .as_object()
            .expect("an object")
            .keys()
            .map(String::as_str)
            .collect();
        let mut want = vec![
            "command",
            "seconds",
            "clients",
            "base_url",
            "sandbox_url",
            "per_flow_source_address",
            "requests",
            "status_5xx",
            "status_500",
            "status_503",
            "status_429",
            "transport_errors",
            "routes",
            "flows",
        ];
        let mut got = keys.clone();
        got.sort_unstable();
        want.sort_unstable();
        assert_eq!(got, want);
        assert_eq!(value["command"], "run");
        assert_eq!(value["requests"], 0);
        assert_eq!(value["flows"].as_array().map(Vec::len), Some(6));
    }
}
