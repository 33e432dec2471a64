//! Where a cluster's workers are.

use core::ops::Range;
use core::time::Duration;

use super::error::ClusterError;

/// A cluster: `processes` processes with `workers_per_process` workers
/// each, this being process `process`. Worker `i` of process `p` has the
/// global index `p * workers_per_process + i`. Every process of a job uses
/// the same job name, process count and workers per process.
///
/// # Examples
///
/// ```
/// use evlatch_std::zenoh::exchange::ClusterConfig;
/// let config = ClusterConfig::new("train", 1, 2, 2)?;
/// assert_eq!(config.workers(), 4);
/// assert_eq!(config.local(), 2..4);
/// assert_eq!(config.process_of(1), 0);
/// # Ok::<(), evlatch_std::zenoh::exchange::ClusterError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterConfig {
    job: String,
    process: usize,
    processes: usize,
    workers_per_process: usize,
    lost_grace: Duration,
}

impl ClusterConfig {
    /// How long, by default, frames from a process whose liveliness token
    /// was lost are still taken, before its senders count as dropped
    /// (frames it sent just before it closed may arrive after the loss).
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::zenoh::exchange::ClusterConfig;
    /// assert_eq!(ClusterConfig::DEFAULT_LOST_GRACE.as_millis(), 200);
    /// ```
    pub const DEFAULT_LOST_GRACE: Duration = Duration::from_millis(200);

    /// A cluster configuration. The job name becomes one chunk of the zenoh
    /// keys (`evlatch-x/<job>/…`): jobs with different names on one zenoh
    /// network do not see each other.
    ///
    /// # Errors
    ///
    /// [`ClusterError::InvalidJob`], [`ClusterError::NoWorkers`],
    /// [`ClusterError::NoSuchProcess`].
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::zenoh::exchange::{ClusterConfig, ClusterError};
    /// assert!(matches!(ClusterConfig::new("a/b", 0, 1, 1), Err(ClusterError::InvalidJob(_))));
    /// assert!(matches!(ClusterConfig::new("a", 0, 1, 0), Err(ClusterError::NoWorkers)));
    /// ```
    pub fn new(
        job: &str,
        process: usize,
        processes: usize,
        workers_per_process: usize,
    ) -> Result<Self, ClusterError> {
        let bad = |c: char| matches!(c, '/' | '*' | '$' | '?' | '#') || c.is_whitespace();
        if job.is_empty() || job.chars().any(bad) {
            return Err(ClusterError::InvalidJob(job.to_owned()));
        }
        if processes == 0 || workers_per_process == 0 {
            return Err(ClusterError::NoWorkers);
        }
        if process >= processes {
            return Err(ClusterError::NoSuchProcess { process, processes });
        }
        Ok(Self {
            job: job.to_owned(),
            process,
            processes,
            workers_per_process,
            lost_grace: Self::DEFAULT_LOST_GRACE,
        })
    }

    /// Sets how long frames of a lost process are still taken
    /// ([`DEFAULT_LOST_GRACE`](Self::DEFAULT_LOST_GRACE)).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use evlatch_std::zenoh::exchange::ClusterConfig;
    /// let c = ClusterConfig::new("j", 0, 2, 1)?.lost_grace(Duration::from_millis(50));
    /// assert_eq!(c.grace(), Duration::from_millis(50));
    /// # Ok::<(), evlatch_std::zenoh::exchange::ClusterError>(())
    /// ```
    #[must_use]
    pub fn lost_grace(mut self, grace: Duration) -> Self {
        self.lost_grace = grace;
        self
    }

    /// The grace period set by [`lost_grace`](Self::lost_grace).
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::zenoh::exchange::ClusterConfig;
    /// let c = ClusterConfig::new("j", 0, 1, 1)?;
    /// assert_eq!(c.grace(), ClusterConfig::DEFAULT_LOST_GRACE);
    /// # Ok::<(), evlatch_std::zenoh::exchange::ClusterError>(())
    /// ```
    pub fn grace(&self) -> Duration {
        self.lost_grace
    }

    /// The job name.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::zenoh::exchange::ClusterConfig;
    /// assert_eq!(ClusterConfig::new("j", 0, 1, 1)?.job(), "j");
    /// # Ok::<(), evlatch_std::zenoh::exchange::ClusterError>(())
    /// ```
    pub fn job(&self) -> &str {
        &self.job
    }

    /// This process's index.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::zenoh::exchange::ClusterConfig;
    /// assert_eq!(ClusterConfig::new("j", 1, 2, 1)?.process(), 1);
    /// # Ok::<(), evlatch_std::zenoh::exchange::ClusterError>(())
    /// ```
    pub fn process(&self) -> usize {
        self.process
    }

    /// The number of processes.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::zenoh::exchange::ClusterConfig;
    /// assert_eq!(ClusterConfig::new("j", 1, 2, 1)?.processes(), 2);
    /// # Ok::<(), evlatch_std::zenoh::exchange::ClusterError>(())
    /// ```
    pub fn processes(&self) -> usize {
        self.processes
    }

    /// Workers in each process.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::zenoh::exchange::ClusterConfig;
    /// assert_eq!(ClusterConfig::new("j", 1, 2, 3)?.workers_per_process(), 3);
    /// # Ok::<(), evlatch_std::zenoh::exchange::ClusterError>(())
    /// ```
    pub fn workers_per_process(&self) -> usize {
        self.workers_per_process
    }

    /// Workers in the whole cluster.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::zenoh::exchange::ClusterConfig;
    /// assert_eq!(ClusterConfig::new("j", 0, 3, 2)?.workers(), 6);
    /// # Ok::<(), evlatch_std::zenoh::exchange::ClusterError>(())
    /// ```
    pub fn workers(&self) -> usize {
        self.processes * self.workers_per_process
    }

    /// The global indices of this process's workers.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::zenoh::exchange::ClusterConfig;
    /// assert_eq!(ClusterConfig::new("j", 2, 3, 2)?.local(), 4..6);
    /// # Ok::<(), evlatch_std::zenoh::exchange::ClusterError>(())
    /// ```
    pub fn local(&self) -> Range<usize> {
        self.process * self.workers_per_process..(self.process + 1) * self.workers_per_process
    }

    /// The process of the worker with global index `worker`.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::zenoh::exchange::ClusterConfig;
    /// assert_eq!(ClusterConfig::new("j", 0, 3, 2)?.process_of(5), 2);
    /// # Ok::<(), evlatch_std::zenoh::exchange::ClusterError>(())
    /// ```
    pub fn process_of(&self, worker: usize) -> usize {
        worker / self.workers_per_process
    }
}
