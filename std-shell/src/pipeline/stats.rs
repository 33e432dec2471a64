//! Statistics: per stage (tasks, failures, in flight, op time percentiles)
//! and per queue (occupancy, put / get waits, items per second).
//!
//! The counters are atomics updated on the hot path (a few relaxed
//! increments per item and stage, no lock, no allocation); a snapshot
//! ([`PipelineStats`]) reads them at any time. Times go into a log-linear
//! histogram with 8 sub-buckets per power of two, so a reported percentile
//! is the upper edge of its bucket: at most 12.5 % above the true value.

use core::fmt;
use std::time::Duration;

use crate::sync::{AtomicU64, AtomicUsize, Ordering};

const SUB_BITS: u32 = 3;
const SUB: usize = 1 << SUB_BITS;
/// Values below this are their own bucket.
const LINEAR: u64 = 2 * SUB as u64;
const BUCKETS: usize = LINEAR as usize + (64 - (SUB_BITS as usize + 1)) * SUB;

/// A histogram of nanosecond values.
pub(crate) struct Histogram {
    buckets: Box<[AtomicU64]>,
    count: AtomicU64,
    sum: AtomicU64,
}

fn bucket_of(v: u64) -> usize {
    if v < LINEAR {
        return v as usize;
    }
    let e = 63 - v.leading_zeros(); // >= SUB_BITS + 1
    let sub = (v >> (e - SUB_BITS)) as usize & (SUB - 1);
    LINEAR as usize + (e - SUB_BITS - 1) as usize * SUB + sub
}

fn bucket_upper(i: usize) -> u64 {
    if i < LINEAR as usize {
        return i as u64;
    }
    let k = i - LINEAR as usize;
    let e = (k / SUB) as u32 + SUB_BITS + 1;
    let sub = (k % SUB) as u64;
    let base = 1u64 << e;
    let step = 1u64 << (e - SUB_BITS);
    // base >= 16, so base - 1 cannot underflow; the sum saturates at u64::MAX.
    (base - 1).saturating_add((sub + 1).saturating_mul(step))
}

impl Histogram {
    pub(crate) fn new() -> Self {
        Self {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            sum: AtomicU64::new(0),
        }
    }

    /// Records one value. Relaxed: the counters are statistics, read
    /// approximately by snapshots.
    pub(crate) fn record(&self, d: Duration) {
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.buckets[bucket_of(ns)].fetch_add(1, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum.fetch_add(ns, Ordering::Relaxed);
    }

    /// The mean so far, in nanoseconds (0 before the first value).
    pub(crate) fn mean_ns(&self) -> u64 {
        let n = self.count.load(Ordering::Relaxed);
        self.sum.load(Ordering::Relaxed).checked_div(n).unwrap_or(0)
    }

    fn summary(&self) -> TimeSummary {
        let counts: Vec<u64> = self
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        let total: u64 = counts.iter().sum();
        let sum = self.sum.load(Ordering::Relaxed);
        let n = self.count.load(Ordering::Relaxed).max(1);
        let pct = |q: f64| -> Duration {
            if total == 0 {
                return Duration::ZERO;
            }
            let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
            let mut seen = 0;
            for (i, c) in counts.iter().enumerate() {
                seen += c;
                if seen >= rank {
                    return Duration::from_nanos(bucket_upper(i));
                }
            }
            Duration::from_nanos(u64::MAX)
        };
        TimeSummary {
            mean: Duration::from_nanos(sum / n),
            p50: pct(0.50),
            p90: pct(0.90),
            p99: pct(0.99),
        }
    }
}

/// Mean and percentiles of a set of durations.
///
/// # Examples
///
/// ```
/// let s = evlatch_std::pipeline::TimeSummary::default();
/// assert_eq!(s.p99, std::time::Duration::ZERO);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TimeSummary {
    /// Arithmetic mean.
    pub mean: Duration,
    /// Median (bucket upper edge, at most 12.5 % high).
    pub p50: Duration,
    /// 90th percentile.
    pub p90: Duration,
    /// 99th percentile.
    pub p99: Duration,
}

/// Counters of one stage.
pub(crate) struct StageCounters {
    pub(crate) name: String,
    pub(crate) calls: AtomicU64,
    pub(crate) failures: AtomicU64,
    pub(crate) in_flight: AtomicUsize,
    pub(crate) op_time: Histogram,
}

impl StageCounters {
    pub(crate) fn new(name: String) -> Self {
        Self {
            name,
            calls: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            op_time: Histogram::new(),
        }
    }

    fn snapshot(&self) -> StageStats {
        StageStats {
            name: self.name.clone(),
            tasks: self.calls.load(Ordering::Relaxed),
            failures: self.failures.load(Ordering::Relaxed),
            in_flight: self.in_flight.load(Ordering::Relaxed),
            time: self.op_time.summary(),
        }
    }
}

/// Counters of one queue.
pub(crate) struct QueueCounters {
    pub(crate) name: String,
    pub(crate) capacity: usize,
    pub(crate) puts: AtomicU64,
    pub(crate) gets: AtomicU64,
    /// Sum over gets of the queue's length just after the get (+1 for the
    /// item taken): the mean occupancy seen by consumers.
    pub(crate) occupancy_sum: AtomicU64,
    pub(crate) put_wait: Histogram,
    pub(crate) get_wait: Histogram,
}

impl QueueCounters {
    pub(crate) fn new(name: String, capacity: usize) -> Self {
        Self {
            name,
            capacity,
            puts: AtomicU64::new(0),
            gets: AtomicU64::new(0),
            occupancy_sum: AtomicU64::new(0),
            put_wait: Histogram::new(),
            get_wait: Histogram::new(),
        }
    }

    pub(crate) fn put(&self, wait: Duration) {
        self.puts.fetch_add(1, Ordering::Relaxed);
        self.put_wait.record(wait);
    }

    pub(crate) fn get(&self, wait: Duration, len_after: usize) {
        self.gets.fetch_add(1, Ordering::Relaxed);
        self.occupancy_sum
            .fetch_add(len_after as u64 + 1, Ordering::Relaxed);
        self.get_wait.record(wait);
    }

    fn snapshot(&self, elapsed: Duration) -> QueueStats {
        let gets = self.gets.load(Ordering::Relaxed);
        let occ = self.occupancy_sum.load(Ordering::Relaxed);
        let secs = elapsed.as_secs_f64();
        QueueStats {
            name: self.name.clone(),
            capacity: self.capacity,
            puts: self.puts.load(Ordering::Relaxed),
            gets,
            occupancy: if gets == 0 || self.capacity == 0 {
                0.0
            } else {
                (occ as f64 / gets as f64 / self.capacity as f64).min(1.0)
            },
            put_wait: self.put_wait.summary(),
            get_wait: self.get_wait.summary(),
            items_per_sec: if secs > 0.0 { gets as f64 / secs } else { 0.0 },
        }
    }
}

/// Statistics of one stage, as of a snapshot.
///
/// # Examples
///
/// ```
/// use evlatch_std::pipeline::{BuildOptions, Pipeline};
/// let mut p = Pipeline::source(0..10)
///     .pipe(|x: i32| Ok::<_, String>(x + 1))
///     .build(BuildOptions::default())
///     .unwrap();
/// assert_eq!(p.by_ref().count(), 10);
/// let s = &p.stats().stages[0];
/// assert_eq!((s.tasks, s.failures, s.in_flight), (10, 0, 0));
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct StageStats {
    /// The stage's name.
    pub name: String,
    /// Ops called so far (successes and failures).
    pub tasks: u64,
    /// Ops that returned an error or panicked.
    pub failures: u64,
    /// Ops running right now.
    pub in_flight: usize,
    /// Op run time (successes and failures).
    pub time: TimeSummary,
}

/// Statistics of one queue (the input queue of a stage, or the sink), as of
/// a snapshot.
///
/// # Examples
///
/// ```
/// use evlatch_std::pipeline::{BuildOptions, Pipeline};
/// let mut p = Pipeline::source(0..10).build(BuildOptions::default()).unwrap();
/// assert_eq!(p.by_ref().count(), 10);
/// let q = &p.stats().queues[0];
/// assert_eq!((q.puts, q.gets), (10, 10));
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct QueueStats {
    /// `"<producer> -> <consumer>"`.
    pub name: String,
    /// The capacity requested for it.
    pub capacity: usize,
    /// Items put so far.
    pub puts: u64,
    /// Items taken so far.
    pub gets: u64,
    /// Mean fill level seen by consumers, as a fraction of the capacity
    /// (near 1: the consumer is the bottleneck; near 0: the producer is).
    pub occupancy: f64,
    /// Time producers waited for room (includes the put itself).
    pub put_wait: TimeSummary,
    /// Time consumers waited for an item (includes the get itself).
    pub get_wait: TimeSummary,
    /// Items taken per second since the pipeline started.
    pub items_per_sec: f64,
}

/// A snapshot of a pipeline's statistics: see
/// [`Pipeline::stats`](super::Pipeline::stats) and
/// [`BuildOptions::report_stats`](super::BuildOptions::report_stats).
/// Its `Display` is a table.
///
/// # Examples
///
/// ```
/// use evlatch_std::pipeline::{BuildOptions, Pipeline};
/// let mut p = Pipeline::source(0..4)
///     .pipe(|x: u8| Ok::<_, String>(x))
///     .build(BuildOptions::default())
///     .unwrap();
/// assert_eq!(p.by_ref().count(), 4);
/// let table = p.stats().to_string();
/// assert!(table.contains("stage"));
/// println!("{table}");
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct PipelineStats {
    /// Time since the pipeline was built.
    pub elapsed: Duration,
    /// Whether every stage has finished (the final report).
    pub finished: bool,
    /// One entry per stage, source side first.
    pub stages: Vec<StageStats>,
    /// One entry per queue: the input of each stage, then the sink queue.
    pub queues: Vec<QueueStats>,
}

impl PipelineStats {
    pub(crate) fn collect(
        stages: &[StageCounters],
        queues: &[QueueCounters],
        elapsed: Duration,
        finished: bool,
    ) -> Self {
        Self {
            elapsed,
            finished,
            stages: stages.iter().map(StageCounters::snapshot).collect(),
            queues: queues.iter().map(|q| q.snapshot(elapsed)).collect(),
        }
    }

    /// One line for a progress display: elapsed time, items delivered to
    /// the sink, their rate, and failures.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::pipeline::{BuildOptions, Pipeline};
    /// let mut p = Pipeline::source(0..3).build(BuildOptions::default()).unwrap();
    /// assert_eq!(p.by_ref().count(), 3);
    /// assert!(p.stats().progress_line().contains("3 items"));
    /// ```
    pub fn progress_line(&self) -> String {
        let sink = self.queues.last();
        let delivered = sink.map_or(0, |q| q.gets);
        let rate = sink.map_or(0.0, |q| q.items_per_sec);
        let failures: u64 = self.stages.iter().map(|s| s.failures).sum();
        format!(
            "[{:>8.1}s] {delivered} items, {rate:.0}/s, {failures} failures{}",
            self.elapsed.as_secs_f64(),
            if self.finished { ", finished" } else { "" }
        )
    }
}

struct D(Duration);

impl fmt::Display for D {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ns = self.0.as_nanos();
        let s = if ns < 10_000 {
            format!("{ns}ns")
        } else if ns < 10_000_000 {
            format!("{:.1}us", ns as f64 / 1e3)
        } else if ns < 10_000_000_000 {
            format!("{:.1}ms", ns as f64 / 1e6)
        } else {
            format!("{:.1}s", ns as f64 / 1e9)
        };
        f.pad(&s)
    }
}

impl fmt::Display for PipelineStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "pipeline stats after {:.3}s{}",
            self.elapsed.as_secs_f64(),
            if self.finished { " (final)" } else { "" }
        )?;
        writeln!(
            f,
            "{:<20} {:>10} {:>8} {:>6} {:>9} {:>9} {:>9} {:>9}",
            "stage", "tasks", "failed", "busy", "mean", "p50", "p90", "p99"
        )?;
        for s in &self.stages {
            writeln!(
                f,
                "{:<20} {:>10} {:>8} {:>6} {:>9} {:>9} {:>9} {:>9}",
                s.name,
                s.tasks,
                s.failures,
                s.in_flight,
                D(s.time.mean),
                D(s.time.p50),
                D(s.time.p90),
                D(s.time.p99)
            )?;
        }
        writeln!(
            f,
            "{:<28} {:>10} {:>6} {:>9} {:>9} {:>9} {:>9} {:>10}",
            "queue", "items", "occ", "put mean", "put p99", "get mean", "get p99", "items/s"
        )?;
        for q in &self.queues {
            writeln!(
                f,
                "{:<28} {:>10} {:>5.0}% {:>9} {:>9} {:>9} {:>9} {:>10.0}",
                q.name,
                q.gets,
                q.occupancy * 100.0,
                D(q.put_wait.mean),
                D(q.put_wait.p99),
                D(q.get_wait.mean),
                D(q.get_wait.p99),
                q.items_per_sec
            )?;
        }
        Ok(())
    }
}

#[cfg(all(test, not(evlatch_loom)))]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_monotone_and_bound_their_values() {
        let mut last = 0;
        for v in (0..5000u64).chain([1 << 20, (1 << 20) + 12345, u64::MAX / 3, u64::MAX]) {
            let b = bucket_of(v);
            assert!(b < BUCKETS, "{v} -> {b}");
            assert!(bucket_upper(b) >= v, "{v} above its bucket's edge");
            if v < 5000 {
                assert!(b >= last);
                last = b;
            }
            // Within 12.5 % (plus one for the linear range).
            assert!(
                bucket_upper(b) - v <= v / 8 + 1,
                "{v}: edge {}",
                bucket_upper(b)
            );
        }
    }

    #[test]
    fn percentiles_of_a_known_set() {
        let h = Histogram::new();
        for i in 1..=100u64 {
            h.record(Duration::from_micros(i));
        }
        let s = h.summary();
        assert!(s.p50 >= Duration::from_micros(50) && s.p50 <= Duration::from_micros(57));
        assert!(s.p99 >= Duration::from_micros(99) && s.p99 <= Duration::from_micros(112));
        assert_eq!(s.mean, Duration::from_nanos(50_500));
    }
}
