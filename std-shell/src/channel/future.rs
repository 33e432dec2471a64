//! The futures of `send_async` and `recv_async`.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use super::wait::Retry;
use super::{Chan, Priority, RecvError, SendError};

/// The future of [`Sender::send_async`](super::Sender::send_async): sends
/// its value, waiting while the channel is full.
///
/// Dropping it before it completes drops the value unsent and leaves
/// nothing behind. Once it has returned `Ready`, polling it again returns
/// `Pending` (it never panics, and never wakes).
///
/// # Examples
///
/// ```
/// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// # rt.block_on(async {
/// use evlatch_std::channel::{bounded, SendFuture};
/// let (tx, rx) = bounded(1).unwrap();
/// let send: SendFuture<'_, i32> = tx.send_async(5);
/// send.await.unwrap();
/// assert_eq!(rx.recv(), Ok(5));
/// # });
/// ```
#[must_use = "futures do nothing unless you `.await` or poll them: the value is not sent"]
pub struct SendFuture<'a, T> {
    chan: &'a Chan<T>,
    /// The value until it is sent (or handed back).
    slot: Option<T>,
    priority: Priority,
    /// Structurally pinned.
    retry: Retry<'a>,
}

impl<'a, T> SendFuture<'a, T> {
    pub(super) fn new(chan: &'a Chan<T>, value: T, priority: Priority) -> Self {
        SendFuture {
            chan,
            slot: Some(value),
            priority,
            retry: Retry::new(&chan.not_full),
        }
    }
}

impl<T> Future for SendFuture<'_, T> {
    type Output = Result<(), SendError<T>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: only `retry` is pinned, and it is only used through the
        // `Pin` made below; `slot`, `chan` and `priority` are never pinned.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: `retry` is structurally pinned (see above) and never
        // moved out of `this`.
        let retry = unsafe { Pin::new_unchecked(&mut this.retry) };
        let (chan, slot, priority) = (this.chan, &mut this.slot, this.priority);
        retry.poll(cx, || chan.send_attempt(slot, priority))
    }
}

impl<T> fmt::Debug for SendFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendFuture")
            .field("done", &self.retry.is_done())
            .finish_non_exhaustive()
    }
}

/// The future of [`Receiver::recv_async`](super::Receiver::recv_async):
/// receives a value, waiting while the channel is empty.
///
/// Dropping it before it completes takes nothing from the channel. Once it
/// has returned `Ready`, polling it again returns `Pending` (it never
/// panics, never takes a second value, and never wakes).
///
/// # Examples
///
/// ```
/// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// # rt.block_on(async {
/// use evlatch_std::channel::{bounded, RecvFuture};
/// let (tx, rx) = bounded(1).unwrap();
/// tx.send(9).unwrap();
/// let recv: RecvFuture<'_, i32> = rx.recv_async();
/// assert_eq!(recv.await, Ok(9));
/// # });
/// ```
#[must_use = "futures do nothing unless you `.await` or poll them: nothing is received"]
pub struct RecvFuture<'a, T> {
    chan: &'a Chan<T>,
    /// Structurally pinned.
    retry: Retry<'a>,
}

impl<'a, T> RecvFuture<'a, T> {
    pub(super) fn new(chan: &'a Chan<T>) -> Self {
        RecvFuture {
            chan,
            retry: Retry::new(&chan.not_empty),
        }
    }
}

impl<T> Future for RecvFuture<'_, T> {
    type Output = Result<T, RecvError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: only `retry` is pinned, and it is only used through the
        // `Pin` made below.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: `retry` is structurally pinned and never moved.
        let retry = unsafe { Pin::new_unchecked(&mut this.retry) };
        let chan = this.chan;
        retry.poll(cx, || chan.recv_attempt())
    }
}

impl<T> fmt::Debug for RecvFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecvFuture")
            .field("done", &self.retry.is_done())
            .finish_non_exhaustive()
    }
}
