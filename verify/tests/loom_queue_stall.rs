//! Loom models of the queue's progress guarantee: a thread stopped between
//! its reservation and its completion must not stop the others.
//!
//! Needs both cfgs: `RUSTFLAGS="--cfg evlatch_loom --cfg evlatch_stall_hook
//! -C debug-assertions" LOOM_MAX_PREEMPTIONS=2 cargo test --release
//! -p evlatch-verify --test loom_queue_stall`. The stopped thread waits in the
//! stall hook until the other thread has finished; if the other thread needed
//! it to move on, its operations would fail (and the asserts with them) or
//! the model would never end.
#![cfg(all(evlatch_loom, evlatch_stall_hook))]

use std::cell::Cell;

use evlatch::stall::{set_hook, StallPoint};
use evlatch::EventQueue;
use loom::sync::atomic::{AtomicBool, Ordering::SeqCst};
use loom::sync::Arc;
use loom::thread;

loom::lazy_static! {
    /// Set by the stopped thread when it reaches its stall point.
    static ref REACHED: AtomicBool = AtomicBool::new(false);
    /// Set by the thread that must not wait for it, once it is done.
    static ref RELEASE: AtomicBool = AtomicBool::new(false);
    /// A second stopped thread's flags, for scenarios that stop two at once.
    static ref REACHED_2: AtomicBool = AtomicBool::new(false);
    static ref RELEASE_2: AtomicBool = AtomicBool::new(false);
}

loom::thread_local! {
    /// The point at which this thread stops (once), and whether it is the
    /// second stopped thread (its flags are `REACHED_2` / `RELEASE_2`).
    static STALL_AT: Cell<Option<(StallPoint, bool)>> = Cell::new(None);
}

/// The one hook of this test binary (the hook is process-wide and the
/// tests run in parallel): stops the thread at its `STALL_AT` point until
/// its release flag is set.
fn hook(at: StallPoint) {
    let Some((point, second)) = STALL_AT.with(|s| s.get()) else {
        return;
    };
    if point == at {
        STALL_AT.with(|s| s.set(None));
        let (reached, release) = if second {
            (&*REACHED_2, &*RELEASE_2)
        } else {
            (&*REACHED, &*RELEASE)
        };
        reached.store(true, SeqCst);
        while !release.load(SeqCst) {
            thread::yield_now();
        }
    }
}

/// Waits until the stopped thread is at its stall point.
fn wait_until_stopped() {
    wait_for(&REACHED);
}

fn wait_for(flag: &AtomicBool) {
    while !flag.load(SeqCst) {
        thread::yield_now();
    }
}

/// A producer stopped at `at` while another thread pushes and pops five
/// times (its tickets wrap the rings past the stopped one).
fn stalled_producer(at: StallPoint) {
    set_hook(Some(hook));
    loom::model(move || {
        let q = Arc::new(EventQueue::<u32, 2>::new());
        let q2 = q.clone();
        let stalled = thread::spawn(move || {
            STALL_AT.with(|s| s.set(Some((at, false))));
            q2.try_push(100).unwrap();
        });
        wait_until_stopped();
        for v in 1..=5 {
            q.try_push(v)
                .expect("a stopped producer made the queue look full");
            assert_eq!(q.try_pop(), Some(v), "a stopped producer hid a value");
        }
        RELEASE.store(true, SeqCst);
        stalled.join().unwrap();
        assert_eq!(q.try_pop(), Some(100));
        assert_eq!(q.try_pop(), None);
    });
}

/// A consumer stopped at `at` while popping the only value, while another
/// thread pushes and pops five times (its tickets wrap the rings past the
/// stopped one).
fn stalled_consumer(at: StallPoint) {
    set_hook(Some(hook));
    loom::model(move || {
        let q = Arc::new(EventQueue::<u32, 2>::new());
        q.try_push(100).unwrap();
        let q2 = q.clone();
        let stalled = thread::spawn(move || {
            STALL_AT.with(|s| s.set(Some((at, false))));
            q2.try_pop()
        });
        wait_until_stopped();
        for v in 1..=5 {
            q.try_push(v)
                .expect("a stopped consumer made the queue look full");
            assert_eq!(q.try_pop(), Some(v), "a stopped consumer hid a value");
        }
        RELEASE.store(true, SeqCst);
        assert_eq!(stalled.join().unwrap(), Some(100));
        assert_eq!(q.try_pop(), None);
    });
}

/// Producer stopped after taking a ticket of the free ring.
#[test]
fn stall_producer_at_free_ticket() {
    stalled_producer(StallPoint::PushFreeTicket);
}

/// Producer stopped while it owns a free slot.
#[test]
fn stall_producer_holding_slot() {
    stalled_producer(StallPoint::PushHoldsSlot);
}

/// Producer stopped after taking a ticket of the ready ring, before
/// publishing (where a Vyukov ring blocks its consumers).
#[test]
fn stall_producer_at_ready_ticket() {
    stalled_producer(StallPoint::PushReadyTicket);
}

/// Consumer stopped after taking a ticket of the ready ring.
#[test]
fn stall_consumer_at_ready_ticket() {
    stalled_consumer(StallPoint::PopReadyTicket);
}

/// Consumer stopped while it owns a full slot.
#[test]
fn stall_consumer_holding_slot() {
    stalled_consumer(StallPoint::PopHoldsSlot);
}

/// Consumer stopped after taking a ticket of the free ring, before giving
/// its slot back.
#[test]
fn stall_consumer_at_free_ticket() {
    stalled_consumer(StallPoint::PopFreeTicket);
}

/// SCQ's "safe" bit, with two threads stopped at once (capacity 2, so each
/// ready-ring entry serves tickets `t` and `t + 4`). The value pushed at
/// ready ticket 0 has its consumer stopped after taking head ticket 0; three
/// push/pop pairs use tickets 1..=3; a producer takes tail ticket 4 (the
/// same entry, still holding ticket 0's index) and stops; a pop takes head
/// ticket 4, finds the old occupied entry and marks it unsafe; the old
/// consumer finishes (the entry is now empty but unsafe); the late producer
/// resumes. It must not write the entry — a dequeuer has already passed
/// ticket 4 (`head > 4`) — and takes another ticket instead. Kills two
/// mutations no other suite catches: dequeue not clearing the safe bit of a
/// late dequeuer's entry, and enqueue reusing an unsafe entry without its
/// `head <= t` check; with either, the value is stranded at ticket 4 and its
/// slot lost for good.
#[test]
fn late_producer_does_not_reuse_an_entry_a_dequeuer_passed() {
    set_hook(Some(hook));
    loom::model(|| {
        let q = Arc::new(EventQueue::<u32, 2>::new());
        q.try_push(100).unwrap();
        let consumer = {
            let q = q.clone();
            thread::spawn(move || {
                STALL_AT.with(|s| s.set(Some((StallPoint::PopReadyTicket, false))));
                q.try_pop()
            })
        };
        wait_for(&REACHED);
        for v in 1..=3 {
            q.try_push(v).unwrap();
            assert_eq!(q.try_pop(), Some(v));
        }
        let producer = {
            let q = q.clone();
            thread::spawn(move || {
                STALL_AT.with(|s| s.set(Some((StallPoint::PushReadyTicket, true))));
                q.try_push(200).unwrap();
            })
        };
        wait_for(&REACHED_2);
        assert_eq!(q.try_pop(), None, "the value of ticket 4 is not published");
        RELEASE.store(true, SeqCst);
        assert_eq!(consumer.join().unwrap(), Some(100));
        RELEASE_2.store(true, SeqCst);
        producer.join().unwrap();
        assert_eq!(
            q.try_pop(),
            Some(200),
            "the late producer's value was stranded behind the head"
        );
        // Both slots are still usable.
        q.try_push(1).expect("a slot was lost");
        q.try_push(2).expect("a slot was lost");
        assert_eq!(q.try_pop(), Some(1));
        assert_eq!(q.try_pop(), Some(2));
        assert_eq!(q.try_pop(), None);
    });
}
