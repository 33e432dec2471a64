//! How a service and a subscription are set up: [`Builder`], [`Mode`],
//! [`SubscribeOptions`] and the overflow policy [`Overflow`].

use core::fmt;

use evlatch::topic::Topic;

use super::error::BuildError;
use super::message::{Delivery, Message};
use super::EventService;

/// The service's publish filter: sees every publish, says whether to keep it.
pub(super) type PublishFilter = Box<dyn Fn(&Topic<'_>, &Message) -> bool + Send + Sync>;

/// A subscription's receive filter.
pub(super) type ReceiveFilter = Box<dyn Fn(&Delivery) -> bool + Send + Sync>;

/// Who delivers queued events to subscriptions.
///
/// # Examples
///
/// ```
/// use evlatch_std::service::{EventService, Mode};
/// let service = EventService::builder()
///     .mode(Mode::Asynchronous { dispatchers: 2 })
///     .build()?;
/// assert_eq!(service.mode(), Mode::Asynchronous { dispatchers: 2 });
/// # Ok::<(), evlatch_std::service::BuildError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Mode {
    /// One service queue; events wait in it until a thread calls
    /// [`EventService::process_events`], which delivers them on that thread.
    Synchronous,
    /// `dispatchers` threads, each draining its own service queue and
    /// delivering on its own thread. Each [`Publisher`](super::Publisher) is
    /// assigned one queue, round-robin as publishers are created; the
    /// service's own `sys` events use queue 0.
    Asynchronous {
        /// Number of dispatcher threads (and queues), at least 1.
        dispatchers: usize,
    },
    /// Every publish delivers its event on the publishing thread before it
    /// returns: no dispatcher thread, no hand-off, no wake-up of another
    /// thread to deliver. One service queue holds what concurrent
    /// publishers (and listeners publishing from inside a delivery) hand
    /// over; whichever thread is delivering delivers it, one thread at a
    /// time, so a publish may wait for a delivery in progress on another
    /// thread (listeners included) — `try_publish` too.
    ///
    /// A publish from inside a listener or receive filter is delivered by
    /// the same thread right after the event in hand, before the outer
    /// publish returns. [`Overflow::Block`] subscriptions are refused
    /// ([`SubscribeError::BlockInDirectMode`](super::SubscribeError::BlockInDirectMode)):
    /// with nothing between publishers and subscribers, one slow subscriber
    /// would stall every publisher (and one that publishes itself, forever).
    /// [`EventService::process_events`] has nothing to do (it returns
    /// `Ok(0)` or the events a racing publish is about to deliver).
    ///
    /// Since a publish may wait for a delivery in progress, a listener must
    /// not wait for a thread that is publishing to the same service (or
    /// subscribing or unsubscribing while a `sys` subscription exists: those
    /// publish `sys` events), and
    /// listeners of two direct services must not publish into each other's
    /// service from two threads at once (each publish would wait for the
    /// other's delivery): don't.
    ///
    /// ```
    /// use evlatch_std::service::{EventService, Message, Mode};
    /// let service = EventService::builder().mode(Mode::Direct).build()?;
    /// let sub = service.subscriber().subscribe("jobs.?")?;
    /// service.publisher().publish("jobs.done", Message::new())?;
    /// assert_eq!(sub.try_recv()?.topic(), "jobs.done"); // already there
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    Direct,
}

/// What a subscription's queue does with a new event when it is full.
///
/// # Examples
///
/// ```
/// use evlatch_std::service::{EventService, Message, Overflow, SubscribeOptions, SubscriptionTryRecvError};
/// let service = EventService::synchronous();
/// let options = SubscribeOptions::new().capacity(2).overflow(Overflow::DropNewest);
/// let sub = service.subscriber().subscribe_with("a", options)?;
/// let publisher = service.publisher();
/// for i in 0..5_i64 {
///     publisher.publish("a", Message::new().with_body("i", i))?;
/// }
/// service.process_events()?;
/// assert_eq!(sub.try_recv().unwrap_err(), SubscriptionTryRecvError::Lagged(3)); // the lag notice
/// assert_eq!(sub.try_recv()?.body().get_i64("i"), Some(0)); // the oldest were kept
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Overflow {
    /// Lose nothing: the delivering thread waits for room. In asynchronous
    /// mode that back-pressures the dispatcher — every subscription it
    /// serves and, once its queue fills, every publisher feeding it waits on
    /// the slowest `Block` subscriber. In synchronous mode
    /// [`process_events`](EventService::process_events) does not wait: it
    /// stops and returns [`ProcessError::Blocked`](super::ProcessError::Blocked),
    /// and the next call resumes where it stopped
    /// ([`process_events_timeout`](EventService::process_events_timeout)
    /// waits up to a deadline first). Dropping the subscription releases a
    /// waiting dispatcher at once. During shutdown, an event that finds a
    /// `Block` queue full is dropped (and counted) after a grace period (see
    /// the [module docs](super#shutdown)).
    Block,
    /// Keep the newest: a new event displaces the oldest queued one, which
    /// is dropped and counted. Delivery never waits. The default.
    #[default]
    DropOldest,
    /// Keep the oldest: the new event is dropped and counted. Delivery never
    /// waits.
    DropNewest,
}

/// The settings of one subscription: queue capacity, [`Overflow`] policy and
/// receive filter.
///
/// # Examples
///
/// ```
/// use evlatch_std::service::{EventService, Message, Overflow, SubscribeOptions};
/// let service = EventService::synchronous();
/// let options = SubscribeOptions::new()
///     .capacity(64)
///     .overflow(Overflow::Block)
///     .filter(|event| event.body().get_f64("loss").is_some_and(|l| l > 1.0));
/// let sub = service.subscriber().subscribe_with("train.*", options)?;
/// let publisher = service.publisher();
/// publisher.publish("train.step", Message::new().with_body("loss", 0.5))?;
/// publisher.publish("train.step", Message::new().with_body("loss", 2.0))?;
/// service.process_events()?;
/// assert_eq!(sub.try_recv()?.body().get_f64("loss"), Some(2.0));
/// assert!(sub.try_recv().is_err());
/// assert_eq!(sub.stats().filtered, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct SubscribeOptions {
    pub(super) capacity: usize,
    pub(super) overflow: Overflow,
    pub(super) filter: Option<ReceiveFilter>,
}

impl SubscribeOptions {
    /// The default capacity of a subscription's queue.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::service::SubscribeOptions;
    /// assert_eq!(SubscribeOptions::DEFAULT_CAPACITY, 1024);
    /// ```
    pub const DEFAULT_CAPACITY: usize = 1024;

    /// [`DEFAULT_CAPACITY`](Self::DEFAULT_CAPACITY) events,
    /// [`Overflow::DropOldest`], no filter.
    ///
    /// # Examples
    ///
    /// ```
    /// let options = evlatch_std::service::SubscribeOptions::new();
    /// # let _ = options;
    /// ```
    #[must_use]
    pub fn new() -> Self {
        SubscribeOptions {
            capacity: Self::DEFAULT_CAPACITY,
            overflow: Overflow::DropOldest,
            filter: None,
        }
    }

    /// How many events the subscription's queue holds: exactly `capacity`
    /// (at least 1; 0 makes `subscribe_with` fail with
    /// [`SubscribeError::Capacity`](super::SubscribeError::Capacity)).
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::service::{EventService, SubscribeOptions};
    /// let service = EventService::synchronous();
    /// let sub = service.subscriber().subscribe_with("a", SubscribeOptions::new().capacity(5))?;
    /// assert_eq!(sub.capacity(), 5);
    /// # Ok::<(), evlatch_std::service::SubscribeError>(())
    /// ```
    #[must_use]
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity;
        self
    }

    /// What a full queue does with a new event.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::service::{EventService, Overflow, SubscribeOptions};
    /// let service = EventService::synchronous();
    /// let options = SubscribeOptions::new().overflow(Overflow::Block);
    /// let sub = service.subscriber().subscribe_with("a", options)?;
    /// assert_eq!(sub.overflow(), Overflow::Block);
    /// # Ok::<(), evlatch_std::service::SubscribeError>(())
    /// ```
    #[must_use]
    pub fn overflow(mut self, overflow: Overflow) -> Self {
        self.overflow = overflow;
        self
    }

    /// The receive filter: runs on the delivering thread for every event the
    /// pattern matches; `false` skips the event for this subscription (it is
    /// counted in [`SubscriptionStats::filtered`](super::SubscriptionStats)).
    /// A panic in it is caught and reported like a listener's.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::service::SubscribeOptions;
    /// let options = SubscribeOptions::new().filter(|e| e.body().get_bool("keep") == Some(true));
    /// # let _ = options;
    /// ```
    #[must_use]
    pub fn filter(mut self, filter: impl Fn(&Delivery) -> bool + Send + Sync + 'static) -> Self {
        self.filter = Some(Box::new(filter));
        self
    }
}

impl Default for SubscribeOptions {
    fn default() -> Self {
        SubscribeOptions::new()
    }
}

impl fmt::Debug for SubscribeOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SubscribeOptions")
            .field("capacity", &self.capacity)
            .field("overflow", &self.overflow)
            .field("filter", &self.filter.is_some())
            .finish()
    }
}

/// Sets up an [`EventService`]; from [`EventService::builder`].
///
/// # Examples
///
/// ```
/// use evlatch_std::service::{EventService, Message, Mode, PublishErrorKind};
/// let service = EventService::builder()
///     .mode(Mode::Synchronous)
///     .queue_capacity(128)
///     .max_message_bytes(1 << 10)
///     .publish_filter(|topic, _message| !topic.as_str().ends_with(".debug"))
///     .build()?;
/// let publisher = service.publisher();
/// let err = publisher.publish("net.debug", Message::new()).unwrap_err();
/// assert_eq!(err.kind(), PublishErrorKind::Rejected);
/// let big = Message::new().with_body("blob", vec![0_u8; 2048]);
/// let err = publisher.publish("net.data", big).unwrap_err();
/// assert!(matches!(err.kind(), PublishErrorKind::TooLarge { .. }));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Builder {
    pub(super) mode: Mode,
    pub(super) queue_capacity: usize,
    pub(super) max_message_bytes: Option<usize>,
    pub(super) publish_filter: Option<PublishFilter>,
}

impl Builder {
    /// The default capacity of each service queue, per priority level.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(evlatch_std::service::Builder::DEFAULT_QUEUE_CAPACITY, 4096);
    /// ```
    pub const DEFAULT_QUEUE_CAPACITY: usize = 4096;

    pub(super) fn new() -> Self {
        Builder {
            mode: Mode::Synchronous,
            queue_capacity: Self::DEFAULT_QUEUE_CAPACITY,
            max_message_bytes: None,
            publish_filter: None,
        }
    }

    /// Synchronous (the default) or asynchronous delivery.
    ///
    /// # Examples
    ///
    /// See [`Mode`].
    ///
    /// ```
    /// use evlatch_std::service::{EventService, Mode};
    /// let service = EventService::builder().mode(Mode::Synchronous).build()?;
    /// assert_eq!(service.mode(), Mode::Synchronous);
    /// # Ok::<(), evlatch_std::service::BuildError>(())
    /// ```
    #[must_use]
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// How many events each service queue holds, per priority level
    /// (default [`DEFAULT_QUEUE_CAPACITY`](Self::DEFAULT_QUEUE_CAPACITY);
    /// exactly this many, though the memory is that of the next power of
    /// two).
    /// A full queue makes [`Publisher::publish`](super::Publisher::publish)
    /// wait and [`try_publish`](super::Publisher::try_publish) fail. The
    /// service's own `sys` events share it.
    ///
    /// Events wait in the queue by value (a publish allocates nothing), so
    /// a slot takes the size of an event — 184 bytes on 64-bit targets,
    /// plus what its fields keep on the heap — and the slots are allocated
    /// when the service is built: the default, 4096 per priority, is about
    /// 1.5 MiB per service queue.
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
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn queue_capacity(mut self, capacity: usize) -> Self {
        self.queue_capacity = capacity;
        self
    }

    /// Refuse messages that [weigh](Message::weight) more than `limit`
    /// bytes ([`PublishErrorKind::TooLarge`](super::PublishErrorKind::TooLarge)).
    /// No limit by default.
    ///
    /// # Examples
    ///
    /// See [`Builder`].
    ///
    /// ```
    /// use evlatch_std::service::{EventService, Message};
    /// let service = EventService::builder().max_message_bytes(4).build()?;
    /// assert!(service.publisher().publish("a", Message::new().with_body("k", "long")).is_err());
    /// # Ok::<(), evlatch_std::service::BuildError>(())
    /// ```
    #[must_use]
    pub fn max_message_bytes(mut self, limit: usize) -> Self {
        self.max_message_bytes = Some(limit);
        self
    }

    /// The publish filter, run on the publishing thread for every publish
    /// of a valid, unreserved topic: `false` refuses the event
    /// ([`PublishErrorKind::Rejected`](super::PublishErrorKind::Rejected),
    /// counted in [`ServiceStats::rejected`](super::ServiceStats::rejected)).
    /// A panic in it unwinds into the publisher, like any code on its thread.
    ///
    /// # Examples
    ///
    /// See [`Builder`].
    ///
    /// ```
    /// use evlatch_std::service::EventService;
    /// let service = EventService::builder()
    ///     .publish_filter(|_topic, message| !message.body().is_empty())
    ///     .build()?;
    /// # let _ = service;
    /// # Ok::<(), evlatch_std::service::BuildError>(())
    /// ```
    #[must_use]
    pub fn publish_filter(
        mut self,
        filter: impl Fn(&Topic<'_>, &Message) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.publish_filter = Some(Box::new(filter));
        self
    }

    /// Builds the service; in asynchronous mode, starts its dispatcher
    /// threads.
    ///
    /// # Errors
    ///
    /// [`BuildError`] for a zero capacity, zero dispatchers, or a thread the
    /// system would not start.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::service::{BuildError, EventService};
    /// let err = EventService::builder().queue_capacity(0).build().unwrap_err();
    /// assert!(matches!(err, BuildError::Capacity(0)));
    /// ```
    pub fn build(self) -> Result<EventService, BuildError> {
        EventService::from_builder(self)
    }
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("mode", &self.mode)
            .field("queue_capacity", &self.queue_capacity)
            .field("max_message_bytes", &self.max_message_bytes)
            .field("publish_filter", &self.publish_filter.is_some())
            .finish()
    }
}
