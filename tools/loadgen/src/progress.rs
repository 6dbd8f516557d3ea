//! Progress bars of the longer steps (prepare, fire and wait, approvals, a load run's seconds),
//! drawn on stderr, and only when stderr is a terminal: stdout keeps the tables or the JSON.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Where bars draw: stderr when it is a terminal, nowhere otherwise.
fn target() -> ProgressDrawTarget {
    if std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    }
}

/// A bar of `len` steps, labelled `what`.
pub fn bar(len: u64, what: &str) -> ProgressBar {
    let style = ProgressStyle::with_template(
        "{prefix:>12} [{elapsed_precise}] {wide_bar} {pos}/{len} {msg}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    ProgressBar::with_draw_target(Some(len), target())
        .with_style(style)
        .with_prefix(what.to_owned())
}

/// A spinner for a step of unknown length, labelled `what`.
pub fn spinner(what: &str) -> ProgressBar {
    let style = ProgressStyle::with_template("{prefix:>12} [{elapsed_precise}] {spinner} {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner());
    let spinner = ProgressBar::with_draw_target(None, target())
        .with_style(style)
        .with_prefix(what.to_owned());
    spinner.enable_steady_tick(std::time::Duration::from_millis(200));
    spinner
}

/// Where the run's notes (not its results) go: stdout with the tables, stderr with `--json`.
#[derive(Debug, Clone, Copy)]
pub struct Notes {
    /// `--json`: stdout is the summary alone.
    pub json: bool,
}

impl Notes {
    /// Prints one note line.
    pub fn line(&self, text: &str) {
        if self.json {
            eprintln!("{text}");
        } else {
            println!("{text}");
        }
    }
}
