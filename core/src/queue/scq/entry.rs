//! The ring geometry and the packed entry word of an index ring.
//!
//! A queue of capacity `n = 2^order` keeps two index rings of `R = 2n`
//! entries each. One entry is one `usize` (`W` bits):
//!
//! ```text
//!  W-1                      k+1   k   k-1            0      k = log2(R) = order + 1
//! +-----------------------------+---+-----------------+
//! |  cycle (W-k-1 bits)         | S |  index (k bits) |
//! +-----------------------------+---+-----------------+
//! ```
//!
//! - `index`: a slot number `< n`, or `BOTTOM = R - 1` (all ones: "no
//!   index"). Consuming an entry is one `fetch_or(BOTTOM)`.
//! - `S` ("safe"): cleared by a dequeuer that passed an occupied entry of an
//!   older cycle; an enqueuer may reuse an unsafe entry only if no dequeuer
//!   has passed its ticket yet (`head <= ticket`).
//! - `cycle`: `ticket / R`, modulo `2^(W-k-1)`. Tickets are the values of the
//!   ring's `head`/`tail` counters; ticket `t` maps to position `t mod R` and
//!   cycle `t / R`. Cycles are compared with wrapping arithmetic
//!   ([`older`]), which is exact while two live cycles differ by less than
//!   `2^(W-k-2)`, i.e. while no ticket is held across `2^(W-2)` later tickets.
//!
//! Working "keys": a cycle is kept *in place* (the word with the low `k + 1`
//! bits cleared), so comparing two cycles is one wrapping subtraction.
//!
//! An all-ones word is the initial empty entry: cycle "−1" (older than
//! ticket 0's cycle 0), safe, no index.

/// The all-ones word: an empty, safe entry of cycle −1.
pub(crate) const EMPTY_ENTRY: usize = usize::MAX;

use crate::queue::capacity::capacity_is_valid;

/// `log2` of the number of `usize` entries in one 64-byte cache line.
///
/// Consecutive tickets are spread over different cache lines ([`Geometry::position`]).
const ENTRIES_PER_LINE_LOG2: u32 = 6 - (usize::BITS / 8).trailing_zeros();

/// Shape of one queue: its capacity `n = 2^order`, hence the ring size and
/// the entry layout. Copy, computed from the capacity (a constant for the
/// inline queue, so every helper folds away).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    /// `log2(capacity)`; `capacity <= MAX_QUEUE_CAPACITY`.
    order: u32,
}

impl Geometry {
    /// The geometry of a queue of `capacity` slots.
    ///
    /// `capacity` must be a power of two `<= MAX_QUEUE_CAPACITY` (checked by
    /// the constructors, see [`capacity_is_valid`]).
    #[inline]
    pub(crate) const fn for_capacity(capacity: usize) -> Self {
        debug_assert!(capacity_is_valid(capacity));
        Geometry {
            order: capacity.trailing_zeros(),
        }
    }

    /// Number of value slots, `n`.
    #[inline]
    pub(crate) const fn capacity(self) -> usize {
        1 << self.order
    }

    /// Number of entries in each index ring, `R = 2n`.
    #[inline]
    pub(crate) const fn ring_len(self) -> usize {
        2 << self.order
    }

    /// The "no index" value, `R - 1`.
    #[inline]
    pub(crate) const fn bottom(self) -> usize {
        self.ring_len() - 1
    }

    /// The safe flag, bit `k`.
    #[inline]
    pub(crate) const fn safe(self) -> usize {
        self.ring_len()
    }

    /// Index and safe bits together.
    #[inline]
    const fn low_mask(self) -> usize {
        (self.ring_len() << 1) - 1
    }

    /// The cycle field of an entry word, in place.
    #[inline]
    pub(crate) const fn cycle(self, entry: usize) -> usize {
        entry & !self.low_mask()
    }

    /// The cycle of ticket `t`, in place: `t / R` shifted to bit `k + 1`; the
    /// top bit of `t / R` falls off, which is the modulo of the cycle field.
    #[inline]
    pub(crate) const fn ticket_cycle(self, ticket: usize) -> usize {
        (ticket << 1) & !self.low_mask()
    }

    /// The index field of an entry word (`bottom()` for none).
    #[inline]
    pub(crate) const fn index(self, entry: usize) -> usize {
        entry & self.bottom()
    }

    /// Whether the safe flag is set.
    #[inline]
    pub(crate) const fn is_safe(self, entry: usize) -> bool {
        entry & self.safe() != 0
    }

    /// An occupied, safe entry of `cycle` (in place) holding `index`.
    #[inline]
    pub(crate) const fn occupied(self, cycle: usize, index: usize) -> usize {
        debug_assert!(index < self.capacity());
        cycle | self.safe() | index
    }

    /// Where ticket `t` lives in the entry array: `t mod R`, with its bits
    /// rotated so that consecutive tickets fall on different cache lines
    /// (as SCQ's `cache_remap`). A bijection on `0..R`.
    #[inline]
    pub(crate) const fn position(self, ticket: usize) -> usize {
        rotate(ticket & self.bottom(), self.order + 1)
    }

    /// The dequeue threshold after an enqueue: `3n - 1` (SCQ: a dequeuer
    /// that has failed this many times in a row since the last enqueue may
    /// report "empty" without looking further).
    #[inline]
    pub(crate) const fn threshold(self) -> isize {
        (3 * self.capacity() - 1) as isize
    }

    /// The initial entry for ticket `start + offset` (`offset < R`) of a ring
    /// whose first ticket is `start`: returns `(position, word)`.
    ///
    /// If `full`, tickets `start .. start + n` hold the slot indices `0..n`
    /// (in rotated order, so that consecutive pushes use slots on different
    /// cache lines). Every other entry is empty, safe, of the cycle before
    /// its ticket's. With `start = 0` empty entries are [`EMPTY_ENTRY`].
    pub(crate) const fn initial_entry(
        self,
        start: usize,
        offset: usize,
        full: bool,
    ) -> (usize, usize) {
        let ticket = start.wrapping_add(offset);
        let pos = self.position(ticket);
        if full && offset < self.capacity() {
            (
                pos,
                self.occupied(self.ticket_cycle(ticket), rotate(offset, self.order)),
            )
        } else {
            let previous = ticket.wrapping_sub(self.ring_len());
            (
                pos,
                self.ticket_cycle(previous) | self.safe() | self.bottom(),
            )
        }
    }
}

/// Whether cycle `a` is older than cycle `b` (both in place), modulo the
/// cycle field.
#[inline]
pub(crate) const fn older(a: usize, b: usize) -> bool {
    (a.wrapping_sub(b) as isize) < 0
}

/// Whether ticket `a` comes strictly before ticket `b`, modulo `2^W`.
#[inline]
pub(crate) const fn before(a: usize, b: usize) -> bool {
    (a.wrapping_sub(b) as isize) < 0
}

/// Rotates the low `bits` bits of `x` left by `ENTRIES_PER_LINE_LOG2`, or
/// leaves `x` alone when the ring is not longer than one cache line.
#[inline]
const fn rotate(x: usize, bits: u32) -> usize {
    if bits <= ENTRIES_PER_LINE_LOG2 {
        return x;
    }
    let mask = (1usize << bits) - 1;
    ((x << ENTRIES_PER_LINE_LOG2) & mask) | ((x & mask) >> (bits - ENTRIES_PER_LINE_LOG2))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::capacity::{capacity_is_valid, MAX_QUEUE_CAPACITY};

    #[test]
    fn position_is_a_bijection() {
        for order in 0..8 {
            let g = Geometry::for_capacity(1 << order);
            let mut seen = [false; 512];
            for t in 0..g.ring_len() {
                let p = g.position(t);
                assert!(p < g.ring_len());
                assert!(!seen[p], "order {order}: position {p} twice");
                seen[p] = true;
            }
        }
    }

    #[test]
    fn cycles_compare_across_wrap() {
        let g = Geometry::for_capacity(4);
        let empty = g.cycle(EMPTY_ENTRY);
        assert!(older(empty, g.ticket_cycle(0)));
        assert!(older(g.ticket_cycle(0), g.ticket_cycle(8)));
        assert!(!older(g.ticket_cycle(8), g.ticket_cycle(7)));
        assert_eq!(g.ticket_cycle(3), g.ticket_cycle(7));
        let last = usize::MAX - 3;
        assert!(older(
            g.ticket_cycle(last),
            g.ticket_cycle(last.wrapping_add(8))
        ));
        assert!(before(usize::MAX, 0));
    }

    #[test]
    fn entry_fields_do_not_overlap() {
        let g = Geometry::for_capacity(8);
        let e = g.occupied(g.ticket_cycle(40), 5);
        assert_eq!(g.index(e), 5);
        assert!(g.is_safe(e));
        assert_eq!(g.cycle(e), g.ticket_cycle(40));
        assert_eq!(g.index(EMPTY_ENTRY), g.bottom());
        assert!(g.bottom() >= g.capacity());
    }

    #[test]
    fn initial_entries_at_zero_are_the_empty_word() {
        let g = Geometry::for_capacity(4);
        for offset in 0..g.ring_len() {
            let (_, word) = g.initial_entry(0, offset, false);
            assert_eq!(word, EMPTY_ENTRY);
        }
    }

    #[test]
    fn capacity_limits() {
        assert!(!capacity_is_valid(0));
        assert!(!capacity_is_valid(3));
        assert!(capacity_is_valid(1));
        assert!(capacity_is_valid(MAX_QUEUE_CAPACITY));
        assert!(!capacity_is_valid(MAX_QUEUE_CAPACITY * 2));
    }
}
