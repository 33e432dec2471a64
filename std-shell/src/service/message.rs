//! [`Message`], what a publisher hands the service, and [`Delivery`], what a
//! subscriber gets back: the same header and body, stamped by the service.

use core::fmt;
use core::time::Duration;
use std::borrow::Cow;
use std::time::Instant;

use super::value::{Fields, Value};
use crate::channel::Priority;

/// The header key under which the service stamps the publisher's id
/// ([`Publisher::id`](super::Publisher::id)) on every event. A value a
/// publisher puts under this key itself is replaced.
///
/// # Examples
///
/// ```
/// use evlatch_std::service::{EventService, Message, PUBLISHER_HEADER};
/// let service = EventService::synchronous();
/// let publisher = service.publisher();
/// let sub = service.subscriber().subscribe("a")?;
/// publisher.publish("a", Message::new().with_header(PUBLISHER_HEADER, "me"))?;
/// service.process_events()?;
/// let got = sub.try_recv()?;
/// assert_eq!(got.header().get_i64(PUBLISHER_HEADER), Some(publisher.id() as i64));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub const PUBLISHER_HEADER: &str = "publisher";

/// An event as a publisher builds it: a header and a body of typed fields,
/// a [`Priority`] and an optional time-to-live. The topic is given to
/// [`Publisher::publish`](super::Publisher::publish).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use evlatch_std::service::{Message, Priority};
///
/// let message = Message::new()
///     .with_body("step", 10_i64)
///     .with_body("loss", 0.25)
///     .with_header("run", "r7")
///     .with_priority(Priority::High)
///     .with_ttl(Duration::from_secs(1));
/// assert_eq!(message.body().get_f64("loss"), Some(0.25));
/// assert_eq!(message.priority(), Priority::High);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    header: Fields,
    body: Fields,
    priority: Priority,
    ttl: Option<Duration>,
}

impl Default for Message {
    fn default() -> Self {
        Message::new()
    }
}

impl Message {
    /// An empty message: no fields, [`Priority::Low`], no time-to-live.
    ///
    /// # Examples
    ///
    /// ```
    /// let m = evlatch_std::service::Message::new();
    /// assert!(m.body().is_empty() && m.ttl().is_none());
    /// ```
    #[must_use]
    pub const fn new() -> Self {
        Message {
            header: Fields::new(),
            body: Fields::new(),
            priority: Priority::Low,
            ttl: None,
        }
    }

    /// A message with this body.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::service::{Fields, Message};
    /// let body: Fields = [("a", 1_i64), ("b", 2_i64)].into_iter().collect();
    /// assert_eq!(Message::from_body(body).body().len(), 2);
    /// ```
    #[must_use]
    pub fn from_body(body: Fields) -> Self {
        Message {
            body,
            ..Message::new()
        }
    }

    /// Sets a body field (replacing an earlier value of the key).
    ///
    /// # Examples
    ///
    /// ```
    /// let m = evlatch_std::service::Message::new().with_body("k", "v");
    /// assert_eq!(m.body().get_str("k"), Some("v"));
    /// ```
    #[must_use]
    pub fn with_body(mut self, key: impl Into<Cow<'static, str>>, value: impl Into<Value>) -> Self {
        self.body.insert(key, value);
        self
    }

    /// Sets a header field. The key [`PUBLISHER_HEADER`] is the service's:
    /// a value set here is replaced on publish.
    ///
    /// # Examples
    ///
    /// ```
    /// let m = evlatch_std::service::Message::new().with_header("trace", 42_i64);
    /// assert_eq!(m.header().get_i64("trace"), Some(42));
    /// ```
    #[must_use]
    pub fn with_header(
        mut self,
        key: impl Into<Cow<'static, str>>,
        value: impl Into<Value>,
    ) -> Self {
        self.header.insert(key, value);
        self
    }

    /// Sets the priority: in the service's queue, [`Priority::High`] events
    /// are dispatched before `Low` ones (see the [module docs](super)).
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::service::{Message, Priority};
    /// assert_eq!(Message::new().with_priority(Priority::High).priority(), Priority::High);
    /// ```
    #[must_use]
    pub fn with_priority(mut self, priority: Priority) -> Self {
        self.priority = priority;
        self
    }

    /// Sets the time-to-live, counted from the publish call: an event still
    /// undelivered (in the service's queue) or unreceived (in a
    /// subscription's queue) when it runs out is discarded and counted as
    /// expired.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let m = evlatch_std::service::Message::new().with_ttl(Duration::from_millis(5));
    /// assert_eq!(m.ttl(), Some(Duration::from_millis(5)));
    /// ```
    #[must_use]
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// The header fields set so far.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(evlatch_std::service::Message::new().header().is_empty());
    /// ```
    #[must_use]
    pub fn header(&self) -> &Fields {
        &self.header
    }

    /// The header fields, to change in place.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut m = evlatch_std::service::Message::new();
    /// m.header_mut().insert("k", 1_i64);
    /// assert_eq!(m.header().len(), 1);
    /// ```
    pub fn header_mut(&mut self) -> &mut Fields {
        &mut self.header
    }

    /// The body fields.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(evlatch_std::service::Message::new().body().is_empty());
    /// ```
    #[must_use]
    pub fn body(&self) -> &Fields {
        &self.body
    }

    /// The body fields, to change in place.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut m = evlatch_std::service::Message::new();
    /// m.body_mut().insert("k", 1_i64);
    /// assert_eq!(m.body().len(), 1);
    /// ```
    pub fn body_mut(&mut self) -> &mut Fields {
        &mut self.body
    }

    /// The priority ([`Priority::Low`] unless set).
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::service::{Message, Priority};
    /// assert_eq!(Message::new().priority(), Priority::Low);
    /// ```
    #[must_use]
    pub fn priority(&self) -> Priority {
        self.priority
    }

    /// The time-to-live, if set.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(evlatch_std::service::Message::new().ttl(), None);
    /// ```
    #[must_use]
    pub fn ttl(&self) -> Option<Duration> {
        self.ttl
    }

    /// Bytes the message counts for in a size limit: header and body
    /// [`weight`](Fields::weight)s.
    ///
    /// # Examples
    ///
    /// ```
    /// let m = evlatch_std::service::Message::new().with_body("k", "vv");
    /// assert_eq!(m.weight(), 3);
    /// ```
    #[must_use]
    pub fn weight(&self) -> usize {
        self.header.weight().saturating_add(self.body.weight())
    }

    /// Turns the message into what subscribers receive: `topic` (already
    /// validated), the publisher id stamped into the header.
    pub(super) fn into_delivery(self, topic: &str, publisher: u64) -> Delivery {
        let mut event = Delivery::spent();
        self.deliver_into(topic, publisher, &mut event);
        event
    }

    /// Makes `at` this message as published under `topic` by `publisher`,
    /// one field at a time: a whole event built and then moved would be
    /// copied on the way (it is large).
    pub(super) fn deliver_into(mut self, topic: &str, publisher: u64, at: &mut Delivery) {
        self.stamp(publisher);
        let Message {
            header,
            body,
            priority,
            ttl,
        } = self;
        at.topic = TopicText::new(topic);
        at.header = header;
        at.body = body;
        at.publisher = publisher;
        at.priority = priority;
        // A time-to-live too long to represent never runs out.
        at.expires_at = ttl.and_then(|ttl| Instant::now().checked_add(ttl));
    }

    /// Puts `publisher` under [`PUBLISHER_HEADER`], last, in place of any
    /// value there.
    fn stamp(&mut self, publisher: u64) {
        if !self.header.is_empty() {
            self.header.remove(PUBLISHER_HEADER);
        }
        self.header
            .push_unique(PUBLISHER_HEADER, Value::I64(id_value(publisher)));
    }
}

/// An id as an `i64` field value (ids stay far below `i64::MAX`).
pub(super) fn id_value(id: u64) -> i64 {
    i64::try_from(id).unwrap_or(i64::MAX)
}

/// An event as subscribers receive it, shared (`Arc`) between every
/// subscription it reaches: the topic it was published under, its header —
/// which always holds the publisher id under [`PUBLISHER_HEADER`] — and
/// body, its priority and its expiry time.
///
/// The delivering thread may keep one more reference to a small event (one
/// that owns no heap memory) for a while, to reuse its allocation for a
/// later event once every subscriber has dropped it; so do not read
/// meaning into `Arc::strong_count`. A delivery never changes while anyone
/// else holds it.
///
/// # Examples
///
/// ```
/// use evlatch_std::service::{EventService, Message};
/// let service = EventService::synchronous();
/// let sub = service.subscriber().subscribe("train.*")?;
/// let publisher = service.publisher();
/// publisher.publish("train.step", Message::new().with_body("loss", 0.5))?;
/// service.process_events()?;
/// let event = sub.try_recv()?;
/// assert_eq!(event.topic(), "train.step");
/// assert_eq!(event.publisher(), publisher.id());
/// assert_eq!(event.body().get_f64("loss"), Some(0.5));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Delivery {
    topic: TopicText,
    header: Fields,
    body: Fields,
    publisher: u64,
    priority: Priority,
    expires_at: Option<Instant>,
}

impl Delivery {
    /// A spent event: empty topic and maps, no expiry. What is left where
    /// an event was moved out, or is about to be written in.
    pub(super) fn spent() -> Self {
        Delivery {
            topic: TopicText::Inline {
                len: 0,
                bytes: [0; INLINE_TOPIC],
            },
            header: Fields::new(),
            body: Fields::new(),
            publisher: 0,
            priority: Priority::Low,
            expires_at: None,
        }
    }

    /// The message again, for a publish that failed after it was built
    /// (the stamped publisher id removed; `ttl` as it was published with:
    /// a delivery keeps only the expiry time).
    pub(super) fn into_message(self, ttl: Option<Duration>) -> Message {
        let Delivery {
            mut header,
            body,
            priority,
            ..
        } = self;
        header.remove(PUBLISHER_HEADER);
        Message {
            header,
            body,
            priority,
            ttl,
        }
    }

    /// An event of the service itself (publisher 0) on a `sys.…` topic.
    pub(super) fn service_event(topic: &str, body: Fields, priority: Priority) -> Delivery {
        Message::from_body(body)
            .with_priority(priority)
            .into_delivery(topic, super::SERVICE_PUBLISHER)
    }

    /// The topic the event was published under.
    ///
    /// # Examples
    ///
    /// See [`Delivery`].
    ///
    /// ```
    /// # use evlatch_std::service::{EventService, Message};
    /// # let service = EventService::synchronous();
    /// # let sub = service.subscriber().subscribe("a.b").unwrap();
    /// # service.publisher().publish("a.b", Message::new()).unwrap();
    /// # service.process_events().unwrap();
    /// assert_eq!(sub.try_recv().unwrap().topic(), "a.b");
    /// ```
    #[must_use]
    pub fn topic(&self) -> &str {
        self.topic.as_str()
    }

    /// The header, with the publisher id under [`PUBLISHER_HEADER`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use evlatch_std::service::{EventService, Message, PUBLISHER_HEADER};
    /// # let service = EventService::synchronous();
    /// # let sub = service.subscriber().subscribe("a").unwrap();
    /// # service.publisher().publish("a", Message::new().with_header("h", 1_i64)).unwrap();
    /// # service.process_events().unwrap();
    /// let event = sub.try_recv().unwrap();
    /// assert_eq!(event.header().get_i64("h"), Some(1));
    /// assert!(event.header().get(PUBLISHER_HEADER).is_some());
    /// ```
    #[must_use]
    pub fn header(&self) -> &Fields {
        &self.header
    }

    /// The body.
    ///
    /// # Examples
    ///
    /// ```
    /// # use evlatch_std::service::{EventService, Message};
    /// # let service = EventService::synchronous();
    /// # let sub = service.subscriber().subscribe("a").unwrap();
    /// # service.publisher().publish("a", Message::new().with_body("b", true)).unwrap();
    /// # service.process_events().unwrap();
    /// assert_eq!(sub.try_recv().unwrap().body().get_bool("b"), Some(true));
    /// ```
    #[must_use]
    pub fn body(&self) -> &Fields {
        &self.body
    }

    /// The id of the [`Publisher`](super::Publisher) that published it; 0
    /// for the service's own `sys` events.
    ///
    /// # Examples
    ///
    /// ```
    /// # use evlatch_std::service::{EventService, Message};
    /// # let service = EventService::synchronous();
    /// # let sub = service.subscriber().subscribe("a").unwrap();
    /// let publisher = service.publisher();
    /// publisher.publish("a", Message::new()).unwrap();
    /// # service.process_events().unwrap();
    /// assert_eq!(sub.try_recv().unwrap().publisher(), publisher.id());
    /// ```
    #[must_use]
    pub fn publisher(&self) -> u64 {
        self.publisher
    }

    /// The priority it was published with.
    ///
    /// # Examples
    ///
    /// ```
    /// # use evlatch_std::service::{EventService, Message, Priority};
    /// # let service = EventService::synchronous();
    /// # let sub = service.subscriber().subscribe("a").unwrap();
    /// # service.publisher().publish("a", Message::new()).unwrap();
    /// # service.process_events().unwrap();
    /// assert_eq!(sub.try_recv().unwrap().priority(), Priority::Low);
    /// ```
    #[must_use]
    pub fn priority(&self) -> Priority {
        self.priority
    }

    /// When its time-to-live runs out, if it has one.
    ///
    /// # Examples
    ///
    /// ```
    /// # use evlatch_std::service::{EventService, Message};
    /// # let service = EventService::synchronous();
    /// # let sub = service.subscriber().subscribe("a").unwrap();
    /// # service.publisher().publish("a", Message::new()).unwrap();
    /// # service.process_events().unwrap();
    /// assert!(sub.try_recv().unwrap().expires_at().is_none());
    /// ```
    #[must_use]
    pub fn expires_at(&self) -> Option<Instant> {
        self.expires_at
    }

    /// Whether its time-to-live has run out at `now`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use evlatch_std::service::{EventService, Message};
    /// # let service = EventService::synchronous();
    /// # let sub = service.subscriber().subscribe("a").unwrap();
    /// # service.publisher().publish("a", Message::new()).unwrap();
    /// # service.process_events().unwrap();
    /// assert!(!sub.try_recv().unwrap().is_expired_at(std::time::Instant::now()));
    /// ```
    #[must_use]
    pub fn is_expired_at(&self, now: Instant) -> bool {
        self.expires_at.is_some_and(|at| now >= at)
    }

    /// Whether it owns no heap memory besides itself (so keeping it around
    /// for reuse costs only its own size).
    pub(super) fn owns_nothing(&self) -> bool {
        matches!(self.topic, TopicText::Inline { .. })
            && self.header.owns_nothing()
            && self.body.owns_nothing()
    }

    /// Whether it has expired now (a clock read only if it has a TTL).
    pub(super) fn is_expired(&self) -> bool {
        self.expires_at.is_some_and(|at| Instant::now() >= at)
    }
}

impl fmt::Debug for Delivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Delivery")
            .field("topic", &self.topic.as_str())
            .field("header", &self.header)
            .field("body", &self.body)
            .field("priority", &self.priority)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// A topic string, stored in place when short: most topics are, and an
/// event then needs no allocation of its own for it.
enum TopicText {
    /// `bytes[..len]` is a copy of a `&str`.
    Inline {
        len: u8,
        bytes: [u8; INLINE_TOPIC],
    },
    Heap(Box<str>),
}

/// The longest topic stored in place.
const INLINE_TOPIC: usize = 30;

impl TopicText {
    fn new(topic: &str) -> Self {
        match u8::try_from(topic.len()) {
            Ok(len) if topic.len() <= INLINE_TOPIC => {
                let mut bytes = [0; INLINE_TOPIC];
                bytes[..topic.len()].copy_from_slice(topic.as_bytes());
                TopicText::Inline { len, bytes }
            }
            _ => TopicText::Heap(topic.into()),
        }
    }

    fn as_str(&self) -> &str {
        match self {
            TopicText::Inline { len, bytes } => {
                let text = &bytes[..usize::from(*len)];
                debug_assert!(core::str::from_utf8(text).is_ok());
                // SAFETY: `bytes[..len]` was copied whole from a `&str` in
                // `new` and never changed, so it is valid UTF-8.
                unsafe { core::str::from_utf8_unchecked(text) }
            }
            TopicText::Heap(text) => text,
        }
    }
}
