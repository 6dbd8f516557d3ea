//! The demo apps as child processes: [`DemoApp`] starts `axum-demo` / `actix-demo` on free
//! ports, reads their addresses from their output, keeps their last lines, and kills them on drop.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::demo_build::demo_binary;
use super::{trace, START_TIMEOUT};

/// Which demo app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Demo {
    /// `axum-demo`.
    Axum,
    /// `actix-demo`.
    Actix,
}

impl Demo {
    /// The binary's name: `axum-demo` or `actix-demo`.
    pub fn binary_name(self) -> &'static str {
        match self {
            Demo::Axum => "axum-demo",
            Demo::Actix => "actix-demo",
        }
    }

    /// A short name for file names: `axum` or `actix`.
    pub fn name(self) -> &'static str {
        match self {
            Demo::Axum => "axum",
            Demo::Actix => "actix",
        }
    }
}

/// A demo app running as a child process on free ports of 127.0.0.1, with its embedded sandbox
/// (no `GLIDE_CLIENT_ID`, `GLIDE_CLIENT_SECRET`, `GLIDE_API_BASE_URL` or `GLIDE_REDIS_URL` from
/// the environment reach it). Killed when dropped; when dropped during a panic, its last output
/// lines are printed to stderr.
#[derive(Debug)]
pub struct DemoApp {
    demo: Demo,
    child: Child,
    base_url: String,
    sandbox_url: String,
    log: Arc<Mutex<VecDeque<String>>>,
}

/// How many output lines of a demo are kept for failure messages.
const LOG_LINES: usize = 200;

impl DemoApp {
    /// Builds the demo binaries (once per test process), starts `demo` and waits for its
    /// `listening on …` and `sandbox on …` lines.
    ///
    /// # Panics
    ///
    /// When the build fails or the demo does not start within a minute.
    pub fn start(demo: Demo) -> Self {
        Self::start_with_env(demo, &[])
    }

    /// [`start`](Self::start) with more environment variables for the demo (e.g.
    /// `GLIDE_CORS_ORIGINS`).
    ///
    /// # Panics
    ///
    /// As [`start`](Self::start).
    pub fn start_with_env(demo: Demo, env: &[(&str, &str)]) -> Self {
        Self::spawn(demo, env, true)
    }

    /// Starts `demo` against the Glide (or sandbox) at `glide_base_url` with the sandbox's
    /// default credentials, with `env` on top (e.g. `GLIDE_REDIS_URL`): no embedded sandbox, so
    /// [`sandbox_url`](Self::sandbox_url) is empty. Several such demos sharing one Glide and one
    /// Redis are instances of one app.
    ///
    /// # Panics
    ///
    /// As [`start`](Self::start).
    pub fn start_against(demo: Demo, glide_base_url: &str, env: &[(&str, &str)]) -> Self {
        let mut all = vec![
            ("GLIDE_CLIENT_ID", "sandbox-client"),
            ("GLIDE_CLIENT_SECRET", "sandbox-secret"),
            ("GLIDE_API_BASE_URL", glide_base_url),
        ];
        all.extend_from_slice(env);
        Self::spawn(demo, &all, false)
    }

    /// Kills the demo at once (`SIGKILL`, as `kill -9`): no shutdown, no cleanup. Idempotent.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn spawn(demo: Demo, env: &[(&str, &str)], embedded_sandbox: bool) -> Self {
        let binary = demo_binary(demo);
        let started = Instant::now();
        let deadline = Instant::now() + START_TIMEOUT;
        // Port 0: the demo binds any free port and prints it (no race with other tests).
        let mut child = Command::new(&binary)
            .env("PORT", "0")
            .env("GLIDE_SANDBOX_PORT", "0")
            .env_remove("GLIDE_CLIENT_ID")
            .env_remove("GLIDE_CLIENT_SECRET")
            .env_remove("GLIDE_API_BASE_URL")
            .env_remove("GLIDE_REDIS_URL")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", binary.display()));
        let log = Arc::new(Mutex::new(VecDeque::new()));
        let (lines_tx, lines_rx) = std::sync::mpsc::channel::<String>();
        if let Some(stdout) = child.stdout.take() {
            drain(stdout, Arc::clone(&log), Some(lines_tx.clone()));
        }
        if let Some(stderr) = child.stderr.take() {
            drain(stderr, Arc::clone(&log), Some(lines_tx));
        }
        let mut base_url = None;
        let mut sandbox_url = None;
        if !embedded_sandbox {
            sandbox_url = Some(String::new());
        }
        while base_url.is_none() || sandbox_url.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines_rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(url) = url_after(&line, "listening on ") {
                        base_url = Some(url);
                    } else if let Some(url) = url_after(&line, "sandbox on ") {
                        sandbox_url = Some(url);
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    let status = child.wait();
                    panic!(
                        "{} did not print `listening on …` and `sandbox on …` (within \
                         {START_TIMEOUT:?}; process: {status:?}); output:\n{}",
                        demo.binary_name(),
                        tail(&log)
                    );
                }
            }
        }
        trace(&format!(
            "started {} in {:.1?}",
            demo.binary_name(),
            started.elapsed()
        ));
        Self {
            demo,
            child,
            base_url: base_url.unwrap_or_default(),
            sandbox_url: sandbox_url.unwrap_or_default(),
            log,
        }
    }

    /// Which demo this is.
    pub fn demo(&self) -> Demo {
        self.demo
    }

    /// The app's base URL, `http://127.0.0.1:<port>` (no trailing slash).
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// `base_url` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// The embedded sandbox's base URL (no trailing slash).
    pub fn sandbox_url(&self) -> &str {
        &self.sandbox_url
    }

    /// The demo's last output lines.
    pub fn log_tail(&self) -> String {
        tail(&self.log)
    }
}

impl Drop for DemoApp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "--- last output of {} ({}) ---\n{}",
                self.demo.binary_name(),
                self.base_url,
                tail(&self.log)
            );
        }
    }
}

fn url_after(line: &str, marker: &str) -> Option<String> {
    let start = line.find(marker)? + marker.len();
    let url: String = line[start..]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect();
    url.starts_with("http://")
        .then(|| url.trim_end_matches('/').to_owned())
}

fn drain(
    stream: impl Read + Send + 'static,
    log: Arc<Mutex<VecDeque<String>>>,
    lines: Option<std::sync::mpsc::Sender<String>>,
) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if let Some(tx) = &lines {
                let _ = tx.send(line.clone());
            }
            if let Ok(mut log) = log.lock() {
                if log.len() == LOG_LINES {
                    log.pop_front();
                }
                log.push_back(line);
            }
        }
    });
}

fn tail(log: &Mutex<VecDeque<String>>) -> String {
    log.lock()
        .map(|l| l.iter().cloned().collect::<Vec<_>>().join("\n"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn banner_lines_give_the_urls() {
        assert_eq!(
            url_after("listening on http://127.0.0.1:3000", "listening on ").as_deref(),
            Some("http://127.0.0.1:3000")
        );
        assert_eq!(
            url_after(
                "sandbox on http://127.0.0.1:8910/ (embedded)",
                "sandbox on "
            )
            .as_deref(),
            Some("http://127.0.0.1:8910")
        );
        assert_eq!(url_after("listening on port 3000", "listening on "), None);
        assert_eq!(url_after("INFO started", "listening on "), None);
    }
}
