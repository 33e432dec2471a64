//! The endpoints of an allocated channel: [`Sender`] (one per target
//! worker), [`Receiver`] (this worker's), [`Broadcaster`].
//!
//! Endpoints are `Send` (for `T: Send`): each waits on a bell of its own
//! (see `bell.rs`), not on its worker's doorbell, so it may move to another
//! thread or into an async task on any executor.

use core::cell::Cell;
use core::fmt;
use core::task::{Context, Poll};
use core::time::Duration;
use std::sync::Arc;
use std::time::Instant;

use super::doorbell::deadline_after;
use super::error::{RecvError, SendError, TryRecvError, TrySendError};
use super::futures::{BroadcastAsync, RecvAsync, RecvBatchAsync, SendAsync, SendBatchAsync};
use super::ring::Matrix;
use crate::sync::{fence, Ordering};

/// The send end of one point-to-point channel: from this worker to worker
/// [`target`](Sender::target). Messages arrive in the order they were sent
/// (FIFO per pair).
///
/// Bounded: at most [`capacity`](Sender::capacity) messages are in flight;
/// [`send`](Sender::send) then blocks (parks) until the receiver takes one,
/// [`try_send`](Sender::try_send) hands the message back. Dropping the
/// sender (or [`done`](Sender::done)) closes this pair: once every sender of
/// a channel is gone, its receiver drains and then reports disconnected.
///
/// # Examples
///
/// ```
/// use evlatch_std::exchange::{initialize, Config};
///
/// let guards = initialize(Config::Process(2), |mut w| {
///     let (mut txs, mut rx) = w.allocate::<u64>(0).unwrap();
///     for tx in &mut txs {
///         tx.send(w.index() as u64).unwrap();
///     }
///     drop(txs);
///     let mut sum = 0;
///     while let Ok(v) = rx.recv() {
///         sum += v;
///     }
///     sum
/// })
/// .unwrap();
/// assert!(guards.join().into_iter().all(|r| r == Ok(1)));
/// ```
pub struct Sender<T> {
    matrix: Arc<Matrix<T>>,
    from: usize,
    to: usize,
    /// Our next position (the ring's `tail`; only we write it).
    tail: usize,
    /// The consumer's position as we last loaded it (`≤` the real one).
    head: usize,
    /// We set the ring's `tx_full` flag (a `Full` since our last send).
    full: bool,
}

impl<T> Sender<T> {
    pub(crate) fn new(matrix: Arc<Matrix<T>>, from: usize, to: usize) -> Self {
        Self {
            matrix,
            from,
            to,
            tail: 0,
            head: 0,
            full: false,
        }
    }

    /// The worker this sender sends to.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::exchange::{initialize, Config};
    /// initialize(Config::Process(3), |mut w| {
    ///     let (txs, _rx) = w.allocate::<()>(7).unwrap();
    ///     assert!(txs.iter().enumerate().all(|(i, tx)| tx.target() == i));
    /// })
    /// .unwrap()
    /// .join();
    /// ```
    pub fn target(&self) -> usize {
        self.to
    }

    /// How many messages may be in flight on this pair.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::exchange::{initialize, Config};
    /// initialize(Config::Thread, |mut w| {
    ///     let (txs, _rx) = w.allocate_bounded::<u8>(0, 5).unwrap();
    ///     assert_eq!(txs[0].capacity(), 5);
    /// })
    /// .unwrap()
    /// .join();
    /// ```
    pub fn capacity(&self) -> usize {
        self.ring().capacity()
    }

    /// Sends `value` if there is room now; never blocks.
    ///
    /// # Errors
    ///
    /// [`TrySendError::Full`] when `capacity` messages are in flight,
    /// [`TrySendError::Disconnected`] when the receiving worker is gone;
    /// both hand `value` back.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::exchange::{initialize, Config, TrySendError};
    /// initialize(Config::Thread, |mut w| {
    ///     let (mut txs, rx) = w.allocate_bounded::<u8>(0, 1).unwrap();
    ///     assert_eq!(txs[0].try_send(1), Ok(()));
    ///     assert_eq!(txs[0].try_send(2), Err(TrySendError::Full(2)));
    ///     drop(rx);
    ///     assert_eq!(txs[0].try_send(3), Err(TrySendError::Disconnected(3)));
    /// })
    /// .unwrap()
    /// .join();
    /// ```
    pub fn try_send(&mut self, value: T) -> Result<(), TrySendError<T>> {
        if self.ring().is_rx_closed() {
            return Err(TrySendError::Disconnected(value));
        }
        if self.room() == 0 {
            self.note_full();
            return Err(TrySendError::Full(value));
        }
        // SAFETY: we are the producer, `self.tail` is ours and `room() > 0`
        // means `tail < head + capacity` for a `head` we loaded.
        unsafe { self.ring().write(self.tail, value) };
        self.tail += 1;
        self.publish();
        Ok(())
    }

    /// Sends `value`, parking while the channel is full (back-pressure).
    ///
    /// # Errors
    ///
    /// [`SendError`] with `value` when the receiving worker is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::exchange::{initialize, Config};
    /// initialize(Config::Thread, |mut w| {
    ///     let (mut txs, mut rx) = w.allocate::<&str>(0).unwrap();
    ///     txs[0].send("hi").unwrap();
    ///     assert_eq!(rx.try_recv(), Ok("hi"));
    /// })
    /// .unwrap()
    /// .join();
    /// ```
    pub fn send(&mut self, value: T) -> Result<(), SendError<T>> {
        let mut value = value;
        loop {
            match self.try_send(value) {
                Ok(()) => return Ok(()),
                Err(TrySendError::Disconnected(v)) => return Err(SendError(v)),
                Err(TrySendError::Full(v)) => value = v,
            }
            self.wait_for_room();
        }
    }

    /// Moves as many messages from the front of `batch` as fit now into the
    /// channel, with one publication (and at most one wake-up) for all of
    /// them; never blocks. Returns how many were sent; the rest stay in
    /// `batch`, in order. `batch` keeps its allocation, for reuse.
    ///
    /// # Errors
    ///
    /// [`SendError`] when the receiving worker is gone (nothing is taken
    /// from `batch`).
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::exchange::{initialize, Config};
    /// initialize(Config::Thread, |mut w| {
    ///     let (mut txs, _rx) = w.allocate_bounded::<u32>(0, 2).unwrap();
    ///     let mut batch = vec![1, 2, 3];
    ///     assert_eq!(txs[0].try_send_batch(&mut batch), Ok(2));
    ///     assert_eq!(batch, [3]);
    /// })
    /// .unwrap()
    /// .join();
    /// ```
    pub fn try_send_batch(&mut self, batch: &mut Vec<T>) -> Result<usize, SendError<()>> {
        if self.ring().is_rx_closed() {
            return Err(SendError(()));
        }
        if batch.is_empty() {
            return Ok(0);
        }
        let k = self.room().min(batch.len());
        if k == 0 {
            self.note_full();
            return Ok(0);
        }
        // SAFETY: as in `try_send`: `k ≤ room()` slots are free at
        // `self.tail ..`, and `k ≤ batch.len()`.
        unsafe { self.ring().write_batch(self.tail, batch, k) };
        self.tail += k;
        self.publish();
        Ok(k)
    }

    /// Sends every message of `batch` (emptying it, keeping its allocation),
    /// in order, a ring's worth per publication, parking while the channel
    /// is full.
    ///
    /// # Errors
    ///
    /// [`SendError`] when the receiving worker is gone; the messages not
    /// sent stay in `batch`.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::exchange::{initialize, Config};
    /// initialize(Config::Thread, |mut w| {
    ///     let (mut txs, mut rx) = w.allocate::<u32>(0).unwrap();
    ///     let mut batch = vec![1, 2, 3];
    ///     txs[0].send_batch(&mut batch).unwrap();
    ///     assert!(batch.is_empty());
    ///     let mut got = Vec::new();
    ///     rx.try_recv_batch(&mut got, usize::MAX).unwrap();
    ///     assert_eq!(got, [1, 2, 3]);
    /// })
    /// .unwrap()
    /// .join();
    /// ```
    pub fn send_batch(&mut self, batch: &mut Vec<T>) -> Result<(), SendError<()>> {
        while !batch.is_empty() {
            if self.try_send_batch(batch)? == 0 {
                self.wait_for_room();
            }
        }
        Ok(())
    }

    /// The async form of [`send`](Self::send): a future that sends `value`
    /// once the channel has room, waiting without blocking the thread (a
    /// receiver that frees a slot wakes the task). Any executor.
    ///
    /// Cancel-safe in the sense that dropping the future leaves the channel
    /// as it was: a message not yet sent is dropped with the future, one
    /// already sent stays sent. (Use [`try_send`](Self::try_send) to keep
    /// the message when there is no room.)
    ///
    /// # Errors
    ///
    /// The future resolves to [`SendError`] with `value` when the receiving
    /// worker is gone.
    ///
    /// # Examples
    ///
    /// A sender moved into a task of a multi-thread runtime, sending more
    /// than the capacity while this worker receives:
    ///
    /// ```
    /// use evlatch_std::exchange::{initialize, Config};
    ///
    /// initialize(Config::Thread, |mut w| {
    ///     let (mut txs, mut rx) = w.allocate_bounded::<u32>(0, 2).unwrap();
    ///     let mut tx = txs.pop().unwrap();
    ///     let rt = tokio::runtime::Runtime::new().unwrap();
    ///     let task = rt.spawn(async move {
    ///         for i in 0..10 {
    ///             tx.send_async(i).await.unwrap();
    ///         }
    ///     });
    ///     let got: Vec<u32> = (0..10).map(|_| rx.recv().unwrap()).collect();
    ///     assert_eq!(got, (0..10).collect::<Vec<_>>());
    ///     rt.block_on(task).unwrap();
    /// })
    /// .unwrap()
    /// .join();
    /// ```
    pub fn send_async(&mut self, value: T) -> SendAsync<'_, T> {
        SendAsync::new(self, value)
    }

    /// The async form of [`send_batch`](Self::send_batch): a future that
    /// sends every message of `batch`, in order, waiting for room as it
    /// goes (emptying `batch`, keeping its allocation).
    ///
    /// Dropping the future before it resolves leaves the messages not yet
    /// sent in `batch`.
    ///
    /// # Errors
    ///
    /// The future resolves to [`SendError`] when the receiving worker is
    /// gone; the messages not sent stay in `batch`.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::exchange::{initialize, Config};
    ///
    /// initialize(Config::Thread, |mut w| {
    ///     let (mut txs, mut rx) = w.allocate::<u8>(0).unwrap();
    ///     let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    ///     let mut batch = vec![1, 2, 3];
    ///     rt.block_on(txs[0].send_batch_async(&mut batch)).unwrap();
    ///     assert!(batch.is_empty());
    ///     let mut got = Vec::new();
    ///     rx.try_recv_batch(&mut got, 10).unwrap();
    ///     assert_eq!(got, [1, 2, 3]);
    /// })
    /// .unwrap()
    /// .join();
    /// ```
    pub fn send_batch_async<'a>(&'a mut self, batch: &'a mut Vec<T>) -> SendBatchAsync<'a, T> {
        SendBatchAsync::new(self, batch)
    }

    /// Closes this pair now (the same as dropping the sender): the
    /// receiver, once it has received everything sent before, sees this
    /// sender as gone.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::exchange::{initialize, Config, TryRecvError};
    /// initialize(Config::Thread, |mut w| {
    ///     let (mut txs, mut rx) = w.allocate::<u8>(0).unwrap();
    ///     txs[0].send(1).unwrap();
    ///     txs.pop().unwrap().done();
    ///     assert_eq!(rx.try_recv(), Ok(1));
    ///     assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    /// })
    /// .unwrap()
    /// .join();
    /// ```
    pub fn done(self) {}

    fn ring(&self) -> &super::ring::Ring<T> {
        self.matrix.ring(self.from, self.to)
    }

    /// Free slots at `self.tail`, refreshing the consumer's position only
    /// when the cached one says "full".
    #[inline]
    fn room(&mut self) -> usize {
        let cap = self.ring().capacity();
        if self.tail - self.head == cap {
            self.head = self.ring().load_head();
        }
        cap - (self.tail - self.head)
    }

    /// Says (once per episode) that we found the ring full: a worker
    /// waiting in `Worker::wait` is then woken when space is freed.
    #[inline]
    fn note_full(&mut self) {
        if !self.full {
            self.full = true;
            self.ring().set_tx_full(true);
        }
    }

    /// Publishes everything written and rings the receiving worker if it
    /// waits (in `Worker::wait` or in its receiver).
    #[inline]
    fn publish(&mut self) {
        if self.full {
            self.full = false;
            self.ring().set_tx_full(false);
        }
        self.ring().publish_tail(self.tail);
        // Orders our `tail` store before the loads of the waiters' states
        // (store buffering with their announcements).
        fence(Ordering::SeqCst);
        self.matrix.ring_receiver_fenced(self.to);
    }

    /// Parks until the ring has room or its receiver is gone.
    fn wait_for_room(&mut self) {
        let ring = self.matrix.ring(self.from, self.to);
        let tail = self.tail;
        ring.space_bell()
            .wait(self.matrix.spin(), None, || ring.space_or_closed(tail));
    }

    /// The async wait for room: `Ready` once the ring has room or its
    /// receiver is gone, else registers `cx`'s waker on the ring's space
    /// bell.
    pub(super) fn poll_room(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let ring = self.matrix.ring(self.from, self.to);
        let tail = self.tail;
        if ring
            .space_bell()
            .poll_wait(cx.waker(), || ring.space_or_closed(tail))
        {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }

    /// Leaves the space bell (a dropped async send).
    pub(super) fn stop_waiting(&self) {
        self.ring().space_bell().stop_waiting();
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.ring().close_tx();
        // Orders the close before the loads of the waiters' states.
        fence(Ordering::SeqCst);
        self.matrix.ring_receiver_fenced(self.to);
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("from", &self.from)
            .field("to", &self.to)
            .field("capacity", &self.ring().capacity())
            .finish_non_exhaustive()
    }
}

/// This worker's receive end of a channel: the messages every worker's
/// sender for this worker sent, FIFO per sending worker, the senders
/// served in turn.
///
/// It reports [`Disconnected`](TryRecvError::Disconnected) once every
/// sender is gone (dropped, [`done`](Sender::done), or its worker exited or
/// panicked) and every message was received: no counting down by hand.
/// Dropping it disconnects the senders (their sends fail, handing the
/// message back).
///
/// # Examples
///
/// ```
/// use evlatch_std::exchange::{initialize, Config};
///
/// let guards = initialize(Config::Process(2), |mut w| {
///     let (txs, mut rx) = w.allocate::<usize>(1).unwrap();
///     for mut tx in txs {
///         tx.send(w.index()).unwrap();
///     }
///     let mut from = Vec::new();
///     while let Ok(v) = rx.recv() {
///         from.push(v);
///     }
///     from.sort();
///     from
/// })
/// .unwrap();
/// for r in guards.join() {
///     assert_eq!(r.unwrap(), [0, 1]);
/// }
/// ```
pub struct Receiver<T> {
    matrix: Arc<Matrix<T>>,
    to: usize,
    /// Per sending worker: our next position in its ring (that ring's
    /// `head`; only we write it).
    heads: Box<[usize]>,
    /// Per sending worker: its ring's `tail` as we last loaded it.
    tails: Box<[usize]>,
    /// The sending worker served next.
    next: usize,
}

impl<T> Receiver<T> {
    pub(crate) fn new(matrix: Arc<Matrix<T>>, to: usize) -> Self {
        let n = matrix.peers();
        Self {
            matrix,
            to,
            heads: vec![0; n].into_boxed_slice(),
            tails: vec![0; n].into_boxed_slice(),
            next: 0,
        }
    }

    /// Takes one message if any is there; never blocks.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`] when nothing is there now,
    /// [`TryRecvError::Disconnected`] when every sender is gone and every
    /// message was received.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::exchange::{initialize, Config, TryRecvError};
    /// initialize(Config::Thread, |mut w| {
    ///     let (mut txs, mut rx) = w.allocate::<u8>(0).unwrap();
    ///     assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    ///     txs[0].send(9).unwrap();
    ///     assert_eq!(rx.try_recv(), Ok(9));
    /// })
    /// .unwrap()
    /// .join();
    /// ```
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let n = self.heads.len();
        // The current sender first, from what we already know is there;
        // then the others (fresh tails); then the current one, fresh. A
        // sender that keeps its ring full cannot starve the others.
        for k in 0..=n {
            let from = (self.next + k) % n;
            if self.heads[from] == self.tails[from] {
                if k == 0 {
                    continue;
                }
                self.tails[from] = self.matrix.ring(from, self.to).load_tail();
                if self.heads[from] == self.tails[from] {
                    continue;
                }
            }
            self.next = from;
            let ring = self.matrix.ring(from, self.to);
            // SAFETY: we are the consumer; `heads[from] < tails[from]`, a
            // tail we loaded with Acquire.
            let value = unsafe { ring.read(self.heads[from]) };
            self.heads[from] += 1;
            ring.publish_head(self.heads[from]);
            self.freed(from);
            return Ok(value);
        }
        if self.all_drained() {
            Err(TryRecvError::Disconnected)
        } else {
            Err(TryRecvError::Empty)
        }
    }

    /// Moves up to `max` messages into `out` (any `Extend`, e.g. a reused
    /// `Vec`), every sender's available messages in turn, with one
    /// publication per sender; never blocks. Returns how many it moved
    /// (at least one; 0 only when `max` is 0).
    ///
    /// # Errors
    ///
    /// As [`try_recv`](Self::try_recv) when it moved nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::exchange::{initialize, Config};
    /// initialize(Config::Thread, |mut w| {
    ///     let (mut txs, mut rx) = w.allocate::<u8>(0).unwrap();
    ///     txs[0].send_batch(&mut vec![1, 2, 3]).unwrap();
    ///     let mut out = Vec::new();
    ///     assert_eq!(rx.try_recv_batch(&mut out, 2), Ok(2));
    ///     assert_eq!(rx.try_recv_batch(&mut out, 2), Ok(1));
    ///     assert_eq!(out, [1, 2, 3]);
    /// })
    /// .unwrap()
    /// .join();
    /// ```
    pub fn try_recv_batch(
        &mut self,
        out: &mut impl Extend<T>,
        max: usize,
    ) -> Result<usize, TryRecvError> {
        if max == 0 {
            return Ok(0);
        }
        let n = self.heads.len();
        let mut moved = 0;
        for k in 0..n {
            if moved == max {
                break;
            }
            let from = (self.next + k) % n;
            let ring = self.matrix.ring(from, self.to);
            if self.heads[from] == self.tails[from] {
                self.tails[from] = ring.load_tail();
            }
            let head = self.heads[from];
            let take = (self.tails[from] - head).min(max - moved);
            if take == 0 {
                continue;
            }
            let taken = Cell::new(0);
            {
                // Advances `head` past what was moved out, even if `out`
                // panics: no message is then dropped twice.
                let _advance = Advance {
                    ring,
                    head: &mut self.heads[from],
                    taken: &taken,
                };
                // SAFETY: we are the consumer; `head + take ≤ tails[from]`,
                // a tail we loaded with Acquire, and each position is read
                // once (`_advance` moves `heads` past them).
                unsafe { ring.read_into(head, take, out, &taken) };
            }
            self.freed(from);
            moved += taken.get();
        }
        self.next = (self.next + 1) % n;
        if moved > 0 {
            Ok(moved)
        } else if self.all_drained() {
            Err(TryRecvError::Disconnected)
        } else {
            Err(TryRecvError::Empty)
        }
    }

    /// Takes one message, parking until one arrives.
    ///
    /// # Errors
    ///
    /// [`RecvError::Disconnected`] when every sender is gone and every
    /// message was received.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::exchange::{initialize, Config, RecvError};
    /// initialize(Config::Thread, |mut w| {
    ///     let (mut txs, mut rx) = w.allocate::<u8>(0).unwrap();
    ///     txs[0].send(1).unwrap();
    ///     drop(txs);
    ///     assert_eq!(rx.recv(), Ok(1));
    ///     assert_eq!(rx.recv(), Err(RecvError::Disconnected));
    /// })
    /// .unwrap()
    /// .join();
    /// ```
    pub fn recv(&mut self) -> Result<T, RecvError> {
        self.recv_until(None)
    }

    /// Takes one message, parking until one arrives or `timeout` passes.
    ///
    /// # Errors
    ///
    /// [`RecvError::Timeout`], or [`RecvError::Disconnected`] as
    /// [`recv`](Self::recv).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use evlatch_std::exchange::{initialize, Config, RecvError};
    /// initialize(Config::Thread, |mut w| {
    ///     let (_txs, mut rx) = w.allocate::<u8>(0).unwrap();
    ///     assert_eq!(rx.recv_timeout(Duration::from_millis(5)), Err(RecvError::Timeout));
    /// })
    /// .unwrap()
    /// .join();
    /// ```
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<T, RecvError> {
        self.recv_until(deadline_after(timeout).or(Some(far_future())))
    }

    /// The async form of [`recv`](Self::recv): a future that resolves to
    /// the next message, waiting without blocking the thread (a sender's
    /// publication wakes the task). Any executor; combine it with your
    /// executor's timer for a timeout.
    ///
    /// Cancel-safe: dropping the future before it resolves loses no
    /// message.
    ///
    /// # Errors
    ///
    /// The future resolves to [`RecvError::Disconnected`] when every sender
    /// is gone and every message was received.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::exchange::{initialize, Config, RecvError};
    ///
    /// initialize(Config::Process(2), |mut w| {
    ///     let (mut txs, mut rx) = w.allocate::<usize>(0).unwrap();
    ///     let peer = 1 - w.index();
    ///     txs[peer].send(w.index()).unwrap();
    ///     drop(txs);
    ///     let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    ///     rt.block_on(async {
    ///         assert_eq!(rx.recv_async().await, Ok(peer));
    ///         assert_eq!(rx.recv_async().await, Err(RecvError::Disconnected));
    ///     });
    /// })
    /// .unwrap()
    /// .join();
    /// ```
    pub fn recv_async(&mut self) -> RecvAsync<'_, T> {
        RecvAsync::new(self)
    }

    /// The async form of [`recv_batch`](Self::recv_batch): a future that
    /// moves up to `max` messages into `out` once at least one is there.
    /// Cancel-safe: dropping it before it resolves loses no message.
    ///
    /// # Errors
    ///
    /// The future resolves to [`RecvError::Disconnected`] when every sender
    /// is gone and every message was received.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::exchange::{initialize, Config};
    ///
    /// initialize(Config::Thread, |mut w| {
    ///     let (mut txs, mut rx) = w.allocate::<u8>(0).unwrap();
    ///     txs[0].send_batch(&mut vec![4, 5]).unwrap();
    ///     let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    ///     let mut out = Vec::new();
    ///     assert_eq!(rt.block_on(rx.recv_batch_async(&mut out, 10)), Ok(2));
    ///     assert_eq!(out, [4, 5]);
    /// })
    /// .unwrap()
    /// .join();
    /// ```
    pub fn recv_batch_async<'a, E: Extend<T>>(
        &'a mut self,
        out: &'a mut E,
        max: usize,
    ) -> RecvBatchAsync<'a, T, E> {
        RecvBatchAsync::new(self, out, max)
    }

    /// Moves up to `max` messages into `out` like
    /// [`try_recv_batch`](Self::try_recv_batch), parking until at least one
    /// is there.
    ///
    /// # Errors
    ///
    /// [`RecvError::Disconnected`] when every sender is gone and every
    /// message was received.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::exchange::{initialize, Config};
    /// initialize(Config::Thread, |mut w| {
    ///     let (mut txs, mut rx) = w.allocate::<u8>(0).unwrap();
    ///     txs[0].send_batch(&mut vec![4, 5]).unwrap();
    ///     let mut out = Vec::new();
    ///     assert_eq!(rx.recv_batch(&mut out, 10), Ok(2));
    /// })
    /// .unwrap()
    /// .join();
    /// ```
    pub fn recv_batch(&mut self, out: &mut impl Extend<T>, max: usize) -> Result<usize, RecvError> {
        loop {
            match self.try_recv_batch(out, max) {
                Ok(k) => return Ok(k),
                Err(TryRecvError::Disconnected) => return Err(RecvError::Disconnected),
                Err(TryRecvError::Empty) => {
                    self.wait_for_data(None);
                }
            }
        }
    }

    fn recv_until(&mut self, deadline: Option<Instant>) -> Result<T, RecvError> {
        loop {
            match self.try_recv() {
                Ok(v) => return Ok(v),
                Err(TryRecvError::Disconnected) => return Err(RecvError::Disconnected),
                Err(TryRecvError::Empty) => {}
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(RecvError::Timeout);
            }
            self.wait_for_data(deadline);
        }
    }

    /// Whether some sender's ring has data, or every sender closed (what a
    /// waiting receiver waits for).
    fn data_or_closed(matrix: &Matrix<T>, to: usize) -> bool {
        let mut closed = true;
        for from in 0..matrix.peers() {
            let ring = matrix.ring(from, to);
            if ring.has_data() {
                return true;
            }
            closed &= ring.is_tx_closed();
        }
        closed
    }

    /// Parks until some sender's ring has data, or every sender closed.
    fn wait_for_data(&self, deadline: Option<Instant>) {
        let matrix = &*self.matrix;
        let to = self.to;
        matrix
            .data_bell(to)
            .wait(matrix.spin(), deadline, || Self::data_or_closed(matrix, to));
    }

    /// The async wait for data: `Ready` once some ring has data or every
    /// sender closed, else registers `cx`'s waker on the data bell.
    pub(super) fn poll_data(&self, cx: &mut Context<'_>) -> Poll<()> {
        let matrix = &*self.matrix;
        let to = self.to;
        if matrix
            .data_bell(to)
            .poll_wait(cx.waker(), || Self::data_or_closed(matrix, to))
        {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }

    /// Leaves the data bell (a dropped async receive).
    pub(super) fn stop_waiting(&self) {
        self.matrix.data_bell(self.to).stop_waiting();
    }

    /// After publishing a new `head` of `from`'s ring: wakes its sender if
    /// it waits for space.
    #[inline]
    fn freed(&self, from: usize) {
        // Orders our `head` store before the load of the sender's state
        // (store buffering with its announcement; see `bell`).
        fence(Ordering::SeqCst);
        let ring = self.matrix.ring(from, self.to);
        ring.space_bell().ring_fenced();
        // The sender's worker may wait in `Worker::wait` for this space.
        if ring.is_tx_full() {
            self.matrix.doorbell(from).ring_fenced();
        }
    }

    fn all_drained(&self) -> bool {
        (0..self.heads.len())
            .all(|from| self.matrix.ring(from, self.to).is_drained(self.heads[from]))
    }
}

/// Publishes a receiver's new `head` for one ring when dropped: after a
/// batch moved out `taken` messages, or while `out` unwinds.
struct Advance<'a, T> {
    ring: &'a super::ring::Ring<T>,
    head: &'a mut usize,
    taken: &'a Cell<usize>,
}

impl<T> Drop for Advance<'_, T> {
    fn drop(&mut self) {
        *self.head += self.taken.get();
        self.ring.publish_head(*self.head);
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        for from in 0..self.matrix.peers() {
            self.matrix.ring(from, self.to).close_rx();
        }
        // Wake senders blocked on a full ring: their send now fails. The
        // fence orders the closes before the loads of their states.
        fence(Ordering::SeqCst);
        for from in 0..self.matrix.peers() {
            self.matrix.ring(from, self.to).space_bell().ring_fenced();
            self.matrix.doorbell(from).ring_fenced();
        }
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("worker", &self.to)
            .field("peers", &self.matrix.peers())
            .finish_non_exhaustive()
    }
}

/// A deadline so far away that it is never reached (for a timeout too
/// large for `Instant`).
fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400 * 365 * 30)
}

/// Sends a clone of each message to every worker (one sender per worker,
/// each FIFO), from [`Worker::broadcast`](super::Worker::broadcast).
///
/// # Examples
///
/// ```
/// use evlatch_std::exchange::{initialize, Config};
///
/// let guards = initialize(Config::Process(2), |mut w| {
///     let (mut tx, mut rx) = w.broadcast::<String>(0).unwrap();
///     if w.index() == 0 {
///         tx.send("hello".to_string()).unwrap();
///     }
///     drop(tx);
///     rx.recv().unwrap()
/// })
/// .unwrap();
/// assert!(guards.join().into_iter().all(|r| r.unwrap() == "hello"));
/// ```
pub struct Broadcaster<T> {
    senders: Vec<Sender<T>>,
}

impl<T: Clone> Broadcaster<T> {
    pub(crate) fn new(senders: Vec<Sender<T>>) -> Self {
        Self { senders }
    }

    /// Sends a clone of `value` to every worker whose receiver is still
    /// there, parking while a channel is full.
    ///
    /// # Errors
    ///
    /// [`SendError`] with `value` when every worker's receiver is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::exchange::{initialize, Config};
    /// initialize(Config::Thread, |mut w| {
    ///     let (mut tx, mut rx) = w.broadcast::<u8>(0).unwrap();
    ///     tx.send(3).unwrap();
    ///     assert_eq!(rx.try_recv(), Ok(3));
    /// })
    /// .unwrap()
    /// .join();
    /// ```
    pub fn send(&mut self, value: T) -> Result<(), SendError<T>> {
        let mut delivered = false;
        let (last, rest) = match self.senders.split_last_mut() {
            Some(split) => split,
            None => return Err(SendError(value)),
        };
        for tx in rest {
            delivered |= tx.send(value.clone()).is_ok();
        }
        match last.send(value) {
            Ok(()) => Ok(()),
            Err(SendError(v)) if !delivered => Err(SendError(v)),
            Err(_) => Ok(()),
        }
    }

    /// The async form of [`send`](Self::send): a future that sends a clone
    /// of `value` to every worker whose receiver is still there, waiting
    /// for room in each channel in turn without blocking the thread.
    ///
    /// Dropping the future before it resolves leaves the workers it
    /// already reached with their copy and the others without one.
    ///
    /// # Errors
    ///
    /// The future resolves to [`SendError`] with `value` when every
    /// worker's receiver is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::exchange::{initialize, Config};
    ///
    /// initialize(Config::Thread, |mut w| {
    ///     let (mut tx, mut rx) = w.broadcast::<u8>(0).unwrap();
    ///     let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    ///     rt.block_on(tx.send_async(3)).unwrap();
    ///     assert_eq!(rx.try_recv(), Ok(3));
    /// })
    /// .unwrap()
    /// .join();
    /// ```
    pub fn send_async(&mut self, value: T) -> BroadcastAsync<'_, T> {
        BroadcastAsync::new(&mut self.senders, value)
    }

    /// Closes every pair now (the same as dropping the broadcaster).
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::exchange::{initialize, Config, TryRecvError};
    /// initialize(Config::Thread, |mut w| {
    ///     let (tx, mut rx) = w.broadcast::<u8>(0).unwrap();
    ///     tx.done();
    ///     assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    /// })
    /// .unwrap()
    /// .join();
    /// ```
    pub fn done(self) {}
}

impl<T> fmt::Debug for Broadcaster<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Broadcaster")
            .field("peers", &self.senders.len())
            .finish_non_exhaustive()
    }
}
