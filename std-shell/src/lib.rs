//! # evlatch-std
//!
//! The std shell of [`evlatch`]:
//!
//! - [`EventExt`]: blocking [`wait`](EventExt::wait),
//!   [`wait_timeout`](EventExt::wait_timeout),
//!   [`wait_deadline`](EventExt::wait_deadline) and async
//!   [`wait_async`](EventExt::wait_async) on a core [`Event`], from any
//!   executor, cancel-safe, with any number of mixed waiters;
//! - [`channel`]: bounded MPMC channels (FIFO, lossy overwrite-oldest, two
//!   priorities) with blocking, timeout, non-blocking and async operations;
//! - [`service`]: a topic publish/subscribe event service (CCA style):
//!   wildcard subscriptions, synchronous or dispatcher-thread delivery,
//!   bounded queues with counted drops, TTL, filters, `sys` events;
//! - [`pipeline`]: an event loop (SPDL style): a source, concurrent stages
//!   with bounded queues between them, batching, failure budgets,
//!   priorities and statistics, on its own executor;
//! - [`exchange`]: worker exchange channels (timely_communication style):
//!   typed, bounded, FIFO per pair, with termination and parking;
//! - `zenoh` (feature `zenoh`): the event service across processes and
//!   machines over Eclipse Zenoh;
//! - [`wait_all`], [`wait_any`] (and async forms) and [`chain`]: an event
//!   that finishes when its preconditions finish.
//!
//! Waiters never burn a core: after a short bounded spin they park (threads)
//! or return `Pending` (tasks) and are woken by the core's wake hook, which
//! this crate registers the first time anything waits.
//!
//! Waiting allocates nothing: a blocked thread's waiter lives on its stack,
//! a pending future's inside the future (so the futures are `!Unpin`), and a
//! cancelled wait (timeout, dropped future) unlinks itself in O(1). Waiters
//! of one event are woken in the order they started waiting.
//!
//! Where waiting takes a lock, and why no finisher waits on it forever:
//! `record`, `set_finished`, `set_failed`, `status` and `reset` never take
//! one. A finish that finds armed waiters calls this crate's wake hook, which
//! takes the lock of one bucket of the waiter table (a waiter linking or
//! unlinking itself takes the same lock). Under it happens only list
//! surgery — a few pointer writes per waiter, no user code, no allocation, no
//! wake-up (wake-ups are delivered after the lock is released, 32 at a time)
//! — so a finisher waits at most for other threads' bounded list surgery. A
//! panicking `Waker` does not stop the others: every other waiter is still
//! woken, then the panic continues on the finishing thread.
//!
//! # Examples
//!
//! ```
//! use std::sync::Arc;
//! use evlatch_std::{Event, EventExt, EventStatus};
//!
//! let event = Arc::new(Event::new());
//! event.record().unwrap();
//! let e = event.clone();
//! let t = std::thread::spawn(move || e.wait());
//! event.set_finished().unwrap();
//! assert_eq!(t.join().unwrap(), EventStatus::Success);
//! ```

#[cfg(any(feature = "zenoh", all(test, evlatch_loom)))]
mod backlog;
pub mod channel;
mod deps;
pub mod diagnostics;
pub mod exchange;
mod list;
mod list_lock;
mod notify;
mod parking;
pub mod pipeline;
pub mod service;
mod sync;
mod wait;
mod wake_list;
#[cfg(all(feature = "zenoh", not(evlatch_loom)))]
pub mod zenoh;

pub use deps::{chain, wait_all, wait_all_async, wait_any, wait_any_async, WaitAny};
pub use evlatch::{ErrorMessage, Event, EventError, EventStatus};
pub use wait::{EventExt, Timeout, WaitFuture};

/// Registers this crate's wake hook and its CPU→CPU wait function with the
/// core now, rather than at the first wait. Idempotent.
///
/// `DeviceEvent::finish` on a CPU event works without it (before anything
/// waited through this crate, the core waits by spinning); after it, that
/// finish and `evlatch::backend::wait(DeviceType::CPU, ..)` on CPU events
/// park the thread instead. Call it at start-up in a program that waits
/// through the backend traits.
///
/// # Examples
///
/// ```
/// use evlatch::backend::{wait, DeviceType};
/// evlatch_std::install();
/// let event = evlatch::Event::new();
/// event.set_finished().unwrap();
/// wait(DeviceType::CPU, &event, &()).unwrap();
/// ```
pub fn install() {
    parking::install();
}
