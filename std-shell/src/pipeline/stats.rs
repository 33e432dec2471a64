//! Statistics: per stage (tasks, failures, in flight, op time percentiles)
//! and per queue (occupancy, put / get waits, items per second).
//!
//! The counters are atomics updated on the hot path (a few relaxed
//! increments per item and stage, no lock, no allocation); a snapshot
//! ([`PipelineStats`]) reads them at any time. Times go into a log-linear
//! histogram with 8 sub-buckets per power of two, so a reported percentile
//! is the upper edge of its bucket: at most 12.5 % above the true value.
//!
//! What the hot path saves (the clock is the dearest part):
//!
//! - a put or get that finds room or an item at once waited 0: it is
//!   counted, and no clock is read (the histogram's zero bucket is the
//!   count of such operations, filled in by the snapshot);
//! - op times: a task times every op while its ops take at least
//!   [`TIME_EVERY_OP_NS`]; below that it times one op in
//!   [`SAMPLE_EVERY`], and that sample stands for the calls since the
//!   last timed one (it is recorded with that weight), so means and
//!   percentiles stay estimates of all calls while a no-op stage reads the
//!   clock twice per 16 items instead of twice per item;
//! - waits of a stage's task for its input or for room downstream: the
//!   same scheme, one wait in [`WAIT_SAMPLE_EVERY`] timed (with the weight
//!   of the waits since the last timed one), every wait while they last at
//!   least [`TIME_EVERY_WAIT_NS`]. A no-op stage whose items come one at a
//!   time waits once per item, and those clock reads were ~15 % of the
//!   workers' time through 4 no-op stages. (The source's puts and the
//!   consumer's gets are all timed: one thread each, off the workers.)
//! - the producer's and the consumer's counters of a queue sit on cache
//!   lines of their own.

use core::fmt;
use std::time::{Duration, Instant};

use crossbeam_utils::CachePadded;

use crate::sync::{AtomicU64, Ordering};

/// Ops at least this long are all timed (the two clock reads cost under
/// ~5 % of them).
pub(crate) const TIME_EVERY_OP_NS: u64 = 1_000;
/// Below [`TIME_EVERY_OP_NS`], one op in this many is timed.
pub(crate) const SAMPLE_EVERY: u64 = 16;
/// A stage task's waits at least this long are all timed (a stall is
/// seen in full, wait after wait).
pub(crate) const TIME_EVERY_WAIT_NS: u64 = 1_000_000;
/// Below [`TIME_EVERY_WAIT_NS`], one wait in this many is timed.
pub(crate) const WAIT_SAMPLE_EVERY: u64 = 8;

/// One task's choice of which ops (or waits) to time (see the module
/// docs): the first always, then every one while they last at least
/// `time_all_ns`, else one in `every`.
pub(crate) struct OpSampler {
    /// Untimed calls since the last timed one.
    skipped: u64,
    /// Untimed calls to make before the next timed one.
    skip: u64,
    time_all_ns: u64,
    every: u64,
}

impl OpSampler {
    /// The sampler of a task's op times.
    pub(crate) fn new() -> Self {
        Self::with_rule(TIME_EVERY_OP_NS, SAMPLE_EVERY)
    }

    /// The sampler of a stage task's waits (for input, or for room).
    pub(crate) fn for_waits() -> Self {
        Self::with_rule(TIME_EVERY_WAIT_NS, WAIT_SAMPLE_EVERY)
    }

    fn with_rule(time_all_ns: u64, every: u64) -> Self {
        Self {
            skipped: 0,
            skip: 0,
            time_all_ns,
            every,
        }
    }

    /// Before a call: its start time if this call is to be timed.
    pub(crate) fn start(&mut self) -> Option<Instant> {
        if self.skip == 0 {
            Some(Instant::now())
        } else {
            self.skip -= 1;
            self.skipped += 1;
            None
        }
    }

    /// After a call that [`OpSampler::start`] timed: records it into
    /// `hist` with the weight of the calls it stands for; returns the end
    /// time.
    pub(crate) fn end(&mut self, started: Instant, hist: &Histogram) -> Instant {
        let now = Instant::now();
        let d = now - started;
        hist.record_n(d, self.skipped + 1);
        self.skipped = 0;
        self.skip = if d.as_nanos() >= u128::from(self.time_all_ns) {
            0
        } else {
            self.every - 1
        };
        now
    }
}

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
        self.record_n(d, 1);
    }

    /// Records a value `n` times (a sample standing for `n` values).
    pub(crate) fn record_n(&self, d: Duration, n: u64) {
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.buckets[bucket_of(ns)].fetch_add(n, Ordering::Relaxed);
        self.count.fetch_add(n, Ordering::Relaxed);
        self.sum.fetch_add(ns.saturating_mul(n), Ordering::Relaxed);
    }

    /// Values recorded so far.
    pub(crate) fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// The mean so far, in nanoseconds (0 before the first value).
    pub(crate) fn mean_ns(&self) -> u64 {
        let n = self.count.load(Ordering::Relaxed);
        self.sum.load(Ordering::Relaxed).checked_div(n).unwrap_or(0)
    }

    fn summary(&self) -> TimeSummary {
        self.summary_with_zeros(0)
    }

    /// The summary with `zeros` more values of 0 that were counted, not
    /// recorded.
    fn summary_with_zeros(&self, zeros: u64) -> TimeSummary {
        let mut counts: Vec<u64> = self
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        counts[0] += zeros;
        let total: u64 = counts.iter().sum();
        let sum = self.sum.load(Ordering::Relaxed);
        let n = (self.count.load(Ordering::Relaxed) + zeros).max(1);
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
    /// Ops started.
    pub(crate) calls: AtomicU64,
    /// Ops finished (`calls - ended` are in flight).
    pub(crate) ended: AtomicU64,
    pub(crate) failures: AtomicU64,
    pub(crate) op_time: Histogram,
}

impl StageCounters {
    pub(crate) fn new(name: String) -> Self {
        Self {
            name,
            calls: AtomicU64::new(0),
            ended: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            op_time: Histogram::new(),
        }
    }

    fn snapshot(&self) -> StageStats {
        // `ended` first: it never passes `calls`.
        let ended = self.ended.load(Ordering::Relaxed);
        let calls = self.calls.load(Ordering::Relaxed);
        StageStats {
            name: self.name.clone(),
            tasks: calls,
            failures: self.failures.load(Ordering::Relaxed),
            in_flight: usize::try_from(calls.saturating_sub(ended)).unwrap_or(usize::MAX),
            time: self.op_time.summary(),
        }
    }
}

/// One side of a queue: operations, and the waits of those that waited
/// (the rest waited 0).
pub(crate) struct Side {
    pub(crate) ops: AtomicU64,
    /// Consumer side: sum over gets of the queue's length just after the
    /// get (+1 for the item taken): the mean occupancy seen by consumers.
    /// Unused on the producer side.
    pub(crate) occupancy_sum: AtomicU64,
    pub(crate) wait: Histogram,
}

impl Side {
    fn new() -> Self {
        Self {
            ops: AtomicU64::new(0),
            occupancy_sum: AtomicU64::new(0),
            wait: Histogram::new(),
        }
    }

    /// The waits of every operation (those that found room or an item at
    /// once count 0).
    fn wait_summary(&self) -> TimeSummary {
        // `count` first: it never passes `ops`.
        let waited = self.wait.count();
        let ops = self.ops.load(Ordering::Relaxed);
        self.wait.summary_with_zeros(ops.saturating_sub(waited))
    }
}

/// Counters of one queue: the producers' side and the consumers' side on
/// cache lines of their own.
pub(crate) struct QueueCounters {
    pub(crate) name: String,
    pub(crate) capacity: usize,
    put: CachePadded<Side>,
    get: CachePadded<Side>,
}

impl QueueCounters {
    pub(crate) fn new(name: String, capacity: usize) -> Self {
        Self {
            name,
            capacity,
            put: CachePadded::new(Side::new()),
            get: CachePadded::new(Side::new()),
        }
    }

    /// A put that waited `wait` for room.
    pub(crate) fn put(&self, wait: Duration) {
        self.put.ops.fetch_add(1, Ordering::Relaxed);
        self.put.wait.record(wait);
    }

    /// A put that waited since `started` (timed by `sampler`: recorded
    /// with the weight of the waits it stands for).
    pub(crate) fn put_sampled(&self, sampler: &mut OpSampler, started: Instant) {
        self.put.ops.fetch_add(1, Ordering::Relaxed);
        sampler.end(started, &self.put.wait);
    }

    /// A put that found room at once (waited 0), or whose wait `sampler`
    /// did not time (the next timed one stands for it).
    pub(crate) fn put_at_once(&self) {
        self.put.ops.fetch_add(1, Ordering::Relaxed);
    }

    /// A get that waited `wait` for an item; `len_after` were left.
    pub(crate) fn get(&self, wait: Duration, len_after: usize) {
        self.get_at_once(len_after);
        self.get.wait.record(wait);
    }

    /// A get that waited since `started` (timed by `sampler`, as
    /// [`put_sampled`](Self::put_sampled)); `len_after` were left.
    pub(crate) fn get_sampled(&self, sampler: &mut OpSampler, started: Instant, len_after: usize) {
        self.get_at_once(len_after);
        sampler.end(started, &self.get.wait);
    }

    /// A get that found an item at once (waited 0), or whose wait a sampler
    /// did not time; `len_after` were left.
    pub(crate) fn get_at_once(&self, len_after: usize) {
        self.get.ops.fetch_add(1, Ordering::Relaxed);
        self.get
            .occupancy_sum
            .fetch_add(len_after as u64 + 1, Ordering::Relaxed);
    }

    fn snapshot(&self, elapsed: Duration) -> QueueStats {
        let gets = self.get.ops.load(Ordering::Relaxed);
        let occ = self.get.occupancy_sum.load(Ordering::Relaxed);
        let secs = elapsed.as_secs_f64();
        QueueStats {
            name: self.name.clone(),
            capacity: self.capacity,
            puts: self.put.ops.load(Ordering::Relaxed),
            gets,
            occupancy: if gets == 0 || self.capacity == 0 {
                0.0
            } else {
                (occ as f64 / gets as f64 / self.capacity as f64).min(1.0)
            },
            put_wait: self.put.wait_summary(),
            get_wait: self.get.wait_summary(),
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
    /// Op run time (successes and failures). Ops under 1 µs are timed on a
    /// sample (one in 16, each standing for the calls since the last timed
    /// one); longer ones all.
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
    /// Time producers waited for room (a put that found room at once
    /// counts 0). A stage's waits under 1 ms are timed on a sample (one in
    /// 8 per task, standing for the waits since the last timed one), so
    /// this is an estimate of all of them; the source's are all timed.
    pub put_wait: TimeSummary,
    /// Time consumers waited for an item (a get that found one at once
    /// counts 0); a stage's waits sampled as for
    /// [`put_wait`](Self::put_wait), the consumer's all timed.
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

    /// The sampler's weights account for every call up to the last timed
    /// one (whatever the ops took), and an op of at least
    /// `TIME_EVERY_OP_NS` makes the next call timed.
    #[test]
    fn sampled_op_times_stand_for_every_call() {
        let h = Histogram::new();
        let mut s = OpSampler::new();
        let mut last_timed = None;
        for call in 0..200u64 {
            if let Some(t) = s.start() {
                last_timed = Some(call);
                s.end(t, &h);
            }
        }
        let last = last_timed.expect("the first call is always timed");
        assert_eq!(h.count(), last + 1);
        assert!(200 - h.count() < SAMPLE_EVERY);
        // A long op: the next call is timed too.
        let mut s = OpSampler::new();
        let t = s.start().expect("first call timed");
        while t.elapsed() < Duration::from_nanos(2 * TIME_EVERY_OP_NS) {
            core::hint::spin_loop();
        }
        s.end(t, &h);
        assert!(s.start().is_some());
    }

    /// Sampled waits: one in `WAIT_SAMPLE_EVERY` timed, each standing for
    /// the waits since the last timed one, so the queue's wait count (and
    /// its mean) covers every wait up to the last timed one.
    #[test]
    fn sampled_waits_stand_for_every_wait() {
        let q = QueueCounters::new("q".into(), 4);
        let mut s = OpSampler::for_waits();
        let mut last_timed = None;
        for wait in 0..100u64 {
            match s.start() {
                Some(t) => {
                    last_timed = Some(wait);
                    q.get_sampled(&mut s, t, 0);
                }
                None => q.get_at_once(0),
            }
        }
        let last = last_timed.expect("the first wait is always timed");
        assert_eq!(q.get.wait.count(), last + 1);
        assert!(100 - q.get.wait.count() < WAIT_SAMPLE_EVERY);
        assert_eq!(q.snapshot(Duration::from_secs(1)).gets, 100);
        // Short waits: 1 + 99 / 8 of the 100 were timed.
        assert_eq!(
            q.get.wait.count(),
            1 + (99 / WAIT_SAMPLE_EVERY) * WAIT_SAMPLE_EVERY
        );
    }

    #[test]
    fn zero_waits_are_counted_not_recorded() {
        let q = QueueCounters::new("q".into(), 4);
        for _ in 0..99 {
            q.put_at_once();
            q.get_at_once(0);
        }
        q.put(Duration::from_micros(100));
        q.get(Duration::from_micros(100), 0);
        let s = q.snapshot(Duration::from_secs(1));
        assert_eq!((s.puts, s.gets), (100, 100));
        assert_eq!(s.put_wait.p50, Duration::ZERO);
        assert_eq!(s.get_wait.mean, Duration::from_micros(1));
        assert!(s.get_wait.p99 == Duration::ZERO && s.get_wait.mean > Duration::ZERO);
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
