//! Reuse of event allocations. The `Arc` an event is published in comes,
//! in this order of preference:
//!
//! 1. from this thread's recent events once every subscriber has dropped
//!    them, so a subscriber that keeps up hands its event's memory back to
//!    the publishing thread (hot in cache, and without a trip through the
//!    allocator on either side) — the *window*, below;
//! 2. from the service's [`Spare`] pool: events the consumer was the last
//!    to hold (they went to listeners only, or to nobody), which it puts
//!    there instead of freeing them; this one survives any lag, since
//!    whoever releases an event last hands it on;
//! 3. from the allocator.
//!

//! A thread keeps one reference to up to [`KEPT`] events it published that
//! own no heap memory (inline topic and fields, no text or bytes values),
//! so such a delivery's `Arc::strong_count` counts one more while it is
//! among them, and up to [`KEPT`] of them (a few hundred bytes each) stay
//! allocated until reused or the thread ends. A reused event goes to the
//! back of the window once it is queued again; while the window is full of
//! events still held (subscribers lagging), new events are not kept, so the
//! window is not cycled at the cost of two reference-count updates per
//! event.

use core::cell::RefCell;
use std::collections::VecDeque;
use std::sync::Arc as StdArc;

use evlatch::HeapStampQueue;

use super::message::Delivery;

/// Events the pool holds at most (a power of two).
const SPARE: usize = 256;

/// A service's pool of unshared event allocations (see the module docs):
/// each `Arc` in it has a strong count of one and no weak references, and
/// owns no heap memory besides itself. At most [`SPARE`] of them (a few
/// hundred bytes each) stay allocated until reused or the service is
/// dropped.
pub(super) struct Spare(Option<HeapStampQueue<StdArc<Delivery>>>);

impl Spare {
    /// An empty pool (none at all if its slots cannot be allocated: every
    /// event is then a fresh allocation).
    pub(super) fn new() -> Self {
        Spare(HeapStampQueue::with_capacity(SPARE).ok())
    }
}

/// Puts `event` in the pool if nobody else holds it and it owns no heap
/// memory; drops it otherwise (or if the pool is full).
pub(super) fn spare(pool: &Spare, mut event: StdArc<Delivery>) {
    // `get_mut` proves the count is one (and no weak references), with the
    // synchronization that makes this thread's later hand-over sound.
    if StdArc::get_mut(&mut event).is_some() && event.owns_nothing() {
        if let Some(q) = &pool.0 {
            let _ = q.try_push(event);
        }
    }
}

/// Events a thread keeps for reuse.
pub(super) const KEPT: usize = 64;

std::thread_local! {
    static KEEP: RefCell<VecDeque<StdArc<Delivery>>> = const { RefCell::new(VecDeque::new()) };
}

/// `event` in an `Arc`: the oldest kept one if nobody else holds it any
/// more (taken out of the window: [`keep`] puts it back), else one from
/// `pool`, else a new one.
pub(super) fn make(event: Delivery, pool: &Spare) -> StdArc<Delivery> {
    let reusable = KEEP
        .try_with(|keep| {
            let mut keep = keep.try_borrow_mut().ok()?;
            // A plain load first: while subscribers lag, the oldest kept
            // event is usually still held, and `get_mut` would spend a
            // failing compare-and-swap to learn that.
            if keep
                .front()
                .is_none_or(|front| StdArc::strong_count(front) != 1)
            {
                return None;
            }
            keep.pop_front()
        })
        .ok()
        .flatten()
        .or_else(|| {
            // The hint first: an empty pool is the common miss, and a pop
            // that finds it empty pays for a fence to prove it.
            let q = pool.0.as_ref()?;
            if q.pop_may_succeed() {
                q.try_pop()
            } else {
                None
            }
        });
    match reusable {
        Some(mut arc) => match StdArc::get_mut(&mut arc) {
            // Unique: no subscriber, queue or user holds it.
            Some(slot) => {
                *slot = event;
                arc
            }
            None => StdArc::new(event),
        },
        // Nothing to reuse.
        None => StdArc::new(event),
    }
}

/// A reference to keep, if `event` is worth keeping (it owns no heap
/// memory and the window has room): take it before the event is handed
/// on, and give it to [`keep`] once the event is queued.
pub(super) fn wants(event: &StdArc<Delivery>) -> Option<StdArc<Delivery>> {
    if !event.owns_nothing() {
        return None;
    }
    let room = KEEP
        .try_with(|keep| keep.try_borrow().is_ok_and(|k| k.len() < KEPT))
        .unwrap_or(false);
    room.then(|| event.clone())
}

/// Keeps `event` for reuse (see [`wants`]).
pub(super) fn keep(event: StdArc<Delivery>) {
    let _ = KEEP.try_with(|keep| {
        if let Ok(mut keep) = keep.try_borrow_mut() {
            if keep.len() < KEPT {
                keep.push_back(event);
            }
        }
    });
}
