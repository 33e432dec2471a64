//! Which capacities a queue takes: a power of two in
//! `1..=MAX_QUEUE_CAPACITY`, the same rule for both rings (so they are
//! interchangeable).

/// The largest capacity a queue accepts.
///
/// Each ring entry packs a cycle number, a flag and a `log2(2N)`-bit index
/// into one `usize`; this limit keeps at least `usize::BITS / 2` bits for the
/// cycle: 2^14 (16 384) on 32-bit targets, 2^30 on 64-bit ones.
pub const MAX_QUEUE_CAPACITY: usize = 1 << (usize::BITS / 2 - 2);

/// Whether `capacity` is one a queue can take: a power of two in
/// `1..=MAX_QUEUE_CAPACITY`.
#[inline]
pub(crate) const fn capacity_is_valid(capacity: usize) -> bool {
    capacity.is_power_of_two() && capacity <= MAX_QUEUE_CAPACITY
}
