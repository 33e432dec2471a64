//! The service's own events, on topics of the reserved group `sys`.
//!
//! | topic                        | when                                      | body fields |
//! |------------------------------|-------------------------------------------|-------------|
//! | [`SUBSCRIPTION_ADDED`]       | a subscription was created                | `subscription`, `pattern` |
//! | [`SUBSCRIPTION_REMOVED`]     | a subscription was dropped/unsubscribed   | `subscription`, `pattern` |
//! | [`DROPS`]                    | a subscription's full queue lost events   | `subscription`, `pattern`, `dropped`, `dropped_total` |
//! | [`LISTENER_PANIC`]           | a listener or receive filter panicked     | `subscription`, `pattern`, `listener`, `topic`, `message` |
//! | [`BRIDGE_MALFORMED`]         | a zenoh bridge got a sample that is not an event (feature `zenoh`) | `key`, `message` |
//!
//! All values are [`Value::I64`] (ids and counts) or [`Value::Str`]. The
//! publisher id of these events is 0. Their priority is `High`, except
//! [`DROPS`], which is queued `Low` — behind the events already waiting, so
//! that under load one notice covers a whole burst of drops.
//!
//! Only patterns whose first segment is the literal `sys` see these events:
//! `*` or `?.drops` never match a `sys` topic. The service creates them
//! only while such a subscription exists, so they cost nothing otherwise,
//! and they share service queue 0 with user events: when it is full they
//! are not queued, only counted
//! ([`ServiceStats::sys_dropped`](super::ServiceStats::sys_dropped)).
//!
//! No feedback loops: drops of `sys` events from a subscription's queue are
//! counted but not announced on [`DROPS`], and a panic while handling a
//! `sys` event is counted but not announced on [`LISTENER_PANIC`]. [`DROPS`]
//! is coalesced: at most one notice per subscription waits in the queue at a
//! time, and it reports everything dropped since the previous notice.
//!
//! # Examples
//!
//! ```
//! use evlatch_std::service::{sys, EventService, Message, Overflow, SubscribeOptions};
//!
//! let service = EventService::synchronous();
//! let watch = service.subscriber().subscribe("sys.*")?;
//! let options = SubscribeOptions::new().capacity(1).overflow(Overflow::DropNewest);
//! let slow = service.subscriber().subscribe_with("data", options)?;
//! let publisher = service.publisher();
//! publisher.publish("data", Message::new())?;
//! publisher.publish("data", Message::new())?;
//! service.process_events()?;
//!
//! // The watcher sees its own subscription first, then the others.
//! let own = watch.try_recv()?;
//! assert_eq!(own.body().get_i64(sys::SUBSCRIPTION), Some(watch.id() as i64));
//! let added = watch.try_recv()?;
//! assert_eq!(added.topic(), sys::SUBSCRIPTION_ADDED);
//! assert_eq!(added.body().get_i64(sys::SUBSCRIPTION), Some(slow.id() as i64));
//! let drops = watch.try_recv()?;
//! assert_eq!(drops.topic(), sys::DROPS);
//! assert_eq!(drops.body().get_i64(sys::DROPPED), Some(1));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use super::message::{id_value, Delivery};
use super::value::Fields;
#[cfg(doc)]
use super::value::Value;
use crate::channel::Priority;

/// A subscription was created. Body: [`SUBSCRIPTION`], [`PATTERN`].
///
/// # Examples
///
/// ```
/// assert_eq!(evlatch_std::service::sys::SUBSCRIPTION_ADDED, "sys.subscription.added");
/// ```
pub const SUBSCRIPTION_ADDED: &str = "sys.subscription.added";

/// A subscription ended (unsubscribed or dropped). Body: [`SUBSCRIPTION`],
/// [`PATTERN`].
///
/// # Examples
///
/// ```
/// assert_eq!(evlatch_std::service::sys::SUBSCRIPTION_REMOVED, "sys.subscription.removed");
/// ```
pub const SUBSCRIPTION_REMOVED: &str = "sys.subscription.removed";

/// A subscription's full queue lost events. Body: [`SUBSCRIPTION`],
/// [`PATTERN`], [`DROPPED`] (since the previous notice for it),
/// [`DROPPED_TOTAL`].
///
/// # Examples
///
/// ```
/// assert_eq!(evlatch_std::service::sys::DROPS, "sys.drops");
/// ```
pub const DROPS: &str = "sys.drops";

/// A listener or receive filter panicked; the panic was caught. Body:
/// [`SUBSCRIPTION`], [`PATTERN`], [`LISTENER`] (-1 for the receive filter),
/// [`TOPIC`] (of the event being handled), [`MESSAGE`] (the panic message).
///
/// # Examples
///
/// ```
/// assert_eq!(evlatch_std::service::sys::LISTENER_PANIC, "sys.listener.panic");
/// ```
pub const LISTENER_PANIC: &str = "sys.listener.panic";

/// A zenoh bridge (`evlatch_std::zenoh`, feature `zenoh`) received a
/// remote sample that is not an event: a payload not in the wire format, a
/// key that is not a topic's, a `sys` topic. Body: [`KEY`] (the zenoh key),
/// [`MESSAGE`] (what is wrong). The sample is not published; the bridge
/// counts it as malformed.
///
/// # Examples
///
/// ```
/// assert_eq!(evlatch_std::service::sys::BRIDGE_MALFORMED, "sys.bridge.malformed");
/// ```
pub const BRIDGE_MALFORMED: &str = "sys.bridge.malformed";

/// Body key: the zenoh key of a malformed sample ([`BRIDGE_MALFORMED`]).
///
/// # Examples
///
/// ```
/// assert_eq!(evlatch_std::service::sys::KEY, "key");
/// ```
pub const KEY: &str = "key";

/// Body key: the subscription's id ([`Subscription::id`](super::Subscription::id)).
///
/// # Examples
///
/// ```
/// assert_eq!(evlatch_std::service::sys::SUBSCRIPTION, "subscription");
/// ```
pub const SUBSCRIPTION: &str = "subscription";

/// Body key: the subscription's pattern.
///
/// # Examples
///
/// ```
/// assert_eq!(evlatch_std::service::sys::PATTERN, "pattern");
/// ```
pub const PATTERN: &str = "pattern";

/// Body key: events dropped since the previous [`DROPS`] notice.
///
/// # Examples
///
/// ```
/// assert_eq!(evlatch_std::service::sys::DROPPED, "dropped");
/// ```
pub const DROPPED: &str = "dropped";

/// Body key: events dropped by the subscription in all.
///
/// # Examples
///
/// ```
/// assert_eq!(evlatch_std::service::sys::DROPPED_TOTAL, "dropped_total");
/// ```
pub const DROPPED_TOTAL: &str = "dropped_total";

/// Body key: the id of the listener that panicked
/// ([`ListenerId::get`](super::ListenerId::get)), or -1 for the receive
/// filter.
///
/// # Examples
///
/// ```
/// assert_eq!(evlatch_std::service::sys::LISTENER, "listener");
/// ```
pub const LISTENER: &str = "listener";

/// Body key: the topic of the event being handled when a listener panicked.
///
/// # Examples
///
/// ```
/// assert_eq!(evlatch_std::service::sys::TOPIC, "topic");
/// ```
pub const TOPIC: &str = "topic";

/// Body key: the panic message (or a placeholder if the payload was not
/// text); for [`BRIDGE_MALFORMED`], what is wrong with the sample.
///
/// # Examples
///
/// ```
/// assert_eq!(evlatch_std::service::sys::MESSAGE, "message");
/// ```
pub const MESSAGE: &str = "message";

fn subscription_fields(subscription: u64, pattern: &str, extra: usize) -> Fields {
    let mut body = Fields::new();
    body.reserve(2 + extra);
    body.insert(SUBSCRIPTION, id_value(subscription));
    body.insert(PATTERN, pattern);
    body
}

pub(super) fn subscription_added(subscription: u64, pattern: &str) -> Delivery {
    Delivery::service_event(
        SUBSCRIPTION_ADDED,
        subscription_fields(subscription, pattern, 0),
        Priority::High,
    )
}

pub(super) fn subscription_removed(subscription: u64, pattern: &str) -> Delivery {
    Delivery::service_event(
        SUBSCRIPTION_REMOVED,
        subscription_fields(subscription, pattern, 0),
        Priority::High,
    )
}

pub(super) fn drops(subscription: u64, pattern: &str, dropped: usize, total: usize) -> Delivery {
    let mut body = subscription_fields(subscription, pattern, 2);
    body.insert(DROPPED, count_value(dropped));
    body.insert(DROPPED_TOTAL, count_value(total));
    Delivery::service_event(DROPS, body, Priority::Low)
}

pub(super) fn listener_panic(
    subscription: u64,
    pattern: &str,
    listener: Option<u64>,
    topic: &str,
    message: &str,
) -> Delivery {
    let mut body = subscription_fields(subscription, pattern, 3);
    body.insert(LISTENER, listener.map_or(-1, id_value));
    body.insert(TOPIC, topic);
    body.insert(MESSAGE, message);
    Delivery::service_event(LISTENER_PANIC, body, Priority::High)
}

#[cfg(all(feature = "zenoh", not(evlatch_loom)))]
pub(super) fn bridge_malformed(key: &str, message: &str) -> Delivery {
    let mut body = Fields::new();
    body.reserve(2);
    body.insert(KEY, key.to_owned());
    body.insert(MESSAGE, message);
    Delivery::service_event(BRIDGE_MALFORMED, body, Priority::High)
}

fn count_value(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
