//! Loom models of the SCQ event queue, one race per test.
//!
//! Run: `RUSTFLAGS="--cfg evlatch_loom -C debug-assertions" LOOM_MAX_PREEMPTIONS=2
//! cargo test --release -p evlatch-verify --test loom_queue`
#![cfg(evlatch_loom)]

use evlatch::{EventQueue, Full};
use loom::sync::Arc;
use loom::thread;

/// Push against pop on an empty queue of capacity 1: the pop sees the value
/// or nothing, and the value is never lost.
#[test]
fn push_vs_pop_capacity_1() {
    loom::model(|| {
        let q = Arc::new(EventQueue::<u32, 1>::new());
        let q2 = q.clone();
        let producer = thread::spawn(move || q2.try_push(1).unwrap());
        let got = q.try_pop();
        producer.join().unwrap();
        match got {
            Some(v) => assert_eq!(v, 1),
            None => assert_eq!(q.try_pop(), Some(1)),
        }
        assert_eq!(q.try_pop(), None);
    });
}

/// Push against pop on a full queue of capacity 1: the push fails only
/// while the pop has not freed the slot, and nothing is lost or duplicated.
#[test]
fn push_vs_pop_full_capacity_1() {
    loom::model(|| {
        let q = Arc::new(EventQueue::<u32, 1>::new());
        q.try_push(1).unwrap();
        let q2 = q.clone();
        let consumer = thread::spawn(move || q2.try_pop());
        let pushed = q.try_push(2);
        assert_eq!(consumer.join().unwrap(), Some(1));
        match pushed {
            Ok(()) => assert_eq!(q.try_pop(), Some(2)),
            Err(Full(v)) => {
                assert_eq!(v, 2);
                assert_eq!(q.try_pop(), None);
            }
        }
    });
}

/// Push against pop at capacity 2 with one value already queued: the pop
/// takes the older value (FIFO) and the pushed one stays.
#[test]
fn push_vs_pop_capacity_2() {
    loom::model(|| {
        let q = Arc::new(EventQueue::<u32, 2>::new());
        q.try_push(1).unwrap();
        let q2 = q.clone();
        let producer = thread::spawn(move || q2.try_push(2).unwrap());
        assert_eq!(q.try_pop(), Some(1));
        producer.join().unwrap();
        assert_eq!(q.try_pop(), Some(2));
        assert_eq!(q.try_pop(), None);
    });
}

/// Push against pop when the tickets cross a cycle boundary (the rings have
/// already wrapped once): entries of the previous cycle must not be taken
/// for the current one.
#[test]
fn wraparound_push_vs_pop() {
    loom::model(|| {
        let q = Arc::new(EventQueue::<u32, 1>::new());
        // Rings of 2 entries: one round trip puts every counter on ticket 1,
        // the last of cycle 0.
        q.try_push(10).unwrap();
        assert_eq!(q.try_pop(), Some(10));
        let q2 = q.clone();
        let producer = thread::spawn(move || {
            q2.try_push(1).unwrap();
        });
        let first = q.try_pop();
        producer.join().unwrap();
        let rest = q.try_pop();
        match (first, rest) {
            (Some(1), None) | (None, Some(1)) => {}
            other => panic!("lost or duplicated across the wrap: {other:?}"),
        }
        q.try_push(2).unwrap();
        assert_eq!(q.try_pop(), Some(2));
    });
}

/// force_push on a full queue against a pop: every value ends up exactly
/// once in the pop, the displaced return, or the queue.
#[test]
fn force_push_vs_pop() {
    loom::model(|| {
        let q = Arc::new(EventQueue::<u32, 1>::new());
        q.try_push(1).unwrap();
        let q2 = q.clone();
        let consumer = thread::spawn(move || q2.try_pop());
        let displaced = q.force_push(2);
        let popped = consumer.join().unwrap();
        let left = q.try_pop();
        let mut seen: Vec<u32> = [displaced, popped, left].into_iter().flatten().collect();
        seen.sort_unstable();
        assert_eq!(seen, [1, 2]);
        assert_eq!(q.dropped(), u64::from(displaced.is_some()));
        // 2 was pushed after 1 and only one pop ran: 1 cannot be left behind.
        assert_ne!(left, Some(1));
    });
}

/// Two force_pushes on a full queue: each displaces a different value and
/// the drop count matches what came back.
#[test]
fn force_push_vs_force_push() {
    loom::model(|| {
        let q = Arc::new(EventQueue::<u32, 1>::new());
        q.try_push(1).unwrap();
        let q2 = q.clone();
        let other = thread::spawn(move || q2.force_push(2));
        let mine = q.force_push(3);
        let theirs = other.join().unwrap();
        let left = q.try_pop();
        let mut seen: Vec<u32> = [mine, theirs, left].into_iter().flatten().collect();
        seen.sort_unstable();
        assert_eq!(seen, [1, 2, 3]);
        let displaced = u64::from(mine.is_some()) + u64::from(theirs.is_some());
        assert_eq!(q.dropped(), displaced);
        assert_eq!(q.try_pop(), None);
    });
}

/// pop_batch against a push: the batch is FIFO and nothing is lost.
#[test]
fn pop_batch_vs_push() {
    loom::model(|| {
        let q = Arc::new(EventQueue::<u32, 2>::new());
        q.try_push(1).unwrap();
        let q2 = q.clone();
        let producer = thread::spawn(move || q2.try_push(2).unwrap());
        let mut out = Vec::new();
        let n = q.pop_batch(&mut out, 2);
        producer.join().unwrap();
        assert_eq!(n, out.len());
        assert_eq!(out.first(), Some(&1));
        q.pop_batch(&mut out, 2);
        assert_eq!(out, [1, 2]);
    });
}

/// Pop against pop on a queue holding one value: exactly one gets it.
#[test]
fn pop_vs_pop() {
    loom::model(|| {
        let q = Arc::new(EventQueue::<u32, 2>::new());
        q.try_push(1).unwrap();
        let q2 = q.clone();
        let other = thread::spawn(move || q2.try_pop());
        let mine = q.try_pop();
        let theirs = other.join().unwrap();
        assert!(mine.is_some() != theirs.is_some());
        assert_eq!(q.try_pop(), None);
    });
}

/// Push against push into the last free slots: both land, in some order.
#[test]
fn push_vs_push() {
    loom::model(|| {
        let q = Arc::new(EventQueue::<u32, 2>::new());
        let q2 = q.clone();
        let other = thread::spawn(move || q2.try_push(1).unwrap());
        q.try_push(2).unwrap();
        other.join().unwrap();
        let mut got = [q.try_pop().unwrap(), q.try_pop().unwrap()];
        got.sort_unstable();
        assert_eq!(got, [1, 2]);
        assert!(q.try_push(3).is_ok());
    });
}

/// heapless #583: two threads each pop then push on a full queue of
/// capacity 2. Each push comes after its own pop freed a slot, so neither may
/// see a spurious `Full`.
#[test]
fn pop_then_push_on_full_never_spuriously_full() {
    loom::model(|| {
        let q = Arc::new(EventQueue::<u32, 2>::new());
        q.try_push(1).unwrap();
        q.try_push(2).unwrap();
        let q2 = q.clone();
        let other = thread::spawn(move || {
            let v = q2.try_pop().expect("queue held two values");
            q2.try_push(v + 10).expect("spurious Full after a pop");
        });
        let v = q.try_pop().expect("queue held two values");
        q.try_push(v + 10).expect("spurious Full after a pop");
        other.join().unwrap();
        let mut got = [q.try_pop().unwrap(), q.try_pop().unwrap()];
        got.sort_unstable();
        assert_eq!(got, [11, 12]);
    });
}
