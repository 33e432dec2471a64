//! Topics and subscription patterns of the event service (CCA style), and
//! matching between them — all `no_std`.
//!
//! - [`Topic`]: a dot-separated event name, `functions.signals.iteration`;
//! - [`Pattern`]: segments or wildcards — `*` matches one or more segments,
//!   `?` exactly one — with an allocation-free, polynomial-time
//!   [`Pattern::matches`];
//! - `TopicIndex` (feature `alloc`): many subscriptions, and for a topic
//!   the ones that match it, at a cost that does not grow with their number.
//!
//! # Syntax
//!
//! A topic is 1 to [`MAX_SEGMENTS`] segments separated by single `.`s, at
//! most [`MAX_LEN`] bytes in all; a segment is one or more ASCII letters,
//! digits, `_` or `-` (case-sensitive). A pattern is the same, except that a
//! segment may instead be exactly `*` or `?`. Errors ([`TopicError`]) name
//! the first problem and its byte offset and segment index.
//!
//! # Reserved group
//!
//! Topics whose first segment is [`RESERVED_GROUP`] (`sys`) carry the event
//! service's own events. They parse like any other topic; it is the service
//! that refuses user publishes to them.
//!
//! # Examples
//!
//! ```
//! use evlatch::topic::{Pattern, Topic};
//!
//! let topic = Topic::new("functions.signals.iteration")?;
//! let pattern = Pattern::new("*.signals.?")?;
//! assert!(pattern.matches(&topic));
//! assert!(!topic.is_reserved());
//! # Ok::<(), evlatch::topic::TopicError>(())
//! ```

mod error;
#[cfg(feature = "alloc")]
mod index;
mod name;
mod pattern;
mod syntax;

pub use error::{TopicError, TopicErrorKind};
#[cfg(feature = "alloc")]
#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
pub use index::{FixedHasher, FixedState, Matches, SubscriptionId, TopicIndex};
pub use name::{Segments, Topic};
pub use pattern::{Pattern, PatternSegment, PatternSegments};

/// The most bytes a topic or pattern may have. Bounds the matcher's work
/// and keeps names printable on one line.
///
/// # Examples
///
/// ```
/// use evlatch::topic::{Topic, MAX_LEN};
/// assert!(Topic::new(&"a".repeat(MAX_LEN)).is_ok());
/// assert!(Topic::new(&"a".repeat(MAX_LEN + 1)).is_err());
/// ```
pub const MAX_LEN: usize = 255;

/// The most segments a topic or pattern may have. Bounds
/// [`Pattern::matches`] at `MAX_SEGMENTS²` segment comparisons and the trie's
/// depth.
///
/// # Examples
///
/// ```
/// use evlatch::topic::{Topic, MAX_SEGMENTS};
/// let deepest = vec!["a"; MAX_SEGMENTS].join(".");
/// assert_eq!(Topic::new(&deepest).unwrap().segment_count(), MAX_SEGMENTS);
/// assert!(Topic::new(&(deepest + ".a")).is_err());
/// ```
pub const MAX_SEGMENTS: usize = 32;

/// The first segment of the event service's own topics (`sys.…`).
///
/// # Examples
///
/// ```
/// use evlatch::topic::{Topic, RESERVED_GROUP};
/// let topic = Topic::new("sys.dropped").unwrap();
/// assert_eq!(topic.segments().next(), Some(RESERVED_GROUP));
/// assert!(topic.is_reserved());
/// ```
pub const RESERVED_GROUP: &str = "sys";
