//! crossbeam's linearizability check, on both rings: 4 threads, each
//! `push(0)` then `try_pop().unwrap()`, 25 000 times, capacity 4.
//!
//! A thread's own push returns before its pop begins and at most four values
//! are ever queued, so at the pop's start the queue holds a value that no
//! completed pop has taken: a linearizable `try_pop` cannot say empty, and a
//! `try_push` cannot say full (at most 3 other threads hold a value). A ring
//! that answers from a neighbour's in-flight push or pop instead of waiting
//! it out fails here on a multi-core machine within a few runs.
//!
//! A correctness test, not a timing: each run repeats the check
//! [`RUNS`] times (many in release, where the race window is narrowest).

use std::sync::Arc;
use std::thread;

use evlatch::{EventQueue, HeapEventQueue, HeapStampQueue, StampQueue};

const THREADS: usize = 4;
const ROUNDS: usize = 25_000;
/// How many times each ring runs the check.
const RUNS: usize = if cfg!(debug_assertions) { 2 } else { 200 };

/// The operations the check needs, for every ring.
trait Ring: Send + Sync + 'static {
    fn push(&self, v: u32) -> bool;
    fn pop(&self) -> Option<u32>;
}

macro_rules! ring {
    ($($t:ty),*) => {$(
        impl Ring for $t {
            fn push(&self, v: u32) -> bool {
                self.try_push(v).is_ok()
            }
            fn pop(&self) -> Option<u32> {
                self.try_pop()
            }
        }
    )*};
}
ring!(
    StampQueue<u32, 4>,
    HeapStampQueue<u32>,
    EventQueue<u32, 4>,
    HeapEventQueue<u32>
);

fn check<Q: Ring>(make: fn() -> Q) {
    for run in 0..RUNS {
        let q = Arc::new(make());
        let threads: Vec<_> = (0..THREADS)
            .map(|_| {
                let q = Arc::clone(&q);
                thread::spawn(move || {
                    for round in 0..ROUNDS {
                        assert!(q.push(0), "run {run} round {round}: Full with room left");
                        assert!(
                            q.pop().is_some(),
                            "run {run} round {round}: empty after this thread's own push"
                        );
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert!(q.pop().is_none());
    }
}

#[test]
fn stamp_queue_is_linearizable() {
    check(StampQueue::<u32, 4>::new);
}

#[test]
fn heap_stamp_queue_is_linearizable() {
    check(|| HeapStampQueue::<u32>::with_capacity(4).unwrap());
}

#[test]
fn event_queue_is_linearizable() {
    check(EventQueue::<u32, 4>::new);
}

#[test]
fn heap_event_queue_is_linearizable() {
    check(|| HeapEventQueue::<u32>::with_capacity(4).unwrap());
}
