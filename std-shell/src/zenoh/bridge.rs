//! [`ServiceBridge`]: one event service attached to one zenoh session.

use core::fmt;
use core::time::Duration;
use std::time::{Instant, SystemTime};

use ::zenoh::key_expr::KeyExpr;
use ::zenoh::pubsub::Subscriber as ZenohSubscriber;
use ::zenoh::qos::{CongestionControl, Priority as ZenohPriority};
use ::zenoh::sample::{Locality, Sample, SampleKind};
use ::zenoh::{Session, Wait};
use evlatch::topic::{Pattern, Topic};

use super::error::BridgeError;
use super::keys::KeyMap;
use super::stats::{incr, BridgeStats, Counters};
use super::wire::{self, EventOut, WireEvent};
use super::{ORIGIN_HEADER, REMOTE_PUBLISHER_HEADER};
use crate::backlog::Backlog;
use crate::channel::{self, Priority, Receiver, RecvTimeoutError, Sender};
use crate::service::{
    Delivery, EventService, Message, PublishErrorKind, Publisher, SubscribeOptions, Subscription,
};
use crate::sync::{thread, Arc, AtomicBool, Ordering};

/// How often the bridge thread looks at its stop flag while idle, and the
/// longest it sleeps between retries of a publish into a full service queue.
const POLL: Duration = Duration::from_millis(50);
const RETRY_MAX: Duration = Duration::from_millis(1);

/// What a bridge exports and imports, and how (see [`ServiceBridge`]).
///
/// # Examples
///
/// ```
/// use evlatch_std::zenoh::{BridgeOptions, KeyMap};
/// let options = BridgeOptions::new()
///     .keys(KeyMap::new("lab")?)
///     .export("metrics.*")?
///     .import("commands.?")?
///     .import_capacity(4096)
///     .block_when_congested(true);
/// assert_eq!(options.exports(), ["metrics.*"]);
/// assert_eq!(options.imports(), ["commands.?"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
#[must_use = "options do nothing until given to ServiceBridge::attach"]
pub struct BridgeOptions {
    keys: KeyMap,
    exports: Vec<String>,
    imports: Vec<String>,
    import_capacity: usize,
    export_capacity: usize,
    block: bool,
}

impl BridgeOptions {
    /// The default capacity of the import channel, in events.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(evlatch_std::zenoh::BridgeOptions::DEFAULT_IMPORT_CAPACITY, 1024);
    /// ```
    pub const DEFAULT_IMPORT_CAPACITY: usize = 1024;

    /// Nothing exported or imported, the default [`KeyMap`], an import
    /// channel of [`DEFAULT_IMPORT_CAPACITY`](Self::DEFAULT_IMPORT_CAPACITY),
    /// zenoh's `Drop` congestion control.
    ///
    /// # Examples
    ///
    /// ```
    /// let options = evlatch_std::zenoh::BridgeOptions::new();
    /// assert!(options.exports().is_empty() && options.imports().is_empty());
    /// ```
    pub fn new() -> Self {
        BridgeOptions {
            keys: KeyMap::default(),
            exports: Vec::new(),
            imports: Vec::new(),
            import_capacity: Self::DEFAULT_IMPORT_CAPACITY,
            export_capacity: SubscribeOptions::DEFAULT_CAPACITY,
            block: false,
        }
    }

    /// Maps topics under these keys (default: root `evlatch`). Both sides of
    /// a link must use the same root.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::zenoh::{BridgeOptions, KeyMap};
    /// let options = BridgeOptions::new().keys(KeyMap::new("site")?);
    /// # let _ = options;
    /// # Ok::<(), evlatch_std::zenoh::KeyError>(())
    /// ```
    pub fn keys(mut self, keys: KeyMap) -> Self {
        self.keys = keys;
        self
    }

    /// Exports local events whose topic matches `pattern`. An event that
    /// matches several export patterns is exported once.
    ///
    /// # Errors
    ///
    /// [`BridgeError::Key`] for an invalid pattern,
    /// [`BridgeError::ReservedPattern`] for one in the group `sys`.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::zenoh::BridgeOptions;
    /// assert!(BridgeOptions::new().export("*.signals.*").is_ok());
    /// assert!(BridgeOptions::new().export("a..b").is_err());
    /// ```
    pub fn export(mut self, pattern: &str) -> Result<Self, BridgeError> {
        check_pattern(pattern)?;
        self.exports.push(pattern.to_owned());
        Ok(self)
    }

    /// Imports remote events whose topic matches `pattern`. An event that
    /// matches several import patterns is imported once.
    ///
    /// # Errors
    ///
    /// As [`export`](Self::export).
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::zenoh::BridgeOptions;
    /// assert!(BridgeOptions::new().import("*").is_ok());
    /// assert!(BridgeOptions::new().import("sys.drops").is_err());
    /// ```
    pub fn import(mut self, pattern: &str) -> Result<Self, BridgeError> {
        check_pattern(pattern)?;
        self.imports.push(pattern.to_owned());
        Ok(self)
    }

    /// The capacity of the import channel: the backlog between zenoh's
    /// receiving threads and the bridge thread. A remote event is published
    /// into the service on zenoh's thread while the service queue has room
    /// and nothing waits in the channel; otherwise it goes to the channel
    /// (counted in [`BridgeStats::backlogged`]), and the bridge thread
    /// publishes it, in order, once there is room. When the channel is full,
    /// arriving events are dropped and counted ([`BridgeStats::dropped`]):
    /// zenoh's threads never wait for the service.
    ///
    /// # Examples
    ///
    /// ```
    /// let options = evlatch_std::zenoh::BridgeOptions::new().import_capacity(16);
    /// # let _ = options;
    /// ```
    pub fn import_capacity(mut self, capacity: usize) -> Self {
        self.import_capacity = capacity;
        self
    }

    /// With `true`, exports use zenoh's `Block` congestion control: when
    /// zenoh's transmit queue is full, the exporting dispatcher waits (zenoh
    /// bounds the wait and then closes the link). With `false` (the
    /// default), zenoh drops what does not fit. Either way nothing is queued
    /// for a peer that is not connected.
    ///
    /// # Examples
    ///
    /// ```
    /// let options = evlatch_std::zenoh::BridgeOptions::new().block_when_congested(true);
    /// # let _ = options;
    /// ```
    pub fn block_when_congested(mut self, block: bool) -> Self {
        self.block = block;
        self
    }

    /// The export patterns, in the order given.
    ///
    /// # Examples
    ///
    /// ```
    /// let options = evlatch_std::zenoh::BridgeOptions::new().export("a")?.export("b.*")?;
    /// assert_eq!(options.exports(), ["a", "b.*"]);
    /// # Ok::<(), evlatch_std::zenoh::BridgeError>(())
    /// ```
    #[must_use]
    pub fn exports(&self) -> &[String] {
        &self.exports
    }

    /// The import patterns, in the order given.
    ///
    /// # Examples
    ///
    /// ```
    /// let options = evlatch_std::zenoh::BridgeOptions::new().import("a.?")?;
    /// assert_eq!(options.imports(), ["a.?"]);
    /// # Ok::<(), evlatch_std::zenoh::BridgeError>(())
    /// ```
    #[must_use]
    pub fn imports(&self) -> &[String] {
        &self.imports
    }
}

impl Default for BridgeOptions {
    fn default() -> Self {
        BridgeOptions::new()
    }
}

impl fmt::Debug for BridgeOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BridgeOptions")
            .field("keys", &self.keys)
            .field("exports", &self.exports)
            .field("imports", &self.imports)
            .field("import_capacity", &self.import_capacity)
            .field("block_when_congested", &self.block)
            .finish()
    }
}

fn check_pattern(pattern: &str) -> Result<(), BridgeError> {
    let parsed =
        Pattern::new(pattern).map_err(|e| BridgeError::Key(super::KeyError::InvalidPattern(e)))?;
    if parsed.is_reserved() {
        return Err(BridgeError::ReservedPattern(pattern.to_owned()));
    }
    Ok(())
}

/// An [`EventService`] attached to a zenoh [`Session`]: local events under
/// the export patterns go out as zenoh puts, remote events under the import
/// patterns are published locally (see the [module docs](super)).
///
/// Dropping the bridge (or [`close`](Self::close)) ends the export
/// subscriptions, undeclares the zenoh subscribers and joins the bridge
/// thread; it waits at most for listener calls in progress and about 50 ms.
/// The session stays open (it is the caller's).
///
/// # Examples
///
/// ```no_run
/// use evlatch_std::service::EventService;
/// use evlatch_std::zenoh::{self as ez, BridgeOptions, ServiceBridge};
/// use ez::engine::Wait;
///
/// let service = EventService::asynchronous(1)?;
/// let config = ez::peer_config(&["tcp/127.0.0.1:7447"], &[])?;
/// let session = ez::engine::open(config).wait()?;
/// let options = BridgeOptions::new().export("metrics.*")?.import("commands.*")?;
/// let bridge = ServiceBridge::attach(&service, &session, options)?;
/// println!("{:?}", bridge.stats());
/// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
/// ```
pub struct ServiceBridge {
    origin: Arc<str>,
    importer: u64,
    counters: Arc<Counters>,
    stop: Arc<AtomicBool>,
    exports: Vec<Subscription>,
    imports: Vec<ZenohSubscriber<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl ServiceBridge {
    /// Attaches `service` to `session` with `options`. Export subscriptions
    /// are taken on the service (they show on `sys.subscription.added`),
    /// zenoh subscribers are declared on the session, and one bridge thread
    /// starts (only if there is something to import).
    ///
    /// # Errors
    ///
    /// [`BridgeError`]: the service is shut down, zenoh refused a
    /// subscriber, the import capacity is unusable, the thread did not start.
    ///
    /// # Examples
    ///
    /// See [`ServiceBridge`].
    pub fn attach(
        service: &EventService,
        session: &Session,
        options: BridgeOptions,
    ) -> Result<Self, BridgeError> {
        let origin: Arc<str> = session.zid().to_string().into();
        let importer = Arc::new(service.publisher());
        let mut bridge = ServiceBridge {
            origin: origin.clone(),
            importer: importer.id(),
            counters: Arc::new(Counters::default()),
            stop: Arc::new(AtomicBool::new(false)),
            exports: Vec::new(),
            imports: Vec::new(),
            thread: None,
        };
        let keys = Arc::new(options.keys);
        // Exports.
        let subscriber = service.subscriber();
        for (i, pattern) in options.exports.iter().enumerate() {
            let sub = subscriber
                .subscribe_with(
                    pattern,
                    SubscribeOptions::new().capacity(options.export_capacity),
                )
                .map_err(BridgeError::Subscribe)?;
            let mut exporter = Exporter {
                session: session.clone(),
                keys: keys.clone(),
                earlier: options.exports[..i].to_vec(),
                origin: origin.clone(),
                importer: importer.id(),
                counters: bridge.counters.clone(),
                congestion: if options.block {
                    CongestionControl::Block
                } else {
                    CongestionControl::Drop
                },
                last: None,
            };
            sub.add_listener(move |event| exporter.export(event));
            bridge.exports.push(sub);
        }
        // Imports.
        if options.imports.is_empty() {
            return Ok(bridge);
        }
        let (tx, rx) = channel::bounded::<Incoming>(options.import_capacity)
            .map_err(|_| BridgeError::Capacity(options.import_capacity))?;
        // Remote events waiting in the channel: while there are any, the
        // callbacks send later ones after them (see `crate::backlog`).
        let backlog = Arc::new(Backlog::default());
        for (i, pattern) in options.imports.iter().enumerate() {
            let key = keys.pattern_key(pattern)?;
            let importer_side = ImportCallback {
                keys: keys.clone(),
                earlier: options.imports[..i].to_vec(),
                publisher: importer.clone(),
                counters: bridge.counters.clone(),
                backlog: backlog.clone(),
                tx: tx.clone(),
            };
            let sub = session
                .declare_subscriber(KeyExpr::from(key))
                .allowed_origin(Locality::Remote)
                .callback(move |sample| importer_side.receive(sample))
                .wait()
                .map_err(|source| BridgeError::Zenoh {
                    what: "declare an import subscriber",
                    source,
                })?;
            bridge.imports.push(sub);
        }
        drop(tx);
        let (counters, stop) = (bridge.counters.clone(), bridge.stop.clone());
        let handle = thread::Builder::new()
            .name("evlatch-zenoh-bridge".to_owned())
            .spawn(move || run_importer(&rx, &importer, &counters, &backlog, &stop))
            .map_err(BridgeError::Spawn)?;
        bridge.thread = Some(handle);
        Ok(bridge)
    }

    /// The counters so far.
    ///
    /// # Examples
    ///
    /// See [`ServiceBridge`].
    #[must_use]
    pub fn stats(&self) -> BridgeStats {
        self.counters.snapshot()
    }

    /// This bridge's origin id, the text of its session's zenoh id: remote
    /// bridges stamp it into the [`ORIGIN_HEADER`] of what they import from
    /// here.
    ///
    /// # Examples
    ///
    /// See [`ServiceBridge`].
    #[must_use]
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The id of the [`Publisher`] that publishes imported events into the
    /// local service: every imported event's
    /// [`Delivery::publisher`](crate::service::Delivery::publisher).
    ///
    /// # Examples
    ///
    /// See [`ServiceBridge`].
    #[must_use]
    pub fn importer_id(&self) -> u64 {
        self.importer
    }

    /// Detaches the bridge (as dropping it does) and returns the final
    /// counters.
    ///
    /// # Examples
    ///
    /// See [`ServiceBridge`].
    pub fn close(mut self) -> BridgeStats {
        self.shut();
        self.stats()
    }

    fn shut(&mut self) {
        // No new exports once each unsubscribe returns (it waits for a
        // listener call in progress).
        for sub in self.exports.drain(..) {
            sub.unsubscribe();
        }
        for sub in self.imports.drain(..) {
            // An undeclare that fails leaves a subscriber whose callback
            // finds the channel disconnected and counts a drop.
            let _ = sub.undeclare().wait();
        }
        self.stop.store(true, Ordering::Relaxed);
        if let Some(handle) = self.thread.take() {
            // The thread catches nothing that could panic; a join error can
            // only be a bug, and is not propagated out of a drop.
            let _ = handle.join();
        }
    }
}

impl Drop for ServiceBridge {
    fn drop(&mut self) {
        self.shut();
    }
}

impl fmt::Debug for ServiceBridge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceBridge")
            .field("origin", &self.origin)
            .field("importer", &self.importer)
            .field("exports", &self.exports.len())
            .field("imports", &self.imports.len())
            .field("stats", &self.stats())
            .finish()
    }
}

/// The export listener's state (one per export pattern).
struct Exporter {
    session: Session,
    keys: Arc<KeyMap>,
    /// The export patterns before this one: an event one of them matches is
    /// exported by that one's listener.
    earlier: Vec<String>,
    origin: Arc<str>,
    importer: u64,
    counters: Arc<Counters>,
    congestion: CongestionControl,
    /// The last topic exported and its key.
    last: Option<(String, KeyExpr<'static>)>,
}

impl Exporter {
    fn export(&mut self, event: &Delivery) {
        // Never send back what this bridge brought in.
        if event.publisher() == self.importer {
            return;
        }
        let Ok(topic) = Topic::new(event.topic()) else {
            incr(&self.counters.export_errors);
            return;
        };
        if self
            .earlier
            .iter()
            .any(|p| Pattern::new(p).is_ok_and(|p| p.matches(&topic)))
        {
            return;
        }
        let expires = match event.expires_at() {
            None => None,
            Some(at) => {
                let wall = SystemTime::now();
                let left = at.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    incr(&self.counters.expired);
                    return;
                }
                wire::expiry_after(wall, left)
            }
        };
        let payload = match wire::encode(&EventOut {
            origin: &self.origin,
            publisher: event.publisher(),
            priority: event.priority(),
            expires,
            header: event.header(),
            body: event.body(),
        }) {
            Ok(p) => p,
            Err(_) => {
                incr(&self.counters.export_errors);
                return;
            }
        };
        let key = match &self.last {
            Some((t, key)) if t == event.topic() => key.clone(),
            _ => match self.keys.key_of(&topic) {
                Ok(key) => {
                    let key = KeyExpr::from(key);
                    self.last = Some((event.topic().to_owned(), key.clone()));
                    key
                }
                Err(_) => {
                    incr(&self.counters.export_errors);
                    return;
                }
            },
        };
        let sent = self
            .session
            .put(key, payload)
            .allowed_destination(Locality::Remote)
            .congestion_control(self.congestion)
            .priority(match event.priority() {
                Priority::High => ZenohPriority::DataHigh,
                Priority::Low => ZenohPriority::Data,
            })
            .wait();
        match sent {
            Ok(()) => incr(&self.counters.exported),
            Err(_) => incr(&self.counters.export_errors),
        }
    }
}

/// A decoded remote event: the message as it will be published (the remote
/// stamps in its header, no TTL yet) and the expiry its TTL is taken from at
/// each attempt. zenoh's callback publishes it, or, if it cannot at once,
/// hands it through the import channel to the bridge thread.
struct Incoming {
    topic: String,
    message: Message,
    expires: Option<u64>,
}

/// The zenoh callback's state (one per import pattern). It never waits for
/// room in the service (into a direct service it delivers, which may wait
/// for a delivery in progress: see the module docs).
struct ImportCallback {
    keys: Arc<KeyMap>,
    earlier: Vec<String>,
    publisher: Arc<Publisher>,
    counters: Arc<Counters>,
    backlog: Arc<Backlog>,
    tx: Sender<Incoming>,
}

impl ImportCallback {
    fn receive(&self, sample: Sample) {
        let key = sample.key_expr();
        if sample.kind() != SampleKind::Put {
            return self.malformed(key.as_str(), "a delete, not an event");
        }
        let topic = match self.keys.topic_of(key) {
            Ok(t) => t,
            Err(e) => return self.malformed(key.as_str(), &e.to_string()),
        };
        let Ok(parsed) = Topic::new(&topic) else {
            return self.malformed(key.as_str(), "not a topic");
        };
        if parsed.is_reserved() {
            return self.malformed(
                key.as_str(),
                "a topic of the reserved group `sys`, which no bridge exports",
            );
        }
        if self
            .earlier
            .iter()
            .any(|p| Pattern::new(p).is_ok_and(|p| p.matches(&parsed)))
        {
            return;
        }
        let event = match wire::decode(&sample.payload().to_bytes()) {
            Ok(e) => e,
            Err(e) => return self.malformed(key.as_str(), &e.to_string()),
        };
        let mut incoming = Incoming::new(topic, event);
        if self.backlog.is_empty() {
            // Nothing is waiting: publish on this thread, without waiting.
            match attempt(incoming, &self.publisher, &self.counters) {
                Attempt::Done => return,
                Attempt::Full(back) => incoming = back,
            }
        }
        self.backlog.enter();
        if self.tx.try_send(incoming).is_ok() {
            incr(&self.counters.backlogged);
        } else {
            self.backlog.leave();
            incr(&self.counters.dropped);
        }
    }

    fn malformed(&self, key: &str, reason: &str) {
        incr(&self.counters.malformed);
        self.publisher.announce_bridge_malformed(key, reason);
    }
}

impl Incoming {
    /// The message to publish for `event`: its header with the remote
    /// publisher and origin stamped in, its body and priority.
    fn new(topic: String, event: WireEvent) -> Self {
        let WireEvent {
            origin,
            publisher: remote,
            priority,
            expires,
            header,
            body,
        } = event;
        let mut message = Message::from_body(body).with_priority(priority);
        *message.header_mut() = header;
        message.header_mut().insert(
            REMOTE_PUBLISHER_HEADER,
            i64::try_from(remote).unwrap_or(i64::MAX),
        );
        message.header_mut().insert(ORIGIN_HEADER, origin);
        Incoming {
            topic,
            message,
            expires,
        }
    }
}

/// What one publish attempt of an imported event came to.
enum Attempt {
    /// Published, or counted as expired, malformed, refused or dropped.
    Done,
    /// The service queue is full: the event, to try again later.
    Full(Incoming),
}

/// Publishes `incoming` once with `try_publish` (never waits for room), with
/// what is left of its TTL now, and counts the outcome.
fn attempt(incoming: Incoming, publisher: &Publisher, counters: &Counters) -> Attempt {
    let Incoming {
        topic,
        mut message,
        expires,
    } = incoming;
    if let Some(at) = expires {
        match wire::remaining_until(at) {
            Some(left) => message = message.with_ttl(left),
            None => {
                incr(&counters.expired);
                return Attempt::Done;
            }
        }
    }
    let err = match publisher.try_publish(&topic, message) {
        Ok(()) => {
            incr(&counters.imported);
            return Attempt::Done;
        }
        Err(err) => err,
    };
    match err.kind() {
        PublishErrorKind::Full => Attempt::Full(Incoming {
            topic,
            message: err.into_message(),
            expires,
        }),
        PublishErrorKind::Closed => {
            incr(&counters.dropped);
            Attempt::Done
        }
        PublishErrorKind::InvalidTopic(_) | PublishErrorKind::ReservedTopic => {
            incr(&counters.malformed);
            Attempt::Done
        }
        _ => {
            incr(&counters.refused);
            Attempt::Done
        }
    }
}

/// The bridge thread: publishes the backlog — what zenoh's callbacks could
/// not publish at once — without ever waiting on the service for long (a
/// full service queue is retried with short sleeps, watching the stop
/// flag).
fn run_importer(
    rx: &Receiver<Incoming>,
    publisher: &Publisher,
    counters: &Counters,
    backlog: &Backlog,
    stop: &AtomicBool,
) {
    loop {
        // Relaxed: the flag is a request to stop soon; the join orders the
        // rest.
        let stopping = stop.load(Ordering::Relaxed);
        let incoming = if stopping {
            match rx.try_recv() {
                Ok(incoming) => incoming,
                Err(_) => return,
            }
        } else {
            match rx.recv_timeout(POLL) {
                Ok(incoming) => incoming,
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => return,
            }
        };
        publish(incoming, publisher, counters, stop);
        // After the publish: a callback that sees the backlog empty next
        // publishes after this one.
        backlog.leave();
    }
}

/// Publishes one backlogged event, retrying a full service queue with
/// short sleeps until it fits or the bridge stops.
fn publish(mut incoming: Incoming, publisher: &Publisher, counters: &Counters, stop: &AtomicBool) {
    let mut pause = Duration::from_micros(20);
    loop {
        match attempt(incoming, publisher, counters) {
            Attempt::Done => return,
            Attempt::Full(_) if stop.load(Ordering::Relaxed) => {
                incr(&counters.dropped);
                return;
            }
            Attempt::Full(back) => {
                incoming = back;
                thread::sleep(pause);
                pause = (pause * 2).min(RETRY_MAX);
            }
        }
    }
}
