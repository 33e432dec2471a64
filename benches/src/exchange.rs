//! Lines for the worker exchange (`evlatch_std::exchange`) against
//! timely_communication 0.29, the crate it is modelled on, in `Process(n)`
//! (typed channels) and `ProcessBinary(n)` (serialized, zero-copy).
//!
//! - `exchange.all_to_all.{2,4}w`: timely's exchange workload: every
//!   round, every worker sends a batch of [`BATCH`] `u64` records to every
//!   worker (itself included) and then receives the `BATCH × workers`
//!   records sent to it. One op = one record received by one worker, so
//!   ns/op is the inverse of records/s per worker. With 4 workers the
//!   machine may be oversubscribed. timely sends a batch as one message (a
//!   `Vec<u64>`, allocated per message, as timely dataflow does); evlatch
//!   moves the records through the pair's ring with `send_batch` /
//!   `recv_batch` and reused buffers.
//! - `exchange.pingpong`: two workers bounce one `u64`; one op = one round
//!   trip. Both park when there is nothing to do (timely: `await_events`;
//!   evlatch: `recv`, which spins briefly, then parks).
//!
//! The group notes add what a ratio cannot show: the CPU time a waiting
//! worker uses over a 10 s idle window (from `/proc/thread-self/schedstat`),
//! and heap allocations per message in a steady exchange (a counting
//! global allocator in this module, enabled only while it measures).

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use core::time::Duration;
use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::time::Instant;

use evlatch_std::exchange as ex;
use timely_communication::{Allocator, Bytesable, Pull, Push};

use crate::harness::Harness;

/// Records per batch (per pair, per round).
const BATCH: usize = 256;

/// The fewest records (per worker) an exchange batch moves, and the fewest
/// round trips of a ping-pong batch: a batch starts and joins its worker
/// threads, a fixed cost that must stay small next to the work.
const MIN_RECORDS: u64 = 1 << 17;
const MIN_TRIPS: u64 = 500;

/// Registers the exchange groups.
pub fn register(h: &mut Harness) {
    all_to_all(h, 2);
    all_to_all(h, 4);
    pingpong(h);
}

// ---------------------------------------------------------------------------
// Counting allocator (for the allocations-per-message note)

/// Counts allocations while [`COUNTING`] is set (a relaxed load per
/// allocation otherwise: nothing the timed lines would notice).
struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards to the system allocator unchanged; counting has no
// effect on the memory handed out.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: the caller's contract is passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

// ---------------------------------------------------------------------------
// The exchange workload

/// A batch of records as one timely message.
pub(crate) struct Records(pub(crate) Vec<u64>);

impl Bytesable for Records {
    fn from_bytes(bytes: timely_bytes::arc::Bytes) -> Self {
        Records(
            bytes
                .chunks_exact(8)
                .map(|c| u64::from_le_bytes(c.try_into().expect("8-byte chunks")))
                .collect(),
        )
    }

    fn length_in_bytes(&self) -> usize {
        self.0.len() * 8
    }

    fn into_bytes<W: Write>(&self, writer: &mut W) {
        for v in &self.0 {
            writer
                .write_all(&v.to_le_bytes())
                .expect("in-memory writer");
        }
    }
}

/// Parks a timely worker until it has events, after clearing the ones it
/// handled (timely never clears them itself; a worker that does not would
/// never park).
fn timely_park(alloc: &Allocator) {
    alloc.events().borrow_mut().clear();
    alloc.await_events(None);
}

/// A timely worker's endpoints of one channel: its senders, its receiver.
pub(crate) type TimelyEnds<'a> = (
    &'a mut [Box<dyn Push<Records>>],
    &'a mut Box<dyn Pull<Records>>,
);

/// One round of the all-to-all workload on a timely worker: `batch`
/// records of `round` to every peer, then receive until this round's
/// `batch × peers` records are in, parking with `park` when nothing came.
/// `counts` is (this round's records, the next round's early ones): a peer
/// may be one round ahead. Checks the round's count.
pub(crate) fn timely_round(
    alloc: &mut Allocator,
    (senders, receiver): TimelyEnds<'_>,
    batch: usize,
    round: u64,
    counts: &mut (usize, usize),
    park: fn(&Allocator),
) {
    let expected = batch * alloc.peers();
    let (cur, next) = counts;
    for s in senders.iter_mut() {
        s.send(Records(vec![round; batch]));
        s.done();
    }
    while *cur < expected {
        alloc.receive();
        let mut any = false;
        while let Some(m) = receiver.recv() {
            for &v in &m.0 {
                if v == round {
                    *cur += 1;
                } else {
                    *next += 1;
                }
            }
            any = true;
        }
        alloc.release();
        if !any {
            park(alloc);
        }
    }
    assert_eq!(*cur, expected, "timely: records lost or extra");
    (*cur, *next) = (*next, 0);
}

/// Runs `rounds` exchange rounds on timely with `config`; checks and
/// returns the records received per worker.
fn timely_all_to_all(config: timely_communication::Config, rounds: usize) -> Vec<u64> {
    let guards = timely_communication::initialize(config, move |mut alloc| {
        let (mut senders, mut receiver) = alloc.allocate::<Records>(0);
        let expected = BATCH * alloc.peers();
        // Records carry their round; a peer may be one round ahead, and
        // what arrives early counts for the next round.
        let mut counts = (0, 0);
        for round in 0..rounds as u64 {
            timely_round(
                &mut alloc,
                (&mut senders, &mut receiver),
                BATCH,
                round,
                &mut counts,
                timely_park,
            );
        }
        let (cur, _) = counts;
        assert_eq!(cur, 0, "timely: records after the last round");
        let got = rounds * expected;
        got as u64
    })
    .expect("timely workers start");
    guards
        .join()
        .into_iter()
        .map(|r| r.expect("timely worker"))
        .collect()
}

/// The same rounds on evlatch.
fn evlatch_all_to_all(workers: usize, rounds: usize) -> Vec<u64> {
    let guards = ex::initialize(ex::Config::Process(workers), move |mut w| {
        // A peer is at most one round ahead: two rounds never block.
        let (mut senders, mut receiver) =
            w.allocate_bounded::<u64>(0, 2 * BATCH).expect("allocate");
        let expected = BATCH * w.peers();
        let mut batch = Vec::with_capacity(BATCH);
        let mut inbox = Vec::with_capacity(2 * expected);
        // Records carry their round. A worker finishes a round only with
        // every peer's records of it, so no peer is more than one round
        // ahead and two rounds of capacity never block for good.
        let (mut cur, mut next) = (0, 0);
        for round in 0..rounds as u64 {
            for s in senders.iter_mut() {
                batch.resize(BATCH, round);
                s.send_batch(&mut batch).expect("peers receive every round");
            }
            while cur < expected {
                receiver
                    .recv_batch(&mut inbox, 2 * expected)
                    .expect("peers send every round");
                for v in inbox.drain(..) {
                    if v == round {
                        cur += 1;
                    } else {
                        next += 1;
                    }
                }
            }
            assert_eq!(cur, expected, "evlatch: records lost or extra");
            (cur, next) = (next, 0);
        }
        assert_eq!(cur, 0, "evlatch: records after the last round");
        (rounds * expected) as u64
    })
    .expect("evlatch workers start");
    guards
        .join()
        .into_iter()
        .map(|r| r.expect("evlatch worker"))
        .collect()
}

/// Times `run(rounds)` for at least [`MIN_RECORDS`] records per worker,
/// scaled to `iters` records per worker.
fn exchange_batch(iters: u64, workers: usize, run: impl Fn(usize) -> Vec<u64>) -> Duration {
    let per_round = (BATCH * workers) as u64;
    let records = iters.max(MIN_RECORDS);
    let rounds = records.div_ceil(per_round) as usize;
    let start = Instant::now();
    let got = run(rounds);
    let elapsed = start.elapsed();
    assert!(got.iter().all(|&g| g == rounds as u64 * per_round));
    elapsed.mul_f64(iters as f64 / (rounds as u64 * per_round) as f64)
}

fn all_to_all(h: &mut Harness, workers: usize) {
    let name = format!("exchange.all_to_all.{workers}w");
    if !h.selects(&name) {
        return;
    }
    let note = format!(
        "heap allocations per record received, steady state: timely Process {:.3}, evlatch {:.3}; \
         per round, all workers: timely Process {}, evlatch {}",
        allocations_per_record(|r| {
            timely_all_to_all(timely_communication::Config::Process(workers), r)
        }),
        allocations_per_record(|r| evlatch_all_to_all(workers, r)),
        switches_per_round(|r| {
            timely_all_to_all(timely_communication::Config::Process(workers), r)
        }),
        switches_per_round(|r| evlatch_all_to_all(workers, r)),
    );
    h.group(
        &name,
        &format!(
            "{workers} workers all-to-all, {BATCH}-record u64 batches per pair per round; op = one record received by one worker"
        ),
    )
    .baseline_timed("timely_communication Process", move |iters| {
        exchange_batch(iters, workers, |r| {
            timely_all_to_all(timely_communication::Config::Process(workers), r)
        })
    })
    .line_timed("timely_communication ProcessBinary", move |iters| {
        exchange_batch(iters, workers, |r| {
            timely_all_to_all(timely_communication::Config::ProcessBinary(workers), r)
        })
    })
    .line_timed("evlatch exchange", move |iters| {
        exchange_batch(iters, workers, |r| evlatch_all_to_all(workers, r))
    })
    .goal(0.5)
    .note(&note)
    .run();
}

/// Context switches (voluntary, involuntary) and CPU time (user + system,
/// µs) of this whole process so far, every thread included, joined ones
/// too (Linux `getrusage`).
#[cfg(target_os = "linux")]
fn context_switches() -> Option<(i64, i64, i64)> {
    /// `struct rusage` on Linux: two `timeval`s, then 14 `long`s, of which
    /// `ru_nvcsw` and `ru_nivcsw` are the last two.
    #[repr(C)]
    struct Rusage {
        times: [i64; 4],
        longs: [i64; 14],
    }
    unsafe extern "C" {
        fn getrusage(who: i32, usage: *mut Rusage) -> i32;
    }
    let mut usage = Rusage {
        times: [0; 4],
        longs: [0; 14],
    };
    // SAFETY: `usage` is a valid, writable `struct rusage` (the layout
    // above, 64-bit Linux); `RUSAGE_SELF` is 0.
    let rc = unsafe { getrusage(0, &mut usage) };
    let [us, uu, ss, su] = usage.times;
    let cpu_us = (us + ss) * 1_000_000 + uu + su;
    (rc == 0).then_some((usage.longs[12], usage.longs[13], cpu_us))
}

#[cfg(not(target_os = "linux"))]
fn context_switches() -> Option<(i64, i64, i64)> {
    None
}

/// Context switches and CPU time per round of `run(rounds)` (the
/// difference between a long and a short run, so that thread start-up
/// cancels out), as "voluntary + involuntary switches, CPU µs".
fn switches_per_round(run: impl Fn(usize) -> Vec<u64>) -> String {
    let count = |rounds| {
        let before = context_switches()?;
        run(rounds);
        let after = context_switches()?;
        Some((after.0 - before.0, after.1 - before.1, after.2 - before.2))
    };
    match (count(10), count(410)) {
        (Some(short), Some(long)) => format!(
            "{:.1} + {:.1} switches, {:.1} µs CPU",
            (long.0 - short.0) as f64 / 400.0,
            (long.1 - short.1) as f64 / 400.0,
            (long.2 - short.2) as f64 / 400.0
        ),
        _ => "n/a".to_owned(),
    }
}

/// Heap allocations per record received over a steady run of `run(rounds)`
/// (the difference between a long and a short run, so that setup —
/// threads, channels, buffers — cancels out).
fn allocations_per_record(run: impl Fn(usize) -> Vec<u64>) -> f64 {
    let count = |rounds| {
        COUNTING.store(true, Ordering::SeqCst);
        let before = ALLOCATIONS.load(Ordering::SeqCst);
        let got: u64 = run(rounds).iter().sum();
        let after = ALLOCATIONS.load(Ordering::SeqCst);
        COUNTING.store(false, Ordering::SeqCst);
        (after - before, got)
    };
    let (a_short, r_short) = count(10);
    let (a_long, r_long) = count(210);
    a_long.saturating_sub(a_short) as f64 / (r_long - r_short) as f64
}

// ---------------------------------------------------------------------------
// Ping-pong and idle CPU

fn timely_pingpong(trips: u64) {
    let guards = timely_communication::initialize(
        timely_communication::Config::Process(2),
        move |mut alloc| {
            let (mut senders, mut receiver) = alloc.allocate::<Records>(0);
            let peer = 1 - alloc.index();
            let mut recv_one = |alloc: &mut Allocator| loop {
                alloc.receive();
                if let Some(m) = receiver.recv() {
                    alloc.release();
                    return m;
                }
                alloc.release();
                timely_park(alloc);
            };
            for i in 0..trips {
                if alloc.index() == 0 {
                    senders[peer].send(Records(vec![i]));
                    senders[peer].done();
                    let m = recv_one(&mut alloc);
                    assert_eq!(m.0[0], i);
                } else {
                    let m = recv_one(&mut alloc);
                    senders[peer].send(m);
                    senders[peer].done();
                }
            }
        },
    )
    .expect("timely workers start");
    for r in guards.join() {
        r.expect("timely worker");
    }
}

fn evlatch_pingpong(trips: u64) {
    let guards = ex::initialize(ex::Config::Process(2), move |mut w| {
        let (mut senders, mut receiver) = w.allocate::<u64>(0).expect("allocate");
        let peer = 1 - w.index();
        for i in 0..trips {
            if w.index() == 0 {
                senders[peer].send(i).expect("peer");
                assert_eq!(receiver.recv(), Ok(i));
            } else {
                let v = receiver.recv().expect("peer");
                senders[peer].send(v).expect("peer");
            }
        }
    })
    .expect("evlatch workers start");
    for r in guards.join() {
        r.expect("evlatch worker");
    }
}

fn trips_batch(iters: u64, run: impl Fn(u64)) -> Duration {
    let trips = iters.max(MIN_TRIPS);
    let start = Instant::now();
    run(trips);
    start.elapsed().mul_f64(iters as f64 / trips as f64)
}

/// CPU time this thread has used (Linux: `/proc/thread-self/schedstat`).
fn thread_cpu() -> Option<Duration> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = s.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// CPU time a worker uses while it waits `window` for a message that
/// never comes (its peer holds its sender open and waits too).
fn idle_cpu_evlatch(window: Duration) -> Option<Duration> {
    let guards = ex::initialize(ex::Config::Process(2), move |mut w| {
        let (_senders, _receiver) = w.allocate::<u64>(0).expect("allocate");
        let start = thread_cpu();
        let deadline = Instant::now() + window;
        while Instant::now() < deadline {
            let _ = w.wait(Some(deadline - Instant::now()));
        }
        Some(thread_cpu()? - start?)
    })
    .ok()?;
    guards.join().into_iter().next()?.ok()?
}

fn idle_cpu_timely(window: Duration) -> Option<Duration> {
    let guards = timely_communication::initialize(
        timely_communication::Config::Process(2),
        move |mut alloc| {
            let (_senders, _receiver) = alloc.allocate::<Records>(0);
            let start = thread_cpu();
            let deadline = Instant::now() + window;
            while Instant::now() < deadline {
                alloc.receive();
                alloc.release();
                alloc.events().borrow_mut().clear();
                alloc.await_events(Some(deadline - Instant::now()));
            }
            Some(thread_cpu()? - start?)
        },
    )
    .ok()?;
    guards.join().into_iter().next()?.ok()?
}

fn pingpong(h: &mut Harness) {
    let name = "exchange.pingpong";
    if !h.selects(name) {
        return;
    }
    // The 10 s window. timely's and evlatch's waiting workers are
    // measured at the same time (both only wait: neither disturbs the
    // other, and the group stays within its time budget).
    let window = if h.is_quick() {
        Duration::from_millis(200)
    } else {
        Duration::from_secs(10)
    };
    let show = |d: Option<Duration>| {
        d.map_or_else(
            || "n/a".to_owned(),
            |d| format!("{:.2} ms", d.as_secs_f64() * 1e3),
        )
    };
    let timely = std::thread::spawn(move || idle_cpu_timely(window));
    let evlatch = idle_cpu_evlatch(window);
    let timely = timely.join().ok().flatten();
    let note = format!(
        "CPU time of a worker waiting {:.1} s for nothing (both measured at once): timely {}, evlatch {}",
        window.as_secs_f64(),
        show(timely),
        show(evlatch),
    );
    h.group(
        name,
        "two workers bounce one u64, both parking when idle; op = one round trip",
    )
    .baseline_timed("timely_communication Process (await_events)", |iters| {
        trips_batch(iters, timely_pingpong)
    })
    .line_timed("evlatch exchange (recv)", |iters| {
        trips_batch(iters, evlatch_pingpong)
    })
    .goal(0.5)
    .note(&note)
    .run();
}
