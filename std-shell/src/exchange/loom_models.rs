//! Loom models of the exchange's wake and termination protocol: the
//! doorbell (`doorbell.rs`), the ring's close and space flags (`ring.rs`),
//! and the endpoints that use them (`channel.rs`). One race per model.

use std::sync::Arc;

use loom::sync::atomic::{AtomicBool, Ordering};

use super::channel::{Receiver, Sender};
use super::doorbell::{Doorbell, Spin};
use super::error::{RecvError, SendError, TrySendError};
use super::registry::Registry;
use super::ring::Matrix;
use super::worker::Worker;

fn matrix<T>(peers: usize, capacity: usize) -> Arc<Matrix<T>> {
    let doorbells: Arc<[Doorbell]> = (0..peers).map(|_| Doorbell::new(Spin::Park)).collect();
    Arc::new(Matrix::new(doorbells, capacity))
}

/// Spins (yielding to loom) until `flag` is set.
fn until(flag: &AtomicBool) {
    while !flag.load(Ordering::Acquire) {
        loom::thread::yield_now();
    }
}

/// A send racing the last sender's drop: workers 0 and 1 send to worker 2;
/// 0 sends one message and drops its sender while 1 drops its own. The
/// receiver, parked in `recv`, must get the message and then see
/// `Disconnected` — never miss the message, never hang after the last drop
/// (the close flag's Release/Acquire and the doorbell's fences).
#[test]
fn send_racing_last_senders_drop() {
    loom::model(|| {
        let m = matrix::<u32>(3, 1);
        // Worker 2 sends nothing to itself.
        drop(Sender::new(m.clone(), 2, 2));
        let mut rx = Receiver::new(m.clone(), 2);
        let a = {
            let m = m.clone();
            loom::thread::spawn(move || {
                let mut tx = Sender::new(m, 0, 2);
                tx.send(7).unwrap();
            })
        };
        let b = {
            let m = m.clone();
            loom::thread::spawn(move || drop(Sender::new(m, 1, 2)))
        };
        assert_eq!(rx.recv(), Ok(7));
        assert_eq!(rx.recv(), Err(RecvError::Disconnected));
        a.join().unwrap();
        b.join().unwrap();
    });
}

/// A wait racing an arrival: the receiver announces itself on its doorbell
/// and parks while the sender publishes. Either the sender sees the
/// announcement and unparks it, or the receiver's re-check sees the
/// message (store buffering across the two `SeqCst` fences). The sender
/// stays alive until the message is received, so only the send's own ring
/// can wake the receiver.
#[test]
fn wait_racing_arrival() {
    loom::model(|| {
        let m = matrix::<u32>(2, 1);
        let received = Arc::new(AtomicBool::new(false));
        let mut rx = Receiver::new(m.clone(), 1);
        let t = {
            let m = m.clone();
            let received = received.clone();
            loom::thread::spawn(move || {
                let mut tx = Sender::new(m, 0, 1);
                tx.send(5).unwrap();
                until(&received);
            })
        };
        assert_eq!(rx.recv(), Ok(5));
        received.store(true, Ordering::Release);
        t.join().unwrap();
    });
}

/// A sender blocked on a full ring racing the receiver's pop: the sender
/// announces itself and sets the ring's "space wanted" flag while the
/// receiver frees the slot and checks the flag. Either the receiver sees
/// the flag (and the announcement behind it) and rings, or the sender's
/// re-check sees the space. Both messages arrive, in order.
#[test]
fn blocked_sender_racing_pop() {
    loom::model(|| {
        let m = matrix::<u32>(2, 1);
        let received = Arc::new(AtomicBool::new(false));
        let t = {
            let m = m.clone();
            let received = received.clone();
            loom::thread::spawn(move || {
                let mut tx = Sender::new(m, 0, 1);
                tx.send(1).unwrap();
                tx.send(2).unwrap();
                until(&received);
            })
        };
        let mut rx = Receiver::new(m.clone(), 1);
        assert_eq!(rx.recv(), Ok(1));
        assert_eq!(rx.recv(), Ok(2));
        received.store(true, Ordering::Release);
        t.join().unwrap();
    });
}

/// A blocked sender racing the receiver's drop: the receiver goes away
/// without receiving; the sender's second message (capacity 1) must come
/// back as an error instead of parking forever.
#[test]
fn receiver_drop_racing_blocked_sender() {
    loom::model(|| {
        let m = matrix::<u32>(2, 1);
        let rx = Receiver::new(m.clone(), 1);
        let t = {
            let m = m.clone();
            loom::thread::spawn(move || {
                let mut tx = Sender::new(m, 0, 1);
                // The first send may land in the ring or find the
                // receiver gone; the second cannot be received either way.
                let _ = tx.send(1);
                assert_eq!(tx.send(2), Err(SendError(2)));
            })
        };
        drop(rx);
        t.join().unwrap();
    });
}

/// An async wait racing an arrival: the task registers its waker and
/// announces `POLLING` while a peer publishes and rings. Either the ring
/// sees `POLLING` and wakes the waker, or the poll's re-check sees the
/// data; `block_on` never sleeps forever. (The waker slot itself is
/// `atomic-waker`'s, outside loom's view: this checks the state word.)
#[test]
fn async_wait_racing_arrival() {
    loom::model(|| {
        let bell = loom::sync::Arc::new(Doorbell::new(Spin::Park));
        let data = loom::sync::Arc::new(AtomicBool::new(false));
        let t = {
            let (bell, data) = (bell.clone(), data.clone());
            loom::thread::spawn(move || {
                data.store(true, Ordering::Relaxed);
                bell.ring();
            })
        };
        loom::future::block_on(core::future::poll_fn(|cx| {
            if bell.poll_wait(cx.waker(), || data.load(Ordering::Relaxed)) {
                core::task::Poll::Ready(())
            } else {
                core::task::Poll::Pending
            }
        }));
        bell.stop_waiting();
        t.join().unwrap();
    });
}

/// An async send blocked on a full ring racing the receiver's pop: the
/// task registers its waker on the ring's space bell, sets `waiting` and
/// re-checks, while the receiver frees the slot, fences and reads
/// `waiting`. Either the receiver wakes the task, or the task's re-check
/// sees the space; `block_on` never sleeps forever, and both messages
/// arrive in order.
#[test]
fn async_send_racing_pop() {
    loom::model(|| {
        let m = matrix::<u32>(2, 1);
        let received = Arc::new(AtomicBool::new(false));
        let t = {
            let m = m.clone();
            let received = received.clone();
            loom::thread::spawn(move || {
                let mut tx = Sender::new(m, 0, 1);
                loom::future::block_on(async {
                    tx.send_async(1).await.unwrap();
                    tx.send_async(2).await.unwrap();
                });
                until(&received);
            })
        };
        let mut rx = Receiver::new(m.clone(), 1);
        assert_eq!(rx.recv(), Ok(1));
        assert_eq!(rx.recv(), Ok(2));
        received.store(true, Ordering::Release);
        t.join().unwrap();
    });
}

/// An async receive racing an arrival: the task registers its waker on
/// the receiver's data bell while a sender on another thread publishes,
/// fences and reads `waiting` (one fence shared with the worker's
/// doorbell). The sender stays alive until the message is received, so
/// only the publication can wake the task.
#[test]
fn async_recv_racing_arrival() {
    loom::model(|| {
        let m = matrix::<u32>(2, 1);
        let received = Arc::new(AtomicBool::new(false));
        let mut rx = Receiver::new(m.clone(), 1);
        let t = {
            let m = m.clone();
            let received = received.clone();
            loom::thread::spawn(move || {
                let mut tx = Sender::new(m, 0, 1);
                tx.try_send(5).unwrap();
                until(&received);
            })
        };
        assert_eq!(loom::future::block_on(rx.recv_async()), Ok(5));
        received.store(true, Ordering::Release);
        t.join().unwrap();
    });
}

/// An async send blocked on a full ring racing the receiver's drop: the
/// receiver closes its rings, fences and rings the space bells; the task
/// must resolve to `SendError` with its message instead of waiting
/// forever.
#[test]
fn receiver_drop_racing_async_send() {
    loom::model(|| {
        let m = matrix::<u32>(2, 1);
        let rx = Receiver::new(m.clone(), 1);
        let t = {
            let m = m.clone();
            loom::thread::spawn(move || {
                let mut tx = Sender::new(m, 0, 1);
                loom::future::block_on(async {
                    // As in `receiver_drop_racing_blocked_sender`: the
                    // first may land or fail, the second cannot be sent.
                    let _ = tx.send_async(1).await;
                    assert_eq!(tx.send_async(2).await, Err(SendError(2)));
                });
            })
        };
        drop(rx);
        t.join().unwrap();
    });
}

/// A sender created on one thread and moved to another (endpoints are
/// `Send`) blocks on a full ring there: the receiver's pop must wake the
/// thread the sender waits on now, not the thread that made it (the
/// blocking wait registers a waker for the current thread each time).
#[test]
fn moved_sender_blocks_on_its_new_thread() {
    loom::model(|| {
        let m = matrix::<u32>(2, 1);
        let mut tx = Sender::new(m.clone(), 0, 1);
        // Fill the ring here, on the thread that made the sender.
        tx.send(1).unwrap();
        let received = Arc::new(AtomicBool::new(false));
        let t = {
            let received = received.clone();
            loom::thread::spawn(move || {
                tx.send(2).unwrap();
                until(&received);
            })
        };
        let mut rx = Receiver::new(m.clone(), 1);
        assert_eq!(rx.recv(), Ok(1));
        assert_eq!(rx.recv(), Ok(2));
        received.store(true, Ordering::Release);
        t.join().unwrap();
    });
}

/// `Worker::wait` racing the space its full sender waits for: worker 0's
/// `try_send` found the ring full (the producer's `tx_full` flag), and it
/// announces itself on its doorbell and re-checks while worker 1's
/// receiver frees the slot, fences, and reads the flag and the doorbell.
/// Either worker 1 rings, or worker 0's re-check sees the room; the wait
/// returns the channel's id and the next send goes through. Worker 1
/// keeps its senders until then, so no disconnect can end the wait.
#[test]
fn worker_wait_racing_freed_space() {
    loom::model(|| {
        let registry = std::sync::Arc::new(Registry::new(2));
        let done = Arc::new(AtomicBool::new(false));
        let t = {
            let registry = registry.clone();
            let done = done.clone();
            loom::thread::spawn(move || {
                let mut w = Worker::new(1, 2, registry);
                let (txs, mut rx) = w.allocate_bounded::<u32>(0, 1).unwrap();
                assert_eq!(rx.recv(), Ok(1));
                until(&done);
                drop(txs);
            })
        };
        let mut w = Worker::new(0, 2, registry);
        let (mut txs, _rx) = w.allocate_bounded::<u32>(0, 1).unwrap();
        txs[1].try_send(1).unwrap();
        match txs[1].try_send(2) {
            Ok(()) => {}
            Err(TrySendError::Full(v)) => {
                assert_eq!(w.wait(None), [0]);
                assert_eq!(txs[1].try_send(v), Ok(()));
            }
            Err(e) => panic!("{e}"),
        }
        done.store(true, Ordering::Release);
        t.join().unwrap();
    });
}
