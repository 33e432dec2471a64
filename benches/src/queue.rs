//! Lines for the bounded MPMC [`EventQueue`] (SCQ, strictly lock-free) and
//! [`StampQueue`] (evlatch's stamp ring: faster, not lock-free) against the
//! bounded queues users would pick instead: crossbeam-queue's
//! `ArrayQueue` (the baseline), concurrent-queue's bounded queue, heapless'
//! `mpmc::Queue` (deprecated in heapless 0.9 for not being lock-free) and
//! `std::sync::mpsc::sync_channel`.
//!
//! Each batch spawns `p` producers and `c` consumers, releases them together,
//! and times until all `iters` items have gone through a queue of 64 slots;
//! ns/op is per item. A thread that finds the queue full (or empty) spins a
//! few times, then yields: the same policy for every line.
//!
//! Under preemption (what strict lock-freedom buys):
//!
//! - `queue.8p8c`: the throughput lines with 16 threads on this machine's
//!   cores (oversubscribed on 2 cores: threads are preempted mid-operation
//!   by the OS);
//! - `queue.16t.p99` / `queue.16t.max`: 16 threads that each push then pop,
//!   timing every pair; the value shown is the p99 (or the max) latency of
//!   one push+pop in ns, not a per-item time;
//! - `queue.stalled.*` (only in a build with `RUSTFLAGS="--cfg
//!   evlatch_stall_hook"`): 3 threads doing push+pop pairs, timed, while a
//!   4th loops pairs too, sleeping 1 ms at one stall point in every 200
//!   inside evlatch's push or pop (so it is stopped mid-operation most of
//!   the time).
//!   Only evlatch's rings have the hook, so only they can be stalled
//!   mid-operation; for crossbeam's `ArrayQueue`, the reference, the 4th
//!   thread sleeps as often between its operations (the same scheduling
//!   disturbance, no stall inside the queue).
//!
//! heapless' `mpmc::Queue` runs at 1p1c only: with more threads on an
//! oversubscribed machine its 8-bit sequence counters wrap while a thread is
//! preempted, and its pop then spins forever (a 2p2c batch hung for 15
//! minutes here) — the hazard its deprecation in heapless 0.9 names.

use core::hint::spin_loop;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::mpsc;
use std::sync::{Arc, Barrier, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use evlatch::{EventQueue, StampQueue};

use crate::harness::Harness;

/// Slots in every queue.
const CAPACITY: usize = 64;

/// Registers the queue groups.
pub fn register(h: &mut Harness) {
    let cores = thread::available_parallelism().map_or(1, |n| n.get());
    for (p, c) in [(1, 1), (2, 2), (4, 4), (8, 8)] {
        let over = if p + c > cores {
            format!(" — {} threads on {cores} cores: oversubscribed", p + c)
        } else {
            String::new()
        };
        let title = format!("{p} producer(s), {c} consumer(s), {CAPACITY} slots, throughput{over}");
        let group = h
            .group(&format!("queue.{p}p{c}c"), &title)
            .note(
                "ns per item through the queue; each batch spawns the threads and times from \
                 their common start to the last item popped. sync_channel has one Receiver: \
                 with several consumers they share it through a Mutex",
            )
            .baseline_timed("crossbeam ArrayQueue", move |n| {
                transfer(p, c, n, Arc::new(crossbeam_queue::ArrayQueue::new(CAPACITY)))
            })
            .line_timed("concurrent-queue bounded", move |n| {
                transfer(p, c, n, Arc::new(concurrent_queue::ConcurrentQueue::bounded(CAPACITY)))
            })
            .line_timed("std sync_channel", move |n| {
                let (tx, rx) = mpsc::sync_channel(CAPACITY);
                transfer(p, c, n, Arc::new(Channel { tx, rx: Mutex::new(rx) }))
            })
            // heapless' mpmc queue only at 1p1c: with several producers on an
            // oversubscribed machine its 8-bit sequence counters can wrap
            // while a thread is preempted, and its pop then spins forever (seen
            // here: a 2p2c batch hung for 15 minutes). That is the hazard its
            // deprecation in heapless 0.9 names.
            .line_timed_if(p == 1 && c == 1, "heapless mpmc (not lock-free; 1p1c only)", move |n| {
                #[allow(deprecated, reason = "heapless 0.9 deprecates mpmc::Queue::new; it is what embedded users have")]
                let q = heapless::mpmc::Queue::<u64, CAPACITY>::new();
                transfer(p, c, n, Arc::new(q))
            })
            // Before the SCQ line, so that `.goal` below stays on the SCQ.
            .line_timed("evlatch StampQueue (not lock-free)", move |n| {
                transfer(p, c, n, Arc::new(StampQueue::<u64, CAPACITY>::new()))
            })
            .line_timed("evlatch EventQueue (SCQ)", move |n| {
                transfer(p, c, n, Arc::new(EventQueue::<u64, CAPACITY>::new()))
            });
        // The goal of issue 10: within 1.5x of ArrayQueue at 1p1c and 2p2c.
        let group = if p <= 2 { group.goal(1.5) } else { group };
        group.run();
    }
    latency_groups(h, PAIR_THREADS, false);
    #[cfg(evlatch_stall_hook)]
    latency_groups(h, STALLED_THREADS, true);
}

/// The fewest push+pop pairs one latency batch runs.
const MIN_PAIRS: u64 = 20_000;

/// The fewest pairs a stalled batch runs: enough for the timed threads to
/// outlast many of the staller's sleeps.
const MIN_STALLED_PAIRS: u64 = 100_000;

/// Threads in the oversubscribed latency groups.
const PAIR_THREADS: usize = 16;
/// Threads in the stalled groups (one of them stalls now and then).
#[cfg(evlatch_stall_hook)]
const STALLED_THREADS: usize = 4;

/// Whether (and where) a 4th thread stalls in a batch of pairs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stall {
    /// No staller: every thread is timed.
    No,
    /// The staller sleeps 1 ms inside an operation (the stall hook).
    #[cfg_attr(not(evlatch_stall_hook), allow(dead_code))]
    Inside,
    /// The staller sleeps 1 ms every 100 pairs, between operations: the same
    /// scheduling disturbance for a queue without the hook.
    #[cfg_attr(not(evlatch_stall_hook), allow(dead_code))]
    Between,
}

/// Which statistic of a batch of push+pop pairs a group reports.
#[derive(Clone, Copy)]
enum Stat {
    Throughput,
    P99,
    Max,
}

/// The `queue.16t.*` groups (or, with `stalled`, the `queue.stalled.*`
/// ones): throughput, p99 and max latency of one push+pop.
fn latency_groups(h: &mut Harness, threads: usize, stalled: bool) {
    for (stat, what) in [
        (Stat::Throughput, "throughput (ns per push+pop pair)"),
        (Stat::P99, "p99 latency of one push+pop (ns, not per item)"),
        (Stat::Max, "max latency of one push+pop (ns, not per item)"),
    ] {
        let suffix = match stat {
            Stat::Throughput => "pairs",
            Stat::P99 => "p99",
            Stat::Max => "max",
        };
        let (name, title) = if stalled {
            (
                format!("queue.stalled.{suffix}"),
                format!(
                    "{threads} threads push then pop, one sleeping 1 ms mid-operation now and \
                     then (stall hook), {CAPACITY} slots: {what}"
                ),
            )
        } else {
            (
                format!("queue.{threads}t.{suffix}"),
                format!("{threads} threads each push then pop, {CAPACITY} slots: {what}"),
            )
        };
        let mut group = h
            .group(&name, &title)
            .note(
                "every thread loops push(v) (retrying while full) then pop (retrying while \
                 empty), timing each pair with Instant::now; p99 and max are over all pairs \
                 of a batch (in the stalled groups: of the threads that do not stall), then the \
                 median over batches; a batch is at least 20 000 pairs (100 000 stalled)",
            )
            .baseline_timed("crossbeam ArrayQueue", move |n| {
                let q = Arc::new(crossbeam_queue::ArrayQueue::new(CAPACITY));
                pairs(
                    threads,
                    n,
                    q,
                    stat,
                    if stalled { Stall::Between } else { Stall::No },
                )
            });
        if !stalled {
            group = group.line_timed("concurrent-queue bounded", move |n| {
                let q = Arc::new(concurrent_queue::ConcurrentQueue::bounded(CAPACITY));
                pairs(threads, n, q, stat, Stall::No)
            });
        }
        let inside = if stalled { Stall::Inside } else { Stall::No };
        group
            .line_timed("evlatch StampQueue (not lock-free)", move |n| {
                let q = Arc::new(StampQueue::<u64, CAPACITY>::new());
                pairs(threads, n, q, stat, inside)
            })
            .line_timed("evlatch EventQueue (SCQ)", move |n| {
                let q = Arc::new(EventQueue::<u64, CAPACITY>::new());
                pairs(threads, n, q, stat, inside)
            })
            .run();
    }
}

/// `threads` threads share `n` push+pop pairs on `q`. With `stall`, thread 0
/// does not count: it loops push+pop pairs until the others are done,
/// sleeping 1 ms at one stall point in every `stall::EVERY` (so it spends
/// most of the batch stopped mid-operation), and only the others' pairs are
/// timed. Returns the batch's `stat` in the harness's terms: the elapsed
/// time for `Throughput`, else the latency statistic times `n` (so that the
/// table's ns/op column shows it).
fn pairs<Q: Bounded>(threads: usize, n: u64, q: Arc<Q>, stat: Stat, mode: Stall) -> Duration {
    let stall = mode != Stall::No;
    #[cfg(evlatch_stall_hook)]
    stall::install(mode == Stall::Inside);
    let start = Arc::new(Barrier::new(threads));
    let done = Arc::new(AtomicUsize::new(0));
    let counted = if stall { threads - 1 } else { threads };
    // At least MIN_PAIRS pairs whatever `n` the harness asks for (its
    // calibration would otherwise settle on a handful of pairs for the
    // latency statistics, whose returned "duration" is not real time);
    // throughput is scaled back to `n`.
    let n_eff = n.max(if stall { MIN_STALLED_PAIRS } else { MIN_PAIRS });
    let per_thread = n_eff.div_ceil(counted as u64);
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let (q, start, done) = (q.clone(), start.clone(), done.clone());
            let staller = stall && t == 0;
            thread::spawn(move || {
                #[cfg(evlatch_stall_hook)]
                stall::STALLER.with(|s| s.set(staller));
                let mut lat = Vec::with_capacity(if staller { 0 } else { per_thread as usize });
                let (mut pushed, mut popped) = (0u64, 0u64);
                start.wait();
                let t0 = Instant::now();
                let mut i = 0;
                while if staller {
                    done.load(Relaxed) < counted
                } else {
                    i < per_thread
                } {
                    let began = Instant::now();
                    let mut v = i;
                    pushed = pushed.wrapping_add(v);
                    let mut failures = 0;
                    while let Err(back) = q.push(v) {
                        v = back;
                        back_off(&mut failures);
                    }
                    let mut failures = 0;
                    loop {
                        if let Some(v) = q.pop() {
                            popped = popped.wrapping_add(v);
                            break;
                        }
                        back_off(&mut failures);
                    }
                    if !staller {
                        lat.push(began.elapsed().as_nanos() as u64);
                    } else if mode == Stall::Between && i % 100 == 99 {
                        // The same sleeps, outside any operation.
                        thread::sleep(Duration::from_millis(1));
                    }
                    i += 1;
                }
                let t1 = Instant::now();
                done.fetch_add(1, Relaxed);
                (staller, t0, t1, pushed, popped, lat)
            })
        })
        .collect();
    let mut lat = Vec::new();
    let (mut first, mut last) = (None::<Instant>, None::<Instant>);
    let (mut pushed, mut popped) = (0u64, 0u64);
    for w in workers {
        let (staller, t0, t1, p, c, l) = w.join().expect("worker panicked");
        pushed = pushed.wrapping_add(p);
        popped = popped.wrapping_add(c);
        if !staller {
            first = Some(first.map_or(t0, |f| f.min(t0)));
            last = Some(last.map_or(t1, |x| x.max(t1)));
            lat.extend(l);
        }
    }
    #[cfg(evlatch_stall_hook)]
    stall::install(false);
    assert_eq!(pushed, popped, "items lost or duplicated in pairs");
    let elapsed = last.expect("a worker") - first.expect("a worker");
    let per_op = |ns: u64| Duration::from_nanos(ns.saturating_mul(n));
    match stat {
        Stat::Throughput => elapsed.mul_f64(n as f64 / (per_thread * counted as u64) as f64),
        Stat::P99 => {
            lat.sort_unstable();
            per_op(lat[(lat.len() * 99 / 100).min(lat.len() - 1)])
        }
        Stat::Max => per_op(lat.iter().copied().max().unwrap_or(0)),
    }
}

/// The bench's stall hook: thread 0 of a stalled batch sleeps 1 ms at one
/// stall point in every `EVERY`.
#[cfg(evlatch_stall_hook)]
mod stall {
    use std::cell::Cell;
    use std::time::Duration;

    use evlatch::stall::{set_hook, StallPoint};

    /// One stall per this many stall points passed by the stalling thread.
    pub const EVERY: u32 = 200;

    thread_local! {
        /// Whether this thread is the one that stalls.
        pub static STALLER: Cell<bool> = const { Cell::new(false) };
        static PASSED: Cell<u32> = const { Cell::new(0) };
    }

    fn hook(at: StallPoint) {
        if at == StallPoint::WaitsForNeighbour || !STALLER.with(Cell::get) {
            return;
        }
        let n = PASSED.with(|p| {
            let n = p.get().wrapping_add(1);
            p.set(n);
            n
        });
        if n.is_multiple_of(EVERY) {
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Installs (or removes) the hook.
    pub fn install(on: bool) {
        set_hook(if on { Some(hook) } else { None });
    }
}

/// What the transfer loop needs of a queue.
trait Bounded: Send + Sync + 'static {
    fn push(&self, v: u64) -> Result<(), u64>;
    fn pop(&self) -> Option<u64>;
}

impl Bounded for crossbeam_queue::ArrayQueue<u64> {
    fn push(&self, v: u64) -> Result<(), u64> {
        crossbeam_queue::ArrayQueue::push(self, v)
    }
    fn pop(&self) -> Option<u64> {
        crossbeam_queue::ArrayQueue::pop(self)
    }
}

impl Bounded for concurrent_queue::ConcurrentQueue<u64> {
    fn push(&self, v: u64) -> Result<(), u64> {
        concurrent_queue::ConcurrentQueue::push(self, v).map_err(|e| e.into_inner())
    }
    fn pop(&self) -> Option<u64> {
        concurrent_queue::ConcurrentQueue::pop(self).ok()
    }
}

impl Bounded for heapless::mpmc::Queue<u64, CAPACITY> {
    fn push(&self, v: u64) -> Result<(), u64> {
        self.enqueue(v)
    }
    fn pop(&self) -> Option<u64> {
        self.dequeue()
    }
}

impl Bounded for EventQueue<u64, CAPACITY> {
    fn push(&self, v: u64) -> Result<(), u64> {
        self.try_push(v).map_err(|full| full.0)
    }
    fn pop(&self) -> Option<u64> {
        self.try_pop()
    }
}

impl Bounded for StampQueue<u64, CAPACITY> {
    fn push(&self, v: u64) -> Result<(), u64> {
        self.try_push(v).map_err(|full| full.0)
    }
    fn pop(&self) -> Option<u64> {
        self.try_pop()
    }
}

/// `sync_channel`, its single receiver shared by the consumers.
struct Channel {
    tx: mpsc::SyncSender<u64>,
    rx: Mutex<mpsc::Receiver<u64>>,
}

impl Bounded for Channel {
    fn push(&self, v: u64) -> Result<(), u64> {
        self.tx.try_send(v).map_err(|e| match e {
            mpsc::TrySendError::Full(v) | mpsc::TrySendError::Disconnected(v) => v,
        })
    }
    fn pop(&self) -> Option<u64> {
        self.rx.lock().ok()?.try_recv().ok()
    }
}

/// Backs off after a failed push or pop: spin a little, then yield.
fn back_off(failures: &mut u32) {
    *failures += 1;
    if *failures < 16 {
        spin_loop();
    } else {
        thread::yield_now();
    }
}

/// Moves `n` items from `p` producers to `c` consumers through `q`; returns
/// the time from the common start to the last consumer done.
fn transfer<Q: Bounded>(p: usize, c: usize, n: u64, q: Arc<Q>) -> Duration {
    let start = Arc::new(Barrier::new(p + c));
    let per_producer = n.div_ceil(p as u64);
    let total = per_producer * p as u64;
    let per_consumer = |i: usize| total / c as u64 + u64::from((i as u64) < total % c as u64);
    // Each worker reports when it started and finished; the batch's time runs
    // from the earliest start to the latest finish (the main thread's own
    // wake-up from a barrier can come after most of the work on 2 cores).
    let producers: Vec<_> = (0..p)
        .map(|_| {
            let (q, start) = (q.clone(), start.clone());
            thread::spawn(move || {
                start.wait();
                let t0 = Instant::now();
                for i in 0..per_producer {
                    let mut v = i;
                    let mut failures = 0;
                    while let Err(back) = q.push(v) {
                        v = back;
                        back_off(&mut failures);
                    }
                }
                (t0, Instant::now(), 0u64)
            })
        })
        .collect();
    let consumers: Vec<_> = (0..c)
        .map(|i| {
            let (q, start) = (q.clone(), start.clone());
            let want = per_consumer(i);
            thread::spawn(move || {
                start.wait();
                let t0 = Instant::now();
                let mut sum = 0u64;
                for _ in 0..want {
                    let mut failures = 0;
                    loop {
                        if let Some(v) = q.pop() {
                            sum = sum.wrapping_add(v);
                            break;
                        }
                        back_off(&mut failures);
                    }
                }
                (t0, Instant::now(), sum)
            })
        })
        .collect();
    let spans: Vec<_> = producers
        .into_iter()
        .chain(consumers)
        .map(|t| t.join().expect("worker panicked"))
        .collect();
    let first = spans
        .iter()
        .map(|s| s.0)
        .min()
        .expect("at least one worker");
    let last = spans
        .iter()
        .map(|s| s.1)
        .max()
        .expect("at least one worker");
    // Every item arrived exactly once: the consumers' sums add up.
    let got = spans.iter().fold(0u64, |a, s| a.wrapping_add(s.2));
    let want = (p as u64).wrapping_mul(per_producer.wrapping_mul(per_producer.wrapping_sub(1)) / 2);
    assert_eq!(got, want, "items lost or duplicated in transfer");
    last - first
}
