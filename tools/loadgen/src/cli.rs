//! The command line (`loadgen --help`, `loadgen <command> --help`): subcommands, their flags,
//! defaults and bounds. Bounds of one flag are clap value parsers; the few rules between flags
//! are in [`Cli::validate`].

use std::net::IpAddr;
use std::path::PathBuf;

use clap::builder::RangedU64ValueParser;
use clap::{Args, Parser, Subcommand};

/// Longest accepted run in seconds, so that a typo cannot start an endless one.
pub const MAX_SECONDS: u64 = 600;
/// Most desktop flows waiting at once.
pub const MAX_FLOWS: u64 = 50_000;
/// Most concurrent clients of a load run.
pub const MAX_CLIENTS: u64 = 5_000;

/// Load and scale programs of glide-rs.
///
/// Every run is bounded (at most 600 s, 50,000 flows, 5,000 clients) and stops by itself; child
/// processes (sandbox, axum-demo, redis-server) are killed when the run ends. `desktop-scale` and
/// `load` talk to 127.0.0.0/8 only; `run` drives an app you already run, on loopback unless
/// `--allow-remote`. Results and how to read them: docs/scale.md.
#[derive(Debug, Parser)]
#[command(name = "loadgen", version, propagate_version = true)]
pub struct Cli {
    /// Print a machine-readable summary (JSON) on stdout instead of the markdown tables; the
    /// progress notes go to stderr.
    #[arg(long, global = true)]
    pub json: bool,
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// N desktop `process` calls waiting at once on one engine (driven through
    /// `GlideAuth::handle`): memory per waiting call and wake-up latency once the phone approves.
    DesktopScale(DesktopScaleArgs),
    /// Starts Redis, a sandbox and axum-demo, then drives the demo with mixed flows for a fixed
    /// time: statuses per route, flows as expected, flow durations, the demo's RSS.
    Load(LoadArgs),
    /// Drives an app you already run (the demo, or your own deployment of glide-rs on loopback
    /// or your staging) with the mixed flows of `load`, against the sandbox it talks to.
    ///
    /// The app must use the sandbox at --sandbox-url as its Glide (the demo does so by itself
    /// when it has no GLIDE_CLIENT_ID) and serve `GET /me` behind the layer, as the demos do.
    /// On IPv4 loopback each flow comes from its own source address (127.1.x.y), so per-IP rate
    /// limits count per browser; against any other host every flow shares this machine's
    /// address, and the app's per-IP limits answer 429 unless raised.
    Run(RunArgs),
    /// A sandbox alone, for at most 600 s (desktop-scale --split starts one as its child).
    Sandbox(SandboxArgs),
}

/// `loadgen desktop-scale`.
#[derive(Debug, Clone, Args)]
pub struct DesktopScaleArgs {
    /// Desktop flows waiting at once (1..=50000).
    #[arg(long, default_value_t = 1000, value_parser = RangedU64ValueParser::<usize>::new().range(1..=MAX_FLOWS))]
    pub flows: usize,
    /// Run the sandbox in a child process, so that the memory figure is the engine's alone.
    #[arg(long)]
    pub split: bool,
    /// Two engines sharing a Redis of the run's own: the second one's calls for the same flows
    /// wait on Redis pub/sub.
    #[arg(long)]
    pub pair: bool,
    /// Talk to the sandbox with glide-core's `Http2Client` (h2c, a waiting call is one stream).
    #[arg(long, conflicts_with = "http2_reqwest")]
    pub http2: bool,
    /// Talk to the sandbox with `ReqwestClient` over HTTP/2 (prior knowledge), for the
    /// side-by-side figure.
    #[arg(long)]
    pub http2_reqwest: bool,
    /// Phone approvals per second once every call waits.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..))]
    pub approve_rate: u32,
    /// How long the sandbox holds a desktop verify call, in seconds (1..=600).
    #[arg(long, default_value_t = 120, value_parser = seconds())]
    pub desktop_wait: u64,
}

/// How long and how many clients: shared by `load` and `run`.
#[derive(Debug, Clone, Args)]
pub struct DriveArgs {
    /// How long the clients keep starting flows, in seconds (1..=600).
    #[arg(long, default_value_t = 60, value_parser = seconds())]
    pub seconds: u64,
    /// Concurrent clients, each one flow (one fresh browser) at a time (1..=5000).
    #[arg(long, default_value_t = 200, value_parser = RangedU64ValueParser::<usize>::new().range(1..=MAX_CLIENTS))]
    pub clients: usize,
}

/// `loadgen load`.
#[derive(Debug, Clone, Args)]
pub struct LoadArgs {
    /// Duration and clients.
    #[command(flatten)]
    pub drive: DriveArgs,
    /// The axum-demo binary to start [default: axum-demo next to this binary].
    #[arg(long, value_name = "PATH")]
    pub demo_bin: Option<PathBuf>,
    /// Let the demo run its embedded sandbox (its RSS then includes the sandbox's sessions)
    /// instead of a sandbox in this process.
    #[arg(long)]
    pub embedded_sandbox: bool,
    /// A Redis Cluster of the run's own (three masters, three replicas) instead of one node;
    /// needs redis-server ≥ 7 and redis-cli.
    #[arg(long)]
    pub cluster: bool,
    /// Demo instances sharing the store (1 or 2); with 2, every browser's requests alternate
    /// between them.
    #[arg(long, default_value_t = 1, value_parser = RangedU64ValueParser::<usize>::new().range(1..=2))]
    pub instances: usize,
    /// Kill a master of the cluster with SIGKILL this many seconds in (3..seconds; needs
    /// --cluster) and report the failover.
    #[arg(long, value_name = "S", requires = "cluster", value_parser = clap::value_parser!(u64).range(3..MAX_SECONDS))]
    pub kill_master_after: Option<u64>,
}

/// `loadgen run`.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Duration and clients.
    #[command(flatten)]
    pub drive: DriveArgs,
    /// Where the app serves (its origin, the layer's routes under /api/magical-auth).
    #[arg(long, value_name = "URL", value_parser = http_url)]
    pub base_url: reqwest::Url,
    /// The sandbox the app uses as Glide: its control API stands in for the phones (TS43
    /// credentials, Link and desktop approvals).
    #[arg(long, value_name = "URL", value_parser = http_url, default_value = DEFAULT_SANDBOX_URL)]
    pub sandbox_url: reqwest::Url,
    /// Accept a base URL or sandbox URL that is not on loopback (your own staging only).
    #[arg(long)]
    pub allow_remote: bool,
    /// Exit with status 1 when more than N requests get a 5xx answer or none at all (the
    /// figures are printed either way). A run in which no flow went as expected fails too.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub max_errors: u64,
}

/// `loadgen sandbox`.
#[derive(Debug, Clone, Args)]
pub struct SandboxArgs {
    /// How long the sandbox holds a desktop verify call, in seconds (1..=600).
    #[arg(long, default_value_t = 120, value_parser = seconds())]
    pub desktop_wait: u64,
}

/// Seconds, 1..=600.
fn seconds() -> clap::builder::RangedU64ValueParser<u64> {
    clap::value_parser!(u64).range(1..=MAX_SECONDS)
}

/// The demos' embedded sandbox (`GLIDE_SANDBOX_PORT`'s default, `glide_sandbox::DEFAULT_BINARY_PORT`).
const DEFAULT_SANDBOX_URL: &str = "http://127.0.0.1:8910";

/// An `http://` or `https://` URL with a host.
fn http_url(text: &str) -> Result<reqwest::Url, String> {
    let url = reqwest::Url::parse(text).map_err(|e| format!("not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("{text}: only http:// and https:// URLs"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("{text}: no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("{text}: no query or fragment"));
    }
    Ok(url)
}

/// The host of `url` as an IP address, if it is one.
fn host_ip(url: &reqwest::Url) -> Option<IpAddr> {
    url.host_str()?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

/// Whether `url` is on this machine: a loopback address or `localhost`.
pub fn is_loopback(url: &reqwest::Url) -> bool {
    match host_ip(url) {
        Some(ip) => ip.is_loopback(),
        None => url.host_str().is_some_and(|host| {
            let host = host.to_ascii_lowercase();
            host == "localhost" || host.ends_with(".localhost")
        }),
    }
}

/// Whether `url`'s host is an IPv4 loopback address, so that a client may bind 127.1.x.y to
/// reach it.
pub fn is_ipv4_loopback(url: &reqwest::Url) -> bool {
    matches!(host_ip(url), Some(IpAddr::V4(ip)) if ip.is_loopback())
}

/// `url` as an origin-like base without the trailing slash (`http://127.0.0.1:3000`, or with
/// its path: `https://staging.example/app`).
pub fn base(url: &reqwest::Url) -> String {
    url.as_str().trim_end_matches('/').to_owned()
}

impl Cli {
    /// The rules between flags that a single value parser cannot check.
    pub fn validate(&self) -> Result<(), String> {
        match &self.command {
            Command::Load(load) => {
                if let Some(after) = load.kill_master_after {
                    if after >= load.drive.seconds {
                        return Err(format!(
                            "--kill-master-after {after} must be below --seconds {}",
                            load.drive.seconds
                        ));
                    }
                }
                if load.instances > 1 && load.embedded_sandbox {
                    return Err(
                        "--instances 2 needs one sandbox for both: drop --embedded-sandbox".into(),
                    );
                }
                Ok(())
            }
            Command::Run(run) => {
                for (flag, url) in [
                    ("--base-url", &run.base_url),
                    ("--sandbox-url", &run.sandbox_url),
                ] {
                    if !run.allow_remote && !is_loopback(url) {
                        return Err(format!(
                            "{flag} {url} is not on loopback; add --allow-remote if it is your own staging"
                        ));
                    }
                }
                Ok(())
            }
            Command::DesktopScale(_) | Command::Sandbox(_) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("loadgen").chain(args.iter().copied()))
    }

    fn refused(args: &[&str]) -> bool {
        match parse(args) {
            Err(_) => true,
            Ok(cli) => cli.validate().is_err(),
        }
    }

    #[test]
    fn the_command_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_flag_and_subcommand_is_documented() {
        let cli = Cli::command();
        for sub in cli.get_subcommands() {
            assert!(sub.get_about().is_some(), "{} has no help", sub.get_name());
            for arg in sub.get_arguments() {
                assert!(
                    arg.get_help().is_some(),
                    "{} --{} has no help",
                    sub.get_name(),
                    arg.get_id()
                );
            }
        }
    }

    #[test]
    fn defaults() {
        let Ok(Cli {
            json,
            command: Command::DesktopScale(d),
        }) = parse(&["desktop-scale"])
        else {
            panic!("desktop-scale parses");
        };
        assert!(!json);
        assert_eq!((d.flows, d.approve_rate, d.desktop_wait), (1000, 500, 120));
        assert!(!d.split && !d.pair && !d.http2 && !d.http2_reqwest);

        let Ok(Cli {
            command: Command::Load(l),
            ..
        }) = parse(&["load"])
        else {
            panic!("load parses");
        };
        assert_eq!(
            (l.drive.seconds, l.drive.clients, l.instances),
            (60, 200, 1)
        );
        assert!(l.demo_bin.is_none() && l.kill_master_after.is_none());
        assert!(!l.cluster && !l.embedded_sandbox);

        let Ok(Cli {
            command: Command::Run(r),
            ..
        }) = parse(&["run", "--base-url", "http://127.0.0.1:3000"])
        else {
            panic!("run parses");
        };
        assert_eq!((r.drive.seconds, r.drive.clients), (60, 200));
        assert_eq!(r.sandbox_url.as_str(), "http://127.0.0.1:8910/");
        assert_eq!(
            r.sandbox_url.port(),
            Some(glide_sandbox::DEFAULT_BINARY_PORT)
        );
        assert_eq!(base(&r.base_url), "http://127.0.0.1:3000");
        assert!(!r.allow_remote);

        let Ok(Cli {
            command: Command::Sandbox(s),
            ..
        }) = parse(&["sandbox"])
        else {
            panic!("sandbox parses");
        };
        assert_eq!(s.desktop_wait, 120);
    }

    #[test]
    fn the_documented_command_lines_parse() {
        for line in [
            "desktop-scale --flows 10000 --split --http2",
            "desktop-scale --flows 10000 --split --http2-reqwest",
            "desktop-scale --flows 10000 --split --pair --http2",
            "desktop-scale --flows 9500",
            "desktop-scale --flows 2000 --split --http2 --approve-rate 1000 --desktop-wait 30",
            "load --seconds 60 --clients 200",
            "load --seconds 60 --clients 200 --cluster --instances 2",
            "load --seconds 45 --clients 150 --cluster --instances 2 --kill-master-after 15",
            "load --demo-bin target/release/axum-demo --embedded-sandbox --json",
            "--json run --base-url http://127.0.0.1:3000 --seconds 5 --clients 5",
            "run --base-url http://localhost:3000/ --sandbox-url http://127.0.0.1:8911",
            "run --base-url https://staging.example --sandbox-url https://sandbox.example --allow-remote",
            "sandbox --desktop-wait 25",
        ] {
            let args: Vec<&str> = line.split(' ').collect();
            let cli = parse(&args).unwrap_or_else(|e| panic!("{line}: {e}"));
            assert_eq!(cli.validate(), Ok(()), "{line}");
        }
        let Ok(cli) = parse(&["load", "--json"]) else {
            panic!("parses")
        };
        assert!(cli.json, "--json is global");
        let Ok(cli) = parse(&["desktop-scale", "--flows=7"]) else {
            panic!("parses")
        };
        assert!(matches!(
            cli.command,
            Command::DesktopScale(DesktopScaleArgs { flows: 7, .. })
        ));
    }

    #[test]
    fn bounds_are_refused() {
        for line in [
            "",
            "nonsense",
            "desktop-scale --flows 0",
            "desktop-scale --flows 50001",
            "desktop-scale --flows many",
            "desktop-scale --desktop-wait 0",
            "desktop-scale --desktop-wait 601",
            "desktop-scale --approve-rate 0",
            "desktop-scale --http2 --http2-reqwest",
            "desktop-scale --unknown",
            "load --seconds 0",
            "load --seconds 601",
            "load --clients 0",
            "load --clients 5001",
            "load --instances 3",
            "load --instances 0",
            "load --kill-master-after 15",
            "load --cluster --kill-master-after 2",
            "load --cluster --seconds 10 --kill-master-after 10",
            "load --instances 2 --embedded-sandbox",
            "run",
            "run --base-url 127.0.0.1:3000",
            "run --base-url ftp://127.0.0.1:3000",
            "run --base-url http://127.0.0.1:3000/?a=b",
            "run --base-url http://example.com",
            "run --base-url http://10.0.0.1:3000",
            "run --base-url http://127.0.0.1:3000 --sandbox-url http://sandbox.example",
            "run --base-url http://127.0.0.1:3000 --seconds 601",
            "run --base-url http://127.0.0.1:3000 --clients 5001",
            "sandbox --desktop-wait 601",
        ] {
            let args: Vec<&str> = line.split(' ').filter(|a| !a.is_empty()).collect();
            assert!(refused(&args), "accepted: {line:?}");
        }
        for (args, max) in [
            (vec!["desktop-scale", "--flows", "50000"], "flows"),
            (
                vec!["load", "--seconds", "600", "--clients", "5000"],
                "seconds and clients",
            ),
        ] {
            assert!(!refused(&args), "the maximum of {max} is allowed");
        }
    }

    #[test]
    fn loopback() {
        let url = |s: &str| reqwest::Url::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        for s in [
            "http://127.0.0.1:3000",
            "http://127.1.2.3",
            "http://[::1]:3000",
            "http://localhost",
            "http://app.localhost:8080",
        ] {
            assert!(is_loopback(&url(s)), "{s}");
        }
        for s in [
            "http://10.0.0.1",
            "http://example.com",
            "http://localhost.example.com",
            "http://[::2]",
        ] {
            assert!(!is_loopback(&url(s)), "{s}");
        }
        assert!(is_ipv4_loopback(&url("http://127.0.0.1:1")));
        assert!(!is_ipv4_loopback(&url("http://localhost:1")));
        assert!(!is_ipv4_loopback(&url("http://[::1]:1")));
    }
}
