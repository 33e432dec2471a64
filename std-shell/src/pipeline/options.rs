//! Per-stage and per-pipeline options.

use core::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::stats::PipelineStats;

/// A stage's scheduling priority. When stages compete for workers, a worker
/// takes a runnable task of the highest priority first, and among equal
/// priorities the most downstream stage's (see the module docs for exactly
/// what is guaranteed).
///
/// # Examples
///
/// ```
/// use evlatch_std::pipeline::{Priority, StageOptions};
/// let opts = StageOptions::new("infer").priority(Priority::High);
/// assert!(Priority::High > Priority::Normal);
/// # let _ = opts;
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    /// Runs after every runnable `Normal` and `High` task.
    Low,
    /// The default.
    #[default]
    Normal,
    /// Runs before every runnable `Normal` and `Low` task.
    High,
}

impl Priority {
    pub(crate) const LEVELS: usize = 3;

    pub(crate) fn level(self) -> usize {
        self as usize
    }
}

/// In which order a stage with concurrency > 1 passes its results on.
///
/// # Examples
///
/// ```
/// use evlatch_std::pipeline::{OutputOrder, StageOptions};
/// let opts = StageOptions::new("decode").concurrency(4).output_order(OutputOrder::Input);
/// # let _ = opts;
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OutputOrder {
    /// As ops finish (the default; SPDL's `"completion"`).
    #[default]
    Completion,
    /// In the order the stage received its inputs (SPDL's `"input"`): a
    /// finished result waits for the results of earlier inputs.
    Input,
}

/// Options of one stage: name, concurrency, output order, failure budget,
/// priority, input queue size.
///
/// # Examples
///
/// ```
/// use evlatch_std::pipeline::{BuildOptions, Pipeline, Priority, StageOptions};
/// let p = Pipeline::source(0..100)
///     .pipe_with(
///         StageOptions::new("square")
///             .concurrency(4)
///             .ordered()
///             .max_failures(3)
///             .priority(Priority::High)
///             .buffer(8),
///         |x: u64| Ok::<_, String>(x * x),
///     )
///     .build(BuildOptions::default())
///     .unwrap();
/// let got: Vec<u64> = p.map(Result::unwrap).collect();
/// assert_eq!(got, (0..100).map(|x| x * x).collect::<Vec<_>>());
/// ```
#[derive(Clone, Debug)]
#[must_use = "options do nothing until passed to a pipe"]
pub struct StageOptions {
    pub(crate) name: Option<String>,
    pub(crate) concurrency: usize,
    pub(crate) order: OutputOrder,
    pub(crate) max_failures: Option<u64>,
    pub(crate) max_failure_rate: Option<f64>,
    pub(crate) priority: Priority,
    pub(crate) buffer: usize,
}

/// The default input queue size of a stage (SPDL's 2).
///
/// # Examples
///
/// ```
/// assert_eq!(evlatch_std::pipeline::DEFAULT_BUFFER, 2);
/// ```
pub const DEFAULT_BUFFER: usize = 2;

/// The most ops a stage may run at once ([`StageOptions::concurrency`]);
/// more is a [`BuildError`](super::BuildError). Each unit of concurrency
/// is a task of its own.
///
/// # Examples
///
/// ```
/// use evlatch_std::pipeline::{BuildOptions, Pipeline, StageOptions, MAX_CONCURRENCY};
/// let too_many = StageOptions::new("x").concurrency(MAX_CONCURRENCY + 1);
/// let built = Pipeline::source(0..1).pipe_with(too_many, Ok::<_, &str>).build(BuildOptions::default());
/// assert!(built.is_err());
/// ```
pub const MAX_CONCURRENCY: usize = 65_536;

/// The most worker threads a pipeline may have ([`BuildOptions::threads`]);
/// more is a [`BuildError`](super::BuildError), and the default count is
/// capped at it.
///
/// # Examples
///
/// ```
/// use evlatch_std::pipeline::{BuildOptions, Pipeline, MAX_THREADS};
/// let built = Pipeline::source(0..1).build(BuildOptions::default().threads(MAX_THREADS + 1));
/// assert!(built.is_err());
/// ```
pub const MAX_THREADS: usize = 1024;

impl Default for StageOptions {
    fn default() -> Self {
        Self {
            name: None,
            concurrency: 1,
            order: OutputOrder::Completion,
            max_failures: None,
            max_failure_rate: None,
            priority: Priority::Normal,
            buffer: DEFAULT_BUFFER,
        }
    }
}

impl StageOptions {
    /// Options with a name (used in stats and errors); everything else
    /// default: concurrency 1, completion order, no failure budget (every
    /// failure is counted and the item dropped), `Normal` priority, an input
    /// queue of [`DEFAULT_BUFFER`].
    ///
    /// # Examples
    ///
    /// ```
    /// let opts = evlatch_std::pipeline::StageOptions::new("load");
    /// # let _ = opts;
    /// ```
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: Some(name.into()),
            ..Self::default()
        }
    }

    /// How many ops of this stage may run at once (default 1; 0 or more
    /// than [`MAX_CONCURRENCY`] is a [`BuildError`](super::BuildError)).
    /// Sync ops each occupy a worker thread while they run; async ops do
    /// not.
    ///
    /// # Examples
    ///
    /// ```
    /// let opts = evlatch_std::pipeline::StageOptions::new("fetch").concurrency(32);
    /// # let _ = opts;
    /// ```
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n;
        self
    }

    /// The output order (default [`OutputOrder::Completion`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::pipeline::{OutputOrder, StageOptions};
    /// let opts = StageOptions::new("x").output_order(OutputOrder::Input);
    /// # let _ = opts;
    /// ```
    pub fn output_order(mut self, order: OutputOrder) -> Self {
        self.order = order;
        self
    }

    /// Shorthand for `output_order(OutputOrder::Input)`.
    ///
    /// # Examples
    ///
    /// ```
    /// let opts = evlatch_std::pipeline::StageOptions::new("x").ordered();
    /// # let _ = opts;
    /// ```
    pub fn ordered(self) -> Self {
        self.output_order(OutputOrder::Input)
    }

    /// Fails the pipeline when this stage has failed more than `n` times
    /// (`0`: at the first failure).
    ///
    /// # Examples
    ///
    /// ```
    /// let opts = evlatch_std::pipeline::StageOptions::new("x").max_failures(10);
    /// # let _ = opts;
    /// ```
    pub fn max_failures(mut self, n: u64) -> Self {
        self.max_failures = Some(n);
        self
    }

    /// Fails the pipeline when, after at least 100 calls, more than this
    /// fraction of the stage's calls failed (`0.0 ..= 1.0`; checked at each
    /// failure).
    ///
    /// # Examples
    ///
    /// ```
    /// let opts = evlatch_std::pipeline::StageOptions::new("x").max_failure_rate(0.1);
    /// # let _ = opts;
    /// ```
    pub fn max_failure_rate(mut self, rate: f64) -> Self {
        self.max_failure_rate = Some(rate);
        self
    }

    /// The stage's priority (default [`Priority::Normal`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::pipeline::{Priority, StageOptions};
    /// let opts = StageOptions::new("x").priority(Priority::Low);
    /// # let _ = opts;
    /// ```
    pub fn priority(mut self, p: Priority) -> Self {
        self.priority = p;
        self
    }

    /// The capacity of the stage's input queue (default [`DEFAULT_BUFFER`];
    /// 0 is a [`BuildError`](super::BuildError)).
    ///
    /// # Examples
    ///
    /// ```
    /// let opts = evlatch_std::pipeline::StageOptions::new("x").buffer(16);
    /// # let _ = opts;
    /// ```
    pub fn buffer(mut self, n: usize) -> Self {
        self.buffer = n;
        self
    }
}

/// A stats callback.
pub(crate) type StatsCallback = Arc<dyn Fn(&PipelineStats) + Send + Sync>;

/// Options of the whole pipeline.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use evlatch_std::pipeline::{BuildOptions, Pipeline};
/// let p = Pipeline::source(0..3)
///     .build(
///         BuildOptions::default()
///             .threads(2)
///             .sink_buffer(4)
///             .report_stats(Duration::from_secs(1), |s| eprintln!("{}", s.progress_line())),
///     )
///     .unwrap();
/// assert_eq!(p.count(), 3);
/// ```
#[derive(Clone, Default)]
#[must_use = "options do nothing until passed to build"]
pub struct BuildOptions {
    pub(crate) threads: Option<usize>,
    pub(crate) sink_buffer: Option<usize>,
    pub(crate) max_failures: Option<u64>,
    pub(crate) max_failure_rate: Option<f64>,
    pub(crate) report: Option<(Duration, StatsCallback)>,
    pub(crate) name: Option<String>,
}

impl fmt::Debug for BuildOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BuildOptions")
            .field("threads", &self.threads)
            .field("sink_buffer", &self.sink_buffer)
            .field("max_failures", &self.max_failures)
            .field("max_failure_rate", &self.max_failure_rate)
            .field("report_interval", &self.report.as_ref().map(|r| r.0))
            .field("name", &self.name)
            .finish()
    }
}

impl BuildOptions {
    /// Worker threads for the stages. Default: the sum of the sync stages'
    /// concurrency (a sync op runs on a worker of its own), plus one if the
    /// pipeline has tasks that are not sync ops (async ops, an async
    /// source, aggregates, disaggregates), so that they run while every
    /// sync op does. With fewer workers than
    /// sync concurrency, sync ops wait for a worker (nothing deadlocks: no
    /// stage ever blocks a worker waiting on another stage). 0 or more than
    /// [`MAX_THREADS`] is a [`BuildError`](super::BuildError) (the default
    /// is capped at it).
    ///
    /// # Examples
    ///
    /// ```
    /// let opts = evlatch_std::pipeline::BuildOptions::default().threads(8);
    /// # let _ = opts;
    /// ```
    pub fn threads(mut self, n: usize) -> Self {
        self.threads = Some(n);
        self
    }

    /// The capacity of the queue the consumer receives from (default
    /// [`DEFAULT_BUFFER`](super::DEFAULT_BUFFER)).
    ///
    /// # Examples
    ///
    /// ```
    /// let opts = evlatch_std::pipeline::BuildOptions::default().sink_buffer(64);
    /// # let _ = opts;
    /// ```
    pub fn sink_buffer(mut self, n: usize) -> Self {
        self.sink_buffer = Some(n);
        self
    }

    /// A global failure budget: the pipeline fails when all stages together
    /// have failed more than `n` times.
    ///
    /// # Examples
    ///
    /// ```
    /// let opts = evlatch_std::pipeline::BuildOptions::default().max_failures(100);
    /// # let _ = opts;
    /// ```
    pub fn max_failures(mut self, n: u64) -> Self {
        self.max_failures = Some(n);
        self
    }

    /// A global failure-rate budget: the pipeline fails when, after all
    /// stages together made at least 100 calls, more than this fraction of
    /// those calls failed (`0.0 ..= 1.0`, else a
    /// [`BuildError`](super::BuildError); checked at each failure).
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::pipeline::{BuildOptions, Pipeline, PipelineError};
    /// // Every other item fails: 50 % > 10 % once 100 calls were made.
    /// let p = Pipeline::source(0..1000)
    ///     .pipe(|x: u32| if x % 2 == 0 { Ok(x) } else { Err("odd") })
    ///     .build(BuildOptions::default().max_failure_rate(0.1))
    ///     .unwrap();
    /// let err = p.filter_map(Result::err).next();
    /// assert!(matches!(err, Some(PipelineError::FailureBudget { .. })));
    /// ```
    pub fn max_failure_rate(mut self, rate: f64) -> Self {
        self.max_failure_rate = Some(rate);
        self
    }

    /// Calls `callback` with a stats snapshot every `interval`, and once more
    /// with the final report (`finished == true`) when every stage has
    /// ended. It runs on a reporter thread that waits on the pipeline's
    /// "all done" event with a timeout (no polling); a panicking callback
    /// is caught and does not stop the reports. A zero interval is a
    /// [`BuildError`](super::BuildError).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let opts = evlatch_std::pipeline::BuildOptions::default()
    ///     .report_stats(Duration::from_secs(5), |stats| println!("{stats}"));
    /// # let _ = opts;
    /// ```
    pub fn report_stats(
        mut self,
        interval: Duration,
        callback: impl Fn(&PipelineStats) + Send + Sync + 'static,
    ) -> Self {
        self.report = Some((interval, Arc::new(callback)));
        self
    }

    /// A name for the pipeline's threads (default `"pipeline"`).
    ///
    /// # Examples
    ///
    /// ```
    /// let opts = evlatch_std::pipeline::BuildOptions::default().name("loader");
    /// # let _ = opts;
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
}
