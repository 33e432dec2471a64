//! The futures of the endpoints' async operations: [`SendAsync`],
//! [`SendBatchAsync`], [`BroadcastAsync`], [`RecvAsync`],
//! [`RecvBatchAsync`]. Each one tries
//! the operation, and only when it cannot proceed registers the task on
//! the endpoint's own bell (space for a sender, data for a receiver) and
//! re-checks before it returns `Pending` (see `bell.rs`).

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use super::channel::{Receiver, Sender};
use super::error::{RecvError, SendError, TryRecvError, TrySendError};

/// An endpoint with a bell a task can wait on: a sender's space bell, a
/// receiver's data bell.
trait Bell {
    /// `Ready` once the endpoint can make progress, else registers `cx`.
    fn poll_bell(&mut self, cx: &mut Context<'_>) -> Poll<()>;
    /// Leaves the bell (the task no longer waits there).
    fn leave_bell(&self);
}

impl<T> Bell for Sender<T> {
    fn poll_bell(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        self.poll_room(cx)
    }
    fn leave_bell(&self) {
        self.stop_waiting();
    }
}

impl<T> Bell for Receiver<T> {
    fn poll_bell(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        self.poll_data(cx)
    }
    fn leave_bell(&self) {
        self.stop_waiting();
    }
}

/// The poll loop the single-endpoint futures share: `attempt` the
/// operation; once it gives an outcome, leave the bell and resolve;
/// otherwise register on the bell and, if the bell says progress is
/// possible meanwhile, attempt again (so no wake-up is missed between the
/// attempt and the registration).
fn drive<E: Bell, R>(
    end: &mut E,
    waiting: &mut bool,
    cx: &mut Context<'_>,
    mut attempt: impl FnMut(&mut E) -> Option<R>,
) -> Poll<R> {
    loop {
        if let Some(outcome) = attempt(end) {
            leave(end, waiting);
            return Poll::Ready(outcome);
        }
        *waiting = true;
        if end.poll_bell(cx).is_pending() {
            return Poll::Pending;
        }
    }
}

/// Leaves `end`'s bell if the task is registered there.
fn leave<E: Bell>(end: &E, waiting: &mut bool) {
    if core::mem::take(waiting) {
        end.leave_bell();
    }
}

/// The future of [`Sender::send_async`]: resolves once the message is in
/// the channel (or the receiver is gone).
///
/// # Examples
///
/// ```
/// use evlatch_std::exchange::{initialize, Config, SendError};
///
/// initialize(Config::Thread, |mut w| {
///     let (mut txs, rx) = w.allocate::<u8>(0).unwrap();
///     let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
///     assert_eq!(rt.block_on(txs[0].send_async(1)), Ok(()));
///     drop(rx);
///     assert_eq!(rt.block_on(txs[0].send_async(2)), Err(SendError(2)));
/// })
/// .unwrap()
/// .join();
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct SendAsync<'a, T> {
    sender: &'a mut Sender<T>,
    /// The message, until it is sent (`None` after).
    value: Option<T>,
    /// Whether the task is registered on the space bell.
    waiting: bool,
}

// The message is moved, never pinned: the future may move freely.
impl<T> Unpin for SendAsync<'_, T> {}

impl<'a, T> SendAsync<'a, T> {
    pub(super) fn new(sender: &'a mut Sender<T>, value: T) -> Self {
        Self {
            sender,
            value: Some(value),
            waiting: false,
        }
    }
}

impl<T> Future for SendAsync<'_, T> {
    type Output = Result<(), SendError<T>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let value = &mut this.value;
        drive(this.sender, &mut this.waiting, cx, |tx| {
            match value.take() {
                // Polled again after it resolved: the message is long sent.
                None => Some(Ok(())),
                Some(v) => match tx.try_send(v) {
                    Ok(()) => Some(Ok(())),
                    Err(TrySendError::Disconnected(v)) => Some(Err(SendError(v))),
                    Err(TrySendError::Full(v)) => {
                        *value = Some(v);
                        None
                    }
                },
            }
        })
    }
}

impl<T> Drop for SendAsync<'_, T> {
    fn drop(&mut self) {
        leave(self.sender, &mut self.waiting);
    }
}

impl<T> fmt::Debug for SendAsync<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendAsync")
            .field("sender", &self.sender)
            .field("sent", &self.value.is_none())
            .finish_non_exhaustive()
    }
}

/// The future of [`Sender::send_batch_async`]: resolves once every message
/// of the batch is in the channel (or the receiver is gone).
///
/// # Examples
///
/// ```
/// use evlatch_std::exchange::{initialize, Config};
///
/// initialize(Config::Thread, |mut w| {
///     let (mut txs, mut rx) = w.allocate_bounded::<u8>(0, 2).unwrap();
///     let mut tx = txs.pop().unwrap();
///     let rt = tokio::runtime::Runtime::new().unwrap();
///     // Five messages through a ring of two, received on this thread.
///     let task = rt.spawn(async move {
///         let mut batch = vec![1, 2, 3, 4, 5];
///         tx.send_batch_async(&mut batch).await.unwrap();
///     });
///     let got: Vec<u8> = (0..5).map(|_| rx.recv().unwrap()).collect();
///     assert_eq!(got, [1, 2, 3, 4, 5]);
///     rt.block_on(task).unwrap();
/// })
/// .unwrap()
/// .join();
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct SendBatchAsync<'a, T> {
    sender: &'a mut Sender<T>,
    batch: &'a mut Vec<T>,
    /// Whether the task is registered on the space bell.
    waiting: bool,
}

impl<'a, T> SendBatchAsync<'a, T> {
    pub(super) fn new(sender: &'a mut Sender<T>, batch: &'a mut Vec<T>) -> Self {
        Self {
            sender,
            batch,
            waiting: false,
        }
    }
}

impl<T> Future for SendBatchAsync<'_, T> {
    type Output = Result<(), SendError<()>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let batch = &mut *this.batch;
        drive(this.sender, &mut this.waiting, cx, |tx| {
            if batch.is_empty() {
                return Some(Ok(()));
            }
            match tx.try_send_batch(batch) {
                Err(e) => Some(Err(e)),
                // Sent all: done; sent part (the ring is full now) or
                // nothing: wait for space.
                Ok(_) => batch.is_empty().then_some(Ok(())),
            }
        })
    }
}

impl<T> Drop for SendBatchAsync<'_, T> {
    fn drop(&mut self) {
        leave(self.sender, &mut self.waiting);
    }
}

impl<T> fmt::Debug for SendBatchAsync<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendBatchAsync")
            .field("sender", &self.sender)
            .field("left", &self.batch.len())
            .finish_non_exhaustive()
    }
}

/// The future of [`Broadcaster::send_async`](super::Broadcaster::send_async):
/// resolves once every worker whose receiver is still there has its copy.
///
/// # Examples
///
/// ```
/// use evlatch_std::exchange::{initialize, Config};
///
/// let r = initialize(Config::Process(2), |mut w| {
///     let (mut tx, mut rx) = w.broadcast::<usize>(0).unwrap();
///     let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
///     rt.block_on(tx.send_async(w.index())).unwrap();
///     drop(tx);
///     let mut got = vec![rx.recv().unwrap(), rx.recv().unwrap()];
///     got.sort();
///     got
/// })
/// .unwrap()
/// .join();
/// assert!(r.into_iter().all(|g| g.unwrap() == [0, 1]));
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct BroadcastAsync<'a, T> {
    senders: &'a mut [Sender<T>],
    /// The message; the last sender gets it, the others clones.
    value: Option<T>,
    /// A copy that found its channel full, for `senders[next]`.
    pending: Option<T>,
    /// The sender served next.
    next: usize,
    /// Some worker got a copy.
    delivered: bool,
    /// Whether the task is registered on `senders[next]`'s space bell.
    waiting: bool,
}

// The messages are moved, never pinned: the future may move freely.
impl<T> Unpin for BroadcastAsync<'_, T> {}

impl<'a, T> BroadcastAsync<'a, T> {
    pub(super) fn new(senders: &'a mut [Sender<T>], value: T) -> Self {
        Self {
            senders,
            value: Some(value),
            pending: None,
            next: 0,
            delivered: false,
            waiting: false,
        }
    }

    fn stop_waiting(&mut self) {
        if self.waiting {
            self.waiting = false;
            if let Some(tx) = self.senders.get(self.next) {
                tx.stop_waiting();
            }
        }
    }
}

impl<T: Clone> Future for BroadcastAsync<'_, T> {
    type Output = Result<(), SendError<T>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let n = this.senders.len();
        while this.next < n {
            let last = this.next + 1 == n;
            let copy = match this.pending.take() {
                Some(v) => v,
                None if last => match this.value.take() {
                    Some(v) => v,
                    // Polled again after it resolved.
                    None => return Poll::Ready(Ok(())),
                },
                None => match &this.value {
                    Some(v) => v.clone(),
                    None => return Poll::Ready(Ok(())),
                },
            };
            match this.senders[this.next].try_send(copy) {
                Ok(()) => {
                    this.delivered = true;
                    this.stop_waiting();
                    this.next += 1;
                }
                Err(TrySendError::Disconnected(v)) => {
                    this.stop_waiting();
                    if last {
                        // Handed back below if nobody got a copy.
                        this.value = Some(v);
                    }
                    this.next += 1;
                }
                Err(TrySendError::Full(v)) => {
                    this.pending = Some(v);
                    this.waiting = true;
                    if this.senders[this.next].poll_room(cx).is_pending() {
                        return Poll::Pending;
                    }
                }
            }
        }
        match this.value.take() {
            Some(v) if !this.delivered => Poll::Ready(Err(SendError(v))),
            _ => Poll::Ready(Ok(())),
        }
    }
}

impl<T> Drop for BroadcastAsync<'_, T> {
    fn drop(&mut self) {
        self.stop_waiting();
    }
}

impl<T> fmt::Debug for BroadcastAsync<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BroadcastAsync")
            .field("peers", &self.senders.len())
            .field("next", &self.next)
            .finish_non_exhaustive()
    }
}

/// The future of [`Receiver::recv_async`]: resolves to the next message
/// (or to disconnected).
///
/// # Examples
///
/// ```
/// use evlatch_std::exchange::{initialize, Config};
///
/// initialize(Config::Thread, |mut w| {
///     let (mut txs, mut rx) = w.allocate::<u8>(0).unwrap();
///     txs[0].send(7).unwrap();
///     let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
///     assert_eq!(rt.block_on(rx.recv_async()), Ok(7));
/// })
/// .unwrap()
/// .join();
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct RecvAsync<'a, T> {
    receiver: &'a mut Receiver<T>,
    /// Whether the task is registered on the data bell.
    waiting: bool,
}

impl<'a, T> RecvAsync<'a, T> {
    pub(super) fn new(receiver: &'a mut Receiver<T>) -> Self {
        Self {
            receiver,
            waiting: false,
        }
    }
}

impl<T> Future for RecvAsync<'_, T> {
    type Output = Result<T, RecvError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        drive(this.receiver, &mut this.waiting, cx, |rx| {
            match rx.try_recv() {
                Ok(v) => Some(Ok(v)),
                Err(TryRecvError::Disconnected) => Some(Err(RecvError::Disconnected)),
                Err(TryRecvError::Empty) => None,
            }
        })
    }
}

impl<T> Drop for RecvAsync<'_, T> {
    fn drop(&mut self) {
        leave(self.receiver, &mut self.waiting);
    }
}

impl<T> fmt::Debug for RecvAsync<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecvAsync")
            .field("receiver", &self.receiver)
            .finish_non_exhaustive()
    }
}

/// The future of [`Receiver::recv_batch_async`]: resolves to how many
/// messages it moved (at least one, unless `max` is 0), or to
/// disconnected.
///
/// # Examples
///
/// ```
/// use evlatch_std::exchange::{initialize, Config};
///
/// initialize(Config::Thread, |mut w| {
///     let (mut txs, mut rx) = w.allocate::<u8>(0).unwrap();
///     txs[0].send_batch(&mut vec![1, 2, 3]).unwrap();
///     let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
///     let mut out = Vec::new();
///     assert_eq!(rt.block_on(rx.recv_batch_async(&mut out, 2)), Ok(2));
///     assert_eq!(out, [1, 2]);
/// })
/// .unwrap()
/// .join();
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct RecvBatchAsync<'a, T, E> {
    receiver: &'a mut Receiver<T>,
    out: &'a mut E,
    max: usize,
    /// Whether the task is registered on the data bell.
    waiting: bool,
}

impl<'a, T, E: Extend<T>> RecvBatchAsync<'a, T, E> {
    pub(super) fn new(receiver: &'a mut Receiver<T>, out: &'a mut E, max: usize) -> Self {
        Self {
            receiver,
            out,
            max,
            waiting: false,
        }
    }
}

impl<T, E: Extend<T>> Future for RecvBatchAsync<'_, T, E> {
    type Output = Result<usize, RecvError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let (out, max) = (&mut *this.out, this.max);
        drive(this.receiver, &mut this.waiting, cx, |rx| {
            match rx.try_recv_batch(out, max) {
                Ok(k) => Some(Ok(k)),
                Err(TryRecvError::Disconnected) => Some(Err(RecvError::Disconnected)),
                Err(TryRecvError::Empty) => None,
            }
        })
    }
}

impl<T, E> Drop for RecvBatchAsync<'_, T, E> {
    fn drop(&mut self) {
        leave(self.receiver, &mut self.waiting);
    }
}

impl<T, E> fmt::Debug for RecvBatchAsync<'_, T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecvBatchAsync")
            .field("receiver", &self.receiver)
            .field("max", &self.max)
            .finish_non_exhaustive()
    }
}
