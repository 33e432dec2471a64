//! Loom models of the callback storage *without* `alloc`: the inline slot
//! and the fixed pool, whose node fields are sync-shim cells. The verify
//! crate's loom models (verify/tests/loom_event.rs) build the core with
//! `alloc` (cargo unifies features across the workspace), so the pool is
//! modelled here, inside the crate, where the lib tests can be built without
//! it. One race per test. Run with
//! `RUSTFLAGS="--cfg evlatch_loom -C debug-assertions" LOOM_MAX_PREEMPTIONS=2
//! cargo test --release -p evlatch --lib event::loom_pool`.
#![cfg(all(test, evlatch_loom, not(feature = "alloc")))]

use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;

use super::{Event, EventStatus};

/// Per-callback run counters; a callback's context is a pointer to one.
struct Counters {
    runs: [AtomicUsize; 2],
    /// `EventStatus as usize` of the last run of each callback.
    outcome: [AtomicUsize; 2],
}

/// The context of callback `i` of `counters` (alive for the whole model).
fn context(counters: &Arc<Counters>, i: usize) -> usize {
    // The counters are 8-byte aligned: the low bit carries `i`.
    Arc::as_ptr(counters) as usize | i
}

/// Counts a run and records its outcome.
fn count(status: EventStatus, context: usize) {
    let (ptr, i) = (context & !1, context & 1);
    // SAFETY: `context` was made by `context()` from an `Arc<Counters>` the
    // model keeps alive until every callback has run.
    let counters = unsafe { &*(ptr as *const Counters) };
    counters.outcome[i].store(status as usize, Ordering::Relaxed);
    counters.runs[i].fetch_add(1, Ordering::Relaxed);
}

fn counters() -> Arc<Counters> {
    Arc::new(Counters {
        runs: [AtomicUsize::new(0), AtomicUsize::new(0)],
        outcome: [AtomicUsize::new(0), AtomicUsize::new(0)],
    })
}

/// Race: a function-pointer callback pushed onto the pool list (the slot
/// holds an earlier one) while another thread finishes and takes the list.
/// The finisher reads the pool node's cells only through the push CAS's
/// release and the take swap's acquire: both callbacks run exactly once,
/// with the outcome.
#[test]
fn pool_push_racing_finish() {
    loom::model(|| {
        let e = Arc::new(Event::new());
        let c = counters();
        e.on_finished_fn(count, context(&c, 0)).unwrap(); // the slot
        let registrar = {
            let (e, ctx) = (e.clone(), context(&c, 1));
            thread::spawn(move || e.on_finished_fn(count, ctx).unwrap()) // the pool
        };
        e.set_failed("").unwrap();
        registrar.join().unwrap();
        for i in 0..2 {
            assert_eq!(c.runs[i].load(Ordering::Relaxed), 1);
            assert_eq!(
                c.outcome[i].load(Ordering::Relaxed),
                EventStatus::Failed as usize
            );
        }
    });
}
