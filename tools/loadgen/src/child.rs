//! Child processes (a sandbox of its own, axum-demo): started, waited for by their banner,
//! killed when dropped.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running child; killed when dropped.
#[derive(Debug)]
pub struct Running {
    child: Child,
    /// The banner lines printed before the one that said it was ready.
    pub banner: Vec<String>,
}

impl Running {
    /// Starts `command` and waits (up to `timeout`) for a stdout line containing `ready`.
    /// Stdout after that is drained on a thread; stderr is inherited.
    pub fn start(mut command: Command, ready: &str, timeout: Duration) -> Result<Self, String> {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start {command:?}: {e}"))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    // Nobody listens any more: keep draining so the child never blocks.
                    continue;
                }
            }
        });
        let deadline = Instant::now() + timeout;
        let mut banner = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    let done = line.contains(ready);
                    banner.push(line);
                    if done {
                        return Ok(Self { child, banner });
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!("{command:?} did not print {ready:?} in time"));
                }
            }
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The first URL (`http://…`) on a banner line containing `marker`.
    pub fn url_after(&self, marker: &str) -> Option<String> {
        self.banner
            .iter()
            .find(|l| l.contains(marker))
            .and_then(|l| l.split_whitespace().find(|w| w.starts_with("http://")))
            .map(|u| u.trim_end_matches('/').to_owned())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
