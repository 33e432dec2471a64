//! The subscribing side: [`Subscriber`] creates [`Subscription`]s; a
//! subscription is received from (blocking, with a timeout, async, as an
//! iterator) or given listeners.

use core::fmt;
use core::time::Duration;
use std::sync::Arc as StdArc;
use std::time::Instant;

use evlatch::topic::Pattern;

use super::config::{Mode, Overflow, SubscribeOptions};
use super::dispatch::next_item;
use super::error::{
    SubscribeError, SubscriptionRecvError, SubscriptionRecvTimeoutError, SubscriptionTryRecvError,
};
use super::future::SubscriptionRecvFuture;
use super::listener::ListenerId;
use super::message::Delivery;
use super::state::{Core, RegistryKey, Route, SubShared};
use super::stats::SubscriptionStats;
use super::sys;
use crate::channel::{self, Receiver};
use crate::sync::{lock, Arc, AtomicUsize, Ordering};

/// A subscribing handle, from [`EventService::subscriber`](super::EventService::subscriber).
/// Cheap to clone; every clone subscribes to the same service.
///
/// # Examples
///
/// ```
/// use evlatch_std::service::{EventService, Message};
/// let service = EventService::synchronous();
/// let subscriber = service.subscriber();
/// let signals = subscriber.subscribe("functions.signals.*")?;
/// let any_iteration = subscriber.subscribe("*.iteration")?;
/// service.publisher().publish("functions.signals.iteration", Message::new())?;
/// service.process_events()?;
/// assert!(signals.try_recv().is_ok());
/// assert!(any_iteration.try_recv().is_ok());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Subscriber {
    core: Arc<Core>,
}

impl Subscriber {
    pub(super) fn new(core: Arc<Core>) -> Self {
        Subscriber { core }
    }

    /// Subscribes to the topics `pattern` matches, with default
    /// [`SubscribeOptions`] (1024 events, [`Overflow::DropOldest`], no
    /// filter). See [`Pattern`] for the syntax: `*` is one or more segments,
    /// `?` exactly one. Only patterns whose first segment is `sys` see the
    /// service's own events.
    ///
    /// The subscription receives every event dispatched from now until it
    /// ends — including events already queued in the service, which are
    /// matched when dispatched, not when published.
    ///
    /// # Errors
    ///
    /// [`SubscribeError::InvalidPattern`], or [`SubscribeError::Closed`] if
    /// the service is shut down.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::service::{EventService, SubscribeError};
    /// let service = EventService::synchronous();
    /// let sub = service.subscriber().subscribe("a.?.c")?;
    /// assert_eq!(sub.pattern(), "a.?.c");
    /// assert!(matches!(
    ///     service.subscriber().subscribe("a.b*"),
    ///     Err(SubscribeError::InvalidPattern(_))
    /// ));
    /// # Ok::<(), SubscribeError>(())
    /// ```
    pub fn subscribe(&self, pattern: &str) -> Result<Subscription, SubscribeError> {
        self.subscribe_with(pattern, SubscribeOptions::new())
    }

    /// Subscribes with explicit [`SubscribeOptions`].
    ///
    /// # Errors
    ///
    /// As [`subscribe`](Self::subscribe), and
    /// [`SubscribeError::Capacity`] for a capacity the queue cannot take.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::service::{EventService, Overflow, SubscribeOptions};
    /// let service = EventService::synchronous();
    /// let options = SubscribeOptions::new().capacity(16).overflow(Overflow::DropNewest);
    /// let sub = service.subscriber().subscribe_with("metrics.*", options)?;
    /// assert_eq!((sub.capacity(), sub.overflow()), (16, Overflow::DropNewest));
    /// # Ok::<(), evlatch_std::service::SubscribeError>(())
    /// ```
    pub fn subscribe_with(
        &self,
        pattern: &str,
        options: SubscribeOptions,
    ) -> Result<Subscription, SubscribeError> {
        let parsed = Pattern::new(pattern).map_err(SubscribeError::InvalidPattern)?;
        let SubscribeOptions {
            capacity,
            overflow,
            filter,
        } = options;
        if overflow == Overflow::Block && self.core.mode == Mode::Direct {
            return Err(SubscribeError::BlockInDirectMode);
        }
        let made = match overflow {
            Overflow::DropOldest => channel::bounded_lossy(capacity),
            Overflow::Block | Overflow::DropNewest => channel::bounded(capacity),
        };
        let (tx, rx) = made.map_err(|_| SubscribeError::Capacity(capacity))?;
        let core = &*self.core;
        let id = core.next_subscription.fetch_add(1, Ordering::Relaxed) as u64;
        let reserved = parsed.is_reserved();
        let shared = Arc::new(SubShared::new(id, pattern, overflow));
        let route = Arc::new(Route {
            shared: shared.clone(),
            tx,
            filter,
        });
        let key = {
            let mut reg = lock(&core.registry);
            if reg.closed {
                drop(reg);
                return Err(SubscribeError::Closed);
            }
            let id = if reserved {
                reg.sys.insert(parsed, route)
            } else {
                reg.user.insert(parsed, route)
            };
            // Release: a dispatcher that reads this value sees the insert.
            core.version.fetch_add(1, Ordering::Release);
            if reserved {
                core.has_sys_subs.store(true, Ordering::Relaxed);
            }
            RegistryKey { reserved, id }
        };
        core.emit_event(|| sys::subscription_added(id, pattern));
        Ok(Subscription {
            core: self.core.clone(),
            shared,
            rx,
            capacity,
            key: Some(key),
            reported: AtomicUsize::new(0),
        })
    }
}

impl fmt::Debug for Subscriber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscriber").finish_non_exhaustive()
    }
}

/// One subscription: a pattern, a bounded queue with an [`Overflow`]
/// policy, and optional listeners. Dropping it (or
/// [`unsubscribe`](Subscription::unsubscribe)) ends delivery.
///
/// **Pull**: [`recv`](Self::recv), [`try_recv`](Self::try_recv),
/// [`recv_timeout`](Self::recv_timeout), [`recv_async`](Self::recv_async),
/// [`iter`](Self::iter), [`try_iter`](Self::try_iter). A receive reports
/// events lost to the full queue as a *lag notice* —
/// `Err(Lagged(n))`, `n` events since the previous notice — before the
/// next event; the notice comes at the first receive after the loss was
/// counted, so it marks the loss only roughly in the stream.
///
/// **Push**: [`add_listener`](Self::add_listener). While a subscription has
/// listeners, the delivering thread (a dispatcher, or the caller of
/// `process_events`) passes each event to them instead of queuing it —
/// the queue and its policy are then unused, and events queued before the
/// first listener stay there to be received. A subscription's listeners are
/// called one event at a time, in the order they were added; a panic in
/// one is caught, counted and reported on `sys.listener.panic`, and the
/// listener stays registered.
///
/// # Examples
///
/// ```
/// use std::sync::atomic::{AtomicI64, Ordering};
/// use std::sync::Arc;
/// use evlatch_std::service::{EventService, Message};
///
/// let service = EventService::synchronous();
/// let sub = service.subscriber().subscribe("train.loss")?;
/// let sum = Arc::new(AtomicI64::new(0));
/// let s = sum.clone();
/// sub.add_listener(move |event| {
///     s.fetch_add(event.body().get_i64("x").unwrap_or(0), Ordering::Relaxed);
/// });
/// let publisher = service.publisher();
/// publisher.publish("train.loss", Message::new().with_body("x", 2_i64))?;
/// publisher.publish("train.loss", Message::new().with_body("x", 3_i64))?;
/// service.process_events()?;
/// assert_eq!(sum.load(Ordering::Relaxed), 5);
/// sub.unsubscribe(); // no listener call starts after this returns
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Subscription {
    core: Arc<Core>,
    shared: Arc<SubShared>,
    rx: Receiver<StdArc<Delivery>>,
    capacity: usize,
    /// Where it sits in the registry; `None` once ended.
    key: Option<RegistryKey>,
    /// `shared.counters.dropped` as of the last lag notice.
    reported: AtomicUsize,
}

impl Subscription {
    /// The subscription's id, unique within its service (as reported in
    /// `sys` events).
    ///
    /// # Examples
    ///
    /// ```
    /// let service = evlatch_std::service::EventService::synchronous();
    /// let a = service.subscriber().subscribe("a")?;
    /// let b = service.subscriber().subscribe("a")?;
    /// assert_ne!(a.id(), b.id());
    /// # Ok::<(), evlatch_std::service::SubscribeError>(())
    /// ```
    #[must_use]
    pub fn id(&self) -> u64 {
        self.shared.id
    }

    /// The pattern it was created with.
    ///
    /// # Examples
    ///
    /// ```
    /// let service = evlatch_std::service::EventService::synchronous();
    /// assert_eq!(service.subscriber().subscribe("a.*")?.pattern(), "a.*");
    /// # Ok::<(), evlatch_std::service::SubscribeError>(())
    /// ```
    #[must_use]
    pub fn pattern(&self) -> &str {
        &self.shared.pattern
    }

    /// Its overflow policy.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::service::{EventService, Overflow};
    /// let service = EventService::synchronous();
    /// assert_eq!(service.subscriber().subscribe("a")?.overflow(), Overflow::DropOldest);
    /// # Ok::<(), evlatch_std::service::SubscribeError>(())
    /// ```
    #[must_use]
    pub fn overflow(&self) -> Overflow {
        self.shared.overflow
    }

    /// Its queue's capacity: exactly the one asked for.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::service::{EventService, SubscribeOptions};
    /// let service = EventService::synchronous();
    /// assert_eq!(service.subscriber().subscribe("a")?.capacity(), 1024);
    /// let options = SubscribeOptions::new().capacity(100);
    /// assert_eq!(service.subscriber().subscribe_with("a", options)?.capacity(), 100);
    /// # Ok::<(), evlatch_std::service::SubscribeError>(())
    /// ```
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Events in its queue now.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::service::{EventService, Message};
    /// let service = EventService::synchronous();
    /// let sub = service.subscriber().subscribe("a")?;
    /// service.publisher().publish("a", Message::new())?;
    /// assert_eq!(sub.len(), 0); // not dispatched yet
    /// service.process_events()?;
    /// assert_eq!(sub.len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn len(&self) -> usize {
        self.rx.len()
    }

    /// Whether its queue is empty now.
    ///
    /// # Examples
    ///
    /// ```
    /// let service = evlatch_std::service::EventService::synchronous();
    /// assert!(service.subscriber().subscribe("a")?.is_empty());
    /// # Ok::<(), evlatch_std::service::SubscribeError>(())
    /// ```
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.rx.is_empty()
    }

    /// Its counters: received, dropped, expired, filtered, queued.
    ///
    /// # Examples
    ///
    /// See [`SubscriptionStats`].
    ///
    /// ```
    /// let service = evlatch_std::service::EventService::synchronous();
    /// let sub = service.subscriber().subscribe("a")?;
    /// assert_eq!(sub.stats().received, 0);
    /// # Ok::<(), evlatch_std::service::SubscribeError>(())
    /// ```
    #[must_use]
    pub fn stats(&self) -> SubscriptionStats {
        let c = &self.shared.counters;
        SubscriptionStats {
            received: c.received(),
            dropped: c.dropped.get(),
            expired: c.expired.get(),
            filtered: c.filtered.get(),
            queued: self.rx.len() as u64,
        }
    }

    /// Receives the next event, blocking while the queue is empty. Expired
    /// events are skipped (and counted).
    ///
    /// # Errors
    ///
    /// [`SubscriptionRecvError::Lagged`] (the lag notice; receive again), or
    /// [`SubscriptionRecvError::Closed`] once the service is shut down and the queue
    /// drained.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::service::{EventService, Message, Mode};
    /// let service = EventService::asynchronous(1)?;
    /// let sub = service.subscriber().subscribe("a")?;
    /// service.publisher().publish("a", Message::new().with_body("n", 1_i64))?;
    /// assert_eq!(sub.recv()?.body().get_i64("n"), Some(1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn recv(&self) -> Result<StdArc<Delivery>, SubscriptionRecvError> {
        loop {
            if let Some(n) = self.take_lag() {
                return Err(SubscriptionRecvError::Lagged(n));
            }
            match next_item(&self.rx) {
                Ok(event) => {
                    if let Some(event) = self.accept(event) {
                        return Ok(event);
                    }
                }
                Err(_) => return Err(SubscriptionRecvError::Closed),
            }
        }
    }

    /// Receives the next event if one is queued.
    ///
    /// # Errors
    ///
    /// [`SubscriptionTryRecvError::Empty`], [`SubscriptionTryRecvError::Lagged`] (the lag notice),
    /// or [`SubscriptionTryRecvError::Closed`].
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::service::{EventService, Message, SubscriptionTryRecvError};
    /// let service = EventService::synchronous();
    /// let sub = service.subscriber().subscribe("a")?;
    /// assert_eq!(sub.try_recv().unwrap_err(), SubscriptionTryRecvError::Empty);
    /// service.publisher().publish("a", Message::new())?;
    /// service.process_events()?;
    /// assert!(sub.try_recv().is_ok());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_recv(&self) -> Result<StdArc<Delivery>, SubscriptionTryRecvError> {
        loop {
            if let Some(n) = self.take_lag() {
                return Err(SubscriptionTryRecvError::Lagged(n));
            }
            match self.rx.try_recv() {
                Ok(event) => {
                    if let Some(event) = self.accept(event) {
                        return Ok(event);
                    }
                }
                Err(channel::TryRecvError::Empty) => return Err(SubscriptionTryRecvError::Empty),
                Err(channel::TryRecvError::Disconnected) => {
                    return Err(SubscriptionTryRecvError::Closed)
                }
            }
        }
    }

    /// Receives the next event, blocking at most `timeout`.
    ///
    /// # Errors
    ///
    /// [`SubscriptionRecvTimeoutError::Timeout`], [`SubscriptionRecvTimeoutError::Lagged`] (the lag
    /// notice), or [`SubscriptionRecvTimeoutError::Closed`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use evlatch_std::service::{EventService, SubscriptionRecvTimeoutError};
    /// let service = EventService::asynchronous(1)?;
    /// let sub = service.subscriber().subscribe("a")?;
    /// let err = sub.recv_timeout(Duration::from_millis(5)).unwrap_err();
    /// assert_eq!(err, SubscriptionRecvTimeoutError::Timeout);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn recv_timeout(
        &self,
        timeout: Duration,
    ) -> Result<StdArc<Delivery>, SubscriptionRecvTimeoutError> {
        let deadline = Instant::now().checked_add(timeout);
        loop {
            if let Some(n) = self.take_lag() {
                return Err(SubscriptionRecvTimeoutError::Lagged(n));
            }
            let got = match deadline {
                None => self
                    .rx
                    .recv()
                    .map_err(|_| SubscriptionRecvTimeoutError::Closed),
                Some(d) => self
                    .rx
                    .recv_timeout(d.saturating_duration_since(Instant::now()))
                    .map_err(|e| match e {
                        channel::RecvTimeoutError::Timeout => SubscriptionRecvTimeoutError::Timeout,
                        channel::RecvTimeoutError::Disconnected => {
                            SubscriptionRecvTimeoutError::Closed
                        }
                    }),
            };
            if let Some(event) = self.accept(got?) {
                return Ok(event);
            }
        }
    }

    /// Receives the next event asynchronously (any executor; see
    /// [`SubscriptionRecvFuture`]). Dropping the future before it completes
    /// takes nothing from the queue.
    ///
    /// # Errors
    ///
    /// As [`recv`](Self::recv).
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::service::{EventService, Message};
    /// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// # rt.block_on(async {
    /// let service = EventService::asynchronous(1).unwrap();
    /// let sub = service.subscriber().subscribe("a").unwrap();
    /// service.publisher().publish("a", Message::new()).unwrap();
    /// assert_eq!(sub.recv_async().await.unwrap().topic(), "a");
    /// # });
    /// ```
    pub fn recv_async(&self) -> SubscriptionRecvFuture<'_> {
        SubscriptionRecvFuture::new(self)
    }

    /// A blocking iterator over the events; it skips lag notices (the
    /// losses stay visible in [`stats`](Self::stats)) and ends when the
    /// service is shut down and the queue drained.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::service::{EventService, Message};
    /// let service = EventService::asynchronous(1)?;
    /// let sub = service.subscriber().subscribe("a")?;
    /// let publisher = service.publisher();
    /// publisher.publish("a", Message::new())?;
    /// publisher.publish("a", Message::new())?;
    /// assert_eq!(sub.iter().take(2).count(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = StdArc<Delivery>> + '_ {
        core::iter::from_fn(move || loop {
            match self.recv() {
                Ok(event) => return Some(event),
                Err(SubscriptionRecvError::Lagged(_)) => {}
                Err(SubscriptionRecvError::Closed) => return None,
            }
        })
    }

    /// A non-blocking iterator over the events queued now; skips lag
    /// notices like [`iter`](Self::iter).
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::service::{EventService, Message};
    /// let service = EventService::synchronous();
    /// let sub = service.subscriber().subscribe("a")?;
    /// service.publisher().publish("a", Message::new())?;
    /// service.process_events()?;
    /// assert_eq!(sub.try_iter().count(), 1);
    /// assert_eq!(sub.try_iter().count(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_iter(&self) -> impl Iterator<Item = StdArc<Delivery>> + '_ {
        core::iter::from_fn(move || loop {
            match self.try_recv() {
                Ok(event) => return Some(event),
                Err(SubscriptionTryRecvError::Lagged(_)) => {}
                Err(_) => return None,
            }
        })
    }

    /// Adds a listener: from now on each event is passed to the listeners,
    /// on the delivering thread, instead of being queued (see
    /// [`Subscription`]). The listener may receive, publish (without
    /// waiting), subscribe, add and remove listeners, and end this very
    /// subscription; a change to this subscription's listeners made from
    /// inside one of them takes effect right after it returns. An event
    /// being delivered at the very moment of the first `add_listener` may
    /// still go to the queue.
    ///
    /// # Examples
    ///
    /// See [`Subscription`].
    ///
    /// ```
    /// use evlatch_std::service::EventService;
    /// let service = EventService::synchronous();
    /// let sub = service.subscriber().subscribe("a")?;
    /// let id = sub.add_listener(|event| println!("{}", event.topic()));
    /// sub.remove_listener(id);
    /// # Ok::<(), evlatch_std::service::SubscribeError>(())
    /// ```
    pub fn add_listener(&self, listener: impl FnMut(&Delivery) + Send + 'static) -> ListenerId {
        self.shared.listeners.add(Box::new(listener))
    }

    /// Removes a listener. When this returns, it is not running — unless
    /// called from inside that listener — and will not be called again. The
    /// last listener removed, events go to the queue again.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::service::{EventService, Message};
    /// let service = EventService::synchronous();
    /// let sub = service.subscriber().subscribe("a")?;
    /// let id = sub.add_listener(|_| panic!("not called"));
    /// sub.remove_listener(id);
    /// service.publisher().publish("a", Message::new())?;
    /// service.process_events()?;
    /// assert!(sub.try_recv().is_ok()); // queued again
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn remove_listener(&self, id: ListenerId) {
        self.shared.listeners.remove(id);
    }

    /// Ends the subscription (as dropping it does). When this returns, the
    /// service delivers nothing more to it: no listener call is running
    /// (unless this is called from inside one) or will start.
    ///
    /// # Examples
    ///
    /// ```
    /// let service = evlatch_std::service::EventService::synchronous();
    /// let sub = service.subscriber().subscribe("a")?;
    /// sub.unsubscribe();
    /// assert_eq!(service.stats().subscriptions, 0);
    /// # Ok::<(), evlatch_std::service::SubscribeError>(())
    /// ```
    pub fn unsubscribe(self) {
        drop(self);
    }

    /// Counts a received event, or skips (and counts) an expired one.
    /// The subscription's queue (for its receive future).
    pub(super) fn rx(&self) -> &Receiver<StdArc<Delivery>> {
        &self.rx
    }

    pub(super) fn accept(&self, event: StdArc<Delivery>) -> Option<StdArc<Delivery>> {
        if event.is_expired() {
            self.shared.counters.expired.incr();
            self.core.counters.expired.incr();
            return None;
        }
        self.shared.counters.pulled.incr();
        Some(event)
    }

    /// The number of drops since the last lag notice, if any; claims them.
    pub(super) fn take_lag(&self) -> Option<u64> {
        let total = self.shared.counters.dropped.get_usize();
        // Relaxed: the counts carry no data; the CAS makes sure that two
        // threads receiving at once report each drop once.
        let seen = self.reported.load(Ordering::Relaxed);
        if total > seen
            && self
                .reported
                .compare_exchange(seen, total, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            return Some((total - seen) as u64);
        }
        None
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let Some(key) = self.key.take() else { return };
        let core = &*self.core;
        let removed = {
            let mut reg = lock(&core.registry);
            let removed = if key.reserved {
                reg.sys.remove(key.id)
            } else {
                reg.user.remove(key.id)
            };
            if removed.is_some() {
                // Release: a dispatcher that reads the bump no longer uses
                // a cached target list that includes this route.
                core.version.fetch_add(1, Ordering::Release);
                if key.reserved {
                    core.has_sys_subs
                        .store(!reg.sys.is_empty(), Ordering::Relaxed);
                }
            }
            removed
        };
        self.shared.listeners.close();
        // Outside the lock: the route's filter is user code.
        let was_live = removed.is_some();
        drop(removed);
        if was_live {
            let shared = &self.shared;
            core.emit_event(|| sys::subscription_removed(shared.id, &shared.pattern));
        }
    }
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("id", &self.shared.id)
            .field("pattern", &self.shared.pattern)
            .field("overflow", &self.shared.overflow)
            .field("queued", &self.rx.len())
            .field("listeners", &self.shared.listeners)
            .finish_non_exhaustive()
    }
}
