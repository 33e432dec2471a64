//! The blocking and async loops shared by every channel operation: try,
//! register a listener, try again, park (or return `Pending`).

use core::pin::{pin, Pin};
use core::task::{Context, Poll};
use std::time::Instant;

use crate::notify::{Listener, Notify};
use crate::sync::{park_until, thread, Backoff};
use crate::wake_list::WakeBy;

/// Outcome of one attempt: done (`Some`), or try again later (`None`).
pub(crate) type Attempt<R> = Option<R>;

/// Retries before a blocking operation registers and parks (see
/// [`Backoff`]): a peer that is mid-operation usually finishes within that,
/// which saves a park/unpark round trip. A retry runs `attempt` (exact,
/// linearizable) only when the cheap `ready` hint says it may succeed, so a
/// waiting thread does not keep reading the other side's counter.
fn with_backoff<R>(
    ready: &impl Fn() -> bool,
    attempt: &mut impl FnMut() -> Attempt<R>,
) -> Attempt<R> {
    let mut backoff = Backoff::new();
    while !backoff.should_park() {
        if ready() {
            if let Some(r) = attempt() {
                return Some(r);
            }
        }
        backoff.snooze();
    }
    None
}

/// Blocks until `attempt` returns `Some`, or the deadline passes (then one
/// last attempt decides, and `None` means timed out). `ready` is a cheap,
/// possibly stale hint that `attempt` may succeed; it only decides which
/// backoff retries run, never whether to park (an exact `attempt` does).
pub(crate) fn block_until<R>(
    notify: &Notify,
    deadline: Option<Instant>,
    ready: impl Fn() -> bool,
    mut attempt: impl FnMut() -> Attempt<R>,
) -> Option<R> {
    // The listener lives in this stack frame; its `Drop` withdraws it (or
    // passes on an unused notification) on every way out.
    let listener = pin!(Listener::new(notify));
    loop {
        if let Some(r) = with_backoff(&ready, &mut attempt).or_else(&mut attempt) {
            return Some(r);
        }
        listener.as_ref().listen(WakeBy::Thread(thread::current()));
        if let Some(r) = attempt() {
            listener.cancel();
            return Some(r);
        }
        loop {
            if listener.take_notified() {
                break;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                listener.cancel();
                return attempt();
            }
            park_until(deadline);
        }
    }
}

/// The async counterpart: the state of a future that retries an attempt
/// whenever its listener is notified. Its listener lives inside it (so it is
/// `!Unpin`); dropping it withdraws the listener, passing on a notification
/// it received but did not use.
///
/// Once `poll` has returned `Ready` it is done: later polls return
/// `Pending` without running the attempt again (and never wake).
pub(crate) struct Retry<'a> {
    /// Pinned with the future: `poll` never moves it.
    listener: Listener<'a>,
    done: bool,
}

impl<'a> Retry<'a> {
    pub(crate) fn new(notify: &'a Notify) -> Self {
        Self {
            listener: Listener::new(notify),
            done: false,
        }
    }

    /// Whether `poll` has returned `Ready`.
    pub(crate) fn is_done(&self) -> bool {
        self.done
    }

    /// Runs `attempt` until it returns `Some` (then `Ready`), or registers
    /// `cx`'s waker and returns `Pending`.
    pub(crate) fn poll<R>(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut attempt: impl FnMut() -> Attempt<R>,
    ) -> Poll<R> {
        // SAFETY: `listener` is never moved out of the pinned state (only
        // used through `Pin<&Listener>` / `&Listener`); `done` is a plain
        // flag, never pinned.
        let this = unsafe { self.get_unchecked_mut() };
        if this.done {
            return Poll::Pending;
        }
        // SAFETY: as above, `listener` is structurally pinned.
        let listener = unsafe { Pin::new_unchecked(&this.listener) };
        // Still listening: refresh the waker and wait.
        if listener.update_waker(cx.waker()) {
            return Poll::Pending;
        }
        // Notified (or first poll): consume it and retry.
        listener.take_notified();
        loop {
            if let Some(r) = attempt() {
                this.done = true;
                return Poll::Ready(r);
            }
            listener.listen(WakeBy::Task(cx.waker().clone()));
            if let Some(r) = attempt() {
                listener.cancel();
                this.done = true;
                return Poll::Ready(r);
            }
            // A notification that landed between `listen` and here is seen
            // by the next poll's `update_waker` (it returns `false`), and the
            // notifier has woken this waker already.
            if !listener.take_notified() {
                return Poll::Pending;
            }
        }
    }
}
