//! Blocking and async waits on a core [`Event`].

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::time::{Duration, Instant};

use evlatch::backend::{BackendError, DeviceEvent};
use evlatch::{Event, EventStatus};

use crate::parking::{register, Registration, WakeBy};
use crate::sync::{park_until, thread};

/// How many times a blocking waiter re-checks the status, with a spin hint,
/// before it parks: a short bounded backoff that catches completions already
/// in flight without burning a core.
#[cfg(not(evlatch_loom))]
const SPINS_BEFORE_PARK: u32 = 4;
/// Under loom every re-check is a modelled step; spinning adds nothing.
#[cfg(evlatch_loom)]
const SPINS_BEFORE_PARK: u32 = 0;

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
pub trait EventExt {
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

    /// A future that resolves to the outcome; works on any executor. Dropping
    /// it before it resolves removes its waiter and leaks nothing.
    fn wait_async(&self) -> WaitFuture<'_>;
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
            registration: None,
            done: false,
        }
    }
}

fn block(event: &Event, deadline: Option<Instant>) -> Result<EventStatus, Timeout> {
    let mut seen = event.snapshot();
    #[allow(clippy::reversed_empty_ranges, reason = "the bound is 0 under loom")]
    for _ in 0..SPINS_BEFORE_PARK {
        if seen.status().is_final() {
            return Ok(seen.status());
        }
        core::hint::spin_loop();
        let now = event.snapshot();
        if now.generation() != seen.generation() {
            break; // let `register` report the lapped generation's outcome
        }
        seen = now;
    }
    if seen.status().is_final() {
        return Ok(seen.status());
    }
    let reg = match register(event, seen, WakeBy::Thread(thread::current())) {
        Ok(reg) => reg,
        Err(status) => return Ok(status),
    };
    park_registered(&reg, deadline)
}

/// Parks until the registration's outcome is set or the deadline passes.
pub(crate) fn park_registered(
    reg: &Registration,
    deadline: Option<Instant>,
) -> Result<EventStatus, Timeout> {
    loop {
        if let Some(status) = reg.outcome.get() {
            return Ok(status);
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return match reg.cancel() {
                Some(status) => Ok(status),
                None => Err(Timeout),
            };
        }
        park_until(deadline);
    }
}

/// The future of [`EventExt::wait_async`].
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
    registration: Option<Registration>,
    done: bool,
}

impl Future for WaitFuture<'_> {
    type Output = EventStatus;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<EventStatus> {
        let this = self.get_mut();
        assert!(!this.done, "WaitFuture polled after it resolved");
        let outcome = match &this.registration {
            None => {
                let seen = this.event.snapshot();
                if seen.status().is_final() {
                    Some(seen.status())
                } else {
                    match register(this.event, seen, WakeBy::Task(cx.waker().clone())) {
                        Ok(reg) => {
                            this.registration = Some(reg);
                            None
                        }
                        Err(status) => Some(status),
                    }
                }
            }
            Some(reg) => reg.outcome.get().or_else(|| reg.update_waker(cx.waker())),
        };
        match outcome {
            Some(status) => {
                this.registration = None;
                this.done = true;
                Poll::Ready(status)
            }
            None => Poll::Pending,
        }
    }
}

impl Drop for WaitFuture<'_> {
    fn drop(&mut self) {
        if let Some(reg) = self.registration.take() {
            if reg.outcome.get().is_none() {
                let _ = reg.cancel();
            }
        }
    }
}

impl fmt::Debug for WaitFuture<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitFuture")
            .field("event", self.event)
            .field("registered", &self.registration.is_some())
            .field("done", &self.done)
            .finish()
    }
}

/// The CPU→CPU entry of the core's wait matrix: block until finished.
pub(crate) fn cpu_wait(
    event: &dyn DeviceEvent,
    _context: &dyn core::any::Any,
) -> Result<(), BackendError> {
    match event.completion() {
        Some(core) => {
            EventExt::wait(core);
            Ok(())
        }
        None => Err(BackendError::Unsupported {
            operation: "a blocking CPU wait on an event without a core completion event",
        }),
    }
}
