//! Worker exchange channels, after timely_communication: `n` worker
//! threads, each allocating typed channels by id; a channel gives each
//! worker one [`Sender`] per worker (sender `i` goes to worker `i`) and its
//! own [`Receiver`]. Each point-to-point channel is FIFO and bounded.
//!
//! What it adds to timely_communication's model:
//!
//! - **Termination**: once every worker's sender for this worker is gone
//!   (dropped, [`Sender::done`], or its worker exited or panicked), the
//!   receiver drains and then reports disconnected — no counting down.
//! - **Back-pressure**: at most `capacity` messages in flight per pair
//!   ([`DEFAULT_CAPACITY`] unless [`Worker::allocate_bounded`] says
//!   otherwise); [`Sender::send`] parks while full, [`Sender::try_send`]
//!   hands the message back. Nothing is ever dropped. (A worker that
//!   blocks sending to a peer that blocks sending back deadlocks, as with
//!   any bounded channel: exchange in rounds no larger than the capacity,
//!   or use `try_send` and receive in between.)
//! - **No allocation per message**: a pair's ring of slots is allocated
//!   once, when the id is allocated, and reused; batch operations
//!   ([`Sender::send_batch`], [`Receiver::try_recv_batch`]) move many
//!   messages per publication into and out of buffers you reuse, as one
//!   or two block copies per ring (two where the run wraps around).
//! - **Waiting without spinning**: [`Worker::wait`] (or
//!   [`Worker::wait_async`]) parks until a channel has news and returns
//!   the ids that do (timely's `events`). Senders wake a worker only when
//!   it announced that it waits — a burst costs one wake-up, a busy
//!   receiver none.
//! - **Mistakes are errors**: an id allocated twice, or with different
//!   types or capacities on different workers, is an [`Error`]; a worker
//!   never waits for a peer to allocate, and a peer that never does counts
//!   as disconnected.
//! - **A panicking worker** is reported by [`WorkerGuards::join`] as
//!   [`WorkerError::Panicked`] with its message; its peers see its
//!   senders as dropped.
//!
//! Only [`Config::Thread`] and [`Config::Process`] exist so far (the
//! enum is `#[non_exhaustive]`: a cross-process mode is planned).
//! Endpoints ([`Sender`], [`Receiver`], [`Broadcaster`]) are `Send`: move
//! them to another thread, or into a task of a multi-thread async runtime;
//! each blocking operation has an async form ([`Sender::send_async`],
//! [`Receiver::recv_async`], …). A moved sender keeps its channel open
//! until it is dropped, even after its worker's closure returned. The
//! [`Worker`] itself is `!Send`: it stays on its thread, whose doorbell
//! [`Worker::wait`] parks on.
//!
//! ```compile_fail
//! fn assert_send<T: Send>() {}
//! assert_send::<evlatch_std::exchange::Worker>(); // `Worker` is `!Send`
//! ```
//!
//! # How it works
//!
//! Channel id → a matrix of `peers × peers` single-producer
//! single-consumer rings, created by the first worker that allocates it.
//! Each worker has one doorbell, a state word (`IDLE`, `PARKED`,
//! `POLLING`, `RUNG`): a sender publishes, issues a `SeqCst` fence and
//! reads the target's doorbell and its receiver's data bell, and only if
//! one says it waits does it pay for a wake-up (an unpark or a waker
//! call). Each endpoint waits on a bell of its own (an `atomic-waker` slot
//! plus a "waiting" flag, one waiter at a time): a blocked sender on its
//! ring's space bell, which the receiver rings after freeing a slot; a
//! blocked receiver on its data bell. A blocking wait registers a waker
//! that unparks its thread (made once per thread), an async one its
//! task's, so both wake without spinning and from any thread. Before it
//! parks, a blocking waiter spins for a few microseconds when there are
//! no more workers than cores (each can have one), and otherwise yields
//! its core for up to 50 µs (with shared cores a spin would burn the time
//! slice the peer needs to answer; a yield hands it over without a futex
//! wake). Because such yielding workers never let a core look idle, the
//! scheduler seldom evens out an uneven start, so oversubscribed workers
//! start spread over the cores in turn (Linux; see [`initialize`]). The
//! race arguments are in the source and checked by loom models.
//!
//! # Examples
//!
//! Two workers, each sending its index and a countdown to the other:
//!
//! ```
//! use evlatch_std::exchange::{initialize, Config};
//!
//! let guards = initialize(Config::Process(2), |mut worker| {
//!     let (mut senders, mut receiver) = worker.allocate::<(usize, u32)>(0).unwrap();
//!     let peer = 1 - worker.index();
//!     for n in (1..=3).rev() {
//!         senders[peer].send((worker.index(), n)).unwrap();
//!     }
//!     drop(senders); // done: the peer's receiver disconnects after these
//!     let mut got = Vec::new();
//!     while let Ok(msg) = receiver.recv() {
//!         got.push(msg);
//!     }
//!     got
//! })
//! .unwrap();
//! let results = guards.join();
//! assert_eq!(results[0], Ok(vec![(1, 3), (1, 2), (1, 1)]));
//! assert_eq!(results[1], Ok(vec![(0, 3), (0, 2), (0, 1)]));
//! ```

mod bell;
mod channel;
mod doorbell;
mod error;
mod futures;
mod initialize;
mod placement;
mod registry;
mod ring;
mod worker;

#[cfg(all(test, evlatch_loom))]
mod loom_models;

pub use channel::{Broadcaster, Receiver, Sender};
pub use error::{Error, RecvError, SendError, TryRecvError, TrySendError, WorkerError};
pub use futures::{BroadcastAsync, RecvAsync, RecvBatchAsync, SendAsync, SendBatchAsync};
#[cfg(all(feature = "zenoh", not(evlatch_loom)))]
pub(crate) use initialize::Seats;
pub use initialize::{initialize, Config, WorkerGuards};
pub use worker::{WaitAsync, Worker};

/// The capacity of a channel allocated with [`Worker::allocate`]: messages
/// in flight per pair of workers, before [`Sender::send`] blocks.
///
/// # Examples
///
/// ```
/// use evlatch_std::exchange::{initialize, Config, DEFAULT_CAPACITY};
/// initialize(Config::Thread, |mut w| {
///     let (txs, _rx) = w.allocate::<u8>(0).unwrap();
///     assert_eq!(txs[0].capacity(), DEFAULT_CAPACITY);
/// })
/// .unwrap()
/// .join();
/// ```
pub const DEFAULT_CAPACITY: usize = 1024;
