//! Latency figures, in one place for every measure of the suite: sorted latencies
//! and their percentiles, the row every latency table shows (p50, p99, p99.9 and
//! max: a tail is only seen where the max is shown beside the p99), and the
//! per-second timeline of a run paced at a fixed rate. The timeline groups requests
//! by the second they were *due* in, not the one they were answered in, so that a
//! stall appears as a spike at the moment it began, with every request it held up.

use serde::Serialize;

/// Latencies in milliseconds, sorted.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Latencies(pub Vec<f64>);

impl Latencies {
    pub fn new(mut latencies: Vec<f64>) -> Latencies {
        latencies.sort_by(f64::total_cmp);
        Latencies(latencies)
    }

    pub fn at(&self, p: f64) -> f64 {
        if self.0.is_empty() {
            return 0.0;
        }
        self.0[((self.0.len() as f64 - 1.0) * p).round() as usize]
    }

    pub fn max(&self) -> f64 {
        self.0.last().copied().unwrap_or(0.0)
    }

    pub fn tail(&self) -> Tail {
        Tail { p50_ms: self.at(0.50), p99_ms: self.at(0.99), p999_ms: self.at(0.999), max_ms: self.max() }
    }
}

/// The four figures of every latency row, in ms.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Tail {
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

/// One request of a paced run: when it was due (seconds from the run's start) and
/// its latency from then, or `None` when it failed or was never answered.
pub type Sample = (f64, Option<f64>);

/// One second of a paced run: the requests due in it.
#[derive(Debug, Clone, Serialize)]
pub struct Second {
    /// Seconds from the run's start: this is `[second, second + 1)`.
    pub second: u32,
    /// Requests due in this second that were answered (their latencies below).
    pub count: usize,
    /// Requests due in this second that failed or were never answered.
    pub failed: usize,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// The timeline of a paced run of `seconds` seconds; every second has its entry,
/// even one in which nothing was answered.
pub fn timeline(samples: &[Sample], seconds: f64) -> Vec<Second> {
    let slots = (seconds.ceil() as usize).max(1);
    let mut latencies = vec![Vec::new(); slots];
    let mut failed = vec![0usize; slots];
    for &(due, latency) in samples {
        let slot = (due.max(0.0) as usize).min(slots - 1);
        match latency {
            Some(ms) => latencies[slot].push(ms),
            None => failed[slot] += 1,
        }
    }
    latencies
        .into_iter()
        .zip(failed)
        .enumerate()
        .map(|(n, (ms, failed))| {
            let ms = Latencies::new(ms);
            Second { second: n as u32, count: ms.0.len(), failed, p99_ms: ms.at(0.99), max_ms: ms.max() }
        })
        .collect()
}

/// The second with the highest max: where a stall shows.
pub fn worst(timeline: &[Second]) -> Option<&Second> {
    timeline.iter().filter(|s| s.count > 0).max_by(|a, b| a.max_ms.total_cmp(&b.max_ms))
}
