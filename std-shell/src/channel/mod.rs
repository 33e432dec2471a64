//! Bounded MPMC channels on the core's stamp ring.
//!
//! - [`bounded`]: FIFO; `send` blocks while full.
//! - [`bounded_lossy`]: overwrite-oldest; `send` never blocks, displaced
//!   values are dropped and counted ([`Sender::dropped`]).
//! - [`bounded_priority`]: two levels; [`Priority::High`] is received first,
//!   and a waiting `Low` value is received after at most
//!   [`LOW_PRIORITY_EVERY`] `High` values (per the shared streak counter;
//!   with several concurrent receivers, plus one per receiver).
//!
//! Every operation comes blocking, with a timeout, non-blocking (`try_`)
//! and async (works on any executor; dropping the future cancels cleanly).
//!
//! # Storage
//!
//! The storage is the core's stamp ring ([`evlatch::HeapStampQueue`]), the
//! faster of its two rings. A channel parks threads and tasks anyway, so the
//! strict progress guarantee of [`evlatch::HeapEventQueue`] (a stalled thread
//! never blocks the others) would buy it nothing, while costing about four
//! times the atomic operations (see `benches/RESULTS.md`). What the stamp
//! ring's in-flight states mean here:
//!
//! - the channel is linearizable: `try_recv` reports `Empty` only if the
//!   channel was empty at some instant of the call, and `try_send` reports
//!   `Full` only if it was full. Where a neighbour's send or receive is in
//!   flight on the slot an operation needs, the operation waits it out
//!   (spinning briefly, then yielding its core), so a thread preempted in the
//!   middle of an operation delays its neighbours but never makes them
//!   answer wrongly;
//! - once every sender is gone no send is in flight, so receivers drain
//!   exactly what is left before they see `Disconnected`;
//! - a lossy send whose slot stays held by in-flight operations for long
//!   drops its own (newest) value instead of the oldest, and counts it.
//!
//! # Capacity
//!
//! The ring's size is a power of two: a requested capacity is rounded up to
//! the next power of two, and [`Sender::capacity`] reports the real one. 0,
//! and sizes above [`evlatch::MAX_QUEUE_CAPACITY`], are refused with
//! [`CapacityError`].
//!
//! # Closing
//!
//! When every [`Sender`] is gone, receivers drain what is left, then get
//! `Disconnected`. When every [`Receiver`] is gone, sends fail and hand the
//! value back. A send that returned `Ok` put its value in the channel: it is
//! received, or — if every receiver is gone — dropped with the channel, like
//! every value still queued then. Nothing is duplicated, and nothing sent
//! before the last sender left is missed by receivers.
//!
//! # Examples
//!
//! ```
//! use evlatch_std::channel::{bounded, RecvError};
//! let (tx, rx) = bounded(2).unwrap();
//! let t = std::thread::spawn(move || {
//!     for i in 0..5 {
//!         tx.send(i).unwrap(); // blocks while the channel holds 2
//!     }
//! });
//! let got: Vec<_> = (0..5).map(|_| rx.recv().unwrap()).collect();
//! assert_eq!(got, [0, 1, 2, 3, 4]);
//! t.join().unwrap();
//! assert_eq!(rx.recv(), Err(RecvError)); // senders gone, drained
//! ```

mod error;
mod ring;
mod wait;

use core::fmt;
use core::future::Future;
use std::time::{Duration, Instant};

pub use error::{
    CapacityError, RecvError, RecvTimeoutError, SendError, SendTimeoutError, TryRecvError,
    TrySendError,
};
pub use ring::{Priority, LOW_PRIORITY_EVERY};

use crate::notify::Notify;
use crate::sync::{Arc, AtomicUsize, Ordering};
use ring::Store;
use wait::{block_until, Retry};

struct Chan<T> {
    store: Store<T>,
    lossy: bool,
    senders: AtomicUsize,
    receivers: AtomicUsize,
    /// Receivers waiting for a value (or for the senders to leave).
    not_empty: Notify,
    /// Senders waiting for room (or for the receivers to leave).
    not_full: Notify,
}

/// The sending half. Clone it for more producers.
pub struct Sender<T> {
    chan: Arc<Chan<T>>,
}

/// The receiving half. Clone it for more consumers; each value goes to one.
pub struct Receiver<T> {
    chan: Arc<Chan<T>>,
}

/// A FIFO channel holding at most `capacity` values.
///
/// # Errors
///
/// [`CapacityError`] for 0 or a capacity the ring cannot take.
///
/// # Examples
///
/// ```
/// let (tx, rx) = evlatch_std::channel::bounded(4).unwrap();
/// tx.send("hi").unwrap();
/// assert_eq!(rx.recv().unwrap(), "hi");
/// assert!(evlatch_std::channel::bounded::<u8>(0).is_err());
/// ```
pub fn bounded<T: Send>(capacity: usize) -> Result<(Sender<T>, Receiver<T>), CapacityError> {
    make(Store::fifo(capacity)?, false)
}

/// An overwrite-oldest channel: `send` never blocks; when full, the oldest
/// value is dropped and counted ([`Sender::dropped`], [`Receiver::dropped`]).
///
/// # Errors
///
/// [`CapacityError`] for 0 or a capacity the ring cannot take.
///
/// # Examples
///
/// ```
/// let (tx, rx) = evlatch_std::channel::bounded_lossy(2).unwrap();
/// for i in 0..5 {
///     tx.send(i).unwrap();
/// }
/// assert_eq!(rx.dropped(), 3);
/// assert_eq!(rx.try_recv().unwrap(), 3);
/// assert_eq!(rx.try_recv().unwrap(), 4);
/// ```
pub fn bounded_lossy<T: Send>(capacity: usize) -> Result<(Sender<T>, Receiver<T>), CapacityError> {
    make(Store::fifo(capacity)?, true)
}

/// A two-level channel holding at most `capacity` values of each priority.
/// Send with [`Sender::send_with_priority`]; plain `send` is `Low`.
///
/// # Errors
///
/// [`CapacityError`] for 0 or a capacity the ring cannot take.
///
/// # Examples
///
/// ```
/// use evlatch_std::channel::{bounded_priority, Priority};
/// let (tx, rx) = bounded_priority(4).unwrap();
/// tx.send_with_priority("low", Priority::Low).unwrap();
/// tx.send_with_priority("high", Priority::High).unwrap();
/// assert_eq!(rx.recv().unwrap(), "high");
/// assert_eq!(rx.recv().unwrap(), "low");
/// ```
pub fn bounded_priority<T: Send>(
    capacity: usize,
) -> Result<(Sender<T>, Receiver<T>), CapacityError> {
    make(Store::priority(capacity)?, false)
}

fn make<T>(store: Store<T>, lossy: bool) -> Result<(Sender<T>, Receiver<T>), CapacityError> {
    // The ring yields (instead of spinning) while it waits out a preempted
    // neighbour once the std shell is installed.
    crate::parking::install();
    let chan = Arc::new(Chan {
        store,
        lossy,
        senders: AtomicUsize::new(1),
        receivers: AtomicUsize::new(1),
        not_empty: Notify::new(),
        not_full: Notify::new(),
    });
    Ok((Sender { chan: chan.clone() }, Receiver { chan }))
}

impl<T> Chan<T> {
    fn receivers_gone(&self) -> bool {
        // Acquire: pairs with the last receiver's release decrement.
        self.receivers.load(Ordering::Acquire) == 0
    }

    fn senders_gone(&self) -> bool {
        // Acquire: the last sender's pushes are visible once we see zero.
        self.senders.load(Ordering::Acquire) == 0
    }

    /// One non-blocking send attempt.
    fn try_send(&self, value: T, priority: Priority) -> Result<(), TrySendError<T>> {
        if self.receivers_gone() {
            return Err(TrySendError::Disconnected(value));
        }
        if self.lossy {
            // A displaced value is dropped here and counted by the ring.
            drop(self.store.force_push(value, priority));
            self.not_empty.notify_one();
            return Ok(());
        }
        match self.store.try_push(value, priority) {
            Ok(()) => {
                self.not_empty.notify_one();
                Ok(())
            }
            Err(value) => Err(TrySendError::Full(value)),
        }
    }

    /// One non-blocking receive attempt.
    fn try_recv(&self) -> Result<T, TryRecvError> {
        if let Some(v) = self.store.try_pop() {
            self.not_full.notify_one();
            return Ok(v);
        }
        if self.senders_gone() {
            // A last send may have landed just before the count dropped.
            return match self.store.try_pop() {
                Some(v) => Ok(v),
                None => Err(TryRecvError::Disconnected),
            };
        }
        Err(TryRecvError::Empty)
    }

    fn send_attempt(
        &self,
        slot: &mut Option<T>,
        priority: Priority,
    ) -> Option<Result<(), SendError<T>>> {
        let value = slot.take()?;
        match self.try_send(value, priority) {
            Ok(()) => Some(Ok(())),
            Err(TrySendError::Disconnected(v)) => Some(Err(SendError(v))),
            Err(TrySendError::Full(v)) => {
                *slot = Some(v);
                None
            }
        }
    }

    fn recv_attempt(&self) -> Option<Result<T, RecvError>> {
        match self.try_recv() {
            Ok(v) => Some(Ok(v)),
            Err(TryRecvError::Disconnected) => Some(Err(RecvError)),
            Err(TryRecvError::Empty) => None,
        }
    }

    fn send_blocking(
        &self,
        value: T,
        priority: Priority,
        deadline: Option<Instant>,
    ) -> Result<(), SendTimeoutError<T>> {
        let mut slot = Some(value);
        let ready = || self.store.push_may_succeed() || self.receivers_gone();
        match block_until(&self.not_full, deadline, ready, || {
            self.send_attempt(&mut slot, priority)
        }) {
            Some(Ok(())) => Ok(()),
            Some(Err(SendError(v))) => Err(SendTimeoutError::Disconnected(v)),
            None => Err(SendTimeoutError::Timeout(
                slot.take().expect("a timed-out send keeps its value"),
            )),
        }
    }

    fn recv_blocking(&self, deadline: Option<Instant>) -> Result<T, RecvTimeoutError> {
        let ready = || self.store.pop_may_succeed() || self.senders_gone();
        match block_until(&self.not_empty, deadline, ready, || self.recv_attempt()) {
            Some(Ok(v)) => Ok(v),
            Some(Err(RecvError)) => Err(RecvTimeoutError::Disconnected),
            None => Err(RecvTimeoutError::Timeout),
        }
    }
}

fn deadline_after(timeout: Duration) -> Option<Instant> {
    // A timeout too large to represent is no timeout.
    Instant::now().checked_add(timeout)
}

impl<T> Sender<T> {
    /// Sends, blocking while the channel is full (never, for a lossy one).
    ///
    /// # Errors
    ///
    /// [`SendError`] with the value if every receiver is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = evlatch_std::channel::bounded(1).unwrap();
    /// tx.send(1).unwrap();
    /// assert_eq!(rx.recv().unwrap(), 1);
    /// ```
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        self.send_with_priority(value, Priority::Low)
    }

    /// Sends at `priority` (ignored by FIFO and lossy channels), blocking
    /// while full.
    ///
    /// # Errors
    ///
    /// [`SendError`] with the value if every receiver is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::channel::{bounded_priority, Priority};
    /// let (tx, rx) = bounded_priority(1).unwrap();
    /// tx.send_with_priority(1, Priority::High).unwrap();
    /// assert_eq!(rx.recv().unwrap(), 1);
    /// ```
    pub fn send_with_priority(&self, value: T, priority: Priority) -> Result<(), SendError<T>> {
        self.chan
            .send_blocking(value, priority, None)
            .map_err(|e| SendError(e.into_inner()))
    }

    /// Sends without blocking.
    ///
    /// # Errors
    ///
    /// [`TrySendError::Full`] or [`TrySendError::Disconnected`], with the value.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, _rx) = evlatch_std::channel::bounded(1).unwrap();
    /// assert!(tx.try_send(1).is_ok());
    /// assert!(tx.try_send(2).is_err());
    /// ```
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        self.chan.try_send(value, Priority::Low)
    }

    /// [`try_send`](Self::try_send) at `priority`.
    ///
    /// # Errors
    ///
    /// As `try_send`.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::channel::{bounded_priority, Priority};
    /// let (tx, _rx) = bounded_priority(1).unwrap();
    /// assert!(tx.try_send_with_priority(1, Priority::High).is_ok());
    /// assert!(tx.try_send_with_priority(2, Priority::Low).is_ok());
    /// assert!(tx.try_send_with_priority(3, Priority::High).is_err());
    /// ```
    pub fn try_send_with_priority(
        &self,
        value: T,
        priority: Priority,
    ) -> Result<(), TrySendError<T>> {
        self.chan.try_send(value, priority)
    }

    /// Sends, blocking at most `timeout` while full.
    ///
    /// # Errors
    ///
    /// [`SendTimeoutError::Timeout`] or [`SendTimeoutError::Disconnected`],
    /// with the value.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let (tx, _rx) = evlatch_std::channel::bounded(1).unwrap();
    /// tx.send_timeout(1, Duration::from_millis(1)).unwrap();
    /// assert!(tx.send_timeout(2, Duration::from_millis(1)).is_err());
    /// ```
    pub fn send_timeout(&self, value: T, timeout: Duration) -> Result<(), SendTimeoutError<T>> {
        self.chan
            .send_blocking(value, Priority::Low, deadline_after(timeout))
    }

    /// Sends asynchronously, waiting while full. Dropping the future before
    /// it completes drops the value unsent.
    ///
    /// # Errors
    ///
    /// [`SendError`] with the value if every receiver is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// # rt.block_on(async {
    /// let (tx, rx) = evlatch_std::channel::bounded(1).unwrap();
    /// tx.send_async(5).await.unwrap();
    /// assert_eq!(rx.recv_async().await.unwrap(), 5);
    /// # });
    /// ```
    pub fn send_async(&self, value: T) -> impl Future<Output = Result<(), SendError<T>>> + '_ {
        let chan = &*self.chan;
        let mut slot = Some(value);
        Retry::new(&chan.not_full, move || {
            chan.send_attempt(&mut slot, Priority::Low)
        })
    }

    /// Values a lossy channel has displaced so far (0 for other kinds).
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, _rx) = evlatch_std::channel::bounded_lossy(1).unwrap();
    /// tx.send(1).unwrap();
    /// tx.send(2).unwrap();
    /// assert_eq!(tx.dropped(), 1);
    /// ```
    pub fn dropped(&self) -> u64 {
        self.chan.store.dropped()
    }

    /// Values queued now.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, _rx) = evlatch_std::channel::bounded(2).unwrap();
    /// tx.send(1).unwrap();
    /// assert_eq!(tx.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.chan.store.len()
    }

    /// Whether nothing is queued now.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, _rx) = evlatch_std::channel::bounded::<u8>(2).unwrap();
    /// assert!(tx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The real capacity (per priority level): the requested one rounded up
    /// to a power of two.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, _rx) = evlatch_std::channel::bounded::<u8>(3).unwrap();
    /// assert_eq!(tx.capacity(), 4); // rounded up to a power of two
    /// ```
    pub fn capacity(&self) -> usize {
        self.chan.store.capacity()
    }

    /// Whether every receiver is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = evlatch_std::channel::bounded::<u8>(1).unwrap();
    /// drop(rx);
    /// assert!(tx.is_disconnected());
    /// ```
    pub fn is_disconnected(&self) -> bool {
        self.chan.receivers_gone()
    }
}

impl<T> Receiver<T> {
    /// Receives, blocking while empty.
    ///
    /// # Errors
    ///
    /// [`RecvError`] once every sender is gone and the channel is drained.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = evlatch_std::channel::bounded(1).unwrap();
    /// tx.send('x').unwrap();
    /// assert_eq!(rx.recv().unwrap(), 'x');
    /// ```
    pub fn recv(&self) -> Result<T, RecvError> {
        self.chan.recv_blocking(None).map_err(|_| RecvError)
    }

    /// Receives without blocking.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`] or [`TryRecvError::Disconnected`].
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = evlatch_std::channel::bounded(1).unwrap();
    /// assert!(rx.try_recv().is_err());
    /// tx.send(1).unwrap();
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// ```
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        self.chan.try_recv()
    }

    /// Receives, blocking at most `timeout`.
    ///
    /// # Errors
    ///
    /// [`RecvTimeoutError::Timeout`] or [`RecvTimeoutError::Disconnected`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let (_tx, rx) = evlatch_std::channel::bounded::<u8>(1).unwrap();
    /// assert!(rx.recv_timeout(Duration::from_millis(1)).is_err());
    /// ```
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        self.chan.recv_blocking(deadline_after(timeout))
    }

    /// Receives asynchronously. Dropping the future cancels cleanly: no
    /// value is taken by a future that did not complete.
    ///
    /// # Errors
    ///
    /// [`RecvError`] once every sender is gone and the channel is drained.
    ///
    /// # Examples
    ///
    /// ```
    /// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// # rt.block_on(async {
    /// let (tx, rx) = evlatch_std::channel::bounded(1).unwrap();
    /// tx.send(9).unwrap();
    /// assert_eq!(rx.recv_async().await, Ok(9));
    /// # });
    /// ```
    pub fn recv_async(&self) -> impl Future<Output = Result<T, RecvError>> + '_ {
        let chan = &*self.chan;
        Retry::new(&chan.not_empty, move || chan.recv_attempt())
    }

    /// Receives up to `max` values into `out`, blocking until at least one
    /// is available; returns how many were received (0 only when `max` is 0).
    ///
    /// # Errors
    ///
    /// [`RecvError`] once every sender is gone and the channel is drained.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = evlatch_std::channel::bounded(8).unwrap();
    /// for i in 0..5 {
    ///     tx.send(i).unwrap();
    /// }
    /// let mut got = Vec::new();
    /// assert_eq!(rx.recv_batch(&mut got, 3), Ok(3));
    /// assert_eq!(got, [0, 1, 2]);
    /// ```
    pub fn recv_batch(&self, out: &mut impl Extend<T>, max: usize) -> Result<usize, RecvError> {
        if max == 0 {
            return Ok(0);
        }
        let first = self.recv()?;
        out.extend(Some(first));
        let mut n = 1;
        while n < max {
            match self.chan.store.try_pop() {
                Some(v) => {
                    out.extend(Some(v));
                    n += 1;
                }
                None => break,
            }
        }
        if n > 1 {
            self.chan.not_full.notify(n - 1);
        }
        Ok(n)
    }

    /// Values a lossy channel has displaced so far (0 for other kinds).
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = evlatch_std::channel::bounded_lossy(1).unwrap();
    /// tx.send(1).unwrap();
    /// tx.send(2).unwrap();
    /// assert_eq!(rx.dropped(), 1);
    /// ```
    pub fn dropped(&self) -> u64 {
        self.chan.store.dropped()
    }

    /// Values queued now.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = evlatch_std::channel::bounded(2).unwrap();
    /// tx.send(1).unwrap();
    /// assert_eq!(rx.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.chan.store.len()
    }

    /// Whether nothing is queued now.
    ///
    /// # Examples
    ///
    /// ```
    /// let (_tx, rx) = evlatch_std::channel::bounded::<u8>(2).unwrap();
    /// assert!(rx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether every sender is gone (values may still be queued).
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = evlatch_std::channel::bounded::<u8>(1).unwrap();
    /// drop(tx);
    /// assert!(rx.is_disconnected());
    /// ```
    pub fn is_disconnected(&self) -> bool {
        self.chan.senders_gone()
    }

    /// A blocking iterator that ends when the channel is disconnected and
    /// drained.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = evlatch_std::channel::bounded(4).unwrap();
    /// tx.send(1).unwrap();
    /// tx.send(2).unwrap();
    /// drop(tx);
    /// assert_eq!(rx.iter().collect::<Vec<_>>(), [1, 2]);
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = T> + '_ {
        core::iter::from_fn(move || self.recv().ok())
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.chan.senders.fetch_add(1, Ordering::Relaxed);
        Sender {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        self.chan.receivers.fetch_add(1, Ordering::Relaxed);
        Receiver {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        // AcqRel: our pushes happen-before a receiver that sees zero.
        if self.chan.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.chan.not_empty.notify_all();
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        if self.chan.receivers.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.chan.not_full.notify_all();
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("len", &self.len())
            .field("capacity", &self.capacity())
            .finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("len", &self.len())
            .field("capacity", &self.chan.store.capacity())
            .finish_non_exhaustive()
    }
}
