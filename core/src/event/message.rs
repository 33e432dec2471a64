//! Inline storage for an event's failure message, read as a seqlock whose
//! sequence word is the event's state word.
//!
//! The message is written only by the thread holding the FINISHING claim of a
//! generation, and read only while the state shows `Failed`. A reader copies
//! the words, then checks that the state word's status and generation did not
//! change: a writer of a later generation must first pass a reset (which moves
//! the generation), so an unchanged word proves the copy is whole.

use core::fmt;
use core::ops::Deref;

use crate::sync::{AtomicU32, Ordering};

/// Bytes of message an event keeps; longer messages are truncated at a UTF-8
/// character boundary and marked truncated.
pub const MESSAGE_CAPACITY: usize = 128;

const WORDS: usize = MESSAGE_CAPACITY / 4;
// The length fits the `u8` of `ErrorMessage`, and the words tile the buffer.
const _: () = assert!(MESSAGE_CAPACITY <= u8::MAX as usize && MESSAGE_CAPACITY.is_multiple_of(4));
const TRUNCATED: u32 = 1 << 31;

/// The words that hold a message: a length word and the bytes, four per word.
pub(crate) struct MessageCell {
    /// Bits 0–30: length in bytes (≤ `MESSAGE_CAPACITY`); bit 31: truncated.
    len: AtomicU32,
    words: [AtomicU32; WORDS],
}

impl MessageCell {
    #[cfg(not(evlatch_loom))]
    pub(crate) const fn new() -> Self {
        Self {
            len: AtomicU32::new(0),
            words: [const { AtomicU32::new(0) }; WORDS],
        }
    }

    #[cfg(evlatch_loom)]
    pub(crate) fn new() -> Self {
        Self {
            len: AtomicU32::new(0),
            words: core::array::from_fn(|_| AtomicU32::new(0)),
        }
    }

    /// Stores `msg`, truncated to capacity at a character boundary.
    ///
    /// The caller holds the FINISHING claim and has issued a release fence
    /// after taking it, so a reader that sees any of these stores also sees
    /// the claim (the seqlock's "odd" sequence).
    pub(crate) fn write(&self, msg: &str) {
        let (bytes, truncated) = truncate(msg);
        for (i, word) in self.words.iter().enumerate().take(bytes.len().div_ceil(4)) {
            let mut chunk = [0u8; 4];
            let start = i * 4;
            let end = (start + 4).min(bytes.len());
            chunk[..end - start].copy_from_slice(&bytes[start..end]);
            // Relaxed: ordered for readers by the claim's fence and the final
            // release store of the state word.
            word.store(u32::from_le_bytes(chunk), Ordering::Relaxed);
        }
        let len = bytes.len() as u32 | if truncated { TRUNCATED } else { 0 };
        self.len.store(len, Ordering::Relaxed);
    }

    /// Copies the message out. The caller validates the copy against the
    /// state word afterwards (acquire fence, then reload).
    pub(crate) fn read(&self) -> RawMessage {
        // Relaxed: the caller loaded the state with Acquire before this and
        // fences with Acquire after it.
        let len_word = self.len.load(Ordering::Relaxed);
        let len = ((len_word & !TRUNCATED) as usize).min(MESSAGE_CAPACITY);
        let mut buf = [0u8; MESSAGE_CAPACITY];
        for (i, word) in self.words.iter().enumerate().take(len.div_ceil(4)) {
            let bytes = word.load(Ordering::Relaxed).to_le_bytes();
            let end = (i * 4 + 4).min(len);
            buf[i * 4..end].copy_from_slice(&bytes[..end - i * 4]);
        }
        RawMessage {
            buf,
            len,
            truncated: len_word & TRUNCATED != 0,
        }
    }
}

/// A copy that has not yet been validated against the state word.
pub(crate) struct RawMessage {
    buf: [u8; MESSAGE_CAPACITY],
    len: usize,
    truncated: bool,
}

impl RawMessage {
    /// Turns a validated copy into an [`ErrorMessage`]. A copy that is not
    /// UTF-8 (impossible once validated) becomes the empty message rather
    /// than undefined behaviour.
    pub(crate) fn into_message(self) -> ErrorMessage {
        let len = match core::str::from_utf8(&self.buf[..self.len]) {
            Ok(_) => self.len,
            Err(e) => e.valid_up_to(),
        };
        ErrorMessage {
            buf: self.buf,
            len: len as u8,
            truncated: self.truncated,
        }
    }
}

/// Cuts `msg` to at most `MESSAGE_CAPACITY` bytes at a character boundary.
fn truncate(msg: &str) -> (&[u8], bool) {
    if msg.len() <= MESSAGE_CAPACITY {
        return (msg.as_bytes(), false);
    }
    let mut end = MESSAGE_CAPACITY;
    while !msg.is_char_boundary(end) {
        end -= 1;
    }
    (&msg.as_bytes()[..end], true)
}

/// An owned copy of an event's failure message.
///
/// Derefs to `str`. Messages longer than [`MESSAGE_CAPACITY`] bytes are cut
/// at a character boundary; [`is_truncated`](Self::is_truncated) says so, and
/// `Display` ends such a message with `…`.
///
/// # Examples
///
/// ```
/// let event = evlatch::Event::new();
/// event.set_failed("kernel launch failed").unwrap();
/// let msg = event.error_message().unwrap();
/// assert_eq!(&*msg, "kernel launch failed");
/// assert!(!msg.is_truncated());
///
/// let long = "é".repeat(100); // 200 bytes
/// let event = evlatch::Event::new();
/// event.set_failed(&long).unwrap();
/// let msg = event.error_message().unwrap();
/// assert!(msg.is_truncated());
/// assert_eq!(msg.len(), 128);
/// assert_eq!(msg.to_string(), format!("{}…", "é".repeat(64)));
/// ```
#[derive(Clone, Copy)]
pub struct ErrorMessage {
    buf: [u8; MESSAGE_CAPACITY],
    len: u8,
    truncated: bool,
}

impl ErrorMessage {
    /// An owned message from `text`, cut to [`MESSAGE_CAPACITY`] bytes at a
    /// character boundary (for backends that report device errors).
    ///
    /// # Examples
    ///
    /// ```
    /// let m = evlatch::ErrorMessage::new("CUDA_ERROR_LAUNCH_FAILED: unspecified launch failure");
    /// assert!(m.starts_with("CUDA_ERROR"));
    /// assert!(!m.is_truncated());
    /// assert!(evlatch::ErrorMessage::new(&"x".repeat(300)).is_truncated());
    /// ```
    pub fn new(text: &str) -> Self {
        let (bytes, truncated) = truncate(text);
        let mut buf = [0u8; MESSAGE_CAPACITY];
        buf[..bytes.len()].copy_from_slice(bytes);
        ErrorMessage {
            buf,
            len: bytes.len() as u8,
            truncated,
        }
    }

    /// The message text (the same as dereferencing).
    ///
    /// # Examples
    ///
    /// ```
    /// let event = evlatch::Event::new();
    /// event.set_failed("oops").unwrap();
    /// assert_eq!(event.error_message().unwrap().as_str(), "oops");
    /// ```
    pub fn as_str(&self) -> &str {
        // The constructor cut `len` to the valid UTF-8 prefix.
        core::str::from_utf8(&self.buf[..self.len as usize]).unwrap_or_default()
    }

    /// Whether the original message was longer than [`MESSAGE_CAPACITY`]
    /// bytes and was cut.
    ///
    /// # Examples
    ///
    /// ```
    /// let event = evlatch::Event::new();
    /// event.set_failed(&"x".repeat(500)).unwrap();
    /// assert!(event.error_message().unwrap().is_truncated());
    /// ```
    pub fn is_truncated(&self) -> bool {
        self.truncated
    }
}

impl Deref for ErrorMessage {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for ErrorMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())?;
        if self.truncated {
            f.write_str("…")?;
        }
        Ok(())
    }
}

impl fmt::Debug for ErrorMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ErrorMessage")
            .field("text", &self.as_str())
            .field("truncated", &self.truncated)
            .finish()
    }
}

impl PartialEq for ErrorMessage {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str() && self.truncated == other.truncated
    }
}

impl Eq for ErrorMessage {}

impl PartialEq<str> for ErrorMessage {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for ErrorMessage {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncates_at_char_boundary() {
        let s = "a".repeat(127) + "é";
        let (b, t) = truncate(&s);
        assert!(t);
        assert_eq!(b.len(), 127);
        let (b, t) = truncate("short");
        assert!(!t);
        assert_eq!(b, b"short");
        let exact = "z".repeat(128);
        let (b, t) = truncate(&exact);
        assert!(!t);
        assert_eq!(b.len(), 128);
    }

    #[test]
    fn write_then_read_round_trips() {
        let cell = MessageCell::new();
        cell.write("hello, world");
        let m = cell.read().into_message();
        assert_eq!(m.as_str(), "hello, world");
        cell.write("hi");
        assert_eq!(cell.read().into_message().as_str(), "hi");
        cell.write("");
        assert_eq!(cell.read().into_message().as_str(), "");
    }
}
