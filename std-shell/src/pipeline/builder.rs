//! The builder: a source, then stages, then [`PipelineBuilder::build`].
//!
//! The builder is typed by the item type at its end; each stage adds a
//! closure that, at build time, makes the stage's input queue, wires
//! everything upstream into it, and spawns the stage's tasks.

use core::fmt::{self, Display};
use core::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use evlatch::Event;

use super::error::{BuildError, PipelineError};
use super::executor::Executor;
use super::handle::Pipeline;
use super::options::{
    BuildOptions, OutputOrder, Priority, StageOptions, DEFAULT_BUFFER, MAX_CONCURRENCY, MAX_THREADS,
};
use super::shared::{Budget, Shared};
use super::stage::{
    aggregate_loop, completion_loop, contained, disaggregate_loop, ordered_loop, panic_text,
    AsyncOp, Reorder, StageOp, SyncOp,
};
use super::stats::{PipelineStats, QueueCounters, StageCounters};
use super::timer::Timer;
use super::yielding;
use crate::channel::{bounded, Receiver, Sender, TrySendError};
use crate::EventExt;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Sync,
    Async,
    Aggregate,
    Disaggregate,
}

#[derive(Debug)]
struct Plan {
    name: String,
    opts: StageOptions,
    kind: Kind,
    /// For aggregate: max_items.
    max_items: usize,
    /// An aggregate with a `max_wait`: its waits need the timer thread.
    timed: bool,
}

type Wire<T> = Box<dyn for<'a> FnOnce(&mut Wiring<'a>, Sender<T>) + Send>;

/// A pipeline being built: a source and the stages after it; `T` is the
/// type of the items at its end. Start with [`Pipeline::source`] or
/// [`Pipeline::source_async`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use evlatch_std::pipeline::{BuildOptions, Pipeline, StageOptions};
/// let p = Pipeline::source(0..10u32)
///     .pipe_with(StageOptions::new("double").concurrency(2), |x| Ok::<_, String>(x * 2))
///     .pipe_async(|x| async move { Ok::<_, String>(x + 1) })
///     .aggregate(4, Some(Duration::from_millis(50)))
///     .build(BuildOptions::default())
///     .unwrap();
/// let items: usize = p.map(|batch| batch.unwrap().len()).sum();
/// assert_eq!(items, 10);
/// ```
#[must_use = "a builder does nothing until built"]
pub struct PipelineBuilder<T> {
    plans: Vec<Plan>,
    source_async: bool,
    wire: Wire<T>,
}

impl<T> fmt::Debug for PipelineBuilder<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PipelineBuilder")
            .field(
                "stages",
                &self.plans.iter().map(|p| &p.name).collect::<Vec<_>>(),
            )
            .field("source_async", &self.source_async)
            .finish()
    }
}

/// What the wiring closures work with at build time.
pub(crate) struct Wiring<'a> {
    shared: &'a Arc<Shared>,
    exec: &'a Executor,
    positions: usize,
    source: Option<JoinHandle<()>>,
    source_done: Arc<Event>,
    error: Option<BuildError>,
    priorities: Vec<Priority>,
    name: String,
}

impl Wiring<'_> {
    /// The input queue of stage `i` (or the sink for `i == stages`).
    fn channel<T: Send>(&mut self, i: usize) -> Option<(Sender<T>, Receiver<T>)> {
        match bounded(self.shared.queues[i].capacity) {
            Ok(pair) => Some(pair),
            Err(e) => {
                self.error.get_or_insert(BuildError::InvalidOption {
                    stage: self.shared.queues[i].name.clone(),
                    reason: e.to_string(),
                });
                None
            }
        }
    }

    /// Spawns a task of stage `i` (`None`: the async source).
    fn spawn(&self, stage: Option<usize>, fut: impl Future<Output = ()> + Send + 'static) {
        let position = stage.map_or(0, |i| i + 1);
        let level = stage
            .map_or(Priority::Normal, |i| self.priorities[i])
            .level();
        let rank = level * self.positions + position;
        let task = match stage {
            Some(i) => self
                .exec
                .spawn(rank, contained(self.shared.clone(), i, fut)),
            // The async source catches its own panics (`SourcePanicked`).
            None => self.exec.spawn(rank, fut),
        };
        self.shared.add_task(position, task);
    }
}

impl Pipeline<()> {
    /// Starts a pipeline at an iterator. Its `next()` runs on a thread of
    /// its own (so a slow or blocking source holds no worker); the thread
    /// blocks in `send` while the first queue is full (back-pressure).
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::pipeline::{BuildOptions, Pipeline};
    /// let p = Pipeline::source(vec!["a", "b"]).build(BuildOptions::default()).unwrap();
    /// assert_eq!(p.map(Result::unwrap).collect::<Vec<_>>(), ["a", "b"]);
    /// ```
    pub fn source<I>(iter: I) -> PipelineBuilder<I::Item>
    where
        I: IntoIterator + Send + 'static,
        I::Item: Send + 'static,
    {
        PipelineBuilder {
            plans: Vec::new(),
            source_async: false,
            wire: Box::new(move |w, tx| {
                let shared = w.shared.clone();
                let done = w.source_done.clone();
                let spawned = std::thread::Builder::new()
                    .name(format!("{}-source", w.name))
                    .spawn(move || run_source(&shared, iter, tx, &done));
                match spawned {
                    Ok(h) => w.source = Some(h),
                    Err(e) => {
                        let _ = w.source_done.set_finished();
                        w.error.get_or_insert(BuildError::Spawn(e.to_string()));
                    }
                }
            }),
        }
    }

    /// Starts a pipeline at an async source: `next()` is called for each
    /// item and its future awaited on the pipeline's executor; `None` ends
    /// the source. One `next()` future runs at a time. A `futures::Stream`
    /// (`Send + Unpin`; `Box::pin` it otherwise) adapts through a mutex
    /// that is never contended (this crate does not depend on `futures`):
    ///
    /// ```text
    /// let s = std::sync::Arc::new(tokio::sync::Mutex::new(stream));
    /// let p = Pipeline::source_async(move || {
    ///     let s = s.clone();
    ///     async move { futures::StreamExt::next(&mut *s.lock().await).await }
    /// });
    /// ```
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::pipeline::{BuildOptions, Pipeline};
    /// let mut n = 0;
    /// let p = Pipeline::source_async(move || {
    ///     n += 1;
    ///     let v = n;
    ///     async move { (v <= 3).then_some(v) }
    /// })
    /// .build(BuildOptions::default())
    /// .unwrap();
    /// assert_eq!(p.map(Result::unwrap).collect::<Vec<_>>(), [1, 2, 3]);
    /// ```
    pub fn source_async<F, Fut, T>(mut next: F) -> PipelineBuilder<T>
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = Option<T>> + Send,
        T: Send + 'static,
    {
        PipelineBuilder {
            plans: Vec::new(),
            source_async: true,
            wire: Box::new(move |w, tx| {
                let _ = w.source_done.set_finished();
                let shared = w.shared.clone();
                w.spawn(None, async move {
                    loop {
                        let fut = match catch_unwind(AssertUnwindSafe(&mut next)) {
                            Ok(f) => f,
                            Err(p) => return source_panicked(&shared, &*p),
                        };
                        let mut fut = core::pin::pin!(fut);
                        let r = core::future::poll_fn(|cx| {
                            match catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(cx))) {
                                Ok(core::task::Poll::Ready(v)) => core::task::Poll::Ready(Ok(v)),
                                Ok(core::task::Poll::Pending) => core::task::Poll::Pending,
                                Err(p) => core::task::Poll::Ready(Err(panic_text(&*p))),
                            }
                        })
                        .await;
                        let x = match r {
                            Ok(Some(x)) => x,
                            Ok(None) => return,
                            Err(message) => {
                                return shared.set_error(PipelineError::SourcePanicked { message })
                            }
                        };
                        match tx.try_send(x) {
                            Ok(()) => shared.queues[0].put_at_once(),
                            Err(TrySendError::Disconnected(_)) => return,
                            Err(TrySendError::Full(x)) => {
                                let t1 = Instant::now();
                                if tx.send_async(x).await.is_err() {
                                    return;
                                }
                                shared.queues[0].put(t1.elapsed());
                            }
                        }
                        if super::executor::has_deferred() {
                            super::stage::yield_now().await;
                        }
                    }
                });
            }),
        }
    }
}

fn source_panicked(shared: &Shared, p: &(dyn core::any::Any + Send)) {
    shared.set_error(PipelineError::SourcePanicked {
        message: panic_text(p),
    });
}

/// Sets an event when dropped (also on unwinding).
struct SetOnDrop<'a>(&'a Event);

impl Drop for SetOnDrop<'_> {
    fn drop(&mut self) {
        let _ = self.0.set_finished();
    }
}

fn run_source<I>(shared: &Shared, iter: I, tx: Sender<I::Item>, done: &Event)
where
    I: IntoIterator,
{
    let _done = SetOnDrop(done);
    let mut it = match catch_unwind(AssertUnwindSafe(|| iter.into_iter())) {
        Ok(it) => it,
        Err(p) => return source_panicked(shared, &*p),
    };
    loop {
        match catch_unwind(AssertUnwindSafe(|| it.next())) {
            Ok(Some(x)) => match tx.try_send(x) {
                Ok(()) => shared.queues[0].put_at_once(),
                Err(TrySendError::Disconnected(_)) => break,
                Err(TrySendError::Full(x)) => {
                    let t = Instant::now();
                    if yielding::send(&tx, x).is_err() {
                        break;
                    }
                    shared.queues[0].put(t.elapsed());
                }
            },
            Ok(None) => break,
            Err(p) => {
                source_panicked(shared, &*p);
                break;
            }
        }
    }
    // The iterator's drop is user code too; the items it still holds are
    // its own.
    drop(tx);
    let _ = catch_unwind(AssertUnwindSafe(move || drop(it)));
}

impl<T: Send + 'static> PipelineBuilder<T> {
    /// A sync stage with default options (see [`StageOptions`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::pipeline::{BuildOptions, Pipeline};
    /// let p = Pipeline::source(1..=3)
    ///     .pipe(|x: i32| x.checked_mul(10).ok_or("overflow"))
    ///     .build(BuildOptions::default())
    ///     .unwrap();
    /// assert_eq!(p.map(Result::unwrap).collect::<Vec<_>>(), [10, 20, 30]);
    /// ```
    pub fn pipe<U, E, F>(self, op: F) -> PipelineBuilder<U>
    where
        F: Fn(T) -> Result<U, E> + Send + Sync + 'static,
        E: Display,
        U: Send + 'static,
    {
        self.pipe_with(StageOptions::default(), op)
    }

    /// A sync stage: `op` runs on a worker thread, at most
    /// `options.concurrency` at once. An `Err` or a panic is a failure: the
    /// item is dropped and counted against the budget.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::pipeline::{BuildOptions, Pipeline, StageOptions};
    /// let p = Pipeline::source(0..8)
    ///     .pipe_with(StageOptions::new("even").concurrency(2), |x: i32| {
    ///         if x % 2 == 0 { Ok(x) } else { Err("odd") }
    ///     })
    ///     .build(BuildOptions::default())
    ///     .unwrap();
    /// let mut got: Vec<i32> = p.map(Result::unwrap).collect();
    /// got.sort();
    /// assert_eq!(got, [0, 2, 4, 6]);
    /// ```
    pub fn pipe_with<U, E, F>(self, options: StageOptions, op: F) -> PipelineBuilder<U>
    where
        F: Fn(T) -> Result<U, E> + Send + Sync + 'static,
        E: Display,
        U: Send + 'static,
    {
        self.add_map(options, Kind::Sync, SyncOp(op))
    }

    /// An async stage with default options.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::pipeline::{BuildOptions, Pipeline};
    /// let p = Pipeline::source(0..3)
    ///     .pipe_async(|x: i32| async move { Ok::<_, String>(x - 1) })
    ///     .build(BuildOptions::default())
    ///     .unwrap();
    /// assert_eq!(p.map(Result::unwrap).collect::<Vec<_>>(), [-1, 0, 1]);
    /// ```
    pub fn pipe_async<U, E, F, Fut>(self, op: F) -> PipelineBuilder<U>
    where
        F: Fn(T) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<U, E>> + Send,
        E: Display,
        U: Send + 'static,
    {
        self.pipe_async_with(StageOptions::default(), op)
    }

    /// An async stage: up to `options.concurrency` futures of `op` run at
    /// once on the pipeline's executor (they hold no thread while pending).
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::pipeline::{BuildOptions, Pipeline, StageOptions};
    /// let p = Pipeline::source(0..20)
    ///     .pipe_async_with(StageOptions::new("fetch").concurrency(8).ordered(), |x: u32| async move {
    ///         Ok::<_, String>(x)
    ///     })
    ///     .build(BuildOptions::default())
    ///     .unwrap();
    /// assert_eq!(p.map(Result::unwrap).collect::<Vec<_>>(), (0..20).collect::<Vec<_>>());
    /// ```
    pub fn pipe_async_with<U, E, F, Fut>(self, options: StageOptions, op: F) -> PipelineBuilder<U>
    where
        F: Fn(T) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<U, E>> + Send,
        E: Display,
        U: Send + 'static,
    {
        self.add_map(options, Kind::Async, AsyncOp(op))
    }

    /// Batches items: a batch is passed on when it holds `max_items`, when
    /// `max_wait` has passed since its first item arrived (if given), or
    /// when the input ends (the remainder). 0 items is a [`BuildError`].
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::pipeline::{BuildOptions, Pipeline};
    /// let p = Pipeline::source(0..5).aggregate(2, None).build(BuildOptions::default()).unwrap();
    /// let batches: Vec<Vec<i32>> = p.map(Result::unwrap).collect();
    /// assert_eq!(batches, [vec![0, 1], vec![2, 3], vec![4]]);
    /// ```
    pub fn aggregate(
        self,
        max_items: usize,
        max_wait: Option<Duration>,
    ) -> PipelineBuilder<Vec<T>> {
        self.add_aggregate(max_items, max_wait, false)
    }

    /// As [`aggregate`](Self::aggregate), but a short last batch (at the
    /// end of the input) is dropped (SPDL's `drop_last`).
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::pipeline::{BuildOptions, Pipeline};
    /// let p = Pipeline::source(0..5)
    ///     .aggregate_drop_last(2, None)
    ///     .build(BuildOptions::default())
    ///     .unwrap();
    /// assert_eq!(p.count(), 2);
    /// ```
    pub fn aggregate_drop_last(
        self,
        max_items: usize,
        max_wait: Option<Duration>,
    ) -> PipelineBuilder<Vec<T>> {
        self.add_aggregate(max_items, max_wait, true)
    }

    fn add_aggregate(
        self,
        max_items: usize,
        max_wait: Option<Duration>,
        drop_last: bool,
    ) -> PipelineBuilder<Vec<T>> {
        let plan = Plan {
            name: format!("aggregate({max_items})"),
            opts: StageOptions::default(),
            kind: Kind::Aggregate,
            max_items,
            timed: max_wait.is_some(),
        };
        self.then_stage(plan, move |w, i, rx, out| {
            let fut = aggregate_loop(w.shared.clone(), i, rx, out, max_items, max_wait, drop_last);
            w.spawn(Some(i), fut);
        })
    }

    /// Passes on each element of each item, in order.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::pipeline::{BuildOptions, Pipeline};
    /// let p = Pipeline::source(vec![vec![1, 2], vec![], vec![3]])
    ///     .disaggregate()
    ///     .build(BuildOptions::default())
    ///     .unwrap();
    /// assert_eq!(p.map(Result::unwrap).collect::<Vec<_>>(), [1, 2, 3]);
    /// ```
    pub fn disaggregate(self) -> PipelineBuilder<T::Item>
    where
        T: IntoIterator,
        T::IntoIter: Send,
        T::Item: Send + 'static,
    {
        let plan = Plan {
            name: "disaggregate".into(),
            opts: StageOptions::default(),
            kind: Kind::Disaggregate,
            max_items: 0,
            timed: false,
        };
        self.then_stage(plan, |w, i, rx, out| {
            w.spawn(Some(i), disaggregate_loop(w.shared.clone(), i, rx, out));
        })
    }

    fn add_map<U, O>(self, options: StageOptions, kind: Kind, op: O) -> PipelineBuilder<U>
    where
        U: Send + 'static,
        O: StageOp<T, U>,
    {
        let i = self.plans.len();
        let concurrency = options.concurrency;
        let ordered = options.order == OutputOrder::Input && concurrency > 1;
        let plan = Plan {
            name: options.name.clone().unwrap_or_else(|| format!("stage{i}")),
            opts: options,
            kind,
            max_items: 0,
            timed: false,
        };
        self.then_stage(plan, move |w, i, rx, out| {
            let op = Arc::new(op);
            if ordered {
                let Some(ro) = Reorder::new(concurrency) else {
                    w.error.get_or_insert(BuildError::InvalidOption {
                        stage: w.shared.stages[i].name.clone(),
                        reason: format!("concurrency {concurrency} is too large"),
                    });
                    return;
                };
                let ro = Arc::new(ro);
                for _ in 0..concurrency {
                    let f = ordered_loop(
                        w.shared.clone(),
                        i,
                        rx.clone(),
                        out.clone(),
                        op.clone(),
                        ro.clone(),
                    );
                    w.spawn(Some(i), f);
                }
            } else {
                for _ in 0..concurrency {
                    let f =
                        completion_loop(w.shared.clone(), i, rx.clone(), out.clone(), op.clone());
                    w.spawn(Some(i), f);
                }
            }
        })
    }

    /// Appends stage `plan` (number `i`, the next one): when the pipeline
    /// is wired, the stage's input queue is made, everything before it is
    /// wired to send into the queue, and `stage(w, i, input, output)`
    /// spawns the stage's tasks. A queue that cannot be made is a build
    /// error (recorded in `w`), and nothing is spawned.
    fn then_stage<U>(
        mut self,
        plan: Plan,
        stage: impl for<'a> FnOnce(&mut Wiring<'a>, usize, Receiver<T>, Sender<U>) + Send + 'static,
    ) -> PipelineBuilder<U>
    where
        T: Send + 'static,
    {
        let i = self.plans.len();
        self.plans.push(plan);
        let prev = self.wire;
        PipelineBuilder {
            plans: self.plans,
            source_async: self.source_async,
            wire: Box::new(move |w, out| {
                let Some((tx, rx)) = w.channel::<T>(i) else {
                    return;
                };
                prev(w, tx);
                stage(w, i, rx, out);
            }),
        }
    }

    /// Checks the options, starts the threads and returns the running
    /// pipeline.
    ///
    /// # Errors
    ///
    /// [`BuildError::InvalidOption`] for a zero concurrency, buffer, thread
    /// count, batch size or report interval, or a failure rate outside
    /// `0.0 ..= 1.0`; [`BuildError::Spawn`] if a thread could not start.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::pipeline::{BuildOptions, Pipeline};
    /// let p = Pipeline::source(0..3).build(BuildOptions::default().threads(1)).unwrap();
    /// assert_eq!(p.count(), 3);
    /// assert!(Pipeline::source(0..3).build(BuildOptions::default().threads(0)).is_err());
    /// ```
    pub fn build(self, options: BuildOptions) -> Result<Pipeline<T>, BuildError> {
        validate(&self.plans, &options)?;
        let n = self.plans.len();
        let pname = options.name.clone().unwrap_or_else(|| "pipeline".into());
        let threads = options.threads.unwrap_or_else(|| {
            // Saturating: validation bounds each term, not their sum.
            let sync = self
                .plans
                .iter()
                .filter(|p| p.kind == Kind::Sync)
                .fold(0usize, |sum, p| sum.saturating_add(p.opts.concurrency));
            // A worker for every sync task (a sync task holds its worker
            // only while its op runs, and never waits on a worker), and one
            // more for the tasks that are not sync ops (async ops, an async
            // source, aggregates) so they run while every sync op does. No
            // idle spare otherwise: on few cores it would spin beside the
            // source, the busy workers and the consumer.
            let others = self.source_async || self.plans.iter().any(|p| p.kind != Kind::Sync);
            sync.saturating_add(usize::from(others))
                .clamp(1, MAX_THREADS)
        });
        let stage_counters = self
            .plans
            .iter()
            .map(|p| StageCounters::new(p.name.clone()))
            .collect();
        let budgets = self
            .plans
            .iter()
            .map(|p| Budget {
                max_failures: p.opts.max_failures,
                max_rate: p.opts.max_failure_rate,
            })
            .collect();
        let sink_cap = options.sink_buffer.unwrap_or(DEFAULT_BUFFER);
        let queues = (0..=n)
            .map(|i| {
                let from = if i == 0 {
                    "source"
                } else {
                    &self.plans[i - 1].name
                };
                let (to, cap) = if i == n {
                    ("sink", sink_cap)
                } else {
                    (self.plans[i].name.as_str(), self.plans[i].opts.buffer)
                };
                QueueCounters::new(format!("{from} -> {to}"), cap)
            })
            .collect();
        // The timer thread only where a deadline can be waited for.
        let timer = if self.plans.iter().any(|p| p.timed) {
            Timer::start(&pname).map_err(|e| BuildError::Spawn(e.to_string()))?
        } else {
            Timer::unused()
        };
        let shared = Arc::new(Shared::new(
            stage_counters,
            budgets,
            queues,
            Budget {
                max_failures: options.max_failures,
                max_rate: options.max_failure_rate,
            },
            timer,
        ));
        let positions = n + 1;
        let mut exec = Executor::new(threads, Priority::LEVELS * positions, &pname)
            .map_err(|e| BuildError::Spawn(e.to_string()))?;
        let mut w = Wiring {
            shared: &shared,
            exec: &exec,
            positions,
            source: None,
            source_done: Arc::new(Event::new()),
            error: None,
            name: pname.clone(),
            priorities: self.plans.iter().map(|p| p.opts.priority).collect(),
        };
        let sink = w.channel::<T>(n);
        let rx = match sink {
            Some((tx, rx)) => {
                (self.wire)(&mut w, tx);
                Some(rx)
            }
            None => None,
        };
        let Wiring {
            source,
            source_done,
            mut error,
            ..
        } = w;
        if error.is_none() {
            if let Err(e) = exec.start_workers() {
                error = Some(BuildError::Spawn(e.to_string()));
            }
        }
        exec.open_done();
        let reporter = match (&error, options.report) {
            (None, Some((interval, cb))) => {
                let shared2 = shared.clone();
                let done = exec.done_signal();
                let spawned = std::thread::Builder::new()
                    .name(format!("{pname}-stats"))
                    .spawn(move || report_loop(&shared2, &done, interval, &*cb));
                match spawned {
                    Ok(h) => Some(h),
                    Err(e) => {
                        return Err(abort_build(
                            &shared,
                            exec,
                            source,
                            BuildError::Spawn(e.to_string()),
                        ))
                    }
                }
            }
            _ => None,
        };
        match (error, rx) {
            (None, Some(rx)) => Ok(Pipeline::new(
                rx,
                shared,
                exec,
                source,
                source_done,
                reporter,
            )),
            (error, _) => {
                let e = error.unwrap_or_else(|| {
                    BuildError::Spawn("the sink queue could not be made".into())
                });
                Err(abort_build(&shared, exec, source, e))
            }
        }
    }
}

fn abort_build(
    shared: &Shared,
    mut exec: Executor,
    source: Option<JoinHandle<()>>,
    e: BuildError,
) -> BuildError {
    shared.cancel_up_to(usize::MAX);
    exec.all_done().wait();
    exec.join();
    if let Some(s) = source {
        let _ = s.join();
    }
    shared.clear_tasks();
    shared.timer.stop();
    e
}

fn report_loop(
    shared: &Shared,
    done: &super::executor::DoneSignal,
    interval: Duration,
    cb: &(dyn Fn(&PipelineStats) + Send + Sync),
) {
    loop {
        let finished = done.event().wait_timeout(interval).is_ok();
        let stats = shared.snapshot(finished);
        let _ = catch_unwind(AssertUnwindSafe(|| cb(&stats)));
        if finished {
            return;
        }
    }
}

/// A failure-rate budget must be a fraction (`NaN` is not).
fn check_rate(stage: &str, rate: Option<f64>) -> Result<(), BuildError> {
    match rate {
        Some(r) if !(0.0..=1.0).contains(&r) => Err(invalid(
            stage,
            format!("failure rate {r} is not in 0.0 ..= 1.0"),
        )),
        _ => Ok(()),
    }
}

fn invalid(stage: &str, reason: impl Into<String>) -> BuildError {
    BuildError::InvalidOption {
        stage: stage.to_owned(),
        reason: reason.into(),
    }
}

fn validate(plans: &[Plan], options: &BuildOptions) -> Result<(), BuildError> {
    for p in plans {
        let o = &p.opts;
        if o.concurrency == 0 {
            return Err(invalid(&p.name, "concurrency must be at least 1"));
        }
        if o.concurrency > MAX_CONCURRENCY {
            return Err(invalid(
                &p.name,
                format!(
                    "concurrency {} is above the maximum, {MAX_CONCURRENCY}",
                    o.concurrency
                ),
            ));
        }
        if o.buffer == 0 {
            return Err(invalid(
                &p.name,
                "the input buffer must hold at least 1 item",
            ));
        }
        check_rate(&p.name, o.max_failure_rate)?;
        if p.kind == Kind::Aggregate && p.max_items == 0 {
            return Err(invalid(
                &p.name,
                "an aggregate needs max_items of at least 1",
            ));
        }
    }
    if options.threads == Some(0) {
        return Err(invalid("pipeline", "it needs at least 1 worker thread"));
    }
    if let Some(t) = options.threads.filter(|&t| t > MAX_THREADS) {
        return Err(invalid(
            "pipeline",
            format!("{t} worker threads is above the maximum, {MAX_THREADS}"),
        ));
    }
    if options.name.as_ref().is_some_and(|n| n.contains('\0')) {
        return Err(invalid(
            "pipeline",
            "the name holds a NUL byte (it names the pipeline's threads)",
        ));
    }
    check_rate("pipeline", options.max_failure_rate)?;
    if options.sink_buffer == Some(0) {
        return Err(invalid(
            "pipeline",
            "the sink buffer must hold at least 1 item",
        ));
    }
    if options.report.as_ref().is_some_and(|r| r.0.is_zero()) {
        return Err(invalid("pipeline", "the stats interval must be above zero"));
    }
    Ok(())
}
