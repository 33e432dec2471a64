//! Bounded lock-free MPMC event queues: [`EventQueue`] (inline, `const fn
//! new`), [`HeapEventQueue`] (run-time capacity, `alloc`) and
//! [`PriorityQueue`] (two levels), all on one SCQ implementation.
//!
//! Modules, bottom up: `entry` (ring geometry and the packed entry word),
//! `ring` (the SCQ index ring), `storage` (inline or boxed memory), `raw`
//! (the value queue over two index rings), `counter` (the drop count),
//! `stall` (the test-only stall hook), then the public types.
//!
//! # Two rings, two guarantees
//!
//! - [`EventQueue`] / [`HeapEventQueue`] (SCQ): **strictly lock-free** — a
//!   thread stalled anywhere in a push or pop never blocks the others.
//! - [`StampQueue`] / [`HeapStampQueue`] (a Vyukov-style stamp ring, one CAS
//!   per operation): **faster in the common case but NOT lock-free in the
//!   strict sense** — a thread stalled between its reservation (the CAS) and
//!   its completion (the stamp store) blocks the others once the ring wraps
//!   to its slot: their pops and pushes wait for it. Both rings are
//!   linearizable: `None` means the queue was empty at some instant of the
//!   call, `Full` that it was full (the stamp ring waits out a neighbour's
//!   operation in flight rather than answer wrongly). Same API, same capacity rules, same `Full`, `CapacityError`
//!   and drop counter.
//!
//! The stamp ring's modules: `stamp_storage` (inline or boxed slots),
//! `stamp_raw` (the algorithm), `stamp_api` (the shared methods), then
//! `stamp_inline` and `stamp_heap` (the public types).

mod api;
mod batch;
mod counter;
mod entry;
mod error;
#[cfg(feature = "alloc")]
mod heap;
mod inline;
mod priority;
mod raw;
mod ring;
pub mod stall;
mod stamp_api;
#[cfg(feature = "alloc")]
mod stamp_heap;
mod stamp_inline;
mod stamp_raw;
mod stamp_storage;
#[cfg(test)]
mod stamp_tests;
mod storage;
#[cfg(test)]
mod tests;

pub use entry::MAX_QUEUE_CAPACITY;
pub use error::{CapacityError, Full};
#[cfg(feature = "alloc")]
pub use heap::HeapEventQueue;
pub use inline::EventQueue;
pub use priority::{Priority, PriorityQueue};
#[cfg(feature = "alloc")]
pub use stamp_heap::HeapStampQueue;
pub use stamp_inline::StampQueue;
