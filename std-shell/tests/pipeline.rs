//! Behaviour of `evlatch_std::pipeline`: order, aggregation, failure
//! budgets, cancellation, stopping and dropping (nothing leaks), panics,
//! priorities, stats, and a stress test that accounts for every item.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use evlatch_std::pipeline::{
    BuildError, BuildOptions, Pipeline, PipelineError, Priority, RecvError, StageOptions,
    MAX_CONCURRENCY, MAX_THREADS,
};
use evlatch_std::{Event, EventExt};

/// A liveness bound for waits inside ops (a hang guard, not a timing
/// assertion).
const PATIENCE: Duration = Duration::from_secs(20);

/// A small deterministic pseudo-random sequence.
fn lcg(seed: u64) -> impl FnMut() -> u64 {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    move || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        s >> 33
    }
}

fn jitter(x: u64) -> Duration {
    Duration::from_micros(lcg(x)() % 300)
}

#[test]
fn input_order_is_kept_under_random_latencies_sync() {
    let n = if cfg!(debug_assertions) { 300 } else { 3000 };
    let p = Pipeline::source(0..n)
        .pipe_with(
            StageOptions::new("sleepy")
                .concurrency(8)
                .ordered()
                .buffer(4),
            |x: u64| {
                std::thread::sleep(jitter(x));
                Ok::<_, String>(x)
            },
        )
        .build(BuildOptions::default())
        .unwrap();
    let got: Vec<u64> = p.map(Result::unwrap).collect();
    assert_eq!(got, (0..n).collect::<Vec<_>>());
}

#[test]
fn input_order_is_kept_under_random_latencies_async_with_failures() {
    let n = if cfg!(debug_assertions) { 300 } else { 3000 };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let h = rt.handle().clone();
    let p = Pipeline::source(0..n)
        .pipe_async_with(
            StageOptions::new("sleepy").concurrency(16).ordered(),
            move |x: u64| {
                let d = jitter(x);
                let sleep = h.spawn(async move { tokio::time::sleep(d).await });
                async move {
                    sleep.await.unwrap();
                    if x % 7 == 3 {
                        Err(format!("{x} is unlucky"))
                    } else {
                        Ok(x)
                    }
                }
            },
        )
        .build(BuildOptions::default())
        .unwrap();
    let got: Vec<u64> = p.map(Result::unwrap).collect();
    assert_eq!(got, (0..n).filter(|x| x % 7 != 3).collect::<Vec<_>>());
}

#[test]
fn completion_order_lets_a_fast_item_overtake_a_slow_one() {
    let overtaken = Arc::new(Event::new());
    let o = overtaken.clone();
    let p = Pipeline::source(0..2u32)
        .pipe_with(StageOptions::new("gate").concurrency(2), move |x| {
            if x == 0 {
                // Finishes only after item 1 reached the consumer.
                o.wait_timeout(PATIENCE)
                    .map_err(|_| "item 1 never overtook item 0")?;
            }
            Ok::<_, &str>(x)
        })
        .build(BuildOptions::default())
        .unwrap();
    assert_eq!(p.recv(), Ok(1));
    overtaken.set_finished().unwrap();
    assert_eq!(p.recv(), Ok(0));
    assert_eq!(p.recv(), Err(RecvError::Finished));
}

#[test]
fn aggregate_by_size_emits_the_remainder_at_the_end() {
    let p = Pipeline::source(0..10)
        .aggregate(3, None)
        .build(BuildOptions::default())
        .unwrap();
    let got: Vec<Vec<i32>> = p.map(Result::unwrap).collect();
    assert_eq!(got, [vec![0, 1, 2], vec![3, 4, 5], vec![6, 7, 8], vec![9]]);
}

#[test]
fn aggregate_by_time_sends_a_slow_sources_batch_after_max_wait() {
    // The source yields two items, then blocks until the test has its
    // batch: only the max_wait window can release the batch.
    let got_batch = Arc::new(Event::new());
    let g = got_batch.clone();
    let source = (0..4u32).inspect(move |&i| {
        if i == 2 {
            assert!(g.wait_timeout(PATIENCE).is_ok(), "batch never came");
        }
    });
    let p = Pipeline::source(source)
        .aggregate(100, Some(Duration::from_millis(30)))
        .build(BuildOptions::default())
        .unwrap();
    // Items 0 and 1 arrive while the source is blocked: only max_wait can
    // have released them (usually as one batch; a stalled machine may cut
    // it in two).
    let mut early = Vec::new();
    while early.len() < 2 {
        let batch = p.recv().unwrap();
        assert!(!batch.is_empty());
        early.extend(batch);
    }
    assert_eq!(early, [0, 1]);
    got_batch.set_finished().unwrap();
    let late: Vec<u32> = p.flat_map(Result::unwrap).collect();
    assert_eq!(late, [2, 3]);
}

#[test]
fn aggregate_then_disaggregate_round_trips() {
    let n = if cfg!(debug_assertions) { 1000 } else { 10_000 };
    let p = Pipeline::source(0..n)
        .aggregate(7, Some(Duration::from_millis(5)))
        .disaggregate()
        .build(BuildOptions::default())
        .unwrap();
    let got: Vec<u32> = p.map(Result::unwrap).collect();
    assert_eq!(got, (0..n).collect::<Vec<_>>());
}

#[test]
fn failure_budget_by_count_names_stage_count_and_last_error() {
    // Every third item fails; the third failure (item 8) is one too many.
    let p = Pipeline::source(0..100u32)
        .pipe_with(StageOptions::new("parse").max_failures(2), |x| {
            if x % 3 == 2 {
                Err(format!("item {x} is corrupt"))
            } else {
                Ok(x)
            }
        })
        .build(BuildOptions::default())
        .unwrap();
    let mut items = Vec::new();
    let mut errors = Vec::new();
    for r in p {
        match r {
            Ok(x) => items.push(x),
            Err(e) => errors.push(e),
        }
    }
    assert_eq!(items, [0, 1, 3, 4, 6, 7]);
    assert_eq!(errors.len(), 1);
    match &errors[0] {
        PipelineError::FailureBudget {
            stage,
            failures,
            calls,
            last_error,
        } => {
            assert_eq!(stage, "parse");
            assert_eq!(*failures, 3);
            assert_eq!(*calls, 9);
            assert_eq!(last_error, "item 8 is corrupt");
        }
        other => panic!("unexpected {other}"),
    }
    let text = errors[0].to_string();
    assert!(text.contains("parse") && text.contains('3') && text.contains("item 8"));
}

#[test]
fn failure_budget_by_rate_is_checked_only_after_100_calls() {
    // 99 calls, all failing, rate budget 10 %: not checked yet.
    let p = Pipeline::source(0..99u32)
        .pipe_with(StageOptions::new("flaky").max_failure_rate(0.1), |_| {
            Err::<u32, _>("no")
        })
        .build(BuildOptions::default())
        .unwrap();
    assert_eq!(p.count(), 0);

    // Every other item fails: the first failure at or after call 100 trips.
    let p = Pipeline::source(0..1000u32)
        .pipe_with(StageOptions::new("flaky").max_failure_rate(0.1), |x| {
            if x % 2 == 1 {
                Err("odd")
            } else {
                Ok(x)
            }
        })
        .build(BuildOptions::default())
        .unwrap();
    let results: Vec<_> = p.collect();
    let err = results.last().unwrap().as_ref().unwrap_err();
    match err {
        PipelineError::FailureBudget {
            failures, calls, ..
        } => {
            assert_eq!((*failures, *calls), (50, 100));
        }
        other => panic!("unexpected {other}"),
    }
    assert_eq!(results.len(), 51);
}

#[test]
fn global_failure_budget_counts_all_stages() {
    let p = Pipeline::source(0..100u32)
        .pipe_with(StageOptions::new("a"), |x| {
            if x == 5 {
                Err("a5")
            } else {
                Ok(x)
            }
        })
        .pipe_with(StageOptions::new("b"), |x| {
            if x == 7 {
                Err("b7")
            } else {
                Ok(x)
            }
        })
        .build(BuildOptions::default().max_failures(1))
        .unwrap();
    let err = p.filter_map(Result::err).next().unwrap();
    match err {
        PipelineError::FailureBudget {
            stage,
            failures,
            last_error,
            ..
        } => assert_eq!(
            (stage.as_str(), failures, last_error.as_str()),
            ("b", 2, "b7")
        ),
        other => panic!("unexpected {other}"),
    }
}

#[test]
fn failure_cancels_upstream_and_downstream_drains() {
    // An endless source: the pipeline can only end because the failing
    // stage cancels everything upstream of it.
    let produced = Arc::new(AtomicUsize::new(0));
    let pr = produced.clone();
    let p = Pipeline::source((0u64..).inspect(move |_| {
        pr.fetch_add(1, Ordering::Relaxed);
    }))
    .pipe_with(StageOptions::new("up"), Ok::<_, String>)
    .pipe_with(StageOptions::new("strict").max_failures(0), |x| {
        if x == 10 {
            Err("ten".to_string())
        } else {
            Ok(x)
        }
    })
    .pipe_with(StageOptions::new("down").buffer(16), |x| {
        std::thread::sleep(Duration::from_millis(1));
        Ok::<_, String>(x)
    })
    .build(BuildOptions::default())
    .unwrap();
    let results: Vec<_> = p.collect();
    let (ok, err): (Vec<_>, Vec<_>) = results.into_iter().partition(Result::is_ok);
    // Everything that passed "strict" before the failure was delivered.
    assert_eq!(
        ok.into_iter().map(Result::unwrap).collect::<Vec<_>>(),
        (0..10).collect::<Vec<_>>()
    );
    assert_eq!(err.len(), 1);
    // The source stopped: a bounded number of items was ever produced.
    assert!(produced.load(Ordering::Relaxed) < 100);
}

/// Counts live instances.
struct Tracked {
    live: Arc<AtomicUsize>,
}

impl Tracked {
    fn new(live: &Arc<AtomicUsize>) -> Self {
        live.fetch_add(1, Ordering::SeqCst);
        Self { live: live.clone() }
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.live.fetch_sub(1, Ordering::SeqCst);
    }
}

fn leaky_pipeline(live: &Arc<AtomicUsize>, guard: &Arc<()>) -> Pipeline<Vec<Tracked>> {
    let l = live.clone();
    let g1 = guard.clone();
    let g2 = guard.clone();
    let g3 = guard.clone();
    Pipeline::source((0u64..).map(move |_| Tracked::new(&l)))
        .pipe_with(StageOptions::new("sync").concurrency(3), move |t| {
            let _ = &g1;
            std::thread::sleep(Duration::from_micros(200));
            Ok::<_, String>(t)
        })
        .pipe_async_with(
            StageOptions::new("async").concurrency(4).ordered(),
            move |t| {
                let g = g2.clone();
                async move {
                    let _ = g;
                    Ok::<_, String>(t)
                }
            },
        )
        .aggregate(5, Some(Duration::from_millis(2)))
        .pipe_with(StageOptions::new("tail"), move |b| {
            let _ = &g3;
            Ok::<_, String>(b)
        })
        .build(BuildOptions::default())
        .unwrap()
}

#[test]
fn stop_while_items_are_in_flight_leaks_nothing() {
    let live = Arc::new(AtomicUsize::new(0));
    let guard = Arc::new(());
    let mut p = leaky_pipeline(&live, &guard);
    for _ in 0..5 {
        // max_wait may close a batch early on a busy machine.
        let batch = p.recv().unwrap();
        assert!((1..=5).contains(&batch.len()), "batch of {}", batch.len());
    }
    p.stop();
    assert_eq!(p.recv().map(|_| ()), Err(RecvError::Stopped));
    assert!(p.next().is_none());
    // Every item is dropped, and the ops (holding `guard`) are gone, while
    // the handle still exists.
    assert_eq!(live.load(Ordering::SeqCst), 0);
    assert_eq!(Arc::strong_count(&guard), 1);
    drop(p);
    assert_eq!(live.load(Ordering::SeqCst), 0);
}

/// Stop racing the natural end: pipelines of a few items stopped after a
/// varying number of receives (before, during and after their end).
#[test]
fn stop_racing_the_end_leaks_nothing_and_never_hangs() {
    let rounds = if cfg!(debug_assertions) { 60 } else { 300 };
    let mut next = lcg(7);
    for round in 0..rounds {
        let live = Arc::new(AtomicUsize::new(0));
        let l = live.clone();
        let items = next() % 12;
        let mut p = Pipeline::source((0..items).map(move |_| Tracked::new(&l)))
            .pipe_with(StageOptions::new("a").concurrency(2), Ok::<_, String>)
            .pipe_async_with(
                StageOptions::new("b").concurrency(2).ordered(),
                |t| async move { Ok::<_, String>(t) },
            )
            .build(BuildOptions::default())
            .unwrap();
        for _ in 0..next() % 14 {
            if p.recv().is_err() {
                break;
            }
        }
        if round % 2 == 0 {
            p.stop();
        } else {
            drop(p);
        }
        assert_eq!(live.load(Ordering::SeqCst), 0, "round {round}");
    }
}

#[test]
fn drop_mid_stream_leaks_nothing() {
    let live = Arc::new(AtomicUsize::new(0));
    let guard = Arc::new(());
    let p = leaky_pipeline(&live, &guard);
    let _first = p.recv().unwrap();
    drop(p);
    drop(_first);
    assert_eq!(live.load(Ordering::SeqCst), 0);
    assert_eq!(Arc::strong_count(&guard), 1);
}

/// The names of this process's threads that start with `prefix` (Linux).
#[cfg(target_os = "linux")]
fn threads_named(prefix: &str) -> Vec<String> {
    let mut names = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        if let Ok(comm) = std::fs::read_to_string(task.path().join("comm")) {
            if comm.starts_with(prefix) {
                names.push(comm.trim().to_owned());
            }
        }
    }
    names
}

/// The default thread count: one worker per sync task and no timer for a
/// pipeline of sync stages only; one worker more, and the timer, once an
/// async stage and an aggregate with a `max_wait` are in it.
#[cfg(target_os = "linux")]
#[test]
fn default_threads_are_one_worker_per_sync_task_and_a_timer_only_for_max_wait() {
    // Threads name themselves as they start: wait (bounded) until `want`
    // are named, then give one more 200 ms to appear (a wrong count shows
    // up within it; the right one never grows).
    fn settle(prefix: &str, want: usize) -> Vec<String> {
        let look = |n: usize, bound: Duration| {
            let deadline = std::time::Instant::now() + bound;
            while threads_named(prefix).len() < n && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
        };
        look(want, Duration::from_secs(10));
        look(want + 1, Duration::from_millis(200));
        threads_named(prefix)
    }
    let mut p = Pipeline::source(0u64..)
        .pipe_with(StageOptions::new("a").concurrency(2), Ok::<_, String>)
        .pipe_with(StageOptions::new("b"), Ok::<_, String>)
        .build(BuildOptions::default().name("thc1"))
        .unwrap();
    assert!(p.recv().is_ok());
    assert_eq!(settle("thc1-worker", 3).len(), 3);
    assert!(threads_named("thc1-timer").is_empty());
    p.stop();
    assert_no_threads("thc1-");

    let mut p = Pipeline::source(0u64..)
        .pipe_with(StageOptions::new("a").concurrency(2), Ok::<_, String>)
        .pipe_async(|x| async move { Ok::<_, String>(x) })
        .aggregate(2, Some(Duration::from_millis(1)))
        .build(BuildOptions::default().name("thc2"))
        .unwrap();
    assert!(p.recv().is_ok());
    assert_eq!(settle("thc2-worker", 3).len(), 3);
    assert_eq!(settle("thc2-timer", 1).len(), 1);
    p.stop();
    assert_no_threads("thc2-");
}

/// Asserts that no thread named `prefix…` is left. A joined thread's
/// `/proc` entry can outlive the join by a moment (the kernel finishes its
/// exit after waking the joiner), so this looks again for a while.
#[cfg(target_os = "linux")]
fn assert_no_threads(prefix: &str) {
    let mut left = threads_named(prefix);
    for _ in 0..200 {
        if left.is_empty() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
        left = threads_named(prefix);
    }
    panic!("threads left behind: {left:?}");
}

#[cfg(target_os = "linux")]
#[test]
fn stop_and_drop_leave_no_thread_behind() {
    let mut p = Pipeline::source(0u64..)
        .pipe_with(StageOptions::new("a").concurrency(3), |x| {
            Ok::<_, String>(x)
        })
        .pipe_async_with(StageOptions::new("b").concurrency(2), |x| async move {
            Ok::<_, String>(x)
        })
        .aggregate(4, Some(Duration::from_millis(1)))
        .build(
            BuildOptions::default()
                .name("lkchk1")
                .report_stats(Duration::from_millis(1), |_| {}),
        )
        .unwrap();
    assert!(!p.recv().unwrap().is_empty());
    // Workers, source, timer, reporter. A thread takes its name itself as
    // it starts, and the timer or reporter may not have run yet: look again
    // for a while.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while threads_named("lkchk1-").len() < 4 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(
        threads_named("lkchk1-").len() >= 4,
        "{:?}",
        threads_named("lkchk1-")
    );
    p.stop();
    assert_no_threads("lkchk1-");
    drop(p);

    let p = Pipeline::source(0u64..)
        .pipe_with(StageOptions::new("a").concurrency(2), |x| {
            Ok::<_, String>(x)
        })
        .build(BuildOptions::default().name("lkchk2"))
        .unwrap();
    // Completion order with two tasks: item 0 or 1 comes first (each task
    // delivers its item before it takes the next).
    let first = p.recv().unwrap();
    assert!(first < 2, "first item {first}");
    drop(p);
    assert_no_threads("lkchk2-");
}

#[test]
fn stop_timeout_reports_a_blocked_source_then_stop_finishes() {
    let release = Arc::new(Event::new());
    let r = release.clone();
    let started = Arc::new(Event::new());
    let s = started.clone();
    let mut p = Pipeline::source(std::iter::from_fn(move || {
        let _ = s.set_finished();
        r.wait_timeout(PATIENCE).ok().map(|_| 1u8)
    }))
    .pipe(|x: u8| Ok::<_, String>(x))
    .build(BuildOptions::default())
    .unwrap();
    started.wait_timeout(PATIENCE).unwrap();
    assert!(p.stop_timeout(Duration::from_millis(20)).is_err());
    release.set_finished().unwrap();
    p.stop();
    assert_eq!(p.recv(), Err(RecvError::Stopped));
}

#[test]
fn panicking_ops_are_failures_not_dead_workers() {
    let n = 200u32;
    let mut p = Pipeline::source(0..n)
        .pipe_with(StageOptions::new("sync").concurrency(2), |x| {
            if x % 10 == 0 {
                panic!("sync boom {x}");
            }
            Ok::<_, String>(x)
        })
        .pipe_async_with(StageOptions::new("async").concurrency(2), |x| async move {
            if x % 10 == 1 {
                panic!("async boom {x}");
            }
            Ok::<_, String>(x)
        })
        .build(BuildOptions::default().threads(2))
        .unwrap();
    let mut got: Vec<u32> = p.by_ref().map(Result::unwrap).collect();
    got.sort();
    assert_eq!(got, (0..n).filter(|x| x % 10 > 1).collect::<Vec<_>>());
    // The end is reported once every task is done: this is the final report.
    let stats = p.stats();
    assert_eq!(stats.stages[0].failures, 20);
    assert_eq!(stats.stages[1].failures, 20);
    assert!(stats.finished);
}

/// Each way the consumer learns of the end (the iterator's `None`, `recv`,
/// `recv_timeout`, `recv_async`; after a normal end or after a failure)
/// comes only once every task is done: `stats().finished` is `true` right
/// after it. The race: the last stage's tasks drop their sink senders (the
/// consumer sees the sink disconnected) a moment before the executor counts
/// them done. Many short pipelines, so that window is hit.
#[test]
fn the_end_is_reported_only_once_every_task_is_done() {
    let rounds = if cfg!(debug_assertions) { 120 } else { 2400 };
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    for round in 0..rounds {
        let failing = round % 8 >= 4;
        let mut p = Pipeline::source(0..6u32)
            .pipe_with(StageOptions::new("a").concurrency(2), Ok::<_, String>)
            .pipe_async_with(
                StageOptions::new("b").concurrency(3).max_failures(0),
                move |x| async move {
                    if failing && x == 5 {
                        Err(format!("no {x}"))
                    } else {
                        Ok(x)
                    }
                },
            )
            .build(BuildOptions::default().threads(2))
            .unwrap();
        // Every call until the end: items, then the failure, then the end.
        let mut items = 0;
        let mut failures = 0;
        let mut next = |r: Result<u32, RecvError>| match r {
            Ok(_) => {
                items += 1;
                true
            }
            Err(RecvError::Failed(e)) => {
                assert!(e.to_string().contains("no 5"), "{e}");
                failures += 1;
                true
            }
            Err(RecvError::Finished) => false,
            Err(e) => panic!("round {round}: {e}"),
        };
        match round % 4 {
            0 => {
                for r in p.by_ref() {
                    next(r.map_err(RecvError::Failed));
                }
            }
            1 => while next(p.recv()) {},
            2 => while next(p.recv_timeout(PATIENCE)) {},
            _ => rt.block_on(async { while next(p.recv_async().await) {} }),
        }
        let stats = p.stats();
        assert!(
            stats.finished,
            "round {round}: the end was reported before every task was done"
        );
        assert_eq!(failures, usize::from(failing), "round {round}");
        if failing {
            // Stage b is cancelled at its failure: items it still held or
            // had not received are dropped.
            assert!(items <= 5, "round {round}: {items} items");
        } else {
            assert_eq!(items, 6, "round {round}");
            assert_eq!(stats.stages[1].tasks, 6, "round {round}");
        }
        p.stop();
    }
}

#[test]
fn a_panicking_op_over_budget_reports_its_message() {
    let p = Pipeline::source(0..10u32)
        .pipe_with(StageOptions::new("boom").max_failures(0), |x| {
            if x == 4 {
                panic!("kaput");
            }
            Ok::<_, String>(x)
        })
        .build(BuildOptions::default())
        .unwrap();
    let err = p.filter_map(Result::err).next().unwrap();
    assert!(err.to_string().contains("kaput"), "{err}");
}

#[test]
fn a_panicking_source_ends_with_an_error_after_its_items() {
    let p = Pipeline::source((0..10u32).map(|x| if x == 3 { panic!("source boom") } else { x }))
        .pipe(Ok::<_, String>)
        .build(BuildOptions::default())
        .unwrap();
    let results: Vec<_> = p.collect();
    assert_eq!(results.len(), 4);
    assert!(
        matches!(&results[3], Err(PipelineError::SourcePanicked { message }) if message.contains("source boom"))
    );
}

#[test]
fn async_source_and_async_receive_under_tokio() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut i = 0u32;
    let p = Pipeline::source_async(move || {
        i += 1;
        let v = i;
        async move { (v <= 50).then_some(v) }
    })
    .pipe_async_with(
        StageOptions::new("inc").concurrency(4).ordered(),
        |x| async move { Ok::<_, String>(x + 1) },
    )
    .build(BuildOptions::default())
    .unwrap();
    let got = rt.block_on(async {
        let mut v = Vec::new();
        loop {
            match p.recv_async().await {
                Ok(x) => v.push(x),
                Err(RecvError::Finished) => break v,
                Err(e) => panic!("{e}"),
            }
        }
    });
    assert_eq!(got, (2..=51).collect::<Vec<_>>());
}

#[test]
fn recv_timeout_times_out_while_the_source_is_blocked() {
    let release = Arc::new(Event::new());
    let r = release.clone();
    let p = Pipeline::source((0..2u8).inspect(move |&x| {
        if x == 1 {
            let _ = r.wait_timeout(PATIENCE);
        }
    }))
    .build(BuildOptions::default())
    .unwrap();
    assert_eq!(p.recv(), Ok(0));
    assert_eq!(
        p.recv_timeout(Duration::from_millis(5)),
        Err(RecvError::Timeout)
    );
    release.set_finished().unwrap();
    assert_eq!(p.recv_timeout(PATIENCE), Ok(1));
    assert_eq!(p.recv_timeout(PATIENCE), Err(RecvError::Finished));
}

#[test]
fn stats_count_everything_and_the_final_report_comes_once() {
    let reports = Arc::new(Mutex::new(Vec::new()));
    let r = reports.clone();
    let mut p = Pipeline::source(0..500u32)
        .pipe_with(StageOptions::new("even").concurrency(2), |x| {
            if x % 2 == 0 {
                Ok(x)
            } else {
                Err("odd")
            }
        })
        .aggregate(10, None)
        .build(
            BuildOptions::default().report_stats(Duration::from_millis(1), move |s| {
                r.lock().unwrap().push(s.finished);
                if !s.finished {
                    panic!("a panicking callback does not stop the reports");
                }
            }),
        )
        .unwrap();
    let batches = p.by_ref().count();
    assert_eq!(batches, 25);
    p.stop(); // joins the reporter
    let s = p.stats();
    assert_eq!(
        (
            s.stages[0].tasks,
            s.stages[0].failures,
            s.stages[0].in_flight
        ),
        (500, 250, 0)
    );
    assert_eq!(s.stages[1].tasks, 25);
    assert_eq!((s.queues[0].puts, s.queues[0].gets), (500, 500));
    assert_eq!((s.queues[1].puts, s.queues[1].gets), (250, 250));
    assert_eq!(s.queues[2].gets, 25);
    assert!(s.finished);
    let table = s.to_string();
    assert!(table.contains("even") && table.contains("source -> even") && table.contains("sink"));
    let reports = reports.lock().unwrap();
    assert_eq!(reports.iter().filter(|f| **f).count(), 1);
    assert_eq!(reports.last(), Some(&true));
}

#[test]
fn bad_options_are_build_errors() {
    let e = Pipeline::source(0..1)
        .pipe_with(StageOptions::new("x").buffer(0), |x: i32| {
            Ok::<_, String>(x)
        })
        .build(BuildOptions::default());
    assert!(e.unwrap_err().to_string().contains("buffer"));
    let e = Pipeline::source(0..1)
        .pipe_with(StageOptions::new("x").max_failure_rate(1.5), |x: i32| {
            Ok::<_, String>(x)
        })
        .build(BuildOptions::default());
    assert!(e.unwrap_err().to_string().contains("1.5"));
    assert!(Pipeline::source(0..1)
        .aggregate(0, None)
        .build(BuildOptions::default())
        .is_err());
    assert!(Pipeline::source(0..1)
        .build(BuildOptions::default().report_stats(Duration::ZERO, |_| {}))
        .is_err());
}

/// Runs a three-stage pipeline on one worker with stage `a` gated until the
/// source has filled `a`'s input queue; returns how many items `a` had
/// finished when `b` started its first item.
fn a_done_when_b_starts(a_priority: Priority, b_priority: Priority) -> usize {
    let filled = Arc::new(Event::new());
    let f = filled.clone();
    let a_done = Arc::new(AtomicUsize::new(0));
    let seen = Arc::new(Mutex::new(None));
    let (ad, ad2, s) = (a_done.clone(), a_done.clone(), seen.clone());
    // The source starts only after every task exists, so `b` and `c` are
    // polled (and idle) before `a` can hold the worker.
    let go = Arc::new(Event::new());
    let g = go.clone();
    let p = Pipeline::source((0..40u32).inspect(move |&x| {
        if x == 0 {
            let _ = g.wait_timeout(PATIENCE);
        }
        if x == 17 {
            // Item 0 is in `a`'s op, 1..=16 fill its queue.
            let _ = f.set_finished();
        }
    }))
    .pipe_with(
        StageOptions::new("a").priority(a_priority).buffer(16),
        move |x| {
            if x == 0 {
                filled
                    .wait_timeout(PATIENCE)
                    .map_err(|_| "source never filled the queue")?;
            }
            ad.fetch_add(1, Ordering::SeqCst);
            Ok::<_, &str>(x)
        },
    )
    .pipe_with(StageOptions::new("b").priority(b_priority), move |x| {
        s.lock().unwrap().get_or_insert(ad2.load(Ordering::SeqCst));
        Ok::<_, &str>(x)
    })
    .pipe_with(StageOptions::new("c"), Ok::<_, &str>)
    .build(BuildOptions::default().threads(1).sink_buffer(64))
    .unwrap();
    go.set_finished().unwrap();
    assert_eq!(
        p.map(Result::unwrap).collect::<Vec<_>>(),
        (0..40).collect::<Vec<_>>()
    );
    let v = seen.lock().unwrap().unwrap();
    v
}

#[test]
fn downstream_first_when_stages_compete_for_one_worker() {
    // Same priority: after `a` passes item 0 on, `b` runs before `a` takes
    // item 1.
    assert_eq!(a_done_when_b_starts(Priority::Normal, Priority::Normal), 1);
}

/// `Priority::Low` "runs after every runnable Normal and High task"
/// (options.rs), which outweighs downstream-first: a Low `b` waits while
/// the Normal `a` upstream of it is runnable, so `a` keeps the only worker
/// until `b`'s queue (2) is full and `a` blocks holding a third item: 3
/// done. Were Low treated as Normal or High, `b` (downstream) would run
/// right after `a`'s first item: 1 done.
#[test]
fn a_low_priority_stage_waits_for_a_normal_one_upstream() {
    assert!(a_done_when_b_starts(Priority::Normal, Priority::Low) >= 3);
    // And Low below High: a High `a` over a Low `b`, the same.
    assert!(a_done_when_b_starts(Priority::High, Priority::Low) >= 3);
    // Low upstream of Low: downstream first again.
    assert_eq!(a_done_when_b_starts(Priority::Low, Priority::Low), 1);
}

#[test]
fn a_high_priority_stage_runs_ahead_of_downstream() {
    // `a` is High: it keeps the only worker until `b`'s queue (2) is full.
    assert!(a_done_when_b_starts(Priority::High, Priority::Normal) >= 3);
}

#[test]
fn stress_every_item_exactly_once_through_four_mixed_stages() {
    let n: u64 = if cfg!(debug_assertions) {
        20_000
    } else {
        1_000_000
    };
    let p = Pipeline::source(0..n)
        .pipe_with(StageOptions::new("s1").concurrency(3), |x: u64| {
            Ok::<_, String>(x * 2)
        })
        .pipe_async_with(
            StageOptions::new("a2").concurrency(4).ordered().buffer(8),
            |x: u64| async move {
                if x.is_multiple_of(1000) {
                    crate_yield().await;
                }
                Ok::<_, String>(x + 1)
            },
        )
        .pipe_with(
            StageOptions::new("s3").concurrency(2).ordered(),
            |x: u64| Ok::<_, String>(x),
        )
        .pipe_async_with(
            StageOptions::new("a4").concurrency(3),
            |x: u64| async move { Ok::<_, String>((x - 1) / 2) },
        )
        .build(BuildOptions::default().sink_buffer(64))
        .unwrap();
    let mut seen = vec![false; n as usize];
    let mut count = 0u64;
    for r in p {
        let x = r.unwrap();
        assert!(!seen[x as usize], "item {x} delivered twice");
        seen[x as usize] = true;
        count += 1;
    }
    assert_eq!(count, n);
    assert!(seen.iter().all(|s| *s));
}

/// Yields once to the executor (a wake from inside the poll).
async fn crate_yield() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            std::task::Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    })
    .await;
}

#[test]
fn aggregate_without_an_item_limit_batches_by_time_and_loses_nothing() {
    // `usize::MAX`: "no limit", batches close by time or at the end only.
    let mut p = Pipeline::source(0..100u32)
        .aggregate(usize::MAX, Some(Duration::from_millis(1)))
        .build(BuildOptions::default())
        .unwrap();
    let mut got = Vec::new();
    for batch in p.by_ref() {
        got.extend(batch.unwrap());
    }
    assert_eq!(got, (0..100).collect::<Vec<_>>());
    assert_eq!(p.error(), None);
}

/// Receives to the end: the items, and the errors in between.
fn items_and_errors<T>(p: &mut Pipeline<T>) -> (Vec<T>, Vec<PipelineError>) {
    let mut items = Vec::new();
    let mut errors = Vec::new();
    for r in p.by_ref() {
        match r {
            Ok(x) => items.push(x),
            Err(e) => errors.push(e),
        }
    }
    (items, errors)
}

/// A batch whose iterator panics when it is made.
struct Bomb(Vec<u32>);

impl IntoIterator for Bomb {
    type Item = u32;
    type IntoIter = std::vec::IntoIter<u32>;
    fn into_iter(self) -> Self::IntoIter {
        assert!(!self.0.is_empty(), "an empty batch blew up");
        self.0.into_iter()
    }
}

#[test]
fn a_panic_outside_an_op_ends_the_pipeline_with_an_error() {
    let batches = vec![Bomb(vec![1, 2]), Bomb(vec![3]), Bomb(vec![]), Bomb(vec![4])];
    let mut p = Pipeline::source(batches)
        .disaggregate()
        .build(BuildOptions::default())
        .unwrap();
    let (items, errors) = items_and_errors(&mut p);
    // What came before the panic is delivered; the rest is not, and the
    // consumer is told why.
    assert_eq!(items, [1, 2, 3]);
    match errors.as_slice() {
        [PipelineError::StagePanicked { stage, message }] => {
            assert_eq!(stage, "disaggregate");
            assert!(message.contains("an empty batch blew up"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        p.error(),
        Some(PipelineError::StagePanicked { .. })
    ));
}

/// An error whose `Display` panics.
struct BadDisplay;

impl std::fmt::Display for BadDisplay {
    fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        panic!("Display blew up")
    }
}

#[test]
fn an_error_whose_display_panics_is_still_a_counted_failure() {
    let mut p = Pipeline::source(0..10u32)
        .pipe_with(StageOptions::new("odd").max_failures(2), |x| {
            if x % 3 == 1 {
                Err(BadDisplay)
            } else {
                Ok(x)
            }
        })
        .build(BuildOptions::default())
        .unwrap();
    let (items, errors) = items_and_errors(&mut p);
    // 1, 4, 7 fail: the third failure is over the budget of 2.
    match errors.as_slice() {
        [PipelineError::FailureBudget {
            stage,
            failures,
            last_error,
            ..
        }] => {
            assert_eq!((stage.as_str(), *failures), ("odd", 3));
            assert!(last_error.contains("Display blew up"), "{last_error}");
        }
        other => panic!("{other:?}"),
    }
    // Everything before item 7's failure that passed was delivered.
    assert!(items.starts_with(&[0, 2, 3, 5, 6]), "{items:?}");
}

#[test]
fn out_of_range_build_options_are_errors_not_panics() {
    let too_wide = |n| {
        Pipeline::source(0..1u8)
            .pipe_with(StageOptions::new("a").concurrency(n), Ok::<_, &str>)
            .pipe_with(StageOptions::new("b").concurrency(n), Ok::<_, &str>)
            .build(BuildOptions::default())
    };
    for n in [usize::MAX, MAX_CONCURRENCY + 1] {
        match too_wide(n) {
            Err(BuildError::InvalidOption { stage, reason }) => {
                assert_eq!(stage, "a");
                assert!(reason.contains("maximum"), "{reason}");
            }
            other => panic!("{:?}", other.map(|_| ())),
        }
    }
    assert!(too_wide(MAX_CONCURRENCY / 2).is_ok());
    let build = |o: BuildOptions| Pipeline::source(0..1u8).build(o).map(|_| ());
    for bad in [
        BuildOptions::default().threads(MAX_THREADS + 1),
        BuildOptions::default().threads(usize::MAX),
        BuildOptions::default().name("a\0b"),
        BuildOptions::default().max_failure_rate(1.5),
        BuildOptions::default().max_failure_rate(f64::NAN),
    ] {
        match build(bad) {
            Err(BuildError::InvalidOption { stage, .. }) => assert_eq!(stage, "pipeline"),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn a_global_failure_rate_budget_counts_every_stage_s_calls() {
    // Stage "a" fails every even item (50 % of its calls); "b" never fails
    // and is called for the 500 odd ones. Of all 1,500 calls, 500 failed:
    // 1/3 (a little more while "b" lags "a" by its queue). A global rate
    // of 0.3 is exceeded; 0.4 is not, although "a" alone is at 0.5.
    let run = |rate| {
        let p = Pipeline::source(0..1000u32)
            .pipe_with(StageOptions::new("a"), |x| {
                if x % 2 == 0 {
                    Err("even")
                } else {
                    Ok(x)
                }
            })
            .pipe_with(StageOptions::new("b"), Ok::<_, &str>)
            .build(BuildOptions::default().max_failure_rate(rate))
            .unwrap();
        let (mut items, mut errors) = (0, Vec::new());
        for r in p {
            match r {
                Ok(_) => items += 1,
                Err(e) => errors.push(e),
            }
        }
        (items, errors)
    };
    let (items, errors) = run(0.4);
    assert_eq!((items, errors), (500, vec![]));
    let (_, errors) = run(0.3);
    match errors.as_slice() {
        [PipelineError::FailureBudget {
            stage, last_error, ..
        }] => assert_eq!((stage.as_str(), last_error.as_str()), ("a", "even")),
        other => panic!("{other:?}"),
    }
}
