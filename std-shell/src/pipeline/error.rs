//! The pipeline's errors: building it, running it, receiving from it,
//! stopping it.

use core::fmt;

/// A pipeline could not be built.
///
/// # Examples
///
/// ```
/// use evlatch_std::pipeline::{BuildError, BuildOptions, Pipeline, StageOptions};
/// let err = Pipeline::source(0..3)
///     .pipe_with(StageOptions::new("decode").concurrency(0), |x: i32| Ok::<_, String>(x))
///     .build(BuildOptions::default())
///     .unwrap_err();
/// assert!(matches!(err, BuildError::InvalidOption { .. }));
/// assert!(err.to_string().contains("decode"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BuildError {
    /// An option is out of range.
    InvalidOption {
        /// The stage (or `"pipeline"` for a build option).
        stage: String,
        /// What was wrong.
        reason: String,
    },
    /// A thread could not be started.
    Spawn(String),
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidOption { stage, reason } => {
                write!(f, "invalid pipeline option for {stage:?}: {reason}")
            }
            Self::Spawn(e) => write!(f, "could not start a pipeline thread: {e}"),
        }
    }
}

impl std::error::Error for BuildError {}

/// Why a running pipeline ended before its source was exhausted.
///
/// # Examples
///
/// ```
/// use evlatch_std::pipeline::{BuildOptions, Pipeline, PipelineError, StageOptions};
/// let p = Pipeline::source(0..10)
///     .pipe_with(StageOptions::new("parse").max_failures(0), |x: i32| {
///         if x == 3 { Err(format!("bad item {x}")) } else { Ok(x) }
///     })
///     .build(BuildOptions::default())
///     .unwrap();
/// let err = p.filter_map(Result::err).next().unwrap();
/// match &err {
///     PipelineError::FailureBudget { stage, failures, last_error, .. } => {
///         assert_eq!((stage.as_str(), *failures), ("parse", 1));
///         assert_eq!(last_error, "bad item 3");
///     }
///     other => panic!("{other}"),
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PipelineError {
    /// A stage (or the pipeline as a whole) failed more often than its
    /// budget allows. Upstream stages were cancelled; what was already
    /// downstream was delivered.
    FailureBudget {
        /// The stage whose failure went over budget.
        stage: String,
        /// Failures counted against the budget that was exceeded (the
        /// stage's, or the pipeline's total for the global budget).
        failures: u64,
        /// Ops the stage had called by then.
        calls: u64,
        /// The last error's text (a panic's message for a panicking op).
        last_error: String,
    },
    /// The source iterator (or async source) panicked; what it had produced
    /// was delivered.
    SourcePanicked {
        /// The panic's message.
        message: String,
    },
    /// User code a stage runs outside its op panicked: a batch's
    /// iterator in `disaggregate`, or the drop of an item or a batch. (A
    /// panicking op is a failure, counted against the budget, not this.)
    /// The stage and everything upstream of it were cancelled; what was
    /// already downstream was delivered.
    StagePanicked {
        /// The stage whose task panicked.
        stage: String,
        /// The panic's message.
        message: String,
    },
}

impl fmt::Display for PipelineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::FailureBudget {
                stage,
                failures,
                calls,
                last_error,
            } => write!(
                f,
                "pipeline stage {stage:?} went over its failure budget ({failures} failures \
                 in {calls} calls); last error: {last_error}"
            ),
            Self::SourcePanicked { message } => {
                write!(f, "the pipeline's source panicked: {message}")
            }
            Self::StagePanicked { stage, message } => write!(
                f,
                "pipeline stage {stage:?} panicked outside its op (upstream cancelled): {message}"
            ),
        }
    }
}

impl std::error::Error for PipelineError {}

/// Why [`Pipeline::recv`](super::Pipeline::recv) and its variants returned
/// no item.
///
/// # Examples
///
/// ```
/// use evlatch_std::pipeline::{BuildOptions, Pipeline, RecvError};
/// let mut p = Pipeline::source(0..1).build(BuildOptions::default()).unwrap();
/// assert_eq!(p.recv(), Ok(0));
/// assert_eq!(p.recv(), Err(RecvError::Finished));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecvError {
    /// Every item was delivered and the pipeline ended normally (or its
    /// failure was reported before); every stage task is done.
    Finished,
    /// The pipeline failed; every item that reached the sink before was
    /// delivered. Reported once; later calls return `Finished`.
    Failed(PipelineError),
    /// [`recv_timeout`](super::Pipeline::recv_timeout) ran out of time; the
    /// pipeline is still running (maybe only its last tasks finishing).
    Timeout,
    /// The pipeline was stopped with [`stop`](super::Pipeline::stop).
    Stopped,
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Finished => f.write_str(
                "the pipeline has ended: every item that reached its sink was delivered",
            ),
            Self::Failed(e) => write!(f, "the pipeline failed: {e}"),
            Self::Timeout => f.write_str("timed out waiting for the pipeline's next item"),
            Self::Stopped => f.write_str("the pipeline was stopped"),
        }
    }
}

impl std::error::Error for RecvError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Failed(e) => Some(e),
            _ => None,
        }
    }
}

/// [`Pipeline::stop_timeout`](super::Pipeline::stop_timeout) ran out of
/// time.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use evlatch_std::pipeline::{BuildOptions, Pipeline};
/// let mut p = Pipeline::source(0..3).build(BuildOptions::default()).unwrap();
/// assert!(p.stop_timeout(Duration::from_secs(10)).is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StopError {
    /// Some part was still inside user code when the time ran out: a sync
    /// op (it cannot be interrupted) or the source's `next()`. The pipeline
    /// is cancelled; a later `stop` (or the drop) waits for the rest.
    Timeout {
        /// What was still running: `"stages"` or `"source"`.
        waiting_for: &'static str,
    },
}

impl fmt::Display for StopError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Timeout { waiting_for } => write!(
                f,
                "stopping the pipeline timed out: its {waiting_for} still run user code \
                 (an op or the source's next()); call stop() to wait for them"
            ),
        }
    }
}

impl std::error::Error for StopError {}
