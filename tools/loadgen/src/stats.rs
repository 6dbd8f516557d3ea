//! What the runs measure: resident memory and open descriptors from `/proc`, latency
//! percentiles, status counters.

use std::collections::BTreeMap;
use std::time::Duration;

/// `VmRSS` of a process in KiB (`None`: this process), or `None` if it cannot be read.
pub fn rss_kib(pid: Option<u32>) -> Option<u64> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/status"),
        None => "/proc/self/status".to_owned(),
    };
    let status = std::fs::read_to_string(path).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// How many descriptors this process has open.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

/// The soft limit on open files of this process.
pub fn fd_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse().ok())
}

/// p50 / p99 / max of a set of latencies.
#[derive(Debug, Clone, Copy)]
pub struct Percentiles {
    /// How many samples.
    pub count: usize,
    /// Median.
    pub p50: Duration,
    /// 99th percentile (nearest rank).
    pub p99: Duration,
    /// Largest sample.
    pub max: Duration,
}

impl Percentiles {
    /// The percentiles of `samples` (`None` when empty).
    pub fn of(mut samples: Vec<Duration>) -> Option<Self> {
        if samples.is_empty() {
            return None;
        }
        samples.sort_unstable();
        let rank = |q: f64| {
            let i = ((samples.len() as f64) * q).ceil() as usize;
            samples[i.clamp(1, samples.len()) - 1]
        };
        Some(Self {
            count: samples.len(),
            p50: rank(0.50),
            p99: rank(0.99),
            max: samples[samples.len() - 1],
        })
    }
}

impl std::fmt::Display for Percentiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "n={} p50={:.1} ms p99={:.1} ms max={:.1} ms",
            self.count,
            ms(self.p50),
            ms(self.p99),
            ms(self.max)
        )
    }
}

/// A duration in milliseconds, as a float.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Counts of `(label, status)` pairs; status 0 stands for a transport error.
#[derive(Debug, Default, Clone)]
pub struct Counts(pub BTreeMap<(String, u16), u64>);

impl Counts {
    /// Adds one `(label, status)`.
    pub fn add(&mut self, label: &str, status: u16) {
        *self.0.entry((label.to_owned(), status)).or_default() += 1;
    }

    /// Adds every count of `other`.
    pub fn merge(&mut self, other: &Counts) {
        for (k, v) in &other.0 {
            *self.0.entry(k.clone()).or_default() += v;
        }
    }

    /// How many had a status in `range` (e.g. `500..600`).
    pub fn in_range(&self, range: std::ops::Range<u16>) -> u64 {
        self.0
            .iter()
            .filter(|((_, s), _)| range.contains(s))
            .map(|(_, v)| v)
            .sum()
    }

    /// The total.
    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let samples = (1..=100).map(Duration::from_millis).collect();
        let p = Percentiles::of(samples).expect("samples");
        assert_eq!(p.p50, Duration::from_millis(50));
        assert_eq!(p.p99, Duration::from_millis(99));
        assert_eq!(p.max, Duration::from_millis(100));
        assert!(Percentiles::of(Vec::new()).is_none());
    }

    #[test]
    fn reads_own_rss_and_fds() {
        assert!(rss_kib(None).is_some_and(|k| k > 0));
        assert!(open_fds() >= 3);
    }

    #[test]
    fn counts_by_range() {
        let mut c = Counts::default();
        c.add("a", 200);
        c.add("a", 200);
        c.add("b", 503);
        c.add("b", 0);
        assert_eq!(c.total(), 4);
        assert_eq!(c.in_range(500..600), 1);
        assert_eq!(c.in_range(200..300), 2);
    }
}
