//! [`StampQueue`]: the stamp ring with its memory inline, capacity fixed at
//! compile time.

use core::fmt;

use super::entry::capacity_is_valid;
use super::stamp_api::stamp_api;
use super::stamp_raw::RawStampQueue;
use super::stamp_storage::InlineStamps;

/// A bounded multi-producer multi-consumer FIFO of `T` with room for `N`
/// values, no allocation, and a `const fn new` — a Vyukov-style stamp ring:
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
/// - **Linearizable**: `try_push` returns [`Full`](crate::Full) only if the
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
pub struct StampQueue<T, const N: usize> {
    raw: RawStampQueue<T, InlineStamps<T, N>>,
}

impl<T, const N: usize> StampQueue<T, N> {
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
    #[cfg(not(evlatch_loom))]
    #[must_use = "a queue does nothing until values are pushed into it"]
    pub const fn new() -> Self {
        const {
            assert!(
                capacity_is_valid(N),
                "StampQueue<T, N>: N must be a power of two in 1..=MAX_QUEUE_CAPACITY"
            )
        };
        StampQueue {
            raw: RawStampQueue::from_storage(InlineStamps::new()),
        }
    }

    /// An empty queue (loom build: not `const`).
    #[cfg(evlatch_loom)]
    #[must_use = "a queue does nothing until values are pushed into it"]
    pub fn new() -> Self {
        const {
            assert!(
                capacity_is_valid(N),
                "StampQueue<T, N>: N must be a power of two in 1..=MAX_QUEUE_CAPACITY"
            )
        };
        StampQueue {
            raw: RawStampQueue::from_storage(InlineStamps::new()),
        }
    }

    stamp_api!(make = "evlatch::StampQueue::<u32, 2>::new()");
}

impl<T, const N: usize> Default for StampQueue<T, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T, const N: usize> fmt::Debug for StampQueue<T, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StampQueue")
            .field("len", &self.len())
            .field("capacity", &N)
            .field("dropped", &self.dropped())
            .finish_non_exhaustive()
    }
}
