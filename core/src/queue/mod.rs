//! Bounded MPMC event queues on two rings, each one generic type over its
//! storage (inline `[_; N]` with `const fn new`, or boxed with a run-time
//! capacity under `alloc`), used through its aliases:
//!
//! | ring | generic type | inline | heap |
//! |---|---|---|---|
//! | SCQ, strictly lock-free | [`ScqRing<T, S>`] | [`EventQueue<T, N>`] | `HeapEventQueue<T>` |
//! | stamp, linearizable, not lock-free | [`StampRing<T, S>`] | [`StampQueue<T, N>`] | `HeapStampQueue<T>` |
//!
//! and [`Prioritized<Q>`] over either ([`PriorityQueue<T, N>`] over
//! `EventQueue`).
//!
//! Modules: `scq/` and `stamp/` (one per ring: the algorithm in `mod.rs`,
//! its memory in `storage.rs`), and what they share: `capacity` (which
//! capacities a queue takes), `slot` (a value slot), `error`, `counter` (the
//! drop count), `batch` (batch pop), `stall` (the test-only stall hook), `relax`
//! (how the stamp ring yields while it waits), and `priority`. Nothing below imports the modules above it.
//!
//! # Two rings, two guarantees
//!
//! - [`EventQueue`] / `HeapEventQueue` (SCQ): **strictly lock-free** — a
//!   thread stalled anywhere in a push or pop never blocks the others.
//! - [`StampQueue`] / `HeapStampQueue` (a Vyukov-style stamp ring, one CAS
//!   per operation): **faster in the common case but NOT lock-free in the
//!   strict sense** — a thread stalled between its reservation (the CAS) and
//!   its completion (the stamp store) blocks the others once the ring wraps
//!   to its slot: their pops and pushes wait for it. Both rings are
//!   linearizable: `None` means the queue was empty at some instant of the
//!   call, `Full` that it was full (the stamp ring waits out a neighbour's
//!   operation in flight rather than answer wrongly). Same API, same capacity rules, same `Full`, `CapacityError`
//!   and drop counter.
//!

mod batch;
mod capacity;
mod counter;
mod error;
mod priority;
mod relax;
pub mod scq;
mod slot;
#[cfg(evlatch_stall_hook)]
pub mod stall;
#[cfg(not(evlatch_stall_hook))]
pub(crate) mod stall;
pub mod stamp;

pub use capacity::MAX_QUEUE_CAPACITY;
pub use error::{CapacityError, Full, PushIfError};
pub use priority::{Level, Prioritized, Priority, PriorityQueue, LOW_AFTER};
pub use relax::register_yield;
pub(crate) use relax::yield_now;
#[cfg(feature = "alloc")]
#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
pub use scq::HeapEventQueue;
pub use scq::{EventQueue, ScqRing};
#[cfg(feature = "alloc")]
#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
pub use stamp::HeapStampQueue;
pub use stamp::{StampQueue, StampRing};
