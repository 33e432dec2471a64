//! The built pipeline: the consumer's end (an iterator, blocking, timeout
//! and async receives), its stats, and stopping it.

use core::fmt;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use evlatch::Event;

use super::error::{PipelineError, RecvError, StopError};
use super::executor::Executor;
use super::shared::Shared;
use super::stats::PipelineStats;
use super::yielding;
use crate::channel::{self, Receiver};
use crate::EventExt;

/// A running pipeline; receive its output here.
///
/// As an [`Iterator`] it yields `Ok(item)` for each item that reaches the
/// sink, then — if a stage went over its failure budget or the source
/// panicked — one `Err(PipelineError)`, then `None`. When it returns
/// `None`, every stage task is done: [`stats()`](Self::stats) is the final
/// report (`finished` is `true`).
///
/// Dropping it stops the pipeline ([`stop`](Self::stop)): every task is
/// cancelled (its items dropped), every thread joined.
///
/// # Examples
///
/// ```
/// use evlatch_std::pipeline::{BuildOptions, Pipeline, StageOptions};
/// let pipeline = Pipeline::source(0..1000u64)
///     .pipe_with(StageOptions::new("square").concurrency(4).ordered(), |x| {
///         Ok::<_, String>(x * x)
///     })
///     .build(BuildOptions::default())
///     .unwrap();
/// let sum: u64 = pipeline.map(Result::unwrap).sum();
/// assert_eq!(sum, (0..1000u64).map(|x| x * x).sum());
/// ```
pub struct Pipeline<T> {
    /// `None` once stopped (so that a source sending straight into the
    /// sink sees it gone).
    rx: Option<Receiver<T>>,
    shared: Arc<Shared>,
    exec: Executor,
    source: Option<JoinHandle<()>>,
    source_done: Arc<Event>,
    reporter: Option<JoinHandle<()>>,
    stopped: bool,
    joined: bool,
}

impl<T> fmt::Debug for Pipeline<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pipeline")
            .field(
                "stages",
                &self
                    .shared
                    .stages
                    .iter()
                    .map(|s| &s.name)
                    .collect::<Vec<_>>(),
            )
            .field("stopped", &self.stopped)
            .finish()
    }
}

impl<T> Pipeline<T> {
    pub(crate) fn new(
        rx: Receiver<T>,
        shared: Arc<Shared>,
        exec: Executor,
        source: Option<JoinHandle<()>>,
        source_done: Arc<Event>,
        reporter: Option<JoinHandle<()>>,
    ) -> Self {
        Self {
            rx: Some(rx),
            shared,
            exec,
            source,
            source_done,
            reporter,
            stopped: false,
            joined: false,
        }
    }

    fn sink(&self) -> &super::stats::QueueCounters {
        let sink = self.shared.queues.len() - 1;
        &self.shared.queues[sink]
    }

    /// An item that was there at once (a get that waited 0; no clock read).
    fn try_now(&self, rx: &Receiver<T>) -> Option<T> {
        let v = rx.try_recv().ok()?;
        self.sink().get_at_once(rx.len());
        Some(v)
    }

    fn got(&self, since: Instant, rx: &Receiver<T>) {
        self.sink().get(since.elapsed(), rx.len());
    }

    /// The sink is disconnected: what the consumer is told without waiting
    /// (`Stopped`, or the failure, reported at once: upstream ops that are
    /// still running cannot be interrupted), or `None` when it is the end,
    /// which is reported only once the executor's all-done event finished
    /// ([`Self::ended_after_done`]).
    ///
    /// The wait is needed because the last stage's tasks drop their sink
    /// senders while their futures are dropped, a moment before they are
    /// counted done: without it `stats().finished` could still be `false`
    /// after the end was reported.
    fn ended_now(&self) -> Option<RecvError> {
        if self.stopped {
            return Some(RecvError::Stopped);
        }
        self.shared.take_error_once().map(RecvError::Failed)
    }

    /// The end, after the all-done event finished (a failure recorded while
    /// the last tasks finished is still reported).
    fn ended_after_done(&self) -> RecvError {
        debug_assert!(self.exec.all_done().status().is_finished());
        match self.shared.take_error_once() {
            Some(e) => RecvError::Failed(e),
            None => RecvError::Finished,
        }
    }

    /// The end, waiting for the all-done event until `deadline` at most.
    fn ended(&self, deadline: Option<Instant>) -> RecvError {
        if let Some(e) = self.ended_now() {
            return e;
        }
        match deadline {
            None => {
                self.exec.all_done().wait();
            }
            Some(d) => {
                if self.exec.all_done().wait_deadline(d).is_err() {
                    return RecvError::Timeout;
                }
            }
        }
        self.ended_after_done()
    }

    /// Blocks until the next item arrives: after up to 20 yields of the
    /// core, each followed by a try (about 5 µs where this thread has a
    /// core of its own), it sleeps until the item wakes it (no polling).
    ///
    /// # Errors
    ///
    /// [`RecvError::Finished`] at the end, [`RecvError::Failed`] once if the
    /// pipeline failed, [`RecvError::Stopped`] after [`stop`](Self::stop).
    /// `Finished` comes once every stage task is done (the last ones are
    /// waited for, a moment in a normal end; after a failure, ops upstream
    /// that were running when it was cancelled), so
    /// [`stats().finished`](PipelineStats::finished) is `true` by then.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::pipeline::{BuildOptions, Pipeline};
    /// let p = Pipeline::source([7]).build(BuildOptions::default()).unwrap();
    /// assert_eq!(p.recv(), Ok(7));
    /// assert!(p.recv().is_err());
    /// ```
    pub fn recv(&self) -> Result<T, RecvError> {
        let Some(rx) = self.rx.as_ref() else {
            return Err(RecvError::Stopped);
        };
        if let Some(v) = self.try_now(rx) {
            return Ok(v);
        }
        let t = Instant::now();
        if let Some(v) = yielding::try_recv(rx, None) {
            self.got(t, rx);
            return Ok(v);
        }
        match rx.recv() {
            Ok(v) => {
                self.got(t, rx);
                Ok(v)
            }
            Err(_) => Err(self.ended(None)),
        }
    }

    /// As [`recv`](Self::recv), blocking at most `timeout`.
    ///
    /// # Errors
    ///
    /// As `recv`, and [`RecvError::Timeout`] when no item came in time.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use evlatch_std::pipeline::{BuildOptions, Pipeline, RecvError};
    /// // The source yields nothing until `release` is dropped (or 10 s pass).
    /// let (release, released) = std::sync::mpsc::channel::<()>();
    /// let p = Pipeline::source(std::iter::from_fn(move || {
    ///     let _ = released.recv_timeout(Duration::from_secs(10));
    ///     None::<u8>
    /// }))
    /// .build(BuildOptions::default())
    /// .unwrap();
    /// assert_eq!(p.recv_timeout(Duration::from_millis(1)), Err(RecvError::Timeout));
    /// drop(release);
    /// assert_eq!(p.recv(), Err(RecvError::Finished));
    /// ```
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvError> {
        let Some(rx) = self.rx.as_ref() else {
            return Err(RecvError::Stopped);
        };
        if let Some(v) = self.try_now(rx) {
            return Ok(v);
        }
        let t = Instant::now();
        let deadline = t.checked_add(timeout);
        if let Some(v) = yielding::try_recv(rx, deadline) {
            self.got(t, rx);
            return Ok(v);
        }
        match rx.recv_timeout(timeout.saturating_sub(t.elapsed())) {
            Ok(v) => {
                self.got(t, rx);
                Ok(v)
            }
            Err(channel::RecvTimeoutError::Timeout) => Err(RecvError::Timeout),
            // No representable deadline: no deadline (as the channel's).
            Err(_) => Err(self.ended(t.checked_add(timeout))),
        }
    }

    /// Receives asynchronously, on any executor (tokio included); dropping
    /// the future loses no item.
    ///
    /// # Errors
    ///
    /// As [`recv`](Self::recv).
    ///
    /// # Examples
    ///
    /// ```
    /// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// # rt.block_on(async {
    /// use evlatch_std::pipeline::{BuildOptions, Pipeline};
    /// let p = Pipeline::source(0..2).build(BuildOptions::default()).unwrap();
    /// assert_eq!(p.recv_async().await, Ok(0));
    /// assert_eq!(p.recv_async().await, Ok(1));
    /// assert!(p.recv_async().await.is_err());
    /// # });
    /// ```
    pub async fn recv_async(&self) -> Result<T, RecvError> {
        let Some(rx) = self.rx.as_ref() else {
            return Err(RecvError::Stopped);
        };
        if let Some(v) = self.try_now(rx) {
            return Ok(v);
        }
        let t = Instant::now();
        match rx.recv_async().await {
            Ok(v) => {
                self.got(t, rx);
                Ok(v)
            }
            Err(_) => {
                if let Some(e) = self.ended_now() {
                    return Err(e);
                }
                // Waits without blocking the caller's executor.
                let _ = self.exec.all_done().wait_async().await;
                Err(self.ended_after_done())
            }
        }
    }

    /// A snapshot of the statistics, at any time (also after the end: the
    /// final report).
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::pipeline::{BuildOptions, Pipeline};
    /// let p = Pipeline::source(0..3).build(BuildOptions::default()).unwrap();
    /// let _ = p.stats(); // while running
    /// ```
    pub fn stats(&self) -> PipelineStats {
        let finished = self.exec.all_done().status().is_finished();
        self.shared.snapshot(finished)
    }

    /// The pipeline's error, if it failed (also after it was received).
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::pipeline::{BuildOptions, Pipeline};
    /// let mut p = Pipeline::source(0..3).build(BuildOptions::default()).unwrap();
    /// assert_eq!(p.by_ref().count(), 3);
    /// assert!(p.error().is_none());
    /// ```
    pub fn error(&self) -> Option<PipelineError> {
        self.shared.error()
    }

    /// Stops the pipeline: cancels every stage (items in flight and queued
    /// are dropped), waits for the ops that are running to return (a sync
    /// op cannot be interrupted; an async op is dropped at its next
    /// `Pending`), and joins every thread — the source thread after its
    /// current `next()` returns. Later receives return
    /// [`RecvError::Stopped`]. Idempotent.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::pipeline::{BuildOptions, Pipeline, RecvError};
    /// let mut p = Pipeline::source(0..).build(BuildOptions::default()).unwrap();
    /// assert_eq!(p.recv(), Ok(0));
    /// p.stop();
    /// assert_eq!(p.recv(), Err(RecvError::Stopped));
    /// ```
    pub fn stop(&mut self) {
        let _ = self.stop_until(None);
    }

    /// As [`stop`](Self::stop), waiting at most `timeout` for running user
    /// code (sync ops, the source's `next()`).
    ///
    /// # Errors
    ///
    /// [`StopError::Timeout`] if some remained: the pipeline stays
    /// cancelled; a later `stop` or the drop waits for them.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use evlatch_std::pipeline::{BuildOptions, Pipeline};
    /// let mut p = Pipeline::source(0..).build(BuildOptions::default()).unwrap();
    /// p.stop_timeout(Duration::from_secs(5)).unwrap();
    /// ```
    pub fn stop_timeout(&mut self, timeout: Duration) -> Result<(), StopError> {
        self.stop_until(Instant::now().checked_add(timeout))
    }

    fn stop_until(&mut self, deadline: Option<Instant>) -> Result<(), StopError> {
        self.stopped = true;
        if self.joined {
            return Ok(());
        }
        self.shared.cancel_up_to(usize::MAX);
        // Items still in the sink are dropped; a source that sends straight
        // into it (no stages) sees it gone.
        self.rx = None;
        let wait = |e: &Event| match deadline {
            None => {
                e.wait();
                true
            }
            Some(d) => e.wait_deadline(d).is_ok(),
        };
        if !wait(self.exec.all_done()) {
            return Err(StopError::Timeout {
                waiting_for: "stages",
            });
        }
        self.exec.join();
        // Every stage task is gone, so the first queue has no receiver: the
        // source's next send fails.
        if !wait(&self.source_done) {
            return Err(StopError::Timeout {
                waiting_for: "source",
            });
        }
        if let Some(s) = self.source.take() {
            let _ = s.join();
        }
        if let Some(r) = self.reporter.take() {
            let _ = r.join();
        }
        self.shared.clear_tasks();
        self.shared.timer.stop();
        self.joined = true;
        Ok(())
    }
}

impl<T> Iterator for Pipeline<T> {
    type Item = Result<T, PipelineError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.recv() {
            Ok(v) => Some(Ok(v)),
            Err(RecvError::Failed(e)) => Some(Err(e)),
            Err(_) => None,
        }
    }
}

impl<T> Drop for Pipeline<T> {
    fn drop(&mut self) {
        self.stop();
    }
}
