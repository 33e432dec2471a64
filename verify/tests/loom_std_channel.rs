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

// The exact-capacity gate: a capacity that is not a power of two (3) sits on
// a larger ring (4) behind a count of the room taken.

/// A sender blocked on a full channel of capacity 3 and a receiver making
/// room: the room given back and the not-full notification are never lost
/// (the sender completes), and the channel then holds exactly 3 again — a
/// further `try_send` is `Full`.
#[test]
fn gated_send_blocked_at_capacity_racing_recv() {
    use evlatch_std::channel::TrySendError;
    loom::model(|| {
        let (tx, rx) = bounded::<u32>(3).unwrap();
        for i in 0..3 {
            tx.try_send(i).unwrap();
        }
        let sender = thread::spawn(move || tx.send(3).map(|()| tx));
        let receiver = thread::spawn(move || (rx.recv(), rx));
        let tx = sender.join().unwrap().unwrap();
        let (first, rx) = receiver.join().unwrap();
        assert_eq!(first, Ok(0));
        assert_eq!(tx.try_send(9), Err(TrySendError::Full(9)));
        assert_eq!(rx.try_iter().collect::<Vec<_>>(), [1, 2, 3]);
    });
}

/// Two `try_send`s race one receive on a full channel of capacity 3: at
/// most one of them fits (the room the receive gives back is taken once),
/// so the channel never holds more than 3, and nothing is lost.
#[test]
fn gated_try_sends_racing_recv_never_exceed_capacity() {
    loom::model(|| {
        let (tx, rx) = bounded::<u32>(3).unwrap();
        for i in 0..3 {
            tx.try_send(i).unwrap();
        }
        let tx2 = tx.clone();
        let a = thread::spawn(move || tx.try_send(10).is_ok());
        let b = thread::spawn(move || (tx2.try_send(11).is_ok(), rx.recv(), rx));
        let a_fit = a.join().unwrap();
        let (b_fit, first, rx) = b.join().unwrap();
        assert_eq!(first, Ok(0));
        // `b`'s own send ran before its receive: the channel was full then.
        assert!(!b_fit);
        let rest: Vec<u32> = rx.try_iter().collect();
        assert!(rest.len() <= 3);
        let expected: Vec<u32> = if a_fit { vec![1, 2, 10] } else { vec![1, 2] };
        assert_eq!(rest, expected);
    });
}

/// Two `try_send`s race for the last unit of room of a channel of
/// capacity 3 holding 2 (its ring has room for 4): exactly one fits, so
/// the channel never holds more than 3.
#[test]
fn gated_try_sends_racing_for_the_last_room_never_exceed_capacity() {
    loom::model(|| {
        let (tx, rx) = bounded::<u32>(3).unwrap();
        tx.try_send(0).unwrap();
        tx.try_send(1).unwrap();
        let tx2 = tx.clone();
        let a = thread::spawn(move || tx.try_send(10).is_ok());
        let b = thread::spawn(move || tx2.try_send(11).is_ok());
        let fitted = usize::from(a.join().unwrap()) + usize::from(b.join().unwrap());
        assert_eq!(fitted, 1);
        assert_eq!(rx.try_iter().count(), 3);
    });
}

/// A lossy send on a full channel of capacity 3 racing a receive: the send
/// either takes the room the receive gave back or displaces the oldest
/// value; every value is received, still queued, or counted as dropped —
/// exactly once.
#[test]
fn gated_lossy_send_racing_recv_accounts_for_every_value() {
    use evlatch_std::channel::bounded_lossy;
    loom::model(|| {
        let (tx, rx) = bounded_lossy::<u32>(3).unwrap();
        for i in 0..3 {
            tx.send(i).unwrap();
        }
        let sender = thread::spawn(move || tx.send(3).map(|()| tx));
        let receiver = thread::spawn(move || (rx.try_recv(), rx));
        let tx = sender.join().unwrap().unwrap();
        let (first, rx) = receiver.join().unwrap();
        let mut seen: Vec<u32> = first.into_iter().collect();
        seen.extend(rx.try_iter());
        assert!(seen.len() <= 3 + 1);
        assert_eq!(seen.len() as u64 + tx.dropped(), 4);
        assert!(seen.windows(2).all(|w| w[0] < w[1]), "FIFO: {seen:?}");
        assert_eq!(seen.last(), Some(&3), "the newest value is never displaced");
    });
}

/// The last receiver leaves while a send lands (another sender stays
/// alive): the value is received, handed back, or dropped by one of the
/// two before they return — never left queued until the last sender goes.
#[test]
fn last_receiver_drop_racing_send_drops_the_value_at_once() {
    struct Tracked(Arc<AtomicUsize>);
    impl Drop for Tracked {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = bounded::<Tracked>(1).unwrap();
        let keep = tx.clone();
        let d = drops.clone();
        let sender = thread::spawn(move || {
            if let Err(e) = tx.try_send(Tracked(d)) {
                drop(e.into_inner());
            }
        });
        let receiver = thread::spawn(move || drop(rx));
        sender.join().unwrap();
        receiver.join().unwrap();
        assert_eq!(
            drops.load(Ordering::Relaxed),
            1,
            "the value outlived the receivers"
        );
        assert!(keep.is_empty());
    });
}

/// A send waiting on a full channel of capacity 1 (a bare ring) races the
/// last receiver's drop, which drops the queued value and so frees its
/// slot: the send never lands in that slot — it hands its value back as
/// `Disconnected` — and never hangs. (A send that checked the receivers
/// and then pushed could land there after the close and return `Ok`.)
#[test]
fn blocked_send_racing_the_last_receiver_drop_gets_its_value_back() {
    loom::model(|| {
        let (tx, rx) = bounded::<u32>(1).unwrap();
        tx.send(1).unwrap();
        let sender = thread::spawn(move || tx.send(9));
        let receiver = thread::spawn(move || drop(rx));
        receiver.join().unwrap();
        assert_eq!(sender.join().unwrap().unwrap_err().into_inner(), 9);
    });
}

/// As above on a gated channel (capacity 3, a ring of 4): the room the
/// drop gives back is never taken by the waiting send (the gate is closed
/// before the drop pops), so the send hands its value back.
#[test]
fn gated_blocked_send_racing_the_last_receiver_drop_gets_its_value_back() {
    loom::model(|| {
        let (tx, rx) = bounded::<u32>(3).unwrap();
        for i in 0..3 {
            tx.send(i).unwrap();
        }
        let sender = thread::spawn(move || tx.send(9));
        let receiver = thread::spawn(move || drop(rx));
        receiver.join().unwrap();
        assert_eq!(sender.join().unwrap().unwrap_err().into_inner(), 9);
    });
}
