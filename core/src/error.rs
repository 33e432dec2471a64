//! Errors of the event state machine.

use core::fmt;

/// Why an [`Event`](crate::Event) operation was refused. The event is left
/// unchanged.
///
/// # Examples
///
/// ```
/// use evlatch::{Event, EventError};
/// let event = Event::new();
/// event.set_finished().unwrap();
/// let err = event.record().unwrap_err();
/// assert_eq!(err, EventError::AlreadyFinished);
/// assert!(err.to_string().contains("reset"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EventError {
    /// `record` on a `Scheduled` event.
    AlreadyRecorded,
    /// `record`, `set_finished` or `set_failed` on a finished (or finishing)
    /// event.
    AlreadyFinished,
    /// `reset` on a `Scheduled` event.
    InFlight,
    /// Without `alloc`: more than [`INLINE_CALLBACKS`](crate::INLINE_CALLBACKS)
    /// callbacks registered in one generation.
    CallbacksFull,
}

impl fmt::Display for EventError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventError::AlreadyRecorded => f.write_str(
                "event already recorded: it is scheduled; finish it (and reset it) before recording again",
            ),
            EventError::AlreadyFinished => f.write_str(
                "event already finished: reset it before recording or finishing it again",
            ),
            EventError::InFlight => {
                f.write_str("event is in flight (scheduled): finish it before resetting")
            }
            EventError::CallbacksFull => write!(
                f,
                "event callback storage is full: without the `alloc` feature an event holds at most {} callbacks per generation; reset it or enable `alloc`",
                crate::INLINE_CALLBACKS
            ),
        }
    }
}

impl core::error::Error for EventError {}
