//! Waiting allocates nothing: a counting global allocator checks that
//! blocking waits, async waits (on a hand-written executor) and blocked
//! channel sends and receives make no heap allocation once warmed up.
//!
//! This counts allocations, not time. Only threads that opt in are counted
//! (a thread-local flag), so the test harness's own threads do not disturb
//! the count.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Waker;
use std::thread;

use evlatch_std::diagnostics::registered_waiters;
use evlatch_std::{channel, Event, EventExt, EventStatus};

mod common;

#[path = "common/counting.rs"]
mod counting;

use common::{block_on_with as block_on, thread_waker};

#[global_allocator]
static GLOBAL: counting::Counting = counting::Counting;

const ROUNDS: usize = if cfg!(miri) { 20 } else { 1_000 };

/// Runs `f` with this thread's allocations counted.
fn counted<R>(f: impl FnOnce() -> R) -> R {
    counting::count_this_thread(true);
    let r = f();
    counting::count_this_thread(false);
    r
}

/// Waits until `cond` holds, yielding (bounded: a stuck peer fails the test
/// through the harness's time limit rather than spinning silently forever).
fn spin_until(cond: impl Fn() -> bool) {
    while !cond() {
        thread::yield_now();
    }
}

/// Rounds of "the waiter waits on a scheduled event, the finisher finishes
/// it once the waiter is registered": every wait really registers.
/// `wait_round` runs one wait on the waiter thread.
/// `setup` runs on the waiter thread before counting starts.
fn finish_rounds(
    rounds: usize,
    setup: fn(),
    wait_round: impl Fn(&Event) -> EventStatus + Send + 'static,
) -> (u64, usize) {
    let event = Arc::new(Event::new());
    let round = Arc::new(AtomicUsize::new(0));
    let acked = Arc::new(AtomicUsize::new(0));
    event.record().unwrap();
    let waiter = {
        let (event, round, acked) = (event.clone(), round.clone(), acked.clone());
        thread::spawn(move || {
            setup();
            let before = counting::allocations();
            counted(|| {
                for r in 0..rounds {
                    spin_until(|| round.load(Ordering::SeqCst) == r);
                    assert_eq!(wait_round(&event), EventStatus::Success);
                    acked.store(r + 1, Ordering::SeqCst);
                }
            });
            counting::allocations() - before
        })
    };
    let mut registered = 0;
    counted(|| {
        for r in 0..rounds {
            spin_until(|| registered_waiters() == 1);
            registered += 1;
            event.set_finished().unwrap();
            spin_until(|| acked.load(Ordering::SeqCst) == r + 1);
            event.reset().unwrap();
            event.record().unwrap();
            round.store(r + 1, Ordering::SeqCst);
        }
    });
    (waiter.join().unwrap(), registered)
}

/// The tests read the process-wide `registered_waiters()`: one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn warm_up() -> std::sync::MutexGuard<'static, ()> {
    let serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // The waiter table and hook are built at the first wait, and a thread's
    // handle may be created at its first `thread::current()`.
    let e = Event::new();
    e.set_finished().unwrap();
    let _ = e.wait();
    let _ = thread::current();
    let _ = e.wait_timeout(std::time::Duration::ZERO);
    let pending = Event::new();
    let _ = pending.wait_timeout(std::time::Duration::from_millis(1));
    serial
}

#[test]
fn blocking_waits_allocate_nothing() {
    let _serial = warm_up();
    let before = counting::allocations();
    let (waiter_allocs, registered) = finish_rounds(ROUNDS, || {}, |e| e.wait());
    assert_eq!(
        registered, ROUNDS,
        "every wait registered before its finish"
    );
    assert_eq!(waiter_allocs, 0, "allocations by blocking waits");
    assert_eq!(
        counting::allocations() - before,
        0,
        "allocations by finishers"
    );
    assert_eq!(registered_waiters(), 0);
}

#[test]
fn async_waits_allocate_nothing() {
    let _serial = warm_up();
    let before = counting::allocations();
    thread_local! {
        static WAKER: Waker = thread_waker();
    }
    // The waker is built once, before counting starts.
    let (waiter_allocs, registered) = finish_rounds(
        ROUNDS,
        || WAKER.with(|_| {}),
        |e| WAKER.with(|w| block_on(w, e.wait_async())),
    );
    assert_eq!(registered, ROUNDS);
    assert_eq!(waiter_allocs, 0, "allocations by async waits");
    assert_eq!(
        counting::allocations() - before,
        0,
        "allocations by finishers"
    );
    assert_eq!(registered_waiters(), 0);
}

#[test]
fn blocked_channel_sends_and_receives_allocate_nothing() {
    let _serial = warm_up();
    // Capacity 1 and a consumer that waits for each value: most sends find
    // the channel full and most receives find it empty, so both sides block.
    let (tx, rx) = channel::bounded::<u64>(1).unwrap();
    let consumer = thread::spawn(move || {
        let waker = thread_waker();
        counted(|| {
            let before = counting::allocations();
            let mut sum = 0;
            for i in 0..ROUNDS as u64 {
                // Alternate blocking and async receives.
                let v = if i % 2 == 0 {
                    rx.recv().unwrap()
                } else {
                    block_on(&waker, rx.recv_async()).unwrap()
                };
                sum += v;
            }
            (sum, counting::allocations() - before)
        })
    });
    let waker = thread_waker();
    let sent_allocs = counted(|| {
        let before = counting::allocations();
        for i in 0..ROUNDS as u64 {
            if i % 2 == 0 {
                tx.send(i).unwrap();
            } else {
                block_on(&waker, tx.send_async(i)).unwrap();
            }
        }
        counting::allocations() - before
    });
    let (sum, recv_allocs) = consumer.join().unwrap();
    let n = ROUNDS as u64;
    assert_eq!(sum, n * (n - 1) / 2, "every value arrived once");
    assert_eq!(sent_allocs, 0, "allocations by blocked sends");
    assert_eq!(recv_allocs, 0, "allocations by blocked receives");
}

/// The control: the counter does see an allocation of a counted thread (so
/// a zero above means none happened, not that nothing was counted). It
/// takes its turn like the others: the count is process-wide, and its
/// allocation must not land in another test's window.
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
