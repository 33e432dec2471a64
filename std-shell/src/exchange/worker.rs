//! A worker's handle on the exchange: its index, allocation of channels,
//! and waiting for any of its channels to have news.

use core::fmt;
use core::future::Future;
use core::marker::PhantomData;
use core::pin::Pin;
use core::task::{Context, Poll};
use core::time::Duration;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use super::channel::{Broadcaster, Receiver, Sender};
use super::doorbell::deadline_after;
use super::error::Error;
use super::registry::Registry;
use super::ring::{Column, Look};
use super::DEFAULT_CAPACITY;

/// One worker of an exchange, handed to the closure of
/// [`initialize`](super::initialize) on the worker's own thread (it stays
/// there: `!Send`).
///
/// # Examples
///
/// ```
/// use evlatch_std::exchange::{initialize, Config};
///
/// let guards = initialize(Config::Process(3), |w| (w.index(), w.peers())).unwrap();
/// let mut got: Vec<_> = guards.join().into_iter().map(Result::unwrap).collect();
/// got.sort();
/// assert_eq!(got, [(0, 3), (1, 3), (2, 3)]);
/// ```
pub struct Worker {
    index: usize,
    peers: usize,
    registry: Arc<Registry>,
    /// Every id this worker allocated (or tried to): a second allocation
    /// of one is an error.
    allocated: HashSet<usize>,
    /// The channels whose receivers this worker scans for news.
    columns: Vec<Watched>,
    /// The last scan's channel ids with news (reused: no allocation per
    /// wait once it has grown).
    events: Vec<usize>,
    _not_send: PhantomData<*const ()>,
}

struct Watched {
    id: usize,
    column: Arc<dyn Column>,
    /// Its disconnection was reported once by a scan.
    reported_closed: bool,
}

impl Watched {
    /// Whether a scan would report this channel now.
    fn has_news(&self, me: usize) -> bool {
        self.column.space_freed(me)
            || match self.column.look(me) {
                Look::Data => true,
                Look::Disconnected => !self.reported_closed,
                Look::Nothing | Look::Gone => false,
            }
    }
}

impl Worker {
    pub(crate) fn new(index: usize, peers: usize, registry: Arc<Registry>) -> Self {
        // The worker's thread will wait: make its waker now, not during a
        // steady exchange (which then allocates nothing).
        super::bell::prepare_thread();
        Self {
            index,
            peers,
            registry,
            allocated: HashSet::new(),
            columns: Vec::new(),
            events: Vec::new(),
            _not_send: PhantomData,
        }
    }

    /// This worker's index, `0 .. peers()`.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::exchange::{initialize, Config};
    /// let r = initialize(Config::Thread, |w| w.index()).unwrap().join();
    /// assert_eq!(r, [Ok(0)]);
    /// ```
    pub fn index(&self) -> usize {
        self.index
    }

    /// The number of workers in the exchange.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::exchange::{initialize, Config};
    /// let r = initialize(Config::Process(2), |w| w.peers()).unwrap().join();
    /// assert_eq!(r, [Ok(2), Ok(2)]);
    /// ```
    pub fn peers(&self) -> usize {
        self.peers
    }

    /// Allocates channel `id` carrying `T`, with the default capacity
    /// ([`DEFAULT_CAPACITY`] messages per pair of workers): one [`Sender`]
    /// per worker (sender `i` goes to worker `i`) and this worker's
    /// [`Receiver`]. Never waits for the other workers.
    ///
    /// Every worker must allocate the same ids with the same `T` (and
    /// capacity). A worker that never allocates an id its peers use
    /// (because it exits or its allocation fails) counts as having dropped
    /// its senders and its receiver of it.
    ///
    /// # Errors
    ///
    /// [`Error::AlreadyAllocated`] if this worker allocated `id` before,
    /// [`Error::TypeMismatch`] / [`Error::CapacityMismatch`] if a peer
    /// allocated it with another type / capacity.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::exchange::{initialize, Config, Error};
    /// initialize(Config::Thread, |mut w| {
    ///     let (txs, _rx) = w.allocate::<u64>(0).unwrap();
    ///     assert_eq!(txs.len(), 1);
    ///     assert_eq!(w.allocate::<u64>(0).unwrap_err(), Error::AlreadyAllocated { id: 0 });
    /// })
    /// .unwrap()
    /// .join();
    /// ```
    pub fn allocate<T: Send + 'static>(
        &mut self,
        id: usize,
    ) -> Result<(Vec<Sender<T>>, Receiver<T>), Error> {
        self.allocate_bounded(id, DEFAULT_CAPACITY)
    }

    /// [`allocate`](Self::allocate) with `capacity` messages in flight per
    /// pair of workers (exactly; at least 1).
    ///
    /// # Errors
    ///
    /// As [`allocate`](Self::allocate), and [`Error::ZeroCapacity`].
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::exchange::{initialize, Config, Error};
    /// initialize(Config::Thread, |mut w| {
    ///     let (txs, _rx) = w.allocate_bounded::<u8>(1, 3).unwrap();
    ///     assert_eq!(txs[0].capacity(), 3);
    ///     assert_eq!(w.allocate_bounded::<u8>(2, 0).unwrap_err(), Error::ZeroCapacity { id: 2 });
    /// })
    /// .unwrap()
    /// .join();
    /// ```
    pub fn allocate_bounded<T: Send + 'static>(
        &mut self,
        id: usize,
        capacity: usize,
    ) -> Result<(Vec<Sender<T>>, Receiver<T>), Error> {
        if capacity == 0 {
            return Err(Error::ZeroCapacity { id });
        }
        if !self.allocated.insert(id) {
            return Err(Error::AlreadyAllocated { id });
        }
        let matrix = self.registry.claim::<T>(self.index, id, capacity)?;
        let senders = (0..self.peers)
            .map(|to| Sender::new(matrix.clone(), self.index, to))
            .collect();
        self.columns.push(Watched {
            id,
            column: matrix.clone(),
            reported_closed: false,
        });
        self.room_for_every_event();
        Ok((senders, Receiver::new(matrix, self.index)))
    }

    /// Allocates channel `id` as a broadcast: what is sent on the
    /// [`Broadcaster`] reaches every worker (this one too). The same rules
    /// as [`allocate`](Self::allocate) apply (every worker allocates `id`
    /// the same way, with `broadcast`).
    ///
    /// # Errors
    ///
    /// As [`allocate`](Self::allocate).
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::exchange::{initialize, Config};
    /// let r = initialize(Config::Process(2), |mut w| {
    ///     let (mut tx, mut rx) = w.broadcast::<usize>(0).unwrap();
    ///     tx.send(w.index()).unwrap();
    ///     drop(tx);
    ///     let mut got = Vec::new();
    ///     while let Ok(v) = rx.recv() {
    ///         got.push(v);
    ///     }
    ///     got.sort();
    ///     got
    /// })
    /// .unwrap()
    /// .join();
    /// assert!(r.into_iter().all(|g| g.unwrap() == [0, 1]));
    /// ```
    pub fn broadcast<T: Clone + Send + 'static>(
        &mut self,
        id: usize,
    ) -> Result<(Broadcaster<T>, Receiver<T>), Error> {
        let (senders, rx) = self.allocate(id)?;
        Ok((Broadcaster::new(senders), rx))
    }

    /// The ids of this worker's channels that have news now, without
    /// waiting — timely's `events`: a message to receive, (reported once)
    /// every sender gone, or room again on a channel where one of this
    /// worker's senders got [`TrySendError::Full`](super::TrySendError::Full)
    /// and has not sent since (reported until it sends, as data is until
    /// it is received). Channels whose receiver was dropped are not
    /// watched for data any more.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::exchange::{initialize, Config};
    /// initialize(Config::Thread, |mut w| {
    ///     let (mut txs, _rx) = w.allocate::<u8>(4).unwrap();
    ///     assert!(w.events().is_empty());
    ///     txs[0].send(1).unwrap();
    ///     assert_eq!(w.events(), [4]);
    /// })
    /// .unwrap()
    /// .join();
    /// ```
    pub fn events(&mut self) -> &[usize] {
        self.scan();
        &self.events
    }

    /// Parks until one of this worker's channels has news (a message,
    /// every sender gone, or room for a sender that found it full) or
    /// `timeout` passes (`None`: no limit), and returns the ids with news,
    /// as [`events`](Self::events). An idle worker uses no CPU; peers wake
    /// it only when it waits, once per wait, however many messages arrive.
    ///
    /// So a worker can drive non-blocking sends and receives from one
    /// loop: `try_send` until `Full`, receive what is there, `wait`; the
    /// receiver that frees space wakes it. (The space news is for senders
    /// used on the worker's own thread; a sender moved elsewhere waits
    /// with [`Sender::send`](super::Sender::send) or
    /// [`Sender::send_async`](super::Sender::send_async).)
    ///
    /// Returns at once, with no ids, if no channel can have news any more
    /// (none is allocated, or every one is disconnected and reported).
    /// With a timeout the list may be empty.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use evlatch_std::exchange::{initialize, Config};
    ///
    /// initialize(Config::Process(2), |mut w| {
    ///     let (mut txs, mut rx) = w.allocate::<u8>(0).unwrap();
    ///     let peer = 1 - w.index();
    ///     txs[peer].send(1).unwrap();
    ///     assert_eq!(w.wait(None), [0]);
    ///     assert_eq!(rx.try_recv(), Ok(1));
    ///     assert!(w.wait(Some(Duration::from_millis(1))).is_empty());
    /// })
    /// .unwrap()
    /// .join();
    /// ```
    pub fn wait(&mut self, timeout: Option<Duration>) -> &[usize] {
        let deadline = timeout.and_then(deadline_after);
        loop {
            self.scan();
            if !self.events.is_empty() || !self.can_have_news() {
                break;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                break;
            }
            let me = self.index;
            let columns = &self.columns;
            self.registry
                .doorbell(me)
                .wait(deadline, || columns.iter().any(|c| c.has_news(me)));
        }
        &self.events
    }

    /// The async form of [`wait`](Self::wait) without a timeout (combine it
    /// with your executor's timer for one): resolves to the ids with news.
    /// Cancel-safe: dropping the future leaves nothing behind.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::exchange::{initialize, Config};
    ///
    /// initialize(Config::Thread, |mut w| {
    ///     let (mut txs, _rx) = w.allocate::<u8>(3).unwrap();
    ///     txs[0].send(1).unwrap();
    ///     let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    ///     assert_eq!(rt.block_on(w.wait_async()), [3]);
    /// })
    /// .unwrap()
    /// .join();
    /// ```
    pub fn wait_async(&mut self) -> WaitAsync<'_> {
        WaitAsync { worker: Some(self) }
    }

    /// Fills `events` with the ids that have news; stops watching channels
    /// whose receiver is gone.
    fn scan(&mut self) {
        self.events.clear();
        let me = self.index;
        let events = &mut self.events;
        self.columns.retain_mut(|c| {
            let space = c.column.space_freed(me);
            let (news, keep) = match c.column.look(me) {
                Look::Data => (true, true),
                Look::Disconnected => (!std::mem::replace(&mut c.reported_closed, true), true),
                Look::Nothing => (false, true),
                // The receiver is gone, but a sender may still wait for
                // space: keep watching while it does.
                Look::Gone => (false, space),
            };
            if news || space {
                events.push(c.id);
            }
            keep
        });
    }

    /// Gives the event list room for an entry per watched channel, so a
    /// scan never allocates (a steady exchange allocates nothing, even when
    /// its first wait comes late).
    fn room_for_every_event(&mut self) {
        let short = self.columns.len().saturating_sub(self.events.len());
        self.events.reserve(short);
    }

    /// Whether some watched channel may still get a message or close.
    fn can_have_news(&self) -> bool {
        self.columns
            .iter()
            .any(|c| !c.reported_closed || c.column.sender_full(self.index))
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // Channels allocated from now on (and those not claimed yet) count
        // this worker's endpoints as dropped.
        self.registry.depart(self.index);
    }
}

impl fmt::Debug for Worker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Worker")
            .field("index", &self.index)
            .field("peers", &self.peers)
            .field("channels", &self.columns.len())
            .finish_non_exhaustive()
    }
}

/// The future of [`Worker::wait_async`]: resolves to the channel ids with
/// news.
///
/// # Examples
///
/// ```
/// use evlatch_std::exchange::{initialize, Config};
/// initialize(Config::Thread, |mut w| {
///     let (txs, _rx) = w.allocate::<u8>(0).unwrap();
///     drop(txs);
///     let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
///     // Every sender is gone: reported once.
///     assert_eq!(rt.block_on(w.wait_async()), [0]);
/// })
/// .unwrap()
/// .join();
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct WaitAsync<'a> {
    /// `None` once it resolved.
    worker: Option<&'a mut Worker>,
}

impl<'a> Future for WaitAsync<'a> {
    type Output = &'a [usize];

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<&'a [usize]> {
        let this = self.get_mut();
        let Some(worker) = this.worker.take() else {
            // Polled again after it resolved: nothing more to report.
            return Poll::Ready(&[]);
        };
        let me = worker.index;
        let columns = &worker.columns;
        let ready = || {
            columns.iter().any(|c| c.has_news(me))
                || !columns
                    .iter()
                    .any(|c| !c.reported_closed || c.column.sender_full(me))
        };
        if worker.registry.doorbell(me).poll_wait(cx.waker(), ready) {
            worker.scan();
            return Poll::Ready(&worker.events);
        }
        this.worker = Some(worker);
        Poll::Pending
    }
}

impl Drop for WaitAsync<'_> {
    fn drop(&mut self) {
        if let Some(w) = &self.worker {
            w.registry.doorbell(w.index).stop_waiting();
        }
    }
}

impl fmt::Debug for WaitAsync<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitAsync")
            .field("resolved", &self.worker.is_none())
            .finish()
    }
}
