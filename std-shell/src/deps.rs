//! Dependencies between events: wait for all, wait for any, and chaining.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::sync::atomic::AtomicUsize as StdAtomicUsize;
use std::sync::Arc as StdArc;

use evlatch::{Event, EventStatus};

use crate::parking::{register, Registration, WakeBy};
use crate::sync::{park_until, thread, Ordering};
use crate::wait::EventExt;

/// Blocks until every event has finished; returns their outcomes in order.
///
/// # Examples
///
/// ```
/// use evlatch_std::{wait_all, Event, EventStatus};
/// let (a, b) = (Event::new(), Event::new());
/// a.set_finished().unwrap();
/// b.set_failed("no").unwrap();
/// assert_eq!(wait_all(&[&a, &b]), [EventStatus::Success, EventStatus::Failed]);
/// ```
pub fn wait_all(events: &[&Event]) -> Vec<EventStatus> {
    events.iter().map(|e| e.wait()).collect()
}

/// Resolves when every event has finished, to their outcomes in order.
///
/// # Examples
///
/// ```
/// use evlatch_std::{wait_all_async, Event, EventStatus};
/// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// # rt.block_on(async {
/// let a = Event::new();
/// a.set_finished().unwrap();
/// assert_eq!(wait_all_async(&[&a]).await, [EventStatus::Success]);
/// # });
/// ```
pub async fn wait_all_async(events: &[&Event]) -> Vec<EventStatus> {
    let mut out = Vec::with_capacity(events.len());
    for e in events {
        out.push(e.wait_async().await);
    }
    out
}

/// Blocks until one of the events finishes; returns its index and outcome
/// (the lowest index if several are already finished). `None` for an empty
/// slice, which would otherwise never finish.
///
/// # Examples
///
/// ```
/// use evlatch_std::{wait_any, Event, EventStatus};
/// let (a, b) = (Event::new(), Event::new());
/// b.set_finished().unwrap();
/// assert_eq!(wait_any(&[&a, &b]), Some((1, EventStatus::Success)));
/// assert_eq!(wait_any(&[]), None);
/// ```
pub fn wait_any(events: &[&Event]) -> Option<(usize, EventStatus)> {
    if events.is_empty() {
        return None;
    }
    let mut regs: Vec<Registration> = Vec::with_capacity(events.len());
    let mut found = None;
    for (i, e) in events.iter().enumerate() {
        let seen = e.snapshot();
        if seen.status().is_final() {
            found = Some((i, seen.status()));
            break;
        }
        match register(e, seen, WakeBy::Thread(thread::current())) {
            Ok(reg) => regs.push(reg),
            Err(status) => {
                found = Some((i, status));
                break;
            }
        }
    }
    while found.is_none() {
        found = first_outcome(&regs);
        if found.is_none() {
            park_until(None);
        }
    }
    cancel_all(&regs);
    found
}

fn first_outcome(regs: &[Registration]) -> Option<(usize, EventStatus)> {
    regs.iter()
        .enumerate()
        .find_map(|(i, r)| r.outcome.get().map(|s| (i, s)))
}

fn cancel_all(regs: &[Registration]) {
    for r in regs {
        if r.outcome.get().is_none() {
            let _ = r.cancel();
        }
    }
}

/// Resolves when one of the events finishes, to its index and outcome;
/// `None` at once for an empty slice.
///
/// # Examples
///
/// ```
/// use evlatch_std::{wait_any_async, Event, EventStatus};
/// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// # rt.block_on(async {
/// let (a, b) = (Event::new(), Event::new());
/// a.set_finished().unwrap();
/// assert_eq!(wait_any_async(&[&a, &b]).await, Some((0, EventStatus::Success)));
/// # });
/// ```
pub fn wait_any_async<'a>(events: &'a [&'a Event]) -> WaitAny<'a> {
    WaitAny {
        events,
        regs: Vec::new(),
        done: false,
    }
}

/// The future of [`wait_any_async`]. Dropping it removes every waiter.
#[must_use = "futures do nothing unless polled"]
pub struct WaitAny<'a> {
    events: &'a [&'a Event],
    regs: Vec<Registration>,
    done: bool,
}

impl Future for WaitAny<'_> {
    type Output = Option<(usize, EventStatus)>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        assert!(!this.done, "WaitAny polled after it resolved");
        if this.events.is_empty() {
            this.done = true;
            return Poll::Ready(None);
        }
        let mut found = None;
        if this.regs.is_empty() {
            for (i, e) in this.events.iter().enumerate() {
                let seen = e.snapshot();
                if seen.status().is_final() {
                    found = Some((i, seen.status()));
                    break;
                }
                match register(e, seen, WakeBy::Task(cx.waker().clone())) {
                    Ok(reg) => this.regs.push(reg),
                    Err(status) => {
                        found = Some((i, status));
                        break;
                    }
                }
            }
        } else {
            found = this.regs.iter().enumerate().find_map(|(i, r)| {
                r.outcome
                    .get()
                    .or_else(|| r.update_waker(cx.waker()))
                    .map(|s| (i, s))
            });
        }
        match found {
            Some(hit) => {
                cancel_all(&this.regs);
                this.regs.clear();
                this.done = true;
                Poll::Ready(Some(hit))
            }
            None => Poll::Pending,
        }
    }
}

impl Drop for WaitAny<'_> {
    fn drop(&mut self) {
        cancel_all(&self.regs);
    }
}

impl core::fmt::Debug for WaitAny<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("WaitAny")
            .field("events", &self.events.len())
            .field("done", &self.done)
            .finish()
    }
}

/// An event that finishes when all `preconditions` finish: `Success` if
/// they all succeed, `Failed` — with the first failure's message — as soon
/// as one fails. The returned event is already recorded (`Scheduled`), or
/// finished at once when `preconditions` is empty or already decided.
///
/// Each precondition's current generation counts: its next finish (or its
/// current outcome, if already final).
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use evlatch_std::{chain, Event, EventExt, EventStatus};
///
/// let load = Arc::new(Event::new());
/// let decode = Arc::new(Event::new());
/// let both = chain(&[load.clone(), decode.clone()]);
/// assert_eq!(both.status(), EventStatus::Scheduled);
/// load.set_finished().unwrap();
/// decode.set_failed("bad header").unwrap();
/// assert_eq!(both.wait(), EventStatus::Failed);
/// assert_eq!(both.error_message().unwrap().as_str(), "bad header");
/// ```
pub fn chain(preconditions: &[StdArc<Event>]) -> StdArc<Event> {
    let target = StdArc::new(Event::new());
    // A fresh event always records.
    let _ = target.record();
    if preconditions.is_empty() {
        let _ = target.set_finished();
        return target;
    }
    let remaining = StdArc::new(StdAtomicUsize::new(preconditions.len()));
    for pre in preconditions {
        let target = target.clone();
        let remaining = remaining.clone();
        // Weak: a precondition that never finishes must not be kept alive by
        // its own callback.
        let weak = StdArc::downgrade(pre);
        pre.on_complete(move |status| match status {
            EventStatus::Failed => {
                let msg = weak.upgrade().and_then(|e| e.error_message());
                let text = msg.as_deref().unwrap_or("a precondition failed");
                // Only the first failure's message is kept.
                let _ = target.set_failed(text);
            }
            _ => {
                // AcqRel: the last decrement sees every earlier one.
                if remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
                    let _ = target.set_finished();
                }
            }
        });
    }
    target
}
