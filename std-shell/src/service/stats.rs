//! What the service counts: [`ServiceStats`] for the whole service,
//! [`SubscriptionStats`] for one subscription, and the counters behind them.

use crate::sync::{AtomicUsize, Ordering};

/// A snapshot of the service's counters, from
/// [`EventService::stats`](super::EventService::stats). Each counter is
/// exact, and read separately (not all at one instant). Counters are
/// `usize`s inside: on 32-bit targets they wrap after 2³² counts.
///
/// An event published to a topic that `n` subscriptions match is counted
/// once in `published` and `dispatched`, and `n` times across `delivered`,
/// `dropped`, `expired` and `filtered`.
///
/// # Examples
///
/// ```
/// use evlatch_std::service::{EventService, Message};
/// let service = EventService::synchronous();
/// let _a = service.subscriber().subscribe("t")?;
/// let _b = service.subscriber().subscribe("*")?;
/// service.publisher().publish("t", Message::new())?;
/// service.process_events()?;
/// let stats = service.stats();
/// assert_eq!((stats.published, stats.dispatched, stats.delivered), (1, 1, 2));
/// assert_eq!(stats.subscriptions, 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServiceStats {
    /// User events accepted into a service queue.
    pub published: u64,
    /// User events refused by the publish filter.
    pub rejected: u64,
    /// Events (user and `sys`) taken off a service queue and matched.
    pub dispatched: u64,
    /// Hand-overs to subscriptions: pushes into a subscription queue plus
    /// events passed to a subscription's listeners.
    pub delivered: u64,
    /// Events lost to full subscription queues ([`Overflow`](super::Overflow)
    /// `DropOldest` and `DropNewest`, and `Block` at shutdown), once per
    /// subscription.
    pub dropped: u64,
    /// Events whose time-to-live ran out: once per event that expired in a
    /// service queue, once per subscription for one that expired in a
    /// subscription queue.
    pub expired: u64,
    /// Events skipped by a subscription's receive filter, once per
    /// subscription.
    pub filtered: u64,
    /// Panics caught in listeners and receive filters.
    pub listener_panics: u64,
    /// The service's own `sys` events queued.
    pub sys_published: u64,
    /// The service's own `sys` events that could not be queued (service
    /// queue 0 full, or shutting down). Counted, never announced.
    pub sys_dropped: u64,
    /// Subscriptions now.
    pub subscriptions: u64,
}

/// A snapshot of one subscription's counters, from
/// [`Subscription::stats`](super::Subscription::stats).
///
/// Every event dispatched to a subscription ends up counted in exactly one
/// of `received`, `dropped`, `expired` and `filtered` — or is still queued
/// (`queued`), or is discarded unreceived when the subscription ends.
///
/// # Examples
///
/// ```
/// use evlatch_std::service::{EventService, Message, Overflow, SubscribeOptions};
/// let service = EventService::synchronous();
/// let options = SubscribeOptions::new().capacity(1).overflow(Overflow::DropOldest);
/// let sub = service.subscriber().subscribe_with("t", options)?;
/// let publisher = service.publisher();
/// publisher.publish("t", Message::new())?;
/// publisher.publish("t", Message::new())?;
/// service.process_events()?;
/// let stats = sub.stats();
/// assert_eq!((stats.dropped, stats.queued, stats.received), (1, 1, 0));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SubscriptionStats {
    /// Events returned by a receive, or passed to the listeners (once per
    /// event, however many listeners).
    pub received: u64,
    /// Events lost to the full queue.
    pub dropped: u64,
    /// Events whose time-to-live ran out before they were received.
    pub expired: u64,
    /// Events the receive filter skipped.
    pub filtered: u64,
    /// Events in the queue now.
    pub queued: u64,
}

/// The service-wide counters, each alone on its cache line: the
/// publishing, delivering and receiving threads each bump their own once
/// per event, and counters sharing a line would bounce it between them.
/// Every update is `Relaxed`: counters order nothing, and a reader wants
/// each exact value, not a consistent set.
#[derive(Default)]
pub(super) struct Counters {
    pub(super) published: Line<Counter>,
    pub(super) rejected: Line<Counter>,
    pub(super) dispatched: Line<Counter>,
    pub(super) delivered: Line<Counter>,
    pub(super) dropped: Line<Counter>,
    pub(super) expired: Line<Counter>,
    pub(super) filtered: Line<Counter>,
    pub(super) listener_panics: Line<Counter>,
    pub(super) sys_published: Line<Counter>,
    pub(super) sys_dropped: Line<Counter>,
}

/// The per-subscription counters (`Relaxed`, like [`Counters`]). The
/// delivering thread touches them per event (a wide fan-out: for every
/// subscription), so they stay with the subscription's other fields —
/// except `pulled`, which a receiving thread bumps per event, on a line of
/// its own so that it does not bounce the fields the delivering thread
/// reads. `received` in the stats is `passed + pulled`.
#[derive(Default)]
pub(super) struct SubCounters {
    /// Events passed to the subscription's listeners.
    pub(super) passed: Counter,
    /// Events received from the subscription's queue.
    pub(super) pulled: Line<Counter>,
    pub(super) dropped: Counter,
    pub(super) expired: Counter,
    pub(super) filtered: Counter,
}

impl SubCounters {
    /// Events received: from the queue, or by the listeners.
    pub(super) fn received(&self) -> u64 {
        self.passed.get().saturating_add(self.pulled.get())
    }
}

/// A value alone on its cache line (128 bytes: two lines, for the adjacent
/// line prefetcher).
#[derive(Default)]
#[repr(align(128))]
pub(super) struct Line<T>(T);

impl<T> core::ops::Deref for Line<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

/// One monotonic event counter.
pub(super) struct Counter(AtomicUsize);

impl Default for Counter {
    fn default() -> Self {
        Counter(AtomicUsize::new(0))
    }
}

impl Counter {
    pub(super) fn add(&self, n: usize) {
        if n > 0 {
            // Relaxed: a count, no data hangs on it.
            self.0.fetch_add(n, Ordering::Relaxed);
        }
    }

    pub(super) fn incr(&self) {
        self.add(1);
    }

    pub(super) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed) as u64
    }

    pub(super) fn get_usize(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }
}
