//! [`Publisher`]: the publishing side of a service.

use core::fmt;
use core::time::Duration;

use evlatch::topic::Topic;

use super::config::Mode;
use super::dispatch::{is_delivering, Held};
use super::error::{PublishError, PublishErrorKind};
use super::message::Message;
use super::state::{Core, Item};
use crate::channel::{PrioritySender, TrySendError};
use crate::sync::{Arc, Ordering};

/// A publishing handle, from [`EventService::publisher`](super::EventService::publisher).
///
/// Each `Publisher` has its own id, which the service stamps into the
/// header of everything it publishes ([`PUBLISHER_HEADER`](super::PUBLISHER_HEADER)).
/// It is `Send + Sync`: share it by reference, or create one per thread
/// (which also spreads publishers over the dispatchers of an asynchronous
/// service).
///
/// Order: the events of one `Publisher` with the same priority reach every
/// subscription in the order their publish calls put them in the service
/// queue (for one thread, program order). See the [module docs](super).
///
/// # Examples
///
/// ```
/// use evlatch_std::service::{EventService, Message};
/// let service = EventService::synchronous();
/// let sub = service.subscriber().subscribe("jobs.?")?;
/// let publisher = service.publisher();
/// for i in 0..3_i64 {
///     publisher.publish("jobs.done", Message::new().with_body("job", i))?;
/// }
/// service.process_events()?;
/// let jobs: Vec<i64> = sub.try_iter().filter_map(|e| e.body().get_i64("job")).collect();
/// assert_eq!(jobs, [0, 1, 2]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Publisher {
    core: Arc<Core>,
    id: u64,
    /// The service queue this publisher feeds.
    queue: usize,
}

impl Publisher {
    pub(super) fn new(core: Arc<Core>) -> Self {
        let n = core.next_publisher.fetch_add(1, Ordering::Relaxed);
        let queue = (n - 1) % core.queues.len();
        Publisher {
            core,
            id: n as u64,
            queue,
        }
    }

    /// This publisher's id: unique within its service, never 0 (the
    /// service's own id).
    ///
    /// # Examples
    ///
    /// ```
    /// let service = evlatch_std::service::EventService::synchronous();
    /// let (a, b) = (service.publisher(), service.publisher());
    /// assert_ne!(a.id(), b.id());
    /// assert_ne!(a.id(), 0);
    /// ```
    #[must_use]
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Publishes `message` under `topic`, waiting while the service queue is
    /// full. On a thread that is delivering this service's events (inside a
    /// listener or receive filter) it never waits — that could wait for
    /// itself — and fails with [`PublishErrorKind::Full`] instead.
    ///
    /// On a [`Mode::Direct`] service it returns once the event has been
    /// delivered (by this thread, or by one delivering when it was
    /// published); from inside a delivery, once it is queued (this thread
    /// delivers it next).
    ///
    /// # Errors
    ///
    /// [`PublishError`], with the message handed back: invalid or reserved
    /// topic, message too large, refused by the publish filter, queue full
    /// (see above), service shut down.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::service::{EventService, Message, PublishErrorKind};
    /// let service = EventService::synchronous();
    /// let publisher = service.publisher();
    /// publisher.publish("functions.signals.iteration", Message::new())?;
    /// let err = publisher.publish("sys.subscription.added", Message::new()).unwrap_err();
    /// assert_eq!(err.kind(), PublishErrorKind::ReservedTopic);
    /// # Ok::<(), evlatch_std::service::PublishError>(())
    /// ```
    pub fn publish(&self, topic: &str, message: Message) -> Result<(), PublishError> {
        self.send(topic, message, true)
    }

    /// Publishes without waiting for room: fails with
    /// [`PublishErrorKind::Full`] if the service queue has no room for the
    /// message's priority. On a [`Mode::Direct`] service it delivers as
    /// [`publish`](Self::publish) does, so it may wait for a delivery in
    /// progress on another thread.
    ///
    /// # Errors
    ///
    /// As [`publish`](Self::publish), and `Full`.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::service::{EventService, Message, PublishErrorKind};
    /// let service = EventService::builder().queue_capacity(1).build()?;
    /// let publisher = service.publisher();
    /// publisher.try_publish("a", Message::new())?;
    /// let err = publisher.try_publish("a", Message::new()).unwrap_err();
    /// assert_eq!(err.kind(), PublishErrorKind::Full);
    /// service.process_events()?;
    /// publisher.try_publish("a", err.into_message())?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_publish(&self, topic: &str, message: Message) -> Result<(), PublishError> {
        self.send(topic, message, false)
    }

    /// Announces on `sys.bridge.malformed` that a zenoh bridge got a sample
    /// that is not an event (if anyone subscribes to `sys`; never waits).
    #[cfg(all(feature = "zenoh", not(evlatch_loom)))]
    pub(crate) fn announce_bridge_malformed(&self, key: &str, message: &str) {
        self.core
            .emit_event(|| super::sys::bridge_malformed(key, message));
    }

    fn send(&self, topic: &str, message: Message, wait: bool) -> Result<(), PublishError> {
        let core = &*self.core;
        let fail = |kind, message| Err(PublishError::new(kind, topic, message));
        // A publish filter needs the parsed topic; otherwise a topic this
        // thread published a moment ago needs no second look.
        let mut parsed = None;
        if core.publish_filter.is_some() || !topic_cache::is_valid(topic) {
            let topic = match Topic::new(topic) {
                Ok(t) => t,
                Err(e) => return fail(PublishErrorKind::InvalidTopic(e), message),
            };
            if topic.is_reserved() {
                return fail(PublishErrorKind::ReservedTopic, message);
            }
            topic_cache::remember(topic.as_str());
            parsed = Some(topic);
        }
        if let Some(limit) = core.max_message_bytes {
            let size = message.weight();
            if size > limit {
                return fail(PublishErrorKind::TooLarge { size, limit }, message);
            }
        }
        if let (Some(filter), Some(parsed)) = (&core.publish_filter, &parsed) {
            if !filter(parsed, &message) {
                core.counters.rejected.incr();
                return fail(PublishErrorKind::Rejected, message);
            }
        }
        let (priority, ttl) = (message.priority(), message.ttl());
        // What the queue refused comes back here (kept out of the closure's
        // result: an item is large).
        let mut refused = None;
        let mut push = |tx: &PrioritySender<Item>, item| {
            // Room is the common case: try first, and only a full queue
            // pays for a wait (and for the check that it may wait here).
            let (item, kind) = match tx.try_send_with_priority(item, priority) {
                Ok(()) => return Ok(()),
                Err(TrySendError::Full(item)) if wait && !is_delivering(core.addr()) => {
                    match tx.send_with_priority(item, priority) {
                        Ok(()) => return Ok(()),
                        Err(e) => (e.into_inner(), PublishErrorKind::Closed),
                    }
                }
                Err(TrySendError::Full(item)) => (item, PublishErrorKind::Full),
                Err(TrySendError::Disconnected(item)) => (item, PublishErrorKind::Closed),
            };
            refused = Some(item);
            Err(kind)
        };
        // Direct mode, when the event was queued: delivered after the push.
        let mut deliver_queued = false;
        let sent = if core.mode == Mode::Direct {
            // Delivered here and now, from this frame, unless another
            // thread is delivering: then it is queued, and delivered by
            // `deliver_direct`.
            let mut event = Held::default();
            event.publish(message, topic, self.id);
            let sent = core.through_gate(self.queue, &mut event, |tx, event| {
                if core.deliver_now(event) {
                    return Ok(());
                }
                deliver_queued = true;
                match event.take_local() {
                    Some(event) => push(tx, Item::Event(event)),
                    // Not delivered, so never shared: still local.
                    None => Ok(()),
                }
            });
            sent.map_err(|event| event.take_local().map(Item::Event))
        } else {
            let item = Item::Event(message.into_delivery(topic, self.id));
            core.through_gate(self.queue, item, push).map_err(Some)
        };
        match sent {
            Ok(Ok(())) => {
                core.counters.published.incr();
                if deliver_queued {
                    core.deliver_direct();
                }
                Ok(())
            }
            Ok(Err(kind)) => fail(kind, take_back(refused, ttl)),
            Err(item) => fail(PublishErrorKind::Closed, take_back(item, ttl)),
        }
    }
}

/// The last topic this thread published that was valid and not reserved.
/// Validity depends on the text alone, so one cache serves every service;
/// a repeated topic then costs a comparison instead of a parse.
mod topic_cache {
    use core::cell::RefCell;

    std::thread_local! {
        /// Empty (never a valid topic) until the first remembered publish.
        static LAST: RefCell<String> = const { RefCell::new(String::new()) };
    }

    /// Whether `topic` is the topic remembered last: valid, not reserved.
    pub(super) fn is_valid(topic: &str) -> bool {
        LAST.try_with(|last| {
            last.try_borrow()
                .is_ok_and(|t| !t.is_empty() && *t == topic)
        })
        .unwrap_or(false)
    }

    /// Remembers `topic`, checked valid and not reserved.
    pub(super) fn remember(topic: &str) {
        let _ = LAST.try_with(|last| {
            if let Ok(mut t) = last.try_borrow_mut() {
                t.clear();
                t.push_str(topic);
            }
        });
    }
}

/// The message inside an item that could not be queued.
fn take_back(item: Option<Item>, ttl: Option<Duration>) -> Message {
    match item {
        Some(Item::Event(event)) => event.into_message(ttl),
        _ => Message::new(),
    }
}

impl fmt::Debug for Publisher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Publisher")
            .field("id", &self.id)
            .field("queue", &self.queue)
            .finish_non_exhaustive()
    }
}
