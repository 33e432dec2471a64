//! The methods [`EventQueue`](crate::EventQueue) and
//! [`HeapEventQueue`](crate::HeapEventQueue) share, written once.
//!
//! `queue_api!(make = "...")` expands to an `impl` body; `make` is an
//! expression building a queue of capacity 2 for the doctests. Both types
//! keep their `RawQueue` in a field named `raw`.

macro_rules! queue_api {
    (make = $make:literal) => {
        /// Pushes `value` at the back, or hands it back in [`Full`](crate::Full)
        /// when every slot is taken.
        ///
        /// Lock-free: completes in a bounded number of its own steps unless
        /// other pushes and pops keep completing meanwhile.
        ///
        /// # Examples
        ///
        /// ```
        #[doc = concat!("let q = ", $make, ";")]
        /// q.try_push(1).unwrap();
        /// q.try_push(2).unwrap();
        /// assert_eq!(q.try_push(3).unwrap_err().0, 3);
        /// ```
        #[inline]
        pub fn try_push(&self, value: T) -> Result<(), crate::Full<T>> {
            self.raw.try_push(value).map_err(crate::Full)
        }

        /// Pushes `value` at the back; if the queue is full, removes the
        /// oldest value to make room and returns it (a circular buffer that
        /// drops its oldest events). Every value returned is counted in
        /// [`dropped`](Self::dropped).
        ///
        /// In the rare case that every slot is held by another thread's
        /// push or pop in flight (at least `capacity` of them at once, e.g.
        /// threads preempted mid-operation), waiting for them would not be
        /// lock-free: after a bounded number of attempts `value` itself is
        /// returned as the displaced value (and counted).
        ///
        /// # Examples
        ///
        /// ```
        #[doc = concat!("let q = ", $make, ";")]
        /// assert_eq!(q.force_push(1), None);
        /// assert_eq!(q.force_push(2), None);
        /// assert_eq!(q.force_push(3), Some(1));
        /// assert_eq!(q.dropped(), 1);
        /// assert_eq!(q.try_pop(), Some(2));
        /// assert_eq!(q.try_pop(), Some(3));
        /// ```
        #[inline]
        pub fn force_push(&self, value: T) -> Option<T> {
            self.raw.force_push(value)
        }

        /// Pops the value at the front, or `None` if the queue is empty.
        ///
        /// A value whose push is still in flight is not seen yet.
        ///
        /// # Examples
        ///
        /// ```
        #[doc = concat!("let q = ", $make, ";")]
        /// assert_eq!(q.try_pop(), None);
        /// q.try_push(7).unwrap();
        /// assert_eq!(q.try_pop(), Some(7));
        /// ```
        #[inline]
        pub fn try_pop(&self) -> Option<T> {
            self.raw.try_pop()
        }

        /// Pops up to `max` values, oldest first, into `out`; returns how
        /// many. Values are popped one by one as `out` takes them (an
        /// `Extend` that stops early leaves the rest queued); the batch is
        /// not atomic with respect to other consumers.
        ///
        /// # Examples
        ///
        /// ```
        #[doc = concat!("let q = ", $make, ";")]
        /// q.try_push(1).unwrap();
        /// q.try_push(2).unwrap();
        /// let mut out = Vec::new();
        /// assert_eq!(q.pop_batch(&mut out, 8), 2);
        /// assert_eq!(out, [1, 2]);
        /// ```
        #[inline]
        pub fn pop_batch(&self, out: &mut impl Extend<T>, max: usize) -> usize {
            self.raw.pop_batch(out, max)
        }

        /// Number of values in the queue. Exact when no push or pop is in
        /// flight; while they run, an estimate in `0..=capacity`.
        ///
        /// # Examples
        ///
        /// ```
        #[doc = concat!("let q = ", $make, ";")]
        /// q.try_push(1).unwrap();
        /// assert_eq!(q.len(), 1);
        /// ```
        #[inline]
        pub fn len(&self) -> usize {
            self.raw.len()
        }

        /// Whether [`len`](Self::len) is 0 (same caveat).
        ///
        /// # Examples
        ///
        /// ```
        #[doc = concat!("let q = ", $make, ";")]
        /// assert!(q.is_empty());
        /// q.try_push(1).unwrap();
        /// assert!(!q.is_empty());
        /// ```
        #[inline]
        pub fn is_empty(&self) -> bool {
            self.len() == 0
        }

        /// Whether [`len`](Self::len) equals the capacity (same caveat).
        ///
        /// # Examples
        ///
        /// ```
        #[doc = concat!("let q = ", $make, ";")]
        /// q.try_push(1).unwrap();
        /// assert!(!q.is_full());
        /// q.try_push(2).unwrap();
        /// assert!(q.is_full());
        /// ```
        #[inline]
        pub fn is_full(&self) -> bool {
            self.len() == self.capacity()
        }

        /// How many values the queue holds at most.
        ///
        /// # Examples
        ///
        /// ```
        #[doc = concat!("let q = ", $make, ";")]
        /// assert_eq!(q.capacity(), 2);
        /// ```
        #[inline]
        pub fn capacity(&self) -> usize {
            self.raw.capacity()
        }

        /// How many values [`force_push`](Self::force_push) has displaced
        /// (returned) so far. A `u64` on every target (see the module docs for
        /// targets without 64-bit atomics).
        ///
        /// # Examples
        ///
        /// ```
        #[doc = concat!("let q = ", $make, ";")]
        /// for i in 0..5 {
        ///     q.force_push(i);
        /// }
        /// assert_eq!(q.dropped(), 3);
        /// ```
        #[inline]
        pub fn dropped(&self) -> u64 {
            self.raw.dropped()
        }
    };
}

pub(crate) use queue_api;
