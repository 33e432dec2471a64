//! A steady exchange allocates nothing per message: a counting global
//! allocator checks that, once warmed up, rounds of batch and single
//! sends, receives and waits between two workers make no heap allocation.
//!
//! Only threads that opt in are counted (a thread-local flag), so the test
//! harness's own threads do not disturb the count.

use evlatch_std::exchange::{initialize, Config, TryRecvError};

#[path = "common/counting.rs"]
mod counting;

#[global_allocator]
static GLOBAL: counting::Counting = counting::Counting;

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
        counting::count_this_thread(true);
        let before = counting::allocations();
        for r in 20..20 + ROUNDS as u64 {
            round(&mut w, &mut txs, &mut rx, &mut batch, &mut inbox, r);
        }
        let after = counting::allocations();
        counting::count_this_thread(false);
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

/// The control: the counter does see an allocation of a counted thread (so
/// a zero above means none happened, not that nothing was counted).
#[test]
fn the_counter_sees_a_counted_allocation() {
    counting::count_this_thread(true);
    let before = counting::allocations();
    let boxed = std::hint::black_box(Box::new(7_u64));
    let after = counting::allocations();
    counting::count_this_thread(false);
    assert_eq!(*boxed, 7);
    assert!(after > before, "the counting allocator saw no allocation");
}
