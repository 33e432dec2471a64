//! The blocking and async loops shared by every channel operation: try,
//! register a listener, try again, park (or return `Pending`).

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::time::Instant;

use crate::notify::{Listener, Notify};
use crate::parking::WakeBy;
use crate::sync::{park_until, thread};

/// Outcome of one attempt: done (`Some`), or try again later (`None`).
pub(crate) type Attempt<R> = Option<R>;

/// Retries before a blocking operation registers and parks: spins of
/// 1, 2, 4 … 32 hints, then yields. A peer that is mid-operation usually
/// finishes within that, which saves a park/unpark round trip (crossbeam's
/// `Backoff` does the same).
#[cfg(not(evlatch_loom))]
const BACKOFF_STEPS: u32 = 10;
/// Under loom every attempt is a modelled step; backing off adds nothing.
#[cfg(evlatch_loom)]
const BACKOFF_STEPS: u32 = 0;
const SPIN_STEPS: u32 = 6;

fn with_backoff<R>(attempt: &mut impl FnMut() -> Attempt<R>) -> Attempt<R> {
    #[allow(clippy::reversed_empty_ranges, reason = "the bound is 0 under loom")]
    for step in 0..BACKOFF_STEPS {
        if let Some(r) = attempt() {
            return Some(r);
        }
        if step < SPIN_STEPS {
            for _ in 0..1u32 << step {
                core::hint::spin_loop();
            }
        } else {
            thread::yield_now();
        }
    }
    None
}

/// Blocks until `attempt` returns `Some`, or the deadline passes (then one
/// last attempt decides, and `None` means timed out).
pub(crate) fn block_until<R>(
    notify: &Notify,
    deadline: Option<Instant>,
    mut attempt: impl FnMut() -> Attempt<R>,
) -> Option<R> {
    loop {
        if let Some(r) = with_backoff(&mut attempt).or_else(&mut attempt) {
            return Some(r);
        }
        let listener = notify.listen(WakeBy::Thread(thread::current()));
        if let Some(r) = attempt() {
            notify.cancel(listener);
            return Some(r);
        }
        loop {
            if listener.is_notified() {
                break;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                notify.cancel(listener);
                return attempt();
            }
            park_until(deadline);
        }
    }
}

/// The async counterpart: a future that retries `attempt` whenever its
/// listener is notified. Dropping it removes the listener (passing on a
/// notification it received but did not use).
pub(crate) struct Retry<'a, R, F: FnMut() -> Attempt<R>> {
    notify: &'a Notify,
    attempt: F,
    listener: Option<Listener>,
    _out: core::marker::PhantomData<fn() -> R>,
}

impl<'a, R, F: FnMut() -> Attempt<R>> Retry<'a, R, F> {
    pub(crate) fn new(notify: &'a Notify, attempt: F) -> Self {
        Self {
            notify,
            attempt,
            listener: None,
            _out: core::marker::PhantomData,
        }
    }
}

// Retry never pins `attempt` structurally (it is only called through
// `&mut`), so the future is `Unpin` whatever the closure captures.
impl<R, F: FnMut() -> Attempt<R>> Unpin for Retry<'_, R, F> {}

impl<R, F: FnMut() -> Attempt<R>> Future for Retry<'_, R, F> {
    type Output = R;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<R> {
        let this = self.get_mut();
        loop {
            if let Some(l) = &this.listener {
                if !l.is_notified() {
                    this.notify.update_waker(l, cx.waker());
                    // The notification may have landed before the update.
                    if !l.is_notified() {
                        return Poll::Pending;
                    }
                }
                this.listener = None;
            }
            if let Some(r) = (this.attempt)() {
                return Poll::Ready(r);
            }
            let listener = this.notify.listen(WakeBy::Task(cx.waker().clone()));
            if let Some(r) = (this.attempt)() {
                this.notify.cancel(listener);
                return Poll::Ready(r);
            }
            this.listener = Some(listener);
        }
    }
}

impl<R, F: FnMut() -> Attempt<R>> Drop for Retry<'_, R, F> {
    fn drop(&mut self) {
        if let Some(l) = self.listener.take() {
            self.notify.cancel(l);
        }
    }
}
