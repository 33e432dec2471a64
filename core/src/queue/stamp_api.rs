//! The methods [`StampQueue`](crate::StampQueue) and
//! [`HeapStampQueue`](crate::HeapStampQueue) share, written once.
//!
//! The same method set as `queue_api!` (the SCQ queues), with the stamp
//! ring's own guarantees in the docs. `stamp_api!(make = "...")` expands to an
//! `impl` body; `make` is an expression building a queue of capacity 2 for the
//! doctests. Both types keep their `RawStampQueue` in a field named `raw`.

macro_rules! stamp_api {
    (make = $make:literal) => {
        /// Pushes `value` at the back, or hands it back in [`Full`](crate::Full).
        ///
        /// `Full` means the queue was full (held `capacity` values, counting
        /// pushes in flight) at some instant during the call. Where the slot
        /// this push needs is still in a neighbour's hands (its pop in
        /// flight) while the queue is not full, the call waits for that pop
        /// to finish instead of reporting `Full` (crossbeam's `ArrayQueue`
        /// does the same); so `Full` never comes back right after this
        /// thread's own pop, and never while other threads' pops have made
        /// room.
        ///
        /// Not lock-free: a neighbour stalled in the middle of its pop of
        /// that slot makes this call wait until it resumes (see the type
        /// docs).
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
        /// The swap is one step: a value is displaced only when the queue
        /// holds `capacity` values (the oldest one's slot is the one the new
        /// value needs), and exactly one value leaves for the one that
        /// enters. If the slot next in ring order stays in another thread's
        /// hands (its pop or push in flight) for a bounded number of waits,
        /// `value` itself is returned as the displaced value (and counted)
        /// rather than waiting longer.
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

        /// Pops the value at the front, or `None`.
        ///
        /// `None` means the queue was empty at some instant during the call.
        /// Where the push at the front is still in flight on a neighbour
        /// while values have been claimed behind it, the call waits for that
        /// push to finish instead of reporting empty (crossbeam's
        /// `ArrayQueue` does the same); so a value whose `try_push` returned
        /// before this call began is always seen.
        ///
        /// Not lock-free: a neighbour stalled in the middle of that push
        /// makes this call wait until it resumes (see the type docs).
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

        /// Number of values in the queue, counting pushes in flight and not
        /// pops in flight. Exact when no push or pop is in flight; while
        /// they run, an estimate in `0..=capacity`.
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
        /// (returned) so far. A `u64` on every target (two 32-bit atomics
        /// where the target has no 64-bit ones, as for `EventQueue`).
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

pub(crate) use stamp_api;
