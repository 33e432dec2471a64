//! # evlatch
//!
//! A `#![no_std]`, lock-free event core for people who build runtimes:
//!
//! - [`Event`]: an event with Caffe2's state machine
//!   (`Initialized → Scheduled → Success | Failed`), record / query / reset,
//!   callbacks, an inline error message and a generation counter, so that
//!   waiters never miss a finish across reset and re-record;
//! - [`backend`]: per-device event backends, a static registry and a wait
//!   matrix;
//! - [`wake`]: the hooks through which shells (`evlatch-std`,
//!   `evlatch-cuda`) block threads and wake tasks;
//! - [`EventQueue`] (inline, `const fn new`), `HeapEventQueue` (run-time
//!   capacity, under `alloc`) and [`PriorityQueue`]: bounded lock-free MPMC
//!   event queues with overwrite-oldest and counted drops, **strictly
//!   lock-free** (SCQ: a stalled thread never blocks the others);
//! - [`StampQueue`] (inline) and `HeapStampQueue` (under `alloc`): the same
//!   API on a Vyukov-style stamp ring, faster in the common case but **not
//!   lock-free in the strict sense**: a thread stalled between its
//!   reservation and its completion blocks the others once the ring wraps
//!   to its slot;
//! - [`topic`]: hierarchical topics and wildcard patterns (`*`, `?`) with
//!   allocation-free matching, and under `alloc` a subscription index whose
//!   match cost does not grow with the number of subscriptions.
//!
//! ## Features
//!
//! - `alloc`: boxed-closure callbacks (`Event::on_finished`), `HeapEventQueue`,
//!   the topic index; without it an
//!   event holds [`INLINE_CALLBACKS`] function-pointer callbacks per
//!   generation.
//! - `portable-atomic`: route every atomic through `portable-atomic`, for
//!   targets without native compare-and-swap (e.g. `thumbv6m-none-eabi`,
//!   built with `--cfg portable_atomic_unsafe_assume_single_core` or
//!   portable-atomic's `critical-section` feature).
//!
//! ## Loom
//!
//! Build with `RUSTFLAGS="--cfg evlatch_loom"` to run evlatch's atomics on
//! loom, in this crate's models or in your own (see the `sync` module docs
//! in the source: create evlatch values inside `loom::model`).
//!
//! ## Example
//!
//! ```
//! use evlatch::{Event, EventStatus};
//!
//! let event = Event::new();
//! event.record().unwrap();
//! event.on_finished_fn(|status, _| assert_eq!(status, EventStatus::Success), 0).unwrap();
//! event.set_finished().unwrap();
//! assert!(event.is_finished());
//! ```
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::std_instead_of_core, clippy::alloc_instead_of_core)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "alloc")]
extern crate alloc;

#[cfg(test)]
extern crate std;

mod error;
mod event;
pub mod queue;
mod sync;

pub mod backend;
pub mod topic;
pub mod wake;

pub use error::EventError;
pub use event::{ErrorMessage, Event, EventStatus, INLINE_CALLBACKS, MESSAGE_CAPACITY};
#[cfg(evlatch_stall_hook)]
pub use queue::stall;
#[cfg(feature = "alloc")]
#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
pub use queue::HeapEventQueue;
#[cfg(feature = "alloc")]
#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
pub use queue::HeapStampQueue;
pub use queue::StampQueue;
pub use queue::{CapacityError, EventQueue, Full, Priority, PriorityQueue, MAX_QUEUE_CAPACITY};
