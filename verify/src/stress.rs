//! The 4-producer / 4-consumer stress driver shared by the queue stress
//! tests (`tests/queue_stress.rs`, `tests/stamp_stress.rs`): every item is
//! accounted for exactly once, popped or displaced.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering::SeqCst};
use std::sync::Arc;
use std::thread;

use evlatch::{EventQueue, Full, StampQueue};

/// What the driver needs of a queue of 64 `u64`s.
pub trait StressQueue: Send + Sync + 'static {
    /// An empty queue.
    fn fresh() -> Self;
    /// `try_push`.
    fn try_push(&self, v: u64) -> Result<(), Full<u64>>;
    /// `force_push`.
    fn force_push(&self, v: u64) -> Option<u64>;
    /// `try_pop`.
    fn try_pop(&self) -> Option<u64>;
    /// `is_empty`.
    fn is_empty(&self) -> bool;
    /// `dropped`.
    fn dropped(&self) -> u64;
}

macro_rules! stress_queue {
    ($($ty:ty),*) => {$(
        impl StressQueue for $ty {
            fn fresh() -> Self {
                <$ty>::new()
            }
            fn try_push(&self, v: u64) -> Result<(), Full<u64>> {
                <$ty>::try_push(self, v)
            }
            fn force_push(&self, v: u64) -> Option<u64> {
                <$ty>::force_push(self, v)
            }
            fn try_pop(&self) -> Option<u64> {
                <$ty>::try_pop(self)
            }
            fn is_empty(&self) -> bool {
                <$ty>::is_empty(self)
            }
            fn dropped(&self) -> u64 {
                <$ty>::dropped(self)
            }
        }
    )*};
}

stress_queue!(EventQueue<u64, 64>, StampQueue<u64, 64>);

/// Items pushed by each stress test: 10M in release, fewer in debug.
pub const ITEMS: u64 = if cfg!(debug_assertions) {
    200_000
} else {
    10_000_000
};
/// Producer threads.
pub const PRODUCERS: u64 = 4;
/// Consumer threads.
pub const CONSUMERS: usize = 4;

/// For every item, how many times it came out (popped or displaced).
pub struct Ledger(Vec<AtomicU8>);

impl Ledger {
    /// A ledger of `n` items, none out yet.
    pub fn new(n: u64) -> Self {
        Ledger((0..n).map(|_| AtomicU8::new(0)).collect())
    }

    /// Item `v` came out; panics if it already had.
    pub fn record(&self, v: u64) {
        let before = self.0[v as usize].fetch_add(1, SeqCst);
        assert_eq!(before, 0, "item {v} came out twice");
    }

    /// Panics unless every item came out exactly once.
    pub fn assert_all_once(&self) {
        if let Some(v) = self.0.iter().position(|c| c.load(SeqCst) != 1) {
            panic!("item {v} came out {} times", self.0[v].load(SeqCst));
        }
    }
}

/// Runs PRODUCERS producers pushing ITEMS items (with `force_push` for every
/// `force_every`-th item, never if 0) and CONSUMERS consumers; checks that
/// popped + displaced + left == pushed with no item twice, and that
/// `dropped()` equals the number of displaced values returned.
pub fn run<Q: StressQueue>(force_every: u64) {
    let q = Arc::new(Q::fresh());
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
