//! What a running pipeline's stages and its handle share: counters,
//! failure budgets, the first error, the task list (for cancelling), the
//! timer.

use std::sync::Arc;
use std::time::Instant;

use super::error::PipelineError;
use super::executor::Task;
use super::stats::{PipelineStats, QueueCounters, StageCounters};
use super::timer::Timer;
use crate::sync::{lock, AtomicU64, Mutex, Ordering};

/// A failure budget: more than `max_failures` failures, or (after
/// [`RATE_MIN_CALLS`] calls) a failure rate above `max_rate`, is too many.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Budget {
    pub(crate) max_failures: Option<u64>,
    pub(crate) max_rate: Option<f64>,
}

/// Calls before a failure rate is checked (SPDL's 100).
pub(crate) const RATE_MIN_CALLS: u64 = 100;

impl Budget {
    fn exceeded(&self, failures: u64, calls: u64) -> bool {
        self.max_failures.is_some_and(|m| failures > m)
            || self
                .max_rate
                .is_some_and(|r| calls >= RATE_MIN_CALLS && failures as f64 > r * calls as f64)
    }
}

pub(crate) struct Shared {
    pub(crate) stages: Vec<StageCounters>,
    pub(crate) budgets: Vec<Budget>,
    pub(crate) queues: Vec<QueueCounters>,
    pub(crate) global: Budget,
    global_failures: AtomicU64,
    pub(crate) started: Instant,
    pub(crate) timer: Timer,
    error: Mutex<ErrorSlot>,
    /// Every task with its position (0 = async source, stage `i` = `i + 1`).
    tasks: Mutex<Vec<(usize, Arc<Task>)>>,
}

#[derive(Default)]
struct ErrorSlot {
    error: Option<PipelineError>,
    reported: bool,
}

impl Shared {
    pub(crate) fn new(
        stages: Vec<StageCounters>,
        budgets: Vec<Budget>,
        queues: Vec<QueueCounters>,
        global: Budget,
        timer: Timer,
    ) -> Self {
        Self {
            stages,
            budgets,
            queues,
            global,
            global_failures: AtomicU64::new(0),
            started: Instant::now(),
            timer,
            error: Mutex::new(ErrorSlot::default()),
            tasks: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn add_task(&self, position: usize, task: Arc<Task>) {
        lock(&self.tasks).push((position, task));
    }

    /// Counts one failure of stage `i`; returns `true` if it put the stage
    /// (or the pipeline) over budget, in which case the pipeline is failing
    /// now: the error is set and stage `i` and everything upstream of it are
    /// cancelled.
    pub(crate) fn fail(&self, i: usize, text: String) -> bool {
        let st = &self.stages[i];
        let failures = st.failures.fetch_add(1, Ordering::Relaxed) + 1;
        let calls = st.calls.load(Ordering::Relaxed);
        let total = self.global_failures.fetch_add(1, Ordering::Relaxed) + 1;
        let counted = if self.budgets[i].exceeded(failures, calls) {
            failures
        } else if self.global.exceeded(total, self.global_calls()) {
            total
        } else {
            return false;
        };
        self.set_error(PipelineError::FailureBudget {
            stage: st.name.clone(),
            failures: counted,
            calls,
            last_error: text,
        });
        self.cancel_up_to(i + 1);
        true
    }

    /// Ops called so far by all stages together (read only for a global
    /// rate budget).
    fn global_calls(&self) -> u64 {
        if self.global.max_rate.is_none() {
            return 0;
        }
        self.stages
            .iter()
            .map(|s| s.calls.load(Ordering::Relaxed))
            .fold(0, u64::saturating_add)
    }

    /// Stage `i`'s task panicked outside its op: the pipeline ends with
    /// [`PipelineError::StagePanicked`], cancelling the stage and what is
    /// upstream of it (as a failure over budget does).
    pub(crate) fn stage_panicked(&self, i: usize, message: String) {
        self.set_error(PipelineError::StagePanicked {
            stage: self.stages[i].name.clone(),
            message,
        });
        self.cancel_up_to(i + 1);
    }

    /// Records the pipeline's error (the first one wins).
    pub(crate) fn set_error(&self, e: PipelineError) {
        let mut slot = lock(&self.error);
        if slot.error.is_none() {
            slot.error = Some(e);
        }
    }

    /// The error, once (for the consumer's receive).
    pub(crate) fn take_error_once(&self) -> Option<PipelineError> {
        let mut slot = lock(&self.error);
        if slot.reported {
            return None;
        }
        slot.reported = slot.error.is_some();
        slot.error.clone()
    }

    pub(crate) fn error(&self) -> Option<PipelineError> {
        lock(&self.error).error.clone()
    }

    /// Cancels the tasks at positions `0..=position`.
    pub(crate) fn cancel_up_to(&self, position: usize) {
        let tasks: Vec<Arc<Task>> = lock(&self.tasks)
            .iter()
            .filter(|(p, _)| *p <= position)
            .map(|(_, t)| t.clone())
            .collect();
        for t in tasks {
            t.cancel();
        }
    }

    /// Forgets the tasks (breaks the task → future → shared cycle of tasks
    /// that never ran to the end; called once every task is done).
    pub(crate) fn clear_tasks(&self) {
        let tasks = core::mem::take(&mut *lock(&self.tasks));
        drop(tasks);
    }

    pub(crate) fn snapshot(&self, finished: bool) -> PipelineStats {
        PipelineStats::collect(&self.stages, &self.queues, self.started.elapsed(), finished)
    }
}
