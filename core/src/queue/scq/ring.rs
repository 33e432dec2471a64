//! The lock-free index ring: Nikolaev's SCQ ("A Scalable, Portable, and
//! Memory-Efficient Lock-Free FIFO Queue", DISC 2019), single-width-CAS
//! variant, with a bounded wait before invalidating an empty entry and an
//! emptiness check in front of `dequeue` that takes no ticket (and reads
//! `tail` only when neither the dequeuers' cached copy of it nor the entry
//! at `head` says the ring holds an index).
//!
//! A ring is a FIFO of slot indices (`< n`) over `R = 2n` entries (laid out
//! by [`Geometry`], stored by the caller). It never holds more than `n`
//! indices, which is what makes `enqueue` always succeed.
//!
//! # Protocol, in tickets
//!
//! `tail` and `head` hand out tickets with `fetch_add(1)`; ticket `t` owns
//! entry `position(t)` for cycle `c(t) = t / R`. Writing `{c, s, i}` for an
//! entry of cycle `c`, safe flag `s`, index `i` (`⊥` for none):
//!
//! - enqueue(i) with ticket `t`: `{c < c(t), 1, ⊥} → {c(t), 1, i}`, or
//!   `{c < c(t), 0, ⊥} → {c(t), 1, i}` if `head <= t` (no dequeuer has passed
//!   `t` yet). Otherwise take another ticket.
//! - dequeue with ticket `h`: `{c(h), s, i} → {c(h), s, ⊥}` by `fetch_or(⊥)`,
//!   returning `i`. If instead the entry is `{c < c(h), s, ⊥}` (its enqueuer is
//!   late or absent) it becomes `{c(h), s, ⊥}` so that the late enqueuer
//!   fails; if it is `{c < c(h), 1, i}` (its dequeuer is late) it becomes
//!   `{c, 0, i}` (unsafe) so that no enqueuer of a later cycle reuses it
//!   while a dequeuer it would then miss is already past. Then either
//!   `tail <= h + 1` (empty: pull `tail` up to `h + 1`) or try the next ticket,
//!   at most `threshold` times after the last enqueue.
//!
//! No step waits for another thread: a thread stopped anywhere holds at most
//! one ticket, and the entry of that ticket is skipped (or, for an index it
//! was about to dequeue, kept for it) by everyone else. That is SCQ's
//! lock-freedom; the proof in the paper assumes sequential consistency,
//! hence every access here is `SeqCst` (on x86-64 and AArch64 that costs
//! nothing over `AcqRel` for the read-modify-writes and loads used here).
//!
//! Memory safety does not rest on the cycle arithmetic: an index is moved into
//! an entry only by a CAS from a `⊥` entry and out of it only by the thread
//! whose `fetch_or` returned it, so an index is never delivered twice even if
//! counters wrap while a thread is stopped (see `entry` for when that can
//! happen on 32-bit targets).

use crossbeam_utils::CachePadded;

use super::entry::{before, older, Geometry};
use super::stall::{self, StallPoint};
use crate::sync::{
    const_unless_loom, spin_hint, AtomicUsize,
    Ordering::{Relaxed, SeqCst},
};

/// How many times a dequeuer re-reads an empty entry whose enqueuer may be
/// about to write it, before invalidating it (which would make that enqueuer
/// retry). Bounded, so it keeps the ring lock-free.
#[cfg(not(evlatch_loom))]
const EMPTY_ENTRY_SPINS: u32 = 64;
#[cfg(evlatch_loom)]
const EMPTY_ENTRY_SPINS: u32 = 1;

/// The counters of one SCQ ring; its entries live in the queue's storage.
pub(crate) struct IndexRing {
    /// Next dequeue ticket, and the dequeuers' last look at `tail`.
    head: CachePadded<Head>,
    /// Next enqueue ticket. Incremented by `fetch_add(1)`, or pulled up to
    /// `head` by a dequeuer that found the ring empty (`catch_up`); never
    /// moves back (modulo `2^W`).
    tail: CachePadded<AtomicUsize>,
    /// An `isize`: how many more failed dequeue tickets may be taken before
    /// the ring is known empty. Set to `Geometry::threshold()` by every
    /// enqueue, decremented by every failed dequeue ticket; `< 0` means
    /// empty, and `dequeue` then returns at once.
    threshold: CachePadded<AtomicUsize>,
}

/// The dequeuers' side of a ring, on one cache line of its own: the next
/// ticket and a hint.
struct Head {
    /// Next dequeue ticket. Only ever incremented, by `fetch_add(1)`.
    next: AtomicUsize,
    /// A value `tail` had at some moment, written by dequeuers whenever they
    /// read `tail`. `tail` never moves back, so while the next ticket is
    /// more than one ticket behind this value the ring is not empty and a
    /// dequeuer need not read `tail` (whose cache line the enqueuers are
    /// writing). A hint only: a stale or lost write costs a read of `tail`,
    /// and no step's correctness rests on it.
    tail_seen: AtomicUsize,
}

impl IndexRing {
    const_unless_loom! {
        /// An empty ring (entries all `EMPTY_ENTRY`).
        pub(crate) fn new_empty() -> Self {
            Self::with(0, 0, -1)
        }
    }

    const_unless_loom! {
        /// A ring holding `0..n` (entries from [`Geometry::initial_entry`]).
        pub(crate) fn new_full(g: Geometry) -> Self {
            Self::with(0, g.capacity(), g.threshold())
        }
    }

    /// As `new_empty` / `new_full`, with the first ticket `start` (tests of
    /// counter wrap-around).
    #[cfg(test)]
    pub(crate) fn starting_at(g: Geometry, start: usize, full: bool) -> Self {
        if full {
            Self::with(start, start.wrapping_add(g.capacity()), g.threshold())
        } else {
            Self::with(start, start, -1)
        }
    }

    const_unless_loom! {
        fn with(head: usize, tail: usize, threshold: isize) -> Self {
            IndexRing {
                head: CachePadded::new(Head {
                    next: AtomicUsize::new(head),
                    tail_seen: AtomicUsize::new(tail),
                }),
                tail: CachePadded::new(AtomicUsize::new(tail)),
                threshold: CachePadded::new(AtomicUsize::new(threshold as usize)),
            }
        }
    }

    /// Appends `index` (`< n`). Never fails: the caller guarantees the ring
    /// holds fewer than `n` indices. `at` names the stall point after the
    /// ticket is taken.
    pub(crate) fn enqueue(
        &self,
        entries: &[AtomicUsize],
        g: Geometry,
        index: usize,
        at: StallPoint,
    ) {
        debug_assert!(index < g.capacity());
        debug_assert_eq!(entries.len(), g.ring_len());
        loop {
            let t = self.tail.fetch_add(1, SeqCst);
            stall::point(at);
            let slot = entry(entries, g, t);
            let cycle = g.ticket_cycle(t);
            let mut e = slot.load(SeqCst);
            // {c < c(t), 1, ⊥} → {c(t), 1, index}; {c < c(t), 0, ⊥} likewise
            // if no dequeuer has passed t. Anything else: next ticket.
            while older(g.cycle(e), cycle)
                && g.index(e) == g.bottom()
                && (g.is_safe(e) || !before(t, self.head.next.load(SeqCst)))
            {
                match slot.compare_exchange(e, g.occupied(cycle, index), SeqCst, SeqCst) {
                    Ok(_) => {
                        // Every enqueue re-arms the threshold (a load first:
                        // the line stays shared while it already holds it).
                        let full = g.threshold() as usize;
                        if self.threshold.load(SeqCst) != full {
                            self.threshold.store(full, SeqCst);
                        }
                        return;
                    }
                    Err(now) => e = now,
                }
            }
        }
    }

    /// Removes and returns the oldest index, or `None` if the ring is empty.
    /// `at` names the stall point after a ticket is taken.
    ///
    /// Three steps: an emptiness check that takes no ticket ([`Self::looks_empty`]);
    /// then per ticket, the step on its entry ([`take_entry`]), and, if it
    /// yielded nothing, whether to stop ([`Self::spent_ticket_says_empty`]).
    pub(crate) fn dequeue(
        &self,
        entries: &[AtomicUsize],
        g: Geometry,
        at: StallPoint,
    ) -> Option<usize> {
        debug_assert_eq!(entries.len(), g.ring_len());
        if self.looks_empty(entries, g) {
            return None;
        }
        loop {
            let h = self.head.next.fetch_add(1, SeqCst);
            stall::point(at);
            if let Some(i) = take_entry(entry(entries, g, h), g, h) {
                return Some(i);
            }
            if self.spent_ticket_says_empty(h) {
                return None;
            }
        }
    }

    /// Whether the ring can be reported empty without taking a ticket (it
    /// changes nothing but the `tail_seen` hint, so no one waits).
    fn looks_empty(&self, entries: &[AtomicUsize], g: Geometry) -> bool {
        // Every index in the ring sits at a ticket in head..tail, so if
        // tail <= head when tail is read, the ring was empty at that moment
        // (head never decreases).
        let head = self.head.next.load(SeqCst);
        // Two or more tickets ahead of `head` were handed out: not empty
        // (and not the one-ticket case below), without reading `tail`.
        let seen = self.head.tail_seen.load(Relaxed);
        if before(head.wrapping_add(1), seen) {
            return false;
        }
        // The entry of ticket `head` already holds its index: not empty,
        // without reading `tail` (the entry is the line `take_entry` reads
        // next anyway).
        let e = entry(entries, g, head).load(SeqCst);
        if g.cycle(e) == g.ticket_cycle(head) && g.index(e) != g.bottom() {
            return false;
        }
        let tail = self.tail.load(SeqCst);
        // Written only when it changed: dequeuers polling an empty ring
        // leave the line shared.
        if tail != seen {
            self.head.tail_seen.store(tail, Relaxed);
        }
        if !before(head, tail) {
            return true;
        }
        // Likewise if the only ticket in head..tail is `head` and its entry
        // was still unwritten (its enqueuer in flight): taking the ticket
        // would only make that enqueuer retry. `e` was read before `tail`,
        // and `tail` never moves back, so when `e` was read at most ticket
        // `head` had been handed out and its entry was empty: the ring was
        // empty at that moment.
        if tail == head.wrapping_add(1)
            && g.index(e) == g.bottom()
            && older(g.cycle(e), g.ticket_cycle(head))
        {
            return true;
        }
        // The threshold says so: enough failed tickets since the last enqueue.
        (self.threshold.load(SeqCst) as isize) < 0
    }

    /// After ticket `h` yielded nothing: whether the ring is empty now. It
    /// is if no enqueue ticket lies beyond `h` (then `tail` is pulled up to
    /// `h + 1`) or the threshold of failed tickets is used up.
    fn spent_ticket_says_empty(&self, h: usize) -> bool {
        let next = h.wrapping_add(1);
        let tail = self.tail.load(SeqCst);
        if !before(next, tail) {
            self.catch_up(tail, next);
            self.threshold.fetch_sub(1, SeqCst);
            return true;
        }
        (self.threshold.fetch_sub(1, SeqCst) as isize) <= 0
    }

    /// Number of indices in the ring: `tail - head`, clamped to `0..=n`.
    /// Exact while no operation on the ring is in flight.
    pub(crate) fn len(&self, g: Geometry) -> usize {
        let head = self.head.next.load(SeqCst);
        let tail = self.tail.load(SeqCst);
        let diff = tail.wrapping_sub(head) as isize;
        if diff <= 0 {
            0
        } else {
            (diff as usize).min(g.capacity())
        }
    }

    /// Pulls `tail` up to `head` after a dequeuer overtook it, so that
    /// enqueuers do not spend tickets on entries dequeuers already passed.
    fn catch_up(&self, mut tail: usize, mut head: usize) {
        while let Err(now) = self.tail.compare_exchange(tail, head, SeqCst, SeqCst) {
            tail = now;
            head = self.head.next.load(SeqCst);
            if !before(tail, head) {
                break;
            }
        }
    }
}

/// The step of dequeue ticket `h` on its entry `slot`: the index it
/// consumed, or `None` if the ticket yields nothing (the entry was left so
/// that late threads of older cycles fail, or the ticket was stale).
///
/// - `{c(h), s, i}` → `{c(h), s, ⊥}`, returning `i`;
/// - `{c < c(h), s, ⊥}`: re-read up to `EMPTY_ENTRY_SPINS` times (its
///   enqueuer may be about to write), then → `{c(h), s, ⊥}` (it will fail);
/// - `{c < c(h), 1, i}` → `{c, 0, i}` (unsafe: its dequeuer is late);
/// - anything else (ahead of `h`, or already unsafe): nothing to do.
fn take_entry(slot: &AtomicUsize, g: Geometry, h: usize) -> Option<usize> {
    let cycle = g.ticket_cycle(h);
    let mut spins = 0;
    let mut e = slot.load(SeqCst);
    loop {
        if g.cycle(e) == cycle {
            // {c(h), s, i} → {c(h), s, ⊥}. The index is the one our
            // fetch_or removed, so no one else can also get it.
            let i = g.index(slot.fetch_or(g.bottom(), SeqCst));
            if i != g.bottom() {
                debug_assert!(i < g.capacity());
                return Some(i);
            }
            // Already consumed: only possible after the counters
            // wrapped around a stopped thread. This ticket is spent.
            return None;
        }
        if !older(g.cycle(e), cycle) {
            // The entry is ahead of us: this ticket is stale.
            return None;
        }
        let new = if g.index(e) == g.bottom() {
            if spins < EMPTY_ENTRY_SPINS {
                // The enqueuer of ticket h may be about to write.
                spins += 1;
                spin_hint();
                e = slot.load(SeqCst);
                continue;
            }
            // {c < c(h), s, ⊥} → {c(h), s, ⊥}: the late enqueuer fails.
            cycle | (e & g.safe()) | g.bottom()
        } else if g.is_safe(e) {
            // {c < c(h), 1, i} → {c, 0, i}: its dequeuer is late.
            e & !g.safe()
        } else {
            return None;
        };
        match slot.compare_exchange(e, new, SeqCst, SeqCst) {
            Ok(_) => return None,
            Err(now) => e = now,
        }
    }
}

/// The entry of ticket `t`.
#[inline]
fn entry(entries: &[AtomicUsize], g: Geometry, t: usize) -> &AtomicUsize {
    let pos = g.position(t);
    debug_assert!(pos < entries.len());
    // SAFETY: `position` returns a value in `0..R` and every storage makes
    // its entry slices exactly `R = g.ring_len()` long (asserted by callers).
    unsafe { entries.get_unchecked(pos) }
}
