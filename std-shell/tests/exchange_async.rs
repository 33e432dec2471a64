//! The exchange's endpoints off their worker's thread and in async tasks:
//! they are `Send`, every blocking operation has an async form, and a
//! blocked send (async, or a worker waiting in `Worker::wait` after
//! `Full`) is woken by the receiver freeing space, never by spinning.
//! Sizes scale down in debug builds (plain `cargo test`, ThreadSanitizer).

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Waker};
use std::time::Duration;

use evlatch_std::exchange::{
    initialize, BroadcastAsync, Broadcaster, Config, Receiver, RecvAsync, RecvBatchAsync,
    RecvError, SendAsync, SendBatchAsync, SendError, Sender, TryRecvError, TrySendError,
};

const N: u64 = if cfg!(debug_assertions) {
    2_000
} else {
    50_000
};

/// Compile-time: the endpoints and their futures can move to other
/// threads (`T: Send`), e.g. into `tokio::spawn` on a multi-thread runtime.
#[test]
fn endpoints_and_their_futures_are_send() {
    fn assert_send<T: Send>() {}
    assert_send::<Sender<String>>();
    assert_send::<Receiver<String>>();
    assert_send::<Broadcaster<String>>();
    assert_send::<SendAsync<'static, String>>();
    assert_send::<SendBatchAsync<'static, String>>();
    assert_send::<BroadcastAsync<'static, String>>();
    assert_send::<RecvAsync<'static, String>>();
    assert_send::<RecvBatchAsync<'static, String, Vec<String>>>();
}

/// Worker 0's sender moves into a task of a multi-thread runtime and sends
/// `N` messages through a ring of 4 with `send_async`; worker 1 receives
/// them slowly at first (so the task really waits for space), in order.
#[test]
fn async_send_waits_for_space_on_a_multi_thread_runtime() {
    let results = initialize(Config::Process(2), |mut w| {
        let (mut txs, mut rx) = w.allocate_bounded::<u64>(0, 4).unwrap();
        if w.index() == 0 {
            let tx = txs.remove(1);
            drop(txs);
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .build()
                .unwrap();
            let task = rt.spawn(async move {
                let mut tx = tx;
                for i in 0..N {
                    tx.send_async(i).await.unwrap();
                }
            });
            rt.block_on(task).unwrap();
            0
        } else {
            drop(txs);
            let mut expect = 0;
            while let Ok(v) = rx.recv() {
                assert_eq!(v, expect, "FIFO per pair");
                expect += 1;
                if expect < 20 {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
            expect
        }
    })
    .unwrap()
    .join();
    assert_eq!(results[1], Ok(N), "every message received once");
}

/// Every worker runs one task that sends to every peer with
/// `send_batch_async` and receives with `recv_batch_async`, joined on one
/// current-thread runtime: the send waits for space, the receive for data,
/// both on the same task, with rings much smaller than the traffic. Every
/// message arrives exactly once, in order per pair.
#[test]
fn async_all_to_all_exactly_once() {
    const WORKERS: usize = 4;
    let per_pair = N / 4;
    let results = initialize(Config::Process(WORKERS), move |mut w| {
        let me = w.index();
        let (txs, mut rx) = w.allocate_bounded::<(usize, u64)>(0, 8).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async move {
            let send = async move {
                let mut txs = txs;
                let mut batch = Vec::with_capacity(16);
                let mut seq = 0;
                while seq < per_pair {
                    for tx in txs.iter_mut() {
                        batch.extend((seq..(seq + 16).min(per_pair)).map(|s| (me, s)));
                        tx.send_batch_async(&mut batch).await.unwrap();
                    }
                    seq += 16;
                }
                // Dropping the senders ends every peer's receive loop.
            };
            let recv = async move {
                let mut next = [0u64; WORKERS];
                let mut inbox = Vec::with_capacity(64);
                loop {
                    match rx.recv_batch_async(&mut inbox, 64).await {
                        Ok(_) => {}
                        Err(RecvError::Disconnected) => break,
                        Err(e) => panic!("{e}"),
                    }
                    for (from, s) in inbox.drain(..) {
                        assert_eq!(s, next[from], "FIFO from {from}");
                        next[from] += 1;
                    }
                }
                next
            };
            let ((), got) = tokio::join!(send, recv);
            got
        })
    })
    .unwrap()
    .join();
    for r in results {
        assert_eq!(r.unwrap(), [per_pair; WORKERS]);
    }
}

/// Endpoints moved to plain threads: the receiver blocks in `recv` on a
/// thread that is not its worker's, the sender in `send` on another, with
/// a ring of 2. A moved sender keeps the channel open after its worker's
/// closure returned; dropping it ends the receiver's loop.
#[test]
fn endpoints_block_on_threads_other_than_their_workers() {
    let results = initialize(Config::Process(2), |mut w| {
        let (mut txs, rx) = w.allocate_bounded::<u64>(0, 2).unwrap();
        if w.index() == 0 {
            let tx = txs.remove(1);
            drop(txs);
            drop(rx);
            let t = std::thread::spawn(move || {
                let mut tx = tx;
                for i in 0..N {
                    tx.send(i).unwrap();
                }
            });
            // The worker's closure returns while its sender still sends.
            Some(t)
        } else {
            drop(txs);
            let t = std::thread::spawn(move || {
                let mut rx = rx;
                let mut expect = 0;
                while let Ok(v) = rx.recv() {
                    assert_eq!(v, expect);
                    expect += 1;
                }
                assert_eq!(expect, N);
            });
            Some(t)
        }
    })
    .unwrap()
    .join();
    for r in results {
        r.unwrap().unwrap().join().unwrap();
    }
}

/// A `send_async` dropped while it waits for space sends nothing and
/// leaves the sender usable: the ring holds just the first message, and a
/// later send goes through once there is room.
#[test]
fn dropped_async_send_sends_nothing() {
    initialize(Config::Thread, |mut w| {
        let (mut txs, mut rx) = w.allocate_bounded::<u32>(0, 1).unwrap();
        txs[0].send(1).unwrap();
        {
            let mut fut = pin!(txs[0].send_async(2));
            let mut cx = Context::from_waker(Waker::noop());
            assert!(fut.as_mut().poll(&mut cx).is_pending(), "the ring is full");
        }
        assert_eq!(rx.try_recv(), Ok(1));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        txs[0].send(3).unwrap();
        assert_eq!(rx.try_recv(), Ok(3));
    })
    .unwrap()
    .join();
}

/// An async send waiting for space resolves to `SendError` with its
/// message when the receiving worker goes away.
#[test]
fn async_send_fails_when_the_receiver_goes() {
    let results = initialize(Config::Process(2), |mut w| {
        let (mut txs, rx) = w.allocate_bounded::<u32>(0, 1).unwrap();
        if w.index() == 0 {
            let rt = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            rt.block_on(async {
                // The first fills the ring (or finds the peer gone); the
                // second waits until worker 1 drops its receiver.
                let _ = txs[1].send_async(1).await;
                txs[1].send_async(2).await
            })
        } else {
            std::thread::sleep(Duration::from_millis(20));
            drop(rx);
            Ok(())
        }
    })
    .unwrap()
    .join();
    assert_eq!(results[0], Ok(Err(SendError(2))));
}

/// A worker drives its sends from a `Worker::wait` loop: `try_send` until
/// `Full`, then `wait`. Freed space is news: every wait returns the
/// channel's id (never an empty list, never a timeout), while the peer
/// receives slowly at first; everything arrives, in order.
#[test]
fn wait_reports_freed_space_after_full() {
    let results = initialize(Config::Process(2), |mut w| {
        let (mut txs, mut rx) = w.allocate_bounded::<u64>(7, 4).unwrap();
        if w.index() == 0 {
            let mut next = 0;
            let mut waits = 0u64;
            while next < N {
                match txs[1].try_send(next) {
                    Ok(()) => next += 1,
                    Err(TrySendError::Full(_)) => {
                        assert_eq!(w.wait(Some(Duration::from_secs(60))), [7]);
                        waits += 1;
                    }
                    Err(e) => panic!("{e}"),
                }
            }
            assert!(waits > 0, "the ring of 4 filled at least once");
            0
        } else {
            let mut expect = 0;
            while expect < N {
                assert_eq!(rx.recv(), Ok(expect));
                expect += 1;
                if expect < 20 {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
            expect
        }
    })
    .unwrap()
    .join();
    assert_eq!(results[1], Ok(N));
}

/// Two workers broadcast more than a channel holds with
/// `Broadcaster::send_async` while receiving on the same task: the sends
/// wait for space, every worker gets every message once, in order per
/// sender.
#[test]
fn async_broadcast_waits_for_space() {
    let count = N.max(3_000);
    let results = initialize(Config::Process(2), move |mut w| {
        let me = w.index() as u64;
        let (tx, mut rx) = w.broadcast::<(u64, u64)>(0).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async move {
            let send = async move {
                let mut tx = tx;
                for i in 0..count {
                    tx.send_async((me, i)).await.unwrap();
                }
            };
            let recv = async move {
                let mut next = [0u64; 2];
                while let Ok((from, i)) = rx.recv_async().await {
                    assert_eq!(i, next[from as usize]);
                    next[from as usize] += 1;
                }
                next
            };
            tokio::join!(send, recv).1
        })
    })
    .unwrap()
    .join();
    for r in results {
        assert_eq!(r.unwrap(), [count; 2]);
    }
}
