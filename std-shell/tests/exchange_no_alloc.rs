//! A steady exchange allocates nothing per message: a counting global
//! allocator checks that, once warmed up, rounds of batch and single
//! sends, receives and waits between two workers make no heap allocation.
//!
//! Only threads that opt in are counted (a thread-local flag), so the test
//! harness's own threads do not disturb the count.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

use evlatch_std::exchange::{initialize, Config, TryRecvError};

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static COUNTED: Cell<bool> = const { Cell::new(false) };
}

fn note_allocation() {
    // `try_with`: the flag may be gone while a thread is being torn down.
    if COUNTED.try_with(Cell::get).unwrap_or(false) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
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

#[global_allocator]
static GLOBAL: Counting = Counting;

const BATCH: usize = 64;
const ROUNDS: usize = if cfg!(debug_assertions) { 500 } else { 5_000 };

/// One round: a batch of `BATCH` records to the peer, single sends to the
/// peer, then receive the peer's batch and singles (waiting when nothing is
/// there). The capacity holds two rounds, so blocking sends never deadlock.
fn round(
    w: &mut evlatch_std::exchange::Worker,
    txs: &mut [evlatch_std::exchange::Sender<u64>],
    rx: &mut evlatch_std::exchange::Receiver<u64>,
    batch: &mut Vec<u64>,
    inbox: &mut Vec<u64>,
    r: u64,
) {
    let peer = 1 - w.index();
    batch.extend((0..BATCH as u64).map(|i| r * 1_000 + i));
    txs[peer].send_batch(batch).unwrap();
    for i in 0..8 {
        txs[peer].send(r * 1_000 + 500 + i).unwrap();
    }
    let mut got = 0;
    while got < BATCH + 8 {
        match rx.try_recv_batch(inbox, BATCH + 8 - got) {
            Ok(k) => got += k,
            Err(TryRecvError::Empty) => {
                let _ = w.wait(None);
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(inbox.len(), BATCH + 8);
    assert_eq!(inbox[0], r * 1_000);
    inbox.clear();
}

#[test]
fn steady_exchange_allocates_nothing_per_message() {
    let results = initialize(Config::Process(2), |mut w| {
        let (mut txs, mut rx) = w.allocate_bounded::<u64>(0, 2 * (BATCH + 8)).unwrap();
        let mut batch = Vec::with_capacity(BATCH);
        let mut inbox = Vec::with_capacity(BATCH + 8);
        // Warm up: first waits (thread handle), scan buffers.
        for r in 0..20 {
            round(&mut w, &mut txs, &mut rx, &mut batch, &mut inbox, r);
        }
        COUNTED.with(|c| c.set(true));
        let before = ALLOCATIONS.load(Ordering::Relaxed);
        for r in 20..20 + ROUNDS as u64 {
            round(&mut w, &mut txs, &mut rx, &mut batch, &mut inbox, r);
        }
        let after = ALLOCATIONS.load(Ordering::Relaxed);
        COUNTED.with(|c| c.set(false));
        after - before
    })
    .unwrap()
    .join();
    // Both workers count into the one counter: the difference each saw
    // covers its own and the peer's concurrent allocations; all must be 0.
    for r in results {
        assert_eq!(r.unwrap(), 0, "a steady exchange allocated");
    }
}
