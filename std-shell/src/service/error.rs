//! The service's errors, one per concern: building a service, publishing,
//! subscribing, processing events, receiving.

use core::fmt;

use evlatch::topic::{TopicError, RESERVED_GROUP};

use super::message::Message;

/// A service could not be built.
///
/// # Examples
///
/// ```
/// use evlatch_std::service::{BuildError, EventService, Mode};
/// let err = EventService::builder()
///     .mode(Mode::Asynchronous { dispatchers: 0 })
///     .build()
///     .unwrap_err();
/// assert!(matches!(err, BuildError::NoDispatchers));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum BuildError {
    /// A service queue capacity the queue cannot take (0, or too large).
    Capacity(usize),
    /// [`Mode::Asynchronous`](super::Mode::Asynchronous) with 0 dispatchers.
    NoDispatchers,
    /// The operating system refused to start a dispatcher thread.
    Spawn(std::io::Error),
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::Capacity(n) => write!(
                f,
                "a service queue cannot hold {n} events: give Builder::queue_capacity \
                 a capacity of at least 1 (and one the machine can allocate)"
            ),
            BuildError::NoDispatchers => f.write_str(
                "asynchronous mode with 0 dispatchers: ask for at least 1 dispatcher thread, \
                 or use Mode::Synchronous and call process_events",
            ),
            BuildError::Spawn(e) => write!(
                f,
                "could not start a dispatcher thread ({e}): ask for fewer dispatchers \
                 or free system resources"
            ),
        }
    }
}

impl core::error::Error for BuildError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            BuildError::Spawn(e) => Some(e),
            _ => None,
        }
    }
}

/// Why a publish failed. See [`PublishError`] for the message handed back.
///
/// # Examples
///
/// ```
/// use evlatch_std::service::{EventService, Message, PublishErrorKind};
/// let service = EventService::synchronous();
/// let err = service.publisher().publish("sys.drops", Message::new()).unwrap_err();
/// assert_eq!(err.kind(), PublishErrorKind::ReservedTopic);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PublishErrorKind {
    /// The topic string is not a valid topic.
    InvalidTopic(TopicError),
    /// The topic is in the group `sys`, which only the service publishes to.
    ReservedTopic,
    /// The message [weighs](Message::weight) more than the service's limit
    /// ([`Builder::max_message_bytes`](super::Builder::max_message_bytes)).
    TooLarge {
        /// The message's weight in bytes.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The service's publish filter
    /// ([`Builder::publish_filter`](super::Builder::publish_filter)) refused
    /// the event. It is counted in
    /// [`ServiceStats::rejected`](super::ServiceStats::rejected).
    Rejected,
    /// The service's queue is full: from
    /// [`try_publish`](super::Publisher::try_publish), or from a blocking
    /// publish on a thread that is itself delivering events (a listener or
    /// filter), which would otherwise wait for itself.
    Full,
    /// The service is shut down.
    Closed,
}

/// A publish failed: why ([`kind`](PublishError::kind)), the topic string,
/// and the message, handed back ([`into_message`](PublishError::into_message)).
///
/// # Examples
///
/// ```
/// use evlatch_std::service::{EventService, Message, PublishErrorKind};
/// let service = EventService::synchronous();
/// let err = service
///     .publisher()
///     .publish("a..b", Message::new().with_body("k", 1_i64))
///     .unwrap_err();
/// assert!(matches!(err.kind(), PublishErrorKind::InvalidTopic(_)));
/// assert_eq!(err.topic(), "a..b");
/// assert!(err.to_string().starts_with("cannot publish to \"a..b\": invalid topic"));
/// assert_eq!(err.into_message().body().get_i64("k"), Some(1));
/// ```
pub struct PublishError {
    kind: PublishErrorKind,
    topic: Box<str>,
    /// Boxed: a `Message` keeps its first fields in place and is large.
    message: Box<Message>,
}

impl PublishError {
    pub(super) fn new(kind: PublishErrorKind, topic: &str, message: Message) -> Self {
        PublishError {
            kind,
            topic: topic.into(),
            message: Box::new(message),
        }
    }

    /// Why the publish failed.
    ///
    /// # Examples
    ///
    /// See [`PublishError`].
    ///
    /// ```
    /// use evlatch_std::service::{EventService, Message, PublishErrorKind};
    /// let service = EventService::synchronous();
    /// let publisher = service.publisher();
    /// drop(service);
    /// let err = publisher.publish("a", Message::new()).unwrap_err();
    /// assert_eq!(err.kind(), PublishErrorKind::Closed);
    /// ```
    #[must_use]
    pub fn kind(&self) -> PublishErrorKind {
        self.kind
    }

    /// The topic string of the failed publish.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::service::{EventService, Message};
    /// let service = EventService::synchronous();
    /// let err = service.publisher().publish("sys.x", Message::new()).unwrap_err();
    /// assert_eq!(err.topic(), "sys.x");
    /// ```
    #[must_use]
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The message that was not published.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::service::{EventService, Message};
    /// let service = EventService::synchronous();
    /// let m = Message::new().with_body("k", "v");
    /// let err = service.publisher().publish("sys.x", m.clone()).unwrap_err();
    /// assert_eq!(err.into_message(), m);
    /// ```
    #[must_use]
    pub fn into_message(self) -> Message {
        *self.message
    }
}

impl fmt::Debug for PublishError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublishError")
            .field("kind", &self.kind)
            .field("topic", &self.topic)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for PublishError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot publish to {:?}: ", self.topic)?;
        match self.kind {
            PublishErrorKind::InvalidTopic(e) => write!(f, "{e}"),
            PublishErrorKind::ReservedTopic => write!(
                f,
                "the topic group '{RESERVED_GROUP}' is reserved for the service's own events; \
                 publish under another first segment"
            ),
            PublishErrorKind::TooLarge { size, limit } => write!(
                f,
                "the message weighs {size} bytes, over the service's limit of {limit}: \
                 send less, or raise Builder::max_message_bytes"
            ),
            PublishErrorKind::Rejected => {
                f.write_str("the service's publish filter refused the event")
            }
            PublishErrorKind::Full => f.write_str(
                "the service queue is full: retry later, process events (synchronous mode), \
                 or use a blocking publish from a thread that does not deliver events",
            ),
            PublishErrorKind::Closed => {
                f.write_str("the service is shut down: publish to a running service")
            }
        }
    }
}

impl core::error::Error for PublishError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match &self.kind {
            PublishErrorKind::InvalidTopic(e) => Some(e),
            _ => None,
        }
    }
}

/// A subscribe failed.
///
/// # Examples
///
/// ```
/// use evlatch_std::service::{EventService, SubscribeError};
/// let service = EventService::synchronous();
/// let err = service.subscriber().subscribe("a.**").unwrap_err();
/// assert!(matches!(err, SubscribeError::InvalidPattern(_)));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SubscribeError {
    /// The pattern string is not a valid pattern.
    InvalidPattern(TopicError),
    /// A subscription queue capacity the queue cannot take (0, or too
    /// large; [`SubscribeOptions::capacity`](super::SubscribeOptions::capacity)).
    Capacity(usize),
    /// The service is shut down.
    Closed,
    /// An [`Overflow::Block`](super::Overflow::Block) subscription on a
    /// [`Mode::Direct`](super::Mode::Direct) service, which refuses them
    /// (see there).
    ///
    /// ```
    /// use evlatch_std::service::{EventService, Mode, Overflow, SubscribeError, SubscribeOptions};
    /// let service = EventService::builder().mode(Mode::Direct).build().unwrap();
    /// let options = SubscribeOptions::new().overflow(Overflow::Block);
    /// let err = service.subscriber().subscribe_with("a", options).unwrap_err();
    /// assert_eq!(err, SubscribeError::BlockInDirectMode);
    /// ```
    BlockInDirectMode,
}

impl fmt::Display for SubscribeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SubscribeError::InvalidPattern(e) => write!(f, "cannot subscribe: {e}"),
            SubscribeError::Capacity(n) => write!(
                f,
                "cannot subscribe: a subscription queue cannot hold {n} events; give \
                 SubscribeOptions::capacity at least 1 (and one the machine can allocate)"
            ),
            SubscribeError::Closed => f.write_str("cannot subscribe: the service is shut down"),
            SubscribeError::BlockInDirectMode => f.write_str(
                "cannot subscribe with Overflow::Block to a Mode::Direct service (a full \
                 subscriber would stall every publisher): use DropOldest or DropNewest, or \
                 a Synchronous or Asynchronous service",
            ),
        }
    }
}

impl core::error::Error for SubscribeError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            SubscribeError::InvalidPattern(e) => Some(e),
            _ => None,
        }
    }
}

/// [`process_events`](super::EventService::process_events) did not drain
/// the queue.
///
/// # Examples
///
/// ```
/// use evlatch_std::service::{EventService, ProcessError};
/// let service = EventService::asynchronous(1).unwrap();
/// assert_eq!(service.process_events(), Err(ProcessError::Asynchronous));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProcessError {
    /// The service runs dispatcher threads
    /// ([`Mode::Asynchronous`](super::Mode::Asynchronous)): they deliver,
    /// nothing is left to process here.
    Asynchronous,
    /// A subscription with [`Overflow::Block`](super::Overflow::Block) has a
    /// full queue. Delivery stopped there; the next call resumes with that
    /// subscription, so nothing is lost or reordered.
    Blocked {
        /// The id of the full subscription
        /// ([`Subscription::id`](super::Subscription::id)).
        subscription: u64,
        /// Events fully processed by this call before it stopped.
        processed: usize,
    },
    /// Called from a listener or filter while this thread is already
    /// processing events of the same service; the outer call goes on.
    Reentrant,
}

impl fmt::Display for ProcessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProcessError::Asynchronous => f.write_str(
                "process_events on an asynchronous service: its dispatcher threads deliver \
                 events; build it with Mode::Synchronous to deliver on your own thread",
            ),
            ProcessError::Blocked {
                subscription,
                processed,
            } => write!(
                f,
                "delivery stopped after {processed} events: subscription {subscription} uses \
                 Overflow::Block and its queue is full; receive from it (or drop it) and call \
                 process_events again, or use process_events_timeout"
            ),
            ProcessError::Reentrant => f.write_str(
                "process_events called from a listener or filter of the same service: \
                 the outer call delivers the rest; return from the listener instead",
            ),
        }
    }
}

impl core::error::Error for ProcessError {}

/// A blocking or async receive from a subscription did not return an event.
///
/// # Examples
///
/// ```
/// use evlatch_std::service::{EventService, SubscriptionRecvError};
/// let service = EventService::synchronous();
/// let sub = service.subscriber().subscribe("a")?;
/// drop(service);
/// assert_eq!(sub.recv().unwrap_err(), SubscriptionRecvError::Closed);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SubscriptionRecvError {
    /// The lag notice: this many events meant for the subscription were
    /// dropped (its queue was full) since the last notice. Receive again
    /// for the events that follow.
    Lagged(u64),
    /// The service is shut down and the subscription's queue is drained.
    Closed,
}

impl fmt::Display for SubscriptionRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SubscriptionRecvError::Lagged(n) => write!(
                f,
                "{n} events were dropped from this subscription's full queue since the last \
                 notice: receive again for the next events, and receive faster or raise the \
                 capacity to lose fewer"
            ),
            SubscriptionRecvError::Closed => {
                f.write_str("the service is shut down and this subscription is drained")
            }
        }
    }
}

impl core::error::Error for SubscriptionRecvError {}

/// A non-blocking receive did not return an event.
///
/// # Examples
///
/// ```
/// use evlatch_std::service::{EventService, SubscriptionTryRecvError};
/// let service = EventService::synchronous();
/// let sub = service.subscriber().subscribe("a")?;
/// assert_eq!(sub.try_recv().unwrap_err(), SubscriptionTryRecvError::Empty);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SubscriptionTryRecvError {
    /// No event is queued now.
    Empty,
    /// The lag notice (see [`SubscriptionRecvError::Lagged`]).
    Lagged(u64),
    /// The service is shut down and the subscription's queue is drained.
    Closed,
}

impl fmt::Display for SubscriptionTryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SubscriptionTryRecvError::Empty => f.write_str(
                "no event queued for this subscription now: try later or use a blocking receive",
            ),
            SubscriptionTryRecvError::Lagged(n) => {
                fmt::Display::fmt(&SubscriptionRecvError::Lagged(*n), f)
            }
            SubscriptionTryRecvError::Closed => {
                fmt::Display::fmt(&SubscriptionRecvError::Closed, f)
            }
        }
    }
}

impl core::error::Error for SubscriptionTryRecvError {}

/// A receive with a timeout did not return an event.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use evlatch_std::service::{EventService, SubscriptionRecvTimeoutError};
/// let service = EventService::synchronous();
/// let sub = service.subscriber().subscribe("a")?;
/// let err = sub.recv_timeout(Duration::from_millis(1)).unwrap_err();
/// assert_eq!(err, SubscriptionRecvTimeoutError::Timeout);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SubscriptionRecvTimeoutError {
    /// No event arrived in time.
    Timeout,
    /// The lag notice (see [`SubscriptionRecvError::Lagged`]).
    Lagged(u64),
    /// The service is shut down and the subscription's queue is drained.
    Closed,
}

impl fmt::Display for SubscriptionRecvTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SubscriptionRecvTimeoutError::Timeout => f.write_str(
                "no event arrived for this subscription in time: wait longer or check that \
                 events are being processed",
            ),
            SubscriptionRecvTimeoutError::Lagged(n) => {
                fmt::Display::fmt(&SubscriptionRecvError::Lagged(*n), f)
            }
            SubscriptionRecvTimeoutError::Closed => {
                fmt::Display::fmt(&SubscriptionRecvError::Closed, f)
            }
        }
    }
}

impl core::error::Error for SubscriptionRecvTimeoutError {}
