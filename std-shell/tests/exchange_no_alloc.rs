//! A steady exchange allocates nothing per message: a counting global
//! allocator checks that, once warmed up, rounds of batch and single
//! sends, receives and waits between two workers make no heap allocation,
//! blocking and async (sends that wait for space, receives that wait for
//! data).
//!
//! Only threads that opt in are counted (a thread-local flag), so the test
//! harness's own threads do not disturb the count; the tests of this file
//! take turns (`SERIAL`), so one test's counted allocations never land in
//! another's window.

use std::future::{poll_fn, Future};
use std::pin::pin;
use std::sync::Mutex;
use std::task::{Poll, Waker};

use evlatch_std::exchange::{initialize, Config, TryRecvError};

/// Serializes this file's tests (see the module doc).
static SERIAL: Mutex<()> = Mutex::new(());

mod common;

#[path = "common/counting.rs"]
mod counting;

use common::{block_on_with as block_on, thread_waker};

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
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
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

/// The first scan for news may come only once counting has begun (a fast
/// peer means a worker never waits while warming up): it must not
/// allocate its event list then.
#[test]
fn a_first_scan_allocates_nothing() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let results = initialize(Config::Thread, |mut w| {
        let (mut txs, _rx0) = w.allocate_bounded::<u64>(0, 4).unwrap();
        let (_txs1, _rx1) = w.allocate_bounded::<u64>(1, 4).unwrap();
        txs[0].send(7).unwrap();
        counting::count_this_thread(true);
        let before = counting::allocations();
        let news = w.events().len();
        let after = counting::allocations();
        counting::count_this_thread(false);
        (news, after - before)
    })
    .unwrap()
    .join();
    for r in results {
        let (news, allocated) = r.unwrap();
        assert_eq!(news, 1, "channel 0 has a message");
        assert_eq!(allocated, 0, "the first scan allocated");
    }
}

/// The control: the counter does see an allocation of a counted thread (so
/// a zero above means none happened, not that nothing was counted).
#[test]
fn the_counter_sees_a_counted_allocation() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    counting::count_this_thread(true);
    let before = counting::allocations();
    let boxed = std::hint::black_box(Box::new(7_u64));
    let after = counting::allocations();
    counting::count_this_thread(false);
    assert_eq!(*boxed, 7);
    assert!(after > before, "the counting allocator saw no allocation");
}

/// Runs `a` and `b` concurrently on one task (no allocation).
async fn join2(a: impl Future<Output = ()>, b: impl Future<Output = ()>) {
    let (mut a, mut b) = (pin!(a), pin!(b));
    let (mut a_done, mut b_done) = (false, false);
    poll_fn(|cx| {
        a_done = a_done || a.as_mut().poll(cx).is_ready();
        b_done = b_done || b.as_mut().poll(cx).is_ready();
        if a_done && b_done {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
}

/// Singles per async round, through a ring of [`ASYNC_CAPACITY`]: the
/// sends wait for space most rounds.
const SINGLES: u64 = 64;
const ASYNC_CAPACITY: usize = 16;

/// One async round: `send_async` singles and a `send_batch_async` batch
/// to the peer, while receiving the peer's with `recv_async` and
/// `recv_batch_async`, on one task.
fn async_round(
    waker: &Waker,
    me: usize,
    tx: &mut evlatch_std::exchange::Sender<u64>,
    rx: &mut evlatch_std::exchange::Receiver<u64>,
    batch: &mut Vec<u64>,
    inbox: &mut Vec<u64>,
    r: u64,
) {
    let send = async {
        for i in 0..SINGLES {
            tx.send_async(r * 1_000 + i).await.unwrap();
        }
        batch.extend((0..BATCH as u64).map(|i| r * 1_000 + 500 + i));
        tx.send_batch_async(batch).await.unwrap();
    };
    let recv = async {
        for i in 0..SINGLES {
            assert_eq!(rx.recv_async().await, Ok(r * 1_000 + i), "worker {me}");
        }
        while inbox.len() < BATCH {
            rx.recv_batch_async(inbox, BATCH - inbox.len())
                .await
                .unwrap();
        }
        assert_eq!(inbox[0], r * 1_000 + 500);
        inbox.clear();
    };
    block_on(waker, join2(send, recv));
}

#[test]
fn steady_async_exchange_allocates_nothing_per_message() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let results = initialize(Config::Process(2), |mut w| {
        let me = w.index();
        let (mut txs, mut rx) = w.allocate_bounded::<u64>(0, ASYNC_CAPACITY).unwrap();
        let mut tx = txs.swap_remove(1 - me);
        drop(txs);
        let waker = thread_waker();
        let mut batch = Vec::with_capacity(BATCH);
        let mut inbox = Vec::with_capacity(BATCH);
        for r in 0..20 {
            async_round(&waker, me, &mut tx, &mut rx, &mut batch, &mut inbox, r);
        }
        counting::count_this_thread(true);
        let before = counting::allocations();
        for r in 20..20 + ROUNDS as u64 {
            async_round(&waker, me, &mut tx, &mut rx, &mut batch, &mut inbox, r);
        }
        let after = counting::allocations();
        counting::count_this_thread(false);
        after - before
    })
    .unwrap()
    .join();
    for r in results {
        assert_eq!(r.unwrap(), 0, "a steady async exchange allocated");
    }
}
