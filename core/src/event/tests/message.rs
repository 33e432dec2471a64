//! The failure message: truncation at a UTF-8 boundary, owned copies, `Some` exactly when failed.

use super::*;

/// Messages longer than `MESSAGE_CAPACITY` are cut at a character boundary
/// (for characters of every UTF-8 width straddling the limit), and
/// `is_truncated` and `Display` say so; messages that fit are kept whole.
#[test]
fn message_truncated_at_utf8_boundary() {
    let cap = MESSAGE_CAPACITY;
    let cases: Vec<(String, usize, bool)> = std::vec![
        (String::new(), 0, false),
        ("a".repeat(cap), cap, false),
        ("a".repeat(cap + 1), cap, true),
        // A 2-byte char starting at byte cap-1 does not fit.
        ("a".repeat(cap - 1) + "é", cap - 1, true),
        // A 3-byte char starting at cap-2 does not fit; one at cap-3 does.
        ("a".repeat(cap - 2) + "€", cap - 2, true),
        ("a".repeat(cap - 3) + "€", cap, false),
        ("a".repeat(cap - 3) + "€b", cap, true),
        // 4-byte chars: 32 fit exactly, the 33rd is cut whole.
        ("😀".repeat(33), cap, true),
        ("a".repeat(cap - 1) + "😀", cap - 1, true),
        ("a".repeat(cap - 3) + "😀", cap - 3, true),
        ("é".repeat(100), cap, true),
        ("x".repeat(1 << 16), cap, true),
    ];
    for (input, kept, truncated) in cases {
        let event = Event::new();
        event.set_failed(&input).unwrap();
        let msg = event.error_message().unwrap();
        assert_eq!(msg.len(), kept, "input of {} bytes", input.len());
        assert_eq!(msg.as_str(), &input[..kept]);
        assert_eq!(
            msg.is_truncated(),
            truncated,
            "input of {} bytes",
            input.len()
        );
        let shown = msg.to_string();
        if truncated {
            assert_eq!(shown, format!("{}…", &input[..kept]));
        } else {
            assert_eq!(shown, input);
            assert_eq!(msg, input.as_str());
        }
        let debug = format!("{msg:?}");
        assert!(debug.contains("truncated"), "{debug}");
    }
}

/// Bad input never panics: empty messages, NULs, control characters, a
/// megabyte of text; they come back exactly (up to the capacity).
#[test]
fn odd_messages_are_kept_exactly() {
    let big = "ü".repeat(if cfg!(miri) { 2_000 } else { 500_000 });
    let inputs: [&str; 5] = ["", "\0", "\0\0\0\0\0", "line\nbreak\r\t\u{7f}", &big];
    for input in inputs {
        let event = Event::new();
        event.set_failed(input).unwrap();
        let msg = event.error_message().unwrap();
        let kept = input.len().min(MESSAGE_CAPACITY);
        assert_eq!(msg.as_str(), &input[..kept]);
        assert_eq!(&*msg, &input[..kept]);
    }
}

/// `error_message` is `Some` exactly while the status is `Failed`, and a
/// later, shorter message shows no bytes of an earlier, longer one.
#[test]
fn error_message_only_when_failed() {
    let event = Event::new();
    assert!(event.error_message().is_none());
    event.record().unwrap();
    assert!(event.error_message().is_none());
    event.set_finished().unwrap();
    assert!(event.error_message().is_none());
    event.reset().unwrap();

    event
        .set_failed("a fairly long first message, over one word")
        .unwrap();
    assert_eq!(
        message_of(&event).as_deref(),
        Some("a fairly long first message, over one word")
    );
    // Refused calls keep it.
    assert!(event.set_failed("other").is_err());
    assert!(event.set_finished().is_err());
    assert!(event.record().is_err());
    assert_eq!(
        message_of(&event).as_deref(),
        Some("a fairly long first message, over one word")
    );
    event.reset().unwrap();
    assert!(event.error_message().is_none());
    event.record().unwrap();
    assert!(event.error_message().is_none());
    event.set_failed("short").unwrap();
    let msg = event.error_message().unwrap();
    assert_eq!(msg.as_str(), "short");
    assert!(!msg.is_truncated());
    event.reset().unwrap();
    event.set_finished().unwrap();
    assert!(event.error_message().is_none());
}

/// An `ErrorMessage` is an owned copy: it survives a reset and a new
/// failure of its event.
#[test]
fn error_message_is_an_owned_copy() {
    let event = Event::new();
    event.set_failed("old").unwrap();
    let old = event.error_message().unwrap();
    event.reset().unwrap();
    event.set_failed("new message").unwrap();
    assert_eq!(old.as_str(), "old");
    assert_eq!(message_of(&event).as_deref(), Some("new message"));
    assert_ne!(old, event.error_message().unwrap());
}
