//! Delivery: taking items off a service queue, matching them against the
//! registry, and handing them to each subscription — for the dispatcher
//! threads (asynchronous mode) and `process_events` (synchronous mode).
//!
//! Each service queue has exactly one consumer at a time (its dispatcher
//! thread, or whoever holds the synchronous consumer's lock), and that
//! consumer takes items off it in order, a batch at a time, and delivers
//! one event to all its targets before delivering the next.
//! That is where the order guarantee comes from: two events of one
//! publisher, same priority, are taken in publish order and reach every
//! subscription in that order.

use core::any::Any;
use core::cell::RefCell;
use core::panic::AssertUnwindSafe;
use core::time::Duration;
use std::collections::VecDeque;
use std::panic::catch_unwind;
use std::sync::Arc as StdArc;
use std::time::Instant;

use evlatch::topic::Topic;

use super::config::Overflow;
use super::error::ProcessError;
use super::listener::{panic_message, Called};
use super::message::{Delivery, Message};
use super::state::{Core, Item, Route, SubShared};
use super::sys;
use crate::channel::{Kind, PriorityReceiver, Receiver, SendTimeoutError, TrySendError};
use crate::sync::{lock, thread, try_lock, Arc, Ordering};

/// How long a dispatcher waits on a full `Block` queue between checks for
/// shutdown.
const BLOCK_POLL: Duration = Duration::from_millis(20);

/// During shutdown, how long a dispatcher keeps waiting on a full `Block`
/// queue before it drops the event (and every later one for that queue).
pub(super) const SHUTDOWN_GRACE: Duration = Duration::from_millis(100);

/// What delivery does when a `Block` subscription's queue is full.
#[derive(Clone, Copy)]
pub(super) enum OnFull {
    /// Wait for room (dispatcher threads), giving up only during shutdown,
    /// after [`SHUTDOWN_GRACE`].
    Wait,
    /// Wait until the deadline (`None`: not at all), then stop and report
    /// the subscription (`process_events`).
    StopAt(Option<Instant>),
    /// Drop the event and count it (draining at shutdown).
    Drop,
}

/// An event being delivered. It stays where it was built — the consumer's
/// stack, or (direct mode) the publisher's — while it goes to listeners and
/// filters, which work on it by reference; the first subscription queue
/// that needs it moves it into the one `Arc` that every queue then shares.
/// An event only listeners (or nobody) get is never allocated. (It is
/// large: each move is a copy, so it is passed by reference, and built
/// where it stays.)
pub(super) struct Held {
    /// The event until it is shared; after that, a spent event (what a
    /// reused `Arc` held before, or an empty one).
    local: Delivery,
    shared: Option<StdArc<Delivery>>,
}

impl Default for Held {
    fn default() -> Self {
        Held::new(Delivery::spent())
    }
}

impl Held {
    pub(super) fn new(event: Delivery) -> Self {
        Held {
            local: event,
            shared: None,
        }
    }

    /// Holds `message`, as published under `topic` by `publisher`, built
    /// in place.
    pub(super) fn publish(&mut self, message: Message, topic: &str, publisher: u64) {
        self.shared = None;
        message.deliver_into(topic, publisher, &mut self.local);
    }

    /// The event, if it was not shared: for a publish that has to queue it
    /// (or hand it back) after all.
    pub(super) fn take_local(&mut self) -> Option<Delivery> {
        self.shared
            .is_none()
            .then(|| core::mem::replace(&mut self.local, Delivery::spent()))
    }

    fn get(&self) -> &Delivery {
        self.shared.as_deref().unwrap_or(&self.local)
    }

    /// The shared `Arc`, made on first use.
    fn share(&mut self) -> &StdArc<Delivery> {
        let local = &mut self.local;
        self.shared.get_or_insert_with(|| recycler::make(local))
    }

    /// The shared `Arc`, taken out (without a clone if it was not made
    /// yet); nothing is held after this.
    fn take_arc(&mut self) -> StdArc<Delivery> {
        match self.shared.take() {
            Some(shared) => shared,
            None => recycler::make(&mut self.local),
        }
    }
}

/// The allocations of events shared lately by this thread, to reuse once
/// every subscriber has dropped them: a subscriber that keeps up hands its
/// event's memory back to the delivering thread (hot in cache, and without
/// a trip through the allocator on either side).
///
/// The thread keeps one reference to up to [`KEPT`] events it shared that
/// own no heap memory (inline topic and fields, no text or bytes values),
/// so such a delivery's `Arc::strong_count` counts one more while it is
/// among them, and up to [`KEPT`] of them (a few hundred bytes each) stay
/// allocated until reused or the thread ends. A reused event goes to the
/// back of the window; while the window is full of events still held
/// (subscribers lagging), new events are not kept, so the window is not
/// cycled at the cost of two reference-count updates per event.
mod recycler {
    use core::cell::RefCell;
    use std::collections::VecDeque;
    use std::sync::Arc as StdArc;

    use super::Delivery;

    /// Events a thread keeps for reuse.
    pub(super) const KEPT: usize = 64;

    std::thread_local! {
        static KEEP: RefCell<VecDeque<StdArc<Delivery>>> = const { RefCell::new(VecDeque::new()) };
    }

    /// The event in `local` in an `Arc`: the oldest kept one if nobody
    /// else holds it any more, else a new one. The event is swapped into a
    /// reused `Arc` (`local` gets what it held before, which owns no heap
    /// memory), not passed by value: it is large, and every move is a copy.
    pub(super) fn make(local: &mut Delivery) -> StdArc<Delivery> {
        let made = KEEP.try_with(|keep| {
            let mut keep = keep.try_borrow_mut().ok()?;
            // A plain load first: while subscribers lag, the oldest kept
            // event is usually still held, and `get_mut` would spend a
            // failing compare-and-swap to learn that.
            let reusable = keep
                .front()
                .is_some_and(|front| StdArc::strong_count(front) == 1);
            let reused = if reusable {
                reuse(keep.pop_front(), local)
            } else {
                None
            };
            let arc = match reused {
                Some(arc) => arc,
                // The subscribers lag by more than the window: keep the
                // window as it is (its events come back once they catch
                // up) rather than cycling it, which would cost a reference
                // count increment and a decrement per event.
                None if keep.len() >= KEPT => return Some(fresh(local)),
                None => fresh(local),
            };
            // Only events that own no heap memory are kept: what a kept
            // event holds on to is bounded by `KEPT` times its size.
            if arc.owns_nothing() {
                keep.push_back(arc.clone());
            }
            Some(arc)
        });
        match made {
            Ok(Some(arc)) => arc,
            // Thread-local gone (thread exit) or busy: a plain allocation.
            _ => fresh(local),
        }
    }

    /// `arc` with the event in `local` swapped in, if nobody else holds
    /// `arc`.
    fn reuse(arc: Option<StdArc<Delivery>>, local: &mut Delivery) -> Option<StdArc<Delivery>> {
        let mut arc = arc?;
        // Unique: no subscriber, queue or user holds it.
        core::mem::swap(StdArc::get_mut(&mut arc)?, local);
        Some(arc)
    }

    fn fresh(local: &mut Delivery) -> StdArc<Delivery> {
        StdArc::new(core::mem::replace(local, Delivery::spent()))
    }
}

/// How [`Core::deliver_to`] gets the event: to share (a clone of the
/// `Arc`), or, for the last target, the consumer's own, to hand over.
enum Handoff<'a> {
    Shared(&'a mut Held),
    Last(&'a mut Held),
}

impl Handoff<'_> {
    fn get(&self) -> &Delivery {
        match self {
            Handoff::Shared(event) => event.get(),
            Handoff::Last(event) => event.get(),
        }
    }

    /// A reference of the queue's own.
    fn into_arc(self) -> StdArc<Delivery> {
        match self {
            Handoff::Shared(event) => event.share().clone(),
            Handoff::Last(event) => event.take_arc(),
        }
    }
}

/// Delivery stopped at a full `Block` subscription (its id).
pub(super) struct Blocked(u64);

/// The consumer of one service queue, with its scratch state.
pub(super) struct Consumer {
    rx: PriorityReceiver<Item>,
    queue: usize,
    /// The routes matching the topic in `cached`.
    targets: Vec<Arc<Route>>,
    /// `(topic, sys index?, registry version)` that `targets` was built
    /// for; `None` when `targets` is stale.
    cached: Option<(String, bool, usize)>,
    /// Synchronous mode: an event whose delivery stopped at a full `Block`
    /// subscription, with the targets still to serve, starting with it.
    pending: Option<Pending>,
    /// Items taken off the queue in one go and not yet delivered, oldest
    /// first (see [`BATCH`]). After `pending`, they are next.
    batch: VecDeque<Item>,
}

/// The most items a consumer takes off its service queue at once: one
/// receive, one wake-up of blocked publishers and one check of the gate
/// per batch instead of per event. Items keep their order; a `Block`
/// subscription that stops delivery leaves the rest of the batch for the
/// next round.
const BATCH: usize = 32;

struct Pending {
    event: Held,
    targets: Vec<Arc<Route>>,
    next: usize,
}

impl Consumer {
    pub(super) fn new(rx: PriorityReceiver<Item>, queue: usize) -> Self {
        Consumer {
            rx,
            queue,
            targets: Vec::new(),
            cached: None,
            pending: None,
            batch: VecDeque::with_capacity(BATCH),
        }
    }

    /// Refills the (empty) batch from the queue, blocking until there is an
    /// item; `false` if the queue is disconnected.
    fn refill(&mut self) -> bool {
        debug_assert!(self.batch.is_empty());
        self.rx.recv_batch(&mut self.batch, BATCH).is_ok()
    }

    /// Lets go of every route (so ended subscriptions see `Closed`).
    fn forget_routes(&mut self) {
        self.targets.clear();
        self.cached = None;
        self.pending = None;
    }
}

std::thread_local! {
    /// Addresses of the services this thread is delivering events of right
    /// now (a dispatcher thread, or inside `process_events`), innermost
    /// last. A blocking publish or a nested `process_events` from here
    /// could wait for this very thread.
    static DELIVERING: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

/// Whether this thread is delivering events of the service at `core`.
pub(super) fn is_delivering(core: usize) -> bool {
    DELIVERING.with(|d| d.borrow().contains(&core))
}

/// Marks this thread as delivering for one service until dropped.
struct DeliveringGuard;

impl DeliveringGuard {
    fn enter(core: usize) -> Self {
        DELIVERING.with(|d| d.borrow_mut().push(core));
        DeliveringGuard
    }
}

impl Drop for DeliveringGuard {
    fn drop(&mut self) {
        DELIVERING.with(|d| {
            d.borrow_mut().pop();
        });
    }
}

/// The body of dispatcher thread `c.queue`: deliver until the queue is
/// closed, idle and empty.
pub(super) fn run_dispatcher(core: Arc<Core>, mut c: Consumer) {
    let _mark = DeliveringGuard::enter(core.addr());
    let q = c.queue;
    loop {
        if c.batch.is_empty() {
            // Closed and idle first, then empty: nothing can arrive after that.
            if core.queues[q].gate.is_closed_and_idle() && c.rx.is_empty() {
                break;
            }
            if !c.refill() {
                break;
            }
        }
        while let Some(item) = c.batch.pop_front() {
            // `Wait` never stops delivery.
            let _ = core.handle(&mut c, item, OnFull::Wait);
        }
    }
    c.forget_routes();
}

/// A blocking receive for a stream of events (a dispatcher's items, a
/// subscriber's events): the next one is usually a moment away, so poll a
/// little — spinning, then yielding, a few microseconds in all — before
/// parking, which would cost the sender a wake-up system call per event.
pub(super) fn next_item<T, K: Kind>(rx: &Receiver<T, K>) -> Result<T, crate::channel::RecvError> {
    for step in 0..SNOOZE_STEPS {
        match rx.try_recv() {
            Ok(item) => return Ok(item),
            Err(crate::channel::TryRecvError::Disconnected) => {
                return Err(crate::channel::RecvError)
            }
            Err(crate::channel::TryRecvError::Empty) => {}
        }
        if step < SPIN_STEPS {
            for _ in 0..1_u32 << step {
                core::hint::spin_loop();
            }
        } else {
            thread::yield_now();
        }
    }
    rx.recv()
}

/// Polls of [`next_item`] before it parks: the first [`SPIN_STEPS`] spin
/// 1, 2, 4, … times, the rest yield the thread.
const SNOOZE_STEPS: u32 = 10;
const SPIN_STEPS: u32 = 7;

impl Core {
    /// [`Mode::Direct`](super::Mode::Direct), after a push: delivers on this
    /// thread until the queue is empty — unless this thread is delivering
    /// already (a publish from a listener), whose outer loop takes the event
    /// next. Waits for another thread's delivery in progress, which may
    /// already deliver this event; every push is followed by a call here, so
    /// nothing pushed stays queued once every publish has returned. Other
    /// modes: nothing.
    pub(super) fn deliver_direct(&self) {
        if self.mode != super::Mode::Direct || is_delivering(self.addr()) {
            return;
        }
        // `Wait` never stops: a direct service has no `Block` subscription.
        let _ = self.process(OnFull::Wait);
    }

    /// [`Mode::Direct`](super::Mode::Direct), instead of a push: if no thread
    /// is delivering (this one included), delivers `event` on this thread at
    /// once — it never enters the service queue — and then whatever other
    /// publishers queued meanwhile, and returns `true`. Otherwise `false`:
    /// `event` is untouched, to be queued and then delivered by
    /// [`deliver_direct`](Self::deliver_direct).
    pub(super) fn deliver_now(&self, event: &mut Held) -> bool {
        if self.mode != super::Mode::Direct || is_delivering(self.addr()) {
            return false;
        }
        let Some(mut c) = self.sync_consumer.as_ref().and_then(try_lock) else {
            return false;
        };
        let _mark = DeliveringGuard::enter(self.addr());
        // `Wait` never stops: a direct service has no `Block` subscription.
        let _ = self.deliver(&mut c, event, OnFull::Wait);
        let _ = self.drain(&mut c, OnFull::Wait);
        true
    }

    /// `process_events`: delivers queued events on this thread until the
    /// queue is empty.
    pub(super) fn process(&self, on_full: OnFull) -> Result<usize, ProcessError> {
        let Some(consumer) = &self.sync_consumer else {
            return Err(ProcessError::Asynchronous);
        };
        if is_delivering(self.addr()) {
            return Err(ProcessError::Reentrant);
        }
        let mut c = lock(consumer);
        let _mark = DeliveringGuard::enter(self.addr());
        self.drain(&mut c, on_full)
    }

    /// The body of [`process`](Self::process), with the consumer locked and
    /// this thread marked as delivering.
    fn drain(&self, c: &mut Consumer, on_full: OnFull) -> Result<usize, ProcessError> {
        let mut processed = 0;
        let stopped = |Blocked(subscription), processed| ProcessError::Blocked {
            subscription,
            processed,
        };
        if let Some(pending) = c.pending.take() {
            self.resume(c, pending, on_full)
                .map_err(|b| stopped(b, processed))?;
            processed += 1;
        }
        loop {
            if c.batch.is_empty() {
                // One consumer at a time: items only arrive meanwhile, so a
                // queue that is not empty has an item for `refill`.
                if c.rx.is_empty() || !c.refill() {
                    break;
                }
            }
            while let Some(item) = c.batch.pop_front() {
                let counts = !matches!(item, Item::Wake);
                // A stop leaves the rest of the batch for the next call.
                self.handle(c, item, on_full)
                    .map_err(|b| stopped(b, processed))?;
                processed += usize::from(counts);
            }
        }
        if self.is_closing() {
            c.forget_routes();
        }
        Ok(processed)
    }

    /// Delivers one item.
    fn handle(&self, c: &mut Consumer, item: Item, on_full: OnFull) -> Result<(), Blocked> {
        let mut event = match item {
            Item::Wake => return Ok(()),
            Item::Event(event) => Held::new(event),
            Item::DropNotice(shared) => match self.drop_notice(&shared) {
                Some(event) => Held::new(event),
                None => return Ok(()),
            },
        };
        self.deliver(c, &mut event, on_full)
    }

    /// Delivers one event to every subscription it matches.
    fn deliver(&self, c: &mut Consumer, event: &mut Held, on_full: OnFull) -> Result<(), Blocked> {
        // `sys` events (announcements, drop notices) are the service's own.
        let sys_event = event.get().publisher() == super::SERVICE_PUBLISHER;
        self.counters.dispatched.incr();
        if event.get().is_expired() {
            self.counters.expired.incr();
            return Ok(());
        }
        self.match_targets(c, event.get().topic(), sys_event);
        let targets = core::mem::take(&mut c.targets);
        self.deliver_from(c, event, sys_event, targets, 0, on_full)
    }

    /// Resumes an event whose delivery stopped at a full `Block` queue.
    fn resume(&self, c: &mut Consumer, p: Pending, on_full: OnFull) -> Result<(), Blocked> {
        let Pending {
            mut event,
            targets,
            next,
        } = p;
        if event.get().is_expired() {
            // Too late for the subscriptions still waiting for it.
            for route in &targets[next..] {
                route.shared.counters.expired.incr();
                self.counters.expired.incr();
            }
            return Ok(());
        }
        let sys_event = event.get().publisher() == super::SERVICE_PUBLISHER;
        // The cached list was handed to `pending`; it no longer matches.
        c.cached = None;
        self.deliver_from(c, &mut event, sys_event, targets, next, on_full)
    }

    /// Delivers `event` to `targets[start..]`, then gives `targets` back to
    /// the consumer (or parks it in `pending` if delivery stops).
    fn deliver_from(
        &self,
        c: &mut Consumer,
        event: &mut Held,
        sys_event: bool,
        targets: Vec<Arc<Route>>,
        start: usize,
        on_full: OnFull,
    ) -> Result<(), Blocked> {
        // Counted once per event, not per subscription: one shared
        // read-modify-write instead of a hundred for a wide fan-out.
        let mut delivered = 0;
        let n = targets.len();
        for (i, route) in targets.iter().enumerate().skip(start) {
            // The last target gets the consumer's own (unless it may stop
            // delivery and the event has to be kept): no clone, and no
            // release of the event's counts here.
            let handoff = if i + 1 == n && route.shared.overflow != Overflow::Block {
                Handoff::Last(event)
            } else {
                Handoff::Shared(event)
            };
            match self.deliver_to(route, handoff, sys_event, on_full) {
                Ok(handed_over) => delivered += usize::from(handed_over),
                Err(blocked) => {
                    // Only a `Block` target stops, and it was not handed
                    // the consumer's own: the event is still held.
                    self.counters.delivered.add(delivered);
                    c.cached = None;
                    c.pending = Some(Pending {
                        event: core::mem::take(event),
                        targets,
                        next: i,
                    });
                    return Err(blocked);
                }
            }
        }
        self.counters.delivered.add(delivered);
        // The list goes back to being the cache (still valid unless it came
        // from `pending`, in which case `resume` cleared `cached`).
        c.targets = targets;
        Ok(())
    }

    /// Builds the `sys.drops` notice for `shared`, if it dropped anything
    /// since the last one.
    fn drop_notice(&self, shared: &SubShared) -> Option<Delivery> {
        // Cleared before reading the count: a drop counted after this
        // queues a new notice.
        shared.notice_pending.store(false, Ordering::Release);
        let total = shared.counters.dropped.get_usize();
        let before = shared.announced.swap(total, Ordering::AcqRel);
        (total > before).then(|| sys::drops(shared.id, &shared.pattern, total - before, total))
    }

    /// Fills `c.targets` with the routes whose pattern matches `topic`,
    /// reusing the list when topic and registry are unchanged.
    fn match_targets(&self, c: &mut Consumer, topic: &str, sys_index: bool) {
        // Acquire: pairs with the Release bump of a registry change, so a
        // subscription that returned before this event was published is in
        // the list.
        let version = self.version.load(Ordering::Acquire);
        if let Some((t, s, v)) = &c.cached {
            if *v == version && *s == sys_index && t == topic {
                return;
            }
        }
        // Routes are dropped before the lock: a route's filter is user code
        // and may, when dropped, end a subscription (which takes the lock).
        c.targets.clear();
        let version = {
            let reg = lock(&self.registry);
            let index = if sys_index { &reg.sys } else { &reg.user };
            // Validated when published (or built by the service).
            if let Ok(topic) = Topic::new(topic) {
                index.for_each_match(&topic, |_, route| c.targets.push(route.clone()));
            }
            self.version.load(Ordering::Relaxed)
        };
        match &mut c.cached {
            Some((t, s, v)) => {
                t.clear();
                t.push_str(topic);
                *s = sys_index;
                *v = version;
            }
            None => c.cached = Some((topic.to_owned(), sys_index, version)),
        }
    }

    /// Hands `event` to one subscription: its filter, then its listeners or
    /// its queue. `Ok(true)` if it was handed over (queued, or passed to the
    /// listeners).
    fn deliver_to(
        &self,
        route: &Route,
        event: Handoff<'_>,
        sys_event: bool,
        on_full: OnFull,
    ) -> Result<bool, Blocked> {
        let shared = &route.shared;
        if shared.listeners.is_closed() {
            return Ok(false);
        }
        if let Some(filter) = &route.filter {
            match catch_unwind(AssertUnwindSafe(|| filter(event.get()))) {
                Ok(true) => {}
                Ok(false) => {
                    shared.counters.filtered.incr();
                    self.counters.filtered.incr();
                    return Ok(false);
                }
                Err(payload) => {
                    self.report_panic(shared, None, event.get(), sys_event, &*payload);
                    return Ok(false);
                }
            }
        }
        if shared.listeners.is_active() {
            let called = shared.listeners.call(event.get(), |id, payload| {
                self.report_panic(shared, Some(id), event.get(), sys_event, &*payload);
            });
            match called {
                Called::Ran => {
                    shared.counters.passed.incr();
                    return Ok(true);
                }
                Called::Closed => return Ok(false),
                Called::NoListeners => {}
            }
        }
        let handed_over = match shared.overflow {
            Overflow::DropOldest => {
                // A lossy queue never refuses for lack of room: it only
                // fails once the subscription is gone.
                let sent = route.tx.try_send(event.into_arc()).is_ok();
                if sent {
                    self.fold_lossy_drops(route, sys_event);
                }
                sent
            }
            Overflow::DropNewest => match route.tx.try_send(event.into_arc()) {
                Ok(()) => true,
                Err(TrySendError::Full(_)) => {
                    self.note_dropped(shared, 1, sys_event);
                    false
                }
                Err(TrySendError::Disconnected(_)) => false,
            },
            Overflow::Block => match route.tx.try_send(event.into_arc()) {
                Ok(()) => true,
                Err(TrySendError::Full(back)) => {
                    return self.wait_for_room(route, back, sys_event, on_full);
                }
                Err(TrySendError::Disconnected(_)) => false,
            },
        };
        Ok(handed_over)
    }

    /// A `Block` queue is full: wait, stop or drop, per `on_full`.
    fn wait_for_room(
        &self,
        route: &Route,
        mut event: StdArc<Delivery>,
        sys_event: bool,
        on_full: OnFull,
    ) -> Result<bool, Blocked> {
        let shared = &route.shared;
        let blocked = || Blocked(shared.id);
        match on_full {
            OnFull::Drop => {
                self.note_dropped(shared, 1, sys_event);
                Ok(false)
            }
            OnFull::StopAt(None) => Err(blocked()),
            OnFull::StopAt(Some(deadline)) => {
                let left = deadline.saturating_duration_since(Instant::now());
                match route.tx.send_timeout(event, left) {
                    Ok(()) => Ok(true),
                    Err(SendTimeoutError::Timeout(_)) => Err(blocked()),
                    Err(SendTimeoutError::Disconnected(_)) => Ok(false),
                }
            }
            OnFull::Wait => {
                let mut give_up_at = None;
                loop {
                    if self.is_closing() {
                        let at = *give_up_at.get_or_insert_with(|| Instant::now() + SHUTDOWN_GRACE);
                        if shared.abandoned.load(Ordering::Relaxed) || Instant::now() >= at {
                            shared.abandoned.store(true, Ordering::Relaxed);
                            self.note_dropped(shared, 1, sys_event);
                            return Ok(false);
                        }
                    }
                    match route.tx.send_timeout(event, BLOCK_POLL) {
                        Ok(()) => return Ok(true),
                        Err(SendTimeoutError::Timeout(back)) => event = back,
                        Err(SendTimeoutError::Disconnected(_)) => return Ok(false),
                    }
                }
            }
        }
    }

    /// Adds what a `DropOldest` queue displaced since last looked at to the
    /// drop counts.
    fn fold_lossy_drops(&self, route: &Route, sys_event: bool) {
        let shared = &route.shared;
        let now = usize::try_from(route.tx.dropped()).unwrap_or(usize::MAX);
        // AcqRel: concurrent dispatchers agree on who adds which part.
        // Most deliveries displace nothing: skip the read-modify-write then.
        if now <= shared.lossy_seen.load(Ordering::Relaxed) {
            return;
        }
        let before = shared.lossy_seen.fetch_max(now, Ordering::AcqRel);
        if now > before {
            self.note_dropped(shared, now - before, sys_event);
        }
    }

    /// Counts a caught panic and announces it on `sys.listener.panic`,
    /// unless it happened while handling a `sys` event (no feedback).
    fn report_panic(
        &self,
        shared: &SubShared,
        listener: Option<u64>,
        event: &Delivery,
        sys_event: bool,
        payload: &(dyn Any + Send),
    ) {
        self.counters.listener_panics.incr();
        if !sys_event {
            self.emit_event(|| {
                sys::listener_panic(
                    shared.id,
                    &shared.pattern,
                    listener,
                    event.topic(),
                    panic_message(payload),
                )
            });
        }
    }
}
