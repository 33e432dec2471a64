//! A topic publish/subscribe event service, after the CCA Event Service.
//!
//! An [`EventService`] hands out [`Publisher`]s and [`Subscriber`]s.
//! Publishers publish [`Message`]s — a header and a body of typed
//! [`Value`]s, a [`Priority`], an optional time-to-live — under a dot-
//! separated [`Topic`](evlatch::topic::Topic) (`functions.signals.iteration`).
//! Subscribers subscribe with a [`Pattern`](evlatch::topic::Pattern)
//! (`*` = one or more segments, `?` = exactly one) and get a
//! [`Subscription`], which they receive [`Delivery`]s from (blocking, with a
//! timeout, async, or as an iterator) or give listeners. The service stamps
//! the publisher's id into every event's header ([`PUBLISHER_HEADER`]).
//! Matching costs the same however many subscriptions there are (the core's
//! [`TopicIndex`](evlatch::topic::TopicIndex)).
//!
//! ```
//! use evlatch_std::service::{EventService, Message};
//!
//! let service = EventService::synchronous();
//! let signals = service.subscriber().subscribe("functions.signals.*")?;
//! let publisher = service.publisher();
//! publisher.publish("functions.signals.iteration", Message::new().with_body("i", 7_i64))?;
//! service.process_events()?; // synchronous mode: deliver on this thread
//! let event = signals.try_recv()?;
//! assert_eq!(event.topic(), "functions.signals.iteration");
//! assert_eq!(event.body().get_i64("i"), Some(7));
//! assert_eq!(event.publisher(), publisher.id());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Modes
//!
//! Publishing puts the event in a bounded *service queue*; *delivery* takes
//! it out, finds the subscriptions that match it, and hands it to each.
//!
//! - [`Mode::Synchronous`] (the default): one service queue. Delivery
//!   happens when a thread calls [`EventService::process_events`], on that
//!   thread, until the queue is empty.
//! - [`Mode::Asynchronous`]`{ dispatchers: n }`: `n` dispatcher threads,
//!   each with its own service queue. Publishers are assigned to queues
//!   round-robin as they are created (`Publisher` 1 to queue 0, 2 to 1, …);
//!   the service's own `sys` events use queue 0.
//! - [`Mode::Direct`]: every publish delivers its event on the publishing
//!   thread before it returns — the lowest latency, no thread hand-off. When
//!   another thread is delivering, the event goes through the one service
//!   queue and the publish waits for its delivery; a publish from inside a
//!   listener is delivered right after the event in hand. `Block`
//!   subscriptions are refused (see [`Mode::Direct`]).
//!
//! Each queue has one consumer at a time, which takes events off it in
//! order (up to 32 at a time) and delivers each to all its subscriptions
//! before delivering the next. An event reaches every
//! subscription that exists *when it is delivered* (not when published):
//! a subscription receives every event delivered between its `subscribe`
//! returning and its end, and nothing after
//! [`unsubscribe`](Subscription::unsubscribe) (or its drop) returns.
//!
//! # Order
//!
//! Exactly this holds: **two events published through the same
//! [`Publisher`] with the same priority reach each subscription in the
//! order they entered the service queue** (for publishes from one thread:
//! program order), unless dropped, filtered or expired on the way. Nothing
//! else is ordered:
//!
//! - [`Priority::High`] events are delivered before `Low` events queued
//!   with them, so a `High` event overtakes earlier `Low` ones (a bounded
//!   starvation guard lets one `Low` through after every
//!   [`LOW_PRIORITY_EVERY`](crate::channel::LOW_PRIORITY_EVERY) `High`s);
//! - events of different publishers may arrive in any relative order — in
//!   asynchronous mode they may be delivered by different dispatchers at
//!   the same time; in direct mode an event published from one thread while
//!   another delivers may be delivered before or after that thread's own;
//! - the service's `sys` events are ordered among themselves only.
//!
//! # Bounded storage and overflow
//!
//! Every queue is an evlatch [`channel`](crate::channel) on the core's ring
//! and has a fixed capacity. A full *service* queue makes
//! [`Publisher::publish`] wait and [`Publisher::try_publish`] fail — nothing
//! is dropped there. A full *subscription* queue applies the subscription's
//! [`Overflow`] policy:
//!
//! - [`Overflow::DropOldest`] (default): the oldest queued event is dropped;
//! - [`Overflow::DropNewest`]: the new event is dropped;
//! - [`Overflow::Block`]: nothing is dropped; delivery waits. In
//!   asynchronous mode the dispatcher waits — a slow `Block` subscriber
//!   back-pressures every subscription that dispatcher serves and, once its
//!   queue fills (the dispatcher may hold up to 31 events it has taken
//!   but not yet delivered), its publishers. In synchronous mode `process_events` never
//!   waits: it stops with [`ProcessError::Blocked`] and resumes there next
//!   time (so a thread that both calls `process_events` and drains the
//!   subscription cannot deadlock itself); [`EventService::process_events_timeout`]
//!   waits up to a deadline first. A direct service refuses `Block`
//!   subscriptions ([`SubscribeError::BlockInDirectMode`]).
//!
//! Every dropped event is counted, per subscription
//! ([`SubscriptionStats::dropped`]) and for the service
//! ([`ServiceStats::dropped`]), shown to the subscriber as a *lag notice*
//! ([`SubscriptionRecvError::Lagged`]`(n)` from the next receive), and announced on
//! `sys.drops`.
//!
//! # Time-to-live
//!
//! [`Message::with_ttl`] sets how long an event stays deliverable, counted
//! from the publish call. An expired event is not delivered: it is
//! discarded when it reaches the head of the service queue, or when it is
//! received from a subscription queue, and counted
//! ([`ServiceStats::expired`], [`SubscriptionStats::expired`]). Events
//! without a TTL never read the clock.
//!
//! # Filters
//!
//! - On publish ([`Builder::publish_filter`]): runs on the publishing
//!   thread; a refused event is not queued, the publish returns
//!   [`PublishErrorKind::Rejected`], and it is counted
//!   ([`ServiceStats::rejected`]).
//! - On receive ([`SubscribeOptions::filter`]): runs on the delivering
//!   thread, per subscription; a refused event is skipped for that
//!   subscription and counted ([`SubscriptionStats::filtered`]).
//!
//! # Listeners
//!
//! [`Subscription::add_listener`] makes a subscription *push*: the
//! delivering thread calls its listeners with each event instead of queuing
//! it. A subscription's listeners run one event at a time (so they may be
//! `FnMut`), in the order added. A panicking listener (or receive filter) is
//! caught, counted ([`ServiceStats::listener_panics`]) and reported on
//! `sys.listener.panic`; it never kills a dispatcher, and it stays
//! registered. From inside a listener, a blocking publish to the same
//! service does not wait (it fails with [`PublishErrorKind::Full`] instead
//! of waiting for itself), and `process_events` returns
//! [`ProcessError::Reentrant`]. A listener may end its own subscription.
//! Two listeners of different subscriptions that each end the other's
//! subscription at the same time, on two dispatchers, deadlock: don't.
//!
//! # The reserved group `sys`
//!
//! Topics whose first segment is `sys` belong to the service; publishing
//! to one fails with [`PublishErrorKind::ReservedTopic`]. The service
//! publishes there (see [`sys`] for topics and fields):
//! `sys.subscription.added`, `sys.subscription.removed`, `sys.drops`,
//! `sys.listener.panic`. Only patterns that start with the literal `sys`
//! see them (`*` does not), and they are built only while such a
//! subscription exists. They cannot feed back on themselves: drops of
//! `sys` events and panics while handling them are counted, never
//! announced, and `sys.drops` is coalesced per subscription.
//!
//! # Shutdown
//!
//! Dropping the [`EventService`] (or [`EventService::shutdown`]) refuses
//! further publishes and subscribes, delivers every event already queued
//! (in synchronous mode on the dropping thread) and stops the dispatchers,
//! waiting for listener calls in progress. An event that finds a `Block`
//! queue full during shutdown is dropped and counted instead — in
//! asynchronous mode once the queue has stayed full for a grace period
//! (about 0.1 s), in synchronous mode at once (the dropping thread would
//! wait for itself). Then every subscription is disconnected: receives
//! drain what is queued and then return `Closed`.

mod config;
mod dispatch;
mod error;
mod future;
mod listener;
mod message;
mod publisher;
mod state;
mod stats;
mod subscription;
pub mod sys;
mod value;

use core::fmt;
use core::time::Duration;
use std::time::Instant;

pub use crate::channel::Priority;
pub use config::{Builder, Mode, Overflow, SubscribeOptions};
pub use error::{
    BuildError, ProcessError, PublishError, PublishErrorKind, SubscribeError,
    SubscriptionRecvError, SubscriptionRecvTimeoutError, SubscriptionTryRecvError,
};
pub use future::SubscriptionRecvFuture;
pub use listener::ListenerId;
pub use message::{Delivery, Message, PUBLISHER_HEADER};
pub use publisher::Publisher;
pub use stats::{ServiceStats, SubscriptionStats};
pub use subscription::{Subscriber, Subscription};
pub use value::{Fields, Value, INLINE_FIELDS};

use dispatch::{run_dispatcher, Consumer, OnFull};
use state::Core;

use crate::sync::{lock, thread, Arc};

/// The publisher id of the service's own events.
const SERVICE_PUBLISHER: u64 = 0;

/// A publish/subscribe event service (see the [module docs](self)).
///
/// The `EventService` value owns the service: it hands out handles,
/// processes events in synchronous mode, reports [`stats`](Self::stats),
/// and shuts the service down when dropped. Handles ([`Publisher`],
/// [`Subscriber`], [`Subscription`]) may outlive it; they then fail with
/// `Closed`.
///
/// # Examples
///
/// ```
/// use evlatch_std::service::{EventService, Message};
///
/// let service = EventService::asynchronous(2)?;
/// let sub = service.subscriber().subscribe("jobs.*")?;
/// let handles: Vec<_> = (0..2)
///     .map(|t| {
///         let publisher = service.publisher();
///         std::thread::spawn(move || {
///             for i in 0..100_i64 {
///                 publisher.publish("jobs.done", Message::new().with_body("n", t * 100 + i))?;
///             }
///             Ok::<(), evlatch_std::service::PublishError>(())
///         })
///     })
///     .collect();
/// for h in handles {
///     h.join().unwrap()?;
/// }
/// assert_eq!(sub.iter().take(200).count(), 200);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct EventService {
    core: Arc<Core>,
    dispatchers: Vec<thread::JoinHandle<()>>,
}

impl EventService {
    /// A [`Builder`] with the defaults: synchronous, service queues of
    /// [`Builder::DEFAULT_QUEUE_CAPACITY`] events per priority, no size
    /// limit, no publish filter.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::service::{EventService, Mode};
    /// let service = EventService::builder()
    ///     .mode(Mode::Asynchronous { dispatchers: 4 })
    ///     .queue_capacity(256)
    ///     .build()?;
    /// # let _ = service;
    /// # Ok::<(), evlatch_std::service::BuildError>(())
    /// ```
    #[must_use]
    pub fn builder() -> Builder {
        Builder::new()
    }

    /// A synchronous service with the default settings.
    ///
    /// # Panics
    ///
    /// Never in practice: it panics only if the default service queue
    /// cannot be allocated.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::service::{EventService, Mode};
    /// assert_eq!(EventService::synchronous().mode(), Mode::Synchronous);
    /// ```
    #[must_use]
    pub fn synchronous() -> Self {
        match Builder::new().build() {
            Ok(service) => service,
            Err(e) => panic!("the default synchronous service did not build: {e}"),
        }
    }

    /// An asynchronous service with `dispatchers` threads and the default
    /// settings.
    ///
    /// # Errors
    ///
    /// [`BuildError::NoDispatchers`] for 0, [`BuildError::Spawn`] if a
    /// thread would not start.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::service::{EventService, Mode};
    /// let service = EventService::asynchronous(3)?;
    /// assert_eq!(service.mode(), Mode::Asynchronous { dispatchers: 3 });
    /// # Ok::<(), evlatch_std::service::BuildError>(())
    /// ```
    pub fn asynchronous(dispatchers: usize) -> Result<Self, BuildError> {
        Builder::new()
            .mode(Mode::Asynchronous { dispatchers })
            .build()
    }

    fn from_builder(b: Builder) -> Result<Self, BuildError> {
        let queues = match b.mode {
            Mode::Synchronous | Mode::Direct => 1,
            Mode::Asynchronous { dispatchers: 0 } => return Err(BuildError::NoDispatchers),
            Mode::Asynchronous { dispatchers } => dispatchers,
        };
        let (core, receivers) = Core::new(
            b.mode,
            queues,
            b.queue_capacity,
            b.max_message_bytes,
            b.publish_filter,
        )
        .map_err(|_| BuildError::Capacity(b.queue_capacity))?;
        let mut service = EventService {
            core: Arc::new(core),
            dispatchers: Vec::with_capacity(receivers.len()),
        };
        for (q, rx) in receivers.into_iter().enumerate() {
            let core = service.core.clone();
            let consumer = Consumer::new(rx, q);
            let spawned = thread::Builder::new()
                .name(format!("evlatch-dispatch-{q}"))
                .spawn(move || run_dispatcher(core, consumer));
            match spawned {
                Ok(handle) => service.dispatchers.push(handle),
                // Dropping `service` stops the dispatchers started so far.
                Err(e) => return Err(BuildError::Spawn(e)),
            }
        }
        Ok(service)
    }

    /// The delivery mode.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::service::{EventService, Mode};
    /// assert_eq!(EventService::synchronous().mode(), Mode::Synchronous);
    /// ```
    #[must_use]
    pub fn mode(&self) -> Mode {
        self.core.mode
    }

    /// A new publisher, with a new id.
    ///
    /// # Examples
    ///
    /// See [`Publisher`].
    ///
    /// ```
    /// let service = evlatch_std::service::EventService::synchronous();
    /// let publisher = service.publisher();
    /// assert!(publisher.id() > 0);
    /// ```
    #[must_use]
    pub fn publisher(&self) -> Publisher {
        Publisher::new(self.core.clone())
    }

    /// A subscribing handle.
    ///
    /// # Examples
    ///
    /// See [`Subscriber`].
    ///
    /// ```
    /// let service = evlatch_std::service::EventService::synchronous();
    /// let sub = service.subscriber().subscribe("*")?;
    /// # let _ = sub;
    /// # Ok::<(), evlatch_std::service::SubscribeError>(())
    /// ```
    #[must_use]
    pub fn subscriber(&self) -> Subscriber {
        Subscriber::new(self.core.clone())
    }

    /// Synchronous mode: delivers every queued event on this thread, until
    /// the service queue is empty; returns how many events (the service's
    /// own included) it took off the queue. If other threads publish all
    /// the while, it runs as long as they do.
    ///
    /// Concurrent calls take turns (one delivers at a time, which keeps the
    /// order guarantee). It never waits for room in a subscription queue:
    /// see [`ProcessError::Blocked`].
    ///
    /// # Errors
    ///
    /// [`ProcessError::Blocked`] (a full `Block` subscription; the next call
    /// resumes there), [`ProcessError::Asynchronous`] (dispatcher threads
    /// deliver), [`ProcessError::Reentrant`] (called from a listener).
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::service::{EventService, Message, Overflow, ProcessError, SubscribeOptions};
    /// let service = EventService::synchronous();
    /// let options = SubscribeOptions::new().capacity(1).overflow(Overflow::Block);
    /// let sub = service.subscriber().subscribe_with("a", options)?;
    /// let publisher = service.publisher();
    /// publisher.publish("a", Message::new().with_body("n", 1_i64))?;
    /// publisher.publish("a", Message::new().with_body("n", 2_i64))?;
    /// let err = service.process_events().unwrap_err();
    /// assert_eq!(err, ProcessError::Blocked { subscription: sub.id(), processed: 1 });
    /// assert_eq!(sub.try_recv()?.body().get_i64("n"), Some(1));
    /// assert_eq!(service.process_events()?, 1); // resumed: event 2
    /// assert_eq!(sub.try_recv()?.body().get_i64("n"), Some(2));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn process_events(&self) -> Result<usize, ProcessError> {
        self.core.process(OnFull::StopAt(None))
    }

    /// [`process_events`](Self::process_events), but a full `Block`
    /// subscription is waited for, up to `timeout` from this call in all,
    /// before it stops with [`ProcessError::Blocked`].
    ///
    /// # Errors
    ///
    /// As `process_events`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use evlatch_std::service::{EventService, Message, Overflow, SubscribeOptions};
    /// let service = EventService::synchronous();
    /// let options = SubscribeOptions::new().capacity(1).overflow(Overflow::Block);
    /// let sub = service.subscriber().subscribe_with("a", options)?;
    /// let publisher = service.publisher();
    /// publisher.publish("a", Message::new())?;
    /// publisher.publish("a", Message::new())?;
    /// std::thread::scope(|s| {
    ///     s.spawn(|| sub.iter().take(2).count());
    ///     service.process_events_timeout(Duration::from_secs(60))
    /// })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn process_events_timeout(&self, timeout: Duration) -> Result<usize, ProcessError> {
        self.core
            .process(OnFull::StopAt(Some(deadline_after(timeout))))
    }

    /// The service's counters now (see [`ServiceStats`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::service::{EventService, Message};
    /// let service = EventService::synchronous();
    /// service.publisher().publish("a", Message::new())?;
    /// assert_eq!(service.stats().published, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn stats(&self) -> ServiceStats {
        let c = &self.core.counters;
        let subscriptions = {
            let reg = lock(&self.core.registry);
            reg.user.len() + reg.sys.len()
        };
        ServiceStats {
            published: c.published.get(),
            rejected: c.rejected.get(),
            dispatched: c.dispatched.get(),
            delivered: c.delivered.get(),
            dropped: c.dropped.get(),
            expired: c.expired.get(),
            filtered: c.filtered.get(),
            listener_panics: c.listener_panics.get(),
            sys_published: c.sys_published.get(),
            sys_dropped: c.sys_dropped.get(),
            subscriptions: subscriptions as u64,
        }
    }

    /// Shuts the service down (as dropping it does): refuses new publishes
    /// and subscribes, delivers what is queued, stops the dispatchers,
    /// disconnects every subscription. See the [module docs](self#shutdown).
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::service::{EventService, Message, SubscriptionRecvError};
    /// let service = EventService::asynchronous(1)?;
    /// let sub = service.subscriber().subscribe("a")?;
    /// let publisher = service.publisher();
    /// publisher.publish("a", Message::new())?;
    /// service.shutdown();
    /// assert!(sub.recv().is_ok()); // delivered before the dispatcher stopped
    /// assert_eq!(sub.recv().unwrap_err(), SubscriptionRecvError::Closed);
    /// assert!(publisher.publish("a", Message::new()).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn shutdown(self) {
        drop(self);
    }
}

impl Drop for EventService {
    fn drop(&mut self) {
        let core = &*self.core;
        core.close_gates();
        match core.mode {
            Mode::Asynchronous { .. } => {
                let me = thread::current().id();
                for handle in self.dispatchers.drain(..) {
                    // Dropped from inside a listener on a dispatcher: that
                    // one finishes on its own.
                    if handle.thread().id() != me {
                        let _ = handle.join();
                    }
                }
            }
            Mode::Synchronous | Mode::Direct => loop {
                // Dropped from inside a listener: the outer
                // `process_events` delivers the rest.
                if core.process(OnFull::Drop) == Err(ProcessError::Reentrant) {
                    break;
                }
                if core.queues[0].gate.is_closed_and_idle() {
                    // Nothing can be pushed any more: one last drain.
                    let _ = core.process(OnFull::Drop);
                    break;
                }
                // A publish is between its gate check and its push.
                thread::yield_now();
            },
        }
        core.close_registry();
    }
}

impl fmt::Debug for EventService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventService")
            .field("mode", &self.core.mode)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

fn deadline_after(timeout: Duration) -> Instant {
    let now = Instant::now();
    // A timeout too long to represent: as good as forever.
    now.checked_add(timeout)
        .unwrap_or_else(|| now + Duration::from_secs(60 * 60 * 24 * 365))
}
