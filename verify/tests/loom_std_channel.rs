//! Loom models of the std shell's channel: close semantics and the
//! not-empty / not-full wait lists, one race per test.
#![cfg(evlatch_loom)]

use evlatch_std::channel::{bounded, RecvError};
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;

// In every model the main thread only spawns and joins; the actors are
// spawned threads. An actor's wake-up may reach the other actor after it
// stopped waiting (harmless with std's park token), and loom 0.7 aborts the
// model if such an `unpark` reaches a thread blocked in `join`
// (tokio-rs/loom#249) — so no actor ever joins another.

/// The last sender sends one value and leaves while a receiver is blocked
/// in `recv`: the receiver gets the value, then `Disconnected` — it never
/// misses the value and never hangs.
#[test]
fn close_by_senders_racing_recv() {
    loom::model(|| {
        let (tx, rx) = bounded::<u32>(1).unwrap();
        let receiver = thread::spawn(move || (rx.recv(), rx.recv()));
        let sender = thread::spawn(move || {
            tx.send(7).unwrap();
            drop(tx);
        });
        sender.join().unwrap();
        let (first, second) = receiver.join().unwrap();
        assert_eq!(first, Ok(7));
        assert_eq!(second, Err(RecvError));
    });
}

/// The last receiver leaves while a sender sends into a full channel: the
/// send either lands (before the close) or hands its value back; every
/// value is dropped exactly once and the sender never hangs.
#[test]
fn close_by_receivers_racing_send() {
    struct Tracked(Arc<AtomicUsize>);
    impl Drop for Tracked {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = bounded::<Tracked>(1).unwrap();
        tx.send(Tracked(drops.clone())).unwrap();
        let d = drops.clone();
        let sender = thread::spawn(move || match tx.send(Tracked(d)) {
            Ok(()) => true,
            Err(e) => {
                drop(e.into_inner());
                false
            }
        });
        // Receive one value, then leave.
        let receiver = thread::spawn(move || {
            drop(rx.recv().unwrap());
            drop(rx);
        });
        receiver.join().unwrap();
        let _landed = sender.join().unwrap();
        // Both values are gone now: received, handed back or dropped with
        // the channel (whose last handle the sender thread dropped).
        assert_eq!(drops.load(Ordering::Relaxed), 2);
    });
}

/// A sender blocked on a full channel of capacity 1 and a receiver making
/// room: the not-full notification is never lost.
#[test]
fn send_blocked_on_full_racing_recv() {
    loom::model(|| {
        let (tx, rx) = bounded::<u32>(1).unwrap();
        tx.send(1).unwrap();
        let sender = thread::spawn(move || tx.send(2));
        let receiver = thread::spawn(move || (rx.recv(), rx.recv()));
        sender.join().unwrap().unwrap();
        assert_eq!(receiver.join().unwrap(), (Ok(1), Ok(2)));
    });
}

/// A notified listener that gives up passes its notification on. An async
/// receiver listens first and a blocking receiver parks behind it; one
/// value is sent, so the notification goes to the async receiver — whose
/// future is then dropped without being polled again. The blocking receiver
/// must still get the value (a `Notify` that dropped the notification with
/// the listener would leave it asleep with a value queued).
#[test]
fn dropped_notified_listener_racing_blocked_receiver() {
    use std::future::Future;
    use std::task::{Context, Wake, Waker};

    struct Noop;
    impl Wake for Noop {
        fn wake(self: std::sync::Arc<Self>) {}
    }

    loom::model(|| {
        let (tx, rx) = bounded::<u32>(1).unwrap();
        let rx2 = rx.clone();
        let waker = Waker::from(std::sync::Arc::new(Noop));
        let mut cx = Context::from_waker(&waker);
        let mut first = Box::pin(rx.recv_async());
        assert!(first.as_mut().poll(&mut cx).is_pending());
        let blocked = thread::spawn(move || rx2.recv());
        // Kept alive so that no disconnect wakes the blocked receiver.
        let keep = tx.clone();
        let sender = thread::spawn(move || tx.send(7));
        drop(first);
        sender.join().unwrap().unwrap();
        assert_eq!(blocked.join().unwrap(), Ok(7));
        drop((rx, keep));
    });
}

/// An async receiver re-polled (updating its waker) while a sender's
/// notification lands: the receiver either sees the value on that poll or
/// has been woken, so a poll after the sender is done finds the value.
#[test]
fn waker_update_racing_notify() {
    use std::future::Future;
    use std::task::{Context, Poll, Wake, Waker};

    struct Noop;
    impl Wake for Noop {
        fn wake(self: std::sync::Arc<Self>) {}
    }

    loom::model(|| {
        let (tx, rx) = bounded::<u32>(1).unwrap();
        let waker = Waker::from(std::sync::Arc::new(Noop));
        let mut cx = Context::from_waker(&waker);
        let mut fut = Box::pin(rx.recv_async());
        assert!(fut.as_mut().poll(&mut cx).is_pending());
        let sender = thread::spawn(move || tx.send(3));
        let early = fut.as_mut().poll(&mut cx);
        sender.join().unwrap().unwrap();
        let got = match early {
            Poll::Ready(v) => v,
            Poll::Pending => match fut.as_mut().poll(&mut cx) {
                Poll::Ready(v) => v,
                Poll::Pending => panic!("a value is queued but the receiver is pending"),
            },
        };
        assert_eq!(got, Ok(3));
    });
}

/// A receive whose deadline has already passed, racing a send: the
/// receiver sees the notification without being unparked (a timed park may
/// return at any time), so only the notification flag orders the
/// notifier's work before the receiver's. The value is received or stays
/// queued — never lost.
#[test]
fn timed_out_receive_racing_send() {
    use evlatch_std::channel::RecvTimeoutError;
    use std::time::Duration;

    loom::model(|| {
        let (tx, rx) = bounded::<u32>(1).unwrap();
        let receiver = thread::spawn(move || (rx.recv_timeout(Duration::ZERO), rx));
        let sender = thread::spawn(move || tx.send(5).map(|()| tx));
        let tx = sender.join().unwrap().unwrap();
        let (got, rx) = receiver.join().unwrap();
        match got {
            Ok(v) => assert_eq!(v, 5),
            Err(RecvTimeoutError::Timeout) => assert_eq!(rx.try_recv(), Ok(5)),
            Err(e) => panic!("unexpected {e:?}"),
        }
        drop(tx);
    });
}
