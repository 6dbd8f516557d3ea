//! What the runs measure: resident memory and open descriptors from `/proc`, latency
//! percentiles (HDR histograms), status counters.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

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

/// Latencies, recorded in a [`Histogram`] of microseconds (1 µs to one hour, three significant
/// digits: a percentile is within 0.1 % of the sample it stands for).
#[derive(Debug, Clone)]
pub struct Latencies(Histogram<u64>);

/// The largest latency recorded as itself, in microseconds (one hour); longer ones count as it.
const HIGHEST_MICROS: u64 = 3_600_000_000;

impl Latencies {
    /// An empty set.
    pub fn new() -> Result<Self, String> {
        Histogram::new_with_bounds(1, HIGHEST_MICROS, 3)
            .map(Self)
            .map_err(|e| format!("latency histogram: {e:?}"))
    }

    /// Records one latency (below 1 µs counts as 1 µs, above an hour as an hour).
    pub fn record(&mut self, latency: Duration) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.0.saturating_record(micros.max(1));
    }

    /// Adds every sample of `other`.
    pub fn merge(&mut self, other: &Latencies) -> Result<(), String> {
        self.0
            .add(&other.0)
            .map_err(|e| format!("latency histogram: {e:?}"))
    }
}

/// p50 / p99 / max of a set of latencies, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Percentiles {
    /// How many samples.
    pub count: u64,
    /// Median.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Largest sample.
    pub max_ms: f64,
}

impl Percentiles {
    /// The percentiles of `latencies` (`None` when empty).
    pub fn of(latencies: &Latencies) -> Option<Self> {
        let h = &latencies.0;
        if h.is_empty() {
            return None;
        }
        let ms = |micros: u64| micros as f64 / 1000.0;
        Some(Self {
            count: h.len(),
            p50_ms: ms(h.value_at_quantile(0.50)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            max_ms: ms(h.max()),
        })
    }
}

impl std::fmt::Display for Percentiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "n={} p50={:.1} ms p99={:.1} ms max={:.1} ms",
            self.count, self.p50_ms, self.p99_ms, self.max_ms
        )
    }
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
    fn percentiles_within_a_tenth_of_a_percent() {
        let mut l = Latencies::new().expect("histogram");
        assert!(Percentiles::of(&l).is_none());
        for ms in 1..=100 {
            l.record(Duration::from_millis(ms));
        }
        let p = Percentiles::of(&l).expect("samples");
        assert_eq!(p.count, 100);
        let near = |got: f64, want: f64| (got - want).abs() <= want * 0.001;
        assert!(near(p.p50_ms, 50.0), "{p}");
        assert!(near(p.p99_ms, 99.0), "{p}");
        assert!(near(p.max_ms, 100.0), "{p}");
        assert_eq!(p.to_string(), "n=100 p50=50.0 ms p99=99.0 ms max=100.0 ms");
    }

    #[test]
    fn latencies_merge_and_clamp() {
        let mut a = Latencies::new().expect("histogram");
        let mut b = Latencies::new().expect("histogram");
        a.record(Duration::ZERO);
        b.record(Duration::from_secs(10 * 3600));
        a.merge(&b).expect("same bounds");
        let p = Percentiles::of(&a).expect("samples");
        assert_eq!(p.count, 2);
        assert!(p.p50_ms <= 0.001 + 1e-9, "{p}");
        assert!((p.max_ms - 3_600_000.0).abs() <= 3_600.0, "{p}");
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
