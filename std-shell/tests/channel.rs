//! Channel behaviour: blocking, timeouts, async, close semantics, lossy and
//! priority modes, and a 4p4c stress with close in the middle.

mod common;
use common::{block_on, noop_waker};

use std::collections::HashSet;
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Context;
use std::thread;
use std::time::Duration;

use evlatch_std::channel::{
    bounded, bounded_lossy, bounded_priority, CapacityError, Kind, Priority, PrioritySender,
    RecvError, RecvTimeoutError, SendError, SendTimeoutError, Sender, TryRecvError, TrySendError,
    LOW_PRIORITY_EVERY,
};

#[test]
fn zero_and_oversize_capacities_are_clear_errors() {
    assert_eq!(bounded::<u8>(0).unwrap_err(), CapacityError::Zero);
    assert_eq!(bounded_lossy::<u8>(0).unwrap_err(), CapacityError::Zero);
    assert_eq!(bounded_priority::<u8>(0).unwrap_err(), CapacityError::Zero);
    assert_eq!(
        bounded::<u8>(usize::MAX).unwrap_err(),
        CapacityError::TooLarge
    );
    assert_eq!(
        bounded::<u8>(evlatch::MAX_QUEUE_CAPACITY + 1).unwrap_err(),
        CapacityError::TooLarge
    );
}

/// The capacities every exact-capacity test runs at: powers of two and not
/// (1000 outside miri, 40 under it).
const EXACT: [usize; 5] = [1, 3, 4, 5, if cfg!(miri) { 40 } else { 1000 }];

/// Fills `tx` with `0..n` by `try_send` and checks that exactly `n` fit.
fn fill_exactly<K: Kind>(tx: &Sender<usize, K>, n: usize) {
    for i in 0..n {
        assert_eq!(tx.try_send(i), Ok(()), "capacity {n}: value {i} must fit");
    }
    assert_eq!(tx.try_send(n), Err(TrySendError::Full(n)), "capacity {n}");
    assert_eq!(tx.len(), n);
    assert!(tx.is_full());
    assert_eq!(tx.capacity(), n);
}

#[test]
fn bounded_holds_exactly_its_capacity() {
    for n in EXACT {
        let (tx, rx) = bounded(n).unwrap();
        assert_eq!((tx.capacity(), rx.capacity()), (n, n));
        assert!(!tx.is_full() && !rx.is_full());
        fill_exactly(&tx, n);
        assert!(rx.is_full());
        assert_eq!(
            tx.send_timeout(n, Duration::from_millis(2)),
            Err(SendTimeoutError::Timeout(n))
        );
        // Room for exactly one more after each receive, in FIFO order.
        for round in 0..3 * n {
            assert_eq!(rx.try_recv(), Ok(round));
            assert!(!tx.is_full());
            tx.try_send(n + round).unwrap();
            assert_eq!(tx.try_send(usize::MAX), Err(TrySendError::Full(usize::MAX)));
        }
        assert_eq!(
            rx.try_iter().collect::<Vec<_>>(),
            (3 * n..4 * n).collect::<Vec<_>>()
        );
    }
}

#[test]
fn send_blocks_at_exactly_capacity_until_a_receive() {
    for n in EXACT {
        let (tx, rx) = bounded(n).unwrap();
        for i in 0..n {
            tx.send(i).unwrap(); // never blocks below capacity
        }
        let sent = Arc::new(AtomicUsize::new(0));
        let s = sent.clone();
        let t = thread::spawn(move || {
            tx.send(n).unwrap();
            s.store(1, Ordering::SeqCst);
            tx
        });
        // The sender must still be blocked (a send that does not block
        // sets the flag at once); the check cannot fail wrongly.
        thread::sleep(Duration::from_millis(10));
        assert_eq!(
            sent.load(Ordering::SeqCst),
            0,
            "capacity {n}: send did not block"
        );
        assert_eq!(rx.len(), n);
        assert_eq!(rx.recv(), Ok(0));
        let tx = t.join().unwrap();
        assert_eq!(sent.load(Ordering::SeqCst), 1);
        assert_eq!((tx.len(), tx.is_full()), (n, true));
        assert_eq!(
            rx.iter().take(n).collect::<Vec<_>>(),
            (1..=n).collect::<Vec<_>>()
        );
    }
}

#[test]
fn lossy_overwrites_the_oldest_at_exactly_capacity() {
    for n in EXACT {
        let (tx, rx) = bounded_lossy(n).unwrap();
        assert_eq!(tx.capacity(), n);
        for i in 0..n {
            tx.send(i).unwrap();
        }
        assert_eq!((tx.dropped(), tx.len()), (0, n));
        for i in n..n + 7 {
            tx.send(i).unwrap();
            assert_eq!(tx.len(), n);
        }
        assert_eq!(rx.dropped(), 7);
        assert_eq!(
            rx.try_iter().collect::<Vec<_>>(),
            (7..n + 7).collect::<Vec<_>>()
        );
    }
}

#[test]
fn priority_holds_exactly_its_capacity_per_level() {
    for n in EXACT {
        let (tx, rx) = bounded_priority(n).unwrap();
        assert_eq!((tx.capacity(), rx.capacity()), (n, n));
        for i in 0..n {
            tx.try_send_with_priority(i, Priority::High).unwrap();
        }
        assert_eq!(
            tx.try_send_with_priority(n, Priority::High),
            Err(TrySendError::Full(n))
        );
        assert!(!tx.is_full(), "the Low level is still empty");
        fill_exactly_low(&tx, n);
        assert!(tx.is_full() && rx.is_full());
        assert_eq!(tx.len(), 2 * n);
        let wait = Duration::from_millis(2);
        assert_eq!(
            tx.send_timeout_with_priority(0, Priority::High, wait),
            Err(SendTimeoutError::Timeout(0))
        );
        assert_eq!(tx.send_timeout(0, wait), Err(SendTimeoutError::Timeout(0)));
        // A blocked High send wakes when a High value is received.
        let t = thread::spawn(move || {
            tx.send_with_priority(usize::MAX, Priority::High).unwrap();
            tx
        });
        assert_eq!(rx.recv(), Ok(0)); // High first
        let tx = t.join().unwrap();
        assert_eq!(tx.len(), 2 * n);
        drop(tx);
        assert_eq!(rx.iter().count(), 2 * n);
    }
}

fn fill_exactly_low(tx: &PrioritySender<usize>, n: usize) {
    for i in 0..n {
        tx.try_send_with_priority(i, Priority::Low).unwrap();
    }
    assert_eq!(
        tx.try_send_with_priority(n, Priority::Low),
        Err(TrySendError::Full(n))
    );
}

/// Many senders and receivers on a channel of a capacity that is not a
/// power of two (the ring behind it is larger): nothing is lost or
/// duplicated.
#[test]
fn exact_capacity_under_contention_loses_nothing() {
    const N: usize = 3;
    let per: usize = if cfg!(miri) {
        50
    } else if cfg!(debug_assertions) {
        5_000
    } else {
        100_000
    };
    let (tx, rx) = bounded::<usize>(N).unwrap();
    let got = std::sync::Mutex::new(Vec::new());
    thread::scope(|s| {
        for p in 0..2 {
            let tx = tx.clone();
            s.spawn(move || {
                for i in 0..per {
                    tx.send(p * per + i).unwrap();
                }
            });
        }
        drop(tx);
        for _ in 0..2 {
            let rx = rx.clone();
            let got = &got;
            s.spawn(move || {
                let mine: Vec<usize> = rx.iter().collect();
                got.lock().unwrap().extend(mine);
            });
        }
    });
    let mut got = got.into_inner().unwrap();
    got.sort_unstable();
    assert_eq!(got, (0..2 * per).collect::<Vec<_>>());
}

/// Four threads race one `try_send` each into a channel of capacity 3 (a
/// ring of 4 behind it): exactly 3 succeed, every round.
#[test]
fn racing_try_sends_fill_exactly_the_capacity() {
    let rounds: usize = if cfg!(miri) { 5 } else { 500 };
    let (tx, rx) = bounded::<usize>(3).unwrap();
    for round in 0..rounds {
        let fitted = AtomicUsize::new(0);
        thread::scope(|s| {
            for t in 0..4 {
                let (tx, fitted) = (&tx, &fitted);
                s.spawn(move || {
                    if tx.try_send(t).is_ok() {
                        fitted.fetch_add(1, Ordering::Relaxed);
                    }
                });
            }
        });
        assert_eq!(fitted.load(Ordering::Relaxed), 3, "round {round}");
        assert_eq!(rx.try_iter().count(), 3);
    }
}

#[test]
fn subscription_capacity_is_exact() {
    use evlatch_std::service::{
        EventService, Message, Overflow, SubscribeOptions, SubscriptionTryRecvError,
    };
    for n in [1, 3, 5] {
        for overflow in [Overflow::DropNewest, Overflow::DropOldest] {
            let service = EventService::synchronous();
            let options = SubscribeOptions::new().capacity(n).overflow(overflow);
            let sub = service.subscriber().subscribe_with("a", options).unwrap();
            assert_eq!(sub.capacity(), n);
            let publisher = service.publisher();
            for i in 0..n + 2 {
                publisher
                    .publish("a", Message::new().with_body("i", i as i64))
                    .unwrap();
            }
            service.process_events().unwrap();
            assert_eq!(
                sub.try_recv().unwrap_err(),
                SubscriptionTryRecvError::Lagged(2)
            );
            let got: Vec<i64> = sub
                .try_iter()
                .map(|d| d.body().get_i64("i").unwrap())
                .collect();
            let first = if overflow == Overflow::DropNewest {
                0
            } else {
                2
            };
            assert_eq!(
                got,
                (first..first + n as i64).collect::<Vec<_>>(),
                "{overflow:?} {n}"
            );
        }
    }
}

/// crossbeam-channel's `capacity`, `len_empty_full` and `len` checks.
#[test]
fn len_is_full_and_capacity_as_in_crossbeam() {
    for i in 1..10 {
        let (s, r) = bounded::<()>(i).unwrap();
        assert_eq!((s.capacity(), r.capacity()), (i, i));
    }
    let (s, r) = bounded(2).unwrap();
    assert!(s.is_empty() && r.is_empty() && !s.is_full() && !r.is_full());
    s.send(()).unwrap();
    assert_eq!((s.len(), r.len()), (1, 1));
    assert!(!s.is_empty() && !s.is_full() && !r.is_full());
    s.send(()).unwrap();
    assert_eq!((s.len(), r.len()), (2, 2));
    assert!(s.is_full() && r.is_full());
    r.recv().unwrap();
    assert_eq!((s.len(), r.len()), (1, 1));
    assert!(!s.is_full() && !r.is_full());

    const CAP: usize = if cfg!(miri) { 50 } else { 1000 };
    let count: usize = if cfg!(miri) { 50 } else { 25_000 };
    let (s, r) = bounded(CAP).unwrap();
    for _ in 0..CAP / 10 {
        for i in 0..50 {
            s.send(i).unwrap();
            assert_eq!(s.len(), i + 1);
        }
        for i in 0..50 {
            r.recv().unwrap();
            assert_eq!(r.len(), 50 - i - 1);
        }
    }
    for i in 0..CAP {
        s.send(i).unwrap();
        assert_eq!(s.len(), i + 1);
    }
    assert!(s.is_full());
    for _ in 0..CAP {
        r.recv().unwrap();
    }
    assert_eq!((s.len(), r.len()), (0, 0));
    thread::scope(|scope| {
        scope.spawn(|| {
            for i in 0..count {
                assert_eq!(r.recv(), Ok(i));
                assert!(r.len() <= CAP);
            }
        });
        scope.spawn(|| {
            for i in 0..count {
                s.send(i).unwrap();
                assert!(s.len() <= CAP);
            }
        });
    });
    assert_eq!((s.len(), r.len()), (0, 0));
}

/// crossbeam-channel's `drops`: every value is dropped exactly once, the
/// received ones at once, the queued ones with the channel.
#[test]
fn every_value_is_dropped_once() {
    static DROPS: AtomicUsize = AtomicUsize::new(0);
    struct Counted;
    impl Drop for Counted {
        fn drop(&mut self) {
            DROPS.fetch_add(1, Ordering::SeqCst);
        }
    }
    let runs: usize = if cfg!(miri) { 3 } else { 50 };
    for run in 0..runs {
        // Deterministic spread of sizes instead of a random one.
        let steps = (run * 7919) % if cfg!(miri) { 100 } else { 5_000 };
        let additional = (run * 31) % 50;
        DROPS.store(0, Ordering::SeqCst);
        let (s, r) = bounded::<Counted>(50).unwrap();
        thread::scope(|scope| {
            scope.spawn(|| {
                for _ in 0..steps {
                    r.recv().unwrap();
                }
            });
            scope.spawn(|| {
                for _ in 0..steps {
                    s.send(Counted).unwrap();
                }
            });
        });
        for _ in 0..additional {
            s.send(Counted).unwrap();
        }
        assert_eq!(DROPS.load(Ordering::SeqCst), steps);
        drop(s);
        drop(r);
        assert_eq!(DROPS.load(Ordering::SeqCst), steps + additional);
    }
}

/// The values still queued when the last receiver goes are dropped then,
/// while the senders are still alive (crossbeam's `drop_unreceived`
/// behaviour): nothing they hold (an `Arc`, a reply handle) stays alive.
#[test]
fn last_receiver_drop_drops_queued_values_at_once() {
    for n in [1, 3, 4] {
        let held = Arc::new(());
        let (tx, rx) = bounded(n).unwrap();
        let rx2 = rx.clone();
        for _ in 0..n {
            tx.send(held.clone()).unwrap();
        }
        assert_eq!(Arc::strong_count(&held), n + 1);
        drop(rx);
        assert_eq!(Arc::strong_count(&held), n + 1, "a receiver is still alive");
        drop(rx2);
        assert_eq!(
            Arc::strong_count(&held),
            1,
            "capacity {n}: queued values outlived the receivers"
        );
        assert!(tx.is_disconnected());
        assert_eq!(tx.try_send(held.clone()).unwrap_err().into_inner(), held);
        assert_eq!(Arc::strong_count(&held), 1);
    }
    // Lossy and priority channels too.
    let held = Arc::new(());
    let (tx, rx) = bounded_lossy(3).unwrap();
    for _ in 0..5 {
        tx.send(held.clone()).unwrap();
    }
    drop(rx);
    assert_eq!(Arc::strong_count(&held), 1);
    let (tx, rx) = bounded_priority(3).unwrap();
    tx.send_with_priority(held.clone(), Priority::High).unwrap();
    tx.send(held.clone()).unwrap();
    drop(rx);
    assert_eq!(Arc::strong_count(&held), 1);
    drop(tx);
}

/// Senders racing the last receiver's drop: whatever lands is dropped by
/// the time both sides are done, with a sender still alive.
#[test]
fn sends_racing_the_last_receiver_drop_leave_nothing_queued() {
    let runs: usize = if cfg!(miri) { 5 } else { 200 };
    for _ in 0..runs {
        let held = Arc::new(());
        let (tx, rx) = bounded(3).unwrap();
        let keep = tx.clone();
        thread::scope(|s| {
            let h = held.clone();
            s.spawn(move || while tx.send(h.clone()).is_ok() {});
            s.spawn(move || {
                let _ = rx.recv();
                drop(rx);
            });
        });
        assert_eq!(Arc::strong_count(&held), 1);
        assert!(keep.is_empty());
    }
}

/// crossbeam-channel's `disconnect_wakes_sender` / `_receiver`.
#[test]
fn disconnect_wakes_a_blocked_sender_and_receiver() {
    let (s, r) = bounded(1).unwrap();
    thread::scope(|scope| {
        scope.spawn(move || {
            assert_eq!(s.send(()), Ok(()));
            assert_eq!(s.send(()), Err(SendError(())));
        });
        scope.spawn(move || {
            thread::sleep(Duration::from_millis(10));
            drop(r);
        });
    });
    let (s, r) = bounded::<()>(1).unwrap();
    thread::scope(|scope| {
        scope.spawn(move || assert_eq!(r.recv(), Err(RecvError)));
        scope.spawn(move || {
            thread::sleep(Duration::from_millis(10));
            drop(s);
        });
    });
}

#[test]
fn iterators_and_same_channel() {
    let (tx, rx) = bounded(5).unwrap();
    let (tx2, rx2) = bounded::<i32>(5).unwrap();
    assert!(tx.same_channel(&tx.clone()) && !tx.same_channel(&tx2));
    assert!(rx.same_channel(&rx.clone()) && !rx.same_channel(&rx2));
    for i in 0..3 {
        tx.send(i).unwrap();
    }
    assert_eq!(rx.try_iter().collect::<Vec<_>>(), [0, 1, 2]);
    assert_eq!(rx.try_iter().next(), None);
    tx.send(3).unwrap();
    let mut seen = Vec::new();
    for v in &rx {
        seen.push(v);
        if v == 3 {
            break;
        }
    }
    tx.send(4).unwrap();
    drop(tx);
    seen.extend(rx);
    assert_eq!(seen, [3, 4]);
}

#[test]
fn futures_polled_after_ready_stay_pending() {
    let (tx, rx) = bounded(1).unwrap();
    let waker = noop_waker();
    let mut cx = Context::from_waker(&waker);
    let mut send = pin!(tx.send_async(1));
    assert!(send.as_mut().poll(&mut cx).is_ready());
    assert!(send.as_mut().poll(&mut cx).is_pending());
    tx.try_send(2).unwrap_err(); // still one value: the future sent once
    let mut recv = pin!(rx.recv_async());
    assert_eq!(recv.as_mut().poll(&mut cx), std::task::Poll::Ready(Ok(1)));
    tx.send(2).unwrap();
    assert!(
        recv.as_mut().poll(&mut cx).is_pending(),
        "a second value was taken"
    );
    assert_eq!(rx.try_recv(), Ok(2));
}

#[test]
fn try_send_hands_the_value_back() {
    let (tx, rx) = bounded(2).unwrap();
    tx.try_send(1).unwrap();
    tx.try_send(2).unwrap();
    assert_eq!(tx.try_send(3), Err(TrySendError::Full(3)));
    assert_eq!(rx.try_recv(), Ok(1));
    tx.try_send(3).unwrap();
    drop(rx);
    assert_eq!(tx.try_send(4), Err(TrySendError::Disconnected(4)));
    assert_eq!(tx.send(5).unwrap_err().into_inner(), 5);
    assert_eq!(
        tx.send_timeout(6, Duration::from_millis(1)),
        Err(SendTimeoutError::Disconnected(6))
    );
}

#[test]
fn receivers_drain_then_disconnect() {
    let (tx, rx) = bounded(4).unwrap();
    let rx2 = rx.clone();
    tx.send(1).unwrap();
    tx.send(2).unwrap();
    drop(tx);
    assert_eq!(rx.recv(), Ok(1));
    assert_eq!(rx2.try_recv(), Ok(2));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    assert_eq!(rx2.recv(), Err(RecvError));
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(1)),
        Err(RecvTimeoutError::Disconnected)
    );
}

#[test]
fn blocked_receiver_wakes_on_last_sender_drop() {
    let (tx, rx) = bounded::<u32>(1).unwrap();
    let t = thread::spawn(move || rx.recv());
    thread::sleep(Duration::from_millis(20));
    drop(tx);
    assert_eq!(t.join().unwrap(), Err(RecvError));
}

#[test]
fn blocked_sender_wakes_on_last_receiver_drop() {
    let (tx, rx) = bounded(1).unwrap();
    tx.send(1).unwrap();
    let t = thread::spawn(move || tx.send(2));
    thread::sleep(Duration::from_millis(20));
    drop(rx);
    assert_eq!(t.join().unwrap().unwrap_err().into_inner(), 2);
}

/// Sends waiting on a full channel while the last receiver goes (which
/// drops the queued values and so frees room) always get their value back:
/// none lands in the freed room and returns `Ok` on a closed channel. A
/// bare ring (capacity 1 and 4), a gated one (3) and a priority channel;
/// the drop comes after a varying number of yields, so it meets the send
/// at every stage of its wait.
#[test]
fn blocked_sends_racing_the_last_receiver_drop_get_their_value_back() {
    // Full size in the release step; debug (and ThreadSanitizer) fewer.
    let runs: usize = if cfg!(miri) {
        4
    } else if cfg!(debug_assertions) {
        400
    } else {
        2000
    };
    for capacity in [1, 3, 4] {
        for run in 0..runs {
            let (tx, rx) = bounded(capacity).unwrap();
            for i in 0..capacity {
                tx.send(i).unwrap();
            }
            let t = thread::spawn(move || tx.send(usize::MAX));
            for _ in 0..run % 40 {
                thread::yield_now();
            }
            drop(rx);
            let back = t.join().unwrap();
            assert_eq!(
                back.unwrap_err().into_inner(),
                usize::MAX,
                "capacity {capacity}"
            );
        }
    }
    for run in 0..runs {
        let (tx, rx) = bounded_priority(2).unwrap();
        tx.send_with_priority(0, Priority::High).unwrap();
        tx.send_with_priority(1, Priority::High).unwrap();
        let t = thread::spawn(move || tx.send_with_priority(9, Priority::High));
        for _ in 0..run % 40 {
            thread::yield_now();
        }
        drop(rx);
        assert_eq!(t.join().unwrap().unwrap_err().into_inner(), 9);
    }
}

#[test]
fn timeouts() {
    let (tx, rx) = bounded(1).unwrap();
    assert_eq!(
        rx.recv_timeout(Duration::from_millis(5)),
        Err(RecvTimeoutError::Timeout)
    );
    tx.send(1).unwrap();
    assert_eq!(
        tx.send_timeout(2, Duration::from_millis(5)),
        Err(SendTimeoutError::Timeout(2))
    );
    assert_eq!(rx.recv_timeout(Duration::MAX), Ok(1));
}

#[test]
fn recv_batch_takes_up_to_max() {
    let (tx, rx) = bounded(8).unwrap();
    let mut out = Vec::new();
    assert_eq!(rx.recv_batch(&mut out, 0), Ok(0));
    for i in 0..6 {
        tx.send(i).unwrap();
    }
    assert_eq!(rx.recv_batch(&mut out, 4), Ok(4));
    assert_eq!(rx.recv_batch(&mut out, 4), Ok(2));
    assert_eq!(out, [0, 1, 2, 3, 4, 5]);
    drop(tx);
    assert_eq!(rx.recv_batch(&mut out, 4), Err(RecvError));
}

#[test]
fn recv_batch_frees_room_for_blocked_senders() {
    let (tx, rx) = bounded(2).unwrap();
    let t = thread::spawn(move || {
        for i in 0..100 {
            tx.send(i).unwrap();
        }
    });
    let mut out = Vec::new();
    while out.len() < 100 {
        rx.recv_batch(&mut out, 2).unwrap();
    }
    t.join().unwrap();
    assert_eq!(out, (0..100).collect::<Vec<_>>());
}

#[test]
fn lossy_counts_what_it_drops() {
    let (tx, rx) = bounded_lossy(4).unwrap();
    for i in 0..10 {
        tx.send(i).unwrap();
    }
    assert_eq!(tx.dropped(), 6);
    assert_eq!(rx.dropped(), 6);
    assert_eq!(rx.iter().take(4).collect::<Vec<_>>(), [6, 7, 8, 9]);
}

#[test]
fn priority_serves_high_first_and_guards_low() {
    let (tx, rx) = bounded_priority(64).unwrap();
    tx.send_with_priority(("low", 0), Priority::Low).unwrap();
    for i in 0..20 {
        tx.send_with_priority(("high", i), Priority::High).unwrap();
    }
    let order: Vec<_> = (0..21).map(|_| rx.recv().unwrap()).collect();
    let low_at = order.iter().position(|(p, _)| *p == "low").unwrap();
    assert_eq!(
        low_at, LOW_PRIORITY_EVERY,
        "low served after exactly the guard's streak"
    );
    assert!(order[..low_at].iter().all(|(p, _)| *p == "high"));
    // Each level is FIFO.
    let highs: Vec<_> = order
        .iter()
        .filter(|(p, _)| *p == "high")
        .map(|(_, i)| *i)
        .collect();
    assert_eq!(highs, (0..20).collect::<Vec<_>>());
}

#[test]
fn async_send_and_recv_with_tokio() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let (tx, rx) = bounded(2).unwrap();
    let producer = rt.spawn(async move {
        for i in 0..1000u32 {
            tx.send_async(i).await.unwrap();
        }
    });
    let consumer = rt.spawn(async move {
        let mut sum = 0u64;
        while let Ok(v) = rx.recv_async().await {
            sum += u64::from(v);
        }
        sum
    });
    rt.block_on(producer).unwrap();
    assert_eq!(rt.block_on(consumer).unwrap(), 999 * 1000 / 2);
}

#[test]
fn async_with_hand_written_executor() {
    let (tx, rx) = bounded(1).unwrap();
    let t = thread::spawn(move || {
        for i in 0..100 {
            block_on(tx.send_async(i)).unwrap();
        }
    });
    let got: Vec<_> = (0..100)
        .map(|_| block_on(rx.recv_async()).unwrap())
        .collect();
    t.join().unwrap();
    assert_eq!(got, (0..100).collect::<Vec<_>>());
}

#[test]
fn dropped_recv_future_takes_nothing_and_passes_on_its_wakeup() {
    let (tx, rx) = bounded(4).unwrap();
    let waker = noop_waker();
    let mut cx = Context::from_waker(&waker);
    {
        let mut fut = pin!(rx.recv_async());
        assert!(fut.as_mut().poll(&mut cx).is_pending());
        tx.send(1).unwrap(); // notifies the pending future
    }
    // The value is still there for the next receiver.
    assert_eq!(rx.try_recv(), Ok(1));
    // A blocked receiver is woken by a notification a dropped future passed on.
    let rx2 = rx.clone();
    let t = thread::spawn(move || rx2.recv());
    thread::sleep(Duration::from_millis(10));
    {
        let mut fut = pin!(rx.recv_async());
        let _ = fut.as_mut().poll(&mut cx);
    }
    tx.send(2).unwrap();
    assert_eq!(t.join().unwrap(), Ok(2));
}

/// A value type that counts its drops, to account for every item.
struct Tracked(#[allow(dead_code)] u64, Arc<AtomicUsize>);
impl Drop for Tracked {
    fn drop(&mut self) {
        self.1.fetch_add(1, Ordering::Relaxed);
    }
}

/// 4 producers, 4 consumers; producers stop (drop their senders) in the
/// middle, at different times. Every value sent is received exactly once.
#[test]
fn stress_4p4c_senders_close_midway() {
    let per = if cfg!(miri) {
        200
    } else if cfg!(debug_assertions) {
        50_000
    } else {
        250_000
    };
    let (tx, rx) = bounded(64).unwrap();
    let producers: Vec<_> = (0..4u64)
        .map(|p| {
            let tx = tx.clone();
            thread::spawn(move || {
                // Producer p stops after (p + 1) / 4 of its share.
                let n = per * (p + 1) / 4;
                for i in 0..n {
                    tx.send(p << 32 | i).unwrap();
                }
                n
            })
        })
        .collect();
    drop(tx);
    let consumers: Vec<_> = (0..4)
        .map(|_| {
            let rx = rx.clone();
            thread::spawn(move || rx.iter().collect::<Vec<u64>>())
        })
        .collect();
    drop(rx);
    let sent: u64 = producers.into_iter().map(|p| p.join().unwrap()).sum();
    let mut seen = HashSet::new();
    for c in consumers {
        for v in c.join().unwrap() {
            assert!(seen.insert(v), "duplicate {v:#x}");
        }
    }
    assert_eq!(seen.len() as u64, sent);
}

/// 4 producers, 4 consumers; consumers leave in the middle. Every value is
/// accounted for: received, handed back to its sender, or dropped with the
/// channel — and none twice.
#[test]
fn stress_4p4c_receivers_close_midway() {
    let per = if cfg!(miri) {
        200
    } else if cfg!(debug_assertions) {
        50_000
    } else {
        250_000
    };
    let drops = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = bounded(64).unwrap();
    let producers: Vec<_> = (0..4u64)
        .map(|p| {
            let (tx, drops) = (tx.clone(), drops.clone());
            thread::spawn(move || {
                let (mut ok, mut back) = (0u64, 0u64);
                for i in 0..per {
                    match tx.send(Tracked(p << 32 | i, drops.clone())) {
                        Ok(()) => ok += 1,
                        Err(e) => {
                            drop(e.into_inner());
                            back += 1;
                        }
                    }
                }
                (ok, back)
            })
        })
        .collect();
    drop(tx);
    let consumers: Vec<_> = (0..4u64)
        .map(|c| {
            let rx = rx.clone();
            thread::spawn(move || {
                let mut got = 0u64;
                let quota = per * (c + 1) / 2;
                while got < quota {
                    match rx.recv() {
                        Ok(v) => {
                            drop(v);
                            got += 1;
                        }
                        Err(_) => break,
                    }
                }
                got
            })
        })
        .collect();
    drop(rx);
    let received: u64 = consumers.into_iter().map(|c| c.join().unwrap()).sum();
    let (ok, back) = producers
        .into_iter()
        .map(|p| p.join().unwrap())
        .fold((0, 0), |(a, b), (c, d)| (a + c, b + d));
    assert_eq!(ok + back, 4 * per);
    // Everything created was dropped exactly once: received, handed back,
    // or left in the channel (dropped when the last handle went).
    assert_eq!(drops.load(Ordering::Relaxed) as u64, 4 * per);
    assert!(received <= ok);
}

#[test]
fn closing_wakes_every_blocked_receiver_across_rounds() {
    // 40 blocked receivers: more than one of Notify's rounds of 32 wake-ups.
    let (tx, rx) = bounded::<u32>(1).unwrap();
    let receivers: Vec<_> = (0..40)
        .map(|_| {
            let rx = rx.clone();
            std::thread::spawn(move || rx.recv())
        })
        .collect();
    // Give them a moment to block (correctness does not depend on it).
    std::thread::sleep(std::time::Duration::from_millis(50));
    drop(tx);
    for r in receivers {
        assert!(
            r.join().unwrap().is_err(),
            "a closed, empty channel disconnects"
        );
    }
}
