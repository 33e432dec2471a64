//! [`EventQueue`]: the queue with its memory inline, capacity fixed at
//! compile time.

use core::fmt;

use super::api::queue_api;
use super::entry::{capacity_is_valid, Geometry};
use super::raw::RawQueue;
use super::storage::Inline;

/// A bounded, lock-free, multi-producer multi-consumer FIFO of `T` with room
/// for `N` values, no allocation, and a `const fn new`.
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
/// - `try_push` returns [`Full`](crate::Full) only when every slot was held,
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
pub struct EventQueue<T, const N: usize> {
    raw: RawQueue<T, Inline<T, N>>,
}

impl<T, const N: usize> EventQueue<T, N> {
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
    #[cfg(not(evlatch_loom))]
    #[must_use = "a queue does nothing until values are pushed into it"]
    pub const fn new() -> Self {
        const {
            assert!(
                capacity_is_valid(N),
                "EventQueue<T, N>: N must be a power of two in 1..=MAX_QUEUE_CAPACITY"
            )
        };
        EventQueue {
            raw: RawQueue::from_storage(Inline::new(), Geometry::for_capacity(N)),
        }
    }

    /// An empty queue (loom build: not `const`).
    #[cfg(evlatch_loom)]
    #[must_use = "a queue does nothing until values are pushed into it"]
    pub fn new() -> Self {
        const {
            assert!(
                capacity_is_valid(N),
                "EventQueue<T, N>: N must be a power of two in 1..=MAX_QUEUE_CAPACITY"
            )
        };
        EventQueue {
            raw: RawQueue::from_storage(Inline::new(), Geometry::for_capacity(N)),
        }
    }

    queue_api!(make = "evlatch::EventQueue::<u32, 2>::new()");
}

impl<T, const N: usize> Default for EventQueue<T, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T, const N: usize> fmt::Debug for EventQueue<T, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventQueue")
            .field("len", &self.len())
            .field("capacity", &N)
            .field("dropped", &self.dropped())
            .finish_non_exhaustive()
    }
}
