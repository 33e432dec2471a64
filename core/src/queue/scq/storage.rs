//! Where an SCQ ring keeps its ring entries and value slots: inline arrays
//! sized by a const generic ([`Inline`]), or boxed slices sized at run time
//! (`Heap`). The algorithm (`super`) is written once against [`Storage`].

use core::mem::MaybeUninit;

use super::entry::{Geometry, EMPTY_ENTRY};
use crate::queue::slot::Slot;
use crate::sync::{AtomicUsize, UnsafeCell};

/// The memory of one [`ScqRing`](crate::queue::ScqRing): [`Inline`] or
/// `Heap`. Sealed: the ring indexes this memory without bounds checks, so
/// only the crate's own storages may implement it.
///
/// # Examples
///
/// ```
/// use evlatch::queue::{scq, ScqRing};
/// fn capacity_of<S: scq::Storage<u8>>(q: &ScqRing<u8, S>) -> usize {
///     q.capacity()
/// }
/// assert_eq!(capacity_of(&evlatch::EventQueue::<u8, 4>::new()), 4);
/// ```
pub trait Storage<T>: sealed::Memory<T> {}

pub(crate) mod sealed {
    use super::{AtomicUsize, Geometry, Slot};

    /// What the ring needs from its memory.
    ///
    /// # Contract
    ///
    /// An implementation MUST return slices of exactly
    /// `geometry().ring_len()` entries from `free_entries` and
    /// `ready_entries` and exactly `geometry().capacity()` slots from
    /// `slots`, the same slices on every call, and MUST start with
    /// `free_entries` holding every slot index (as built by
    /// `Geometry::initial_entry`) and `ready_entries` all `EMPTY_ENTRY`.
    pub trait Memory<T> {
        /// The name the queue's `Debug` output shows.
        const NAME: &'static str;
        /// The queue's shape.
        fn geometry(&self) -> Geometry;
        /// Entries of the free-slot ring.
        fn free_entries(&self) -> &[AtomicUsize];
        /// Entries of the ready ring.
        fn ready_entries(&self) -> &[AtomicUsize];
        /// The value slots.
        fn slots(&self) -> &[Slot<T>];
    }
}

/// Inline storage for `N` values, the storage of
/// [`EventQueue`](crate::EventQueue). `[[_; 2]; N]` stands for the `2N`
/// entries a ring needs, which a const generic cannot spell.
///
/// # Examples
///
/// ```
/// use evlatch::queue::{scq, ScqRing};
/// let q: ScqRing<u8, scq::Inline<u8, 4>> = evlatch::EventQueue::new();
/// assert_eq!(q.capacity(), 4);
/// ```
pub struct Inline<T, const N: usize> {
    free: [[AtomicUsize; 2]; N],
    ready: [[AtomicUsize; 2]; N],
    slots: [Slot<T>; N],
}

impl<T, const N: usize> Inline<T, N> {
    /// Storage for rings whose first ticket is 0; `N` a valid capacity.
    /// (Not `const_unless_loom!`: the array-repeat `const` blocks need const
    /// constructors, which loom's atomics lack, so loom builds the same
    /// storage through `starting_at`.)
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

impl<T, const N: usize> Storage<T> for Inline<T, N> {}

impl<T, const N: usize> sealed::Memory<T> for Inline<T, N> {
    const NAME: &'static str = "EventQueue";

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
#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
pub use heap::Heap;

#[cfg(feature = "alloc")]
mod heap {
    use alloc::boxed::Box;
    use alloc::vec::Vec;
    use core::mem::MaybeUninit;

    use super::{sealed, Slot, Storage};
    use crate::queue::error::CapacityError;
    use crate::queue::scq::entry::{Geometry, EMPTY_ENTRY};
    use crate::sync::{AtomicUsize, UnsafeCell};

    /// Boxed storage for a capacity chosen at run time, the storage of
    /// `HeapEventQueue`.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch::queue::{scq, ScqRing};
    /// let q: ScqRing<u8, scq::Heap<u8>> = evlatch::HeapEventQueue::with_capacity(8).unwrap();
    /// assert_eq!(q.capacity(), 8);
    /// ```
    pub struct Heap<T> {
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

    impl<T> Storage<T> for Heap<T> {}

    impl<T> sealed::Memory<T> for Heap<T> {
        const NAME: &'static str = "HeapEventQueue";

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
