//! Counters for leak checks in tests: what the std shell holds right now.
//! Nothing in the API needs them.

/// The number of waiters (blocked threads and pending futures) registered
/// in the waiter table right now, across all events. For leak checks in
/// tests: it returns to zero when every wait has returned or been dropped.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use evlatch_std::{diagnostics::registered_waiters, Event, EventExt};
///
/// let event = Event::new();
/// assert!(event.wait_timeout(Duration::from_millis(1)).is_err());
/// // The timed-out waiter unlinked itself.
/// assert_eq!(registered_waiters(), 0);
/// ```
pub fn registered_waiters() -> usize {
    crate::parking::waiter_count()
}
