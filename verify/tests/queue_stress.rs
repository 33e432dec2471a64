//! Stress tests of the event queue on real threads: nothing lost, nothing
//! duplicated, every displaced value counted, no spurious `Full`.
//!
//! Full size (10 000 000 items) under `--release`; debug builds run fewer.

use std::sync::Arc;
use std::thread;

use evlatch::{EventQueue, Full};
use evlatch_verify::stress;

/// 4 producers (`try_push`) and 4 consumers, [`stress::ITEMS`] items: each popped once.
#[test]
fn four_by_four_every_item_once() {
    stress::run::<EventQueue<u64, 64>>(0);
}

/// As above with every 3rd item pushed by `force_push`: each item is popped
/// or displaced exactly once, and `dropped()` counts the displaced.
#[test]
fn four_by_four_with_force_push_accounts_for_every_item() {
    stress::run::<EventQueue<u64, 64>>(3);
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
