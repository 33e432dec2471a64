//! Allocation counts of callback registration, with a counting global
//! allocator (this test binary's own). Counts are per thread, so the test
//! harness's other threads do not disturb them. This counts allocations, not
//! time: it is a test, not a benchmark.
#![cfg(not(evlatch_loom))]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use evlatch::{Event, EventStatus};

/// The system allocator, counting each thread's allocations.
struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded unchanged to `System`; the counter is a
// const-initialised thread-local `Cell`, which never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's pointer and layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// How many allocations this thread makes in `f`.
fn allocations_in(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

const CYCLES: usize = 1_000;

fn sink(status: EventStatus, context: usize) {
    std::hint::black_box((status, context));
}

/// `on_finished_fn`, the first callback of each generation: no allocation
/// (with `alloc` enabled, as here).
#[test]
fn fn_pointer_callback_allocates_nothing() {
    let event = Event::new();
    let n = allocations_in(|| {
        for i in 0..CYCLES {
            event.record().unwrap();
            event.on_finished_fn(sink, i).unwrap();
            event.set_finished().unwrap();
            event.reset().unwrap();
        }
    });
    assert_eq!(n, 0);
}

/// `on_finished` with a closure of at most two words, the first callback of
/// each generation: no allocation.
#[test]
fn small_closure_allocates_nothing() {
    let event = Event::new();
    let counter = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let n = allocations_in(|| {
        for i in 0..CYCLES {
            event.record().unwrap();
            let counter = counter.clone();
            event.on_finished(move |_| {
                counter.fetch_add(i, std::sync::atomic::Ordering::Relaxed);
            });
            event.set_finished().unwrap();
            event.reset().unwrap();
        }
    });
    assert_eq!(n, 0);
    assert_eq!(
        counter.load(std::sync::atomic::Ordering::Relaxed),
        CYCLES * (CYCLES - 1) / 2
    );
}

/// A larger first closure: one allocation (its box). A later callback of
/// either form: one allocation (its node, holding the callback).
#[test]
fn larger_or_later_callbacks_allocate_once_each() {
    let event = Event::new();
    let big = [1u64; 8];
    let n = allocations_in(|| {
        for _ in 0..CYCLES {
            event.on_finished(move |_| {
                std::hint::black_box(big);
            });
            event.set_finished().unwrap();
            event.reset().unwrap();
        }
    });
    assert_eq!(n, CYCLES);
    let n = allocations_in(|| {
        for i in 0..CYCLES {
            event.on_finished_fn(sink, i).unwrap(); // the slot
            event.on_finished_fn(sink, i).unwrap(); // a list node
            event.on_finished(move |_| {
                std::hint::black_box(i);
            }); // a list node
            event.set_finished().unwrap();
            event.reset().unwrap();
        }
    });
    assert_eq!(n, 2 * CYCLES);
}
