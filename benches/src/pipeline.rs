//! `pipeline.*`: the evlatch pipeline (`evlatch_std::pipeline`) against an
//! idiomatic tokio pipeline (bounded `tokio::sync::mpsc` between stages,
//! `futures`' `buffer_unordered` / `buffered` per stage, `spawn_blocking`
//! for sync ops) and a thread-per-stage pipeline over crossbeam-channel.
//!
//! - `pipeline.overhead.1` / `.4`: ns per item through 1 or 4 no-op stages
//!   (whole run: build, every item through, end).
//! - `pipeline.simulation`: SPDL's `performance_simulation.py` shape scaled
//!   down (sleep stages of 100 / 200 / 400 µs at concurrency 1 and a 200 µs
//!   CPU-bound stage at concurrency 4): the baseline is the ideal (the
//!   measured cost of the slowest stage per item, plus one fill of the
//!   pipeline per batch), so `ratio` = ideal / achieved throughput⁻¹ — below
//!   1.02 meets the "≥ 0.98 of ideal".
//! - `pipeline.handoff`: sink hand-off latency, item ready (stamped by the
//!   last stage) → consumer running, one item in flight at a time.
//! - `pipeline.idle`: CPU seconds used by a pipeline whose source is
//!   blocked (printed after the group, over 10 s; 1 s with `--quick`).

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use evlatch_std::pipeline::{BuildOptions, Pipeline, StageOptions};
use futures::StreamExt;

use crate::harness::Harness;

/// Queue capacity between stages, the same for every line.
const BUF: usize = 16;

pub fn register(h: &mut Harness) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("tokio runtime");
    overhead(h, &rt, 1);
    overhead(h, &rt, 4);
    simulation(h, &rt);
    handoff(h, &rt);
    drop(rt);
    idle(h);
}

// ---- the evlatch pipeline -------------------------------------------------

fn ours_noop(n: u64, stages: usize) {
    let mut b = Pipeline::source(0..n).pipe_with(StageOptions::new("s0").buffer(BUF), |x: u64| {
        Ok::<_, &str>(x)
    });
    for i in 1..stages {
        b = b.pipe_with(StageOptions::new(format!("s{i}")).buffer(BUF), |x: u64| {
            Ok::<_, &str>(x)
        });
    }
    let p = b
        .build(BuildOptions::default().sink_buffer(BUF))
        .expect("pipeline");
    let mut count = 0;
    for r in p {
        std::hint::black_box(r.expect("no failures"));
        count += 1;
    }
    assert_eq!(count, n);
}

fn ours_noop_async(n: u64, stages: usize) {
    let mut b = Pipeline::source(0..n)
        .pipe_async_with(StageOptions::new("s0").buffer(BUF), |x: u64| async move {
            Ok::<_, &str>(x)
        });
    for i in 1..stages {
        b = b.pipe_async_with(
            StageOptions::new(format!("s{i}")).buffer(BUF),
            |x: u64| async move { Ok::<_, &str>(x) },
        );
    }
    let p = b
        .build(BuildOptions::default().sink_buffer(BUF))
        .expect("pipeline");
    let mut count = 0;
    for r in p {
        std::hint::black_box(r.expect("no failures"));
        count += 1;
    }
    assert_eq!(count, n);
}

// ---- the tokio pipeline ---------------------------------------------------

/// One tokio stage: up to `c` calls of `op` at once (`buffered` keeps input
/// order, `buffer_unordered` completion order), between bounded mpsc
/// channels.
fn tokio_stage<F, Fut>(
    rt: &tokio::runtime::Runtime,
    rx: tokio::sync::mpsc::Receiver<u64>,
    c: usize,
    ordered: bool,
    op: F,
) -> tokio::sync::mpsc::Receiver<u64>
where
    F: FnMut(u64) -> Fut + Send + 'static,
    Fut: Future<Output = u64> + Send + 'static,
{
    let (tx, out) = tokio::sync::mpsc::channel(BUF);
    rt.spawn(async move {
        let input =
            futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|x| (x, rx)) });
        let mapped = input.map(op);
        if ordered {
            let mut s = std::pin::pin!(mapped.buffered(c));
            while let Some(y) = s.next().await {
                if tx.send(y).await.is_err() {
                    return;
                }
            }
        } else {
            let mut s = std::pin::pin!(mapped.buffer_unordered(c));
            while let Some(y) = s.next().await {
                if tx.send(y).await.is_err() {
                    return;
                }
            }
        }
    });
    out
}

fn tokio_source(rt: &tokio::runtime::Runtime, n: u64) -> tokio::sync::mpsc::Receiver<u64> {
    let (tx, rx) = tokio::sync::mpsc::channel(BUF);
    rt.spawn(async move {
        for i in 0..n {
            if tx.send(i).await.is_err() {
                return;
            }
        }
    });
    rx
}

fn tokio_noop(rt: &tokio::runtime::Runtime, n: u64, stages: usize) {
    let mut rx = tokio_source(rt, n);
    for _ in 0..stages {
        rx = tokio_stage(rt, rx, 1, false, |x| async move { x });
    }
    let count = rt.block_on(async move {
        let mut count = 0;
        while let Some(x) = rx.recv().await {
            std::hint::black_box(x);
            count += 1;
        }
        count
    });
    assert_eq!(count, n);
}

// ---- thread per stage over crossbeam-channel --------------------------------

fn crossbeam_noop(n: u64, stages: usize) {
    let (tx, mut rx) = crossbeam_channel::bounded::<u64>(BUF);
    let mut threads = vec![std::thread::spawn(move || {
        for i in 0..n {
            if tx.send(i).is_err() {
                return;
            }
        }
    })];
    for _ in 0..stages {
        let (tx, next) = crossbeam_channel::bounded::<u64>(BUF);
        let input = std::mem::replace(&mut rx, next);
        threads.push(std::thread::spawn(move || {
            for x in input {
                if tx.send(std::hint::black_box(x)).is_err() {
                    return;
                }
            }
        }));
    }
    let mut count = 0;
    for x in rx {
        std::hint::black_box(x);
        count += 1;
    }
    assert_eq!(count, n);
    for t in threads {
        t.join().expect("stage thread");
    }
}

/// Items per whole run at least: a run's fixed cost (starting and joining
/// threads) is spread over this many items, and the time scaled back to
/// the `iters` the harness asked for.
const MIN_ITEMS: u64 = 4_000;

fn scaled(iters: u64, run: impl FnOnce(u64)) -> Duration {
    let n = iters.max(MIN_ITEMS);
    let start = Instant::now();
    run(n);
    start.elapsed().mul_f64(iters as f64 / n as f64)
}

fn overhead(h: &mut Harness, rt: &tokio::runtime::Runtime, stages: usize) {
    let name = format!("pipeline.overhead.{stages}");
    let title = format!("ns per item through {stages} no-op stage(s), queues of {BUF}, whole runs");
    h.group(&name, &title)
        .baseline_timed("thread per stage, crossbeam-channel", move |iters| {
            scaled(iters, |n| crossbeam_noop(n, stages))
        })
        .line_timed("tokio: mpsc + buffer_unordered(1)", move |iters| {
            scaled(iters, |n| tokio_noop(rt, n, stages))
        })
        .line_timed("evlatch pipeline, async no-op", move |iters| {
            scaled(iters, |n| ours_noop_async(n, stages))
        })
        .line_timed("evlatch pipeline, sync no-op", move |iters| {
            scaled(iters, |n| ours_noop(n, stages))
        })
        .goal(1.0)
        .note("runs of >= 4k items (build, all items, stop), time scaled per item; tokio reuses one runtime (2 workers)")
        .run();
}

// ---- SPDL's simulation, scaled --------------------------------------------

/// The sleep stages (SPDL: 10 / 25 / 40 ms; here 1/100 of 10 / 20 / 40 ms).
const SLEEPS_US: [u64; 3] = [100, 200, 400];
/// The CPU-bound stage: this much spinning at concurrency 4.
const CPU_US: u64 = 200;
const CPU_CONCURRENCY: usize = 4;

fn spin(d: Duration) {
    let start = Instant::now();
    while start.elapsed() < d {
        std::hint::spin_loop();
    }
}

/// What `thread::sleep(d)` really costs here (timer slack included).
fn measured_sleep(d: Duration) -> Duration {
    let n = 50;
    let start = Instant::now();
    for _ in 0..n {
        std::thread::sleep(d);
    }
    start.elapsed() / n
}

fn ours_simulation(n: u64) -> Duration {
    let mut b = Pipeline::source(0..n).pipe_with(StageOptions::new("io0"), |x: u64| {
        std::thread::sleep(Duration::from_micros(SLEEPS_US[0]));
        Ok::<_, &str>(x)
    });
    for (i, us) in SLEEPS_US.iter().copied().enumerate().skip(1) {
        b = b.pipe_with(StageOptions::new(format!("io{i}")), move |x: u64| {
            std::thread::sleep(Duration::from_micros(us));
            Ok::<_, &str>(x)
        });
    }
    let b = b.pipe_with(
        StageOptions::new("cpu").concurrency(CPU_CONCURRENCY),
        |x: u64| {
            spin(Duration::from_micros(CPU_US));
            Ok::<_, &str>(x)
        },
    );
    let start = Instant::now();
    let p = b.build(BuildOptions::default()).expect("pipeline");
    assert_eq!(p.count() as u64, n);
    start.elapsed()
}

fn tokio_simulation(rt: &tokio::runtime::Runtime, n: u64) -> Duration {
    let start = Instant::now();
    let mut rx = tokio_source(rt, n);
    for us in SLEEPS_US {
        rx = tokio_stage(rt, rx, 1, false, move |x| async move {
            tokio::task::spawn_blocking(move || {
                std::thread::sleep(Duration::from_micros(us));
                x
            })
            .await
            .expect("blocking op")
        });
    }
    rx = tokio_stage(rt, rx, CPU_CONCURRENCY, false, |x| async move {
        tokio::task::spawn_blocking(move || {
            spin(Duration::from_micros(CPU_US));
            x
        })
        .await
        .expect("blocking op")
    });
    let count = rt.block_on(async move {
        let mut count = 0u64;
        while rx.recv().await.is_some() {
            count += 1;
        }
        count
    });
    assert_eq!(count, n);
    start.elapsed()
}

fn simulation(h: &mut Harness, rt: &tokio::runtime::Runtime) {
    if !h.selects("pipeline.simulation") {
        return;
    }
    let real: Vec<Duration> = SLEEPS_US
        .iter()
        .map(|&us| measured_sleep(Duration::from_micros(us)))
        .collect();
    let cpu = Duration::from_micros(CPU_US);
    let slowest = real
        .iter()
        .copied()
        .chain([cpu / CPU_CONCURRENCY as u32])
        .max()
        .unwrap_or_default();
    let fill: Duration = real.iter().sum::<Duration>() + cpu;
    let slowest_ns = slowest.as_nanos() as u64;
    h.group(
        "pipeline.simulation",
        "SPDL performance_simulation, scaled: sleeps 100/200/400us at c=1, 200us CPU at c=4",
    )
    .baseline_timed("ideal: slowest stage per item + one fill", move |iters| {
        fill + Duration::from_nanos(slowest_ns * iters.saturating_sub(1))
    })
    .line_timed(
        "tokio: mpsc + buffer_unordered + spawn_blocking",
        move |iters| tokio_simulation(rt, iters),
    )
    .goal(1.0 / 0.98)
    .line_timed(
        "evlatch pipeline (sync ops on its workers)",
        ours_simulation,
    )
    .goal(1.0 / 0.98)
    .batch_time(Duration::from_millis(30))
    .note("ratio = achieved time / ideal time per batch; <= 1.02 is >= 0.98 of ideal")
    .run();
}

// ---- sink hand-off latency ------------------------------------------------

/// Runs `iters` round trips: the consumer asks for one item (a gate token),
/// the source yields it, the last stage stamps it, the consumer measures
/// stamp → running. Returns the sum of those latencies.
fn ours_handoff(iters: u64) -> Duration {
    let (gate_tx, gate_rx) = evlatch_std::channel::bounded::<()>(1).expect("gate");
    let source = std::iter::from_fn(move || gate_rx.recv().ok());
    let p = Pipeline::source(source)
        .pipe(|()| Ok::<_, &str>(Instant::now()))
        .build(BuildOptions::default())
        .expect("pipeline");
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        gate_tx.send(()).expect("gate");
        let stamp = p.recv().expect("item");
        total += stamp.elapsed();
    }
    drop(gate_tx);
    total
}

fn tokio_handoff(rt: &tokio::runtime::Runtime, iters: u64) -> Duration {
    let (gate_tx, mut gate_rx) = tokio::sync::mpsc::channel::<()>(1);
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Instant>(BUF);
    rt.spawn(async move {
        let input = futures::stream::poll_fn(move |cx| gate_rx.poll_recv(cx));
        let mut s = std::pin::pin!(input.map(|()| async { Instant::now() }).buffer_unordered(1));
        while let Some(t) = s.next().await {
            if tx.send(t).await.is_err() {
                return;
            }
        }
    });
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        gate_tx.blocking_send(()).expect("gate");
        let stamp = rx.blocking_recv().expect("item");
        total += stamp.elapsed();
    }
    total
}

fn crossbeam_handoff(iters: u64) -> Duration {
    let (gate_tx, gate_rx) = crossbeam_channel::bounded::<()>(1);
    let (tx, rx) = crossbeam_channel::bounded::<Instant>(BUF);
    let t = std::thread::spawn(move || {
        for () in gate_rx {
            if tx.send(Instant::now()).is_err() {
                return;
            }
        }
    });
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        gate_tx.send(()).expect("gate");
        let stamp = rx.recv().expect("item");
        total += stamp.elapsed();
    }
    drop(gate_tx);
    t.join().expect("stage thread");
    total
}

fn handoff(h: &mut Harness, rt: &tokio::runtime::Runtime) {
    h.group(
        "pipeline.handoff",
        "sink hand-off latency: item ready in the last stage -> consumer running (SPDL: 10-280us)",
    )
    .baseline_timed("thread per stage, crossbeam-channel", crossbeam_handoff)
    .line_timed("tokio: mpsc + buffer_unordered(1)", move |iters| {
        tokio_handoff(rt, iters)
    })
    .line_timed("evlatch pipeline", ours_handoff)
    .goal(1.0)
    .note("ns per hand-off; the consumer is blocked (parked) when the item becomes ready")
    .run();
}

// ---- idle CPU -------------------------------------------------------------

/// User + system CPU time of this process so far (Linux `/proc`, clock
/// ticks of 10 ms); `None` elsewhere.
fn process_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}

fn idle(h: &mut Harness) {
    if !h.selects("pipeline.idle") {
        return;
    }
    let window = if h.is_quick() {
        Duration::from_secs(1)
    } else {
        Duration::from_secs(10)
    };
    let release = Arc::new(evlatch_std::Event::new());
    let r = release.clone();
    let source = std::iter::from_fn(move || {
        use evlatch_std::EventExt;
        r.wait();
        None::<u64>
    });
    let p = Pipeline::source(source)
        .pipe_with(StageOptions::new("a").concurrency(4), |x: u64| {
            Ok::<_, &str>(x)
        })
        .pipe_async_with(StageOptions::new("b").concurrency(4), |x: u64| async move {
            Ok::<_, &str>(x)
        })
        .aggregate(8, Some(Duration::from_millis(10)))
        .build(BuildOptions::default())
        .expect("pipeline");
    let consumer = std::thread::spawn(move || p.count());
    std::thread::sleep(Duration::from_millis(100));
    let before = process_cpu();
    std::thread::sleep(window);
    let after = process_cpu();
    release.set_finished().expect("release");
    let _ = consumer.join();
    match (before, after) {
        (Some(b), Some(a)) => println!(
            "pipeline.idle: a 3-stage pipeline (9 workers' worth of tasks) blocked on its source \
             used {:.3} CPU-s over {:.0} s (whole process; 10 ms resolution)\n",
            (a - b).as_secs_f64(),
            window.as_secs_f64()
        ),
        _ => println!("pipeline.idle: no /proc/self/stat here; not measured\n"),
    }
}
