//! Loom models of the std shell's waits: the waiter table, the core's wake
//! hook and thread parking, one race per test.
#![cfg(evlatch_loom)]

use std::future::Future;
use std::pin::pin;
use std::sync::Arc as StdArc;
use std::task::{Context, Wake, Waker};
use std::time::Duration;

use evlatch::{Event, EventStatus};
use evlatch_std::diagnostics::registered_waiters;
use evlatch_std::EventExt;
use loom::sync::Arc;
use loom::thread;

// The blocking waiter always runs on a spawned thread and the finisher on
// the model's main thread, which then joins the waiter: loom 0.7 aborts the
// model if an `unpark` reaches a thread blocked in `join` (tokio-rs/loom#249),
// and the hook's unpark may arrive after the waiter already returned.

fn noop_waker() -> Waker {
    struct Noop;
    impl Wake for Noop {
        fn wake(self: StdArc<Self>) {}
    }
    Waker::from(StdArc::new(Noop))
}

/// The outcome of a future whose `first` poll raced a finish that has since
/// happened: `first` if it was ready, else a second poll, which must be.
fn resolved(
    first: std::task::Poll<EventStatus>,
    fut: std::pin::Pin<&mut impl Future<Output = EventStatus>>,
    cx: &mut Context<'_>,
) -> EventStatus {
    match first {
        std::task::Poll::Ready(s) => s,
        std::task::Poll::Pending => match fut.poll(cx) {
            std::task::Poll::Ready(s) => s,
            std::task::Poll::Pending => panic!("finished event still pending: lost wake-up"),
        },
    }
}

/// A blocking waiter registering while another thread finishes: the waiter
/// either sees the finished status before registering, or its arm lands before
/// the finish and the hook unparks it — it never parks forever.
#[test]
fn finish_racing_waiter_registration() {
    loom::model(|| {
        let e = Arc::new(Event::new());
        e.record().unwrap();
        let waiter = {
            let e = e.clone();
            thread::spawn(move || e.wait())
        };
        e.set_finished().unwrap();
        assert_eq!(waiter.join().unwrap(), EventStatus::Success);
        assert_eq!(registered_waiters(), 0);
    });
}

/// A pending future dropped while another thread finishes the event: the
/// drop's removal and the hook's removal agree, and no entry is left.
#[test]
fn cancel_racing_finish() {
    loom::model(|| {
        let e = Arc::new(Event::new());
        e.record().unwrap();
        let waker = noop_waker();
        let mut cx = Context::from_waker(&waker);
        let mut fut = Box::pin(e.wait_async());
        let first = fut.as_mut().poll(&mut cx);
        let finisher = {
            let e = e.clone();
            thread::spawn(move || e.set_finished().unwrap())
        };
        drop(fut);
        finisher.join().unwrap();
        assert!(first.is_pending() || first == std::task::Poll::Ready(EventStatus::Success));
        assert_eq!(registered_waiters(), 0);
    });
}

/// A wait whose deadline has already passed, racing the finish: it returns
/// either the outcome or `Timeout`, and in both cases leaves no entry.
#[test]
fn timeout_racing_finish() {
    loom::model(|| {
        let e = Arc::new(Event::new());
        e.record().unwrap();
        let waiter = {
            let e = e.clone();
            thread::spawn(move || e.wait_timeout(Duration::ZERO))
        };
        e.set_finished().unwrap();
        match waiter.join().unwrap() {
            Ok(status) => assert_eq!(status, EventStatus::Success),
            Err(_timeout) => {}
        }
        assert_eq!(registered_waiters(), 0);
        assert_eq!(e.wait(), EventStatus::Success);
    });
}

/// A blocking waiter racing finish + reset + record + finish: whichever
/// generation it started in (0 if it took its snapshot before the first
/// finish, else 1), it returns that generation's outcome and never hangs —
/// in particular, a waiter of generation 0 is not stranded on generation 1.
#[test]
fn waiter_racing_finish_reset_record() {
    loom::model(|| {
        let e = Arc::new(Event::new());
        e.record().unwrap();
        let waiter = {
            let e = e.clone();
            thread::spawn(move || e.wait())
        };
        e.set_failed("gen0").unwrap();
        e.reset().unwrap();
        e.record().unwrap();
        e.set_finished().unwrap();
        let status = waiter.join().unwrap();
        assert!(matches!(status, EventStatus::Failed | EventStatus::Success));
        assert_eq!(registered_waiters(), 0);
    });
}

/// An async waiter registered in generation 0 (first poll before the
/// finish), then finish + reset + record racing its wake-up: it resolves
/// to generation 0's outcome although the event is scheduled again.
#[test]
fn registered_waiter_racing_finish_reset_record() {
    loom::model(|| {
        let e = Arc::new(Event::new());
        e.record().unwrap();
        let waker = noop_waker();
        let mut cx = Context::from_waker(&waker);
        let mut fut = Box::pin(e.wait_async());
        assert!(fut.as_mut().poll(&mut cx).is_pending());
        let worker = {
            let e = e.clone();
            thread::spawn(move || {
                e.set_failed("gen0").unwrap();
                e.reset().unwrap();
                e.record().unwrap();
            })
        };
        let early = fut.as_mut().poll(&mut cx);
        worker.join().unwrap();
        let status = match early {
            std::task::Poll::Ready(s) => s,
            std::task::Poll::Pending => match fut.as_mut().poll(&mut cx) {
                std::task::Poll::Ready(s) => s,
                std::task::Poll::Pending => {
                    panic!("generation 0 finished but the waiter is pending")
                }
            },
        };
        assert_eq!(status, EventStatus::Failed);
        assert_eq!(registered_waiters(), 0);
    });
}

/// An async waiter polled (registering) while the finisher runs, then
/// polled again: it resolves with the outcome exactly once.
#[test]
fn async_poll_racing_finish() {
    loom::model(|| {
        let e = Arc::new(Event::new());
        e.record().unwrap();
        let finisher = {
            let e = e.clone();
            thread::spawn(move || e.set_finished().unwrap())
        };
        let waker = noop_waker();
        let mut cx = Context::from_waker(&waker);
        let mut fut = pin!(e.wait_async());
        let first = fut.as_mut().poll(&mut cx);
        finisher.join().unwrap();
        let status = resolved(first, fut.as_mut(), &mut cx);
        assert_eq!(status, EventStatus::Success);
        assert_eq!(registered_waiters(), 0);
    });
}

/// A blocking waiter and an async waiter on one event, both racing the
/// finish: each gets the outcome exactly once, and both nodes are unlinked.
#[test]
fn two_waiters_racing_finish() {
    loom::model(|| {
        let e = Arc::new(Event::new());
        e.record().unwrap();
        let blocking = {
            let e = e.clone();
            thread::spawn(move || e.wait())
        };
        let finisher = {
            let e = e.clone();
            thread::spawn(move || e.set_failed("x").unwrap())
        };
        let waker = noop_waker();
        let mut cx = Context::from_waker(&waker);
        let mut fut = pin!(e.wait_async());
        let first = fut.as_mut().poll(&mut cx);
        finisher.join().unwrap();
        let status = resolved(first, fut.as_mut(), &mut cx);
        assert_eq!(status, EventStatus::Failed);
        assert_eq!(blocking.join().unwrap(), EventStatus::Failed);
        assert_eq!(registered_waiters(), 0);
    });
}

/// The start of the stale-hook models: records `e`, whose generation 0 gets
/// a pending async waiter (polled with `cx`, so the finisher calls the
/// hook), and has another thread finish it, returning once it is finished
/// (the finisher may not have run its hook yet). Returns that waiter and
/// the finisher.
fn generation_0_finished<'e>(
    e: &'e Arc<Event>,
    cx: &mut Context<'_>,
) -> (
    std::pin::Pin<Box<impl Future<Output = EventStatus> + 'e>>,
    thread::JoinHandle<()>,
) {
    e.record().unwrap();
    let mut gen0 = Box::pin(e.wait_async());
    assert!(gen0.as_mut().poll(cx).is_pending());
    let finisher = {
        let e = e.clone();
        thread::spawn(move || e.set_finished().unwrap())
    };
    while !e.status().is_finished() {
        thread::yield_now();
    }
    (gen0, finisher)
}

/// A stale hook call must not release a waiter of a newer generation. A
/// waiter of generation 0 arms, so the finisher of generation 0 calls the
/// hook — but may be preempted before it does. Meanwhile the event is reset
/// and recorded (generation 1), and a waiter of generation 1 registers with
/// a zero timeout. Generation 1 never finishes, so that waiter must time
/// out: a hook that matched waiters by event alone would hand it generation
/// 0's `Success`.
#[test]
fn stale_hook_racing_waiter_of_next_generation() {
    loom::model(|| {
        let e = Arc::new(Event::new());
        let waker = noop_waker();
        let mut cx = Context::from_waker(&waker);
        let (mut gen0, finisher) = generation_0_finished(&e, &mut cx);
        e.reset().unwrap();
        e.record().unwrap();
        let gen1 = {
            let e = e.clone();
            thread::spawn(move || e.wait_timeout(Duration::ZERO))
        };
        assert!(
            gen1.join().unwrap().is_err(),
            "a waiter of generation 1 was released by generation 0's finish"
        );
        finisher.join().unwrap();
        assert_eq!(
            gen0.as_mut().poll(&mut cx),
            std::task::Poll::Ready(EventStatus::Success)
        );
        assert_eq!(e.status(), EventStatus::Scheduled);
        assert_eq!(registered_waiters(), 0);
    });
}

/// The same stale hook call, with the newer waiter alone in its bucket (the
/// hook's single-waiter path). A waiter of generation 0 arms, and the
/// finisher of generation 0 may be preempted between its finishing CAS and
/// its hook. That waiter is then dropped (its cancel unlinks it), the event
/// is reset and recorded, and a waiter of generation 1 registers: now the
/// only waiter in the bucket. When the stale hook runs it must leave that
/// waiter pending: a single-waiter path that matched by event alone would
/// hand it generation 0's `Success`.
#[test]
fn stale_hook_racing_lone_waiter_of_next_generation() {
    loom::model(|| {
        let e = Arc::new(Event::new());
        let waker = noop_waker();
        let mut cx = Context::from_waker(&waker);
        let (gen0, finisher) = generation_0_finished(&e, &mut cx);
        // Finished; the finisher's hook may not have run yet.
        drop(gen0);
        e.reset().unwrap();
        e.record().unwrap();
        let mut gen1 = Box::pin(e.wait_async());
        assert!(gen1.as_mut().poll(&mut cx).is_pending());
        finisher.join().unwrap();
        assert!(
            gen1.as_mut().poll(&mut cx).is_pending(),
            "a lone waiter of generation 1 was released by generation 0's finish"
        );
        drop(gen1);
        assert_eq!(e.status(), EventStatus::Scheduled);
        assert_eq!(registered_waiters(), 0);
    });
}
