//! The checks behind the `topic_parse` fuzz target, shared with its replay
//! test (`tests/topic_fuzz_replay.rs`).
//!
//! [`check`] takes any bytes: the text up to the first `\n` is parsed as a
//! topic and as a pattern, the rest as a pattern. Every parse result is
//! checked against an independent statement of the syntax, and when a topic
//! and a pattern both parse, `Pattern::matches` and `TopicIndex` are checked
//! against a dynamic-programming reference matcher.

use evlatch::topic::{
    Pattern, PatternSegment, Topic, TopicError, TopicErrorKind, TopicIndex, MAX_LEN, MAX_SEGMENTS,
    RESERVED_GROUP,
};

/// Runs every check on `data`; panics on the first disagreement.
///
/// (This file is also compiled into the `fuzz/` crate, by `#[path]`, so it
/// names no crate but `evlatch` and has no doctests.)
pub fn check(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (first, second) = text.split_once('\n').unwrap_or((&text, ""));
    let topic = check_parse(first, false).map(|_| Topic::new(first).unwrap());
    check_parse(first, true);
    let pattern = check_parse(second, true).map(|_| Pattern::new(second).unwrap());
    if let (Some(topic), Some(pattern)) = (topic, pattern) {
        check_match(&pattern, &topic);
    }
}

/// Parses `text` as a pattern or topic, checks the outcome, and says whether
/// it parsed.
fn check_parse(text: &str, pattern: bool) -> Option<()> {
    let result = if pattern {
        Pattern::new(text).map(|p| check_pattern(text, p))
    } else {
        Topic::new(text).map(|t| check_topic(text, t))
    };
    match result {
        Ok(()) => {
            assert!(valid(text, pattern), "{text:?} parsed but is invalid");
            Some(())
        }
        Err(e) => {
            assert!(!valid(text, pattern), "{text:?} refused but is valid: {e}");
            check_error(text, pattern, e);
            None
        }
    }
}

/// The syntax, stated independently of the scanner.
fn valid(text: &str, pattern: bool) -> bool {
    let segment_ok = |s: &str| {
        (!s.is_empty() && s.bytes().all(literal_byte)) || (pattern && (s == "*" || s == "?"))
    };
    !text.is_empty()
        && text.len() <= MAX_LEN
        && text.split('.').count() <= MAX_SEGMENTS
        && text.split('.').all(segment_ok)
}

fn literal_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

fn wildcard_byte(b: u8) -> bool {
    b == b'*' || b == b'?'
}

fn check_topic(text: &str, topic: Topic<'_>) {
    assert_eq!(topic.as_str(), text);
    assert_eq!(topic.to_string(), text);
    assert_eq!(topic.segments().collect::<Vec<_>>().join("."), text);
    assert_eq!(topic.segment_count(), text.split('.').count());
    assert!(topic.segments().rev().eq(text.rsplit('.')));
    assert_eq!(
        topic.is_reserved(),
        text.split('.').next() == Some(RESERVED_GROUP)
    );
    let as_pattern = Pattern::new(text).expect("a topic is a valid pattern");
    assert!(as_pattern.is_exact());
    assert_eq!(Pattern::from(topic), as_pattern);
    assert_eq!(as_pattern.as_topic(), Some(topic));
    assert!(as_pattern.matches(&topic));
}

fn check_pattern(text: &str, pattern: Pattern<'_>) {
    assert_eq!(pattern.as_str(), text);
    assert_eq!(pattern.to_string(), text);
    let back: Vec<&str> = pattern
        .segments()
        .map(|s| match s {
            PatternSegment::Literal(l) => l,
            PatternSegment::One => "?",
            PatternSegment::OneOrMore => "*",
        })
        .collect();
    assert_eq!(back.join("."), text);
    assert_eq!(pattern.segment_count(), back.len());
    let exact = !text.bytes().any(wildcard_byte);
    assert_eq!(pattern.is_exact(), exact);
    assert_eq!(pattern.as_topic().is_some(), exact);
    assert_eq!(pattern.is_reserved(), back[0] == RESERVED_GROUP);
}

/// The error is the first problem of `text`, at the place the scan order
/// documented on `TopicError` reaches first.
fn check_error(text: &str, pattern: bool, e: TopicError) {
    assert_eq!(e.is_pattern(), pattern);
    let b = text.as_bytes();
    let at = e.offset();
    let dots_before = |end: usize| b[..end.min(b.len())].iter().filter(|&&c| c == b'.').count();
    match e.kind() {
        TopicErrorKind::Empty => {
            assert!(text.is_empty());
            assert_eq!((at, e.segment()), (0, 0));
            return;
        }
        TopicErrorKind::TooLong => {
            assert!(text.len() > MAX_LEN);
            assert_eq!(at, MAX_LEN);
            assert_eq!(e.segment(), dots_before(MAX_LEN));
            return;
        }
        _ => {}
    }
    assert!(
        !text.is_empty() && text.len() <= MAX_LEN,
        "{e:?} for {text:?}"
    );
    assert!(
        at <= b.len() && text.is_char_boundary(at),
        "{e:?} for {text:?}"
    );
    let prefix = &text[..at];
    assert_eq!(e.segment(), dots_before(at));
    assert!(e.segment() < MAX_SEGMENTS);
    // Everything before the offset is fine: whole segments are valid, the
    // partial one (after the last '.') could still become valid.
    let (whole, partial) = prefix.rsplit_once('.').unwrap_or(("", prefix));
    if prefix.contains('.') {
        assert!(valid(whole, pattern), "{e:?} for {text:?}: earlier problem");
    }
    let partial_is_wildcard = pattern && (partial == "*" || partial == "?");
    assert!(
        partial.bytes().all(literal_byte) || partial_is_wildcard,
        "{e:?} for {text:?}: earlier problem in the segment"
    );
    let here = b.get(at).copied();
    match e.kind() {
        TopicErrorKind::EmptySegment => {
            assert!(partial.is_empty());
            assert!(here.is_none() || here == Some(b'.'));
        }
        TopicErrorKind::TooManySegments => {
            assert_eq!(here, Some(b'.'));
            assert!(!partial.is_empty());
            assert_eq!(e.segment(), MAX_SEGMENTS - 1);
        }
        TopicErrorKind::InvalidChar(c) => {
            assert!(text[at..].starts_with(c));
            assert!(!c.is_ascii() || !(literal_byte(c as u8) || c == '.'));
            assert!(!(pattern && (c == '*' || c == '?')));
        }
        TopicErrorKind::WildcardInTopic => {
            assert!(!pattern);
            assert!(here.is_some_and(wildcard_byte));
        }
        TopicErrorKind::PartialWildcard => {
            assert!(pattern);
            let here = here.expect("PartialWildcard points at a byte");
            assert!(
                (wildcard_byte(here) && !partial.is_empty())
                    || (literal_byte(here) && partial_is_wildcard),
                "{e:?} for {text:?}"
            );
        }
        other => panic!("unexpected error kind {other:?} for {text:?}"),
    }
}

/// `Pattern::matches` and a one-subscription `TopicIndex` agree with the
/// reference.
fn check_match(pattern: &Pattern<'_>, topic: &Topic<'_>) {
    let p: Vec<&str> = pattern.as_str().split('.').collect();
    let t: Vec<&str> = topic.as_str().split('.').collect();
    let expected = reference_matches(&p, &t);
    assert_eq!(pattern.matches(topic), expected, "{pattern} vs {topic}");
    let mut index = TopicIndex::new();
    let id = index.insert(*pattern, ());
    let hits: Vec<_> = index.matches(topic).map(|(id, _)| id).collect();
    assert_eq!(
        hits,
        if expected { vec![id] } else { vec![] },
        "index: {pattern} vs {topic}"
    );
}

/// Whether the segments `p` (with `*` one or more, `?` exactly one) match
/// `t`: `m[i][j]` says whether `p[i..]` matches `t[j..]`, filled from the
/// back. O(|p| · |t|²).
fn reference_matches(p: &[&str], t: &[&str]) -> bool {
    let (m, n) = (p.len(), t.len());
    let mut table = vec![vec![false; n + 1]; m + 1];
    table[m][n] = true;
    for i in (0..m).rev() {
        for j in 0..=n {
            table[i][j] = match p[i] {
                "*" => (j + 1..=n).any(|k| table[i + 1][k]),
                "?" => j < n && table[i + 1][j + 1],
                literal => j < n && t[j] == literal && table[i + 1][j + 1],
            };
        }
    }
    table[0][0]
}
