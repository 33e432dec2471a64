//! The storage behind a channel: one core ring, or two for the priority
//! levels, all [`evlatch::HeapStampQueue`]s (lock-free, bounded).

use evlatch::queue::Prioritized;
use evlatch::HeapStampQueue;

use super::CapacityError;

pub use evlatch::Priority;

/// With a waiting `Low` value, after this many `High` values in a row the
/// next receive serves `Low` (with `C` concurrent receivers, at most
/// `LOW_PRIORITY_EVERY + C - 1`): the core's one starvation guard,
/// [`evlatch::queue::LOW_AFTER`], which the priority store
/// ([`evlatch::queue::Prioritized`]) applies.
pub const LOW_PRIORITY_EVERY: usize = evlatch::queue::LOW_AFTER;

// One per channel, built once and never moved afterwards: boxing the
// larger variant would only add an indirection to every operation.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Store<T> {
    Fifo(HeapStampQueue<T>),
    /// Two levels with the core's starvation guard.
    Priority(Prioritized<HeapStampQueue<T>>),
}

/// A ring of at least `capacity` slots: the core ring takes powers of two,
/// so the capacity is rounded up (and 0 or an oversize request refused).
fn ring<T>(capacity: usize) -> Result<HeapStampQueue<T>, CapacityError> {
    let error = |reason| CapacityError {
        requested: capacity,
        reason,
    };
    let rounded = capacity
        .checked_next_power_of_two()
        .ok_or(error(evlatch::CapacityError::TooLarge))?;
    let rounded = if capacity == 0 { 0 } else { rounded };
    HeapStampQueue::with_capacity(rounded).map_err(error)
}

impl<T> Store<T> {
    pub(crate) fn fifo(capacity: usize) -> Result<Self, CapacityError> {
        Ok(Store::Fifo(ring(capacity)?))
    }

    pub(crate) fn priority(capacity: usize) -> Result<Self, CapacityError> {
        Ok(Store::Priority(Prioritized::from_levels(
            ring(capacity)?,
            ring(capacity)?,
        )))
    }

    pub(crate) fn try_push(&self, value: T, priority: Priority) -> Result<(), T> {
        match self {
            Store::Fifo(q) => q.try_push(value),
            Store::Priority(q) => q.try_push(value, priority),
        }
        .map_err(|full| full.0)
    }

    pub(crate) fn force_push(&self, value: T, priority: Priority) -> Option<T> {
        match self {
            Store::Fifo(q) => q.force_push(value),
            Store::Priority(q) => q.force_push(value, priority),
        }
    }

    pub(crate) fn try_pop(&self) -> Option<T> {
        match self {
            Store::Fifo(q) => q.try_pop(),
            Store::Priority(q) => q.try_pop(),
        }
    }

    /// Whether a pop may succeed now: the ring's cheap hint for retry
    /// loops (the priority store gives none, so it says "maybe").
    pub(crate) fn pop_may_succeed(&self) -> bool {
        match self {
            Store::Fifo(q) => q.pop_may_succeed(),
            Store::Priority(_) => true,
        }
    }

    /// Whether a push may succeed now (see `pop_may_succeed`).
    pub(crate) fn push_may_succeed(&self) -> bool {
        match self {
            Store::Fifo(q) => q.push_may_succeed(),
            Store::Priority(_) => true,
        }
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            Store::Fifo(q) => q.len(),
            Store::Priority(q) => q.len(),
        }
    }

    pub(crate) fn capacity(&self) -> usize {
        match self {
            Store::Fifo(q) => q.capacity(),
            Store::Priority(q) => q.capacity(),
        }
    }

    pub(crate) fn dropped(&self) -> u64 {
        match self {
            Store::Fifo(q) => q.dropped(),
            Store::Priority(q) => q.dropped(),
        }
    }
}
