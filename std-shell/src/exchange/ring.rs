//! The point-to-point channel: a bounded single-producer single-consumer
//! ring from one worker to one worker, and the matrix of them that one
//! allocated channel id is.
//!
//! The ring's slots are allocated once, when the channel id is allocated,
//! and reused for every message after that: a steady exchange allocates
//! nothing. Positions only grow (`usize`, so they do not wrap in practice:
//! 2^64 messages); the slot of position `p` is `p & mask`, over a slot
//! count that is the capacity rounded up to a power of two, while "full"
//! means exactly `capacity` messages in flight.

use core::cell::Cell;
use core::mem::MaybeUninit;
use std::sync::Arc;

use super::bell::Bell;
use super::doorbell::{Doorbell, Spin};
use crate::sync::{fence, AtomicBool, AtomicUsize, Ordering, UnsafeCell};

/// Keeps the producer's and the consumer's hot words on their own cache
/// lines (128 bytes: adjacent-line prefetch pairs lines on x86).
#[repr(align(128))]
pub(crate) struct Padded<T>(pub(crate) T);

/// One point-to-point ring, from worker `from` to worker `to`.
///
/// Positions: `head ≤ tail ≤ head + capacity` at every instant.
/// Slots at positions `head .. tail` hold initialized messages; the others
/// are uninitialized. Only the producer (the one [`Sender`](super::Sender)
/// of this pair) writes slots at `tail` and advances `tail`; only the
/// consumer (the one [`Receiver`](super::Receiver)) reads slots at `head`
/// and advances `head`.
pub(crate) struct Ring<T> {
    /// The consumer's next position. Written (Release) by the consumer
    /// after it moved the message out: the slot is free for the producer.
    head: Padded<AtomicUsize>,
    /// The producer's next position. Written (Release) by the producer
    /// after it wrote the slot: the message is visible to the consumer.
    tail: Padded<AtomicUsize>,
    /// `false → true` once, by the producer's sender when it is dropped or
    /// `done()` (or by the registry for a worker that never claimed it).
    /// Release: every message before it is published (`tail`) first.
    tx_closed: AtomicBool,
    /// `false → true` once, by the consumer's receiver when it is dropped
    /// (or by the registry for a worker that never claimed it).
    rx_closed: AtomicBool,
    /// The producer's bell: a blocked send (blocking or async) waits on it
    /// for space, the consumer rings it after it freed a slot (or went
    /// away).
    space: Bell,
    /// The producer found the ring full (a `Full` from `try_send`) and has
    /// not sent since: `false → true` and back only by the producer. A
    /// consumer that frees a slot while it is set rings the producer
    /// worker's doorbell, so [`Worker::wait`](super::Worker::wait) reports
    /// the freed space. Next to `space`: the consumer reads both at once.
    tx_full: AtomicBool,
    capacity: usize,
    mask: usize,
    slots: Box<[UnsafeCell<MaybeUninit<T>>]>,
}

// SAFETY: a slot is accessed by the producer only while it is outside
// `head .. tail` (free) and by the consumer only while inside (full); the
// Release/Acquire pairs on `tail` and `head` hand each slot over. Messages
// move between threads, hence `T: Send`.
unsafe impl<T: Send> Sync for Ring<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Send for Ring<T> {}

impl<T> Ring<T> {
    /// A ring with room for exactly `capacity` messages (`capacity ≥ 1`).
    fn new(capacity: usize) -> Self {
        debug_assert!(capacity >= 1);
        let slots = capacity.next_power_of_two();
        Self {
            head: Padded(AtomicUsize::new(0)),
            tail: Padded(AtomicUsize::new(0)),
            tx_closed: AtomicBool::new(false),
            rx_closed: AtomicBool::new(false),
            space: Bell::new(),
            tx_full: AtomicBool::new(false),
            capacity,
            mask: slots - 1,
            slots: (0..slots)
                .map(|_| UnsafeCell::new(MaybeUninit::uninit()))
                .collect(),
        }
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    // ---- producer side (the one sender of this pair) ----

    /// The consumer's position, fresh (Acquire: the slots before it were
    /// moved out, so they may be overwritten).
    #[inline]
    pub(crate) fn load_head(&self) -> usize {
        self.head.0.load(Ordering::Acquire)
    }

    /// Writes `value` at position `tail`.
    ///
    /// # Safety
    /// Only the producer calls it, with its own `tail` (the value it last
    /// published), and `tail < head + capacity` for a `head` it loaded.
    #[inline]
    pub(crate) unsafe fn write(&self, tail: usize, value: T) {
        let slot = &self.slots[tail & self.mask];
        // SAFETY: position `tail` is outside `head .. tail` (free): the
        // consumer does not touch it until `tail + 1` is published.
        slot.with_mut(|p| unsafe { (*p).write(value) });
    }

    /// Moves the first `k` messages of `batch` into positions
    /// `tail .. tail + k` (one or two block copies, where the run wraps),
    /// and removes them from `batch`: the rest move to its front, in order,
    /// and `batch` keeps its allocation.
    ///
    /// # Safety
    /// As [`write`](Self::write), for every position of the run:
    /// `tail + k ≤ head + capacity` for a `head` the producer loaded; and
    /// `k ≤ batch.len()`.
    #[inline]
    pub(crate) unsafe fn write_batch(&self, tail: usize, batch: &mut Vec<T>, k: usize) {
        debug_assert!(k <= batch.len());
        #[cfg(not(evlatch_loom))]
        {
            let len = batch.len();
            let src = batch.as_mut_ptr();
            let base = self.slot_base();
            let start = tail & self.mask;
            let first = k.min(self.mask + 1 - start);
            // SAFETY: the run's slots are free (the caller's contract) and
            // `first` / `k - first` stay inside the slot array (`start +
            // first ≤ slots`, `k - first ≤ k ≤ capacity ≤ slots`); `src ..
            // src + len` are `batch`'s initialized elements, a separate
            // allocation. The first `k` are moved out (their bytes now live
            // in the slots), then the rest are moved down over them and the
            // length says so: every message is owned exactly once. Nothing
            // here panics.
            unsafe {
                core::ptr::copy_nonoverlapping(src, base.add(start), first);
                core::ptr::copy_nonoverlapping(src.add(first), base, k - first);
                core::ptr::copy(src.add(k), src, len - k);
                batch.set_len(len - k);
            }
        }
        // Loom checks each slot access: one at a time there.
        #[cfg(evlatch_loom)]
        for (i, value) in batch.drain(..k).enumerate() {
            // SAFETY: the caller's contract, for position `tail + i`.
            unsafe { self.write(tail + i, value) };
        }
    }

    /// The first slot, as a pointer to a `T` with the whole slot array's
    /// provenance (a cell is `repr(transparent)` outside loom, and so is
    /// `MaybeUninit`). Writing through it is allowed: the slots are
    /// `UnsafeCell`s.
    #[cfg(not(evlatch_loom))]
    #[inline]
    fn slot_base(&self) -> *mut T {
        self.slots.as_ptr().cast::<T>().cast_mut()
    }

    /// Publishes every message written below `tail` (Release: their slot
    /// writes happen before the consumer's Acquire load of `tail`).
    #[inline]
    pub(crate) fn publish_tail(&self, tail: usize) {
        self.tail.0.store(tail, Ordering::Release);
    }

    pub(crate) fn close_tx(&self) {
        // Release: the messages published before it are visible to a
        // consumer that sees the flag (see `is_drained`).
        self.tx_closed.store(true, Ordering::Release);
    }

    /// Whether the consumer is gone (nothing sent from now on is received).
    #[inline]
    pub(crate) fn is_rx_closed(&self) -> bool {
        self.rx_closed.load(Ordering::Acquire)
    }

    /// The bell a blocked producer waits on for space.
    pub(crate) fn space_bell(&self) -> &Bell {
        &self.space
    }

    /// The producer says it found the ring full (`true`) or sent again
    /// (`false`). Relaxed: the store-buffering argument uses the `SeqCst`
    /// fences of the producer worker's doorbell wait and of the consumer's
    /// `freed`; the producer only re-checks its own flag.
    pub(crate) fn set_tx_full(&self, full: bool) {
        self.tx_full.store(full, Ordering::Relaxed);
    }

    /// Whether the producer found the ring full and has not sent since.
    #[inline]
    pub(crate) fn is_tx_full(&self) -> bool {
        self.tx_full.load(Ordering::Relaxed)
    }

    /// For the producer worker's scan: whether the producer found the ring
    /// full and there is room now (or the consumer is gone).
    pub(crate) fn space_freed(&self) -> bool {
        self.is_tx_full() && self.space_or_closed(self.tail.0.load(Ordering::Relaxed))
    }

    /// For the producer's wait: whether there is room at `tail` now, or
    /// nothing sent will be received any more.
    pub(crate) fn space_or_closed(&self, tail: usize) -> bool {
        tail - self.head.0.load(Ordering::Relaxed) < self.capacity
            || self.rx_closed.load(Ordering::Relaxed)
    }

    // ---- consumer side (the one receiver of this pair) ----

    /// The producer's position, fresh (Acquire: the slots below it are
    /// written).
    #[inline]
    pub(crate) fn load_tail(&self) -> usize {
        self.tail.0.load(Ordering::Acquire)
    }

    /// Moves the message at `head` out.
    ///
    /// # Safety
    /// Only the consumer calls it, with its own `head`, and `head < tail`
    /// for a `tail` it loaded (Acquire).
    #[inline]
    pub(crate) unsafe fn read(&self, head: usize) -> T {
        let slot = &self.slots[head & self.mask];
        // SAFETY: position `head` is inside `head .. tail` (written, its
        // write published by the Acquire load of `tail`); the producer does
        // not touch it until `head + 1` is published.
        slot.with(|p| unsafe { (*p).assume_init_read() })
    }

    /// Moves the messages at positions `head .. head + take` into `out`, in
    /// order, adding one to `moved` per message moved out of the ring (a
    /// `Cell`, so that the caller sees the count even when `out` panics):
    /// after it, `moved` grew by `take`, or by less only if `out` stopped
    /// consuming (a user `Extend` that panicked or returned early). The
    /// positions not counted are untouched, still the ring's.
    ///
    /// # Safety
    /// As [`read`](Self::read), for every position of the run:
    /// `head + take ≤ tail` for a `tail` the consumer loaded (Acquire).
    #[inline]
    pub(crate) unsafe fn read_into(
        &self,
        head: usize,
        take: usize,
        out: &mut impl Extend<T>,
        moved: &Cell<usize>,
    ) {
        #[cfg(not(evlatch_loom))]
        {
            let base = self.slot_base();
            let start = head & self.mask;
            let first = take.min(self.mask + 1 - start);
            let runs = [(start, first), (0, take - first)];
            let before = moved.get();
            for (done, (at, n)) in [0, first].into_iter().zip(runs) {
                // An `out` that stopped early in the first run: the second
                // run's positions come after untaken ones, so leave them.
                if moved.get() - before != done {
                    break;
                }
                out.extend((at..at + n).map(|i| {
                    moved.set(moved.get() + 1);
                    // SAFETY: slot `i` holds the message of a position in
                    // `head .. head + take` (written, and published by the
                    // Acquire load of `tail`); each is read once: the
                    // caller advances `head` by `moved`.
                    unsafe { base.add(i).read() }
                }));
            }
        }
        #[cfg(evlatch_loom)]
        out.extend((head..head + take).map(|pos| {
            moved.set(moved.get() + 1);
            // SAFETY: the caller's contract, for position `pos`.
            unsafe { self.read(pos) }
        }));
    }

    /// Frees every slot below `head` for the producer (Release: our reads
    /// happen before its overwrite).
    #[inline]
    pub(crate) fn publish_head(&self, head: usize) {
        self.head.0.store(head, Ordering::Release);
    }

    /// Whether the producer is gone and every message it sent is below
    /// `head` (consumed): nothing more will come from it.
    pub(crate) fn is_drained(&self, head: usize) -> bool {
        // Acquire on the flag, then a fresh `tail`: the producer published
        // its last `tail` before it closed.
        self.tx_closed.load(Ordering::Acquire) && self.load_tail() == head
    }

    pub(crate) fn close_rx(&self) {
        self.rx_closed.store(true, Ordering::Release);
    }

    /// Whether a message is waiting (a hint; the consumer's own `head`).
    pub(crate) fn has_data(&self) -> bool {
        self.tail.0.load(Ordering::Relaxed) != self.head.0.load(Ordering::Relaxed)
    }

    pub(crate) fn is_tx_closed(&self) -> bool {
        self.tx_closed.load(Ordering::Acquire)
    }
}

impl<T> Drop for Ring<T> {
    fn drop(&mut self) {
        // Messages sent but never received are dropped with the ring.
        let head = self.head.0.load(Ordering::Relaxed);
        let tail = self.tail.0.load(Ordering::Relaxed);
        for pos in head..tail {
            let slot = &self.slots[pos & self.mask];
            // SAFETY: `&mut self`: no other access; `head .. tail` are
            // initialized and each is dropped once.
            slot.with_mut(|p| unsafe { (*p).assume_init_drop() });
        }
    }
}

/// The channel of one id: `peers × peers` rings, ring `(from, to)` at
/// `from * peers + to`, every worker's doorbell, and every receiver's
/// data bell.
pub(crate) struct Matrix<T> {
    peers: usize,
    rings: Box<[Ring<T>]>,
    doorbells: Arc<[Doorbell]>,
    /// Per receiving worker: the bell its [`Receiver`](super::Receiver)
    /// waits on for data (wherever it runs; the doorbell is the
    /// [`Worker`](super::Worker)'s). Rung by every publication, close and
    /// abandonment towards that worker.
    data_bells: Box<[Padded<Bell>]>,
}

impl<T> Matrix<T> {
    pub(crate) fn new(doorbells: Arc<[Doorbell]>, capacity: usize) -> Self {
        let peers = doorbells.len();
        Self {
            peers,
            rings: (0..peers * peers).map(|_| Ring::new(capacity)).collect(),
            doorbells,
            data_bells: (0..peers).map(|_| Padded(Bell::new())).collect(),
        }
    }

    /// Worker `worker`'s doorbell.
    pub(crate) fn doorbell(&self, worker: usize) -> &Doorbell {
        &self.doorbells[worker]
    }

    /// The bell worker `to`'s receiver waits on for data.
    pub(crate) fn data_bell(&self, to: usize) -> &Bell {
        &self.data_bells[to].0
    }

    /// What a waiter of this channel does before it parks.
    pub(crate) fn spin(&self) -> Spin {
        self.doorbells[0].spin()
    }

    /// After a change towards worker `to` (a publication, a close) and a
    /// `SeqCst` fence: wakes worker `to` if it waits, in
    /// [`Worker::wait`](super::Worker::wait) or in its receiver.
    #[inline]
    pub(crate) fn ring_receiver_fenced(&self, to: usize) {
        self.doorbells[to].ring_fenced();
        self.data_bell(to).ring_fenced();
    }

    pub(crate) fn peers(&self) -> usize {
        self.peers
    }

    pub(crate) fn ring(&self, from: usize, to: usize) -> &Ring<T> {
        debug_assert!(from < self.peers && to < self.peers);
        &self.rings[from * self.peers + to]
    }

    /// Closes everything of a worker that will never claim its endpoints
    /// (it exited, or its allocation failed): its senders count as dropped,
    /// its receiver as gone; the peers waiting on either are rung.
    pub(crate) fn abandon(&self, worker: usize) {
        for peer in 0..self.peers {
            self.ring(worker, peer).close_tx();
            self.ring(peer, worker).close_rx();
        }
        // Orders the closes before the loads of the waiters' states.
        fence(Ordering::SeqCst);
        for peer in 0..self.peers {
            self.ring_receiver_fenced(peer);
            self.ring(peer, worker).space_bell().ring_fenced();
        }
    }
}

/// What the worker's scan needs of a channel, whatever its message type.
pub(crate) trait Column: Send + Sync {
    /// What the receiver of worker `to` would find.
    fn look(&self, to: usize) -> Look;
    /// Whether a sender of worker `from` that found its ring full has room
    /// now (or its receiver is gone).
    fn space_freed(&self, from: usize) -> bool;
    /// Whether a sender of worker `from` found its ring full and has not
    /// sent since (space may still come).
    fn sender_full(&self, from: usize) -> bool;
    /// See [`Matrix::abandon`].
    fn abandon(&self, worker: usize);
}

/// One channel as seen by one worker's scan.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Look {
    /// A message is waiting.
    Data,
    /// Every sender is gone and everything is received.
    Disconnected,
    /// Nothing yet.
    Nothing,
    /// The receiver was dropped: stop scanning it.
    Gone,
}

impl<T: Send> Column for Matrix<T> {
    fn abandon(&self, worker: usize) {
        Matrix::abandon(self, worker);
    }

    fn space_freed(&self, from: usize) -> bool {
        (0..self.peers).any(|to| self.ring(from, to).space_freed())
    }

    fn sender_full(&self, from: usize) -> bool {
        (0..self.peers).any(|to| self.ring(from, to).is_tx_full())
    }

    fn look(&self, to: usize) -> Look {
        if self.ring(0, to).rx_closed.load(Ordering::Relaxed) {
            return Look::Gone;
        }
        let mut closed = true;
        for from in 0..self.peers {
            let r = self.ring(from, to);
            if r.has_data() {
                return Look::Data;
            }
            closed &= r.is_tx_closed();
        }
        // A closed ring was re-checked for data after its flag (Acquire)
        // only in `has_data` above, which ran before: look once more.
        if closed && (0..self.peers).all(|from| !self.ring(from, to).has_data()) {
            Look::Disconnected
        } else {
            Look::Nothing
        }
    }
}

#[cfg(all(test, not(evlatch_loom)))]
mod tests {
    use core::cell::Cell;

    use super::Ring;

    /// Takes at most one item per `extend` call, then stops consuming.
    struct TakesOne(Vec<String>);

    impl Extend<String> for TakesOne {
        fn extend<I: IntoIterator<Item = String>>(&mut self, iter: I) {
            self.0.extend(iter.into_iter().next());
        }
    }

    /// An `out` that stops early in the first run of a wrapping read gets
    /// nothing from the second: what it did not take stays the ring's, in
    /// order (miri: nothing read twice, nothing leaked).
    #[test]
    fn a_read_that_stops_early_leaves_the_rest_in_order() {
        let ring = Ring::<String>::new(4); // 4 slots
        let mut first: Vec<String> = (0..2).map(|i| i.to_string()).collect();
        // SAFETY: single-threaded; room for 4, 2 written at 0.
        unsafe { ring.write_batch(0, &mut first, 2) };
        let moved = Cell::new(0);
        let mut sink = Vec::new();
        // SAFETY: positions 0..2 written above.
        unsafe { ring.read_into(0, 2, &mut sink, &moved) };
        ring.publish_head(2);
        // Positions 2..5 wrap: slots 2, 3 (the first run), then 0.
        let mut second: Vec<String> = (2..5).map(|i| i.to_string()).collect();
        // SAFETY: head is 2, so room up to position 6.
        unsafe { ring.write_batch(2, &mut second, 3) };
        ring.publish_tail(5);
        let moved = Cell::new(0);
        let mut one = TakesOne(Vec::new());
        // SAFETY: positions 2..5 written above.
        unsafe { ring.read_into(2, 3, &mut one, &moved) };
        assert_eq!(moved.get(), 1, "one taken");
        assert_eq!(one.0, ["2"]);
        let rest = Cell::new(0);
        // SAFETY: positions 3..5 written and not read.
        unsafe { ring.read_into(3, 2, &mut sink, &rest) };
        assert_eq!(rest.get(), 2);
        assert_eq!(sink, ["0", "1", "3", "4"]);
        ring.publish_head(5);
    }

    /// Block writes and reads that wrap around the slot array keep every
    /// message, in order, exactly once (miri checks the copies' pointers
    /// and that no `String` leaks or is dropped twice).
    #[test]
    fn batch_runs_wrap_around_the_slots() {
        let ring = Ring::<String>::new(6); // 8 slots, room for 6
        let (mut head, mut tail) = (0, 0);
        let mut sent = 0u32;
        let mut got = Vec::new();
        for round in 0..20 {
            let k = 1 + round % 6;
            let k = k.min(6 - (tail - head));
            let mut batch: Vec<String> =
                (0..k + 2).map(|i| (sent + i as u32).to_string()).collect();
            // SAFETY: single-threaded producer and consumer; `tail + k ≤
            // head + 6`; `k ≤ batch.len()`.
            unsafe { ring.write_batch(tail, &mut batch, k) };
            assert_eq!(batch.len(), 2, "the unsent rest stays");
            assert_eq!(batch[0], (sent + k as u32).to_string(), "in order");
            tail += k;
            sent += k as u32;
            let take = (tail - head).min(1 + round % 4);
            let moved = Cell::new(0);
            // SAFETY: `head + take ≤ tail`, all written above.
            unsafe { ring.read_into(head, take, &mut got, &moved) };
            assert_eq!(moved.get(), take);
            head += take;
            ring.publish_head(head);
            ring.publish_tail(tail);
        }
        let expect: Vec<String> = (0..got.len() as u32).map(|i| i.to_string()).collect();
        assert_eq!(got, expect);
        // Messages still in the ring are dropped with it.
        let mut rest = vec!["left".to_owned(), "over".to_owned()];
        assert!(tail - head + 2 <= 6);
        // SAFETY: as above, with room for 2.
        unsafe { ring.write_batch(tail, &mut rest, 2) };
        ring.publish_tail(tail + 2);
        assert!(rest.is_empty());
    }
}
