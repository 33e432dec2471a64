//! The one scanner behind [`Topic::new`](super::Topic::new) and
//! [`Pattern::new`](super::Pattern::new): limits, allowed characters, and
//! where the first problem is.

use super::error::{TopicError, TopicErrorKind};
use super::{MAX_LEN, MAX_SEGMENTS};

/// What a successful scan learned about the string.
///
/// Invariants: `1 <= segments <= MAX_SEGMENTS`; `stars + ones <= segments`;
/// both wildcard counts are 0 for a topic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Shape {
    /// Number of segments.
    pub(super) segments: u8,
    /// Number of `*` segments.
    pub(super) stars: u8,
    /// Number of `?` segments.
    pub(super) ones: u8,
}

/// What the segment being scanned holds so far.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Seg {
    /// Nothing yet.
    Start,
    /// Literal characters.
    Literal,
    /// One wildcard character.
    Wildcard,
}

/// Whether `b` may appear in a literal segment.
pub(super) const fn is_literal_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

// `MAX_SEGMENTS` must fit the `u8` counters of `Shape`.
const _: () = assert!(MAX_SEGMENTS <= u8::MAX as usize);

/// Checks `s` as a topic (`pattern == false`) or a pattern, reporting the
/// first problem in the order documented on [`TopicError`].
pub(super) const fn scan(s: &str, pattern: bool) -> Result<Shape, TopicError> {
    let b = s.as_bytes();
    if b.is_empty() {
        return Err(TopicError::new(TopicErrorKind::Empty, 0, 0, pattern));
    }
    if b.len() > MAX_LEN {
        let segment = count_dots(b, MAX_LEN);
        return Err(TopicError::new(
            TopicErrorKind::TooLong,
            MAX_LEN,
            segment,
            pattern,
        ));
    }
    let mut shape = Shape {
        segments: 1,
        stars: 0,
        ones: 0,
    };
    let mut seg = Seg::Start;
    // Index of the current segment: `segments - 1`.
    let mut index = 0usize;
    let mut i = 0usize;
    while i < b.len() {
        let c = b[i];
        let error = if c == b'.' {
            if matches!(seg, Seg::Start) {
                Some(TopicErrorKind::EmptySegment)
            } else if index + 1 >= MAX_SEGMENTS {
                Some(TopicErrorKind::TooManySegments)
            } else {
                index += 1;
                shape.segments += 1;
                seg = Seg::Start;
                None
            }
        } else if is_literal_byte(c) {
            if matches!(seg, Seg::Wildcard) {
                Some(TopicErrorKind::PartialWildcard)
            } else {
                seg = Seg::Literal;
                None
            }
        } else if c == b'*' || c == b'?' {
            if !pattern {
                Some(TopicErrorKind::WildcardInTopic)
            } else if !matches!(seg, Seg::Start) {
                Some(TopicErrorKind::PartialWildcard)
            } else {
                seg = Seg::Wildcard;
                if c == b'*' {
                    shape.stars += 1;
                } else {
                    shape.ones += 1;
                }
                None
            }
        } else {
            // Every byte before `i` was ASCII, so `i` starts a character.
            Some(TopicErrorKind::InvalidChar(char_at(b, i)))
        };
        if let Some(kind) = error {
            return Err(TopicError::new(kind, i, index, pattern));
        }
        i += 1;
    }
    if matches!(seg, Seg::Start) {
        return Err(TopicError::new(
            TopicErrorKind::EmptySegment,
            b.len(),
            index,
            pattern,
        ));
    }
    Ok(shape)
}

/// The number of `.` in `b[..end]`.
const fn count_dots(b: &[u8], end: usize) -> usize {
    let mut n = 0;
    let mut i = 0;
    while i < end && i < b.len() {
        if b[i] == b'.' {
            n += 1;
        }
        i += 1;
    }
    n
}

/// Decodes the character that starts at byte `i` of the UTF-8 text `b`.
const fn char_at(b: &[u8], i: usize) -> char {
    let first = b[i] as u32;
    let (len, mut c) = if first < 0x80 {
        (1, first)
    } else if first < 0xE0 {
        (2, first & 0x1F)
    } else if first < 0xF0 {
        (3, first & 0x0F)
    } else {
        (4, first & 0x07)
    };
    let mut k = 1;
    while k < len && i + k < b.len() {
        c = (c << 6) | (b[i + k] as u32 & 0x3F);
        k += 1;
    }
    match char::from_u32(c) {
        Some(ch) => ch,
        None => char::REPLACEMENT_CHARACTER,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn char_at_decodes_every_width() {
        for s in ["a", "é", "€", "𝄞"] {
            assert_eq!(char_at(s.as_bytes(), 0), s.chars().next().unwrap());
        }
        assert_eq!(char_at("xé".as_bytes(), 1), 'é');
    }

    #[test]
    fn count_dots_stops_at_end() {
        assert_eq!(count_dots(b"a.b.c", 3), 1);
        assert_eq!(count_dots(b"a.b.c", 99), 2);
    }
}
