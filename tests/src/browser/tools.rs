//! Finding the two programs the suite drives: Chromium and chromedriver.

use std::path::PathBuf;

/// The two programs the suite drives.
#[derive(Debug, Clone)]
pub struct BrowserTools {
    /// The Chromium executable (`/usr/bin/chromium` on Debian).
    pub chromium: PathBuf,
    /// The chromedriver executable (`/usr/bin/chromedriver`, package `chromium-driver`).
    pub chromedriver: PathBuf,
}

impl BrowserTools {
    /// Finds Chromium and chromedriver: `/usr/bin/…` first, then `PATH`.
    pub fn find() -> Option<Self> {
        Some(Self {
            chromium: find_program(&["chromium", "chromium-browser"])?,
            chromedriver: find_program(&["chromedriver"])?,
        })
    }
}

fn find_program(names: &[&str]) -> Option<PathBuf> {
    let mut dirs = vec![PathBuf::from("/usr/bin")];
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    dirs.iter()
        .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
        .find(|candidate| candidate.is_file())
}
