//! [`HeapStampQueue`]: the stamp ring with its memory on the heap and its
//! capacity chosen at run time (feature `alloc`).

use core::fmt;

use super::error::CapacityError;
use super::stamp_api::stamp_api;
use super::stamp_raw::RawStampQueue;
use super::stamp_storage::HeapStamps;

/// [`StampQueue`](crate::StampQueue) with a capacity chosen at run time: the
/// same algorithm, code and guarantees — **not lock-free in the strict
/// sense** (a thread stalled mid-operation stops the others once the ring
/// wraps to its slot; see `StampQueue`), linearizable (no spurious `Full` or
/// `None`) — over boxed storage. For the strict
/// guarantee use [`HeapEventQueue`](crate::HeapEventQueue).
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
pub struct HeapStampQueue<T> {
    raw: RawStampQueue<T, HeapStamps<T>>,
}

impl<T> HeapStampQueue<T> {
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
        let storage = HeapStamps::try_new(capacity, 0)?;
        Ok(HeapStampQueue {
            raw: RawStampQueue::from_storage(storage),
        })
    }

    stamp_api!(make = "evlatch::HeapStampQueue::<u32>::with_capacity(2).unwrap()");
}

impl<T> fmt::Debug for HeapStampQueue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HeapStampQueue")
            .field("len", &self.len())
            .field("capacity", &self.capacity())
            .field("dropped", &self.dropped())
            .finish_non_exhaustive()
    }
}
