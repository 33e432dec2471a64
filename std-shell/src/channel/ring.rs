//! The storage behind a channel: one core ring, or two for the priority
//! levels, all [`evlatch::HeapStampQueue`]s (lock-free, bounded).

use evlatch::HeapStampQueue;

use super::CapacityError;
use crate::sync::{AtomicUsize, Ordering};

pub use evlatch::Priority;

/// With a waiting `Low` value, after this many `High` values in a row the
/// next receive serves `Low` (with `C` concurrent receivers, at most
/// `LOW_PRIORITY_EVERY + C - 1`), as in [`evlatch::PriorityQueue`].
pub const LOW_PRIORITY_EVERY: usize = 8;

// One per channel, built once and never moved afterwards: boxing the
// larger variant would only add an indirection to every operation.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Store<T> {
    Fifo(HeapStampQueue<T>),
    Priority {
        high: HeapStampQueue<T>,
        low: HeapStampQueue<T>,
        /// `High` receives served while `Low` held a value, since the last
        /// `Low` receive. SeqCst so the bound with several receivers can be
        /// argued in real-time order.
        skipped: AtomicUsize,
    },
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
        Ok(Store::Priority {
            high: ring(capacity)?,
            low: ring(capacity)?,
            skipped: AtomicUsize::new(0),
        })
    }

    fn level(&self, priority: Priority) -> &HeapStampQueue<T> {
        match self {
            Store::Fifo(q) => q,
            Store::Priority { high, low, .. } => match priority {
                Priority::High => high,
                Priority::Low => low,
            },
        }
    }

    pub(crate) fn try_push(&self, value: T, priority: Priority) -> Result<(), T> {
        self.level(priority).try_push(value).map_err(|full| full.0)
    }

    pub(crate) fn force_push(&self, value: T, priority: Priority) -> Option<T> {
        self.level(priority).force_push(value)
    }

    pub(crate) fn try_pop(&self) -> Option<T> {
        match self {
            Store::Fifo(q) => q.try_pop(),
            Store::Priority { high, low, skipped } => {
                if skipped.load(Ordering::SeqCst) >= LOW_PRIORITY_EVERY {
                    if let Some(v) = low.try_pop() {
                        skipped.store(0, Ordering::SeqCst);
                        return Some(v);
                    }
                }
                if let Some(v) = high.try_pop() {
                    if !low.is_empty() {
                        skipped.fetch_add(1, Ordering::SeqCst);
                    }
                    return Some(v);
                }
                let v = low.try_pop();
                if v.is_some() {
                    skipped.store(0, Ordering::SeqCst);
                }
                v
            }
        }
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            Store::Fifo(q) => q.len(),
            Store::Priority { high, low, .. } => high.len() + low.len(),
        }
    }

    pub(crate) fn capacity(&self) -> usize {
        match self {
            Store::Fifo(q) => q.capacity(),
            Store::Priority { high, .. } => high.capacity(),
        }
    }

    pub(crate) fn dropped(&self) -> u64 {
        match self {
            Store::Fifo(q) => q.dropped(),
            Store::Priority { high, low, .. } => high.dropped() + low.dropped(),
        }
    }
}
