//! [`Prioritized`]: two level queues, `High` served first, with a bounded
//! starvation guard for `Low`; [`PriorityQueue`] is it over two
//! [`EventQueue`]s.

use core::fmt;

use super::error::Full;
use super::scq::{self, EventQueue, ScqRing};
use super::stamp::{self, StampRing};
use crate::sync::{const_unless_loom, AtomicUsize, Ordering::SeqCst};

/// What a level of a [`Prioritized`] queue must do: the queue operations
/// both rings provide ([`ScqRing`] and [`StampRing`], whatever their
/// storage, implement it).
///
/// An implementation MUST behave as a bounded FIFO: `try_push` hands the
/// value back in `Full` only when the queue is full, `force_push` returns
/// exactly the value it displaced (counted in `dropped`), `try_pop` returns
/// the oldest value, `len` is exact while no operation is in flight.
///
/// # Examples
///
/// ```
/// use evlatch::queue::Level;
/// fn fill<Q: Level<Item = u8>>(q: &Q) {
///     while q.try_push(0).is_ok() {}
/// }
/// let q = evlatch::StampQueue::<u8, 4>::new();
/// fill(&q);
/// assert_eq!(Level::len(&q), 4);
/// ```
pub trait Level {
    /// The values it holds.
    type Item;
    /// Pushes at the back, or hands the value back when full.
    fn try_push(&self, value: Self::Item) -> Result<(), Full<Self::Item>>;
    /// Pushes at the back, displacing and returning the oldest when full.
    fn force_push(&self, value: Self::Item) -> Option<Self::Item>;
    /// Pops the oldest value.
    fn try_pop(&self) -> Option<Self::Item>;
    /// Values in the queue.
    fn len(&self) -> usize;
    /// Whether `len` is 0.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Values it holds at most.
    fn capacity(&self) -> usize;
    /// Values `force_push` displaced.
    fn dropped(&self) -> u64;
}

impl<T, S: scq::Storage<T>> Level for ScqRing<T, S> {
    type Item = T;
    #[inline]
    fn try_push(&self, value: T) -> Result<(), Full<T>> {
        ScqRing::try_push(self, value)
    }
    #[inline]
    fn force_push(&self, value: T) -> Option<T> {
        ScqRing::force_push(self, value)
    }
    #[inline]
    fn try_pop(&self) -> Option<T> {
        ScqRing::try_pop(self)
    }
    #[inline]
    fn len(&self) -> usize {
        ScqRing::len(self)
    }
    #[inline]
    fn capacity(&self) -> usize {
        ScqRing::capacity(self)
    }
    #[inline]
    fn dropped(&self) -> u64 {
        ScqRing::dropped(self)
    }
}

impl<T, S: stamp::Storage<T>> Level for StampRing<T, S> {
    type Item = T;
    #[inline]
    fn try_push(&self, value: T) -> Result<(), Full<T>> {
        StampRing::try_push(self, value)
    }
    #[inline]
    fn force_push(&self, value: T) -> Option<T> {
        StampRing::force_push(self, value)
    }
    #[inline]
    fn try_pop(&self) -> Option<T> {
        StampRing::try_pop(self)
    }
    #[inline]
    fn len(&self) -> usize {
        StampRing::len(self)
    }
    #[inline]
    fn capacity(&self) -> usize {
        StampRing::capacity(self)
    }
    #[inline]
    fn dropped(&self) -> u64 {
        StampRing::dropped(self)
    }
}

/// The two levels of a [`PriorityQueue`].
///
/// # Examples
///
/// ```
/// use evlatch::Priority;
/// assert_ne!(Priority::High, Priority::Low);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Priority {
    /// Served first.
    High,
    /// Served when `High` is empty, or after
    /// [`LOW_AFTER`] `High` values in a row.
    Low,
}

/// How many `High` values one consumer takes in a row while a `Low` value
/// waits: the starvation guard of every [`Prioritized`] queue (and of the
/// std shell's priority channels).
///
/// # Examples
///
/// ```
/// use evlatch::{Priority, PriorityQueue};
/// let q = PriorityQueue::<u32, 16>::new();
/// q.try_push(0, Priority::Low).unwrap();
/// for i in 1..=10 {
///     q.try_push(i, Priority::High).unwrap();
/// }
/// let order: Vec<u32> = std::iter::from_fn(|| q.try_pop()).collect();
/// let low_at = order.iter().position(|&v| v == 0).unwrap();
/// assert_eq!(low_at, evlatch::queue::LOW_AFTER);
/// ```
pub const LOW_AFTER: usize = 8;

/// A bounded, lock-free MPMC queue with two priority levels, each an
/// [`EventQueue<T, N>`] (so it holds up to `N` values per level, `2N` in
/// all, with the same `N` rules and the same progress guarantee):
/// [`Prioritized`] over `EventQueue`.
///
/// Pops serve `High` first, except that `Low` is never starved for long:
///
/// - with one consumer, while the `Low` level holds a value, at most
///   [`LOW_AFTER`](Self::LOW_AFTER) pops in a row are served from `High`;
///   the next pop serves `Low`;
/// - with `C` threads popping at once, at most `LOW_AFTER + C - 1`: each pop
///   that starts after the guard trips serves `Low`, and at most `C - 1` pops
///   that started before it can still complete from `High`.
///
/// Within a level the order is FIFO; across levels there is no order.
///
/// # Examples
///
/// ```
/// use evlatch::{Priority, PriorityQueue};
///
/// let q = PriorityQueue::<&str, 4>::new();
/// q.try_push("log", Priority::Low).unwrap();
/// q.try_push("irq", Priority::High).unwrap();
/// assert_eq!(q.try_pop(), Some("irq"));
/// assert_eq!(q.try_pop(), Some("log"));
/// ```
pub type PriorityQueue<T, const N: usize> = Prioritized<EventQueue<T, N>>;

/// Two level queues `Q` (any [`Level`]: either ring, either storage), `High`
/// served first, with a bounded starvation guard for `Low`; the guarantees
/// are those of [`PriorityQueue`] with `Q`'s progress guarantee.
///
/// # Examples
///
/// ```
/// use evlatch::queue::Prioritized;
/// use evlatch::{Priority, StampQueue};
///
/// let q = Prioritized::from_levels(StampQueue::<u8, 2>::new(), StampQueue::new());
/// q.try_push(1, Priority::Low).unwrap();
/// q.try_push(2, Priority::High).unwrap();
/// assert_eq!(q.try_pop(), Some(2));
/// ```
pub struct Prioritized<Q> {
    high: Q,
    low: Q,
    /// `High` pops served while `Low` held a value, since the last `Low`
    /// pop. Reset to 0 by every `Low` pop; when it reaches `LOW_AFTER` the
    /// next pop tries `Low` first. `SeqCst`, so that the bound with several
    /// consumers can be argued in real-time order (a pop that starts after
    /// the count reached `LOW_AFTER` reads it).
    skipped: AtomicUsize,
}

impl<T, const N: usize> Prioritized<EventQueue<T, N>> {
    const_unless_loom! {
        /// An empty queue. Same `N` rules as [`EventQueue::new`].
        ///
        /// # Examples
        ///
        /// ```
        /// static Q: evlatch::PriorityQueue<u8, 4> = evlatch::PriorityQueue::new();
        /// assert!(Q.is_empty());
        /// ```
        #[must_use = "a queue does nothing until values are pushed into it"]
        pub fn new() -> Self {
            Self::from_levels(EventQueue::new(), EventQueue::new())
        }
    }
}

impl<Q: Level> Prioritized<Q> {
    /// How many `High` values one consumer takes in a row while a `Low`
    /// value waits ([`LOW_AFTER`]).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(evlatch::PriorityQueue::<u8, 2>::LOW_AFTER, evlatch::queue::LOW_AFTER);
    /// ```
    pub const LOW_AFTER: usize = LOW_AFTER;

    const_unless_loom! {
        /// A queue over two empty level queues, `high` and `low` (of the same
        /// capacity, for [`capacity`](Self::capacity) to mean one thing).
        ///
        /// # Examples
        ///
        /// ```
        /// use evlatch::queue::Prioritized;
        /// let q = Prioritized::from_levels(
        ///     evlatch::EventQueue::<u8, 2>::new(),
        ///     evlatch::EventQueue::new(),
        /// );
        /// assert!(q.is_empty());
        /// ```
        #[must_use = "a queue does nothing until values are pushed into it"]
        pub fn from_levels(high: Q, low: Q) -> Self {
            Prioritized {
                high,
                low,
                skipped: AtomicUsize::new(0),
            }
        }
    }

    /// Pushes `value` at the back of its level, or hands it back when that
    /// level is full.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch::{Priority, PriorityQueue};
    /// let q = PriorityQueue::<u8, 1>::new();
    /// q.try_push(1, Priority::High).unwrap();
    /// assert_eq!(q.try_push(2, Priority::High).unwrap_err().0, 2);
    /// q.try_push(3, Priority::Low).unwrap();
    /// ```
    pub fn try_push(&self, value: Q::Item, priority: Priority) -> Result<(), Full<Q::Item>> {
        self.level(priority).try_push(value)
    }

    /// Pushes `value` at the back of its level, displacing and returning that
    /// level's oldest value when it is full (see
    /// [`EventQueue::force_push`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch::{Priority, PriorityQueue};
    /// let q = PriorityQueue::<u8, 1>::new();
    /// assert_eq!(q.force_push(1, Priority::Low), None);
    /// assert_eq!(q.force_push(2, Priority::Low), Some(1));
    /// assert_eq!(q.dropped(), 1);
    /// ```
    pub fn force_push(&self, value: Q::Item, priority: Priority) -> Option<Q::Item> {
        self.level(priority).force_push(value)
    }

    /// Pops a value: `High` first, `Low` when `High` is empty or the
    /// starvation guard says `Low`'s turn has come.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch::{Priority, PriorityQueue};
    /// let q = PriorityQueue::<u8, 2>::new();
    /// q.try_push(1, Priority::Low).unwrap();
    /// assert_eq!(q.try_pop(), Some(1));
    /// assert_eq!(q.try_pop(), None);
    /// ```
    pub fn try_pop(&self) -> Option<Q::Item> {
        self.try_pop_with_priority().map(|(value, _)| value)
    }

    /// As [`try_pop`](Self::try_pop), also saying which level the value came
    /// from.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch::{Priority, PriorityQueue};
    /// let q = PriorityQueue::<u8, 2>::new();
    /// q.try_push(5, Priority::High).unwrap();
    /// assert_eq!(q.try_pop_with_priority(), Some((5, Priority::High)));
    /// ```
    pub fn try_pop_with_priority(&self) -> Option<(Q::Item, Priority)> {
        if self.skipped.load(SeqCst) >= LOW_AFTER {
            if let Some(value) = self.pop_low() {
                return Some((value, Priority::Low));
            }
        }
        if let Some(value) = self.high.try_pop() {
            if !self.low.is_empty() {
                self.skipped.fetch_add(1, SeqCst);
            }
            return Some((value, Priority::High));
        }
        self.pop_low().map(|value| (value, Priority::Low))
    }

    /// Pops up to `max` values into `out` in [`try_pop`](Self::try_pop)
    /// order; returns how many.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch::{Priority, PriorityQueue};
    /// let q = PriorityQueue::<u8, 2>::new();
    /// q.try_push(1, Priority::Low).unwrap();
    /// q.try_push(2, Priority::High).unwrap();
    /// let mut out = Vec::new();
    /// assert_eq!(q.pop_batch(&mut out, 5), 2);
    /// assert_eq!(out, [2, 1]);
    /// ```
    pub fn pop_batch(&self, out: &mut impl Extend<Q::Item>, max: usize) -> usize {
        let mut taken = 0;
        out.extend(core::iter::from_fn(|| {
            if taken == max {
                return None;
            }
            let value = self.try_pop()?;
            taken += 1;
            Some(value)
        }));
        taken
    }

    /// Values in both levels (same caveat as [`EventQueue::len`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch::{Priority, PriorityQueue};
    /// let q = PriorityQueue::<u8, 2>::new();
    /// q.try_push(1, Priority::Low).unwrap();
    /// q.try_push(2, Priority::High).unwrap();
    /// assert_eq!(q.len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        self.high.len() + self.low.len()
    }

    /// Values in one level.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch::{Priority, PriorityQueue};
    /// let q = PriorityQueue::<u8, 2>::new();
    /// q.try_push(1, Priority::Low).unwrap();
    /// assert_eq!(q.len_of(Priority::Low), 1);
    /// assert_eq!(q.len_of(Priority::High), 0);
    /// ```
    pub fn len_of(&self, priority: Priority) -> usize {
        self.level(priority).len()
    }

    /// Whether both levels are empty.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = evlatch::PriorityQueue::<u8, 2>::new();
    /// assert!(q.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.high.is_empty() && self.low.is_empty()
    }

    /// Capacity of each level, `N`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(evlatch::PriorityQueue::<u8, 4>::new().capacity(), 4);
    /// ```
    pub fn capacity(&self) -> usize {
        self.high.capacity()
    }

    /// Values displaced by `force_push` on either level.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch::{Priority, PriorityQueue};
    /// let q = PriorityQueue::<u8, 1>::new();
    /// q.force_push(1, Priority::High);
    /// q.force_push(2, Priority::High);
    /// assert_eq!(q.dropped(), 1);
    /// ```
    pub fn dropped(&self) -> u64 {
        self.high.dropped() + self.low.dropped()
    }

    /// The queue of one level, for that level's own methods (e.g.
    /// [`StampQueue::try_push_if`](crate::StampQueue::try_push_if)). A
    /// push straight into it is a push at that priority; popping from it
    /// bypasses the starvation guard.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch::queue::Prioritized;
    /// use evlatch::{Priority, StampQueue};
    /// let q = Prioritized::from_levels(StampQueue::<u8, 2>::new(), StampQueue::new());
    /// q.level(Priority::Low).try_push_if(5, || true).unwrap();
    /// assert_eq!(q.try_pop(), Some(5));
    /// ```
    pub fn level(&self, priority: Priority) -> &Q {
        match priority {
            Priority::High => &self.high,
            Priority::Low => &self.low,
        }
    }

    fn pop_low(&self) -> Option<Q::Item> {
        let value = self.low.try_pop()?;
        self.skipped.store(0, SeqCst);
        Some(value)
    }
}

impl<T, const N: usize> Default for Prioritized<EventQueue<T, N>> {
    fn default() -> Self {
        Self::new()
    }
}

impl<Q: Level + fmt::Debug> fmt::Debug for Prioritized<Q> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PriorityQueue")
            .field("high", &self.high)
            .field("low", &self.low)
            .finish_non_exhaustive()
    }
}
