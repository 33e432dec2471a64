//! [`Topic`]: a validated, borrowed, dot-separated event name.

use core::fmt;
use core::hash::{Hash, Hasher};
use core::iter::FusedIterator;

use super::error::TopicError;
use super::syntax;
use super::RESERVED_GROUP;

/// A topic: the name an event is published under, like
/// `functions.signals.iteration`.
///
/// A topic is 1 to [`MAX_SEGMENTS`](super::MAX_SEGMENTS) non-empty segments
/// separated by `.`, each of ASCII letters, digits, `_` and `-`, at most
/// [`MAX_LEN`](super::MAX_LEN) bytes in all. Topics are case-sensitive.
///
/// `Topic` borrows the string it was parsed from: it is two words and a
/// segment count, `Copy`, needs no allocator, and matching it against a
/// [`Pattern`](super::Pattern) allocates nothing. Keep the `String` (or
/// `&'static str`) yourself and parse it when you need a `Topic`; parsing is
/// one pass over the bytes.
///
/// Topics whose first segment is [`RESERVED_GROUP`] (`sys`) are the event
/// service's own ([`is_reserved`](Topic::is_reserved)); they parse like any
/// other, and the service refuses user publishes to them.
///
/// # Examples
///
/// ```
/// use evlatch::topic::Topic;
///
/// let topic = Topic::new("functions.signals.iteration")?;
/// assert_eq!(topic.segment_count(), 3);
/// assert_eq!(topic.segments().last(), Some("iteration"));
/// assert_eq!(topic.to_string(), "functions.signals.iteration");
/// assert!(Topic::new("functions..iteration").is_err());
/// # Ok::<(), evlatch::topic::TopicError>(())
/// ```
#[derive(Clone, Copy)]
pub struct Topic<'a> {
    /// The validated text.
    text: &'a str,
    /// Number of segments, `1..=MAX_SEGMENTS`.
    segments: u8,
}

impl<'a> Topic<'a> {
    /// Parses and validates `text`. `const`, so topics can be checked at
    /// compile time.
    ///
    /// # Errors
    ///
    /// A [`TopicError`] naming the first problem and its byte offset and
    /// segment index: empty string or segment, too long, too many segments,
    /// an invalid character, or a wildcard.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch::topic::{Topic, TopicErrorKind};
    ///
    /// const ITERATION: Topic<'static> = match Topic::new("functions.signals.iteration") {
    ///     Ok(topic) => topic,
    ///     Err(_) => panic!("bad topic"),
    /// };
    /// assert_eq!(ITERATION.as_str(), "functions.signals.iteration");
    ///
    /// let err = Topic::new("functions.*").unwrap_err();
    /// assert_eq!(err.kind(), TopicErrorKind::WildcardInTopic);
    /// assert_eq!((err.offset(), err.segment()), (10, 1));
    /// ```
    pub const fn new(text: &'a str) -> Result<Topic<'a>, TopicError> {
        match syntax::scan(text, false) {
            Ok(shape) => Ok(Topic {
                text,
                segments: shape.segments,
            }),
            Err(e) => Err(e),
        }
    }

    /// The topic's text, as given to [`new`](Topic::new).
    ///
    /// # Examples
    ///
    /// ```
    /// let topic = evlatch::topic::Topic::new("a.b").unwrap();
    /// assert_eq!(topic.as_str(), "a.b");
    /// ```
    #[must_use]
    pub const fn as_str(&self) -> &'a str {
        self.text
    }

    /// The segments, first to last.
    ///
    /// # Examples
    ///
    /// ```
    /// let topic = evlatch::topic::Topic::new("a.b.c").unwrap();
    /// assert!(topic.segments().eq(["a", "b", "c"]));
    /// assert_eq!(topic.segments().rev().next(), Some("c"));
    /// ```
    pub fn segments(&self) -> Segments<'a> {
        Segments {
            inner: self.text.split('.'),
        }
    }

    /// The number of segments, `1..=MAX_SEGMENTS`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(evlatch::topic::Topic::new("a.b.c").unwrap().segment_count(), 3);
    /// ```
    #[must_use]
    pub const fn segment_count(&self) -> usize {
        self.segments as usize
    }

    /// Whether the first segment is [`RESERVED_GROUP`] (`sys`): a topic of the
    /// event service's own events.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch::topic::Topic;
    /// assert!(Topic::new("sys.dropped").unwrap().is_reserved());
    /// assert!(Topic::new("sys").unwrap().is_reserved());
    /// assert!(!Topic::new("system.load").unwrap().is_reserved());
    /// assert!(!Topic::new("app.sys").unwrap().is_reserved());
    /// ```
    #[must_use]
    pub fn is_reserved(&self) -> bool {
        self.segments().next() == Some(RESERVED_GROUP)
    }
}

impl<'a> TryFrom<&'a str> for Topic<'a> {
    type Error = TopicError;

    /// Same as [`Topic::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch::topic::Topic;
    /// let topic: Topic<'_> = "a.b".try_into().unwrap();
    /// assert_eq!(topic, "a.b");
    /// ```
    fn try_from(text: &'a str) -> Result<Self, TopicError> {
        Topic::new(text)
    }
}

impl AsRef<str> for Topic<'_> {
    fn as_ref(&self) -> &str {
        self.text
    }
}

impl fmt::Display for Topic<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text)
    }
}

impl fmt::Debug for Topic<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Topic").field(&self.text).finish()
    }
}

// Equality, order and hash are those of the text (the segment count follows
// from it).
impl PartialEq for Topic<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for Topic<'_> {}

impl PartialEq<str> for Topic<'_> {
    fn eq(&self, other: &str) -> bool {
        self.text == other
    }
}

impl PartialEq<&str> for Topic<'_> {
    fn eq(&self, other: &&str) -> bool {
        self.text == *other
    }
}

impl PartialOrd for Topic<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Topic<'_> {
    fn cmp(&self, other: &Self) -> core::cmp::Ordering {
        self.text.cmp(other.text)
    }
}

impl Hash for Topic<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.text.hash(state);
    }
}

/// The segments of a [`Topic`], from [`Topic::segments`].
///
/// # Examples
///
/// ```
/// let topic = evlatch::topic::Topic::new("a.b").unwrap();
/// let mut segments = topic.segments();
/// assert_eq!(segments.next(), Some("a"));
/// assert_eq!(segments.next(), Some("b"));
/// assert_eq!(segments.next(), None);
/// ```
#[derive(Clone, Debug)]
pub struct Segments<'a> {
    inner: core::str::Split<'a, char>,
}

impl<'a> Iterator for Segments<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        self.inner.next()
    }
}

impl DoubleEndedIterator for Segments<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.inner.next_back()
    }
}

impl FusedIterator for Segments<'_> {}

#[cfg(test)]
mod tests {
    use super::super::{TopicErrorKind, MAX_LEN, MAX_SEGMENTS};
    use super::*;
    use std::string::String;

    fn err(text: &str) -> (TopicErrorKind, usize, usize) {
        let e = Topic::new(text).unwrap_err();
        assert!(!e.is_pattern());
        (e.kind(), e.offset(), e.segment())
    }

    #[test]
    fn valid_topics_parse() {
        for text in ["a", "a.b", "A-b_c.9", "functions.signals.iteration", "sys"] {
            let topic = Topic::new(text).unwrap();
            assert_eq!(topic.as_str(), text);
            assert_eq!(topic.segment_count(), text.split('.').count());
        }
    }

    #[test]
    fn errors_say_what_and_where() {
        use TopicErrorKind::*;
        assert_eq!(err(""), (Empty, 0, 0));
        assert_eq!(err("."), (EmptySegment, 0, 0));
        assert_eq!(err(".a"), (EmptySegment, 0, 0));
        assert_eq!(err("a."), (EmptySegment, 2, 1));
        assert_eq!(err("a..b"), (EmptySegment, 2, 1));
        assert_eq!(err("a.b c"), (InvalidChar(' '), 3, 1));
        assert_eq!(err("a.bé"), (InvalidChar('é'), 3, 1));
        assert_eq!(err("a.*"), (WildcardInTopic, 2, 1));
        assert_eq!(err("a?"), (WildcardInTopic, 1, 0));
    }

    #[test]
    fn limits_are_exact() {
        let mut at_limit = String::new();
        for i in 0..MAX_SEGMENTS {
            if i > 0 {
                at_limit.push('.');
            }
            at_limit.push('x');
        }
        assert_eq!(Topic::new(&at_limit).unwrap().segment_count(), MAX_SEGMENTS);
        let over = at_limit.clone() + ".x";
        assert_eq!(
            err(&over),
            (
                TopicErrorKind::TooManySegments,
                at_limit.len(),
                MAX_SEGMENTS - 1
            )
        );

        let long: String = core::iter::repeat_n('a', MAX_LEN).collect();
        assert!(Topic::new(&long).is_ok());
        let longer = long + "a";
        assert_eq!(err(&longer), (TopicErrorKind::TooLong, MAX_LEN, 0));
    }

    #[test]
    fn reserved_is_the_first_segment_only() {
        assert!(Topic::new("sys.x").unwrap().is_reserved());
        assert!(!Topic::new("sysx").unwrap().is_reserved());
        assert!(!Topic::new("x.sys").unwrap().is_reserved());
        assert!(!Topic::new("SYS").unwrap().is_reserved());
    }
}
