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
}

loom::thread_local! {
    /// The point at which this thread stops (once).
    static STALL_AT: Cell<Option<StallPoint>> = Cell::new(None);
}

fn hook(at: StallPoint) {
    if STALL_AT.with(|s| s.get()) == Some(at) {
        STALL_AT.with(|s| s.set(None));
        REACHED.store(true, SeqCst);
        while !RELEASE.load(SeqCst) {
            thread::yield_now();
        }
    }
}

/// Waits until the stopped thread is at its stall point.
fn wait_until_stopped() {
    while !REACHED.load(SeqCst) {
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
            STALL_AT.with(|s| s.set(Some(at)));
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
            STALL_AT.with(|s| s.set(Some(at)));
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
