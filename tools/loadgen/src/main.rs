//! `loadgen`: load and scale programs of glide-rs. Loopback only; every run is bounded in time
//! and count and stops by itself. Results: `docs/scale.md`.
//!
//! ```text
//! loadgen desktop-scale --flows N [--split] [--pair] [--http2 | --http2-reqwest] [--approve-rate R] [--desktop-wait S]
//! loadgen load [--seconds 60] [--clients 200] [--demo-bin PATH] [--embedded-sandbox]
//!              [--cluster] [--instances 1|2] [--kill-master-after S]
//! loadgen sandbox [--desktop-wait S]     (a sandbox alone; used by desktop-scale --split)
//! ```

mod args;
mod child;
mod desktop;
mod load;
mod stats;

use std::time::Duration;

use args::Args;

const USAGE: &str = "usage:
  loadgen desktop-scale --flows N [--split] [--pair] [--http2 | --http2-reqwest] [--approve-rate R] [--desktop-wait S]
  loadgen load [--seconds 60] [--clients 200] [--demo-bin PATH] [--embedded-sandbox]
               [--cluster] [--instances 1|2] [--kill-master-after S]
  loadgen sandbox [--desktop-wait S]";

/// With `--features dhat-heap`, every allocation is recorded and `dhat-heap.json` is written
/// when the run ends (its peak is the moment every call waits).
#[cfg(feature = "dhat-heap")]
#[global_allocator]
static ALLOCATOR: dhat::Alloc = dhat::Alloc;

/// Longest accepted run, so that a typo cannot start an endless one.
const MAX_SECONDS: u64 = 600;

fn main() -> std::process::ExitCode {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = raw.split_first() else {
        eprintln!("{USAGE}");
        return std::process::ExitCode::from(2);
    };
    #[cfg(feature = "dhat-heap")]
    let _profiler = dhat::Profiler::new_heap();
    let result = Args::parse(rest).and_then(|args| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        runtime.block_on(dispatch(command, &args))
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("loadgen {command}: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn bounded_secs(args: &Args, name: &str, default: u64) -> Result<Duration, String> {
    let secs = args.get(name, default)?;
    if secs == 0 || secs > MAX_SECONDS {
        return Err(format!("--{name} must be 1..={MAX_SECONDS}"));
    }
    Ok(Duration::from_secs(secs))
}

async fn dispatch(command: &str, args: &Args) -> Result<(), String> {
    match command {
        "desktop-scale" => {
            let flows: usize = args.get("flows", 1000)?;
            if flows == 0 || flows > 50_000 {
                return Err("--flows must be 1..=50000".into());
            }
            desktop::run(desktop::Options {
                flows,
                split: args.flag("split"),
                pair: args.flag("pair"),
                approve_rate: args.get("approve-rate", 500)?,
                desktop_wait: bounded_secs(args, "desktop-wait", 120)?,
                http2: if args.flag("http2") {
                    Some(desktop::Http2::Lean)
                } else if args.flag("http2-reqwest") {
                    Some(desktop::Http2::Reqwest)
                } else {
                    None
                },
            })
            .await
        }
        "load" => {
            let demo_bin = match args.text("demo-bin") {
                Some(path) => path.into(),
                None => std::env::current_exe()
                    .map_err(|e| e.to_string())?
                    .with_file_name("axum-demo"),
            };
            let clients: usize = args.get("clients", 200)?;
            if clients == 0 || clients > 5_000 {
                return Err("--clients must be 1..=5000".into());
            }
            let instances: usize = args.get("instances", 1)?;
            if !(1..=2).contains(&instances) {
                return Err("--instances must be 1 or 2".into());
            }
            let seconds = bounded_secs(args, "seconds", 60)?.as_secs();
            let kill_master_after = match args.text("kill-master-after") {
                None => None,
                Some(_) => {
                    let after: u64 = args.get("kill-master-after", 0)?;
                    if after < 3 || after >= seconds {
                        return Err("--kill-master-after must be 3..seconds".into());
                    }
                    Some(after)
                }
            };
            load::run(load::Options {
                seconds,
                clients,
                demo_bin,
                embedded_sandbox: args.flag("embedded-sandbox"),
                cluster: args.flag("cluster"),
                instances,
                kill_master_after,
            })
            .await
        }
        "sandbox" => {
            let wait = bounded_secs(args, "desktop-wait", 120)?;
            let sandbox = glide_sandbox::Sandbox::start(desktop::sandbox_config(wait))
                .await
                .map_err(|e| e.to_string())?;
            println!("sandbox on {}", sandbox.base_url());
            // Bounded: a child sandbox never outlives a run by much, even if its parent dies.
            tokio::time::sleep(Duration::from_secs(MAX_SECONDS)).await;
            drop(sandbox);
            Ok(())
        }
        _ => Err(format!("unknown command\n{USAGE}")),
    }
}
