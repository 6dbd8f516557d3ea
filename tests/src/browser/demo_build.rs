//! Building the demo binaries: [`demo_binary`] runs `cargo build` for them once per test
//! process, into the running test's target directory and profile.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Instant;

use super::demo_process::Demo;

/// The path of a demo binary, built for this test run.
///
/// The first call in a test process runs `cargo build --workspace --all-features --bin
/// axum-demo --bin actix-demo` with the cargo that runs the tests (`$CARGO`), into the target
/// directory and profile of the running test executable (`<target>/<profile>/deps/<test>` → `CARGO_TARGET_DIR=<target>`,
/// `--profile <profile>`), so the build reuses the test build's artifacts and the binary is
/// never stale. Later calls reuse the result.
///
/// # Panics
///
/// When the build fails (with cargo's output).
pub fn demo_binary(demo: Demo) -> PathBuf {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match BUILT.get_or_init(build_demos) {
        Ok(dir) => {
            let path = dir.join(format!(
                "{}{}",
                demo.binary_name(),
                std::env::consts::EXE_SUFFIX
            ));
            assert!(path.is_file(), "{} was not built", path.display());
            path
        }
        Err(e) => panic!("{e}"),
    }
}

fn build_demos() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    // <target>/<profile>/deps/<test-executable>
    let profile_dir = exe
        .parent()
        .filter(|deps| deps.file_name().is_some_and(|n| n == "deps"))
        .and_then(Path::parent)
        .ok_or_else(|| format!("{} is not in a cargo deps directory", exe.display()))?
        .to_path_buf();
    let target_dir = profile_dir
        .parent()
        .ok_or_else(|| format!("{} has no parent", profile_dir.display()))?;
    let profile = match profile_dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("debug")
    {
        "debug" => "dev".to_owned(),
        other => other.to_owned(),
    };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into());
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let started = Instant::now();
    let output = Command::new(cargo)
        .current_dir(&workspace)
        .env("CARGO_TARGET_DIR", target_dir)
        .args(["build", "--workspace", "--all-features"])
        .args([
            "--bin",
            Demo::Axum.binary_name(),
            "--bin",
            Demo::Actix.binary_name(),
        ])
        .args(["--profile", &profile])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("run cargo build for the demos: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "cargo build of the demo binaries failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    eprintln!(
        "built the demo binaries into {} in {:.1?}",
        profile_dir.display(),
        started.elapsed()
    );
    Ok(profile_dir)
}
