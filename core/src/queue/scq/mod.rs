//! The strict ring: [`ScqRing`], Nikolaev's SCQ two-ring construction over
//! any [`Storage`] — the type behind [`EventQueue`]
//! (inline) and `HeapEventQueue` (boxed).
//!
//! Modules, bottom up: `entry` (ring geometry and the packed entry word),
//! `ring` (the SCQ index ring), `storage` (inline or boxed memory); this
//! file holds the value queue over two index rings.
//!
//! - `free`: a ring of the indices of empty slots (starts with all of them);
//! - `ready`: a ring of the indices of full slots, in FIFO order.
//!
//! Every slot index is, at any moment, in exactly one place: an entry of
//! `free`, an entry of `ready`, or one thread's hands. A push takes an index
//! out of `free`, writes the slot, and puts the index into `ready`; a pop does
//! the reverse. A thread stopped anywhere in between holds at most one index
//! (and at most one ticket of one ring), so the others lose at most one slot of
//! capacity and never wait for it.
//!
//! Happens-before: a producer's slot write is published by the `SeqCst` CAS
//! that puts its index into `ready`, which the consumer's `fetch_or` reads; the
//! consumer's slot read is ordered before the next producer's write by the same
//! pair of operations on `free`.

mod entry;
mod ring;
mod storage;
#[cfg(test)]
mod tests;

use core::fmt;
use core::marker::PhantomData;
use core::mem::MaybeUninit;

use self::entry::Geometry;
use self::ring::IndexRing;
#[cfg(feature = "alloc")]
use self::storage::sealed::Memory;
#[cfg(feature = "alloc")]
#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
pub use self::storage::Heap;
pub use self::storage::{Inline, Storage};
use super::batch;
use super::capacity::capacity_is_valid;
use super::counter::DropCounter;
#[cfg(feature = "alloc")]
use super::error::CapacityError;
use super::error::Full;
use super::slot::Slot;
use super::stall::{self, StallPoint};
use crate::sync::{const_unless_loom, spin_hint};

/// How often `force_push` looks for a slot (a free one, or the oldest full
/// one) before it gives up and returns its own value as displaced. Only
/// reached when every slot is held by another thread's push or pop in flight.
#[cfg(not(evlatch_loom))]
const FORCE_ATTEMPTS: u32 = 64;
#[cfg(evlatch_loom)]
const FORCE_ATTEMPTS: u32 = 2;

/// A bounded, lock-free, multi-producer multi-consumer FIFO of `T` with room
/// for `N` values, no allocation, and a `const fn new`: [`ScqRing`] over
/// [`Inline`] storage.
///
/// `N` must be a power of two between 1 and
/// [`MAX_QUEUE_CAPACITY`](crate::MAX_QUEUE_CAPACITY) (2^14 on 32-bit
/// targets, 2^30 on 64-bit ones); anything else fails to compile. Powers of
/// two because ring positions are ticket counters modulo `2N`, which must
/// divide `2^usize::BITS` to stay consistent when the counters wrap; the upper
/// bound keeps enough bits for the cycle number in each packed ring entry.
/// Memory: `N` slots of `T` plus `4N` words of ring entries plus six cache
/// lines of counters.
///
/// # Guarantees
///
/// - **Lock-free, strictly**: a thread stopped anywhere inside a push or pop
///   (preempted, suspended, killed) never prevents other threads from
///   completing theirs; it holds at most one slot, which the others do
///   without. The algorithm is Nikolaev's SCQ ("A Scalable, Portable, and
///   Memory-Efficient Lock-Free FIFO Queue", DISC 2019): two rings of slot
///   indices (free and ready) over `2N` packed entries each, claimed with
///   `fetch_add`, where a late thread's entry is skipped instead of waited
///   for. The tests stop a thread at each point of a push and of a pop and check
///   that others still complete 100 000 pushes and pops.
/// - **FIFO**: values come out in the order their pushes took effect.
/// - `try_push` returns [`Full`] only when every slot was held,
///   at some moment during the call, by a value or by another thread's push
///   or pop in flight.
/// - Not wait-free: a single operation can be delayed by others that keep
///   completing.
///
/// `Send` and `Sync` exactly when `T: Send`. Dropping the queue drops the
/// values left in it, once each. `Debug` does not need `T: Debug`.
///
/// # Examples
///
/// ```
/// use evlatch::EventQueue;
///
/// static EVENTS: EventQueue<u32, 4> = EventQueue::new();
///
/// std::thread::scope(|s| {
///     s.spawn(|| {
///         for i in 0..3 {
///             EVENTS.try_push(i).unwrap();
///         }
///     });
/// });
/// let mut got = Vec::new();
/// EVENTS.pop_batch(&mut got, 10);
/// assert_eq!(got, [0, 1, 2]);
/// ```
///
/// A capacity that is not a power of two does not compile:
///
/// ```compile_fail
/// let q = evlatch::EventQueue::<u8, 3>::new();
/// ```
///
/// The queue is not `Sync` for a `T` that is not `Send`:
///
/// ```compile_fail
/// fn shared<T: Sync>(_: &T) {}
/// shared(&evlatch::EventQueue::<std::rc::Rc<u8>, 2>::new());
/// ```
pub type EventQueue<T, const N: usize> = ScqRing<T, Inline<T, N>>;

/// [`EventQueue`] with a capacity chosen at run time: the
/// same algorithm, code and guarantees ([`ScqRing`] over `Heap` storage).
///
/// # Examples
///
/// ```
/// use evlatch::HeapEventQueue;
/// use std::sync::Arc;
///
/// let q = Arc::new(HeapEventQueue::with_capacity(64).unwrap());
/// let producer = {
///     let q = Arc::clone(&q);
///     std::thread::spawn(move || q.try_push("ready").unwrap())
/// };
/// producer.join().unwrap();
/// assert_eq!(q.try_pop(), Some("ready"));
/// ```
#[cfg(feature = "alloc")]
#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
pub type HeapEventQueue<T> = ScqRing<T, Heap<T>>;

/// A bounded, strictly lock-free MPMC FIFO of `T` over storage `S` (SCQ):
/// one type, two storages. Use it through its aliases:
/// [`EventQueue<T, N>`](crate::EventQueue) (inline, `const fn new`) and
/// `HeapEventQueue<T>` (capacity chosen at run
/// time, feature `alloc`); their docs state the guarantees, which hold for
/// both storages alike.
///
/// # Examples
///
/// ```
/// use evlatch::EventQueue;
/// let inline = EventQueue::<u8, 4>::new();
/// # #[cfg(feature = "alloc")] {
/// let boxed = evlatch::HeapEventQueue::<u8>::with_capacity(4).unwrap();
/// boxed.try_push(1).unwrap();
/// # }
/// inline.try_push(1).unwrap();
/// ```
pub struct ScqRing<T, S: Storage<T>> {
    /// Indices of empty slots.
    free: IndexRing,
    /// Indices of full slots, oldest first.
    ready: IndexRing,
    /// Values displaced by `force_push`.
    dropped: DropCounter,
    storage: S,
    _owns: PhantomData<T>,
}

// SAFETY: the queue moves `T`s between threads (so `T: Send`) and never hands
// out a `&T`, so `T: Sync` is not needed. Each slot is accessed by one thread
// at a time: the one holding its index.
unsafe impl<T: Send, S: Storage<T> + Send> Sync for ScqRing<T, S> {}

impl<T, const N: usize> ScqRing<T, Inline<T, N>> {
    const_unless_loom! {
        /// An empty queue.
        ///
        /// Fails to compile unless `N` is a power of two in
        /// `1..=MAX_QUEUE_CAPACITY`. Not `const` when built for loom
        /// (`--cfg evlatch_loom`).
        ///
        /// # Examples
        ///
        /// ```
        /// static Q: evlatch::EventQueue<&str, 8> = evlatch::EventQueue::new();
        /// assert!(Q.is_empty());
        /// assert_eq!(Q.capacity(), 8);
        /// ```
        #[must_use = "a queue does nothing until values are pushed into it"]
        pub fn new() -> Self {
            const {
                assert!(
                    capacity_is_valid(N),
                    "EventQueue<T, N>: N must be a power of two in 1..=MAX_QUEUE_CAPACITY"
                )
            };
            Self::from_storage(Inline::new(), Geometry::for_capacity(N))
        }
    }
}

#[cfg(feature = "alloc")]
#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
impl<T> ScqRing<T, Heap<T>> {
    /// An empty queue for `capacity` values.
    ///
    /// # Errors
    ///
    /// [`CapacityError`] if `capacity` is 0, not a power of two, above
    /// [`MAX_QUEUE_CAPACITY`](crate::MAX_QUEUE_CAPACITY), or the memory
    /// cannot be allocated. Never panics.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch::{CapacityError, HeapEventQueue};
    /// assert_eq!(HeapEventQueue::<u8>::with_capacity(16).unwrap().capacity(), 16);
    /// assert_eq!(HeapEventQueue::<u8>::with_capacity(12).unwrap_err(), CapacityError::NotPowerOfTwo);
    /// ```
    pub fn with_capacity(capacity: usize) -> Result<Self, CapacityError> {
        let storage = Heap::try_new(capacity)?;
        let g = storage.geometry();
        Ok(Self::from_storage(storage, g))
    }
}

impl<T, S: Storage<T>> ScqRing<T, S> {
    /// Pushes `value` at the back, or hands it back in [`Full`]
    /// when every slot is taken.
    ///
    /// Lock-free: completes in a bounded number of its own steps unless
    /// other pushes and pops keep completing meanwhile.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = evlatch::EventQueue::<u32, 2>::new();
    /// q.try_push(1).unwrap();
    /// q.try_push(2).unwrap();
    /// assert_eq!(q.try_push(3).unwrap_err().0, 3);
    /// ```
    #[inline]
    pub fn try_push(&self, value: T) -> Result<(), Full<T>> {
        self.push_or_hand_back(value).map_err(Full)
    }

    /// Pushes `value` at the back; if the queue is full, removes the
    /// oldest value to make room and returns it (a circular buffer that
    /// drops its oldest events). Every value returned is counted in
    /// [`dropped`](Self::dropped).
    ///
    /// In the rare case that every slot is held by another thread's
    /// push or pop in flight (at least `capacity` of them at once, e.g.
    /// threads preempted mid-operation), waiting for them would not be
    /// lock-free: after a bounded number of attempts `value` itself is
    /// returned as the displaced value (and counted).
    ///
    /// # Examples
    ///
    /// ```
    /// let q = evlatch::EventQueue::<u32, 2>::new();
    /// assert_eq!(q.force_push(1), None);
    /// assert_eq!(q.force_push(2), None);
    /// assert_eq!(q.force_push(3), Some(1));
    /// assert_eq!(q.dropped(), 1);
    /// assert_eq!(q.try_pop(), Some(2));
    /// assert_eq!(q.try_pop(), Some(3));
    /// ```
    #[inline]
    pub fn force_push(&self, value: T) -> Option<T> {
        self.force_push_raw(value)
    }

    /// Pops the value at the front, or `None` if the queue is empty.
    ///
    /// A value whose push is still in flight is not seen yet.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = evlatch::EventQueue::<u32, 2>::new();
    /// assert_eq!(q.try_pop(), None);
    /// q.try_push(7).unwrap();
    /// assert_eq!(q.try_pop(), Some(7));
    /// ```
    #[inline]
    pub fn try_pop(&self) -> Option<T> {
        self.pop_raw()
    }

    /// Pops up to `max` values, oldest first, into `out`; returns how
    /// many. Values are popped one by one as `out` takes them (an
    /// `Extend` that stops early leaves the rest queued); the batch is
    /// not atomic with respect to other consumers.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = evlatch::EventQueue::<u32, 2>::new();
    /// q.try_push(1).unwrap();
    /// q.try_push(2).unwrap();
    /// let mut out = Vec::new();
    /// assert_eq!(q.pop_batch(&mut out, 8), 2);
    /// assert_eq!(out, [1, 2]);
    /// ```
    #[inline]
    pub fn pop_batch(&self, out: &mut impl Extend<T>, max: usize) -> usize {
        batch::pop_into(|| self.try_pop(), out, max)
    }

    /// Number of values in the queue. Exact when no push or pop is in
    /// flight; while they run, an estimate in `0..=capacity`.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = evlatch::EventQueue::<u32, 2>::new();
    /// q.try_push(1).unwrap();
    /// assert_eq!(q.len(), 1);
    /// ```
    #[inline]
    pub fn len(&self) -> usize {
        self.ready.len(self.storage.geometry())
    }

    /// Whether [`len`](Self::len) is 0 (same caveat).
    ///
    /// # Examples
    ///
    /// ```
    /// let q = evlatch::EventQueue::<u32, 2>::new();
    /// assert!(q.is_empty());
    /// q.try_push(1).unwrap();
    /// assert!(!q.is_empty());
    /// ```
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether [`len`](Self::len) equals the capacity (same caveat).
    ///
    /// # Examples
    ///
    /// ```
    /// let q = evlatch::EventQueue::<u32, 2>::new();
    /// q.try_push(1).unwrap();
    /// assert!(!q.is_full());
    /// q.try_push(2).unwrap();
    /// assert!(q.is_full());
    /// ```
    #[inline]
    pub fn is_full(&self) -> bool {
        self.len() == self.capacity()
    }

    /// How many values the queue holds at most.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = evlatch::EventQueue::<u32, 2>::new();
    /// assert_eq!(q.capacity(), 2);
    /// ```
    #[inline]
    pub fn capacity(&self) -> usize {
        self.storage.geometry().capacity()
    }

    /// How many values [`force_push`](Self::force_push) has displaced
    /// (returned) so far. A `u64` on every target (see the module docs for
    /// targets without 64-bit atomics).
    ///
    /// # Examples
    ///
    /// ```
    /// let q = evlatch::EventQueue::<u32, 2>::new();
    /// for i in 0..5 {
    ///     q.force_push(i);
    /// }
    /// assert_eq!(q.dropped(), 3);
    /// ```
    #[inline]
    pub fn dropped(&self) -> u64 {
        self.dropped.get()
    }

    const_unless_loom! {
        /// A queue over fresh `storage` (see the `Storage` contract).
        fn from_storage(storage: S, g: Geometry) -> Self {
            ScqRing {
                free: IndexRing::new_full(g),
                ready: IndexRing::new_empty(),
                dropped: DropCounter::new(),
                storage,
                _owns: PhantomData,
            }
        }
    }

    /// A queue over `storage` built by `Inline::starting_at(start)`.
    #[cfg(test)]
    pub(crate) fn starting_at(storage: S, start: usize) -> Self {
        let g = storage.geometry();
        ScqRing {
            free: IndexRing::starting_at(g, start, true),
            ready: IndexRing::starting_at(g, start, false),
            dropped: DropCounter::new(),
            storage,
            _owns: PhantomData,
        }
    }

    /// `try_push` without the error wrapper.
    fn push_or_hand_back(&self, value: T) -> Result<(), T> {
        match self.take_free() {
            Some(i) => {
                self.publish(i, value);
                Ok(())
            }
            None => Err(value),
        }
    }

    /// `force_push`: a free slot, else the oldest value, at most
    /// `FORCE_ATTEMPTS` times.
    fn force_push_raw(&self, value: T) -> Option<T> {
        for _ in 0..FORCE_ATTEMPTS {
            if let Some(i) = self.take_free() {
                self.publish(i, value);
                return None;
            }
            if let Some(i) = self.take_ready() {
                // SAFETY: `i` came out of `ready`, so its slot holds a value
                // and this thread owns it until `i` goes back into a ring.
                let old = unsafe { self.replace(i, value) };
                self.put_ready(i);
                self.dropped.increment();
                return Some(old);
            }
            // Every slot is in another thread's hands right now.
            spin_hint();
        }
        self.dropped.increment();
        Some(value)
    }

    /// `try_pop`: the oldest full slot, its value out, its index back to
    /// `free`.
    fn pop_raw(&self) -> Option<T> {
        let i = self.take_ready()?;
        // SAFETY: `i` came out of `ready`, so its slot holds a value and this
        // thread owns it until it gives `i` back to `free`.
        let value = unsafe { self.read(i) };
        self.free.enqueue(
            self.storage.free_entries(),
            self.storage.geometry(),
            i,
            StallPoint::PopFreeTicket,
        );
        Some(value)
    }

    /// Takes a free slot's index.
    #[inline]
    fn take_free(&self) -> Option<usize> {
        let i = self.free.dequeue(
            self.storage.free_entries(),
            self.storage.geometry(),
            StallPoint::PushFreeTicket,
        )?;
        stall::point(StallPoint::PushHoldsSlot);
        Some(i)
    }

    /// Takes the oldest full slot's index.
    #[inline]
    fn take_ready(&self) -> Option<usize> {
        let i = self.ready.dequeue(
            self.storage.ready_entries(),
            self.storage.geometry(),
            StallPoint::PopReadyTicket,
        )?;
        stall::point(StallPoint::PopHoldsSlot);
        Some(i)
    }

    /// Writes `value` into free slot `i` (owned by this thread) and publishes it.
    #[inline]
    fn publish(&self, i: usize, value: T) {
        let slot = self.slot(i);
        // SAFETY: `i` came out of `free`, so this thread owns the slot and it
        // holds no value.
        slot.with_mut(|p| unsafe { p.write(MaybeUninit::new(value)) });
        self.put_ready(i);
    }

    #[inline]
    fn put_ready(&self, i: usize) {
        self.ready.enqueue(
            self.storage.ready_entries(),
            self.storage.geometry(),
            i,
            StallPoint::PushReadyTicket,
        );
    }

    /// Moves the value out of full slot `i`.
    ///
    /// # Safety
    ///
    /// The caller owns index `i` (took it out of `ready`) and the slot holds a
    /// value; afterwards it holds none.
    #[inline]
    unsafe fn read(&self, i: usize) -> T {
        // SAFETY: per the contract, the slot is ours and initialised.
        self.slot(i).with(|p| unsafe { (*p).assume_init_read() })
    }

    /// Swaps `value` into full slot `i`, returning the old value.
    ///
    /// # Safety
    ///
    /// As [`Self::read`]; the slot still holds a value afterwards.
    #[inline]
    unsafe fn replace(&self, i: usize, value: T) -> T {
        // SAFETY: per the contract, the slot is ours and initialised.
        self.slot(i).with_mut(|p| unsafe {
            core::mem::replace(&mut *p, MaybeUninit::new(value)).assume_init()
        })
    }

    #[inline]
    fn slot(&self, i: usize) -> &Slot<T> {
        let slots = self.storage.slots();
        debug_assert!(i < slots.len());
        // SAFETY: indices in the rings are `< capacity`, the length of
        // `slots` (Storage contract); `i` came out of a ring.
        unsafe { slots.get_unchecked(i) }
    }
}

impl<T, S: Storage<T>> Drop for ScqRing<T, S> {
    fn drop(&mut self) {
        // `&mut self`: no operation is in flight, so every index is in a ring
        // and every full slot's index is in `ready`. Each is dropped once.
        while let Some(value) = self.pop_raw() {
            drop(value);
        }
    }
}

impl<T, const N: usize> Default for ScqRing<T, Inline<T, N>> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T, S: Storage<T>> fmt::Debug for ScqRing<T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(S::NAME)
            .field("len", &self.len())
            .field("capacity", &self.capacity())
            .field("dropped", &self.dropped())
            .finish_non_exhaustive()
    }
}
