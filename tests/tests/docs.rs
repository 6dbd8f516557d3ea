//! The route list in docs/ARCHITECTURE.md is the engine's route table: every route of the table
//! has its line there, and the page lists no route the table does not have. The crates' READMEs
//! (each crate's front page on docs.rs and on crates.io) link in a way both can follow.

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

/// A crate's README is its crate-level documentation (`#![doc = include_str!("../README.md")]`)
/// and its crates.io page. crates.io renders plain Markdown, so an intra-doc link
/// (`[x](crate::X)`, `[`X`]` resolved by rustdoc) shows there as a broken link or as bracketed
/// text: every link must be a URL, and every `[`X`]` needs a definition.
#[test]
fn the_crate_readmes_link_in_plain_markdown() {
    for dir in ["glide-core", "glide-axum", "glide-actix", "glide-sandbox"] {
        let path = format!("{}/../{dir}/README.md", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).expect("README.md");
        let mut definitions = std::collections::HashMap::new();
        for line in text.lines() {
            if let Some((label, target)) = line
                .strip_prefix('[')
                .and_then(|rest| rest.split_once("]: "))
            {
                assert!(
                    target.starts_with("https://") || target.starts_with("http://"),
                    "{dir}/README.md: [{label}] points to {target}, not a URL"
                );
                definitions.insert(label.to_owned(), target.to_owned());
            }
        }
        let mut rest = text.as_str();
        while let Some(start) = rest.find("](") {
            let target = rest[start + 2..].split(')').next().unwrap_or_default();
            assert!(
                target.starts_with("https://")
                    || target.starts_with("http://")
                    || target.starts_with('#'),
                "{dir}/README.md: a link to `{target}`, which crates.io cannot follow"
            );
            rest = &rest[start + 2..];
        }
        let mut rest = text.as_str();
        while let Some(start) = rest.find("[`") {
            let after = &rest[start + 1..];
            let Some(end) = after.find("`]") else { break };
            let label = &after[..end + 1];
            let next = after[end + 2..].chars().next();
            if !matches!(next, Some('(') | Some(':') | Some('[')) && !label.contains('\n') {
                assert!(
                    definitions.contains_key(label),
                    "{dir}/README.md: [{label}] has no link definition"
                );
            }
            rest = &after[end + 2..];
        }
        // `glide-core` on crates.io and docs.rs is Valkey GLIDE's core crate, not ours.
        assert!(
            !text.contains("docs.rs/glide-core") && !text.contains("crates.io/crates/glide-core"),
            "{dir}/README.md links to another project's glide-core"
        );
    }
}
