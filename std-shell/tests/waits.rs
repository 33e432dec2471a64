//! Blocking and async waits, with tokio and with a hand-written executor.

mod common;
use common::{block_on, noop_waker};

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::thread;
use std::time::{Duration, Instant};

use evlatch_std::diagnostics::registered_waiters;
use evlatch_std::{
    chain, wait_all, wait_all_async, wait_any, wait_any_async, Event, EventExt, EventStatus,
};

/// Tests share one global waiter table; the leak checks need quiet.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn finished_event_returns_at_once() {
    let _g = serial();
    let e = Event::new();
    e.set_failed("x").unwrap();
    assert_eq!(e.wait(), EventStatus::Failed);
    assert_eq!(e.wait_timeout(Duration::ZERO), Ok(EventStatus::Failed));
    assert_eq!(block_on(e.wait_async()), EventStatus::Failed);
    assert_eq!(registered_waiters(), 0);
}

#[test]
fn blocking_wait_is_released_by_finish_on_another_thread() {
    let _g = serial();
    let e = Arc::new(Event::new());
    e.record().unwrap();
    let waiter = {
        let e = e.clone();
        thread::spawn(move || e.wait())
    };
    thread::sleep(Duration::from_millis(20));
    e.set_finished().unwrap();
    assert_eq!(waiter.join().unwrap(), EventStatus::Success);
    assert_eq!(registered_waiters(), 0);
}

#[test]
fn timeout_expires_and_leaves_no_waiter() {
    let _g = serial();
    let e = Event::new();
    e.record().unwrap();
    let start = Instant::now();
    assert!(e.wait_timeout(Duration::from_millis(30)).is_err());
    assert!(start.elapsed() >= Duration::from_millis(30));
    assert!(e.wait_deadline(Instant::now()).is_err());
    assert_eq!(registered_waiters(), 0);
    // The event still works afterwards.
    e.set_finished().unwrap();
    assert_eq!(
        e.wait_timeout(Duration::from_secs(5)),
        Ok(EventStatus::Success)
    );
}

#[test]
fn huge_timeout_means_no_timeout() {
    let _g = serial();
    let e = Arc::new(Event::new());
    let f = {
        let e = e.clone();
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(10));
            e.set_finished().unwrap();
        })
    };
    assert_eq!(e.wait_timeout(Duration::MAX), Ok(EventStatus::Success));
    f.join().unwrap();
}

#[test]
fn dropped_future_removes_its_waiter() {
    let _g = serial();
    let e = Event::new();
    e.record().unwrap();
    let waker = noop_waker();
    let mut cx = Context::from_waker(&waker);
    {
        let mut fut = pin!(e.wait_async());
        assert!(fut.as_mut().poll(&mut cx).is_pending());
        assert!(fut.as_mut().poll(&mut cx).is_pending());
        assert_eq!(registered_waiters(), 1);
    }
    assert_eq!(registered_waiters(), 0);
    e.set_finished().unwrap();
}

#[test]
fn waiter_sees_its_generation_across_reset_and_record() {
    let _g = serial();
    let e = Arc::new(Event::new());
    e.record().unwrap();
    let waker = noop_waker();
    let mut cx = Context::from_waker(&waker);
    let mut fut = Box::pin(e.wait_async());
    assert!(fut.as_mut().poll(&mut cx).is_pending());
    // The generation it waits on fails, then the event is reused.
    e.set_failed("gen0").unwrap();
    e.reset().unwrap();
    e.record().unwrap();
    assert_eq!(fut.as_mut().poll(&mut cx), Poll::Ready(EventStatus::Failed));
    assert_eq!(registered_waiters(), 0);
}

#[test]
fn hand_written_executor_wakes_on_finish() {
    let _g = serial();
    let e = Arc::new(Event::new());
    e.record().unwrap();
    let finisher = {
        let e = e.clone();
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(10));
            e.set_finished().unwrap();
        })
    };
    assert_eq!(block_on(e.wait_async()), EventStatus::Success);
    finisher.join().unwrap();
}

#[test]
fn tokio_multi_thread_waits() {
    let _g = serial();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let e = Arc::new(Event::new());
    e.record().unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let e = e.clone();
            rt.spawn(async move { e.wait_async().await })
        })
        .collect();
    thread::sleep(Duration::from_millis(10));
    e.set_failed("tokio").unwrap();
    for t in tasks {
        assert_eq!(rt.block_on(t).unwrap(), EventStatus::Failed);
    }
    assert_eq!(registered_waiters(), 0);
}

#[test]
fn tokio_timeout_cancels_cleanly() {
    let _g = serial();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let e = Event::new();
    e.record().unwrap();
    let r =
        rt.block_on(async { tokio::time::timeout(Duration::from_millis(5), e.wait_async()).await });
    assert!(r.is_err());
    assert_eq!(registered_waiters(), 0);
}

/// 1,000 waiters (500 blocking threads, 500 tokio tasks) on one event, each
/// released exactly once.
#[test]
fn thousand_mixed_waiters_each_released_once() {
    let _g = serial();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let e = Arc::new(Event::new());
    e.record().unwrap();
    let released = Arc::new(AtomicUsize::new(0));
    // 500 + 500; scaled down under miri.
    let half = if cfg!(miri) { 8 } else { 500 };
    let threads: Vec<_> = (0..half)
        .map(|_| {
            let (e, released) = (e.clone(), released.clone());
            thread::Builder::new()
                .stack_size(64 * 1024)
                .spawn(move || {
                    assert_eq!(e.wait(), EventStatus::Success);
                    released.fetch_add(1, Ordering::Relaxed);
                })
                .unwrap()
        })
        .collect();
    let tasks: Vec<_> = (0..half)
        .map(|_| {
            let (e, released) = (e.clone(), released.clone());
            rt.spawn(async move {
                assert_eq!(e.wait_async().await, EventStatus::Success);
                released.fetch_add(1, Ordering::Relaxed);
            })
        })
        .collect();
    thread::sleep(Duration::from_millis(50));
    assert_eq!(released.load(Ordering::Relaxed), 0);
    e.set_finished().unwrap();
    for t in threads {
        t.join().unwrap();
    }
    for t in tasks {
        rt.block_on(t).unwrap();
    }
    assert_eq!(released.load(Ordering::Relaxed), 2 * half);
    assert_eq!(registered_waiters(), 0);
}

/// Many rounds of finish/reset/record while waiters come and go: every
/// waiter returns, and none is left behind.
#[test]
fn waiters_across_many_generations() {
    let _g = serial();
    let e = Arc::new(Event::new());
    let rounds = if cfg!(miri) { 20 } else { 2_000 };
    let waiter = {
        let e = e.clone();
        thread::spawn(move || {
            let mut n = 0;
            for _ in 0..rounds {
                let s = e
                    .wait_timeout(Duration::from_secs(10))
                    .expect("no lost wake-up");
                assert!(s.is_finished());
                n += 1;
            }
            n
        })
    };
    for i in 0..rounds {
        e.record().unwrap();
        if i % 3 == 0 {
            e.set_failed("f").unwrap();
        } else {
            e.set_finished().unwrap();
        }
        // Give the waiter a chance to register on the next generation.
        if i % 64 == 0 {
            thread::yield_now();
        }
        e.reset().unwrap();
    }
    // Leave the last generation finished so the waiter can drain.
    e.set_finished().unwrap();
    assert_eq!(waiter.join().unwrap(), rounds);
    assert_eq!(registered_waiters(), 0);
}

#[test]
fn wait_all_and_any() {
    let _g = serial();
    let a = Arc::new(Event::new());
    let b = Arc::new(Event::new());
    // `a` finishes only after `wait_any` returned: were both finished
    // first, it would answer `a` (the lowest index), whatever the order.
    let (any_done, any_seen) = std::sync::mpsc::channel::<()>();
    let t = {
        let (a, b) = (a.clone(), b.clone());
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(10));
            b.set_failed("b").unwrap();
            // Returns once `any_done` is dropped: after the check, or by
            // its panic (no hang).
            let _ = any_seen.recv();
            a.set_finished().unwrap();
        })
    };
    assert_eq!(wait_any(&[&a, &b]), Some((1, EventStatus::Failed)));
    drop(any_done);
    assert_eq!(
        wait_all(&[&a, &b]),
        [EventStatus::Success, EventStatus::Failed]
    );
    t.join().unwrap();
    assert_eq!(registered_waiters(), 0);
    assert_eq!(wait_any(&[]), None);
    assert_eq!(block_on(wait_any_async(&[])), None);
}

#[test]
fn async_wait_any_and_all_with_tokio() {
    let _g = serial();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let a = Arc::new(Event::new());
    let b = Arc::new(Event::new());
    let h = {
        let (a, b) = (a.clone(), b.clone());
        rt.spawn(async move {
            let any = wait_any_async(&[&a, &b]).await;
            let all = wait_all_async(&[&a, &b]).await;
            (any, all)
        })
    };
    thread::sleep(Duration::from_millis(10));
    a.set_finished().unwrap();
    b.set_finished().unwrap();
    let (any, all) = rt.block_on(h).unwrap();
    assert_eq!(any, Some((0, EventStatus::Success)));
    assert_eq!(all, [EventStatus::Success, EventStatus::Success]);
    assert_eq!(registered_waiters(), 0);
}

#[test]
fn dropped_wait_any_removes_all_waiters() {
    let _g = serial();
    let (a, b) = (Event::new(), Event::new());
    let waker = noop_waker();
    let mut cx = Context::from_waker(&waker);
    {
        let events = [&a, &b];
        let mut fut = pin!(wait_any_async(&events));
        assert!(fut.as_mut().poll(&mut cx).is_pending());
        assert_eq!(registered_waiters(), 2);
    }
    assert_eq!(registered_waiters(), 0);
}

#[test]
fn chain_succeeds_when_all_succeed() {
    let _g = serial();
    let pre: Vec<_> = (0..5).map(|_| Arc::new(Event::new())).collect();
    let done = chain(&pre);
    for (i, p) in pre.iter().enumerate() {
        assert_eq!(done.status(), EventStatus::Scheduled, "after {i}");
        p.set_finished().unwrap();
    }
    assert_eq!(done.wait(), EventStatus::Success);
    assert_eq!(chain(&[]).status(), EventStatus::Success);
}

#[test]
fn chain_fails_with_first_failure_message() {
    let _g = serial();
    let pre: Vec<_> = (0..3).map(|_| Arc::new(Event::new())).collect();
    let done = chain(&pre);
    pre[2].set_failed("third broke").unwrap();
    pre[0].set_failed("first broke later").unwrap();
    assert_eq!(done.wait(), EventStatus::Failed);
    assert_eq!(done.error_message().unwrap().as_str(), "third broke");
    pre[1].set_finished().unwrap();
    assert_eq!(done.status(), EventStatus::Failed);
}

#[test]
fn chain_of_already_finished_preconditions() {
    let _g = serial();
    let a = Arc::new(Event::new());
    a.set_finished().unwrap();
    assert_eq!(chain(&[a]).status(), EventStatus::Success);
}

#[test]
fn cpu_device_finish_goes_through_the_wait_matrix() {
    use evlatch::backend::DeviceEvent;
    let _g = serial();
    evlatch_std::install();
    let e = Arc::new(Event::new());
    e.record().unwrap();
    let t = {
        let e = e.clone();
        thread::spawn(move || DeviceEvent::finish(&*e))
    };
    thread::sleep(Duration::from_millis(10));
    e.set_finished().unwrap();
    assert_eq!(t.join().unwrap(), Ok(EventStatus::Success));
}

/// A waker that records its index when woken, and panics if asked to.
struct Recording {
    index: usize,
    log: Arc<Mutex<Vec<usize>>>,
    panics: bool,
}

impl std::task::Wake for Recording {
    fn wake(self: Arc<Self>) {
        self.log.lock().unwrap().push(self.index);
        assert!(!self.panics, "waker {} panics on purpose", self.index);
    }
}

fn recording_waker(index: usize, log: &Arc<Mutex<Vec<usize>>>, panics: bool) -> std::task::Waker {
    std::task::Waker::from(Arc::new(Recording {
        index,
        log: log.clone(),
        panics,
    }))
}

#[test]
fn waiters_are_woken_in_registration_order() {
    let _g = serial();
    // 70 waiters: more than two of the hook's rounds of 32 wake-ups.
    let e = Event::new();
    e.record().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let wakers: Vec<_> = (0..70).map(|i| recording_waker(i, &log, false)).collect();
    let mut futures: Vec<_> = (0..70).map(|_| Box::pin(e.wait_async())).collect();
    for (f, w) in futures.iter_mut().zip(&wakers) {
        assert!(f.as_mut().poll(&mut Context::from_waker(w)).is_pending());
    }
    assert_eq!(registered_waiters(), 70);
    e.set_finished().unwrap();
    assert_eq!(*log.lock().unwrap(), (0..70).collect::<Vec<_>>());
    for (f, w) in futures.iter_mut().zip(&wakers) {
        let mut cx = Context::from_waker(w);
        assert_eq!(f.as_mut().poll(&mut cx), Poll::Ready(EventStatus::Success));
        // Fused: a second poll gives the same outcome, no panic.
        assert_eq!(f.as_mut().poll(&mut cx), Poll::Ready(EventStatus::Success));
    }
    assert_eq!(registered_waiters(), 0);
}

/// Panicking wakers in two of the hook's rounds (of 32 wake-ups), and one
/// as the very last: every other waiter is woken once, in order, and each
/// waiter is released.
#[test]
fn panicking_wakers_in_several_rounds_lose_no_other() {
    let _g = serial();
    let e = Event::new();
    e.record().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let panics = |i: usize| i == 5 || i == 40 || i == 69;
    let wakers: Vec<_> = (0..70)
        .map(|i| recording_waker(i, &log, panics(i)))
        .collect();
    let mut futures: Vec<_> = (0..70).map(|_| Box::pin(e.wait_async())).collect();
    for (f, w) in futures.iter_mut().zip(&wakers) {
        assert!(f.as_mut().poll(&mut Context::from_waker(w)).is_pending());
    }
    let finish = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| e.set_finished()));
    assert!(finish.is_err(), "the first panic continues on the finisher");
    assert_eq!(*log.lock().unwrap(), (0..70).collect::<Vec<_>>());
    for (f, w) in futures.iter_mut().zip(&wakers) {
        assert_eq!(
            f.as_mut().poll(&mut Context::from_waker(w)),
            Poll::Ready(EventStatus::Success)
        );
    }
    assert_eq!(registered_waiters(), 0);
}

/// Registers a callback that counts its runs, finishes `e` (one of whose
/// wakers panics), and checks that the panic continues on this, the
/// finisher's, thread with the status final. Returns the callback's count.
fn finish_past_a_panicking_waker(e: &Event) -> Arc<AtomicUsize> {
    let ran = Arc::new(AtomicUsize::new(0));
    {
        let ran = ran.clone();
        e.on_finished(move |_| {
            ran.fetch_add(1, Ordering::SeqCst);
        });
    }
    let finish = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| e.set_finished()));
    assert!(
        finish.is_err(),
        "the waker's panic continues on the finisher's thread"
    );
    assert_eq!(e.status(), EventStatus::Success, "the status is finished");
    ran
}

#[test]
fn a_panicking_waker_releases_every_other_waiter() {
    let _g = serial();
    let e = Arc::new(Event::new());
    e.record().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    // First an async waiter whose waker panics, then a blocked thread, then
    // an async waiter with a good waker, then a callback.
    let bad = recording_waker(0, &log, true);
    let good = recording_waker(2, &log, false);
    let mut first = Box::pin(e.wait_async());
    assert!(first
        .as_mut()
        .poll(&mut Context::from_waker(&bad))
        .is_pending());
    let blocked = {
        let e = e.clone();
        thread::spawn(move || e.wait())
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while registered_waiters() < 2 {
        assert!(
            Instant::now() < deadline,
            "the blocked waiter never registered"
        );
        thread::yield_now();
    }
    let mut third = Box::pin(e.wait_async());
    assert!(third
        .as_mut()
        .poll(&mut Context::from_waker(&good))
        .is_pending());
    let ran = finish_past_a_panicking_waker(&e);
    assert_eq!(blocked.join().unwrap(), EventStatus::Success);
    assert_eq!(*log.lock().unwrap(), [0, 2], "every waker was called once");
    assert_eq!(
        third.as_mut().poll(&mut Context::from_waker(&good)),
        Poll::Ready(EventStatus::Success)
    );
    assert_eq!(
        first.as_mut().poll(&mut Context::from_waker(&bad)),
        Poll::Ready(EventStatus::Success)
    );
    assert_eq!(ran.load(Ordering::SeqCst), 1, "the callback still ran");
    assert_eq!(registered_waiters(), 0);
    // The event stays usable.
    e.reset().unwrap();
    e.record().unwrap();
    e.set_failed("again").unwrap();
    assert_eq!(e.wait(), EventStatus::Failed);
}

/// The wake hook's single-waiter path (one waiter alone in its bucket):
/// its waker's panic continues on the finisher's thread, and the status is
/// still final, the callback still runs and the waiter is released.
#[test]
fn a_lone_panicking_waker_still_lets_the_callback_run() {
    let _g = serial();
    let e = Arc::new(Event::new());
    e.record().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let bad = recording_waker(7, &log, true);
    let mut lone = Box::pin(e.wait_async());
    assert!(lone
        .as_mut()
        .poll(&mut Context::from_waker(&bad))
        .is_pending());
    assert_eq!(registered_waiters(), 1);
    let ran = finish_past_a_panicking_waker(&e);
    assert_eq!(*log.lock().unwrap(), [7], "the waker was called once");
    assert_eq!(ran.load(Ordering::SeqCst), 1, "the callback still ran");
    assert_eq!(
        lone.as_mut().poll(&mut Context::from_waker(&bad)),
        Poll::Ready(EventStatus::Success)
    );
    assert_eq!(registered_waiters(), 0);
}
