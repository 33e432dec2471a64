//! Dependencies between events: wait for all, wait for any, and chaining.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::sync::atomic::AtomicUsize as StdAtomicUsize;
use std::sync::Arc as StdArc;

use evlatch::{Event, EventStatus};

use crate::parking::Waiter;
use crate::sync::{park_until, thread, Ordering};
use crate::wait::EventExt;
use crate::wake_list::WakeBy;

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
    let waiters = new_waiters(events.len());
    let mut found = register_all(events, &waiters, || WakeBy::Thread(thread::current()));
    while found.is_none() {
        found = first_outcome(&waiters);
        if found.is_none() {
            park_until(None);
        }
    }
    // Dropping `waiters` unlinks those still waiting.
    found
}

/// One waiter per event, pinned in one allocation (the only allocation of
/// a `wait_any`).
fn new_waiters(n: usize) -> Pin<Box<[Waiter]>> {
    Box::into_pin((0..n).map(|_| Waiter::new()).collect())
}

/// The `i`-th of a pinned slice of waiters.
fn pinned(waiters: &Pin<Box<[Waiter]>>, i: usize) -> Pin<&Waiter> {
    // SAFETY: the slice is pinned, so each element is: projecting to one
    // element never moves it.
    unsafe { waiters.as_ref().map_unchecked(|all| &all[i]) }
}

/// Registers a waiter on each event in order, stopping at the first event
/// found finished (its index and outcome).
fn register_all(
    events: &[&Event],
    waiters: &Pin<Box<[Waiter]>>,
    mut wake: impl FnMut() -> WakeBy,
) -> Option<(usize, EventStatus)> {
    for (i, e) in events.iter().enumerate() {
        let seen = e.snapshot();
        if seen.status().is_finished() {
            return Some((i, seen.status()));
        }
        if let Err(status) = pinned(waiters, i).register(e, seen, wake()) {
            return Some((i, status));
        }
    }
    None
}

fn first_outcome(waiters: &[Waiter]) -> Option<(usize, EventStatus)> {
    waiters
        .iter()
        .enumerate()
        .find_map(|(i, w)| w.outcome().map(|s| (i, s)))
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
        waiters: None,
        result: None,
    }
}

/// The future of [`wait_any_async`]. Dropping it removes every waiter. It
/// is fused: polled again after it resolved, it returns the same result.
///
/// # Examples
///
/// ```
/// use evlatch_std::{wait_any_async, Event, EventStatus};
/// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// # rt.block_on(async {
/// let (a, b) = (Event::new(), Event::new());
/// b.set_failed("x").unwrap();
/// let events = [&a, &b];
/// let mut any = Box::pin(wait_any_async(&events));
/// assert_eq!(any.as_mut().await, Some((1, EventStatus::Failed)));
/// // Fused: polling again gives the same result.
/// assert_eq!(any.as_mut().await, Some((1, EventStatus::Failed)));
/// # });
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct WaitAny<'a> {
    events: &'a [&'a Event],
    /// One pinned waiter per event, once first polled.
    waiters: Option<Pin<Box<[Waiter]>>>,
    /// The result, once resolved.
    result: Option<Option<(usize, EventStatus)>>,
}

impl Future for WaitAny<'_> {
    type Output = Option<(usize, EventStatus)>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // The waiters are pinned in their own allocation; the future itself
        // holds only a pointer to them.
        let this = self.get_mut();
        if let Some(result) = this.result {
            return Poll::Ready(result);
        }
        let found = if this.events.is_empty() {
            Some(None)
        } else {
            match &this.waiters {
                None => {
                    let waiters = new_waiters(this.events.len());
                    let found =
                        register_all(this.events, &waiters, || WakeBy::Task(cx.waker().clone()));
                    this.waiters = Some(waiters);
                    found.map(Some)
                }
                Some(waiters) => waiters
                    .iter()
                    .enumerate()
                    .find_map(|(i, w)| {
                        w.outcome()
                            .or_else(|| w.update_waker(cx.waker()))
                            .map(|s| (i, s))
                    })
                    .map(Some),
            }
        };
        match found {
            Some(result) => {
                // Unlinks the waiters still waiting.
                this.waiters = None;
                this.result = Some(result);
                Poll::Ready(result)
            }
            None => Poll::Pending,
        }
    }
}

impl core::fmt::Debug for WaitAny<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("WaitAny")
            .field("events", &self.events.len())
            .field("finished", &self.result.is_some())
            .finish()
    }
}

/// An event that finishes when all `preconditions` finish: `Success` if
/// they all succeed, `Failed` — with the first failure's message — as soon
/// as one fails. The returned event is already recorded (`Scheduled`), or
/// finished at once when `preconditions` is empty or already decided.
///
/// Each precondition's current generation counts: its next finish (or its
/// current outcome, if already finished).
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
        pre.on_finished(move |status| match status {
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
