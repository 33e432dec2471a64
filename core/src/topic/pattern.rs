//! [`Pattern`]: a subscription pattern with `*` and `?` wildcards, and its
//! allocation-free, polynomial-time matcher.

use core::fmt;
use core::hash::{Hash, Hasher};
use core::iter::FusedIterator;

use super::error::TopicError;
use super::name::Topic;
use super::syntax;
use super::RESERVED_GROUP;

/// A subscription pattern, like `functions.signals.*`: segments that are
/// literal names or whole-segment wildcards.
///
/// - `*` matches **one or more** segments;
/// - `?` matches **exactly one** segment;
/// - any other segment matches itself (case-sensitively).
///
/// Wildcards may appear anywhere and any number of times: `*`,
/// `*.signals.*`, `functions.signals.?`, `a.*.b.*.c`. A segment that mixes a
/// wildcard with other characters (`a*b`, `**`) is refused. Literal segments
/// and the limits are those of [`Topic`].
///
/// Like [`Topic`], a `Pattern` borrows its text: it is `Copy` and needs no
/// allocator. [`matches`](Pattern::matches) allocates nothing and runs in
/// O(topic segments × pattern segments) segment comparisons in the worst case
/// (see there).
///
/// # Examples
///
/// ```
/// use evlatch::topic::{Pattern, Topic};
///
/// let topic = Topic::new("functions.signals.iteration")?;
/// assert!(Pattern::new("functions.signals.*")?.matches(&topic));
/// assert!(Pattern::new("*.signals.*")?.matches(&topic));
/// assert!(Pattern::new("functions.signals.?")?.matches(&topic));
/// assert!(Pattern::new("*")?.matches(&topic));
/// assert!(!Pattern::new("functions.*.signals.*")?.matches(&topic));
/// assert!(!Pattern::new("functions.?")?.matches(&topic));
/// # Ok::<(), evlatch::topic::TopicError>(())
/// ```
#[derive(Clone, Copy)]
pub struct Pattern<'a> {
    /// The validated text.
    text: &'a str,
    /// Number of segments, `1..=MAX_SEGMENTS`.
    segments: u8,
    /// Number of `*` segments, `0..=segments`.
    stars: u8,
    /// Number of `?` segments, `0..=segments - stars`.
    ones: u8,
}

/// One segment of a [`Pattern`], from [`Pattern::segments`].
///
/// # Examples
///
/// ```
/// use evlatch::topic::{Pattern, PatternSegment};
/// let pattern = Pattern::new("a.?.*").unwrap();
/// assert!(pattern.segments().eq([
///     PatternSegment::Literal("a"),
///     PatternSegment::One,
///     PatternSegment::OneOrMore,
/// ]));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PatternSegment<'a> {
    /// A name that matches exactly itself.
    Literal(&'a str),
    /// `?`: exactly one segment.
    One,
    /// `*`: one or more segments.
    OneOrMore,
}

impl<'a> PatternSegment<'a> {
    /// Classifies the text of one (already validated) pattern segment.
    fn of(segment: &'a str) -> PatternSegment<'a> {
        match segment {
            "*" => PatternSegment::OneOrMore,
            "?" => PatternSegment::One,
            literal => PatternSegment::Literal(literal),
        }
    }
}

impl<'a> Pattern<'a> {
    /// Parses and validates `text`. `const`, so patterns can be checked at
    /// compile time.
    ///
    /// # Errors
    ///
    /// A [`TopicError`] naming the first problem and its byte offset and
    /// segment index: empty string or segment, too long, too many segments,
    /// an invalid character, or a wildcard that is not a whole segment.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch::topic::{Pattern, TopicErrorKind};
    ///
    /// const SIGNALS: Pattern<'static> = match Pattern::new("functions.signals.*") {
    ///     Ok(pattern) => pattern,
    ///     Err(_) => panic!("bad pattern"),
    /// };
    /// assert_eq!(SIGNALS.segment_count(), 3);
    ///
    /// let err = Pattern::new("functions.sig*").unwrap_err();
    /// assert_eq!(err.kind(), TopicErrorKind::PartialWildcard);
    /// assert_eq!((err.offset(), err.segment()), (13, 1));
    /// ```
    pub const fn new(text: &'a str) -> Result<Pattern<'a>, TopicError> {
        match syntax::scan(text, true) {
            Ok(shape) => Ok(Pattern {
                text,
                segments: shape.segments,
                stars: shape.stars,
                ones: shape.ones,
            }),
            Err(e) => Err(e),
        }
    }

    /// The pattern's text, as given to [`new`](Pattern::new).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(evlatch::topic::Pattern::new("a.*").unwrap().as_str(), "a.*");
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
    /// use evlatch::topic::{Pattern, PatternSegment};
    /// let pattern = Pattern::new("*.b").unwrap();
    /// assert_eq!(pattern.segments().next(), Some(PatternSegment::OneOrMore));
    /// ```
    pub fn segments(&self) -> PatternSegments<'a> {
        PatternSegments {
            inner: self.text.split('.'),
        }
    }

    /// The number of segments, `1..=MAX_SEGMENTS`. A matching topic has at
    /// least this many segments (exactly this many if there is no `*`).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(evlatch::topic::Pattern::new("a.*.?").unwrap().segment_count(), 3);
    /// ```
    #[must_use]
    pub const fn segment_count(&self) -> usize {
        self.segments as usize
    }

    /// Whether the pattern has no wildcard, so it matches exactly one topic
    /// (see [`as_topic`](Pattern::as_topic)).
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch::topic::Pattern;
    /// assert!(Pattern::new("a.b").unwrap().is_exact());
    /// assert!(!Pattern::new("a.?").unwrap().is_exact());
    /// ```
    #[must_use]
    pub const fn is_exact(&self) -> bool {
        self.stars == 0 && self.ones == 0
    }

    /// The one topic an exact pattern matches, or `None` if the pattern has a
    /// wildcard.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch::topic::Pattern;
    /// assert_eq!(Pattern::new("a.b").unwrap().as_topic().unwrap(), "a.b");
    /// assert!(Pattern::new("a.*").unwrap().as_topic().is_none());
    /// ```
    #[must_use]
    pub fn as_topic(&self) -> Option<Topic<'a>> {
        if self.is_exact() {
            Topic::new(self.text).ok()
        } else {
            None
        }
    }

    /// Whether the first segment is the literal [`RESERVED_GROUP`] (`sys`),
    /// so that every topic the pattern matches is reserved. A pattern that
    /// starts with a wildcard (`*`, `?.dropped`) can match reserved topics
    /// too, without being reserved itself: the event service decides whether
    /// such patterns see its own events.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch::topic::Pattern;
    /// assert!(Pattern::new("sys.*").unwrap().is_reserved());
    /// assert!(!Pattern::new("*").unwrap().is_reserved());
    /// ```
    #[must_use]
    pub fn is_reserved(&self) -> bool {
        self.segments().next() == Some(PatternSegment::Literal(RESERVED_GROUP))
    }

    /// Whether `topic` matches this pattern.
    ///
    /// Allocation-free. Cost: a pattern without `*` is checked in one pass
    /// (O(topic length)). With `*` the matcher is a greedy glob that, on a
    /// mismatch, only ever backtracks to the *last* `*` it passed (earlier
    /// `*`s never need to be revisited, so there is no exponential
    /// backtracking whatever the number of `*`): at most O(topic segments ×
    /// pattern segments) segment comparisons, each O(segment length), so at
    /// most [`MAX_SEGMENTS`](super::MAX_SEGMENTS)² comparisons.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch::topic::{Pattern, Topic};
    /// let pattern = Pattern::new("a.*.b.*.c")?;
    /// assert!(pattern.matches(&Topic::new("a.x.b.y.c")?));
    /// assert!(pattern.matches(&Topic::new("a.x.y.b.b.z.c")?));
    /// assert!(!pattern.matches(&Topic::new("a.b.c")?));
    /// # Ok::<(), evlatch::topic::TopicError>(())
    /// ```
    #[must_use]
    pub fn matches(&self, topic: &Topic<'_>) -> bool {
        let n = topic.segment_count();
        let m = self.segment_count();
        if self.stars == 0 {
            // Segment for segment.
            return n == m
                && if self.ones == 0 {
                    self.text == topic.as_str()
                } else {
                    self.segments().zip(topic.segments()).all(|(p, t)| match p {
                        PatternSegment::Literal(l) => l == t,
                        _ => true,
                    })
                };
        }
        // Every pattern segment takes at least one topic segment.
        n >= m && glob(self.text, topic.as_str())
    }
}

/// The greedy glob over segments, for a pattern with at least one `*`.
///
/// It runs on tokens: a literal, `One` (exactly one segment) and `Any` (zero
/// or more segments); a pattern `*` is the two tokens `One Any`. This is the
/// classic wildcard matcher: tokens are consumed left to right; at an `Any`
/// it remembers where it is (`resume`) and first lets `Any` take nothing; on
/// a mismatch it returns to the last `Any` and lets it take one more topic
/// segment. Returning only to the *last* `Any` is enough: whatever an earlier
/// `Any` took, a later one can take instead. Each retry moves the resume
/// point one segment right, so there are at most n retries of at most m + 1
/// token steps.
fn glob(pattern: &str, topic: &str) -> bool {
    let mut p = Tokens::new(pattern);
    let mut t = 0usize; // byte offset of the next topic segment; > len when done
                        // (tokens just after the last `Any`, offset where `Any` stopped taking)
    let mut resume: Option<(Tokens<'_>, usize)> = None;
    while t <= topic.len() {
        let (segment, after) = segment_at(topic, t);
        let step = match p.peek() {
            Some(Token::Literal(l)) if l == segment => true,
            Some(Token::One) => true,
            Some(Token::Any) => {
                p.advance();
                resume = Some((p, t));
                continue;
            }
            _ => false,
        };
        if step {
            p.advance();
            t = after;
        } else if let Some((tokens, stopped)) = resume {
            // Let the last `Any` take the segment at `stopped` too.
            let (_, next) = segment_at(topic, stopped);
            resume = Some((tokens, next));
            p = tokens;
            t = next;
        } else {
            return false;
        }
    }
    // The topic is used up: only `Any` tokens (taking nothing) may remain.
    while let Some(Token::Any) = p.peek() {
        p.advance();
    }
    p.peek().is_none()
}

/// The segment of `text` that starts at byte `start`, and where the next
/// one starts (`text.len() + 1` after the last).
fn segment_at(text: &str, start: usize) -> (&str, usize) {
    let rest = text.get(start..).unwrap_or("");
    match rest.bytes().position(|b| b == b'.') {
        Some(len) => (&rest[..len], start + len + 1),
        None => (rest, text.len() + 1),
    }
}

/// A matcher token; see [`glob`].
#[derive(Clone, Copy, PartialEq, Eq)]
enum Token<'a> {
    Literal(&'a str),
    One,
    Any,
}

/// A position in a pattern's token stream.
#[derive(Clone, Copy)]
struct Tokens<'a> {
    text: &'a str,
    /// Byte offset of the next segment to read, `0..=text.len() + 1`.
    next: usize,
    /// The `*` just read has produced its `One`; its `Any` comes next.
    any_pending: bool,
}

impl<'a> Tokens<'a> {
    fn new(text: &'a str) -> Self {
        Tokens {
            text,
            next: 0,
            any_pending: false,
        }
    }

    fn peek(&self) -> Option<Token<'a>> {
        if self.any_pending {
            return Some(Token::Any);
        }
        if self.next > self.text.len() {
            return None;
        }
        Some(match segment_at(self.text, self.next).0 {
            "*" | "?" => Token::One,
            literal => Token::Literal(literal),
        })
    }

    fn advance(&mut self) {
        if self.any_pending {
            self.any_pending = false;
        } else if self.next <= self.text.len() {
            let (segment, after) = segment_at(self.text, self.next);
            self.any_pending = segment == "*";
            self.next = after;
        }
    }
}

impl<'a> From<Topic<'a>> for Pattern<'a> {
    /// The exact pattern that matches only `topic`.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch::topic::{Pattern, Topic};
    /// let topic = Topic::new("a.b").unwrap();
    /// let pattern = Pattern::from(topic);
    /// assert!(pattern.is_exact() && pattern.matches(&topic));
    /// ```
    fn from(topic: Topic<'a>) -> Self {
        Pattern {
            text: topic.as_str(),
            // `segment_count() <= MAX_SEGMENTS <= u8::MAX`.
            segments: topic.segment_count() as u8,
            stars: 0,
            ones: 0,
        }
    }
}

impl<'a> TryFrom<&'a str> for Pattern<'a> {
    type Error = TopicError;

    /// Same as [`Pattern::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch::topic::Pattern;
    /// let pattern: Pattern<'_> = "a.*".try_into().unwrap();
    /// assert_eq!(pattern, "a.*");
    /// ```
    fn try_from(text: &'a str) -> Result<Self, TopicError> {
        Pattern::new(text)
    }
}

impl AsRef<str> for Pattern<'_> {
    fn as_ref(&self) -> &str {
        self.text
    }
}

impl fmt::Display for Pattern<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text)
    }
}

impl fmt::Debug for Pattern<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Pattern").field(&self.text).finish()
    }
}

// Equality, order and hash are those of the text (the counts follow from it).
impl PartialEq for Pattern<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for Pattern<'_> {}

impl PartialEq<str> for Pattern<'_> {
    fn eq(&self, other: &str) -> bool {
        self.text == other
    }
}

impl PartialEq<&str> for Pattern<'_> {
    fn eq(&self, other: &&str) -> bool {
        self.text == *other
    }
}

impl PartialOrd for Pattern<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Pattern<'_> {
    fn cmp(&self, other: &Self) -> core::cmp::Ordering {
        self.text.cmp(other.text)
    }
}

impl Hash for Pattern<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.text.hash(state);
    }
}

/// The segments of a [`Pattern`], from [`Pattern::segments`].
///
/// # Examples
///
/// ```
/// use evlatch::topic::{Pattern, PatternSegment};
/// let pattern = Pattern::new("a.?").unwrap();
/// let mut segments = pattern.segments();
/// assert_eq!(segments.next(), Some(PatternSegment::Literal("a")));
/// assert_eq!(segments.next(), Some(PatternSegment::One));
/// assert_eq!(segments.next(), None);
/// ```
#[derive(Clone, Debug)]
pub struct PatternSegments<'a> {
    inner: core::str::Split<'a, char>,
}

impl<'a> Iterator for PatternSegments<'a> {
    type Item = PatternSegment<'a>;

    fn next(&mut self) -> Option<PatternSegment<'a>> {
        self.inner.next().map(PatternSegment::of)
    }
}

impl DoubleEndedIterator for PatternSegments<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.inner.next_back().map(PatternSegment::of)
    }
}

impl FusedIterator for PatternSegments<'_> {}

#[cfg(test)]
mod tests {
    use super::super::TopicErrorKind;
    use super::*;
    use std::vec::Vec;

    /// The obviously correct (exponential) matcher.
    fn reference(pattern: &[&str], topic: &[&str]) -> bool {
        match pattern.split_first() {
            None => topic.is_empty(),
            Some((&"*", rest)) => (1..=topic.len()).any(|k| reference(rest, &topic[k..])),
            Some((&"?", rest)) => !topic.is_empty() && reference(rest, &topic[1..]),
            Some((literal, rest)) => topic.first() == Some(literal) && reference(rest, &topic[1..]),
        }
    }

    fn check(pattern: &str, topic: &str) -> bool {
        let p = Pattern::new(pattern).unwrap();
        let t = Topic::new(topic).unwrap();
        let ps: Vec<&str> = pattern.split('.').collect();
        let ts: Vec<&str> = topic.split('.').collect();
        let expected = reference(&ps, &ts);
        assert_eq!(p.matches(&t), expected, "{pattern} vs {topic}");
        expected
    }

    #[test]
    fn spec_examples() {
        let t = "functions.signals.iteration";
        assert!(check("functions.signals.*", t));
        assert!(check("*.signals.*", t));
        assert!(check("functions.signals.?", t));
        assert!(check("*", t));
        assert!(check("functions.*", t));
        assert!(check("*.iteration", t));
        assert!(!check("functions.signals.iteration.*", t));
        assert!(!check("functions.signals", t));
        assert!(!check("?", t));
        assert!(!check("*.*.*.*", t));
        assert!(check("*.*.*", t));
        assert!(check("a.*.b.*.c", "a.x.b.y.c"));
        assert!(check("a.*.b.*.c", "a.b.b.b.c"));
        assert!(!check("a.*.b.*.c", "a.b.b.c"));
    }

    /// Every pattern over a small alphabet against every short topic.
    #[test]
    fn exhaustive_small() {
        let pattern_alphabet = ["a", "b", "?", "*"];
        let topic_alphabet = ["a", "b"];
        let max_pattern = if cfg!(miri) { 2 } else { 5 };
        let max_topic = if cfg!(miri) { 3 } else { 7 };
        let patterns = all_strings(&pattern_alphabet, max_pattern);
        let topics = all_strings(&topic_alphabet, max_topic);
        for p in &patterns {
            for t in &topics {
                check(p, t);
            }
        }
    }

    fn all_strings(alphabet: &[&str], max_len: usize) -> Vec<std::string::String> {
        let mut out = Vec::new();
        let mut layer: Vec<std::string::String> = alphabet
            .iter()
            .map(|s| std::string::String::from(*s))
            .collect();
        for _ in 0..max_len {
            out.extend(layer.iter().cloned());
            layer = layer
                .iter()
                .flat_map(|prefix| alphabet.iter().map(move |s| std::format!("{prefix}.{s}")))
                .collect();
        }
        out
    }

    #[test]
    fn many_stars_stay_fast() {
        // Naive recursion would take ~C(60, 30) steps here.
        let pattern = "*.*.*.*.*.*.*.*.*.*.*.*.*.*.*.x";
        let topic = "a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.b";
        let p = Pattern::new(pattern).unwrap();
        assert!(!p.matches(&Topic::new(topic).unwrap()));
    }

    #[test]
    fn pattern_errors() {
        use TopicErrorKind::*;
        let err = |s: &str| {
            let e = Pattern::new(s).unwrap_err();
            assert!(e.is_pattern());
            (e.kind(), e.offset(), e.segment())
        };
        assert_eq!(err("a*b"), (PartialWildcard, 1, 0));
        assert_eq!(err("a.*b"), (PartialWildcard, 3, 1));
        assert_eq!(err("a.**"), (PartialWildcard, 3, 1));
        assert_eq!(err("a.?*"), (PartialWildcard, 3, 1));
        assert_eq!(err("*."), (EmptySegment, 2, 1));
        assert_eq!(err("a.#"), (InvalidChar('#'), 2, 1));
        assert_eq!(err(""), (Empty, 0, 0));
    }

    #[test]
    fn exact_and_reserved() {
        let p = Pattern::new("sys.dropped").unwrap();
        assert!(p.is_exact() && p.is_reserved());
        assert_eq!(p.as_topic().unwrap(), "sys.dropped");
        assert!(!Pattern::new("?.dropped").unwrap().is_reserved());
    }
}
