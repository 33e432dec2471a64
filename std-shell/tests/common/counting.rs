//! A counting global allocator for the zero-allocation tests. Only threads
//! that opt in (a thread-local flag) are counted, so the test harness's own
//! threads do not disturb the count. This counts allocations, not time.
//!
//! A test file includes it with `#[path = "common/counting.rs"] mod
//! counting;` and installs it with
//! `#[global_allocator] static GLOBAL: counting::Counting = counting::Counting;`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// The allocator: the system's, counting allocations of opted-in threads.
pub struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

/// Set from `EVLATCH_COUNT_BACKTRACE` (read outside the allocator): print a
/// backtrace of each counted allocation, to find where one comes from.
static BACKTRACE: AtomicBool = AtomicBool::new(false);

thread_local! {
    static COUNTED: Cell<bool> = const { Cell::new(false) };
}

fn note_allocation() {
    // `try_with`: the flag may be gone while a thread is being torn down.
    if COUNTED.try_with(Cell::get).unwrap_or(false) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        if BACKTRACE.load(Ordering::Relaxed) {
            // Stop counting while the backtrace (which allocates) is taken.
            COUNTED.with(|c| c.set(false));
            eprintln!(
                "counted allocation:\n{}",
                std::backtrace::Backtrace::force_capture()
            );
            COUNTED.with(|c| c.set(true));
        }
    }
}

/// Allocations (and reallocations) counted so far, over all threads.
pub fn allocations() -> u64 {
    ALLOCATIONS.load(Ordering::SeqCst)
}

/// Counts this thread's allocations from now on (`true`) or stops (`false`).
pub fn count_this_thread(on: bool) {
    if on && std::env::var_os("EVLATCH_COUNT_BACKTRACE").is_some() {
        BACKTRACE.store(true, Ordering::Relaxed);
    }
    COUNTED.with(|c| c.set(on));
}

// SAFETY: forwards to the system allocator unchanged; counting has no
// effect on the memory handed out.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        // SAFETY: the caller's contract is passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_allocation();
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}
