//! The storage behind a channel: one core ring, or two for the priority
//! levels, all [`evlatch::HeapStampQueue`]s (lock-free, bounded), holding
//! exactly the capacity asked for.
//!
//! The core rings take powers of two only. A capacity `n` that is one is
//! the ring's own size, and the ring enforces it. Any other `n` gets the
//! next power of two's ring behind a *gate*: a count of the room held on
//! each level, taken (`held < n` → `held + 1`, one CAS) before a value is
//! pushed and given back after one is popped. The ring then never holds
//! more than `n` values, so a push into it never finds it full.

use crossbeam_utils::CachePadded;
use evlatch::queue::{Prioritized, PushIfError};
use evlatch::HeapStampQueue;

use super::CapacityError;
use crate::sync::{AtomicU64, AtomicUsize, Backoff, Ordering};

pub use evlatch::Priority;

/// With a waiting `Low` value, after this many `High` values in a row the
/// next receive serves `Low` (with `C` concurrent receivers, at most
/// `LOW_PRIORITY_EVERY + C - 1`): the core's one starvation guard,
/// [`evlatch::queue::LOW_AFTER`], which the priority store
/// ([`evlatch::queue::Prioritized`]) applies.
///
/// # Examples
///
/// ```
/// use evlatch_std::channel::{bounded_priority, Priority, LOW_PRIORITY_EVERY};
/// let (tx, rx) = bounded_priority(16).unwrap();
/// tx.send_with_priority(0, Priority::Low).unwrap();
/// for i in 1..=10 {
///     tx.send_with_priority(i, Priority::High).unwrap();
/// }
/// let order: Vec<i32> = rx.try_iter().collect();
/// assert_eq!(order.iter().position(|&v| v == 0), Some(LOW_PRIORITY_EVERY));
/// ```
pub const LOW_PRIORITY_EVERY: usize = evlatch::queue::LOW_AFTER;

/// The rings of one channel.
// One per channel, built once and never moved afterwards: boxing the
// larger variant would only add an indirection to every operation.
#[allow(clippy::large_enum_variant)]
enum Rings<T> {
    Fifo(HeapStampQueue<T>),
    /// Two levels with the core's starvation guard.
    Priority(Prioritized<HeapStampQueue<T>>),
}

pub(crate) struct Store<T> {
    rings: Rings<T>,
    /// Values each level holds at most: exactly the capacity asked for.
    capacity: usize,
    /// `Some` when the rings are larger than `capacity` (it is not a power
    /// of two); `None` when each ring is exactly `capacity` and enforces it.
    gate: Option<Gate>,
}

/// The room held on each level of a gated store.
///
/// `held[level]` counts the values that have room on that level: taken
/// by a push before it claims a ring position, given back by a pop after
/// it has claimed (and read) its value. So at every instant
/// `values in the ring ≤ held ≤ capacity < ring size`, and a push into the
/// ring never finds it full. Moves: `h → h + 1` only by a CAS that saw
/// `h < capacity` (a send taking room); `h → h - 1` only by the pop that
/// took a value pushed under it.
struct Gate {
    held: [CachePadded<AtomicUsize>; 2],
    /// Values a lossy send displaced (the ring counts only its own
    /// `force_push`es, which a gated store does not use).
    displaced: AtomicU64,
}

/// A ring of exactly `capacity` slots when that is a power of two, else of
/// the next power of two (the caller gates it).
fn ring<T>(capacity: usize) -> Result<HeapStampQueue<T>, CapacityError> {
    if capacity == 0 {
        return Err(CapacityError::Zero);
    }
    let slots = capacity
        .checked_next_power_of_two()
        .ok_or(CapacityError::TooLarge)?;
    HeapStampQueue::with_capacity(slots)
}

/// Which `held` counter a value of `priority` uses (a FIFO store uses
/// `Low`'s).
fn level(priority: Priority) -> usize {
    match priority {
        Priority::High => 0,
        Priority::Low => 1,
    }
}

impl<T> Store<T> {
    pub(crate) fn fifo(capacity: usize) -> Result<Self, CapacityError> {
        Ok(Self::gated(Rings::Fifo(ring(capacity)?), capacity))
    }

    pub(crate) fn priority(capacity: usize) -> Result<Self, CapacityError> {
        let rings = Prioritized::from_levels(ring(capacity)?, ring(capacity)?);
        Ok(Self::gated(Rings::Priority(rings), capacity))
    }

    fn gated(rings: Rings<T>, capacity: usize) -> Self {
        let gate = (!capacity.is_power_of_two()).then(|| Gate {
            held: [
                CachePadded::new(AtomicUsize::new(0)),
                CachePadded::new(AtomicUsize::new(0)),
            ],
            displaced: AtomicU64::new(0),
        });
        Store {
            rings,
            capacity,
            gate,
        }
    }

    /// Pushes, or hands the value back: `Full` when its level holds
    /// `capacity` values (counting sends and receives in flight, under a
    /// gate), `Refused` when the store is closed.
    ///
    /// Atomic with [`close`](Self::close) and the pops after it: a push
    /// that lands took room that existed before the close. Under a gate
    /// the gate's closed bit decides (one CAS); a bare ring asks `open`
    /// between seeing its slot free and claiming it
    /// (`StampQueue::try_push_if`), so `open` must read the closer's flag
    /// with `Acquire` or stronger.
    #[inline]
    pub(crate) fn try_push(
        &self,
        value: T,
        priority: Priority,
        open: impl FnMut() -> bool,
    ) -> Result<(), PushIfError<T>> {
        if let Some(gate) = &self.gate {
            return match gate.take(level(priority), self.capacity) {
                Room::Taken => self
                    .push_into_ring(value, priority)
                    .map_err(PushIfError::Full),
                Room::Full => Err(PushIfError::Full(value)),
                Room::Closed => Err(PushIfError::Refused(value)),
            };
        }
        match &self.rings {
            Rings::Fifo(q) => q.try_push_if(value, open),
            Rings::Priority(q) => q.level(priority).try_push_if(value, open),
        }
    }

    /// Closes the gate, if there is one, so that no send takes room any
    /// more (the room the closer's pops give back stays unused). The
    /// caller (the last receiver) has made its `open` check false first.
    pub(crate) fn close(&self) {
        if let Some(gate) = &self.gate {
            for held in &gate.held {
                // SeqCst: with the sends' CAS, one order of close and take.
                held.fetch_or(CLOSED, Ordering::SeqCst);
            }
        }
    }

    /// Pushes; when the level is full, displaces the oldest value and
    /// returns it (counted in `dropped`).
    pub(crate) fn force_push(&self, value: T, priority: Priority) -> Option<T> {
        let Some(gate) = &self.gate else {
            return match &self.rings {
                Rings::Fifo(q) => q.force_push(value),
                Rings::Priority(q) => q.force_push(value, priority),
            };
        };
        let lvl = level(priority);
        let mut backoff = Backoff::new();
        loop {
            match gate.take(lvl, self.capacity) {
                Room::Taken => return self.push_into_ring(value, priority).err(),
                // The receivers are gone: the caller drops it (not counted
                // as displaced: it was sent as the channel closed).
                Room::Closed => return Some(value),
                Room::Full => {}
            }
            // Full: take the oldest value and its room.
            let oldest = match &self.rings {
                Rings::Fifo(q) => q.try_pop(),
                // No lossy priority channel exists; a level's oldest value
                // cannot be taken alone, so the newest is the one displaced.
                Rings::Priority(_) => {
                    gate.displaced.fetch_add(1, Ordering::Relaxed);
                    return Some(value);
                }
            };
            if let Some(oldest) = oldest {
                gate.displaced.fetch_add(1, Ordering::Relaxed);
                // The room `oldest` held is this value's now.
                return match self.push_into_ring(value, priority) {
                    Ok(()) => Some(oldest),
                    // Unreachable (the room is held); never lose either.
                    Err(value) => {
                        drop(oldest);
                        Some(value)
                    }
                };
            }
            // Every unit of room is held by a send or a receive in flight:
            // it ends in a few instructions.
            backoff.snooze();
        }
    }

    /// A push into the ring of `priority` under room this thread holds (or
    /// with no gate). Under a gate it cannot find the ring full; if it did
    /// (a broken invariant), it gives the room back and the value too.
    #[inline]
    fn push_into_ring(&self, value: T, priority: Priority) -> Result<(), T> {
        let pushed = match &self.rings {
            Rings::Fifo(q) => q.try_push(value),
            Rings::Priority(q) => q.try_push(value, priority),
        }
        .map_err(|full| full.0);
        if pushed.is_err() {
            if let Some(gate) = &self.gate {
                debug_assert!(false, "a gated ring was full");
                gate.give_back(level(priority));
            }
        }
        pushed
    }

    #[inline]
    pub(crate) fn try_pop(&self) -> Option<T> {
        match (&self.rings, &self.gate) {
            (Rings::Fifo(q), None) => q.try_pop(),
            (Rings::Priority(q), None) => q.try_pop(),
            (Rings::Fifo(q), Some(gate)) => {
                let value = q.try_pop()?;
                gate.give_back(level(Priority::Low));
                Some(value)
            }
            (Rings::Priority(q), Some(gate)) => {
                let (value, priority) = q.try_pop_with_priority()?;
                gate.give_back(level(priority));
                Some(value)
            }
        }
    }

    /// Whether a pop may succeed now: the ring's cheap hint for retry
    /// loops (the priority store gives none, so it says "maybe").
    #[inline]
    pub(crate) fn pop_may_succeed(&self) -> bool {
        match &self.rings {
            Rings::Fifo(q) => q.pop_may_succeed(),
            Rings::Priority(_) => true,
        }
    }

    /// Whether a push at `priority` may succeed now (see `pop_may_succeed`).
    #[inline]
    pub(crate) fn push_may_succeed(&self, priority: Priority) -> bool {
        match (&self.rings, &self.gate) {
            (_, Some(gate)) => {
                // Relaxed: a hint; `try_push` decides.
                // (A closed gate's counter is at least `CLOSED`.)
                gate.held[level(priority)].load(Ordering::Relaxed) < self.capacity
            }
            (Rings::Fifo(q), None) => q.push_may_succeed(),
            (Rings::Priority(_), None) => true,
        }
    }

    /// Values queued now (an estimate while operations are in flight).
    pub(crate) fn len(&self) -> usize {
        match &self.rings {
            Rings::Fifo(q) => q.len().min(self.capacity),
            Rings::Priority(q) => {
                q.len_of(Priority::High).min(self.capacity)
                    + q.len_of(Priority::Low).min(self.capacity)
            }
        }
    }

    /// Whether a send at any priority would find its level full now (the
    /// same estimate as `len`).
    pub(crate) fn is_full(&self) -> bool {
        match &self.rings {
            Rings::Fifo(q) => q.len() >= self.capacity,
            Rings::Priority(q) => {
                q.len_of(Priority::High) >= self.capacity
                    && q.len_of(Priority::Low) >= self.capacity
            }
        }
    }

    /// Values each level holds at most: the capacity asked for.
    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    pub(crate) fn dropped(&self) -> u64 {
        let ring = match &self.rings {
            Rings::Fifo(q) => q.dropped(),
            Rings::Priority(q) => q.dropped(),
        };
        let gated = self
            .gate
            .as_ref()
            .map_or(0, |g| g.displaced.load(Ordering::Relaxed));
        ring + gated
    }
}

/// The bit of a `held` counter that says the gate is closed (the last
/// receiver is gone): no send takes room after it is set.
const CLOSED: usize = 1 << (usize::BITS - 1);

/// What [`Gate::take`] found.
enum Room {
    /// One unit of room is this thread's now.
    Taken,
    /// The level held `capacity` at the instant of the load or failed CAS
    /// that saw it.
    Full,
    /// The gate is closed.
    Closed,
}

impl Gate {
    /// Takes one unit of room on `level` if it holds fewer than `capacity`
    /// and the gate is open.
    #[inline]
    fn take(&self, level: usize, capacity: usize) -> Room {
        let held = &self.held[level];
        // Relaxed load: only a start value for the CAS, which decides.
        let mut now = held.load(Ordering::Relaxed);
        loop {
            if now & CLOSED != 0 {
                return Room::Closed;
            }
            if now >= capacity {
                return Room::Full;
            }
            // AcqRel: the room taken here was given back by a pop that
            // claimed its ring position first (release there, acquire
            // here), so this push's claim comes after that pop's.
            match held.compare_exchange_weak(now, now + 1, Ordering::AcqRel, Ordering::Relaxed) {
                Ok(_) => return Room::Taken,
                Err(seen) => now = seen,
            }
        }
    }

    /// Gives back one unit of room on `level` (after a pop).
    #[inline]
    fn give_back(&self, level: usize) {
        // AcqRel: see `take`.
        let before = self.held[level].fetch_sub(1, Ordering::AcqRel);
        debug_assert!(before & !CLOSED > 0, "room given back that was never taken");
    }
}
