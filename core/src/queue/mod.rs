//! Bounded lock-free MPMC event queues: [`EventQueue`] (inline, `const fn
//! new`), [`HeapEventQueue`] (run-time capacity, `alloc`) and
//! [`PriorityQueue`] (two levels), all on one SCQ implementation.
//!
//! Modules, bottom up: `entry` (ring geometry and the packed entry word),
//! `ring` (the SCQ index ring), `storage` (inline or boxed memory), `raw`
//! (the value queue over two index rings), `counter` (the drop count),
//! `stall` (the test-only stall hook), then the public types.

mod api;
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
mod storage;
#[cfg(test)]
mod tests;

pub use entry::MAX_QUEUE_CAPACITY;
pub use error::{CapacityError, Full};
#[cfg(feature = "alloc")]
pub use heap::HeapEventQueue;
pub use inline::EventQueue;
pub use priority::{Priority, PriorityQueue};
