//! The route list in docs/ARCHITECTURE.md is the engine's route table: every route of the table
//! has its line there, and the page lists no route the table does not have.

use std::time::Duration;

use glide_core::endpoint::{ChainStep, GlideAuth, VerificationChain};
use glide_sandbox::{Sandbox, SandboxConfig};
use glide_tests::harness::sandbox_client;

#[tokio::test]
async fn the_architecture_page_lists_exactly_the_route_table() {
    let page = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/ARCHITECTURE.md"
    ))
    .expect("docs/ARCHITECTURE.md");
    let sandbox = Sandbox::start(SandboxConfig::default().with_port(0))
        .await
        .expect("sandbox");
    let auth = GlideAuth::builder(sandbox_client(&sandbox))
        .number_verify_callback_url(
            "https://app.example.com/api/magical-auth/number-verify/callback",
        )
        .verification_chain(
            VerificationChain::new().step(ChainStep::MagicalAuth, Duration::from_secs(60)),
        )
        .openapi(true)
        .build()
        .expect("engine");
    let base = &auth.routes().base_path;
    let completion = &auth.routes().completion_path;
    let documented: Vec<String> = page
        .lines()
        .filter_map(|line| {
            let cell = line.strip_prefix("| `")?.split('`').next()?;
            let (method, path) = cell.split_once(' ')?;
            matches!(method, "GET" | "POST").then(|| {
                format!(
                    "{method} {}",
                    path.replace("{base}", base)
                        .replace("{completion_path}", completion)
                )
            })
        })
        .collect();
    let table: Vec<String> = auth
        .route_table()
        .iter()
        .map(|m| format!("{} {}", m.method, m.template()))
        .collect();
    for route in &table {
        assert!(documented.contains(route), "not on the page: {route}");
    }
    for line in &documented {
        assert!(
            table.contains(line),
            "on the page but not in the table: {line}"
        );
    }
}
