//! Starting an exchange: the configuration, the worker threads, and the
//! guards that join them.

use core::fmt;
use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::thread::JoinHandle;

use super::error::{Error, WorkerError};
use super::placement;
use super::registry::Registry;
use super::worker::Worker;

/// How many workers, and where they run.
///
/// `#[non_exhaustive]`: a mode across processes (a cluster) is planned.
///
/// # Examples
///
/// ```
/// use evlatch_std::exchange::Config;
/// assert_eq!(Config::Thread.workers(), 1);
/// assert_eq!(Config::Process(4).workers(), 4);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Config {
    /// One worker, on its own thread.
    Thread,
    /// `n` workers in this process, one thread each.
    Process(usize),
}

impl Config {
    /// The number of workers this configuration starts.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::exchange::Config;
    /// assert_eq!(Config::Process(0).workers(), 0);
    /// ```
    pub fn workers(&self) -> usize {
        match *self {
            Config::Thread => 1,
            Config::Process(n) => n,
        }
    }
}

/// Starts the workers of `config`, each running `f` with its [`Worker`] on
/// its own thread, and returns their guards.
///
/// A worker that panics is caught: [`WorkerGuards::join`] reports it as
/// [`WorkerError::Panicked`] with its message, its endpoints are dropped
/// while it unwinds and the channels it never allocated count as dropped,
/// so its peers see it disconnect instead of waiting for it.
///
/// On Linux, when the workers outnumber the cores, each worker thread
/// starts on the cores in turn (worker `i` on the `i mod n`-th of the `n`
/// cores the calling thread may use) and then gets the caller's CPU
/// affinity back unchanged: a starting place, not a pin. Threads spawned
/// back to back otherwise often start unevenly (three of four on one of
/// two cores), and oversubscribed workers, which yield to each other
/// instead of sleeping, keep the scheduler from evening them out for a
/// long while. The workers stay within the cores the caller may use
/// (`taskset`, cgroups).
///
/// # Errors
///
/// [`Error::NoWorkers`] for zero workers, [`Error::Spawn`] if a thread
/// could not be started (the workers already started are told that the
/// missing ones exited, and joined, before it returns).
///
/// # Examples
///
/// ```
/// use evlatch_std::exchange::{initialize, Config};
///
/// let guards = initialize(Config::Process(2), |w| w.index() * 10).unwrap();
/// assert_eq!(guards.join(), [Ok(0), Ok(10)]);
/// ```
pub fn initialize<R, F>(config: Config, f: F) -> Result<WorkerGuards<R>, Error>
where
    R: Send + 'static,
    F: Fn(Worker) -> R + Send + Sync + 'static,
{
    let peers = config.workers();
    if peers == 0 {
        return Err(Error::NoWorkers);
    }
    let registry = Arc::new(Registry::new(peers));
    let f = Arc::new(f);
    let mut handles = Vec::with_capacity(peers);
    for index in 0..peers {
        let registry2 = registry.clone();
        let f = f.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("evlatch-exchange-{index}"))
            .spawn(move || run_worker(index, index, peers, registry2, &*f));
        match spawned {
            Ok(h) => handles.push(h),
            Err(e) => {
                for missing in index..peers {
                    registry.depart(missing);
                }
                drop(WorkerGuards { handles });
                return Err(Error::Spawn(e.to_string()));
            }
        }
    }
    Ok(WorkerGuards { handles })
}

/// Runs worker `index` of `peers` on this (new) thread: first, if workers
/// outnumber cores, it moves to the core of `seat`, its place among this
/// process's workers (see [`placement`]); then it runs `f` and departs,
/// however `f` ends.
fn run_worker<R>(
    index: usize,
    seat: usize,
    peers: usize,
    registry: Arc<Registry>,
    f: &(dyn Fn(Worker) -> R + Send + Sync),
) -> Result<R, WorkerError> {
    if registry.shares_cores() {
        placement::start_on_own_core(seat);
    }
    let worker = Worker::new(index, peers, registry.clone());
    let result = catch_unwind(AssertUnwindSafe(|| f(worker)));
    // The worker is gone (dropped in `f` or while unwinding); this makes
    // sure even if it was leaked.
    registry.depart(index);
    result.map_err(|payload| WorkerError::Panicked {
        index,
        message: panic_message(&*payload),
    })
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic whose payload is not a string".to_owned()
    }
}

/// The running workers of an exchange, from [`initialize`]. Dropping the
/// guards joins the workers too (discarding their results).
///
/// # Examples
///
/// ```
/// use evlatch_std::exchange::{initialize, Config};
/// let guards = initialize(Config::Process(2), |w| w.index()).unwrap();
/// assert_eq!(guards.workers(), 2);
/// drop(guards); // joins
/// ```
#[must_use = "dropping the guards joins the workers at once; call `join` for their results"]
pub struct WorkerGuards<R> {
    handles: Vec<JoinHandle<Result<R, WorkerError>>>,
}

impl<R> WorkerGuards<R> {
    /// How many workers there are.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::exchange::{initialize, Config};
    /// assert_eq!(initialize(Config::Thread, |_| ()).unwrap().workers(), 1);
    /// ```
    pub fn workers(&self) -> usize {
        self.handles.len()
    }

    /// Waits for every worker and returns their results, in worker order:
    /// `Err(WorkerError::Panicked { .. })` for a worker that panicked.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::exchange::{initialize, Config};
    /// let r = initialize(Config::Process(2), |w| {
    ///     if w.index() == 1 {
    ///         panic!("worker one fails");
    ///     }
    ///     7
    /// })
    /// .unwrap()
    /// .join();
    /// assert_eq!(r[0], Ok(7));
    /// assert_eq!(r[1].as_ref().unwrap_err().to_string(), "worker 1 panicked: worker one fails");
    /// ```
    pub fn join(mut self) -> Vec<Result<R, WorkerError>> {
        self.join_all()
    }

    fn join_all(&mut self) -> Vec<Result<R, WorkerError>> {
        self.handles
            .drain(..)
            .enumerate()
            .map(|(index, h)| {
                h.join().unwrap_or_else(|payload| {
                    Err(WorkerError::Panicked {
                        index,
                        message: panic_message(&*payload),
                    })
                })
            })
            .collect()
    }
}

impl<R> Drop for WorkerGuards<R> {
    fn drop(&mut self) {
        drop(self.join_all());
    }
}

impl<R> fmt::Debug for WorkerGuards<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkerGuards")
            .field("workers", &self.handles.len())
            .finish()
    }
}

/// The seats of an exchange whose workers are not all in this process (the
/// cluster mode of `crate::zenoh::exchange`): one registry for every
/// worker of the cluster, workers started for this process's seats only,
/// and worker handles for the other seats, which the cluster's network
/// side holds (it sends and receives on behalf of the remote workers).
#[cfg(all(feature = "zenoh", not(evlatch_loom)))]
pub(crate) struct Seats {
    registry: Arc<Registry>,
    peers: usize,
}

#[cfg(all(feature = "zenoh", not(evlatch_loom)))]
impl Seats {
    /// A registry for `peers` workers.
    pub(crate) fn new(peers: usize) -> Self {
        Self {
            registry: Arc::new(Registry::new(peers)),
            peers,
        }
    }

    /// The handle of seat `index`, on the calling thread (it stays there).
    pub(crate) fn worker(&self, index: usize) -> Worker {
        Worker::new(index, self.peers, self.registry.clone())
    }

    /// Starts the workers of seats `local`, as [`initialize`] starts all.
    pub(crate) fn start<R, F>(
        &self,
        local: core::ops::Range<usize>,
        f: F,
    ) -> Result<WorkerGuards<R>, Error>
    where
        R: Send + 'static,
        F: Fn(Worker) -> R + Send + Sync + 'static,
    {
        let f = Arc::new(f);
        let mut handles = Vec::with_capacity(local.len());
        for (seat, index) in local.clone().enumerate() {
            let registry = self.registry.clone();
            let f = f.clone();
            let peers = self.peers;
            let spawned = std::thread::Builder::new()
                .name(format!("evlatch-exchange-{index}"))
                .spawn(move || run_worker(index, seat, peers, registry, &*f));
            match spawned {
                Ok(h) => handles.push(h),
                Err(e) => {
                    for missing in index..local.end {
                        self.registry.depart(missing);
                    }
                    drop(WorkerGuards { handles });
                    return Err(Error::Spawn(e.to_string()));
                }
            }
        }
        Ok(WorkerGuards { handles })
    }
}
