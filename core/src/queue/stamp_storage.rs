//! Where a stamp ring keeps its slots: an inline array sized by a const
//! generic, or a boxed slice sized at run time. The algorithm (`stamp_raw`)
//! is written once against [`StampStorage`].
//!
//! A slot is a stamp word next to its value, so a push or a pop touches one
//! cache line of the ring (for small `T`).

use core::mem::MaybeUninit;

use super::stamp_raw::empty_for;
use super::storage::Slot;
use crate::sync::{AtomicUsize, UnsafeCell};

/// One slot of a stamp ring.
pub(crate) struct StampSlot<T> {
    /// Which position of the ring this slot is ready for, and for what: see
    /// the state table on `RawStampQueue`. Starts at `empty_for(p)` for the
    /// first position `p` that maps to this slot.
    pub(crate) stamp: AtomicUsize,
    /// The value; initialised exactly while the stamp says `full_for(p)`, or
    /// while the thread that claimed position `p` holds it.
    pub(crate) value: Slot<T>,
}

impl<T> StampSlot<T> {
    /// A slot waiting for the push at position `first`.
    #[cfg(not(evlatch_loom))]
    const fn waiting_for(first: usize) -> Self {
        StampSlot {
            stamp: AtomicUsize::new(empty_for(first)),
            value: UnsafeCell::new(MaybeUninit::uninit()),
        }
    }

    #[cfg(evlatch_loom)]
    fn waiting_for(first: usize) -> Self {
        StampSlot {
            stamp: AtomicUsize::new(empty_for(first)),
            value: UnsafeCell::new(MaybeUninit::uninit()),
        }
    }
}

/// The memory of one stamp ring.
///
/// # Contract
///
/// An implementation MUST return from `slots` the same slice on every call,
/// whose length (the capacity) is a power of two in
/// `1..=MAX_QUEUE_CAPACITY`, and MUST start with slot `p & (len - 1)`
/// stamped `empty_for(p)` for each position `p` in `start..start + len`,
/// where `start` is the position the queue's `head` and `tail` start at.
/// `stamp_raw` indexes the slice without bounds checks.
pub(crate) trait StampStorage<T> {
    /// The slots, `capacity` of them.
    fn slots(&self) -> &[StampSlot<T>];
}

/// Inline storage for `N` values (`N` a valid capacity, checked by
/// `StampQueue::new`).
pub(crate) struct InlineStamps<T, const N: usize> {
    slots: [StampSlot<T>; N],
}

impl<T, const N: usize> InlineStamps<T, N> {
    /// Slots for a ring starting at position 0.
    #[cfg(not(evlatch_loom))]
    pub(crate) const fn new() -> Self {
        let mut slots = [const { StampSlot::waiting_for(0) }; N];
        let mut i = 0;
        while i < N {
            slots[i].stamp = AtomicUsize::new(empty_for(i));
            i += 1;
        }
        InlineStamps { slots }
    }

    #[cfg(evlatch_loom)]
    pub(crate) fn new() -> Self {
        Self::starting_at(0)
    }

    /// Slots for a ring whose first position is `start` (loom builds, and
    /// tests that start the counters just below their wrap).
    #[cfg(any(evlatch_loom, test))]
    pub(crate) fn starting_at(start: usize) -> Self {
        InlineStamps {
            slots: core::array::from_fn(|i| StampSlot::waiting_for(first_position(start, i, N))),
        }
    }
}

impl<T, const N: usize> StampStorage<T> for InlineStamps<T, N> {
    #[inline]
    fn slots(&self) -> &[StampSlot<T>] {
        &self.slots
    }
}

/// The first position `>= start` that maps to slot `index` of a ring of
/// `capacity` (a power of two) slots.
#[cfg(any(evlatch_loom, test, feature = "alloc"))]
fn first_position(start: usize, index: usize, capacity: usize) -> usize {
    let mask = capacity - 1;
    start.wrapping_add(index.wrapping_sub(start) & mask)
}

#[cfg(feature = "alloc")]
pub(crate) use heap::HeapStamps;

#[cfg(feature = "alloc")]
mod heap {
    use alloc::boxed::Box;
    use alloc::vec::Vec;

    use super::{first_position, StampSlot, StampStorage};
    use crate::queue::error::CapacityError;

    /// Boxed storage for a capacity chosen at run time.
    pub(crate) struct HeapStamps<T> {
        slots: Box<[StampSlot<T>]>,
    }

    impl<T> HeapStamps<T> {
        /// Allocates slots for `capacity` values, for a ring starting at
        /// position `start`; never panics (allocation failure is
        /// `OutOfMemory`).
        pub(crate) fn try_new(capacity: usize, start: usize) -> Result<Self, CapacityError> {
            CapacityError::check(capacity)?;
            let mut slots = Vec::new();
            slots
                .try_reserve_exact(capacity)
                .map_err(|_| CapacityError::OutOfMemory)?;
            slots.extend(
                (0..capacity).map(|i| StampSlot::waiting_for(first_position(start, i, capacity))),
            );
            Ok(HeapStamps {
                slots: slots.into_boxed_slice(),
            })
        }
    }

    impl<T> StampStorage<T> for HeapStamps<T> {
        #[inline]
        fn slots(&self) -> &[StampSlot<T>] {
            &self.slots
        }
    }
}
