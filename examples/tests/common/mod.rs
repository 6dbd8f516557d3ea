//! Starts a demo binary as a user would, against its embedded sandbox, and reads its banner.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// A running demo; killed when dropped, however the test ends.
pub struct Demo {
    child: Child,
    /// The demo's origin, `http://127.0.0.1:{port}`.
    pub app: String,
    /// The embedded sandbox's base URL, `http://127.0.0.1:{port}`.
    pub sandbox: String,
}

impl Demo {
    /// Starts the demo binary at `path` on free ports, without Glide credentials or Redis, and
    /// waits for its banner (`sandbox on …`, then `listening on …`).
    pub fn start(path: &str) -> Self {
        let mut child = Command::new(path)
            .env("PORT", "0")
            .env("GLIDE_SANDBOX_PORT", "0")
            .env_remove("GLIDE_CLIENT_ID")
            .env_remove("GLIDE_CLIENT_SECRET")
            .env_remove("GLIDE_REDIS_URL")
            .env_remove("GLIDE_DEMO_PUBLIC_URL")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {path}: {e}"));
        let stdout = child.stdout.take().expect("stdout");
        let mut demo = Demo {
            child,
            app: String::new(),
            sandbox: String::new(),
        };
        let mut lines = BufReader::new(stdout).lines();
        let mut next = || lines.next().expect("a line").expect("utf-8 line");
        let sandbox = next();
        let listening = next();
        demo.sandbox = sandbox
            .strip_prefix("sandbox on ")
            .unwrap_or_else(|| panic!("unexpected first line {sandbox:?}"))
            .to_owned();
        demo.app = listening
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected second line {listening:?}"))
            .to_owned();
        demo
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
