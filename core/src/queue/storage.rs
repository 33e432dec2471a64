//! Where a queue keeps its ring entries and value slots: inline arrays sized
//! by a const generic, or boxed slices sized at run time. The algorithm
//! (`raw`) is written once against [`Storage`].

use core::mem::MaybeUninit;

use super::entry::{Geometry, EMPTY_ENTRY};
use crate::sync::{AtomicUsize, UnsafeCell};

/// One value slot. Initialised exactly while its index is in the ready ring
/// or held by a producer that wrote it or a consumer about to read it.
pub(crate) type Slot<T> = UnsafeCell<MaybeUninit<T>>;

/// The memory of one queue.
///
/// # Contract
///
/// An implementation MUST return slices of exactly `geometry().ring_len()`
/// entries from `free_entries` and `ready_entries` and exactly
/// `geometry().capacity()` slots from `slots`, the same slices on every call,
/// and MUST start with `free_entries` holding every slot index (as built by
/// `Geometry::initial_entry`) and `ready_entries` all `EMPTY_ENTRY`.
/// `raw` indexes these slices without bounds checks.
pub(crate) trait Storage<T> {
    /// The queue's shape.
    fn geometry(&self) -> Geometry;
    /// Entries of the free-slot ring.
    fn free_entries(&self) -> &[AtomicUsize];
    /// Entries of the ready ring.
    fn ready_entries(&self) -> &[AtomicUsize];
    /// The value slots.
    fn slots(&self) -> &[Slot<T>];
}

/// Inline storage for `N` values (`N` a valid capacity, checked by
/// `EventQueue::new`). `[[_; 2]; N]` stands for the `2N` entries a ring needs,
/// which a const generic cannot spell.
pub(crate) struct Inline<T, const N: usize> {
    free: [[AtomicUsize; 2]; N],
    ready: [[AtomicUsize; 2]; N],
    slots: [Slot<T>; N],
}

impl<T, const N: usize> Inline<T, N> {
    #[cfg(not(evlatch_loom))]
    pub(crate) const fn new() -> Self {
        let g = Geometry::for_capacity(N);
        let mut free = [const { [const { AtomicUsize::new(EMPTY_ENTRY) }; 2] }; N];
        let mut ticket = 0;
        while ticket < g.capacity() {
            let (pos, word) = g.initial_entry(0, ticket, true);
            free[pos / 2][pos % 2] = AtomicUsize::new(word);
            ticket += 1;
        }
        Inline {
            free,
            ready: [const { [const { AtomicUsize::new(EMPTY_ENTRY) }; 2] }; N],
            slots: [const { UnsafeCell::new(MaybeUninit::uninit()) }; N],
        }
    }

    #[cfg(evlatch_loom)]
    pub(crate) fn new() -> Self {
        Self::starting_at(0)
    }

    /// Storage for rings whose first ticket is `start` (loom builds, and
    /// tests that start the counters just below their wrap).
    #[cfg(any(evlatch_loom, test))]
    pub(crate) fn starting_at(start: usize) -> Self {
        let g = Geometry::for_capacity(N);
        let word = |pos: usize, full: bool| {
            (0..g.ring_len())
                .map(|offset| g.initial_entry(start, offset, full))
                .find(|&(p, _)| p == pos)
                .map_or(EMPTY_ENTRY, |(_, w)| w)
        };
        Inline {
            free: core::array::from_fn(|i| {
                core::array::from_fn(|j| AtomicUsize::new(word(2 * i + j, true)))
            }),
            ready: core::array::from_fn(|i| {
                core::array::from_fn(|j| AtomicUsize::new(word(2 * i + j, false)))
            }),
            slots: core::array::from_fn(|_| UnsafeCell::new(MaybeUninit::uninit())),
        }
    }
}

impl<T, const N: usize> Storage<T> for Inline<T, N> {
    #[inline]
    fn geometry(&self) -> Geometry {
        Geometry::for_capacity(N)
    }

    #[inline]
    fn free_entries(&self) -> &[AtomicUsize] {
        self.free.as_flattened()
    }

    #[inline]
    fn ready_entries(&self) -> &[AtomicUsize] {
        self.ready.as_flattened()
    }

    #[inline]
    fn slots(&self) -> &[Slot<T>] {
        &self.slots
    }
}

#[cfg(feature = "alloc")]
pub(crate) use heap::Heap;

#[cfg(feature = "alloc")]
mod heap {
    use alloc::boxed::Box;
    use alloc::vec::Vec;
    use core::mem::MaybeUninit;

    use super::{Slot, Storage};
    use crate::queue::entry::{Geometry, EMPTY_ENTRY};
    use crate::queue::error::CapacityError;
    use crate::sync::{AtomicUsize, UnsafeCell};

    /// Boxed storage for a capacity chosen at run time.
    pub(crate) struct Heap<T> {
        geometry: Geometry,
        free: Box<[AtomicUsize]>,
        ready: Box<[AtomicUsize]>,
        slots: Box<[Slot<T>]>,
    }

    impl<T> Heap<T> {
        /// Allocates storage for `capacity` values; never panics (allocation
        /// failure is `OutOfMemory`).
        pub(crate) fn try_new(capacity: usize) -> Result<Self, CapacityError> {
            CapacityError::check(capacity)?;
            let g = Geometry::for_capacity(capacity);
            let mut free = entries(g.ring_len())?;
            for ticket in 0..g.capacity() {
                let (pos, word) = g.initial_entry(0, ticket, true);
                free[pos] = AtomicUsize::new(word);
            }
            let ready = entries(g.ring_len())?;
            let mut slots = Vec::new();
            slots
                .try_reserve_exact(g.capacity())
                .map_err(|_| CapacityError::OutOfMemory)?;
            slots.extend((0..g.capacity()).map(|_| UnsafeCell::new(MaybeUninit::uninit())));
            Ok(Heap {
                geometry: g,
                free: free.into_boxed_slice(),
                ready: ready.into_boxed_slice(),
                slots: slots.into_boxed_slice(),
            })
        }
    }

    fn entries(len: usize) -> Result<Vec<AtomicUsize>, CapacityError> {
        let mut v = Vec::new();
        v.try_reserve_exact(len)
            .map_err(|_| CapacityError::OutOfMemory)?;
        v.extend((0..len).map(|_| AtomicUsize::new(EMPTY_ENTRY)));
        Ok(v)
    }

    impl<T> Storage<T> for Heap<T> {
        #[inline]
        fn geometry(&self) -> Geometry {
            self.geometry
        }

        #[inline]
        fn free_entries(&self) -> &[AtomicUsize] {
            &self.free
        }

        #[inline]
        fn ready_entries(&self) -> &[AtomicUsize] {
            &self.ready
        }

        #[inline]
        fn slots(&self) -> &[Slot<T>] {
            &self.slots
        }
    }
}
