//! The stamp ring: a Vyukov-style bounded MPMC FIFO over any
//! [`StampStorage`]. One CAS on `tail` (push) or `head` (pop) claims a
//! position; a stamp on the slot says whether that position may be claimed
//! yet. Two read-modify-writes per item, against SCQ's eight; the price is
//! the progress guarantee (see [`RawStampQueue`]).

use core::marker::PhantomData;
use core::mem::MaybeUninit;

use crossbeam_utils::CachePadded;

use super::counter::DropCounter;
use super::stall::{self, StallPoint};
use super::stamp_storage::{StampSlot, StampStorage};
use crate::sync::{
    fence, spin_hint, AtomicUsize,
    Ordering::{Acquire, Relaxed, Release, SeqCst},
};

/// How many times `force_push` waits for a neighbour's operation in flight on
/// the slot it needs before it gives up and returns its own value as
/// displaced.
#[cfg(not(evlatch_loom))]
const FORCE_ATTEMPTS: u32 = 64;
#[cfg(evlatch_loom)]
const FORCE_ATTEMPTS: u32 = 2;

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
/// doubling up to `2^SPIN_LIMIT`, then stays at that (crossbeam's `Backoff`
/// shape, without its `yield_now`, which `no_std` does not have). The wait is
/// not bounded: it lasts as long as the neighbour takes to finish.
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
    pub(crate) fn wait(&mut self) {
        stall::point(StallPoint::WaitsForNeighbour);
        for _ in 0..1u32 << self.step {
            spin_hint();
        }
        if self.step < Self::SPIN_LIMIT {
            self.step += 1;
        }
    }
}

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

/// How far `stamp` is from the stamp a thread wants: 0 = the slot is ready
/// for it, `< 0` = the slot is still at an earlier step (behind), `> 0` = the
/// slot has moved past it (the thread's position is stale).
#[inline]
const fn lag(stamp: usize, wanted: usize) -> isize {
    stamp.wrapping_sub(wanted) as isize
}

/// A bounded MPMC FIFO of `T` over storage `S`.
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
/// slot and the thread waits for it ([`Backoff`]) and retries. So the ring is
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
pub(crate) struct RawStampQueue<T, S: StampStorage<T>> {
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
unsafe impl<T: Send, S: StampStorage<T> + Send> Sync for RawStampQueue<T, S> {}

impl<T, S: StampStorage<T>> RawStampQueue<T, S> {
    /// A queue over fresh `storage` starting at position 0 (see the
    /// `StampStorage` contract).
    #[cfg(not(evlatch_loom))]
    pub(crate) const fn from_storage(storage: S) -> Self {
        RawStampQueue {
            head: CachePadded::new(AtomicUsize::new(0)),
            tail: CachePadded::new(AtomicUsize::new(0)),
            dropped: DropCounter::new(),
            storage,
            _owns: PhantomData,
        }
    }

    #[cfg(evlatch_loom)]
    pub(crate) fn from_storage(storage: S) -> Self {
        Self::starting_at(storage, 0)
    }

    /// A queue over `storage` built for first position `start`.
    #[cfg(any(evlatch_loom, test))]
    pub(crate) fn starting_at(storage: S, start: usize) -> Self {
        RawStampQueue {
            head: CachePadded::new(AtomicUsize::new(start)),
            tail: CachePadded::new(AtomicUsize::new(start)),
            dropped: DropCounter::new(),
            storage,
            _owns: PhantomData,
        }
    }

    #[inline]
    pub(crate) fn capacity(&self) -> usize {
        self.storage.slots().len()
    }

    /// Pushes `value`, or hands it back if the queue is full. Waits out a
    /// neighbour's operation in flight on the slot it needs (see
    /// [`Backoff`]), so `Err` means the queue was full at some instant of the
    /// call.
    #[inline]
    pub(crate) fn try_push(&self, value: T) -> Result<(), T> {
        match self.claim_push() {
            Some(p) => {
                // SAFETY: `claim_push` gave this thread position `p`.
                unsafe { self.commit_push(p, value) };
                Ok(())
            }
            None => Err(value),
        }
    }

    /// Pops the oldest value, or `None` if the queue is empty. Waits out a
    /// neighbour's push in flight at the head, so `None` means the queue was
    /// empty at some instant of the call.
    #[inline]
    pub(crate) fn try_pop(&self) -> Option<T> {
        let p = self.claim_pop()?;
        // SAFETY: `claim_pop` gave this thread position `p`.
        Some(unsafe { self.commit_pop(p) })
    }

    /// Pushes `value`; when the queue is full, swaps it for the oldest value
    /// and returns that. Shares `poll_push` with `try_push`; where the slot
    /// stays in a neighbour's hands for [`FORCE_ATTEMPTS`] waits, it returns
    /// `value` itself as displaced (counted) rather than waiting longer.
    pub(crate) fn force_push(&self, value: T) -> Option<T> {
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
                PushPoll::InFlight => {}
            }
            backoff.wait();
        }
        self.dropped.increment();
        Some(value)
    }

    /// Number of values (published or being pushed), exact while no operation
    /// is in flight; otherwise an estimate in `0..=capacity`.
    pub(crate) fn len(&self) -> usize {
        // `head` first: it never passes the `tail` read after it, except
        // through wrapping of a stale pair, which the clamp absorbs.
        let head = self.head.load(Relaxed);
        let tail = self.tail.load(Relaxed);
        let n = lag(tail, head).max(0) as usize;
        n.min(self.capacity())
    }

    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.get()
    }

    /// Claims the position at the tail, waiting out a neighbour's operation
    /// in flight on its slot; `None` if the queue is full.
    #[inline]
    pub(crate) fn claim_push(&self) -> Option<usize> {
        let mut backoff = Backoff::new();
        loop {
            match self.poll_push() {
                PushPoll::Claimed(p) => return Some(p),
                PushPoll::Full { .. } => return None,
                PushPoll::InFlight => backoff.wait(),
            }
        }
    }

    /// One attempt to claim the position at the tail, without waiting for
    /// anyone: retries only a lost CAS or a stale `tail`.
    pub(crate) fn poll_push(&self) -> PushPoll {
        let mut tail = self.tail.load(Acquire);
        loop {
            let stamp = self.slot(tail).stamp.load(Acquire);
            let behind = lag(stamp, empty_for(tail));
            if behind == 0 {
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

impl<T, S: StampStorage<T>> Drop for RawStampQueue<T, S> {
    fn drop(&mut self) {
        // `&mut self`: no operation is in flight, so every position in
        // `head..tail` is published, and each is popped (and dropped) once.
        while let Some(value) = self.try_pop() {
            drop(value);
        }
    }
}

impl<T, S: StampStorage<T>> RawStampQueue<T, S> {
    /// Pops up to `max` values into `out`, oldest first; returns how many.
    pub(crate) fn pop_batch(&self, out: &mut impl Extend<T>, max: usize) -> usize {
        super::batch::pop_into(|| self.try_pop(), out, max)
    }
}
