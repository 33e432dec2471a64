//! Stress tests of the event queue on real threads: nothing lost, nothing
//! duplicated, every displaced value counted, no spurious `Full`.
//!
//! Full size (10 000 000 items) under `--release`; debug builds run fewer.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering::SeqCst};
use std::sync::Arc;
use std::thread;

use evlatch::{EventQueue, Full};

/// Items pushed by each stress test: 10M in release, fewer in debug.
const ITEMS: u64 = if cfg!(debug_assertions) {
    200_000
} else {
    10_000_000
};
const PRODUCERS: u64 = 4;
const CONSUMERS: usize = 4;

/// For every item, how many times it came out (popped or displaced).
struct Ledger(Vec<AtomicU8>);

impl Ledger {
    fn new(n: u64) -> Self {
        Ledger((0..n).map(|_| AtomicU8::new(0)).collect())
    }

    fn record(&self, v: u64) {
        let before = self.0[v as usize].fetch_add(1, SeqCst);
        assert_eq!(before, 0, "item {v} came out twice");
    }

    fn assert_all_once(&self) {
        if let Some(v) = self.0.iter().position(|c| c.load(SeqCst) != 1) {
            panic!("item {v} came out {} times", self.0[v].load(SeqCst));
        }
    }
}

/// Runs PRODUCERS producers pushing ITEMS items (with `force_push` for every
/// `force_every`-th item, never if 0) and CONSUMERS consumers; checks that
/// popped + displaced + left == pushed with no item twice, and that
/// `dropped()` equals the number of displaced values returned.
fn run(force_every: u64) {
    let q = Arc::new(EventQueue::<u64, 64>::new());
    let ledger = Arc::new(Ledger::new(ITEMS));
    let done = Arc::new(AtomicBool::new(false));
    let displaced = Arc::new(AtomicU64::new(0));
    let per = ITEMS / PRODUCERS;

    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let (q, ledger, displaced) = (q.clone(), ledger.clone(), displaced.clone());
            thread::spawn(move || {
                for i in p * per..(p + 1) * per {
                    if force_every != 0 && i % force_every == 0 {
                        if let Some(old) = q.force_push(i) {
                            ledger.record(old);
                            displaced.fetch_add(1, SeqCst);
                        }
                        continue;
                    }
                    let mut v = i;
                    while let Err(Full(back)) = q.try_push(v) {
                        v = back;
                        thread::yield_now();
                    }
                }
            })
        })
        .collect();
    let consumers: Vec<_> = (0..CONSUMERS)
        .map(|_| {
            let (q, ledger, done) = (q.clone(), ledger.clone(), done.clone());
            thread::spawn(move || {
                let mut popped = 0u64;
                loop {
                    match q.try_pop() {
                        Some(v) => {
                            ledger.record(v);
                            popped += 1;
                        }
                        None if done.load(SeqCst) => {
                            // Producers are finished: drain what is left.
                            while let Some(v) = q.try_pop() {
                                ledger.record(v);
                                popped += 1;
                            }
                            return popped;
                        }
                        None => thread::yield_now(),
                    }
                }
            })
        })
        .collect();
    for p in producers {
        p.join().unwrap();
    }
    done.store(true, SeqCst);
    let popped: u64 = consumers.into_iter().map(|c| c.join().unwrap()).sum();
    assert!(q.is_empty());
    assert_eq!(q.try_pop(), None);
    let displaced = displaced.load(SeqCst);
    assert_eq!(popped + displaced, ITEMS, "popped + dropped != pushed");
    assert_eq!(q.dropped(), displaced);
    ledger.assert_all_once();
}

/// 4 producers (`try_push`) and 4 consumers, ITEMS items: each popped once.
#[test]
fn four_by_four_every_item_once() {
    run(0);
}

/// As above with every 3rd item pushed by `force_push`: each item is popped
/// or displaced exactly once, and `dropped()` counts the displaced.
#[test]
fn four_by_four_with_force_push_accounts_for_every_item() {
    run(3);
}

/// heapless #583: threads that each pop and then push on a full queue must
/// never see a spurious `Full` (their own pop freed a slot) nor a spurious
/// empty pop (at most one value per thread is out of the queue).
fn pop_then_push_on_full(threads: usize, rounds: u64, q: Arc<EventQueue<u64, 4>>) {
    for v in 0..4 {
        q.try_push(v).unwrap();
    }
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let q = q.clone();
            thread::spawn(move || {
                for _ in 0..rounds {
                    let v = q
                        .try_pop()
                        .expect("spurious empty: the queue holds at least one value");
                    if let Err(Full(_)) = q.try_push(v) {
                        panic!("spurious Full right after this thread's pop");
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let mut left: Vec<u64> = std::iter::from_fn(|| q.try_pop()).collect();
    left.sort_unstable();
    assert_eq!(left, [0, 1, 2, 3]);
}

/// heapless #583 with two threads on a full queue of four.
#[test]
fn heapless_583_two_threads_pop_then_push_never_spuriously_full() {
    let rounds = if cfg!(debug_assertions) {
        100_000
    } else {
        2_000_000
    };
    pop_then_push_on_full(2, rounds, Arc::new(EventQueue::new()));
}

/// The same with four threads (each holds at most one of the four values).
#[test]
fn heapless_583_four_threads_pop_then_push_never_spuriously_full() {
    let rounds = if cfg!(debug_assertions) {
        50_000
    } else {
        1_000_000
    };
    pop_then_push_on_full(4, rounds, Arc::new(EventQueue::new()));
}
