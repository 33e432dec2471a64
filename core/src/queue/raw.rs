//! The queue of values: SCQ's two-ring construction over any [`Storage`].
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

use core::marker::PhantomData;
use core::mem::MaybeUninit;

use super::counter::DropCounter;
use super::entry::Geometry;
use super::ring::IndexRing;
use super::stall::{self, StallPoint};
use super::storage::{Slot, Storage};
use crate::sync::spin_hint;

/// How often `force_push` looks for a slot (a free one, or the oldest full
/// one) before it gives up and returns its own value as displaced. Only
/// reached when every slot is held by another thread's push or pop in flight.
#[cfg(not(evlatch_loom))]
const FORCE_ATTEMPTS: u32 = 64;
#[cfg(evlatch_loom)]
const FORCE_ATTEMPTS: u32 = 2;

/// A bounded MPMC FIFO of `T` over storage `S`.
pub(crate) struct RawQueue<T, S: Storage<T>> {
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
unsafe impl<T: Send, S: Storage<T> + Send> Sync for RawQueue<T, S> {}

impl<T, S: Storage<T>> RawQueue<T, S> {
    /// A queue over fresh `storage` (see the `Storage` contract).
    #[cfg(not(evlatch_loom))]
    pub(crate) const fn from_storage(storage: S, g: Geometry) -> Self {
        RawQueue {
            free: IndexRing::new_full(g),
            ready: IndexRing::new_empty(),
            dropped: DropCounter::new(),
            storage,
            _owns: PhantomData,
        }
    }

    #[cfg(evlatch_loom)]
    pub(crate) fn from_storage(storage: S, g: Geometry) -> Self {
        RawQueue {
            free: IndexRing::new_full(g),
            ready: IndexRing::new_empty(),
            dropped: DropCounter::new(),
            storage,
            _owns: PhantomData,
        }
    }

    /// A queue over `storage` built by `Inline::starting_at(start)`.
    #[cfg(test)]
    pub(crate) fn starting_at(storage: S, start: usize) -> Self {
        let g = storage.geometry();
        RawQueue {
            free: IndexRing::starting_at(g, start, true),
            ready: IndexRing::starting_at(g, start, false),
            dropped: DropCounter::new(),
            storage,
            _owns: PhantomData,
        }
    }

    #[inline]
    pub(crate) fn capacity(&self) -> usize {
        self.storage.geometry().capacity()
    }

    /// Pushes `value`, or hands it back if no slot is free.
    pub(crate) fn try_push(&self, value: T) -> Result<(), T> {
        match self.take_free() {
            Some(i) => {
                self.publish(i, value);
                Ok(())
            }
            None => Err(value),
        }
    }

    /// Pushes `value`; when the queue is full, removes the oldest value to
    /// make room and returns it.
    pub(crate) fn force_push(&self, value: T) -> Option<T> {
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

    /// Pops the oldest value.
    pub(crate) fn try_pop(&self) -> Option<T> {
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

    /// Number of values, exact while no operation is in flight.
    pub(crate) fn len(&self) -> usize {
        self.ready.len(self.storage.geometry())
    }

    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.get()
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

impl<T, S: Storage<T>> Drop for RawQueue<T, S> {
    fn drop(&mut self) {
        // `&mut self`: no operation is in flight, so every index is in a ring
        // and every full slot's index is in `ready`. Each is dropped once.
        while let Some(value) = self.try_pop() {
            drop(value);
        }
    }
}

impl<T, S: Storage<T>> RawQueue<T, S> {
    /// Pops up to `max` values into `out`, oldest first; returns how many.
    pub(crate) fn pop_batch(&self, out: &mut impl Extend<T>, max: usize) -> usize {
        super::batch::pop_into(|| self.try_pop(), out, max)
    }
}
