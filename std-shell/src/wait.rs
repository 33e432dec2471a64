//! Blocking and async waits on a core [`Event`].

use core::fmt;
use core::future::Future;
use core::pin::{pin, Pin};
use core::task::{Context, Poll};
use std::time::{Duration, Instant};

use evlatch::backend::{BackendError, DeviceEvent};
use evlatch::{Event, EventStatus};

use crate::parking::Waiter;
use crate::sync::{park_until, thread, Backoff};
use crate::wake_list::WakeBy;

/// A wait ran out of time before the event finished.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use evlatch_std::{Event, EventExt};
/// let event = Event::new();
/// let err = event.wait_timeout(Duration::from_millis(1)).unwrap_err();
/// assert!(err.to_string().contains("timed out"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeout;

impl fmt::Display for Timeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("wait timed out before the event finished; it is still pending")
    }
}

impl std::error::Error for Timeout {}

/// Waiting on an [`Event`]: blocking and async.
///
/// Sealed: implemented for the core [`Event`] only (so methods can be added
/// to it later without breaking anyone).
///
/// Every wait returns the outcome of the generation that was current when
/// the wait began, even if the event is reset and recorded again before the
/// waiter wakes. Waiting on an `Initialized` event waits for its next
/// finish, as Caffe2's `Finish` does.
///
/// # Examples
///
/// ```
/// use std::{sync::Arc, thread};
/// use evlatch_std::{Event, EventExt, EventStatus};
///
/// let event = Arc::new(Event::new());
/// event.record().unwrap();
/// let worker = {
///     let event = event.clone();
///     thread::spawn(move || event.set_finished().unwrap())
/// };
/// assert_eq!(event.wait(), EventStatus::Success);
/// worker.join().unwrap();
/// ```
pub trait EventExt: sealed::Sealed {
    /// Blocks until the event finishes; returns its outcome.
    fn wait(&self) -> EventStatus;

    /// Blocks at most `timeout`.
    ///
    /// # Errors
    ///
    /// [`Timeout`] if the event did not finish in time; the waiter is gone.
    fn wait_timeout(&self, timeout: Duration) -> Result<EventStatus, Timeout>;

    /// Blocks until `deadline` at most.
    ///
    /// # Errors
    ///
    /// [`Timeout`] if the event did not finish by then.
    fn wait_deadline(&self, deadline: Instant) -> Result<EventStatus, Timeout>;

    /// A future that resolves to the outcome; works on any executor. It
    /// allocates nothing (its waiter lives inside the future), and dropping
    /// it before it resolves unlinks that waiter in O(1).
    fn wait_async(&self) -> WaitFuture<'_>;
}

/// `EventExt` is implemented for the core [`Event`] only: its waits rely on
/// the wake protocol of that type, so no other type could keep its promises.
/// Sealing it lets new methods be added without breaking anyone.
mod sealed {
    pub trait Sealed {}
    impl Sealed for evlatch::Event {}
}

impl EventExt for Event {
    fn wait(&self) -> EventStatus {
        match block(self, None) {
            Ok(status) => status,
            Err(Timeout) => unreachable!("a wait without a deadline cannot time out"),
        }
    }

    fn wait_timeout(&self, timeout: Duration) -> Result<EventStatus, Timeout> {
        match Instant::now().checked_add(timeout) {
            Some(deadline) => block(self, Some(deadline)),
            // A timeout too large to represent is no timeout.
            None => Ok(EventExt::wait(self)),
        }
    }

    fn wait_deadline(&self, deadline: Instant) -> Result<EventStatus, Timeout> {
        block(self, Some(deadline))
    }

    fn wait_async(&self) -> WaitFuture<'_> {
        WaitFuture {
            event: self,
            waiter: Waiter::new(),
            state: FutureState::Idle,
        }
    }
}

fn block(event: &Event, deadline: Option<Instant>) -> Result<EventStatus, Timeout> {
    // A short bounded backoff (spins, then a few yields) catches a finish
    // already in flight without a park/unpark round trip.
    let mut seen = event.snapshot();
    let mut backoff = Backoff::new();
    while !seen.status().is_finished() && !backoff.should_park() {
        backoff.snooze();
        let now = event.snapshot();
        if now.generation() != seen.generation() {
            break; // let `register` report the lapped generation's outcome
        }
        seen = now;
    }
    if seen.status().is_finished() {
        return Ok(seen.status());
    }
    // The waiter lives in this stack frame; its `Drop` unlinks it on every
    // way out, unwinding included.
    let waiter = pin!(Waiter::new());
    if let Err(status) = waiter
        .as_ref()
        .register(event, seen, WakeBy::Thread(thread::current()))
    {
        return Ok(status);
    }
    park_registered(&waiter, deadline)
}

/// Parks until the waiter's outcome is set or the deadline passes.
pub(crate) fn park_registered(
    waiter: &Waiter,
    deadline: Option<Instant>,
) -> Result<EventStatus, Timeout> {
    loop {
        if let Some(status) = waiter.outcome() {
            return Ok(status);
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return match waiter.cancel() {
                Some(status) => Ok(status),
                None => Err(Timeout),
            };
        }
        park_until(deadline);
    }
}

/// The future of [`EventExt::wait_async`].
///
/// Its waiter lives inside it, so the future is `!Unpin`: `.await` it, or
/// pin it (`std::pin::pin!`, `Box::pin`) before polling by hand. It is fused:
/// polled again after it resolved, it returns the same outcome.
///
/// # Examples
///
/// ```
/// use evlatch_std::{Event, EventExt, EventStatus};
/// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// # rt.block_on(async {
/// let event = Event::new();
/// event.set_failed("boom").unwrap();
/// assert_eq!(event.wait_async().await, EventStatus::Failed);
/// # });
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct WaitFuture<'a> {
    event: &'a Event,
    /// Pinned with the future: `poll` never moves it.
    waiter: Waiter,
    state: FutureState,
}

/// Where a [`WaitFuture`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FutureState {
    /// Not polled yet.
    Idle,
    /// Its waiter is registered.
    Registered,
    /// Resolved to this outcome.
    Resolved(EventStatus),
}

impl Future for WaitFuture<'_> {
    type Output = EventStatus;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<EventStatus> {
        // SAFETY: `waiter` is never moved out of the pinned future (it is
        // only used through `Pin<&Waiter>` / `&Waiter`); the other fields
        // are plain data.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: as above, `waiter` is structurally pinned.
        let waiter = unsafe { Pin::new_unchecked(&this.waiter) };
        let outcome = match this.state {
            FutureState::Resolved(status) => return Poll::Ready(status),
            FutureState::Idle => {
                let seen = this.event.snapshot();
                if seen.status().is_finished() {
                    Some(seen.status())
                } else {
                    match waiter.register(this.event, seen, WakeBy::Task(cx.waker().clone())) {
                        Ok(()) => {
                            this.state = FutureState::Registered;
                            None
                        }
                        Err(status) => Some(status),
                    }
                }
            }
            FutureState::Registered => waiter.outcome().or_else(|| waiter.update_waker(cx.waker())),
        };
        match outcome {
            Some(status) => {
                this.state = FutureState::Resolved(status);
                Poll::Ready(status)
            }
            None => Poll::Pending,
        }
    }
}

impl fmt::Debug for WaitFuture<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitFuture")
            .field("event", self.event)
            .field("state", &self.state)
            .finish()
    }
}

/// The CPU→CPU entry of the core's wait matrix: block until finished.
pub(crate) fn cpu_wait(
    event: &dyn DeviceEvent,
    _context: &dyn core::any::Any,
) -> Result<(), BackendError> {
    match event.core_event() {
        Some(core) => {
            EventExt::wait(core);
            Ok(())
        }
        None => Err(BackendError::Unsupported {
            operation: "a blocking CPU wait on an event without a core event",
        }),
    }
}
