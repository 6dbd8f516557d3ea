//! `glide-sandbox`: the offline Glide emulator as a standalone server.
//!
//! `glide-sandbox [--port N]` (or `GLIDE_SANDBOX_PORT`); default port 8910. Logs with
//! `RUST_LOG` (default `info`).

use glide_sandbox::{Sandbox, SandboxConfig, DEFAULT_BINARY_PORT};

fn port_from(args: &[String]) -> Result<u16, String> {
    let mut port = match std::env::var("GLIDE_SANDBOX_PORT") {
        Ok(v) => v
            .parse()
            .map_err(|_| format!("GLIDE_SANDBOX_PORT is not a port: {v}"))?,
        Err(_) => DEFAULT_BINARY_PORT,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let value = if let Some(v) = arg.strip_prefix("--port=") {
            v.to_owned()
        } else if arg == "--port" {
            it.next().cloned().ok_or("--port needs a value")?
        } else if arg == "--help" || arg == "-h" {
            return Err(
                "usage: glide-sandbox [--port N]   (env GLIDE_SANDBOX_PORT, RUST_LOG)".to_owned(),
            );
        } else {
            return Err(format!("unknown argument: {arg}"));
        };
        port = value.parse().map_err(|_| format!("not a port: {value}"))?;
    }
    Ok(port)
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let port = match port_from(&args) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return std::process::ExitCode::from(2);
        }
    };
    let config = SandboxConfig::default().with_port(port);
    let sandbox = match Sandbox::start(config).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("glide-sandbox: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    println!("sandbox on {}", sandbox.base_url());
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
    sandbox.shutdown();
    std::process::ExitCode::SUCCESS
}
