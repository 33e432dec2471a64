//! The stamp ring: [`StampRing`], a Vyukov-style bounded MPMC FIFO over any
//! [`Storage`] — the type behind [`StampQueue`] (inline)
//! and `HeapStampQueue` (boxed). One CAS on `tail`
//! (push) or `head` (pop) claims a position; a stamp on the slot says whether
//! that position may be claimed yet. Two read-modify-writes per item, against
//! SCQ's eight; the price is the progress guarantee.
//!
//! Modules: `storage` (the slot, its stamp encoding, inline or boxed
//! memory); this file holds the algorithm.

mod storage;
#[cfg(test)]
mod tests;

use core::fmt;
use core::marker::PhantomData;
use core::mem::MaybeUninit;

use crossbeam_utils::CachePadded;

#[cfg(feature = "alloc")]
#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
pub use self::storage::Heap;
use self::storage::{empty_for, full_for, StampSlot};
pub use self::storage::{Inline, Storage};
use super::batch;
use super::capacity::capacity_is_valid;
use super::counter::DropCounter;
#[cfg(feature = "alloc")]
use super::error::CapacityError;
use super::error::{Full, PushIfError};
use super::stall::{self, StallPoint};
use crate::sync::{
    const_unless_loom, fence, spin_hint, AtomicUsize,
    Ordering::{Acquire, Relaxed, Release, SeqCst},
};

/// How many times `force_push` waits for a neighbour's operation in flight on
/// the slot it needs before it gives up and returns its own value as
/// displaced.
#[cfg(not(evlatch_loom))]
const FORCE_ATTEMPTS: u32 = 64;
#[cfg(evlatch_loom)]
const FORCE_ATTEMPTS: u32 = 2;

/// A bounded multi-producer multi-consumer FIFO of `T` with room for `N`
/// values, no allocation, and a `const fn new` — a Vyukov-style stamp ring
/// ([`StampRing`] over [`Inline`] storage):
/// faster than [`EventQueue`](crate::EventQueue) in the common case, but
/// **not lock-free in the strict sense**.
///
/// Same API as `EventQueue`; pick by the guarantee you need:
///
/// | | [`EventQueue`](crate::EventQueue) (SCQ) | `StampQueue` (stamp ring) |
/// |---|---|---|
/// | a thread stalled mid-push or mid-pop | never stops the others | stops the others once the ring wraps to its slot |
/// | read-modify-writes per item | 8 | 2 |
/// | `try_push` says `Full` / `try_pop` says `None` | the queue was full / empty at some instant of the call | the same (it waits out a neighbour's push or pop in flight) |
///
/// `N` must be a power of two between 1 and
/// [`MAX_QUEUE_CAPACITY`](crate::MAX_QUEUE_CAPACITY), as for `EventQueue`
/// (so the two are interchangeable); anything else fails to compile. A stamp
/// ring could take any `N`, at the cost of a division (or lap/index stamps)
/// per operation; powers of two keep positions as plain counters that wrap
/// consistently and slots as `position & (N - 1)`. Memory: `N` slots of `T`
/// plus one word each, and two cache lines of counters.
///
/// # Guarantees
///
/// - **Not lock-free.** A push claims a position with one CAS on `tail`, then
///   writes the value and stamps the slot; a pop claims with one CAS on
///   `head`, then reads and stamps. A thread stalled between its claim and
///   its stamp (preempted, suspended, killed) holds that slot at the
///   earlier step, and nobody gets past it: every `try_pop` waits while
///   values pushed after the stalled push are in the queue, and once the
///   ring wraps to a stalled pop's slot every `try_push` waits, however few
///   values the queue holds — until the stalled thread resumes. The tests
///   stop a thread at each point and show both. Use
///   [`EventQueue`](crate::EventQueue) where a thread can be stopped
///   mid-operation for long (signal handlers, interrupt handlers that share
///   the queue with the code they interrupt — they would wait forever —,
///   priority inversion, threads that may die).
/// - **Linearizable**: `try_push` returns [`Full`] only if the
///   queue was full at some instant of the call, `try_pop` returns `None`
///   only if it was empty. Where the slot an operation needs is in a
///   neighbour's hands (its push or pop claimed but not finished) and the
///   answer would otherwise be wrong, the call waits for that neighbour
///   (spinning with a doubling backoff, as crossbeam's `ArrayQueue` does;
///   `no_std` has no yield), for as long as it takes. `force_push` waits a
///   bounded number of rounds, then returns its own value as displaced.
/// - **FIFO**: values come out in the order their pushes claimed positions.
/// - What `Full` and `None` mean exactly is on [`try_push`](Self::try_push)
///   and [`try_pop`](Self::try_pop).
/// - Positions are `usize` counters: a thread stalled between reading a
///   counter and its CAS while exactly `2^(usize::BITS - 1)` other operations
///   complete could be confused (ABA), as in every stamp ring; on 64-bit
///   targets that cannot happen in practice.
///
/// `Send` and `Sync` exactly when `T: Send`. Dropping the queue drops the
/// values left in it, once each. `Debug` does not need `T: Debug`.
///
/// # Examples
///
/// ```
/// use evlatch::StampQueue;
///
/// static EVENTS: StampQueue<u32, 4> = StampQueue::new();
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
/// let q = evlatch::StampQueue::<u8, 3>::new();
/// ```
///
/// The queue is not `Sync` for a `T` that is not `Send`:
///
/// ```compile_fail
/// fn shared<T: Sync>(_: &T) {}
/// shared(&evlatch::StampQueue::<std::rc::Rc<u8>, 2>::new());
/// ```
pub type StampQueue<T, const N: usize> = StampRing<T, Inline<T, N>>;

/// [`StampQueue`] with a capacity chosen at run time: the
/// same algorithm, code and guarantees ([`StampRing`] over `Heap` storage) — **not lock-free in the strict
/// sense** (a thread stalled mid-operation stops the others once the ring
/// wraps to its slot; see `StampQueue`), linearizable (no spurious `Full` or
/// `None`) — over boxed storage. For the strict
/// guarantee use `HeapEventQueue`.
///
/// # Examples
///
/// ```
/// use evlatch::HeapStampQueue;
/// use std::sync::Arc;
///
/// let q = Arc::new(HeapStampQueue::with_capacity(64).unwrap());
/// let producer = {
///     let q = Arc::clone(&q);
///     std::thread::spawn(move || q.try_push("ready").unwrap())
/// };
/// producer.join().unwrap();
/// assert_eq!(q.try_pop(), Some("ready"));
/// ```
#[cfg(feature = "alloc")]
#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
pub type HeapStampQueue<T> = StampRing<T, Heap<T>>;

/// A bounded MPMC FIFO of `T` over storage `S`, the stamp ring: one type, two
/// storages. Use it through its aliases: [`StampQueue<T, N>`](crate::StampQueue)
/// (inline, `const fn new`) and `HeapStampQueue<T>`
/// (capacity chosen at run time, feature `alloc`); their docs state the
/// guarantees (linearizable, not lock-free), which hold for both storages.
///
/// # Examples
///
/// ```
/// use evlatch::queue::{stamp, StampRing};
/// let q: StampRing<u8, stamp::Inline<u8, 4>> = evlatch::StampQueue::new();
/// q.try_push(1).unwrap();
/// assert_eq!(q.try_pop(), Some(1));
/// ```
///
///
/// # Protocol, in positions and stamps
///
/// `head` and `tail` are positions (counters modulo `2^W`); position `p`
/// lives in slot `p & (capacity - 1)`. Writing the stamp as
/// `{p, empty}` (`2p`) or `{p, full}` (`2p + 1`):
///
/// | stamp of the slot  | meaning                                  | moved out of it by |
/// |--------------------|------------------------------------------|--------------------|
/// | `{p, empty}`       | free; waiting for the push at `p`         | the thread that CASes `tail` `p → p + 1` |
/// | `{p, full}`        | holds the value pushed at `p`             | the thread that CASes `head` `p → p + 1` |
///
/// - push at `tail = t`: slot stamp `{t, empty}` → CAS `tail` `t → t + 1`,
///   write the value, store `{t, full}`.
/// - pop at `head = h`: slot stamp `{h, full}` → CAS `head` `h → h + 1`,
///   read the value, store `{h + capacity, empty}`.
/// - force_push at `tail = t` when the slot is `{t - capacity, full}`: CAS
///   `head` `t - capacity → t - capacity + 1` (it now owns the oldest value,
///   whose slot is the one position `t` needs), then `tail` `t → t + 1`, swap
///   the value, store `{t, full}`.
///
/// Only the thread that won the CAS of position `p` writes the slot's stamp
/// and value until it stores the next stamp, so stamps only move forward.
/// A thread that finds the stamp behind what it wants looks at the other
/// counter (after a `SeqCst` fence, so both describe one instant): a push
/// reports `Full` only if `tail - head == capacity`, a pop reports empty only
/// if `tail == head`. Otherwise a neighbour's operation is in flight on that
/// slot and the thread waits for it (`Backoff`) and retries. So the ring is
/// linearizable: `None` from a pop means the queue was empty at some instant
/// of the call, `Full` from a push that it was full. (`force_push` waits a
/// bounded number of rounds, then gives its own value back as displaced.)
/// The stamp encoding needs one bit, so stamps name positions modulo
/// `2^(W-1)`; a capacity `<= MAX_QUEUE_CAPACITY` keeps every comparison far
/// inside that range.
///
/// # Progress: not lock-free
///
/// A thread stopped after its CAS and before its stamp store keeps its slot
/// at the earlier step: every pop at that position waits for it (although
/// later values are published), and once `tail` wraps around to it every
/// push waits for it (although the queue may hold nothing else). Nobody gets
/// past that slot until the thread resumes. A thread that can preempt
/// another user of the same ring and then not yield to it (an interrupt
/// handler on one core) must not use this ring: it would wait forever.
///
/// # Happens-before
///
/// The stamp store (`Release`) after writing or reading a value pairs with
/// the next owner's stamp load (`Acquire`), so a pusher's write happens
/// before the popper's read and a popper's read before the next lap's write.
/// The CASes on `head` and `tail` decide who owns a position, and they are
/// also what a thread about to answer `Full` or `None` reads the other
/// counter through: each is `SeqCst` (release: a claim of position `p` is
/// made after the stamp load that allowed it, so whoever reads the counter
/// past `p` (acquire, on every load and failed CAS) also sees the writes
/// that stamp published — in particular the other counter's move that came
/// before it), and the `SeqCst` fence before reading the other counter puts
/// that read after every claim already ordered before it. Without these, a
/// thread could read `head` past a value whose push it does not yet see in
/// `tail` and answer empty while that value's push completed (the loom model
/// `own_push_then_pop_is_never_empty_capacity_2` finds exactly that with
/// `Relaxed` counters). On x86 all of them cost what `Relaxed` costs.
pub struct StampRing<T, S: Storage<T>> {
    /// Next position to pop. Moves `h → h + 1` only by a CAS of a thread that
    /// saw its slot stamped `{h, full}`; never passes `tail`.
    head: CachePadded<AtomicUsize>,
    /// Next position to push. Moves `t → t + 1` only by a CAS of a thread that
    /// saw its slot stamped `{t, empty}`, or by the `force_push` that owns
    /// the oldest value (`head = t - capacity`); `tail - head <= capacity`.
    tail: CachePadded<AtomicUsize>,
    /// Values displaced by `force_push`.
    dropped: DropCounter,
    storage: S,
    _owns: PhantomData<T>,
}

// SAFETY: the queue moves `T`s between threads (so `T: Send`) and never hands
// out a `&T`, so `T: Sync` is not needed. Each slot's value is accessed only by
// the thread that won the CAS of its position, until its stamp store.
unsafe impl<T: Send, S: Storage<T> + Send> Sync for StampRing<T, S> {}

impl<T, const N: usize> StampRing<T, Inline<T, N>> {
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
        /// static Q: evlatch::StampQueue<&str, 8> = evlatch::StampQueue::new();
        /// assert!(Q.is_empty());
        /// assert_eq!(Q.capacity(), 8);
        /// ```
        #[must_use = "a queue does nothing until values are pushed into it"]
        pub fn new() -> Self {
            const {
                assert!(
                    capacity_is_valid(N),
                    "StampQueue<T, N>: N must be a power of two in 1..=MAX_QUEUE_CAPACITY"
                )
            };
            Self::from_storage(Inline::new())
        }
    }
}

#[cfg(feature = "alloc")]
#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
impl<T> StampRing<T, Heap<T>> {
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
    /// use evlatch::{CapacityError, HeapStampQueue};
    /// assert_eq!(HeapStampQueue::<u8>::with_capacity(16).unwrap().capacity(), 16);
    /// assert_eq!(HeapStampQueue::<u8>::with_capacity(12).unwrap_err(), CapacityError::NotPowerOfTwo);
    /// ```
    pub fn with_capacity(capacity: usize) -> Result<Self, CapacityError> {
        let storage = Heap::try_new(capacity, 0)?;
        Ok(Self::from_storage(storage))
    }
}

impl<T, S: Storage<T>> StampRing<T, S> {
    /// Pushes `value` at the back, or hands it back in [`Full`].
    ///
    /// `Full` means the queue was full (held `capacity` values, counting
    /// pushes in flight) at some instant during the call. Where the slot
    /// this push needs is still in a neighbour's hands (its pop in
    /// flight) while the queue is not full, the call waits for that pop
    /// to finish instead of reporting `Full` (crossbeam's `ArrayQueue`
    /// does the same); so `Full` never comes back right after this
    /// thread's own pop, and never while other threads' pops have made
    /// room.
    ///
    /// Not lock-free: a neighbour stalled in the middle of its pop of
    /// that slot makes this call wait until it resumes (see the type
    /// docs).
    ///
    /// # Examples
    ///
    /// ```
    /// let q = evlatch::StampQueue::<u32, 2>::new();
    /// q.try_push(1).unwrap();
    /// q.try_push(2).unwrap();
    /// assert_eq!(q.try_push(3).unwrap_err().0, 3);
    /// ```
    #[inline]
    pub fn try_push(&self, value: T) -> Result<(), Full<T>> {
        self.push_or_hand_back(value).map_err(Full)
    }

    /// [`try_push`](Self::try_push), asking `allow` once the slot for
    /// `value` is seen free and before it is claimed (again after a lost
    /// race for it); if `allow` says no, `value` comes back as
    /// [`PushIfError::Refused`].
    ///
    /// This is how a push is made atomic with a *close* its owner keeps
    /// elsewhere. Say `allow` reads a flag with an `Acquire` (or stronger)
    /// load, and a closer sets the flag (`Release` or stronger) and then
    /// pops: every slot its pops free is seen free only by a push whose
    /// `allow` then sees the flag set. So a push that lands took room that
    /// existed before the close; the room the closer's pops free is never
    /// taken by a push that checked before the close (a channel's last
    /// receiver dropping the queued values while a blocked sender races
    /// it: the sender gets its value back instead of landing it in the
    /// freed room).
    ///
    /// # Examples
    ///
    /// ```
    /// use core::sync::atomic::{AtomicBool, Ordering};
    /// use evlatch::queue::PushIfError;
    ///
    /// let closed = AtomicBool::new(false);
    /// let q = evlatch::StampQueue::<u32, 2>::new();
    /// let open = || !closed.load(Ordering::Acquire);
    /// assert_eq!(q.try_push_if(1, open), Ok(()));
    /// closed.store(true, Ordering::Release);
    /// assert_eq!(q.try_push_if(2, open), Err(PushIfError::Refused(2)));
    /// q.try_push(3).unwrap();
    /// assert_eq!(q.try_push_if(4, open), Err(PushIfError::Full(4)));
    /// ```
    #[inline]
    pub fn try_push_if(
        &self,
        value: T,
        mut allow: impl FnMut() -> bool,
    ) -> Result<(), PushIfError<T>> {
        let mut backoff = Backoff::new();
        loop {
            match self.poll_push_if(&mut allow) {
                PushPoll::Claimed(p) => {
                    // SAFETY: `poll_push_if` gave this thread position `p`.
                    unsafe { self.commit_push(p, value) };
                    return Ok(());
                }
                PushPoll::Full { .. } => return Err(PushIfError::Full(value)),
                PushPoll::Refused => return Err(PushIfError::Refused(value)),
                PushPoll::InFlight => backoff.wait(),
            }
        }
    }

    /// Pushes `value` at the back; if the queue is full, removes the
    /// oldest value to make room and returns it (a circular buffer that
    /// drops its oldest events). Every value returned is counted in
    /// [`dropped`](Self::dropped).
    ///
    /// The swap is one step: a value is displaced only when the queue
    /// holds `capacity` values (the oldest one's slot is the one the new
    /// value needs), and exactly one value leaves for the one that
    /// enters. If the slot next in ring order stays in another thread's
    /// hands (its pop or push in flight) for a bounded number of waits,
    /// `value` itself is returned as the displaced value (and counted)
    /// rather than waiting longer.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = evlatch::StampQueue::<u32, 2>::new();
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

    /// Pops the value at the front, or `None`.
    ///
    /// `None` means the queue was empty at some instant during the call.
    /// Where the push at the front is still in flight on a neighbour
    /// while values have been claimed behind it, the call waits for that
    /// push to finish instead of reporting empty (crossbeam's
    /// `ArrayQueue` does the same); so a value whose `try_push` returned
    /// before this call began is always seen.
    ///
    /// Not lock-free: a neighbour stalled in the middle of that push
    /// makes this call wait until it resumes (see the type docs).
    ///
    /// # Examples
    ///
    /// ```
    /// let q = evlatch::StampQueue::<u32, 2>::new();
    /// assert_eq!(q.try_pop(), None);
    /// q.try_push(7).unwrap();
    /// assert_eq!(q.try_pop(), Some(7));
    /// ```
    #[inline]
    pub fn try_pop(&self) -> Option<T> {
        self.pop_raw()
    }

    /// A hint for a caller that retries anyway (a backoff loop): `false`
    /// while the slot at the head holds no published value, so that a
    /// [`try_pop`](Self::try_pop) now would wait or report empty. It reads
    /// the head counter and that slot's stamp only — not the producers'
    /// counter, and no fence — so it is not linearizable: `false` may be
    /// stale, and `true` promises nothing (another consumer may take the
    /// value first). Decide with `try_pop`.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = evlatch::StampQueue::<u32, 2>::new();
    /// assert!(!q.pop_may_succeed());
    /// q.try_push(1).unwrap();
    /// assert!(q.pop_may_succeed());
    /// ```
    #[inline]
    pub fn pop_may_succeed(&self) -> bool {
        // Relaxed: a hint; `try_pop` does the ordered reads.
        let head = self.head.load(Relaxed);
        lag(self.slot(head).stamp.load(Relaxed), full_for(head)) >= 0
    }

    /// The push-side hint, like [`pop_may_succeed`](Self::pop_may_succeed):
    /// `false` while the slot at the tail still holds a value of the
    /// previous lap (the queue looks full), so that a
    /// [`try_push`](Self::try_push) now would wait or report `Full`.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = evlatch::StampQueue::<u32, 1>::new();
    /// assert!(q.push_may_succeed());
    /// q.try_push(1).unwrap();
    /// assert!(!q.push_may_succeed());
    /// ```
    #[inline]
    pub fn push_may_succeed(&self) -> bool {
        // Relaxed: a hint; `try_push` does the ordered reads.
        let tail = self.tail.load(Relaxed);
        lag(self.slot(tail).stamp.load(Relaxed), empty_for(tail)) >= 0
    }

    /// Pops up to `max` values, oldest first, into `out`; returns how
    /// many. Values are popped one by one as `out` takes them (an
    /// `Extend` that stops early leaves the rest queued); the batch is
    /// not atomic with respect to other consumers.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = evlatch::StampQueue::<u32, 2>::new();
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

    /// Number of values in the queue, counting pushes in flight and not
    /// pops in flight. Exact when no push or pop is in flight; while
    /// they run, an estimate in `0..=capacity`.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = evlatch::StampQueue::<u32, 2>::new();
    /// q.try_push(1).unwrap();
    /// assert_eq!(q.len(), 1);
    /// ```
    #[inline]
    pub fn len(&self) -> usize {
        // `head` first: it never passes the `tail` read after it, except
        // through wrapping of a stale pair, which the clamp absorbs.
        let head = self.head.load(Relaxed);
        let tail = self.tail.load(Relaxed);
        let n = lag(tail, head).max(0) as usize;
        n.min(self.capacity())
    }

    /// Whether [`len`](Self::len) is 0 (same caveat).
    ///
    /// # Examples
    ///
    /// ```
    /// let q = evlatch::StampQueue::<u32, 2>::new();
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
    /// let q = evlatch::StampQueue::<u32, 2>::new();
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
    /// let q = evlatch::StampQueue::<u32, 2>::new();
    /// assert_eq!(q.capacity(), 2);
    /// ```
    #[inline]
    pub fn capacity(&self) -> usize {
        self.storage.slots().len()
    }

    /// How many values [`force_push`](Self::force_push) has displaced
    /// (returned) so far. A `u64` on every target (two 32-bit atomics
    /// where the target has no 64-bit ones, as for `EventQueue`).
    ///
    /// # Examples
    ///
    /// ```
    /// let q = evlatch::StampQueue::<u32, 2>::new();
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
        /// A queue over fresh `storage` starting at position 0 (see the
        /// `Storage` contract).
        fn from_storage(storage: S) -> Self {
            StampRing {
                head: CachePadded::new(AtomicUsize::new(0)),
                tail: CachePadded::new(AtomicUsize::new(0)),
                dropped: DropCounter::new(),
                storage,
                _owns: PhantomData,
            }
        }
    }

    /// A queue over `storage` built for first position `start`.
    #[cfg(test)]
    pub(crate) fn starting_at(storage: S, start: usize) -> Self {
        StampRing {
            head: CachePadded::new(AtomicUsize::new(start)),
            tail: CachePadded::new(AtomicUsize::new(start)),
            dropped: DropCounter::new(),
            storage,
            _owns: PhantomData,
        }
    }

    /// `try_push` without the error wrapper: waits out a neighbour's
    /// operation in flight on the slot it needs (see `Backoff`), so `Err`
    /// means the queue was full at some instant of the call.
    #[inline]
    fn push_or_hand_back(&self, value: T) -> Result<(), T> {
        match self.claim_push() {
            Some(p) => {
                // SAFETY: `claim_push` gave this thread position `p`.
                unsafe { self.commit_push(p, value) };
                Ok(())
            }
            None => Err(value),
        }
    }

    /// `try_pop`: the oldest value, or `None` if the queue is empty. Waits out a
    /// neighbour's push in flight at the head, so `None` means the queue was
    /// empty at some instant of the call.
    #[inline]
    fn pop_raw(&self) -> Option<T> {
        let p = self.claim_pop()?;
        // SAFETY: `claim_pop` gave this thread position `p`.
        Some(unsafe { self.commit_pop(p) })
    }

    /// `force_push`: pushes `value`; when the queue is full, swaps it for the
    /// oldest value and returns that. Shares `poll_push` with `try_push`; where the slot
    /// stays in a neighbour's hands for [`FORCE_ATTEMPTS`] waits, it returns
    /// `value` itself as displaced (counted) rather than waiting longer.
    fn force_push_raw(&self, value: T) -> Option<T> {
        let mut backoff = Backoff::new();
        for _ in 0..FORCE_ATTEMPTS {
            match self.poll_push() {
                PushPoll::Claimed(p) => {
                    // SAFETY: `poll_push` gave this thread position `p`.
                    unsafe { self.commit_push(p, value) };
                    return None;
                }
                PushPoll::Full { tail, stamp } => {
                    let oldest = tail.wrapping_sub(self.capacity());
                    // Take the oldest value, if it is published and no pop
                    // has claimed it since `poll_push` looked.
                    if stamp == full_for(oldest)
                        && self
                            .head
                            .compare_exchange(oldest, oldest.wrapping_add(1), SeqCst, Relaxed)
                            .is_ok()
                    {
                        stall::point(StallPoint::PopHoldsSlot);
                        // SAFETY: this thread won `head` at `oldest`, whose
                        // slot is stamped `{oldest, full}`, the slot of `tail`.
                        return Some(unsafe { self.swap_oldest(tail, value) });
                    }
                }
                PushPoll::InFlight | PushPoll::Refused => {}
            }
            backoff.wait();
        }
        self.dropped.increment();
        Some(value)
    }

    /// Claims the position at the tail, waiting out a neighbour's operation
    /// in flight on its slot; `None` if the queue is full.
    #[inline]
    pub(crate) fn claim_push(&self) -> Option<usize> {
        let mut backoff = Backoff::new();
        loop {
            match self.poll_push() {
                PushPoll::Claimed(p) => return Some(p),
                PushPoll::Full { .. } | PushPoll::Refused => return None,
                PushPoll::InFlight => backoff.wait(),
            }
        }
    }

    /// One attempt to claim the position at the tail, without waiting for
    /// anyone: retries only a lost CAS or a stale `tail`.
    #[inline]
    pub(crate) fn poll_push(&self) -> PushPoll {
        self.poll_push_if(&mut || true)
    }

    /// `poll_push`, asking `allow` between seeing the slot of `tail` free
    /// and claiming it (`PushPoll::Refused` when it says no).
    pub(crate) fn poll_push_if(&self, allow: &mut impl FnMut() -> bool) -> PushPoll {
        let mut tail = self.tail.load(Acquire);
        loop {
            let stamp = self.slot(tail).stamp.load(Acquire);
            let behind = lag(stamp, empty_for(tail));
            if behind == 0 {
                // After the Acquire stamp load: a pop that freed this slot
                // happened before `allow` runs (see `try_push_if`).
                if !allow() {
                    return PushPoll::Refused;
                }
                match self
                    .tail
                    .compare_exchange(tail, tail.wrapping_add(1), SeqCst, Acquire)
                {
                    Ok(_) => {
                        stall::point(StallPoint::PushHoldsSlot);
                        return PushPoll::Claimed(tail);
                    }
                    Err(now) => tail = now,
                }
            } else if behind < 0 {
                // The slot still serves position `tail - capacity`: its value
                // is there, or its pop (or push) is in flight. Full only if
                // nobody has claimed that position's pop yet.
                // SeqCst fence: orders this `head` load after the `tail` and
                // stamp loads above in the single total order, so `head` and
                // `tail` describe one instant (crossbeam's ArrayQueue).
                fence(SeqCst);
                let head = self.head.load(Acquire);
                if head.wrapping_add(self.capacity()) == tail {
                    return PushPoll::Full { tail, stamp };
                }
                return PushPoll::InFlight;
            } else {
                tail = self.tail.load(Acquire);
            }
        }
    }

    /// Writes `value` into position `p` and publishes it.
    ///
    /// # Safety
    ///
    /// This thread claimed `p` (`claim_push`) and has not committed it yet.
    #[inline]
    pub(crate) unsafe fn commit_push(&self, p: usize, value: T) {
        let slot = self.slot(p);
        debug_assert_eq!(slot.stamp.load(Relaxed), empty_for(p));
        // SAFETY: position `p` is ours and its slot holds no value.
        slot.value
            .with_mut(|cell| unsafe { cell.write(MaybeUninit::new(value)) });
        // Release: the value is written before the popper at `p` sees it.
        slot.stamp.store(full_for(p), Release);
    }

    /// Claims the position at the head, waiting out a neighbour's push in
    /// flight there; `None` if the queue is empty.
    #[inline]
    pub(crate) fn claim_pop(&self) -> Option<usize> {
        let mut backoff = Backoff::new();
        loop {
            match self.poll_pop() {
                PopPoll::Claimed(p) => return Some(p),
                PopPoll::Empty => return None,
                PopPoll::InFlight => backoff.wait(),
            }
        }
    }

    /// One attempt to claim the position at the head, without waiting for
    /// anyone: retries only a lost CAS or a stale `head`.
    pub(crate) fn poll_pop(&self) -> PopPoll {
        let mut head = self.head.load(Acquire);
        loop {
            let stamp = self.slot(head).stamp.load(Acquire);
            let behind = lag(stamp, full_for(head));
            if behind == 0 {
                match self
                    .head
                    .compare_exchange(head, head.wrapping_add(1), SeqCst, Acquire)
                {
                    Ok(_) => {
                        stall::point(StallPoint::PopHoldsSlot);
                        return PopPoll::Claimed(head);
                    }
                    Err(now) => head = now,
                }
            } else if behind < 0 {
                // Nothing published at `head` yet. Empty only if no push has
                // claimed `head` either.
                // SeqCst fence: as in `poll_push`, `head` and `tail` at one
                // instant.
                fence(SeqCst);
                if self.tail.load(Acquire) == head {
                    return PopPoll::Empty;
                }
                return PopPoll::InFlight;
            } else {
                head = self.head.load(Acquire);
            }
        }
    }

    /// Moves the value out of position `p` and frees its slot for the push at
    /// `p + capacity`.
    ///
    /// # Safety
    ///
    /// This thread claimed `p` (`claim_pop`) and has not committed it yet.
    #[inline]
    pub(crate) unsafe fn commit_pop(&self, p: usize) -> T {
        let slot = self.slot(p);
        debug_assert_eq!(slot.stamp.load(Relaxed), full_for(p));
        // SAFETY: position `p` is ours and its slot holds the value pushed
        // at `p` (its stamp said so, with Acquire).
        let value = slot
            .value
            .with(|cell| unsafe { (*cell).assume_init_read() });
        // Release: the value is read before the pusher at `p + capacity`
        // overwrites it.
        slot.stamp
            .store(empty_for(p.wrapping_add(self.capacity())), Release);
        value
    }

    /// The second half of `force_push` on a full queue: puts `value` at
    /// position `tail` in place of the oldest value, which it returns.
    ///
    /// # Safety
    ///
    /// This thread won `head` at `tail - capacity` after seeing the slot of
    /// `tail` stamped `{tail - capacity, full}`.
    unsafe fn swap_oldest(&self, tail: usize, value: T) -> T {
        let slot = self.slot(tail);
        // Nobody else moves `tail` from here: pushes need the slot stamped
        // `{tail, empty}` and other force_pushes need the `head` we won.
        let moved = self
            .tail
            .compare_exchange(tail, tail.wrapping_add(1), SeqCst, Relaxed);
        assert!(
            moved.is_ok(),
            "stamp ring: tail moved while force_push owned its slot"
        );
        // SAFETY: the slot holds the oldest value and is ours until the
        // stamp store below.
        let old = slot.value.with_mut(|cell| unsafe {
            core::mem::replace(&mut *cell, MaybeUninit::new(value)).assume_init()
        });
        // Release: the new value is written before the popper at `tail` sees
        // it, and the old one read before any later owner of the slot.
        slot.stamp.store(full_for(tail), Release);
        self.dropped.increment();
        old
    }

    #[inline]
    fn slot(&self, p: usize) -> &StampSlot<T> {
        let slots = self.storage.slots();
        let i = p & (slots.len() - 1);
        debug_assert!(i < slots.len());
        // SAFETY: `slots.len()` is a power of two (StampStorage contract), so
        // `p & (len - 1) < len`.
        unsafe { slots.get_unchecked(i) }
    }
}

impl<T, S: Storage<T>> Drop for StampRing<T, S> {
    fn drop(&mut self) {
        // `&mut self`: no operation is in flight, so every position in
        // `head..tail` is published, and each is popped (and dropped) once.
        while let Some(value) = self.pop_raw() {
            drop(value);
        }
    }
}

impl<T, const N: usize> Default for StampRing<T, Inline<T, N>> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T, S: Storage<T>> fmt::Debug for StampRing<T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(S::NAME)
            .field("len", &self.len())
            .field("capacity", &self.capacity())
            .field("dropped", &self.dropped())
            .finish_non_exhaustive()
    }
}

/// What one attempt to claim the tail found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PushPoll {
    /// This thread now owns position `.0`.
    Claimed(usize),
    /// The queue was full (`tail - head == capacity`) at one instant; `stamp`
    /// is what the slot of `tail` held.
    Full { tail: usize, stamp: usize },
    /// The slot of `tail` is in a neighbour's hands (its pop or push in
    /// flight) while the queue is not full: wait and retry.
    InFlight,
    /// `poll_push_if`'s `allow` said no.
    Refused,
}

/// What one attempt to claim the head found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PopPoll {
    /// This thread now owns position `.0`.
    Claimed(usize),
    /// The queue was empty (`tail == head`) at one instant.
    Empty,
    /// The push at `head` is in flight on a neighbour: wait and retry.
    InFlight,
}

/// Waiting out a neighbour's operation in flight: spins `2^step` hints,
/// doubling up to `2^SPIN_LIMIT`, then yields its core on every later round
/// if the program registered a yield function
/// ([`register_yield`](crate::queue::register_yield); `evlatch-std` does),
/// else keeps spinning `2^SPIN_LIMIT` hints a round (crossbeam's `Backoff`
/// shape). The wait is not bounded: it lasts as long as the neighbour takes
/// to finish.
pub(crate) struct Backoff {
    step: u32,
}

impl Backoff {
    #[cfg(not(evlatch_loom))]
    const SPIN_LIMIT: u32 = 6;
    #[cfg(evlatch_loom)]
    const SPIN_LIMIT: u32 = 0;

    #[inline]
    pub(crate) const fn new() -> Self {
        Backoff { step: 0 }
    }

    /// One round of waiting.
    #[cold]
    // Under loom `SPIN_LIMIT` is 0, so the comparisons below are constant
    // there (loom explores the yield branch at once).
    #[cfg_attr(evlatch_loom, allow(clippy::absurd_extreme_comparisons))]
    pub(crate) fn wait(&mut self) {
        stall::point(StallPoint::WaitsForNeighbour);
        if self.step >= Self::SPIN_LIMIT && crate::queue::relax::yield_now() {
            return;
        }
        for _ in 0..1u32 << self.step {
            spin_hint();
        }
        if self.step < Self::SPIN_LIMIT {
            self.step += 1;
        }
    }
}

/// How far `stamp` is from the stamp a thread wants: 0 = the slot is ready
/// for it, `< 0` = the slot is still at an earlier step (behind), `> 0` = the
/// slot has moved past it (the thread's position is stale).
#[inline]
const fn lag(stamp: usize, wanted: usize) -> isize {
    stamp.wrapping_sub(wanted) as isize
}
