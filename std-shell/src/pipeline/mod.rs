//! An event loop: a pipeline of concurrent stages, after Meta's SPDL
//! (`spdl.pipeline`), on evlatch channels and events.
//!
//! ```text
//! source ──q0──▶ stage 0 ──q1──▶ stage 1 ── … ──qN──▶ sink (you)
//! ```
//!
//! - **Source**: any `IntoIterator` ([`Pipeline::source`], on a thread of
//!   its own) or an async generator ([`Pipeline::source_async`]).
//! - **Stages**: [`pipe`](PipelineBuilder::pipe) (sync `Fn(T) -> Result<U,
//!   E>`) and [`pipe_async`](PipelineBuilder::pipe_async) (`Fn(T) -> impl
//!   Future<Output = Result<U, E>>`), each with [`StageOptions`]:
//!   concurrency, output order, failure budget, priority, input buffer;
//!   [`aggregate`](PipelineBuilder::aggregate)`(max_items, max_wait)` and
//!   [`disaggregate`](PipelineBuilder::disaggregate).
//! - **Sink**: the built [`Pipeline`] is an `Iterator`, and has
//!   [`recv`](Pipeline::recv), [`recv_timeout`](Pipeline::recv_timeout),
//!   [`recv_async`](Pipeline::recv_async), [`stop`](Pipeline::stop),
//!   [`stop_timeout`](Pipeline::stop_timeout); dropping it stops it.
//!
//! # How it runs
//!
//! Every queue between stages is a bounded evlatch FIFO channel (default
//! capacity [`DEFAULT_BUFFER`] = 2, SPDL's), so a slow stage back-pressures
//! everything upstream of it; nothing is buffered without bound.
//!
//! A stage with concurrency `n` is `n` tasks on the pipeline's own small
//! executor (worker threads, a run queue, wakers; no tokio), each looping
//! `receive → op → send`. Sync ops run inline on a worker thread; async
//! ops' futures are polled by the workers and hold no thread while
//! pending. Every wait is an evlatch channel wait (`recv_async` /
//! `send_async`, or a blocked worker's `recv` on the executor's token
//! channel) or, for `aggregate`'s `max_wait`, a deadline kept by one timer
//! thread that blocks in `recv_timeout`. Nothing polls on a timer,
//! nothing sleeps in slices: an idle pipeline (a slow source) uses no CPU,
//! and the consumer wakes on the item. The one bounded exception: before
//! it blocks, the source thread (on a full first queue), the consumer (in
//! `recv`, `recv_timeout` and the iterator) and an idle worker yield their
//! core and retry up to 20 times (about 5 µs on an idle core; where two of
//! the pipeline's threads share a core, it hands the core to the other at
//! once), then wait as above.
//!
//! # Failures
//!
//! An op's `Err(e)` (its `Display` text) or panic is a failure: the item
//! is dropped and counted ([`StageStats::failures`]), and the worker goes
//! on. A stage's budget ([`StageOptions::max_failures`],
//! [`StageOptions::max_failure_rate`] checked after 100 calls) or the
//! pipeline's ([`BuildOptions::max_failures`]) being exceeded fails the
//! pipeline: that stage and everything upstream of it are cancelled,
//! stages downstream drain what they already hold, the consumer receives
//! every item that reaches the sink, then one
//! [`PipelineError::FailureBudget`] naming the stage, the failure count
//! and the last error's text. A panicking source ends the source with
//! [`PipelineError::SourcePanicked`].
//!
//! # Priorities: what is guaranteed
//!
//! When several tasks are runnable and workers are scarce, a free worker
//! takes the task of the highest [`Priority`] first; among equal priorities
//! the task of the most downstream stage (draining the pipeline before
//! feeding it); among tasks of one stage, the one queued first. Exactly:
//!
//! - the choice happens only when a worker picks its next task: a running
//!   op is never preempted, and a task runs until it waits (an empty input,
//!   a full output) or yields. After each item, a task whose poll made a
//!   downstream task runnable yields to it (the downstream task runs next
//!   on the same worker, with no cross-thread wake, unless a queued task of
//!   a higher rank is picked first) — unless the stage's ops are long on
//!   average (over 20 µs, or not timed yet) and the executor has more than
//!   one worker: then the downstream task is queued for the next free
//!   worker (a sleeping one is woken for it) and this one keeps going, so
//!   a long-op stage never waits for the downstream stage's op;
//! - there is no starvation guard: a stage that is always runnable at a
//!   higher rank keeps lower ranks waiting. In a linear pipeline that ends
//!   by itself, since downstream stages run out of input;
//! - with at least as many workers as runnable tasks (the default thread
//!   count covers every sync op), priorities change nothing.
//!
//! # Output order
//!
//! [`OutputOrder::Completion`] (the default) passes results on as ops
//! finish. [`OutputOrder::Input`] passes them on in the order the stage
//! received its inputs: a result waits until the results (or failures) of
//! all earlier inputs have gone, and at most `concurrency` inputs are
//! between the oldest unfinished one and the newest taken.
//!
//! # Using it from a tokio program
//!
//! The pipeline owns its threads and needs no runtime. Inside tokio:
//!
//! - build it anywhere (building starts threads; it does not block);
//! - consume it with [`Pipeline::recv_async`] (`while let Ok(item) =
//!   pipeline.recv_async().await`), which never blocks a tokio worker, or
//!   move the blocking iterator into `tokio::task::spawn_blocking`;
//! - stop it with `spawn_blocking(move || drop(pipeline))` if stages may be
//!   inside long sync ops (dropping waits for them).
//!
//! An async op runs on the pipeline's executor, not tokio's, so tokio's
//! I/O and timers are not available in it directly. To use them, pass a
//! [`tokio::runtime::Handle`](https://docs.rs/tokio/latest/tokio/runtime/struct.Handle.html)
//! into the op and spawn the tokio part there; the op awaits the join
//! handle (or a oneshot), which wakes the pipeline's task from tokio's
//! thread:
//!
//! ```
//! use evlatch_std::pipeline::{BuildOptions, Pipeline, StageOptions};
//! let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
//! let handle = rt.handle().clone();
//! let pipeline = Pipeline::source(0..4u64)
//!     .pipe_async_with(StageOptions::new("fetch").concurrency(4), move |x| {
//!         // tokio I/O or timers go inside the spawned future.
//!         let job = handle.spawn(async move {
//!             tokio::time::sleep(std::time::Duration::from_millis(1)).await;
//!             x * 10
//!         });
//!         async move { job.await.map_err(|e| e.to_string()) }
//!     })
//!     .build(BuildOptions::default())
//!     .unwrap();
//! let mut got: Vec<u64> = rt.block_on(async {
//!     let mut v = Vec::new();
//!     while let Ok(x) = pipeline.recv_async().await {
//!         v.push(x);
//!     }
//!     v
//! });
//! got.sort();
//! assert_eq!(got, [0, 10, 20, 30]);
//! ```
//!
//! # Stats
//!
//! [`Pipeline::stats`] returns a [`PipelineStats`] at any time: per stage
//! ([`StageStats`]: tasks, failures, in flight, mean / p50 / p90 / p99 op
//! time) and per queue ([`QueueStats`]: occupancy, mean / p99 put and get
//! waits, items per second). [`BuildOptions::report_stats`] calls you back
//! every interval and once with the final report; `Display` prints a
//! table, [`PipelineStats::progress_line`] one line. When the consumer has
//! been told the end ([`RecvError::Finished`], the iterator's `None`),
//! every task is done and `stats()` is the final report.
//!
//! The stats cost little on the hot path: a put or get that finds room or
//! an item at once counts as a wait of 0 without reading the clock; ops
//! under 1 µs are timed on a sample (one call in 16 per task, recorded
//! with the weight of the calls it stands for), longer ones all. Counts
//! (tasks, failures, items) are exact.
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use evlatch_std::pipeline::{BuildOptions, Pipeline, StageOptions};
//!
//! let pipeline = Pipeline::source(0..100u32)
//!     .pipe_with(StageOptions::new("load").concurrency(4), |i| Ok::<_, String>(vec![i as u8; 16]))
//!     .pipe_async_with(StageOptions::new("decode").concurrency(2).ordered(), |bytes: Vec<u8>| async move {
//!         Ok::<_, String>(bytes.len())
//!     })
//!     .aggregate(10, Some(Duration::from_millis(20)))
//!     .build(BuildOptions::default())
//!     .unwrap();
//! let mut total = 0;
//! for batch in pipeline {
//!     total += batch.unwrap().iter().sum::<usize>();
//! }
//! assert_eq!(total, 1600);
//! ```

mod builder;
mod error;
mod executor;
mod handle;
mod options;
mod shared;
mod stage;
mod stats;
mod task_state;
mod timer;
mod yielding;

pub use builder::PipelineBuilder;
pub use error::{BuildError, PipelineError, RecvError, StopError};
pub use handle::Pipeline;
pub use options::{
    BuildOptions, OutputOrder, Priority, StageOptions, DEFAULT_BUFFER, MAX_CONCURRENCY, MAX_THREADS,
};
pub use stats::{PipelineStats, QueueStats, StageStats, TimeSummary};
