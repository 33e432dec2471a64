//! Starting a cluster: [`initialize`], the [`ClusterWorker`] each worker
//! gets, and the [`ClusterGuards`] that join them.

use core::fmt;
use core::time::Duration;
use std::collections::HashSet;
use std::thread::JoinHandle;

use ::zenoh::liveliness::LivelinessToken;
use ::zenoh::pubsub::Subscriber;
use ::zenoh::{Session, Wait};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::config::ClusterConfig;
use super::error::{ClusterError, Fault};
use super::frame;
use super::pump::{make_port, Control, Pump};
use super::sender::ClusterSender;
use super::shared::Shared;
use super::stats::ExchangeStats;
use crate::exchange::Seats;
use crate::exchange::{
    Error, Receiver, WaitAsync, Worker, WorkerError, WorkerGuards, DEFAULT_CAPACITY,
};
use crate::sync::{lock, Arc};

/// How long a departing worker waits for each other process's subscriber
/// (as a sender's END does).
const DEPART_BOUND: Duration = Duration::from_secs(10);

/// Starts this process's workers of the cluster `config` over the zenoh
/// `session`, each running `f` with its [`ClusterWorker`] on its own
/// thread, and returns their guards. Every process of the cluster calls it
/// with its own process index (and the same job, process count and workers
/// per process); a worker never waits for the other processes to start:
/// what it sends to a process that is not there yet waits in zenoh's
/// hands or for credit, as the pair's bound allows.
///
/// # Errors
///
/// [`ClusterError::Zenoh`] if a subscriber or the liveliness token cannot
/// be declared, [`ClusterError::Spawn`] / [`ClusterError::Exchange`] if a
/// thread cannot start.
///
/// # Examples
///
/// ```
/// use evlatch_std::zenoh::{self as ez, engine::Wait};
/// use evlatch_std::zenoh::exchange::{initialize, ClusterConfig};
///
/// // One process of two workers, on a zenoh peer that talks to no one.
/// let session = ez::engine::open(ez::peer_config(&[], &[])?).wait()?;
/// let config = ClusterConfig::new("doc", 0, 1, 2)?;
/// let guards = initialize(&session, config, |worker| worker.index() * 10)?;
/// assert_eq!(guards.join(), [Ok(0), Ok(10)]);
/// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
/// ```
pub fn initialize<R, F>(
    session: &Session,
    config: ClusterConfig,
    f: F,
) -> Result<ClusterGuards<R>, ClusterError>
where
    R: Send + 'static,
    F: Fn(ClusterWorker) -> R + Send + Sync + 'static,
{
    let me = config.process();
    let shared = Arc::new(Shared::new(config.clone(), session.clone()));
    let zenoh_err = |what| move |source| ClusterError::Zenoh { what, source };
    let s = shared.clone();
    let subscriber = session
        .declare_subscriber(shared.keys.inbox(me))
        .callback(move |sample| s.receive(&sample))
        .wait()
        .map_err(zenoh_err("declare the exchange's subscriber"))?;
    let s = shared.clone();
    let alive = session
        .liveliness()
        .declare_subscriber(shared.keys.alive_all())
        .history(true)
        .callback(move |sample| s.liveliness(&sample))
        .wait()
        .map_err(zenoh_err("declare the liveliness subscriber"))?;
    let token = session
        .liveliness()
        .declare_token(shared.keys.alive(me))
        .wait()
        .map_err(zenoh_err("declare the liveliness token"))?;
    let seats = Arc::new(Seats::new(config.workers()));
    let (s, pump_seats) = (shared.clone(), seats.clone());
    let pump = std::thread::Builder::new()
        .name(format!("evlatch-cluster-{me}"))
        .spawn(move || {
            let remote = (0..s.config.workers())
                .map(|i| s.is_remote(i).then(|| pump_seats.worker(i)))
                .collect();
            Pump::new(s, remote).run();
        })
        .map_err(ClusterError::Spawn)?;
    let _ = shared.pump.set(pump.thread().clone());
    let mut guards = ClusterGuards {
        workers: None,
        shared: shared.clone(),
        pump: Some(pump),
        subscribers: vec![subscriber, alive],
        token: Some(token),
    };
    let s = shared.clone();
    let workers = seats
        .start(config.local(), move |worker| {
            f(ClusterWorker {
                inner: worker,
                shared: s.clone(),
                allocated: HashSet::new(),
            })
        })
        .map_err(ClusterError::Exchange)?;
    guards.workers = Some(workers);
    Ok(guards)
}

/// One worker of a cluster, handed to the closure of [`initialize`] on the
/// worker's own thread. Its methods are those of the in-process
/// [`Worker`](crate::exchange::Worker), with global indices; channels
/// carry records that serde can encode ([`allocate`](Self::allocate)).
///
/// # Examples
///
/// ```
/// # use evlatch_std::zenoh::{self as ez, engine::Wait};
/// # use evlatch_std::zenoh::exchange::{initialize, ClusterConfig};
/// # let session = ez::engine::open(ez::peer_config(&[], &[])?).wait()?;
/// // One process of two workers: worker `i` sends `i` to every worker.
/// let config = ClusterConfig::new("doc", 0, 1, 2)?;
/// let guards = initialize(&session, config, |mut worker| {
///     assert_eq!((worker.config().process(), worker.peers()), (0, 2));
///     let (mut senders, mut receiver) = worker.allocate::<usize>(0).unwrap();
///     for sender in &mut senders {
///         sender.send(worker.index()).unwrap();
///     }
///     drop(senders);
///     let mut sum = 0;
///     while !worker.wait(None).is_empty() {
///         while let Ok(record) = receiver.try_recv() {
///             sum += record;
///         }
///     }
///     assert!(worker.faults().is_empty());
///     sum
/// })?;
/// assert_eq!(guards.join(), [Ok(1), Ok(1)]);
/// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
/// ```
pub struct ClusterWorker {
    inner: Worker,
    shared: Arc<Shared>,
    allocated: HashSet<usize>,
}

impl ClusterWorker {
    /// This worker's global index, `0 .. peers()`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use evlatch_std::zenoh::{self as ez, engine::Wait};
    /// # use evlatch_std::zenoh::exchange::{initialize, ClusterConfig};
    /// # let session = ez::engine::open(ez::peer_config(&[], &[])?).wait()?;
    /// let guards = initialize(&session, ClusterConfig::new("doc", 0, 1, 2)?, |w| w.index())?;
    /// assert_eq!(guards.join(), [Ok(0), Ok(1)]);
    /// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    /// ```
    pub fn index(&self) -> usize {
        self.inner.index()
    }

    /// The number of workers in the whole cluster.
    ///
    /// # Examples
    ///
    /// ```
    /// # use evlatch_std::zenoh::{self as ez, engine::Wait};
    /// # use evlatch_std::zenoh::exchange::{initialize, ClusterConfig};
    /// # let session = ez::engine::open(ez::peer_config(&[], &[])?).wait()?;
    /// let guards = initialize(&session, ClusterConfig::new("doc", 0, 1, 3)?, |w| w.peers())?;
    /// assert_eq!(guards.join(), [Ok(3), Ok(3), Ok(3)]);
    /// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    /// ```
    pub fn peers(&self) -> usize {
        self.inner.peers()
    }

    /// The cluster's configuration (this process's index, …).
    ///
    /// # Examples
    ///
    /// ```
    /// # use evlatch_std::zenoh::{self as ez, engine::Wait};
    /// # use evlatch_std::zenoh::exchange::{initialize, ClusterConfig};
    /// # let session = ez::engine::open(ez::peer_config(&[], &[])?).wait()?;
    /// let config = ClusterConfig::new("doc", 0, 1, 1)?;
    /// let guards = initialize(&session, config, |w| w.config().job().to_owned())?;
    /// assert_eq!(guards.join(), [Ok("doc".to_owned())]);
    /// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    /// ```
    pub fn config(&self) -> &ClusterConfig {
        &self.shared.config
    }

    /// Allocates channel `id` carrying `T` with the default capacity
    /// ([`DEFAULT_CAPACITY`](crate::exchange::DEFAULT_CAPACITY) per pair):
    /// one [`ClusterSender`] per worker of the cluster (sender `i` goes to
    /// worker `i`) and this worker's [`Receiver`], which receives local
    /// and remote records alike. Never waits for a peer.
    ///
    /// Every worker must allocate the same ids with the same `T` and
    /// capacity. In this process a mismatch is an [`Error`] at once, as in
    /// [`Worker::allocate`](crate::exchange::Worker::allocate); across
    /// processes each remote pair checks it (the type's name and size, and
    /// the capacity) with its first frame, and a mismatch is a
    /// [`Fault::Mismatch`] that disconnects the pair on both sides.
    ///
    /// # Errors
    ///
    /// As [`Worker::allocate`](crate::exchange::Worker::allocate).
    ///
    /// # Examples
    ///
    /// ```
    /// # use evlatch_std::zenoh::{self as ez, engine::Wait};
    /// # use evlatch_std::zenoh::exchange::{initialize, ClusterConfig};
    /// # let session = ez::engine::open(ez::peer_config(&[], &[])?).wait()?;
    /// let guards = initialize(&session, ClusterConfig::new("doc", 0, 1, 2)?, |mut w| {
    ///     let (senders, _receiver) = w.allocate::<String>(0).unwrap();
    ///     // One sender per worker of the cluster; here both are in this process.
    ///     assert_eq!(senders.len(), 2);
    ///     assert!(senders.iter().all(|s| !s.is_remote()));
    ///     assert!(w.allocate::<String>(0).is_err()); // once per id
    /// })?;
    /// assert!(guards.join().iter().all(Result::is_ok));
    /// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    /// ```
    pub fn allocate<T>(&mut self, id: usize) -> Result<(Vec<ClusterSender<T>>, Receiver<T>), Error>
    where
        T: Serialize + DeserializeOwned + Send + 'static,
    {
        self.allocate_bounded(id, DEFAULT_CAPACITY)
    }

    /// [`allocate`](Self::allocate) with `capacity` records in flight per
    /// pair (a remote pair: `capacity` records not yet taken by the
    /// receiving process, plus up to `capacity` in its ring).
    ///
    /// # Errors
    ///
    /// As [`Worker::allocate_bounded`](crate::exchange::Worker::allocate_bounded).
    ///
    /// # Examples
    ///
    /// ```
    /// # use evlatch_std::zenoh::{self as ez, engine::Wait};
    /// # use evlatch_std::zenoh::exchange::{initialize, ClusterConfig};
    /// # let session = ez::engine::open(ez::peer_config(&[], &[])?).wait()?;
    /// let guards = initialize(&session, ClusterConfig::new("doc", 0, 1, 1)?, |mut w| {
    ///     let (senders, _receiver) = w.allocate_bounded::<u32>(1, 8).unwrap();
    ///     senders[0].capacity()
    /// })?;
    /// assert_eq!(guards.join(), [Ok(8)]);
    /// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    /// ```
    pub fn allocate_bounded<T>(
        &mut self,
        id: usize,
        capacity: usize,
    ) -> Result<(Vec<ClusterSender<T>>, Receiver<T>), Error>
    where
        T: Serialize + DeserializeOwned + Send + 'static,
    {
        let (txs, rx) = self.inner.allocate_bounded::<T>(id, capacity)?;
        self.allocated.insert(id);
        let type_name = core::any::type_name::<T>();
        let local = self.shared.config.local();
        self.shared.control(Control::Allocate {
            id,
            type_hash: frame::type_hash(type_name, core::mem::size_of::<T>()),
            type_name,
            capacity,
            make: Box::new(move |seats| make_port::<T>(seats, id, capacity, local)),
        });
        let me = self.index();
        let senders = txs
            .into_iter()
            .map(|tx| {
                let to = tx.target();
                if self.shared.is_local(to) {
                    ClusterSender::local(tx)
                } else {
                    drop(tx);
                    ClusterSender::remote(self.shared.clone(), id, me, to, capacity)
                }
            })
            .collect();
        Ok((senders, rx))
    }

    /// The ids with news now, as [`Worker::events`](crate::exchange::Worker::events).
    ///
    /// # Examples
    ///
    /// ```
    /// # use evlatch_std::zenoh::{self as ez, engine::Wait};
    /// # use evlatch_std::zenoh::exchange::{initialize, ClusterConfig};
    /// # let session = ez::engine::open(ez::peer_config(&[], &[])?).wait()?;
    /// let guards = initialize(&session, ClusterConfig::new("doc", 0, 1, 1)?, |mut w| {
    ///     let (mut senders, _receiver) = w.allocate::<u8>(4).unwrap();
    ///     assert!(w.events().is_empty());
    ///     senders[0].send(1).unwrap();
    ///     w.events().to_vec()
    /// })?;
    /// assert_eq!(guards.join(), [Ok(vec![4])]);
    /// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    /// ```
    pub fn events(&mut self) -> &[usize] {
        self.inner.events()
    }

    /// Parks until a channel has news, local or remote, as
    /// [`Worker::wait`](crate::exchange::Worker::wait).
    ///
    /// # Examples
    ///
    /// ```
    /// # use evlatch_std::zenoh::{self as ez, engine::Wait};
    /// # use evlatch_std::zenoh::exchange::{initialize, ClusterConfig};
    /// # let session = ez::engine::open(ez::peer_config(&[], &[])?).wait()?;
    /// use std::time::Duration;
    /// let guards = initialize(&session, ClusterConfig::new("doc", 0, 1, 2)?, |mut w| {
    ///     let (mut senders, mut receiver) = w.allocate::<u8>(0).unwrap();
    ///     let peer = 1 - w.index();
    ///     senders[peer].send(1).unwrap();
    ///     assert_eq!(w.wait(None), [0]);
    ///     assert_eq!(receiver.try_recv(), Ok(1));
    ///     assert!(w.wait(Some(Duration::from_millis(1))).is_empty());
    /// })?;
    /// assert!(guards.join().iter().all(Result::is_ok));
    /// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    /// ```
    pub fn wait(&mut self, timeout: Option<Duration>) -> &[usize] {
        self.inner.wait(timeout)
    }

    /// The async form of [`wait`](Self::wait), as
    /// [`Worker::wait_async`](crate::exchange::Worker::wait_async).
    ///
    /// # Examples
    ///
    /// ```
    /// # use evlatch_std::zenoh::{self as ez, engine::Wait};
    /// # use evlatch_std::zenoh::exchange::{initialize, ClusterConfig};
    /// # let session = ez::engine::open(ez::peer_config(&[], &[])?).wait()?;
    /// let guards = initialize(&session, ClusterConfig::new("doc", 0, 1, 1)?, |mut w| {
    ///     let (mut senders, _receiver) = w.allocate::<u8>(3).unwrap();
    ///     senders[0].send(1).unwrap();
    ///     let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    ///     rt.block_on(w.wait_async()).to_vec()
    /// })?;
    /// assert_eq!(guards.join(), [Ok(vec![3])]);
    /// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    /// ```
    pub fn wait_async(&mut self) -> WaitAsync<'_> {
        self.inner.wait_async()
    }

    /// The faults this process's cluster has seen so far.
    ///
    /// # Examples
    ///
    /// ```
    /// # use evlatch_std::zenoh::{self as ez, engine::Wait};
    /// # use evlatch_std::zenoh::exchange::{initialize, ClusterConfig};
    /// # let session = ez::engine::open(ez::peer_config(&[], &[])?).wait()?;
    /// // A healthy cluster has nothing to report.
    /// let guards = initialize(&session, ClusterConfig::new("doc", 0, 1, 1)?, |w| w.faults())?;
    /// assert_eq!(guards.join(), [Ok(vec![])]);
    /// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    /// ```
    pub fn faults(&self) -> Vec<Fault> {
        self.shared.faults()
    }
}

impl Drop for ClusterWorker {
    fn drop(&mut self) {
        let ids: Vec<u64> = self.allocated.iter().map(|&i| i as u64).collect();
        let mut buf = Vec::new();
        if frame::encode(&mut buf, frame::DEPART, &frame::Depart { ids }).is_ok() {
            for p in
                (0..self.shared.config.processes()).filter(|&p| p != self.shared.config.process())
            {
                // Like a sender's END, a DEPART waits (bounded) for the
                // other process's subscriber, so that it is not dropped.
                let key = self.shared.keys.depart(p, self.index());
                self.shared
                    .put_when_matched(p, key, buf.clone(), DEPART_BOUND);
            }
        }
        self.shared.control(Control::LocalDeparted {
            worker: self.index(),
            ids: core::mem::take(&mut self.allocated),
        });
    }
}

impl fmt::Debug for ClusterWorker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClusterWorker")
            .field("index", &self.index())
            .field("peers", &self.peers())
            .finish_non_exhaustive()
    }
}

/// This process's running workers of a cluster, from [`initialize`].
/// Joining (or dropping) them also stops the process's network side: its
/// liveliness token goes, so the other processes see its remaining pairs
/// end.
///
/// # Examples
///
/// ```
/// # use evlatch_std::zenoh::{self as ez, engine::Wait};
/// # use evlatch_std::zenoh::exchange::{initialize, ClusterConfig};
/// # let session = ez::engine::open(ez::peer_config(&[], &[])?).wait()?;
/// let guards = initialize(&session, ClusterConfig::new("doc", 0, 1, 2)?, |mut w| {
///     let (mut senders, _receiver) = w.allocate::<u64>(0).unwrap();
///     senders[w.index()].send(1).unwrap(); // to itself
///     w.index() * 10
/// })?;
/// // All pairs are local here: nothing went over zenoh.
/// assert_eq!(guards.stats().sent, 0);
/// assert!(guards.faults().is_empty());
/// assert_eq!(guards.join(), [Ok(0), Ok(10)]);
/// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
/// ```
#[must_use = "dropping the guards joins the workers at once; call `join` for their results"]
pub struct ClusterGuards<R> {
    workers: Option<WorkerGuards<R>>,
    shared: Arc<Shared>,
    pump: Option<JoinHandle<()>>,
    subscribers: Vec<Subscriber<()>>,
    token: Option<LivelinessToken>,
}

impl<R> ClusterGuards<R> {
    /// Waits for this process's workers and returns their results in
    /// worker order, as [`WorkerGuards::join`](crate::exchange::WorkerGuards::join).
    ///
    /// # Examples
    ///
    /// ```
    /// # use evlatch_std::zenoh::{self as ez, engine::Wait};
    /// # use evlatch_std::zenoh::exchange::{initialize, ClusterConfig};
    /// # let session = ez::engine::open(ez::peer_config(&[], &[])?).wait()?;
    /// let guards = initialize(&session, ClusterConfig::new("doc", 0, 1, 2)?, |w| {
    ///     assert_eq!(w.index(), 0, "worker 1 panics");
    /// })?;
    /// let results = guards.join();
    /// assert!(results[0].is_ok());
    /// assert!(results[1].is_err());
    /// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    /// ```
    pub fn join(mut self) -> Vec<Result<R, WorkerError>> {
        let results = self
            .workers
            .take()
            .map(WorkerGuards::join)
            .unwrap_or_default();
        self.shutdown();
        results
    }

    /// The faults seen so far (malformed payloads, mismatches, frames out
    /// of order, lost peers, …).
    ///
    /// # Examples
    ///
    /// ```
    /// # use evlatch_std::zenoh::{self as ez, engine::Wait};
    /// # use evlatch_std::zenoh::exchange::{initialize, ClusterConfig};
    /// # let session = ez::engine::open(ez::peer_config(&[], &[])?).wait()?;
    /// let guards = initialize(&session, ClusterConfig::new("doc", 0, 1, 1)?, |_| ())?;
    /// assert_eq!(guards.faults(), []);
    /// # let _ = guards.join();
    /// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    /// ```
    pub fn faults(&self) -> Vec<Fault> {
        self.shared.faults()
    }

    /// This process's counters.
    ///
    /// # Examples
    ///
    /// ```
    /// # use evlatch_std::zenoh::{self as ez, engine::Wait};
    /// # use evlatch_std::zenoh::exchange::{initialize, ClusterConfig};
    /// # let session = ez::engine::open(ez::peer_config(&[], &[])?).wait()?;
    /// let guards = initialize(&session, ClusterConfig::new("doc", 0, 1, 1)?, |_| ())?;
    /// let stats = guards.stats();
    /// assert_eq!((stats.sent, stats.received, stats.malformed), (0, 0, 0));
    /// # let _ = guards.join();
    /// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    /// ```
    pub fn stats(&self) -> ExchangeStats {
        self.shared.counters.snapshot()
    }

    fn shutdown(&mut self) {
        if let Some(pump) = self.pump.take() {
            lock(&self.shared.inbox).stop = true;
            pump.thread().unpark();
            let _ = pump.join();
        }
        for s in self.subscribers.drain(..) {
            let _ = s.undeclare().wait();
        }
        if let Some(t) = self.token.take() {
            let _ = t.undeclare().wait();
        }
    }
}

impl<R> Drop for ClusterGuards<R> {
    fn drop(&mut self) {
        drop(self.workers.take());
        self.shutdown();
    }
}

impl<R> fmt::Debug for ClusterGuards<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClusterGuards")
            .field("process", &self.shared.config.process())
            .finish_non_exhaustive()
    }
}
