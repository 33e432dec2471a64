//! A test-only hook that lets a test stop a thread in the middle of a queue
//! operation, to check that the other threads still complete theirs.
//!
//! Compiled only with `RUSTFLAGS="--cfg evlatch_stall_hook"`; without it every
//! [`point`] call compiles to nothing. Not part of the stable API.

/// Where a thread is inside a queue operation when the hook is called.
///
/// The three push points lie between a producer's reservation (of a free
/// slot, or of a ticket in the ready ring) and its completion; the three pop
/// points likewise for a consumer. `force_push` passes through push points and,
/// when the queue is full, through [`StallPoint::PopReadyTicket`] and
/// [`StallPoint::PopHoldsSlot`] too.
///
/// # Examples
///
/// ```
/// # #[cfg(evlatch_stall_hook)] {
/// use evlatch::stall::StallPoint;
/// assert!(StallPoint::PUSH.contains(&StallPoint::PushHoldsSlot));
/// # }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StallPoint {
    /// A producer took a ticket of the free-slot ring (`head` incremented)
    /// and has not yet looked at its entry.
    PushFreeTicket,
    /// A producer owns a free slot; its value is not yet written nor
    /// published.
    PushHoldsSlot,
    /// A producer took a ticket of the ready ring (`tail` incremented) and has
    /// not yet published its slot in that entry (the point at which a
    /// Vyukov-style ring blocks everyone once it wraps).
    PushReadyTicket,
    /// A consumer took a ticket of the ready ring (`head` incremented) and has
    /// not yet consumed its entry.
    PopReadyTicket,
    /// A consumer owns a full slot; its value is not yet moved out and the
    /// slot not yet freed.
    PopHoldsSlot,
    /// A consumer took a ticket of the free-slot ring (`tail` incremented) to
    /// give its slot back and has not yet written the entry.
    PopFreeTicket,
    /// A thread of the stamp ring found a neighbour's push or pop in flight
    /// on the slot it needs and is about to wait one round for it (called
    /// once per round; not in [`PUSH`](Self::PUSH) or [`POP`](Self::POP)).
    WaitsForNeighbour,
}

#[cfg_attr(not(evlatch_stall_hook), allow(dead_code))]
impl StallPoint {
    /// The points a producer passes, in order.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(evlatch_stall_hook)] {
    /// assert_eq!(evlatch::stall::StallPoint::PUSH.len(), 3);
    /// # }
    /// ```
    pub const PUSH: [StallPoint; 3] = [
        StallPoint::PushFreeTicket,
        StallPoint::PushHoldsSlot,
        StallPoint::PushReadyTicket,
    ];

    /// The points a consumer passes, in order.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(evlatch_stall_hook)] {
    /// assert_eq!(evlatch::stall::StallPoint::POP.len(), 3);
    /// # }
    /// ```
    pub const POP: [StallPoint; 3] = [
        StallPoint::PopReadyTicket,
        StallPoint::PopHoldsSlot,
        StallPoint::PopFreeTicket,
    ];
}

#[cfg(evlatch_stall_hook)]
mod hook {
    use super::StallPoint;
    use crate::sync::statics::AtomicPtr;
    use crate::sync::Ordering;

    /// The installed hook, a `fn(StallPoint)` cast to a pointer; null for none.
    /// Written by [`set_hook`] outside any model, read on every stall point.
    static HOOK: AtomicPtr<()> = AtomicPtr::new(core::ptr::null_mut());

    /// Installs `hook` (or removes it with `None`) for every queue in the
    /// process. The hook runs on the thread that reaches a [`StallPoint`]; it
    /// may block that thread for as long as it likes.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(evlatch_stall_hook)] {
    /// use evlatch::stall::{set_hook, StallPoint};
    /// fn log(_: StallPoint) {}
    /// set_hook(Some(log));
    /// let q = evlatch::EventQueue::<u8, 2>::new();
    /// q.try_push(1).unwrap();
    /// set_hook(None);
    /// # }
    /// ```
    pub fn set_hook(hook: Option<fn(StallPoint)>) {
        let ptr = hook.map_or(core::ptr::null_mut(), |f| f as *mut ());
        // Release: a thread that sees the pointer sees the function it names.
        HOOK.store(ptr, Ordering::Release);
    }

    /// Calls the hook, if one is installed.
    #[inline]
    pub(crate) fn point(at: StallPoint) {
        let ptr = HOOK.load(Ordering::Acquire);
        if !ptr.is_null() {
            // SAFETY: HOOK only ever holds null or a `fn(StallPoint)` cast to
            // a pointer by `set_hook`; function pointers and data pointers
            // have the same size on every target Rust supports here.
            let f: fn(StallPoint) = unsafe { core::mem::transmute::<*mut (), fn(StallPoint)>(ptr) };
            f(at);
        }
    }
}

#[cfg(evlatch_stall_hook)]
pub use hook::set_hook;

#[cfg(evlatch_stall_hook)]
pub(crate) use hook::point;

/// Without the hook cfg a stall point is nothing.
#[cfg(not(evlatch_stall_hook))]
#[inline(always)]
pub(crate) fn point(_at: StallPoint) {}
