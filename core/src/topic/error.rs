//! Why a topic or a pattern was refused, and where.

use core::fmt;

use super::{MAX_LEN, MAX_SEGMENTS};

/// What was wrong with a topic or pattern string. See [`TopicError`] for
/// *where* it was wrong.
///
/// # Examples
///
/// ```
/// use evlatch::topic::{Topic, TopicErrorKind};
/// let err = Topic::new("a.b%").unwrap_err();
/// assert_eq!(err.kind(), TopicErrorKind::InvalidChar('%'));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TopicErrorKind {
    /// The string is empty: a topic has at least one segment.
    Empty,
    /// The string is longer than [`MAX_LEN`] bytes.
    TooLong,
    /// The string has more than [`MAX_SEGMENTS`] segments.
    TooManySegments,
    /// A segment is empty: a leading or trailing `.`, or two `.` in a row.
    EmptySegment,
    /// A character outside ASCII letters, digits, `_`, `-` (and, in a
    /// pattern, the whole-segment wildcards `*` and `?`).
    InvalidChar(char),
    /// A wildcard (`*` or `?`) in a topic. Topics name one exact place;
    /// wildcards belong in a [`Pattern`](super::Pattern).
    WildcardInTopic,
    /// A pattern segment mixes a wildcard with other characters (`a*b`,
    /// `**`, `?x`). A wildcard must be a whole segment.
    PartialWildcard,
}

/// A topic or pattern string was refused: what was wrong ([`kind`]) and where
/// ([`offset`], a byte offset into the string, and [`segment`], the 0-based
/// index of the segment it falls in).
///
/// The string is checked in this order, and the first problem found is
/// reported: empty string; length over [`MAX_LEN`] (reported at byte
/// `MAX_LEN`); then a left-to-right scan, reporting the first byte that cannot
/// continue a valid string — an invalid or misplaced character, a `.` that
/// would end an empty segment or start segment number [`MAX_SEGMENTS`] + 1 —
/// or, at the end, an empty last segment.
///
/// [`kind`]: TopicError::kind
/// [`offset`]: TopicError::offset
/// [`segment`]: TopicError::segment
///
/// # Examples
///
/// ```
/// use evlatch::topic::{Pattern, TopicErrorKind};
/// let err = Pattern::new("functions..signals").unwrap_err();
/// assert_eq!(err.kind(), TopicErrorKind::EmptySegment);
/// assert_eq!((err.offset(), err.segment()), (10, 1));
/// assert!(err.is_pattern());
/// assert_eq!(
///     err.to_string(),
///     "invalid pattern: empty segment at byte 10 (segment 1): \
///      remove the extra '.' (segments are separated by exactly one '.')"
/// );
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TopicError {
    kind: TopicErrorKind,
    offset: usize,
    segment: usize,
    pattern: bool,
}

impl TopicError {
    pub(super) const fn new(
        kind: TopicErrorKind,
        offset: usize,
        segment: usize,
        pattern: bool,
    ) -> Self {
        TopicError {
            kind,
            offset,
            segment,
            pattern,
        }
    }

    /// What was wrong.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch::topic::{Topic, TopicErrorKind};
    /// assert_eq!(Topic::new("").unwrap_err().kind(), TopicErrorKind::Empty);
    /// ```
    #[must_use]
    pub const fn kind(&self) -> TopicErrorKind {
        self.kind
    }

    /// The byte offset of the problem in the string: the offending character,
    /// the `.` that ends an empty segment or starts one segment too many, the
    /// end of the string for an empty last segment, [`MAX_LEN`] for
    /// [`TopicErrorKind::TooLong`], 0 for [`TopicErrorKind::Empty`].
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch::topic::Topic;
    /// assert_eq!(Topic::new("a.b.").unwrap_err().offset(), 4);
    /// ```
    #[must_use]
    pub const fn offset(&self) -> usize {
        self.offset
    }

    /// The 0-based index of the segment the problem is in (the number of `.`
    /// before [`offset`](TopicError::offset)).
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch::topic::Topic;
    /// assert_eq!(Topic::new("a.b.c!").unwrap_err().segment(), 2);
    /// ```
    #[must_use]
    pub const fn segment(&self) -> usize {
        self.segment
    }

    /// Whether the string was being parsed as a [`Pattern`](super::Pattern)
    /// (else as a [`Topic`](super::Topic)).
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch::topic::Topic;
    /// assert!(!Topic::new("a*").unwrap_err().is_pattern());
    /// ```
    #[must_use]
    pub const fn is_pattern(&self) -> bool {
        self.pattern
    }
}

impl fmt::Display for TopicError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = if self.pattern { "pattern" } else { "topic" };
        write!(f, "invalid {what}: ")?;
        let (at, segment) = (self.offset, self.segment);
        match self.kind {
            TopicErrorKind::Empty => write!(f, "the string is empty: give at least one segment"),
            TopicErrorKind::TooLong => write!(
                f,
                "longer than {MAX_LEN} bytes (the limit is reached at byte {at}, segment {segment}): \
                 use a shorter name"
            ),
            TopicErrorKind::TooManySegments => write!(
                f,
                "more than {MAX_SEGMENTS} segments (the '.' at byte {at}, after segment {segment}, \
                 starts one too many): use fewer levels"
            ),
            TopicErrorKind::EmptySegment => write!(
                f,
                "empty segment at byte {at} (segment {segment}): remove the extra '.' \
                 (segments are separated by exactly one '.')"
            ),
            TopicErrorKind::InvalidChar(c) => write!(
                f,
                "invalid character {c:?} at byte {at} (segment {segment}): segments use only \
                 ASCII letters, digits, '_' and '-'{}",
                if self.pattern { ", or are a whole '*' or '?'" } else { "" }
            ),
            TopicErrorKind::WildcardInTopic => write!(
                f,
                "wildcard at byte {at} (segment {segment}): a topic names one exact place; \
                 parse it as a Pattern to subscribe with wildcards"
            ),
            TopicErrorKind::PartialWildcard => write!(
                f,
                "wildcard mixed with other characters at byte {at} (segment {segment}): \
                 '*' and '?' must each be a whole segment, like \"a.*.b\""
            ),
        }
    }
}

impl core::error::Error for TopicError {}
