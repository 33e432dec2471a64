//! The event service beyond one process, over [Eclipse Zenoh](https://zenoh.io)
//! (feature `zenoh`).
//!
//! A [`ServiceBridge`] attaches a running [`EventService`](crate::service::EventService)
//! to a zenoh [`Session`]. Local events whose topic matches an *export*
//! pattern go out as zenoh puts; remote events whose topic matches an
//! *import* pattern are published into the local service, where subscribers
//! see them exactly as local ones: patterns, TTL, filters, overflow policies
//! and statistics keep their meaning. The bridge counts what crossed in its
//! own [`BridgeStats`].
//!
//! ```
//! use std::time::Duration;
//! use evlatch_std::service::{EventService, Message};
//! use evlatch_std::zenoh::{self as ez, engine::Wait, BridgeOptions, ServiceBridge};
//!
//! // Two services in one process, each with its own zenoh peer, linked
//! // over loopback (in real use: two processes or machines).
//! let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
//! let endpoint = format!("tcp/127.0.0.1:{port}");
//! let a_session = ez::engine::open(ez::peer_config(&[&endpoint], &[])?).wait()?;
//! let b_session = ez::engine::open(ez::peer_config(&[], &[&endpoint])?).wait()?;
//!
//! let a = EventService::asynchronous(1)?;
//! let b = EventService::asynchronous(1)?;
//! let _a_bridge = ServiceBridge::attach(&a, &a_session, BridgeOptions::new().export("metrics.*")?)?;
//! let b_bridge = ServiceBridge::attach(&b, &b_session, BridgeOptions::new().import("metrics.*")?)?;
//! let sub = b.subscriber().subscribe("metrics.loss")?;
//!
//! // Publish until the link and the subscriptions are up, then read.
//! let publisher = a.publisher();
//! let event = loop {
//!     publisher.publish("metrics.loss", Message::new().with_body("loss", 0.25))?;
//!     if let Ok(event) = sub.recv_timeout(Duration::from_millis(100)) {
//!         break event;
//!     }
//! };
//! assert_eq!(event.body().get_f64("loss"), Some(0.25));
//! assert_eq!(event.publisher(), b_bridge.importer_id());
//! assert_eq!(event.header().get_i64(ez::REMOTE_PUBLISHER_HEADER), Some(publisher.id() as i64));
//! assert_eq!(event.header().get_str(ez::ORIGIN_HEADER), Some(a_session.zid().to_string().as_str()));
//! # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
//! ```
//!
//! # Latency: which service mode
//!
//! The bridge works with any [`Mode`](crate::service::Mode). Exports run in
//! a listener and imports are published from zenoh's callback, so with
//! [`Mode::Direct`](crate::service::Mode::Direct) services an exported
//! event is encoded and put on the publishing thread, and an imported one
//! reaches its listeners and subscription queues on zenoh's thread: the
//! bridge adds no thread hand-off to zenoh's own. Asynchronous services add
//! a dispatcher hop on each side (benches/RESULTS.md has both).
//!
//! # The engine
//!
//! This module is built on `zenoh` 1.10 (default features off, TCP
//! transport only), re-exported whole as [`engine`] — use
//! `evlatch_std::zenoh::engine::{Config, Session, open, Wait}` so that your
//! zenoh version always matches this crate's. The bridge uses zenoh's
//! synchronous API ([`Wait`](::zenoh::Wait)): no async runtime is needed in
//! your code (zenoh runs its own threads).
//!
//! # Keys
//!
//! Topic `a.b.c` is the zenoh key `evlatch/a/b/c` under the root of a
//! [`KeyMap`] (default `evlatch`); a pattern's `?` is zenoh's `*` and its
//! `*` is zenoh's `*/**`. Both sides of a link must use the same root. See
//! [`KeyMap`] for the escaping rule and why matching agrees.
//!
//! # Wire format
//!
//! Each event is one zenoh payload (no attachment): a version byte (now
//! `1`), then a [postcard](https://docs.rs/postcard) record
//! `{ origin, publisher, priority, expires, header, body }` with values
//! `Str | I64 | F64 | Bool | Bytes`, byte for byte as written in the module
//! source (`std-shell/src/zenoh/wire.rs`). The topic is the key. Any layout
//! change gets a new version; a bridge counts a payload of a version it
//! does not know as malformed. A payload that does not decode, a key that is
//! not a topic's (outside the root, a wildcard, a chunk with `.`), a topic
//! of the reserved group `sys`, or a zenoh delete under an import pattern
//! is counted ([`BridgeStats::malformed`]) and announced on
//! [`sys::BRIDGE_MALFORMED`](crate::service::sys::BRIDGE_MALFORMED) —
//! never a panic.
//!
//! # Imported events
//!
//! An imported event is published by the bridge's own [`Publisher`](crate::service::Publisher)
//! ([`ServiceBridge::importer_id`]), with its header, body and priority,
//! plus two header fields: [`REMOTE_PUBLISHER_HEADER`] (the publisher id in
//! the sending service) and [`ORIGIN_HEADER`] (the sending session's zenoh
//! id, as text). Header keys by those names from the sender are replaced.
//! Both come from the payload, as the sending bridge wrote them: zenoh's
//! own per-sample source information is an unstable API, and a raw zenoh
//! client can write any payload, so treat them as claims, not proof.
//!
//! # No loops
//!
//! A bridge never exports an event its own importer published, zenoh puts
//! go to remote subscribers only (`allowed_destination(Remote)`), and import
//! subscribers take remote samples only (`allowed_origin(Remote)`). So an
//! event crosses each bridge at most once, whatever the export and import
//! patterns on either side. (Two bridges on one service, each to another
//! network, do re-export each other's imports: an importer's id identifies
//! only its own bridge's events. Filter on [`ORIGIN_HEADER`] with a
//! receive filter if you need more.)
//!
//! # Time-to-live and clocks
//!
//! A TTL travels as an absolute expiry in unix time (nanoseconds): the
//! exporter adds what is left of the TTL to its wall clock; the importer
//! subtracts its own wall clock and publishes with the TTL that remains, or
//! counts the event as expired ([`BridgeStats::expired`]) and drops it. So
//! **clock skew between machines shifts every TTL by the skew**: a receiver
//! whose clock runs 2 s ahead sees every remote TTL 2 s shorter. Keep the
//! clocks in sync (NTP) and TTLs well above the skew and the link latency.
//! Events without a TTL read no clock.
//!
//! # Faults and back-pressure
//!
//! The zenoh receive callback never waits for room: it decodes the event
//! and publishes it into the service with `try_publish`, on zenoh's thread
//! (so the service's publish filter runs there: keep it quick; into a
//! [`Mode::Direct`](crate::service::Mode::Direct) service the delivery and
//! its listeners run there too, and it may wait for a delivery in progress
//! on another thread). If the
//! service queue is full — or earlier events are still waiting — it hands
//! the event to a bounded channel instead ([`BridgeOptions::import_capacity`],
//! counted in [`BridgeStats::backlogged`]), from which a bridge thread
//! publishes, in order, retrying a full service queue with short sleeps;
//! events only go direct again once that backlog is empty, so each remote
//! publisher's order holds. When the channel is full, arriving events are
//! dropped and counted ([`BridgeStats::dropped`]).
//! On the export side, a put while no peer is connected reaches no one:
//! zenoh does not queue it (nothing is held for a peer that went away), and
//! with the default `Drop` congestion control a full zenoh transmit queue
//! drops it too. Local subscriptions are unaffected: their own overflow
//! policies apply. When a peer comes back (zenoh reconnects configured
//! endpoints by itself), delivery resumes with the next event. Nothing the
//! bridge does waits without bound: dropping it waits for listener calls in
//! progress and at most about 50 ms for its thread.
//!
//! # The exchange across processes
//!
//! The worker [`exchange`](crate::exchange) runs across processes too:
//! see [`exchange`] (a cluster of processes, each with its
//! own workers; remote pairs over zenoh, FIFO, bounded by credit, ending
//! and failing the way local ones do).

mod bridge;
mod error;
pub mod exchange;
mod keys;
mod stats;
mod wire;

/// The zenoh crate this module is built on, re-exported whole so that you
/// use the same version: `engine::open`, `engine::Config`,
/// `engine::Session`, `engine::Wait`, …
///
/// # Examples
///
/// ```
/// use evlatch_std::zenoh::engine;
/// let config = engine::Config::default();
/// # let _ = config;
/// ```
pub use ::zenoh as engine;
pub use ::zenoh::{Config, Session};
pub use bridge::{BridgeOptions, ServiceBridge};
pub use error::{BridgeError, KeyError, WireError};
pub use keys::KeyMap;
pub use stats::BridgeStats;

/// Header key of an imported event: the id of the publisher in the sending
/// service (a [`Value::I64`](crate::service::Value::I64)).
///
/// # Examples
///
/// ```
/// assert_eq!(evlatch_std::zenoh::REMOTE_PUBLISHER_HEADER, "remote_publisher");
/// ```
pub const REMOTE_PUBLISHER_HEADER: &str = "remote_publisher";

/// Header key of an imported event: the zenoh id of the sending session,
/// as text (a [`Value::Str`](crate::service::Value::Str)).
///
/// # Examples
///
/// ```
/// assert_eq!(evlatch_std::zenoh::ORIGIN_HEADER, "origin");
/// ```
pub const ORIGIN_HEADER: &str = "origin";

/// A zenoh configuration for a peer that talks only to the endpoints given:
/// peer mode, multicast scouting off, listening on `listen` and connecting
/// to `connect` (zenoh endpoints like `tcp/127.0.0.1:7447`). A failed or
/// lost connection is retried in the background every 0.1 s to 1 s; opening
/// the session waits at most 1 s for the connections.
///
/// # Errors
///
/// [`BridgeError::Zenoh`] if zenoh refuses a setting (for example a
/// malformed endpoint).
///
/// # Examples
///
/// ```
/// let config = evlatch_std::zenoh::peer_config(&["tcp/127.0.0.1:0"], &[])?;
/// # let _ = config;
/// # Ok::<(), evlatch_std::zenoh::BridgeError>(())
/// ```
pub fn peer_config(listen: &[&str], connect: &[&str]) -> Result<Config, BridgeError> {
    let mut config = Config::default();
    let json_list = |items: &[&str]| {
        let quoted: Vec<String> = items.iter().map(|e| format!("{e:?}")).collect();
        format!("[{}]", quoted.join(","))
    };
    let settings = [
        ("mode", "\"peer\"".to_owned()),
        ("scouting/multicast/enabled", "false".to_owned()),
        ("listen/endpoints", json_list(listen)),
        ("connect/endpoints", json_list(connect)),
        ("connect/timeout_ms", "1000".to_owned()),
        ("connect/exit_on_failure", "false".to_owned()),
        (
            "connect/retry",
            "{ period_init_ms: 100, period_max_ms: 1000, period_increase_factor: 2 }".to_owned(),
        ),
    ];
    for (key, value) in settings {
        config
            .insert_json5(key, &value)
            .map_err(|source| BridgeError::Zenoh {
                what: "accept the peer configuration",
                source,
            })?;
    }
    Ok(config)
}
