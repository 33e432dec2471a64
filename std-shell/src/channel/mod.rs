//! Bounded MPMC channels on the core's stamp ring.
//!
//! - [`bounded`]: FIFO; `send` blocks while full.
//! - [`bounded_lossy`]: overwrite-oldest; `send` never blocks, displaced
//!   values are dropped and counted ([`Sender::dropped`]).
//! - [`bounded_priority`]: two levels, its own handle types
//!   ([`PrioritySender`], [`PriorityReceiver`]); [`Priority::High`] is
//!   received first, and a waiting `Low` value is received after at most
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
//! - with a power-of-two capacity, a lossy send whose slot stays held by
//!   in-flight operations for long drops its own (newest) value instead of
//!   the oldest, and counts it (with any other capacity it waits for room
//!   or an oldest value to take, as a send in flight ends in a few steps).
//!
//! # Capacity
//!
//! A channel made for `n` values holds exactly `n` (per level, for a
//! priority channel): the `n + 1`-th `try_send` is `Full`, `send` blocks,
//! a lossy send overwrites the oldest, and [`Sender::capacity`] says `n`.
//! The core ring's size is a power of two; for any other `n` the channel
//! uses the next power of two's ring behind a count of the room taken (one
//! CAS per send, one read-modify-write per receive, on a counter of its
//! own), so powers of two are a little cheaper. Under that count, `Full`
//! means `n` values held room at some instant of the call, where a value
//! holds room from the moment its send takes it until its receive has
//! claimed it (as for tokio's bounded channel): a send and a receive that
//! run at the same time on a full channel may see it full for the few
//! instructions in between.
//!
//! There is no zero-capacity (rendezvous) channel: 0 is refused with
//! [`CapacityError::Zero`], as are sizes above
//! [`evlatch::MAX_QUEUE_CAPACITY`] ([`CapacityError::TooLarge`]). Use a
//! capacity of 1 and a reply channel where a handshake is needed.
//!
//! # Closing
//!
//! When every [`Sender`] is gone, receivers drain what is left, then get
//! `Disconnected`. When every [`Receiver`] is gone, sends fail and hand the
//! value back, and the values still queued are dropped at once (by the
//! thread that dropped the last receiver, or by a send that raced it), not
//! when the last sender goes. A send that returned `Ok` put its value in the
//! channel: it is received, or — if every receiver is gone — dropped that
//! way. Nothing is duplicated, and nothing sent before the last sender left
//! is missed by receivers. The close is atomic for sends (as crossbeam's
//! disconnect is): a send waiting on a full channel when the last receiver
//! goes gets its value back as `Disconnected`; it never lands in the room
//! that dropping the queued values frees.
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
mod future;
mod iter;
mod kind;
mod ring;
mod wait;

use core::fmt;
use core::marker::PhantomData;
use std::time::{Duration, Instant};

pub use error::{
    CapacityError, RecvError, RecvTimeoutError, SendError, SendTimeoutError, TryRecvError,
    TrySendError,
};
pub use future::{RecvFuture, SendFuture};
pub use iter::{IntoIter, Iter, TryIter};
pub use kind::{Fifo, Kind, TwoLevel};
pub use ring::{Priority, LOW_PRIORITY_EVERY};

use crate::notify::Notify;
use crate::sync::{Arc, AtomicUsize, Ordering};
use evlatch::queue::PushIfError;
use ring::Store;
use wait::block_until;

/// The one channel type behind every kind and both halves.
struct Chan<T> {
    store: Store<T>,
    lossy: bool,
    senders: AtomicUsize,
    /// Receivers alive. Dropping to 0 is the receivers' close: from then on
    /// sends fail, and whoever sees it after queuing a value (the last
    /// receiver, or a send that raced it) drops what is queued.
    receivers: AtomicUsize,
    /// Receivers waiting for a value (or for the senders to leave).
    not_empty: Notify,
    /// Senders waiting for room (or for the receivers to leave).
    not_full: Notify,
}

/// The sending half of a channel. Clone it for more producers.
///
/// `K` is the channel's [`Kind`]: `Sender<T>` (that is, `Sender<T, Fifo>`)
/// for [`bounded`] and [`bounded_lossy`], [`PrioritySender<T>`] for
/// [`bounded_priority`].
///
/// # Examples
///
/// ```
/// let (tx, rx) = evlatch_std::channel::bounded(2).unwrap();
/// let tx2 = tx.clone();
/// tx.send(1).unwrap();
/// tx2.send(2).unwrap();
/// assert!(tx.same_channel(&tx2));
/// assert_eq!(rx.try_iter().collect::<Vec<_>>(), [1, 2]);
/// ```
pub struct Sender<T, K: Kind = Fifo> {
    chan: Arc<Chan<T>>,
    _kind: PhantomData<fn() -> K>,
}

/// The receiving half of a channel. Clone it for more consumers; each value
/// goes to one. Iterate it (`for v in &rx`, `for v in rx`) to receive until
/// the senders are gone.
///
/// # Examples
///
/// ```
/// let (tx, rx) = evlatch_std::channel::bounded(2).unwrap();
/// tx.send(1).unwrap();
/// drop(tx);
/// assert_eq!(rx.into_iter().collect::<Vec<_>>(), [1]);
/// ```
pub struct Receiver<T, K: Kind = Fifo> {
    chan: Arc<Chan<T>>,
    _kind: PhantomData<fn() -> K>,
}

/// The sending half of a priority channel ([`bounded_priority`]): a
/// [`Sender`] that also sends with a [`Priority`].
///
/// # Examples
///
/// ```
/// use evlatch_std::channel::{bounded_priority, Priority, PrioritySender};
/// let (tx, rx) = bounded_priority(2).unwrap();
/// let tx: PrioritySender<&str> = tx;
/// tx.send_with_priority("urgent", Priority::High).unwrap();
/// assert_eq!(rx.recv().unwrap(), "urgent");
/// ```
pub type PrioritySender<T> = Sender<T, TwoLevel>;

/// The receiving half of a priority channel ([`bounded_priority`]).
///
/// # Examples
///
/// ```
/// use evlatch_std::channel::{bounded_priority, PriorityReceiver};
/// let (tx, rx) = bounded_priority::<u8>(2).unwrap();
/// let rx: PriorityReceiver<u8> = rx;
/// tx.send(1).unwrap();
/// assert_eq!(rx.recv(), Ok(1));
/// ```
pub type PriorityReceiver<T> = Receiver<T, TwoLevel>;

/// A FIFO channel holding at most `capacity` values — exactly `capacity`,
/// whatever the number.
///
/// # Errors
///
/// [`CapacityError::Zero`] for 0 (there is no rendezvous channel),
/// [`CapacityError::TooLarge`] above [`evlatch::MAX_QUEUE_CAPACITY`],
/// [`CapacityError::OutOfMemory`] if the ring cannot be allocated.
///
/// # Examples
///
/// ```
/// use evlatch_std::channel::{bounded, CapacityError, TrySendError};
/// let (tx, rx) = bounded(3).unwrap();
/// for i in 0..3 {
///     tx.try_send(i).unwrap();
/// }
/// assert_eq!(tx.try_send(3), Err(TrySendError::Full(3)));
/// assert_eq!((tx.capacity(), tx.is_full()), (3, true));
/// assert_eq!(rx.recv(), Ok(0));
/// assert_eq!(bounded::<u8>(0).unwrap_err(), CapacityError::Zero);
/// ```
pub fn bounded<T: Send>(capacity: usize) -> Result<(Sender<T>, Receiver<T>), CapacityError> {
    make(Store::fifo(capacity)?, false)
}

/// An overwrite-oldest channel of exactly `capacity` values: `send` never
/// blocks; once `capacity` values are queued, each send drops the oldest
/// and counts it ([`Sender::dropped`], [`Receiver::dropped`]).
///
/// With a capacity that is not a power of two, a send that races a receive
/// on a full channel may displace a value the receive was about to make
/// room for (the two are not one step there); every displaced value is
/// counted.
///
/// # Errors
///
/// As [`bounded`].
///
/// # Examples
///
/// ```
/// let (tx, rx) = evlatch_std::channel::bounded_lossy(3).unwrap();
/// for i in 0..5 {
///     tx.send(i).unwrap();
/// }
/// assert_eq!(rx.dropped(), 2);
/// assert_eq!(rx.try_iter().collect::<Vec<_>>(), [2, 3, 4]);
/// ```
pub fn bounded_lossy<T: Send>(capacity: usize) -> Result<(Sender<T>, Receiver<T>), CapacityError> {
    make(Store::fifo(capacity)?, true)
}

/// A two-level channel holding at most `capacity` values of each priority
/// (exactly `capacity`, whatever the number). Send with
/// [`PrioritySender::send_with_priority`]; plain `send` is `Low`.
///
/// # Errors
///
/// As [`bounded`].
///
/// # Examples
///
/// ```
/// use evlatch_std::channel::{bounded_priority, Priority, TrySendError};
/// let (tx, rx) = bounded_priority(3).unwrap();
/// tx.send_with_priority("low", Priority::Low).unwrap();
/// tx.send_with_priority("high", Priority::High).unwrap();
/// assert_eq!(rx.recv().unwrap(), "high");
/// assert_eq!(rx.recv().unwrap(), "low");
/// for _ in 0..3 {
///     tx.try_send_with_priority("h", Priority::High).unwrap();
/// }
/// assert_eq!(tx.try_send_with_priority("h", Priority::High), Err(TrySendError::Full("h")));
/// assert!(tx.try_send_with_priority("l", Priority::Low).is_ok()); // the other level has room
/// ```
pub fn bounded_priority<T: Send>(
    capacity: usize,
) -> Result<(PrioritySender<T>, PriorityReceiver<T>), CapacityError> {
    make(Store::priority(capacity)?, false)
}

/// Both halves of a new channel.
type Halves<T, K> = (Sender<T, K>, Receiver<T, K>);

fn make<T, K: Kind>(store: Store<T>, lossy: bool) -> Result<Halves<T, K>, CapacityError> {
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
    Ok((
        Sender {
            chan: chan.clone(),
            _kind: PhantomData,
        },
        Receiver {
            chan,
            _kind: PhantomData,
        },
    ))
}

impl<T> Chan<T> {
    fn receivers_gone(&self) -> bool {
        // Acquire: pairs with the last receiver's decrement.
        self.receivers.load(Ordering::Acquire) == 0
    }

    fn senders_gone(&self) -> bool {
        // Acquire: the last sender's pushes are visible once we see zero.
        self.senders.load(Ordering::Acquire) == 0
    }

    /// One non-blocking send attempt.
    #[inline]
    fn try_send(&self, value: T, priority: Priority) -> Result<(), TrySendError<T>> {
        if self.receivers_gone() {
            return Err(TrySendError::Disconnected(value));
        }
        if self.lossy {
            // A displaced value is dropped here and counted by the store.
            drop(self.store.force_push(value, priority));
        } else {
            // `open` runs between the ring slot seen free and its claim: a
            // push that lands took room that existed before the last
            // receiver left (its drop's pops free room only for sends that
            // then see it gone).
            match self
                .store
                .try_push(value, priority, || !self.receivers_gone())
            {
                Ok(()) => {}
                Err(PushIfError::Full(value)) => return Err(TrySendError::Full(value)),
                Err(PushIfError::Refused(value)) => return Err(TrySendError::Disconnected(value)),
            }
        }
        self.not_empty.notify_one();
        self.discard_if_closed();
        Ok(())
    }

    /// After queuing a value: if the last receiver left meanwhile, drop
    /// what is queued (it may have drained before this value landed).
    ///
    /// SeqCst (with the last receiver's SeqCst decrement, and the ring's
    /// SeqCst claim and fence): either this load sees the receivers gone, or
    /// the last receiver's drain, which starts after its decrement, sees
    /// this push — so no value outlives the close for long.
    #[inline]
    fn discard_if_closed(&self) {
        if self.receivers.load(Ordering::SeqCst) == 0 {
            self.discard_all();
        }
    }

    /// Drops every queued value (once the receivers are gone).
    fn discard_all(&self) {
        while let Some(value) = self.store.try_pop() {
            drop(value);
        }
    }

    /// One non-blocking receive attempt.
    #[inline]
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
        let ready = || self.store.push_may_succeed(priority) || self.receivers_gone();
        match block_until(&self.not_full, deadline, ready, || {
            self.send_attempt(&mut slot, priority)
        }) {
            Some(Ok(())) => Ok(()),
            Some(Err(SendError(v))) => Err(SendTimeoutError::Disconnected(v)),
            None => match slot.take() {
                Some(v) => Err(SendTimeoutError::Timeout(v)),
                // Unreachable: only a completed attempt takes the value.
                None => Ok(()),
            },
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

impl<T, K: Kind> Sender<T, K> {
    /// Sends, blocking while the channel is full (never, for a lossy one).
    /// On a priority channel it sends at [`Priority::Low`].
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
        self.chan
            .send_blocking(value, Priority::Low, None)
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

    /// Sends asynchronously, waiting while full (see [`SendFuture`]).
    /// Dropping the future before it completes drops the value unsent.
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
    pub fn send_async(&self, value: T) -> SendFuture<'_, T> {
        SendFuture::new(&self.chan, value, Priority::Low)
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

    /// Values queued now (both levels, for a priority channel).
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

    /// Whether the channel is full now: it holds `capacity` values (on
    /// each level, for a priority channel), so a send would block.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, _rx) = evlatch_std::channel::bounded(1).unwrap();
    /// assert!(!tx.is_full());
    /// tx.send(1).unwrap();
    /// assert!(tx.is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        self.chan.store.is_full()
    }

    /// How many values the channel holds at most (per priority level):
    /// exactly the capacity it was made with.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, _rx) = evlatch_std::channel::bounded::<u8>(3).unwrap();
    /// assert_eq!(tx.capacity(), 3);
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

    /// Whether `self` and `other` send into the same channel.
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, _ra) = evlatch_std::channel::bounded::<u8>(1).unwrap();
    /// let (b, _rb) = evlatch_std::channel::bounded::<u8>(1).unwrap();
    /// assert!(a.same_channel(&a.clone()));
    /// assert!(!a.same_channel(&b));
    /// ```
    pub fn same_channel(&self, other: &Sender<T, K>) -> bool {
        Arc::ptr_eq(&self.chan, &other.chan)
    }
}

impl<T> Sender<T, TwoLevel> {
    /// Sends at `priority`, blocking while that level is full.
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

    /// [`try_send`](Self::try_send) at `priority`.
    ///
    /// # Errors
    ///
    /// As `try_send` ([`TrySendError::Full`] when that level is full).
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

    /// [`send_timeout`](Self::send_timeout) at `priority`.
    ///
    /// # Errors
    ///
    /// As `send_timeout`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use evlatch_std::channel::{bounded_priority, Priority, SendTimeoutError};
    /// let (tx, _rx) = bounded_priority(1).unwrap();
    /// let wait = Duration::from_millis(1);
    /// tx.send_timeout_with_priority(1, Priority::High, wait).unwrap();
    /// let err = tx.send_timeout_with_priority(2, Priority::High, wait).unwrap_err();
    /// assert_eq!(err, SendTimeoutError::Timeout(2));
    /// ```
    pub fn send_timeout_with_priority(
        &self,
        value: T,
        priority: Priority,
        timeout: Duration,
    ) -> Result<(), SendTimeoutError<T>> {
        self.chan
            .send_blocking(value, priority, deadline_after(timeout))
    }

    /// [`send_async`](Self::send_async) at `priority`.
    ///
    /// # Errors
    ///
    /// As `send_async`.
    ///
    /// # Examples
    ///
    /// ```
    /// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// # rt.block_on(async {
    /// use evlatch_std::channel::{bounded_priority, Priority};
    /// let (tx, rx) = bounded_priority(1).unwrap();
    /// tx.send_async_with_priority(5, Priority::High).await.unwrap();
    /// assert_eq!(rx.recv_async().await.unwrap(), 5);
    /// # });
    /// ```
    pub fn send_async_with_priority(&self, value: T, priority: Priority) -> SendFuture<'_, T> {
        SendFuture::new(&self.chan, value, priority)
    }
}

impl<T, K: Kind> Receiver<T, K> {
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

    /// Receives asynchronously (see [`RecvFuture`]). Dropping the future
    /// cancels cleanly: no value is taken by a future that did not
    /// complete.
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
    pub fn recv_async(&self) -> RecvFuture<'_, T> {
        RecvFuture::new(&self.chan)
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

    /// Values queued now (both levels, for a priority channel).
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

    /// Whether the channel is full now (see [`Sender::is_full`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = evlatch_std::channel::bounded(1).unwrap();
    /// tx.send(1).unwrap();
    /// assert!(rx.is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        self.chan.store.is_full()
    }

    /// How many values the channel holds at most (per priority level).
    ///
    /// # Examples
    ///
    /// ```
    /// let (_tx, rx) = evlatch_std::channel::bounded::<u8>(5).unwrap();
    /// assert_eq!(rx.capacity(), 5);
    /// ```
    pub fn capacity(&self) -> usize {
        self.chan.store.capacity()
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

    /// Whether `self` and `other` receive from the same channel.
    ///
    /// # Examples
    ///
    /// ```
    /// let (_ta, a) = evlatch_std::channel::bounded::<u8>(1).unwrap();
    /// let (_tb, b) = evlatch_std::channel::bounded::<u8>(1).unwrap();
    /// assert!(a.same_channel(&a.clone()));
    /// assert!(!a.same_channel(&b));
    /// ```
    pub fn same_channel(&self, other: &Receiver<T, K>) -> bool {
        Arc::ptr_eq(&self.chan, &other.chan)
    }

    /// A blocking iterator ([`Iter`]) that ends when the channel is
    /// disconnected and drained; `for v in &rx` is the same.
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
    pub fn iter(&self) -> Iter<'_, T, K> {
        Iter { rx: self }
    }

    /// A non-blocking iterator ([`TryIter`]) over the values queued now.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = evlatch_std::channel::bounded(4).unwrap();
    /// tx.send(1).unwrap();
    /// tx.send(2).unwrap();
    /// assert_eq!(rx.try_iter().collect::<Vec<_>>(), [1, 2]);
    /// ```
    pub fn try_iter(&self) -> TryIter<'_, T, K> {
        TryIter { rx: self }
    }
}

impl<T, K: Kind> Clone for Sender<T, K> {
    fn clone(&self) -> Self {
        self.chan.senders.fetch_add(1, Ordering::Relaxed);
        Sender {
            chan: self.chan.clone(),
            _kind: PhantomData,
        }
    }
}

impl<T, K: Kind> Clone for Receiver<T, K> {
    fn clone(&self) -> Self {
        self.chan.receivers.fetch_add(1, Ordering::Relaxed);
        Receiver {
            chan: self.chan.clone(),
            _kind: PhantomData,
        }
    }
}

impl<T, K: Kind> Drop for Sender<T, K> {
    fn drop(&mut self) {
        // AcqRel: our pushes happen-before a receiver that sees zero.
        if self.chan.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.chan.not_empty.notify_all();
        }
    }
}

impl<T, K: Kind> Drop for Receiver<T, K> {
    fn drop(&mut self) {
        // SeqCst: see `Chan::discard_if_closed`.
        if self.chan.receivers.fetch_sub(1, Ordering::SeqCst) == 1 {
            // Close before the pops below free room: no send that checked
            // before the decrement lands in it (`Store::try_push`).
            self.chan.store.close();
            self.chan.not_full.notify_all();
            self.chan.discard_all();
        }
    }
}

impl<T, K: Kind> fmt::Debug for Sender<T, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("len", &self.len())
            .field("capacity", &self.capacity())
            .finish_non_exhaustive()
    }
}

impl<T, K: Kind> fmt::Debug for Receiver<T, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("len", &self.len())
            .field("capacity", &self.capacity())
            .finish_non_exhaustive()
    }
}
