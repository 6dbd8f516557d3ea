//! `loadgen`: load and scale programs of glide-rs. Every run is bounded in time and count and
//! stops by itself; `desktop-scale` and `load` talk to loopback only, `run` drives an app the
//! user already runs. Results: `docs/scale.md`; the command line: `loadgen --help` ([`cli`]).
//!
//! ```text
//! loadgen desktop-scale [--flows N] [--split] [--pair] [--http2 | --http2-reqwest] [--approve-rate R] [--desktop-wait S]
//! loadgen load [--seconds 60] [--clients 200] [--demo-bin PATH] [--embedded-sandbox]
//!              [--cluster] [--instances 1|2] [--kill-master-after S]
//! loadgen run --base-url URL [--sandbox-url URL] [--allow-remote] [--seconds 60] [--clients 200]
//!             [--max-errors N]       (exits 1 past N 5xx / transport errors, or if no flow went right)
//! loadgen sandbox [--desktop-wait S]     (a sandbox alone; used by desktop-scale --split)
//! ```
//!
//! `--json` (anywhere on the line) prints a JSON summary on stdout instead of the tables.

mod child;
mod cli;
mod desktop;
mod flows;
mod load;
mod progress;
mod run;
mod stats;

use std::time::Duration;

use clap::{CommandFactory, Parser};

use cli::{Cli, Command};
use progress::Notes;

/// With `--features dhat-heap`, every allocation is recorded and `dhat-heap.json` is written
/// when the run ends (its peak is the moment every call waits).
#[cfg(feature = "dhat-heap")]
#[global_allocator]
static ALLOCATOR: dhat::Alloc = dhat::Alloc;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let name = match &cli.command {
        Command::DesktopScale(_) => "desktop-scale",
        Command::Load(_) => "load",
        Command::Run(_) => "run",
        Command::Sandbox(_) => "sandbox",
    };
    if let Err(message) = cli.validate() {
        // A usage error like clap's own (exit code 2), with the subcommand's usage line.
        let mut command = Cli::command();
        command.build();
        let kind = clap::error::ErrorKind::ArgumentConflict;
        match command.find_subcommand_mut(name) {
            Some(sub) => sub.error(kind, message).exit(),
            None => command.error(kind, message).exit(),
        }
    }
    #[cfg(feature = "dhat-heap")]
    let _profiler = dhat::Profiler::new_heap();
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
        .and_then(|runtime| runtime.block_on(dispatch(cli)));
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("loadgen {name}: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Runs the subcommand.
async fn dispatch(cli: Cli) -> Result<(), String> {
    let notes = Notes { json: cli.json };
    match cli.command {
        Command::DesktopScale(args) => {
            desktop::run(
                desktop::Options {
                    flows: args.flows,
                    split: args.split,
                    pair: args.pair,
                    approve_rate: args.approve_rate,
                    desktop_wait: Duration::from_secs(args.desktop_wait),
                    http2: if args.http2 {
                        Some(desktop::Http2::Lean)
                    } else if args.http2_reqwest {
                        Some(desktop::Http2::Reqwest)
                    } else {
                        None
                    },
                },
                notes,
            )
            .await
        }
        Command::Load(args) => load::run(args, notes).await,
        Command::Run(args) => run::run(args, notes).await,
        Command::Sandbox(args) => {
            let wait = Duration::from_secs(args.desktop_wait);
            let sandbox = glide_sandbox::Sandbox::start(desktop::sandbox_config(wait))
                .await
                .map_err(|e| e.to_string())?;
            println!("sandbox on {}", sandbox.base_url());
            // Bounded: a child sandbox never outlives a run by much, even if its parent dies.
            tokio::time::sleep(Duration::from_secs(cli::MAX_SECONDS)).await;
            drop(sandbox);
            Ok(())
        }
    }
}
