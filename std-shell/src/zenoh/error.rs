//! The bridge's errors, one per concern: key mapping ([`KeyError`]),
//! attaching and running a bridge ([`BridgeError`]), and a remote payload
//! that is not an event ([`WireError`]).

use core::fmt;

use evlatch::topic::TopicError;

use crate::service::SubscribeError;

/// A topic, pattern, key or root that does not map.
///
/// # Examples
///
/// ```
/// use evlatch_std::zenoh::{KeyError, KeyMap};
/// let err = KeyMap::default().topic_key("a..b").unwrap_err();
/// assert!(matches!(err, KeyError::InvalidTopic(_)));
/// assert!(err.to_string().contains("topic"));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum KeyError {
    /// The root given to [`KeyMap::new`](super::KeyMap::new) is not a
    /// usable zenoh key.
    InvalidRoot {
        /// The root as given.
        root: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Not a valid evlatch topic.
    InvalidTopic(TopicError),
    /// Not a valid evlatch pattern.
    InvalidPattern(TopicError),
    /// A key that is not strictly under the map's root.
    OutsideRoot {
        /// The key.
        key: String,
        /// The map's root.
        root: String,
    },
    /// A key under the root that is not the key of any topic.
    NotATopic {
        /// The key.
        key: String,
        /// Why not.
        reason: String,
    },
    /// zenoh refused a key this crate built (a bug: please report it).
    Engine(String),
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::InvalidRoot { root, reason } => write!(
                f,
                "`{root}` cannot be the root key: {reason}; give one or more `/`-separated \
                 chunks without wildcards, like `evlatch` or `site/evlatch`"
            ),
            KeyError::InvalidTopic(e) => write!(f, "not a valid topic: {e}"),
            KeyError::InvalidPattern(e) => write!(f, "not a valid pattern: {e}"),
            KeyError::OutsideRoot { key, root } => write!(
                f,
                "key `{key}` is not under the root `{root}/`: it is not an evlatch event key"
            ),
            KeyError::NotATopic { key, reason } => {
                write!(
                    f,
                    "key `{key}` is not the key of an evlatch topic: {reason}"
                )
            }
            KeyError::Engine(e) => write!(
                f,
                "zenoh refused a key built from a valid topic or pattern ({e}); this is a bug"
            ),
        }
    }
}

impl core::error::Error for KeyError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            KeyError::InvalidTopic(e) | KeyError::InvalidPattern(e) => Some(e),
            _ => None,
        }
    }
}

/// A bridge that could not be attached or configured.
///
/// # Examples
///
/// ```
/// use evlatch_std::zenoh::{BridgeError, BridgeOptions};
/// let err = BridgeOptions::new().export("sys.*").unwrap_err();
/// assert!(matches!(err, BridgeError::ReservedPattern(_)));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum BridgeError {
    /// A pattern or root that does not map.
    Key(KeyError),
    /// A pattern in the reserved group `sys`: the service's own events are
    /// neither exported nor imported.
    ReservedPattern(String),
    /// The import channel capacity cannot be used (0, or too large).
    Capacity(usize),
    /// The service refused a subscription (for example: it is shut down).
    Subscribe(SubscribeError),
    /// zenoh refused an operation.
    Zenoh {
        /// What the bridge was doing.
        what: &'static str,
        /// zenoh's error.
        source: ::zenoh::Error,
    },
    /// The bridge thread would not start.
    Spawn(std::io::Error),
}

impl fmt::Display for BridgeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BridgeError::Key(e) => write!(f, "{e}"),
            BridgeError::ReservedPattern(p) => write!(
                f,
                "pattern `{p}` is in the reserved group `sys`: the service's own events \
                 stay local; export or import user topics only"
            ),
            BridgeError::Capacity(n) => write!(
                f,
                "an import channel cannot hold {n} events: give a capacity of at least 1"
            ),
            BridgeError::Subscribe(e) => write!(f, "the service refused the bridge: {e}"),
            BridgeError::Zenoh { what, source } => write!(f, "zenoh could not {what}: {source}"),
            BridgeError::Spawn(e) => write!(
                f,
                "could not start the bridge thread ({e}): free system resources"
            ),
        }
    }
}

impl core::error::Error for BridgeError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            BridgeError::Key(e) => Some(e),
            BridgeError::Subscribe(e) => Some(e),
            BridgeError::Zenoh { source, .. } => Some(&**source),
            BridgeError::Spawn(e) => Some(e),
            _ => None,
        }
    }
}

impl From<KeyError> for BridgeError {
    fn from(e: KeyError) -> Self {
        BridgeError::Key(e)
    }
}

/// A remote payload that is not an event in the
/// [wire format](super#wire-format). Counted as malformed and reported on
/// [`sys::BRIDGE_MALFORMED`](crate::service::sys::BRIDGE_MALFORMED).
///
/// # Examples
///
/// ```
/// use evlatch_std::zenoh::WireError;
/// assert!(WireError::UnknownVersion(9).to_string().contains("version 9"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WireError {
    /// An empty payload.
    Empty,
    /// A version this bridge does not read.
    UnknownVersion(u8),
    /// The record does not parse (postcard's message).
    Decode(String),
    /// Bytes after the record.
    TrailingBytes(usize),
    /// A priority other than 0 (Low) or 1 (High).
    UnknownPriority(u8),
    /// A key twice in one header or body.
    DuplicateKey(String),
    /// The event could not be encoded (postcard's message).
    Encode(String),
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::Empty => f.write_str("empty payload: not an evlatch event"),
            WireError::UnknownVersion(v) => write!(
                f,
                "wire format version {v} is not known here (this bridge reads version {}): \
                 run the same evlatch version on both sides",
                super::wire::VERSION
            ),
            WireError::Decode(e) => write!(f, "the event record does not parse: {e}"),
            WireError::TrailingBytes(n) => write!(f, "{n} bytes after the event record"),
            WireError::UnknownPriority(p) => {
                write!(f, "priority {p} is neither 0 (Low) nor 1 (High)")
            }
            WireError::DuplicateKey(k) => write!(f, "key `{k}` appears twice in one map"),
            WireError::Encode(e) => write!(f, "the event could not be encoded: {e}"),
        }
    }
}

impl core::error::Error for WireError {}
