//! The pipeline's documented guarantees, each tested so that it fails if
//! the guarantee breaks: bounded queues (back-pressure), cancellation of a
//! pending upstream async op, `recv_async` losing no item when dropped,
//! and the values of the stats. (`Priority::Low` is tested with the other
//! priorities in tests/pipeline.rs.)
//!
//! No test asserts a timing or synchronizes by sleeping: the waits are
//! events, and every wait is bounded by [`PATIENCE`].

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use evlatch_std::pipeline::{BuildOptions, Pipeline, PipelineError, RecvError, StageOptions};
use evlatch_std::{Event, EventExt};

/// A liveness bound for every wait (a hang guard, not a timing assertion).
const PATIENCE: Duration = Duration::from_secs(10);

/// Waits (bounded by [`PATIENCE`]) until `cond` holds; panics with `what`
/// if it never does. Used only for conditions that must become true.
fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < PATIENCE, "never happened: {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Receives until the end, every wait bounded; returns the items and the
/// pipeline's error, if any.
fn drain<T: PartialEq + std::fmt::Debug>(p: &Pipeline<T>) -> (Vec<T>, Option<PipelineError>) {
    let mut items = Vec::new();
    loop {
        match p.recv_timeout(PATIENCE) {
            Ok(x) => items.push(x),
            Err(RecvError::Finished) => return (items, None),
            Err(RecvError::Failed(e)) => {
                // After the error, the end.
                assert_eq!(p.recv_timeout(PATIENCE), Err(RecvError::Finished));
                return (items, Some(e));
            }
            Err(e) => panic!("pipeline did not end: {e}"),
        }
    }
}

/// Sets a flag when dropped (shows a future was cancelled, not leaked).
struct DropFlag(Arc<Event>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        let _ = self.0.set_finished();
    }
}

/// Back-pressure: a consumer that does not receive stops the source after
/// a bounded number of items.
///
/// The bound, from the code (`builder.rs`: every queue is
/// `channel::bounded(capacity)`; `stage.rs`: a completion-order task
/// loops `recv → op → send` and holds at most one item, its input or its
/// result waiting for room; the source thread calls `next()` and then
/// blocks in `send` holding that one item):
///
/// ```text
///   1 (the source's held item)
/// + 3 (q0: "a"'s buffer)      + 2 ("a": 2 tasks, one item each)
/// + 2 (q1: "b"'s buffer)      + 3 ("b": 3 async tasks, one item each)
/// + 4 (the sink buffer)
/// = 15, with no slack: `next()` is called exactly 15 times.
/// ```
///
/// Nothing is received, so every slot fills: the count must reach 15. It
/// must then stay there; the test watches it for a window (an unbounded
/// queue would let the source run on at once, so the window is a chance
/// to catch it, not a synchronization: a correct pipeline can never fail
/// this, however slow the machine).
#[test]
fn a_consumer_that_does_not_receive_stops_the_source_at_the_queue_bound() {
    const BOUND: usize = 1 + 3 + 2 + 2 + 3 + 4;
    let n = 100usize;
    let produced = Arc::new(AtomicUsize::new(0));
    let pr = produced.clone();
    let p = Pipeline::source((0..n).inspect(move |_| {
        pr.fetch_add(1, Ordering::SeqCst);
    }))
    .pipe_with(
        StageOptions::new("a").concurrency(2).buffer(3),
        Ok::<_, String>,
    )
    .pipe_async_with(
        StageOptions::new("b").concurrency(3).buffer(2),
        |x| async move { Ok::<_, String>(x) },
    )
    .build(BuildOptions::default().sink_buffer(4))
    .unwrap();
    eventually("the pipeline filled up", || {
        produced.load(Ordering::SeqCst) >= BOUND
    });
    std::thread::sleep(Duration::from_millis(50)); // a window, see above
    assert_eq!(produced.load(Ordering::SeqCst), BOUND);
    // Every queue is full (the source blocks on q0, "a" on q1, "b" on the
    // sink): puts - gets = capacity. (Awaited, not asserted at once: a
    // counter is bumped just after its channel operation returns.)
    eventually("every queue is full", || {
        p.stats()
            .queues
            .iter()
            .all(|q| q.puts == q.gets + q.capacity as u64)
    });
    assert_eq!(produced.load(Ordering::SeqCst), BOUND);
    // Released, every item arrives exactly once.
    let (mut got, err) = drain(&p);
    assert!(err.is_none(), "{err:?}");
    got.sort_unstable();
    assert_eq!(got, (0..n).collect::<Vec<_>>());
    assert_eq!(produced.load(Ordering::SeqCst), n);
}

/// Upstream cancellation proper: an upstream async op that never completes
/// is cancelled when a downstream stage exceeds its budget, so the
/// pipeline ends. Only cancellation can end it: the pending future waits
/// on nothing that a disconnect would wake.
#[test]
fn a_pending_upstream_async_op_is_cancelled_when_downstream_fails() {
    // Without cancellation the pipeline's drop (on a failed assertion)
    // would wait for the pending task forever: run the body on a thread
    // and bound the wait for it, so a broken guarantee fails, not hangs.
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let r = std::panic::catch_unwind(pending_upstream_op_body);
        let _ = done_tx.send(r.is_ok());
    });
    match done_rx.recv_timeout(PATIENCE * 3) {
        Ok(true) => {}
        Ok(false) => panic!("the body failed (see its panic above)"),
        Err(_) => panic!("the pipeline never ended: the pending upstream op was not cancelled"),
    }
}

fn pending_upstream_op_body() {
    let hung = Arc::new(Event::new());
    let dropped = Arc::new(Event::new());
    let (h, d) = (hung.clone(), dropped.clone());
    let mut p = Pipeline::source(0..10u32)
        .pipe_async_with(StageOptions::new("hang").concurrency(4), move |x| {
            let (h, d) = (h.clone(), d.clone());
            async move {
                if x == 3 {
                    let _flag = DropFlag(d);
                    let _ = h.set_finished();
                    std::future::pending::<()>().await;
                }
                Ok::<_, String>(x)
            }
        })
        .pipe_with(StageOptions::new("strict").max_failures(0), move |x| {
            // Fails only once item 3's op is pending upstream.
            hung.wait_timeout(PATIENCE)
                .map_err(|_| "item 3 never reached its op".to_string())?;
            Err::<u32, _>(format!("refused {x}"))
        })
        .build(BuildOptions::default())
        .unwrap();
    let (items, err) = drain(&p);
    assert!(items.is_empty(), "{items:?}");
    match err {
        Some(PipelineError::FailureBudget {
            stage, last_error, ..
        }) => {
            assert_eq!(stage, "strict");
            // Failed after item 3's op was pending (not on the timeout).
            assert!(last_error.starts_with("refused"), "{last_error}");
        }
        other => panic!("expected the budget error, got {other:?}"),
    }
    assert_eq!(p.stop_timeout(PATIENCE), Ok(()));
    // The pending future was dropped (cancelled), not leaked.
    assert!(dropped.status().is_finished());
}

/// Polls `fut` once with a waker that does nothing.
fn poll_once<F: Future>(fut: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(Waker::noop()))
}

/// Dropping a pending `recv_async` future loses no item: once before any
/// item exists, and once after an item reached the sink while the dropped
/// future was registered as its waiter.
#[test]
fn a_dropped_recv_async_future_loses_no_item() {
    let n = 20u32;
    let go = Arc::new(Event::new());
    let g = go.clone();
    let p = Pipeline::source((0..n).inspect(move |&x| {
        if x == 0 {
            let _ = g.wait_timeout(PATIENCE);
        }
    }))
    .pipe_with(StageOptions::new("id"), Ok::<_, String>)
    .build(BuildOptions::default())
    .unwrap();
    // No item yet (the source is gated): pending, then dropped.
    {
        let fut = pin!(p.recv_async());
        assert!(poll_once(fut).is_pending());
    }
    // Pending again, then an item becomes available while the future is
    // registered; it is dropped without being polled again.
    {
        let mut fut = pin!(p.recv_async());
        assert!(poll_once(fut.as_mut()).is_pending());
        go.set_finished().unwrap();
        let sink = p.stats().queues.len() - 1;
        eventually("an item reached the sink", || {
            p.stats().queues[sink].puts >= 1
        });
    }
    let (got, err) = drain(&p);
    assert!(err.is_none(), "{err:?}");
    assert_eq!(got, (0..n).collect::<Vec<_>>());
}

/// `recv_async` raced in a `select!` against a yield, so futures are
/// dropped at arbitrary points while items flow: every item arrives once.
#[test]
fn recv_async_raced_in_select_loses_no_item() {
    let n: u64 = if cfg!(debug_assertions) {
        2_000
    } else {
        20_000
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let p = Pipeline::source(0..n)
        .pipe_with(StageOptions::new("a").concurrency(2), Ok::<_, String>)
        .pipe_async_with(StageOptions::new("b").concurrency(2), |x| async move {
            Ok::<_, String>(x)
        })
        .build(BuildOptions::default())
        .unwrap();
    let (got, dropped) = rt.block_on(async {
        let mut got = Vec::new();
        let mut dropped = 0u64;
        loop {
            tokio::select! {
                r = p.recv_async() => match r {
                    Ok(x) => got.push(x),
                    Err(RecvError::Finished) => break,
                    Err(e) => panic!("{e}"),
                },
                () = tokio::task::yield_now() => dropped += 1,
                () = tokio::time::sleep(PATIENCE) => panic!("no item for {PATIENCE:?}"),
            }
        }
        (got, dropped)
    });
    let mut seen = vec![false; usize::try_from(n).unwrap()];
    for x in got {
        let i = usize::try_from(x).unwrap();
        assert!(!seen[i], "{x} arrived twice");
        seen[i] = true;
    }
    assert!(seen.iter().all(|s| *s), "an item was lost");
    // The race was exercised: some futures were dropped unfinished.
    assert!(dropped > 0);
}

/// The stats' values: `in_flight` while an op runs, and after the run the
/// exact counts (tasks, failures, queue puts and gets) and ordered,
/// non-zero op-time percentiles for ops of at least 1 ms.
#[test]
fn stats_show_the_running_op_and_count_exactly() {
    let n = 30u64;
    let entered = Arc::new(Event::new());
    let release = Arc::new(Event::new());
    let (e, r) = (entered.clone(), release.clone());
    let mut p = Pipeline::source(0..n)
        .pipe_with(StageOptions::new("work").concurrency(2), move |x| {
            if x == 0 {
                let _ = e.set_finished();
                r.wait_timeout(PATIENCE)
                    .map_err(|_| "never released".to_string())?;
            }
            // Op time only: the stats must record at least this.
            std::thread::sleep(Duration::from_millis(1));
            if x % 5 == 4 {
                Err(format!("{x} fails"))
            } else {
                Ok(x)
            }
        })
        .build(BuildOptions::default())
        .unwrap();
    entered.wait_timeout(PATIENCE).unwrap();
    // Item 0's op is blocked on `release`: it is in flight.
    let s = p.stats();
    assert!(s.stages[0].in_flight >= 1, "{:?}", s.stages[0]);
    assert!(!s.finished);
    release.set_finished().unwrap();
    let (got, err) = drain(&p);
    assert!(err.is_none(), "{err:?}");
    let ok = n - n / 5;
    assert_eq!(got.len() as u64, ok);
    p.stop();
    let s = p.stats();
    assert!(s.finished);
    let st = &s.stages[0];
    assert_eq!(st.name, "work");
    assert_eq!((st.tasks, st.failures, st.in_flight), (n, n / 5, 0));
    let t = st.time;
    assert!(t.p50 <= t.p90 && t.p90 <= t.p99, "{t:?}");
    // Every op took at least 1 ms; a percentile is a bucket's upper edge.
    assert!(t.p50 >= Duration::from_millis(1), "{t:?}");
    assert!(t.mean >= Duration::from_millis(1), "{t:?}");
    assert_eq!((s.queues[0].puts, s.queues[0].gets), (n, n));
    assert_eq!((s.queues[1].puts, s.queues[1].gets), (ok, ok));
}
