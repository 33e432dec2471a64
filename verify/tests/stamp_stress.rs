//! Stress tests of the stamp ring (`StampQueue`) on real threads: nothing
//! lost, nothing duplicated, every displaced value counted; and, with
//! `--cfg evlatch_stall_hook`, the proof on real threads that it is not
//! lock-free: a thread parked between its claim and its completion stops
//! the others.
//!
//! Full size (10 000 000 items) under `--release`; debug builds run fewer.

use std::sync::Arc;
use std::thread;

use evlatch::{Full, StampQueue};
use evlatch_verify::stress;

/// 4 producers (`try_push`) and 4 consumers, [`stress::ITEMS`] items: each popped once.
#[test]
fn four_by_four_every_item_once() {
    stress::run::<StampQueue<u64, 64>>(0);
}

/// As above with every 3rd item pushed by `force_push`: each item is popped
/// or displaced exactly once, and `dropped()` counts the displaced.
#[test]
fn four_by_four_with_force_push_accounts_for_every_item() {
    stress::run::<StampQueue<u64, 64>>(3);
}

/// heapless #583 on the stamp ring: threads that each pop and then push on a
/// full queue of four. The stamp ring waits out a neighbour's pop in flight
/// on the next slot instead of answering `Full` right after this thread's own
/// pop, and a neighbour's push in flight at the head instead of answering
/// `None` while values are queued (linearizable; shown deterministically in
/// the core's unit tests and by `queue_linearizable`). Here: retrying on
/// either (should one still come back) loses and duplicates nothing, and the
/// four values are all there at the end. Prints how often each happened.
fn pop_then_push_on_full(threads: usize, rounds: u64) {
    let q = Arc::new(StampQueue::<u64, 4>::new());
    for v in 0..4 {
        q.try_push(v).unwrap();
    }
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let q = q.clone();
            thread::spawn(move || {
                let (mut nones, mut fulls) = (0u64, 0u64);
                for _ in 0..rounds {
                    let mut v = loop {
                        match q.try_pop() {
                            Some(v) => break v,
                            None => {
                                nones += 1;
                                thread::yield_now();
                            }
                        }
                    };
                    while let Err(Full(back)) = q.try_push(v) {
                        v = back;
                        fulls += 1;
                        thread::yield_now();
                    }
                }
                (nones, fulls)
            })
        })
        .collect();
    let (mut nones, mut fulls) = (0, 0);
    for w in workers {
        let (n, f) = w.join().unwrap();
        nones += n;
        fulls += f;
    }
    eprintln!(
        "{threads} threads x {rounds} pop-then-push rounds: {fulls} Full after own pop, \
         {nones} empty pops (each retried)"
    );
    let mut left: Vec<u64> = std::iter::from_fn(|| q.try_pop()).collect();
    left.sort_unstable();
    assert_eq!(left, [0, 1, 2, 3]);
}

/// heapless #583 with two threads on a full queue of four.
#[test]
fn heapless_583_two_threads_pop_then_push_lose_nothing() {
    let rounds = if cfg!(debug_assertions) {
        100_000
    } else {
        2_000_000
    };
    pop_then_push_on_full(2, rounds);
}

/// The same with four threads (each holds at most one of the four values).
#[test]
fn heapless_583_four_threads_pop_then_push_lose_nothing() {
    let rounds = if cfg!(debug_assertions) {
        50_000
    } else {
        1_000_000
    };
    pop_then_push_on_full(4, rounds);
}

#[cfg(not(evlatch_stall_hook))]
#[test]
#[ignore = "build with RUSTFLAGS=\"--cfg evlatch_stall_hook\" to run the stall proofs"]
fn stall_proofs_need_the_stall_hook_cfg() {}

/// The stamp ring is not lock-free, on real threads: a producer (then a
/// consumer) parked by the stall hook between its claim and its completion
/// stops every other thread's pops (then pushes) while the values (then the
/// room) are logically there, until it is released: each of them keeps
/// finding the slot in flight and waiting for it (counted through the hook's
/// `WaitsForNeighbour` point), and none completes. Deterministic: the parked
/// thread stays parked until the test releases it, and the others are
/// checked after a fixed number of waits each (no timing is asserted).
#[cfg(evlatch_stall_hook)]
mod stalled {
    use std::cell::Cell;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
    use std::sync::{Arc, Mutex};
    use std::thread;
    use std::time::{Duration, Instant};

    use evlatch::stall::{set_hook, StallPoint};
    use evlatch::{Full, StampQueue};

    /// Rounds of waiting each other thread goes through while one is parked.
    const ATTEMPTS: usize = 20_000;
    /// Other threads that try.
    const OTHERS: usize = 2;
    /// A generous limit for a thread to reach its stall point (or its
    /// waits), after which the test fails instead of hanging CI.
    const STUCK_AFTER: Duration = Duration::from_secs(120);

    /// One stall scenario at a time (the hook is process-wide).
    static SERIAL: Mutex<()> = Mutex::new(());
    static REACHED: AtomicBool = AtomicBool::new(false);
    static RELEASE: AtomicBool = AtomicBool::new(false);
    /// Rounds of waiting of each other thread.
    static WAITS: [AtomicUsize; OTHERS] = [const { AtomicUsize::new(0) }; OTHERS];
    /// Operations the other threads completed.
    static DONE: AtomicUsize = AtomicUsize::new(0);

    thread_local! {
        static STALL_AT: Cell<Option<StallPoint>> = const { Cell::new(None) };
        /// Which of the other threads this is.
        static OTHER: Cell<Option<usize>> = const { Cell::new(None) };
    }

    fn hook(at: StallPoint) {
        if at == StallPoint::WaitsForNeighbour {
            if let Some(i) = OTHER.with(|o| o.get()) {
                WAITS[i].fetch_add(1, SeqCst);
            }
        }
        if STALL_AT.with(|s| s.get()) == Some(at) {
            STALL_AT.with(|s| s.set(None));
            REACHED.store(true, SeqCst);
            while !RELEASE.load(SeqCst) {
                thread::park_timeout(Duration::from_millis(1));
            }
        }
    }

    fn wait_until(what: &str, done: impl Fn() -> bool) {
        let start = Instant::now();
        while !done() {
            assert!(start.elapsed() < STUCK_AFTER, "never {what}");
            thread::yield_now();
        }
    }

    /// Installs the hook and spawns `op` on a thread that parks at `at`;
    /// returns once it is parked.
    fn park_at<R: Send + 'static>(
        at: StallPoint,
        op: impl FnOnce() -> R + Send + 'static,
    ) -> thread::JoinHandle<R> {
        REACHED.store(false, SeqCst);
        RELEASE.store(false, SeqCst);
        set_hook(Some(hook));
        let parked = thread::spawn(move || {
            STALL_AT.with(|s| s.set(Some(at)));
            op()
        });
        wait_until(&format!("reached {at:?}"), || REACHED.load(SeqCst));
        parked
    }

    /// Runs `op` once on each of OTHERS threads; returns once each has
    /// waited ATTEMPTS rounds (or completed), with the threads' handles.
    fn others_try<R: Send + 'static>(
        q: &Arc<StampQueue<u64, 8>>,
        op: fn(&StampQueue<u64, 8>) -> R,
    ) -> Vec<thread::JoinHandle<R>> {
        DONE.store(0, SeqCst);
        let threads: Vec<_> = (0..OTHERS)
            .map(|i| {
                WAITS[i].store(0, SeqCst);
                let q = q.clone();
                thread::spawn(move || {
                    OTHER.with(|o| o.set(Some(i)));
                    let r = op(&q);
                    DONE.fetch_add(1, SeqCst);
                    r
                })
            })
            .collect();
        for (i, waits) in WAITS.iter().enumerate() {
            wait_until(&format!("waited {ATTEMPTS} rounds (thread {i})"), || {
                waits.load(SeqCst) >= ATTEMPTS || DONE.load(SeqCst) == OTHERS
            });
        }
        threads
    }

    /// A producer parked after claiming position 0: the seven values pushed
    /// after it are in the queue, yet no pop of any other thread completes
    /// (each waits for the parked push); `try_push` still says `Full` (the
    /// queue holds 8); released, all eight come out in order.
    #[test]
    fn parked_producer_blocks_every_consumer() {
        let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let q = Arc::new(StampQueue::<u64, 8>::new());
        let parked = {
            let q = q.clone();
            park_at(StallPoint::PushHoldsSlot, move || q.try_push(100).is_ok())
        };
        for v in 1..8 {
            q.try_push(v).unwrap();
        }
        assert_eq!(q.len(), 8);
        let others = others_try(&q, |q| q.try_pop());
        assert_eq!(
            DONE.load(SeqCst),
            0,
            "a consumer got past the parked producer"
        );
        assert_eq!(q.len(), 8);
        assert_eq!(q.try_push(8), Err(Full(8)));
        RELEASE.store(true, SeqCst);
        assert!(parked.join().unwrap());
        let mut all: Vec<u64> = others
            .into_iter()
            .map(|t| t.join().unwrap().unwrap())
            .collect();
        set_hook(None);
        all.sort_unstable();
        assert_eq!(all, [1, 100], "the waiting pops took the first two values");
        all.extend(std::iter::from_fn(|| q.try_pop()));
        assert_eq!(all, [1, 100, 2, 3, 4, 5, 6, 7]);
    }

    /// A consumer parked after claiming position 0: once the ring wraps to
    /// its slot, no push of any other thread completes (each waits for the
    /// parked pop) although the queue is empty, and `force_push` gives its
    /// own value back; released, the pushes go through.
    #[test]
    fn parked_consumer_blocks_every_producer_once_the_ring_wraps() {
        let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let q = Arc::new(StampQueue::<u64, 8>::new());
        q.try_push(100).unwrap();
        let parked = {
            let q = q.clone();
            park_at(StallPoint::PopHoldsSlot, move || q.try_pop())
        };
        // Positions 1..=7 use the other slots; then pop them all.
        for v in 1..8 {
            q.try_push(v).unwrap();
        }
        for v in 1..8 {
            assert_eq!(q.try_pop(), Some(v));
        }
        assert!(q.is_empty());
        let others = others_try(&q, |q| q.try_push(1));
        assert_eq!(
            DONE.load(SeqCst),
            0,
            "a producer got past the parked consumer"
        );
        assert_eq!(
            q.force_push(9),
            Some(9),
            "force_push cannot make room either"
        );
        RELEASE.store(true, SeqCst);
        assert_eq!(parked.join().unwrap(), Some(100));
        for t in others {
            assert_eq!(t.join().unwrap(), Ok(()));
        }
        set_hook(None);
        q.try_push(10).unwrap();
        assert_eq!(q.try_pop(), Some(1));
        assert_eq!(q.try_pop(), Some(1));
        assert_eq!(q.try_pop(), Some(10));
        assert_eq!(q.try_pop(), None);
    }
}
