//! Where a stamp ring keeps its slots: an inline array sized by a const
//! generic ([`Inline`]), or a boxed slice sized at run time (`Heap`); and
//! the slot itself, a stamp next to a value, with its stamp encoding. The
//! algorithm (`super`) is written once against [`Storage`].
//!
//! A slot is a stamp word next to its value, so a push or a pop touches one
//! cache line of the ring (for small `T`).

use core::mem::MaybeUninit;

use crate::queue::slot::Slot;
use crate::sync::{const_unless_loom, AtomicUsize, UnsafeCell};

/// The stamp of a slot waiting for the push at position `p`: `2p`.
#[inline]
pub(crate) const fn empty_for(p: usize) -> usize {
    p.wrapping_mul(2)
}

/// The stamp of a slot holding the value of position `p`: `2p + 1`.
#[inline]
pub(crate) const fn full_for(p: usize) -> usize {
    p.wrapping_mul(2) | 1
}

/// One slot of a stamp ring.
pub struct StampSlot<T> {
    /// Which position of the ring this slot is ready for, and for what: see
    /// the state table on `StampRing`. Starts at `empty_for(p)` for the
    /// first position `p` that maps to this slot.
    pub(crate) stamp: AtomicUsize,
    /// The value; initialised exactly while the stamp says `full_for(p)`, or
    /// while the thread that claimed position `p` holds it.
    pub(crate) value: Slot<T>,
}

impl<T> StampSlot<T> {
    const_unless_loom! {
        /// A slot waiting for the push at position `first`.
        fn waiting_for(first: usize) -> Self {
            StampSlot {
                stamp: AtomicUsize::new(empty_for(first)),
                value: UnsafeCell::new(MaybeUninit::uninit()),
            }
        }
    }
}

/// The memory of one [`StampRing`](crate::queue::StampRing): [`Inline`] or
/// `Heap`. Sealed: the ring indexes this memory without bounds checks, so
/// only the crate's own storages may implement it.
///
/// # Examples
///
/// ```
/// use evlatch::queue::{stamp, StampRing};
/// fn capacity_of<S: stamp::Storage<u8>>(q: &StampRing<u8, S>) -> usize {
///     q.capacity()
/// }
/// assert_eq!(capacity_of(&evlatch::StampQueue::<u8, 4>::new()), 4);
/// ```
pub trait Storage<T>: sealed::Memory<T> {}

pub(crate) mod sealed {
    use super::StampSlot;

    /// What the ring needs from its memory.
    ///
    /// # Contract
    ///
    /// An implementation MUST return from `slots` the same slice on every
    /// call, whose length (the capacity) is a power of two in
    /// `1..=MAX_QUEUE_CAPACITY`, and MUST start with slot `p & (len - 1)`
    /// stamped `empty_for(p)` for each position `p` in `start..start + len`,
    /// where `start` is the position the queue's `head` and `tail` start at.
    pub trait Memory<T> {
        /// The name the queue's `Debug` output shows.
        const NAME: &'static str;
        /// The slots, `capacity` of them.
        fn slots(&self) -> &[StampSlot<T>];
    }
}

/// Inline storage for `N` values, the storage of
/// [`StampQueue`](crate::StampQueue).
///
/// # Examples
///
/// ```
/// use evlatch::queue::{stamp, StampRing};
/// let q: StampRing<u8, stamp::Inline<u8, 4>> = evlatch::StampQueue::new();
/// assert_eq!(q.capacity(), 4);
/// ```
pub struct Inline<T, const N: usize> {
    slots: [StampSlot<T>; N],
}

impl<T, const N: usize> Inline<T, N> {
    /// Slots for a ring starting at position 0.
    #[cfg(not(evlatch_loom))]
    pub(crate) const fn new() -> Self {
        let mut slots = [const { StampSlot::waiting_for(0) }; N];
        let mut i = 0;
        while i < N {
            slots[i].stamp = AtomicUsize::new(empty_for(i));
            i += 1;
        }
        Inline { slots }
    }

    #[cfg(evlatch_loom)]
    pub(crate) fn new() -> Self {
        Self::starting_at(0)
    }

    /// Slots for a ring whose first position is `start` (loom builds, and
    /// tests that start the counters just below their wrap).
    #[cfg(any(evlatch_loom, test))]
    pub(crate) fn starting_at(start: usize) -> Self {
        Inline {
            slots: core::array::from_fn(|i| StampSlot::waiting_for(first_position(start, i, N))),
        }
    }
}

impl<T, const N: usize> Storage<T> for Inline<T, N> {}

impl<T, const N: usize> sealed::Memory<T> for Inline<T, N> {
    const NAME: &'static str = "StampQueue";

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
#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
pub use heap::Heap;

#[cfg(feature = "alloc")]
mod heap {
    use alloc::boxed::Box;
    use alloc::vec::Vec;

    use super::{first_position, sealed, StampSlot, Storage};
    use crate::queue::error::CapacityError;

    /// Boxed storage for a capacity chosen at run time, the storage of
    /// `HeapStampQueue`.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch::queue::{stamp, StampRing};
    /// let q: StampRing<u8, stamp::Heap<u8>> = evlatch::HeapStampQueue::with_capacity(8).unwrap();
    /// assert_eq!(q.capacity(), 8);
    /// ```
    pub struct Heap<T> {
        slots: Box<[StampSlot<T>]>,
    }

    impl<T> Heap<T> {
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
            Ok(Heap {
                slots: slots.into_boxed_slice(),
            })
        }
    }

    impl<T> Storage<T> for Heap<T> {}

    impl<T> sealed::Memory<T> for Heap<T> {
        const NAME: &'static str = "HeapStampQueue";

        #[inline]
        fn slots(&self) -> &[StampSlot<T>] {
            &self.slots
        }
    }
}
