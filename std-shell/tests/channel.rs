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
    bounded, bounded_lossy, bounded_priority, Priority, RecvError, RecvTimeoutError,
    SendTimeoutError, TryRecvError, TrySendError, LOW_PRIORITY_EVERY,
};

#[test]
fn zero_capacity_is_an_error() {
    assert!(bounded::<u8>(0).is_err());
    assert!(bounded_lossy::<u8>(0).is_err());
    assert!(bounded_priority::<u8>(0).is_err());
    assert!(bounded::<u8>(usize::MAX).is_err());
    let (tx, _rx) = bounded::<u8>(5).unwrap();
    assert_eq!(tx.capacity(), 8);
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
