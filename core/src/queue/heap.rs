//! [`HeapEventQueue`]: the same queue with its memory on the heap and its
//! capacity chosen at run time (feature `alloc`).

use core::fmt;

use super::api::queue_api;
use super::error::CapacityError;
use super::raw::RawQueue;
use super::storage::{Heap, Storage};

/// [`EventQueue`](crate::EventQueue) with a capacity chosen at run time: the
/// same algorithm, code and guarantees, over boxed storage.
///
/// # Examples
///
/// ```
/// use evlatch::HeapEventQueue;
/// use std::sync::Arc;
///
/// let q = Arc::new(HeapEventQueue::with_capacity(64).unwrap());
/// let producer = {
///     let q = Arc::clone(&q);
///     std::thread::spawn(move || q.try_push("ready").unwrap())
/// };
/// producer.join().unwrap();
/// assert_eq!(q.try_pop(), Some("ready"));
/// ```
pub struct HeapEventQueue<T> {
    raw: RawQueue<T, Heap<T>>,
}

impl<T> HeapEventQueue<T> {
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
    /// use evlatch::{CapacityError, HeapEventQueue};
    /// assert_eq!(HeapEventQueue::<u8>::with_capacity(16).unwrap().capacity(), 16);
    /// assert_eq!(HeapEventQueue::<u8>::with_capacity(12).unwrap_err(), CapacityError::NotPowerOfTwo);
    /// ```
    pub fn with_capacity(capacity: usize) -> Result<Self, CapacityError> {
        let storage = Heap::try_new(capacity)?;
        let g = storage.geometry();
        Ok(HeapEventQueue {
            raw: RawQueue::from_storage(storage, g),
        })
    }

    queue_api!(make = "evlatch::HeapEventQueue::<u32>::with_capacity(2).unwrap()");
}

impl<T> fmt::Debug for HeapEventQueue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HeapEventQueue")
            .field("len", &self.len())
            .field("capacity", &self.capacity())
            .field("dropped", &self.dropped())
            .finish_non_exhaustive()
    }
}
