//! The state every handle of one service shares: the service queues and
//! their gates, the subscription registry, and the counters.

use std::sync::Arc as StdArc;

use evlatch::topic::{SubscriptionId, TopicIndex};

use super::config::{Mode, Overflow, PublishFilter, ReceiveFilter};
use super::dispatch::Consumer;
use super::listener::Listeners;
use super::message::Delivery;
use super::stats::{Counters, SubCounters};
use crate::channel::{Priority, PriorityReceiver, PrioritySender, Sender};
use crate::sync::{lock, Arc, AtomicBool, AtomicUsize, Mutex, Ordering};

/// What travels through a service queue.
pub(super) enum Item {
    /// An event to deliver (a user event, or a `sys` event already built),
    /// by value in the queue's slot: a publish allocates nothing, and the
    /// consumer allocates the shared `Arc` only if a subscription queue
    /// needs one.
    Event(Delivery),
    /// "This subscription dropped events": the `sys.drops` notice is built
    /// when the item is dispatched, so it reports every drop up to then.
    DropNotice(Arc<SubShared>),
    /// Wakes a dispatcher so it notices that its queue is closed and idle.
    Wake,
}

/// Who is publishing into one service queue, and whether it is closed.
///
/// State word: `in_flight * ONE | CLOSED?`, where `in_flight` counts the
/// publishes (and `sys` emits) between [`enter`](Gate::enter) and
/// [`leave`](Gate::leave).
///
/// - `enter`: `+ONE`; if `CLOSED` was already set, undone at once and
///   refused (nothing is pushed).
/// - `leave`: `-ONE`, after the push (or the failed push).
/// - `close`: sets `CLOSED`; it is never cleared.
///
/// The word equal to `CLOSED` (closed, nobody in flight) is final for
/// pushes: every push that will ever reach the queue has happened before
/// (`leave` is a release, the reader acquires), and any later `enter` sees
/// `CLOSED`. A dispatcher that sees it and then an empty queue may stop.
pub(super) struct Gate(AtomicUsize);

const CLOSED: usize = 1;
const ONE: usize = 2;

impl Gate {
    fn new() -> Self {
        Gate(AtomicUsize::new(0))
    }

    /// Registers a push in flight; `false` (and nothing registered) if the
    /// gate is closed. A refused `enter` may be the last to leave after
    /// close: then `wake` is called.
    fn enter(&self, wake: impl FnOnce()) -> bool {
        // AcqRel: totally ordered with `close` on this word; the push that
        // follows cannot be reordered before it.
        let prev = self.0.fetch_add(ONE, Ordering::AcqRel);
        if prev & CLOSED != 0 {
            self.leave(wake);
            return false;
        }
        true
    }

    /// Ends a push in flight; calls `wake` if it was the last one after
    /// the gate closed.
    fn leave(&self, wake: impl FnOnce()) {
        // AcqRel: the push happens-before a dispatcher's Acquire load that
        // sees the count drop.
        let prev = self.0.fetch_sub(ONE, Ordering::AcqRel);
        debug_assert!(prev >= ONE, "gate left more often than entered");
        if prev == CLOSED | ONE {
            wake();
        }
    }

    fn close(&self) {
        self.0.fetch_or(CLOSED, Ordering::AcqRel);
    }

    /// Closed, and no push in flight: no item will be pushed any more.
    pub(super) fn is_closed_and_idle(&self) -> bool {
        // Acquire: pairs with the last `leave`, so its push is visible.
        self.0.load(Ordering::Acquire) == CLOSED
    }
}

/// One service queue and its gate, alone on its cache line (its publishers
/// bump the gate twice per event).
#[repr(align(128))]
pub(super) struct Queue {
    pub(super) tx: PrioritySender<Item>,
    pub(super) gate: Gate,
}

/// The subscriptions. `user` holds patterns whose first segment is not the
/// literal `sys`; `sys` the others. User topics never start with `sys`, so
/// a user event is matched against `user` only, a `sys` event against
/// `sys` only.
pub(super) struct Registry {
    pub(super) user: TopicIndex<Arc<Route>>,
    pub(super) sys: TopicIndex<Arc<Route>>,
    /// Set by shutdown: no more subscriptions.
    pub(super) closed: bool,
}

/// The service side of one subscription: where its events go.
pub(super) struct Route {
    pub(super) shared: Arc<SubShared>,
    /// Into the subscription's queue. The last `Route` gone (removed from
    /// the registry, and from every dispatcher's target list) disconnects
    /// the queue, so the subscriber sees `Closed` after draining it.
    pub(super) tx: Sender<StdArc<Delivery>>,
    pub(super) filter: Option<ReceiveFilter>,
}

/// What the subscription handle and the service share about one
/// subscription.
pub(super) struct SubShared {
    pub(super) id: u64,
    pub(super) pattern: Box<str>,
    pub(super) overflow: Overflow,
    pub(super) counters: SubCounters,
    pub(super) listeners: Listeners,
    /// `DropOldest`: the queue's own displaced count, as far as it has been
    /// added to `counters.dropped` (raised with `fetch_max`, so concurrent
    /// dispatchers add each displacement exactly once).
    pub(super) lossy_seen: AtomicUsize,
    /// A [`Item::DropNotice`] for this subscription is queued. Set by the
    /// dispatcher that queues it, cleared by the one that dispatches it (or
    /// at once if it could not be queued).
    pub(super) notice_pending: AtomicBool,
    /// `counters.dropped` as of the last `sys.drops` notice built.
    pub(super) announced: AtomicUsize,
    /// Shutdown gave up waiting for room in this `Block` queue: later
    /// events do not wait either.
    pub(super) abandoned: AtomicBool,
}

impl SubShared {
    pub(super) fn new(id: u64, pattern: &str, overflow: Overflow) -> Self {
        SubShared {
            id,
            pattern: pattern.into(),
            overflow,
            counters: SubCounters::default(),
            listeners: Listeners::new(),
            lossy_seen: AtomicUsize::new(0),
            notice_pending: AtomicBool::new(false),
            announced: AtomicUsize::new(0),
            abandoned: AtomicBool::new(false),
        }
    }
}

/// Where a subscription sits in the registry.
#[derive(Clone, Copy)]
pub(super) struct RegistryKey {
    pub(super) reserved: bool,
    pub(super) id: SubscriptionId,
}

/// The state every handle of one service shares.
pub(super) struct Core {
    pub(super) mode: Mode,
    /// One per dispatcher (one in synchronous mode); `sys` events use 0.
    pub(super) queues: Box<[Queue]>,
    pub(super) registry: Mutex<Registry>,
    /// Bumped (`Release`, under the registry lock) on every registry
    /// change; a dispatcher that reads (`Acquire`) the value its target
    /// list was built at may reuse the list.
    pub(super) version: AtomicUsize,
    /// Whether any `sys` subscription exists (written under the registry
    /// lock; read as a hint): `sys` events are built only then.
    pub(super) has_sys_subs: AtomicBool,
    /// Shutdown has begun.
    pub(super) closing: AtomicBool,
    pub(super) next_publisher: AtomicUsize,
    pub(super) next_subscription: AtomicUsize,
    pub(super) max_message_bytes: Option<usize>,
    pub(super) publish_filter: Option<PublishFilter>,
    pub(super) counters: Counters,
    /// Synchronous mode: the consumer of queue 0, held by `process_events`.
    pub(super) sync_consumer: Option<Mutex<Consumer>>,
}

impl Core {
    /// The core and the receivers of its queues (for the dispatchers, or
    /// already inside `sync_consumer` in synchronous mode).
    pub(super) fn new(
        mode: Mode,
        queues: usize,
        capacity: usize,
        max_message_bytes: Option<usize>,
        publish_filter: Option<PublishFilter>,
    ) -> Result<(Core, Vec<PriorityReceiver<Item>>), crate::channel::CapacityError> {
        let mut txs = Vec::with_capacity(queues);
        let mut rxs = Vec::with_capacity(queues);
        for _ in 0..queues {
            let (tx, rx) = crate::channel::bounded_priority(capacity)?;
            txs.push(Queue {
                tx,
                gate: Gate::new(),
            });
            rxs.push(rx);
        }
        let sync_consumer = match mode {
            Mode::Synchronous | Mode::Direct => {
                rxs.pop().map(|rx| Mutex::new(Consumer::new(rx, 0)))
            }
            Mode::Asynchronous { .. } => None,
        };
        let core = Core {
            mode,
            queues: txs.into_boxed_slice(),
            registry: Mutex::new(Registry {
                user: TopicIndex::new(),
                sys: TopicIndex::new(),
                closed: false,
            }),
            version: AtomicUsize::new(0),
            has_sys_subs: AtomicBool::new(false),
            closing: AtomicBool::new(false),
            next_publisher: AtomicUsize::new(1),
            next_subscription: AtomicUsize::new(1),
            max_message_bytes,
            publish_filter,
            counters: Counters::default(),
            sync_consumer,
        };
        Ok((core, rxs))
    }

    /// This core's address: tells services apart in thread-local marks.
    pub(super) fn addr(&self) -> usize {
        core::ptr::from_ref(self) as usize
    }

    pub(super) fn is_closing(&self) -> bool {
        // Relaxed: a hint for how long to wait; the gates decide.
        self.closing.load(Ordering::Relaxed)
    }

    pub(super) fn has_sys_subs(&self) -> bool {
        // Relaxed: a hint; a `sys` event built or skipped just as the first
        // `sys` subscription arrives or the last leaves is fine either way.
        self.has_sys_subs.load(Ordering::Relaxed)
    }

    /// Runs `push(tx, value)` between `enter` and `leave` of queue `q`'s
    /// gate; `Err(value)` untouched if the gate is closed.
    pub(super) fn through_gate<T, R>(
        &self,
        q: usize,
        value: T,
        push: impl FnOnce(&PrioritySender<Item>, T) -> R,
    ) -> Result<R, T> {
        let queue = &self.queues[q];
        if !queue.gate.enter(|| self.wake(q)) {
            return Err(value);
        }
        let r = push(&queue.tx, value);
        queue.gate.leave(|| self.wake(q));
        Ok(r)
    }

    /// Wakes dispatcher `q` (if asynchronous) to re-check its gate. A full
    /// queue needs no wake-up: the dispatcher re-checks after each item.
    pub(super) fn wake(&self, q: usize) {
        if matches!(self.mode, Mode::Asynchronous { .. }) {
            let _ = self.queues[q]
                .tx
                .try_send_with_priority(Item::Wake, Priority::Low);
        }
    }

    /// Closes every gate and wakes every dispatcher.
    pub(super) fn close_gates(&self) {
        self.closing.store(true, Ordering::Relaxed);
        for (q, queue) in self.queues.iter().enumerate() {
            queue.gate.close();
            self.wake(q);
        }
    }

    /// Queues a `sys` item on queue 0 without waiting; counts it either way.
    /// `false` if it could not be queued (full, or shutting down). Drop
    /// notices go in at `Low` (see `sys::DROPS`), the rest at `High`.
    pub(super) fn emit(&self, item: Item) -> bool {
        let priority = match &item {
            Item::Event(event) => event.priority(),
            Item::DropNotice(_) | Item::Wake => Priority::Low,
        };
        let queued = self
            .through_gate(0, item, |tx, item| {
                tx.try_send_with_priority(item, priority).is_ok()
            })
            .unwrap_or(false);
        if queued {
            self.counters.sys_published.incr();
            self.deliver_direct();
        } else {
            self.counters.sys_dropped.incr();
        }
        queued
    }

    /// Queues a built `sys` event, if anyone subscribes to `sys`.
    pub(super) fn emit_event(&self, build: impl FnOnce() -> Delivery) {
        if self.has_sys_subs() {
            self.emit(Item::Event(build()));
        }
    }

    /// Counts `n` events dropped by a subscription; announces them on
    /// `sys.drops` unless they were `sys` events themselves (no feedback).
    pub(super) fn note_dropped(&self, shared: &Arc<SubShared>, n: usize, sys_event: bool) {
        shared.counters.dropped.add(n);
        self.counters.dropped.add(n);
        if sys_event || !self.has_sys_subs() {
            return;
        }
        // AcqRel: one notice at a time per subscription.
        if !shared.notice_pending.swap(true, Ordering::AcqRel)
            && !self.emit(Item::DropNotice(shared.clone()))
        {
            shared.notice_pending.store(false, Ordering::Release);
        }
    }

    /// Removes every subscription (dropping their routes outside the lock)
    /// and refuses new ones.
    pub(super) fn close_registry(&self) {
        let (user, sys) = {
            let mut reg = lock(&self.registry);
            reg.closed = true;
            self.version.fetch_add(1, Ordering::Release);
            self.has_sys_subs.store(false, Ordering::Relaxed);
            (
                core::mem::take(&mut reg.user),
                core::mem::take(&mut reg.sys),
            )
        };
        drop((user, sys));
    }
}

#[cfg(test)]
mod tests {
    use super::Item;

    /// Events travel the service queues by value: the slot size is the
    /// memory each queued event takes (and copies) there.
    #[test]
    fn a_queued_event_fits_in_176_bytes() {
        let size = core::mem::size_of::<Item>();
        assert!(size <= 176, "Item is {size} bytes");
    }
}
