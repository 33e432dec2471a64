//! Lines for the core [`Event`]: the uncontended cycle against the atomic
//! floor, and a finish with one callback against `std::sync::OnceLock`.

use core::hint::black_box;
use core::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

use evlatch::{Event, EventStatus};

use crate::harness::Harness;

/// Registers the event groups.
pub fn register(h: &mut Harness) {
    cycle(h);
    callback(h);
}

/// `record → set_finished → status → reset` on one thread, against the same
/// number of bare atomic read-modify-writes.
fn cycle(h: &mut Harness) {
    let floor = AtomicU32::new(0);
    let event = Event::new();
    h.group(
        "event.cycle",
        "uncontended record → set_finished → status → reset, one thread",
    )
    .note(
        "floor: 3 × fetch_add(AcqRel) + 1 load(Acquire) on a plain AtomicU32 \
         (what the cycle must do at least: 3 RMWs, 1 load)",
    )
    .baseline("floor: 3 RMW + 1 load", |iters| {
        for _ in 0..iters {
            // black_box on the reference and the results: the compiler can
            // neither merge the RMWs nor drop the load.
            let a = black_box(&floor);
            black_box(a.fetch_add(1, Ordering::AcqRel));
            black_box(a.fetch_add(1, Ordering::AcqRel));
            black_box(a.load(Ordering::Acquire));
            black_box(a.fetch_add(1, Ordering::AcqRel));
        }
    })
    .line("floor': 3 × (load + CAS) + 1 load", |iters| {
        // The shape of the event's fast paths, inlined: each transition
        // reads the word, then compare-and-swaps it.
        for _ in 0..iters {
            let a = black_box(&floor);
            for _ in 0..2 {
                let s = a.load(Ordering::Relaxed);
                black_box(a.compare_exchange_weak(s, s + 1, Ordering::AcqRel, Ordering::Relaxed))
                    .ok();
            }
            black_box(a.load(Ordering::Acquire));
            let s = a.load(Ordering::Acquire);
            black_box(a.compare_exchange_weak(s, s + 1, Ordering::AcqRel, Ordering::Acquire)).ok();
        }
    })
    .line("evlatch Event cycle", |iters| {
        for _ in 0..iters {
            let e = black_box(&event);
            e.record().expect("record of an initialized event");
            e.set_finished().expect("finish of a scheduled event");
            black_box(e.status());
            e.reset().expect("reset of a finished event");
        }
    })
    .goal(1.5)
    .run();
}

/// Record, one callback, finish, reset — against a fresh `OnceLock` set and
/// read per iteration (the one-shot "done" signal std users reach for).
fn callback(h: &mut Harness) {
    let event = Event::new();
    h.group(
        "event.callback",
        "one finish with one callback (record → on_finished → set_finished → reset)",
    )
    .note(
        "OnceLock: a fresh cell per iteration, set(token) then get(); \
         Event: the callback receives the status and a token, runs inside set_finished",
    )
    .baseline("std OnceLock new+set+get", |iters| {
        for i in 0..iters {
            let cell = black_box(OnceLock::new());
            cell.set(black_box(i)).expect("a fresh OnceLock is empty");
            black_box(cell.get());
        }
    })
    .line("evlatch on_finished(closure)", |iters| {
        for i in 0..iters {
            let e = black_box(&event);
            e.record().expect("record of an initialized event");
            // Captures a token, as real callbacks capture state, so the
            // closure is not zero-sized.
            let token = black_box(i);
            e.on_finished(move |status| {
                black_box((status, token));
            });
            e.set_finished().expect("finish of a scheduled event");
            e.reset().expect("reset of a finished event");
        }
    })
    .line("evlatch on_finished_fn(fn, ctx)", |iters| {
        for i in 0..iters {
            let e = black_box(&event);
            e.record().expect("record of an initialized event");
            e.on_finished_fn(sink, black_box(i as usize))
                .expect("with alloc, registration never fails");
            e.set_finished().expect("finish of a scheduled event");
            e.reset().expect("reset of a finished event");
        }
    })
    .run();
}

/// The function-pointer callback: consumes its arguments, nothing else.
fn sink(status: EventStatus, context: usize) {
    black_box((status, context));
}
