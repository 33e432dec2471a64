//! Errors of the queues: a full queue hands the value back; a heap queue
//! refuses a capacity it cannot take.

use core::fmt;

/// `try_push` found the queue full; the value is handed back in `.0`.
///
/// What "full" means exactly depends on the ring: for [`EventQueue`] every
/// slot was held, at some moment during the call, by a value or by a push or
/// pop in flight on another thread; for [`StampQueue`] the next slot in ring
/// order was not yet free (see each type's `try_push`).
///
/// [`EventQueue`]: crate::EventQueue
/// [`StampQueue`]: crate::StampQueue
///
/// # Examples
///
/// ```
/// use evlatch::{EventQueue, Full};
/// let q = EventQueue::<String, 1>::new();
/// q.try_push("a".to_string()).unwrap();
/// let Full(back) = q.try_push("b".to_string()).unwrap_err();
/// assert_eq!(back, "b");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Full<T>(pub T);

impl<T> Full<T> {
    /// The value that did not fit.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = evlatch::EventQueue::<u8, 1>::new();
    /// q.try_push(1).unwrap();
    /// assert_eq!(q.try_push(2).unwrap_err().into_inner(), 2);
    /// ```
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for Full<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Full(..)")
    }
}

impl<T> fmt::Display for Full<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("queue is full: pop values first, use force_push to overwrite the oldest, or make the queue larger")
    }
}

impl<T> core::error::Error for Full<T> {}

/// Why [`StampQueue::try_push_if`](crate::StampQueue::try_push_if) handed
/// the value back.
///
/// # Examples
///
/// ```
/// use evlatch::queue::PushIfError;
/// let q = evlatch::StampQueue::<u8, 1>::new();
/// assert_eq!(q.try_push_if(1, || false), Err(PushIfError::Refused(1)));
/// q.try_push(2).unwrap();
/// let err = q.try_push_if(3, || true).unwrap_err();
/// assert_eq!(err, PushIfError::Full(3));
/// assert_eq!(err.into_inner(), 3);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum PushIfError<T> {
    /// The queue was full (as for [`Full`]).
    Full(T),
    /// The queue had room, and the check said no.
    Refused(T),
}

impl<T> PushIfError<T> {
    /// The value that was not pushed.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch::queue::PushIfError;
    /// assert_eq!(PushIfError::Refused(7).into_inner(), 7);
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            PushIfError::Full(v) | PushIfError::Refused(v) => v,
        }
    }
}

impl<T> fmt::Debug for PushIfError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PushIfError::Full(_) => f.write_str("Full(..)"),
            PushIfError::Refused(_) => f.write_str("Refused(..)"),
        }
    }
}

impl<T> fmt::Display for PushIfError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PushIfError::Full(_) => {
                f.write_str("queue is full: pop values first or make the queue larger")
            }
            PushIfError::Refused(_) => {
                f.write_str("push refused: its check said no (e.g. the queue's owner closed it)")
            }
        }
    }
}

impl<T> core::error::Error for PushIfError<T> {}

/// A heap queue could not be made with the capacity asked for.
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "alloc")] {
/// use evlatch::{CapacityError, HeapEventQueue};
/// let err = HeapEventQueue::<u8>::with_capacity(0).unwrap_err();
/// assert_eq!(err, CapacityError::Zero);
/// assert!(err.to_string().contains("at least 1"));
/// # }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CapacityError {
    /// Capacity 0.
    Zero,
    /// Not a power of two.
    NotPowerOfTwo,
    /// Above [`MAX_QUEUE_CAPACITY`](crate::MAX_QUEUE_CAPACITY).
    TooLarge,
    /// The allocator could not provide the memory.
    OutOfMemory,
}

#[cfg_attr(not(feature = "alloc"), allow(dead_code))]
impl CapacityError {
    /// Checks a capacity: a power of two in `1..=MAX_QUEUE_CAPACITY`.
    pub(crate) const fn check(capacity: usize) -> Result<(), CapacityError> {
        if capacity == 0 {
            Err(CapacityError::Zero)
        } else if !capacity.is_power_of_two() {
            Err(CapacityError::NotPowerOfTwo)
        } else if capacity > super::capacity::MAX_QUEUE_CAPACITY {
            Err(CapacityError::TooLarge)
        } else {
            Ok(())
        }
    }
}

impl fmt::Display for CapacityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CapacityError::Zero => "queue capacity is 0: ask for at least 1",
            CapacityError::NotPowerOfTwo => {
                "queue capacity is not a power of two: round it up with usize::next_power_of_two"
            }
            CapacityError::TooLarge => {
                "queue capacity is above MAX_QUEUE_CAPACITY: use a smaller queue"
            }
            CapacityError::OutOfMemory => "not enough memory for the queue: use a smaller capacity",
        })
    }
}

impl core::error::Error for CapacityError {}
