//! The event: Caffe2's `Initialized → Scheduled → Success | Failed`
//! state machine, lock-free.

mod callbacks;
mod loom_pool;
mod message;
pub(crate) mod state;
#[cfg(test)]
mod tests;

use core::fmt;

pub use callbacks::INLINE_CALLBACKS;
pub use message::{ErrorMessage, MESSAGE_CAPACITY};

use crate::error::EventError;
use crate::sync::{fence, spin_hint, AtomicU32, Ordering};
use crate::wake::{self, Finished, Snapshot, WakeArm};
#[cfg(feature = "alloc")]
use callbacks::Closure;
use callbacks::{Callback, CallbackList, Entry, FnCallback, Slot};
use message::MessageCell;
use state::*;

/// The status of an [`Event`].
///
/// # Examples
///
/// ```
/// use evlatch::{Event, EventStatus};
/// let event = Event::new();
/// assert_eq!(event.status(), EventStatus::Initialized);
/// event.record().unwrap();
/// assert_eq!(event.status(), EventStatus::Scheduled);
/// event.set_finished().unwrap();
/// assert_eq!(event.status(), EventStatus::Success);
/// assert!(event.status().is_finished());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum EventStatus {
    /// Created or reset; not yet recorded.
    Initialized = 0,
    /// Recorded: the work it marks is under way.
    Scheduled = 1,
    /// Finished successfully.
    Success = 2,
    /// Finished with an error; see [`Event::error_message`].
    Failed = 3,
}

impl EventStatus {
    /// Whether this is `Success` or `Failed`.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch::EventStatus;
    /// assert!(EventStatus::Failed.is_finished());
    /// assert!(!EventStatus::Scheduled.is_finished());
    /// ```
    pub const fn is_finished(self) -> bool {
        matches!(self, EventStatus::Success | EventStatus::Failed)
    }

    /// The status whose `status as u8` is `byte` (`Initialized` 0,
    /// `Scheduled` 1, `Success` 2, `Failed` 3); `None` for any other byte.
    /// The one decoder for a status stored as a byte (in an `AtomicU8`, say):
    /// `as u8` encodes, this decodes.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch::EventStatus;
    /// for status in [
    ///     EventStatus::Initialized,
    ///     EventStatus::Scheduled,
    ///     EventStatus::Success,
    ///     EventStatus::Failed,
    /// ] {
    ///     assert_eq!(EventStatus::from_u8(status as u8), Some(status));
    /// }
    /// assert_eq!(EventStatus::from_u8(4), None);
    /// ```
    #[inline]
    pub const fn from_u8(byte: u8) -> Option<Self> {
        match byte as u32 {
            INITIALIZED => Some(EventStatus::Initialized),
            SCHEDULED => Some(EventStatus::Scheduled),
            SUCCESS => Some(EventStatus::Success),
            FAILED => Some(EventStatus::Failed),
            _ => None,
        }
    }

    /// The status field of a state word.
    #[inline]
    pub(crate) const fn from_bits(bits: u32) -> Self {
        // Two bits hold exactly the four statuses (no panic path: this sits
        // on every finish and every callback).
        match bits & STATUS_MASK {
            INITIALIZED => EventStatus::Initialized,
            SCHEDULED => EventStatus::Scheduled,
            SUCCESS => EventStatus::Success,
            _ => EventStatus::Failed,
        }
    }
}

impl fmt::Display for EventStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EventStatus::Initialized => "initialized",
            EventStatus::Scheduled => "scheduled",
            EventStatus::Success => "success",
            EventStatus::Failed => "failed",
        })
    }
}

/// An event: `Initialized → Scheduled → Success | Failed`.
///
/// One atomic state word holds the status, a generation counter and the
/// flags of the protocol (the full table is in `event/state.rs`). The legal
/// transitions are exactly:
///
/// | from \ call   | `record()`            | `set_finished()`      | `set_failed(msg)`     | `reset()`                 |
/// |---------------|-----------------------|-----------------------|-----------------------|---------------------------|
/// | Initialized   | → Scheduled           | → Success             | → Failed              | no change, `Ok`           |
/// | Scheduled     | `Err(AlreadyRecorded)`| → Success             | → Failed              | `Err(InFlight)`           |
/// | Success       | `Err(AlreadyFinished)`| `Err(AlreadyFinished)`| `Err(AlreadyFinished)`| → Initialized, gen + 1    |
/// | Failed        | `Err(AlreadyFinished)`| `Err(AlreadyFinished)`| `Err(AlreadyFinished)`, first message kept | → Initialized, gen + 1 |
///
/// A call that returns an error leaves the event unchanged.
///
/// # Costs and progress
///
/// - [`status`](Self::status), [`is_finished`](Self::is_finished): one load.
/// - [`record`](Self::record), [`set_finished`](Self::set_finished) with no
///   callbacks and no armed waiters, [`reset`](Self::reset) with no
///   callbacks: one compare-and-swap each (plus one load).
/// - The first callback of a generation lives in an inline slot: registering
///   it costs two read-modify-writes and no allocation for
///   [`on_finished_fn`](Self::on_finished_fn) and for an `on_finished`
///   closure that captures at most two words (a larger closure: one, its
///   box); finishing and resetting cost no read-modify-write more for it.
///   Each later callback goes to a list: three read-modify-writes to register
///   and, under `alloc`, one allocation (node and closure together); the
///   finish then costs two more read-modify-writes (taking the list), and
///   the reset a few plain stores more (reopening it).
/// - Every operation is lock-free except in two bounded windows where one
///   thread waits for another's bookkeeping (never for user code):
///   `reset` of an event that had callbacks registered waits for
///   registrations already in flight and for the finisher to take the list
///   (a handful of atomic operations); and a `record` / `set_finished` /
///   `set_failed` that loses to a concurrent `set_failed` waits until that
///   one has copied its message and published `Failed` (so the loser, told
///   `AlreadyFinished`, then sees a finished status). Registering a callback
///   is lock-free too, with two more such windows: while 15 registrations
///   are in flight on one event, a 16th waits for one; and the first
///   registration of a generation waits, if the previous generation's
///   finisher has not yet moved its slot callback out (a few instructions
///   after its finishing CAS, never user code). Each window waits for
///   another thread to make progress: on a single core, an interrupt handler
///   that preempts a thread inside such a window must not register, reset or
///   finish on that same event, or it spins forever.
///
/// # Callbacks
///
/// Registered with `&self` (`on_finished` under `alloc`,
/// [`on_finished_fn`](Self::on_finished_fn) always). Each runs exactly once,
/// with the outcome, and never while anything is locked, so a callback may
/// call back into the event (even `reset` it):
///
/// - callbacks registered before the finish run on the finishing thread, in
///   registration order, before `set_finished` / `set_failed` returns;
/// - a registration that finds the event already finished runs its callback
///   at once on the registering thread. If it races the finish, it may run
///   while the finisher is still running the earlier callbacks: order is
///   guaranteed among the callbacks one thread runs, not across threads
///   (keeping it would make late registrants wait for user code);
/// - a panicking callback (or wake hook) does not lose the others: they
///   still run, then the panic continues on the finishing thread. A second
///   panic during that unwinding aborts the process (see
///   [`on_finished_fn`](Self::on_finished_fn)).
///
/// # Waiting
///
/// Waiting is the shells' job (`evlatch-std` blocks and awaits). The core
/// gives them [`snapshot`](Self::snapshot) + [`wake::arm`](crate::wake::arm)
/// and a registry of wake hooks ([`crate::wake`]); see there for the contract.
///
/// # Examples
///
/// ```
/// use evlatch::{Event, EventError, EventStatus};
///
/// let event = Event::new();
/// event.record()?;
/// assert_eq!(event.record(), Err(EventError::AlreadyRecorded));
/// event.set_failed("device lost")?;
/// assert_eq!(event.status(), EventStatus::Failed);
/// assert_eq!(event.error_message().unwrap().as_str(), "device lost");
/// event.reset()?;
/// assert_eq!(event.status(), EventStatus::Initialized);
/// # Ok::<(), EventError>(())
/// ```
pub struct Event {
    /// The state word; layout and transition table in `event/state.rs`.
    state: AtomicU32,
    /// Written only under the FINISHING claim; read as a seqlock on `state`.
    message: MessageCell,
    /// The first callback of a generation (`SLOT_CLAIMED` / `SLOT_READY`).
    slot: Slot,
    /// Later callbacks. Open while unfinished; taken (closed) by the
    /// finisher; reopened by reset.
    callbacks: CallbackList,
}

impl Event {
    /// A new event, `Initialized`, generation 0.
    ///
    /// # Examples
    ///
    /// ```
    /// static DONE: evlatch::Event = evlatch::Event::new();
    /// assert!(!DONE.is_finished());
    /// ```
    #[cfg(not(evlatch_loom))]
    #[must_use]
    pub const fn new() -> Self {
        Self {
            state: AtomicU32::new(INITIALIZED),
            message: MessageCell::new(),
            slot: Slot::new(),
            callbacks: CallbackList::new(),
        }
    }

    /// A new event (not `const` under loom).
    #[cfg(evlatch_loom)]
    #[must_use]
    pub fn new() -> Self {
        Self {
            state: AtomicU32::new(INITIALIZED),
            message: MessageCell::new(),
            slot: Slot::new(),
            callbacks: CallbackList::new(),
        }
    }

    /// The current status: one acquiring load. A thread that sees `Success`
    /// or `Failed` also sees everything the finishing thread wrote before it
    /// finished the event.
    ///
    /// # Examples
    ///
    /// ```
    /// let event = evlatch::Event::new();
    /// assert_eq!(event.status(), evlatch::EventStatus::Initialized);
    /// ```
    #[inline]
    pub fn status(&self) -> EventStatus {
        status(self.state.load(Ordering::Acquire))
    }

    /// Whether the event is `Scheduled`.
    ///
    /// # Examples
    ///
    /// ```
    /// let event = evlatch::Event::new();
    /// event.record().unwrap();
    /// assert!(event.is_scheduled());
    /// ```
    #[inline]
    pub fn is_scheduled(&self) -> bool {
        self.status() == EventStatus::Scheduled
    }

    /// Whether the event is `Success` or `Failed`: one load.
    ///
    /// # Examples
    ///
    /// ```
    /// let event = evlatch::Event::new();
    /// event.set_finished().unwrap();
    /// assert!(event.is_finished());
    /// ```
    #[inline]
    pub fn is_finished(&self) -> bool {
        is_finished(self.state.load(Ordering::Acquire))
    }

    /// The status and generation, in one load: a [`wake::Snapshot`], what
    /// a shell hands to [`wake::arm`].
    ///
    /// # Examples
    ///
    /// ```
    /// let event = evlatch::Event::new();
    /// let snap = event.snapshot();
    /// assert_eq!(snap.status(), evlatch::EventStatus::Initialized);
    /// assert_eq!(snap.generation(), 0);
    /// ```
    #[inline]
    pub fn snapshot(&self) -> Snapshot {
        Snapshot::from_word(self.state.load(Ordering::Acquire))
    }

    /// Marks the work as scheduled: `Initialized → Scheduled`.
    ///
    /// # Errors
    ///
    /// [`EventError::AlreadyRecorded`] if it is `Scheduled`;
    /// [`EventError::AlreadyFinished`] if it is finished or finishing. Reset
    /// a finished event before recording it again.
    ///
    /// # Examples
    ///
    /// ```
    /// let event = evlatch::Event::new();
    /// assert!(event.record().is_ok());
    /// assert_eq!(event.record(), Err(evlatch::EventError::AlreadyRecorded));
    /// ```
    #[inline]
    pub fn record(&self) -> Result<(), EventError> {
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            if s & FINISHING != 0 {
                self.await_publication();
                return Err(EventError::AlreadyFinished);
            }
            match status_bits(s) {
                INITIALIZED => {}
                SCHEDULED => return Err(EventError::AlreadyRecorded),
                _ => return Err(EventError::AlreadyFinished),
            }
            // AcqRel: record orders the recorder's earlier writes before any
            // later observer of `Scheduled` (and costs nothing extra on x86).
            match self.state.compare_exchange_weak(
                s,
                s | SCHEDULED,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Ok(()),
                Err(actual) => s = actual,
            }
        }
    }

    /// Finishes the event successfully: `Initialized | Scheduled → Success`.
    ///
    /// Wakes armed waiters, then runs the callbacks on this thread, in
    /// registration order, before returning.
    ///
    /// # Errors
    ///
    /// [`EventError::AlreadyFinished`] if another finish came first.
    ///
    /// # Examples
    ///
    /// ```
    /// let event = evlatch::Event::new();
    /// event.record().unwrap();
    /// event.set_finished().unwrap();
    /// assert_eq!(event.set_finished(), Err(evlatch::EventError::AlreadyFinished));
    /// ```
    #[inline]
    pub fn set_finished(&self) -> Result<(), EventError> {
        let old = self.claim_finish(|s| finished_word(s, SUCCESS))?;
        self.after_finish(old, finished_word(old, SUCCESS));
        Ok(())
    }

    /// Finishes the event with an error: `Initialized | Scheduled → Failed`.
    ///
    /// `msg` is kept inline, cut to [`MESSAGE_CAPACITY`] bytes at a character
    /// boundary (see [`ErrorMessage::is_truncated`]).
    ///
    /// # Errors
    ///
    /// [`EventError::AlreadyFinished`] if another finish came first; the
    /// first message is kept.
    ///
    /// # Examples
    ///
    /// ```
    /// let event = evlatch::Event::new();
    /// event.set_failed("first").unwrap();
    /// assert!(event.set_failed("second").is_err());
    /// assert_eq!(event.error_message().unwrap().as_str(), "first");
    /// ```
    pub fn set_failed(&self, msg: &str) -> Result<(), EventError> {
        // 1. Claim the finish (the seqlock's "odd" step).
        let s = self.claim_finish(|s| s | FINISHING)?;
        // Release fence: a reader whose relaxed load sees any message word
        // written below will, after its acquire fence, see this claim or later.
        fence(Ordering::Release);
        self.message.write(msg);
        // 2. Publish. Others may have added WAITERS, CALLBACKS or pins
        // meanwhile, so this is a CAS loop, not a store.
        let mut s = s | FINISHING;
        loop {
            let next = finished_word(s, FAILED);
            match self
                .state
                .compare_exchange_weak(s, next, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => {
                    self.after_finish(s, next);
                    return Ok(());
                }
                Err(actual) => s = actual,
            }
        }
    }

    /// The failure message: `Some` exactly when the status is `Failed`.
    ///
    /// Returns an owned copy, so it stays valid while other threads reset
    /// and fail the event again; the copy is never torn (a seqlock over the
    /// state word, retried if a newer generation wrote meanwhile).
    ///
    /// # Examples
    ///
    /// ```
    /// let event = evlatch::Event::new();
    /// assert!(event.error_message().is_none());
    /// event.set_failed("out of memory").unwrap();
    /// assert_eq!(event.error_message().unwrap().to_string(), "out of memory");
    /// ```
    pub fn error_message(&self) -> Option<ErrorMessage> {
        const VISIBLE: u32 = STATUS_MASK | !((1 << GEN_SHIFT) - 1);
        let mut before = self.state.load(Ordering::Acquire);
        loop {
            if status_bits(before) != FAILED {
                return None;
            }
            let copy = self.message.read();
            // Acquire fence: if the copy saw a later writer's word, the reload
            // below sees that writer's claim (a changed generation).
            fence(Ordering::Acquire);
            let after = self.state.load(Ordering::Relaxed);
            if before & VISIBLE == after & VISIBLE {
                return Some(copy.into_message());
            }
            before = self.state.load(Ordering::Acquire);
        }
    }

    /// Makes a finished event reusable: `Success | Failed → Initialized`,
    /// generation + 1. On an `Initialized` event it does nothing.
    ///
    /// # Errors
    ///
    /// [`EventError::InFlight`] if the event is `Scheduled`: finish it first.
    ///
    /// # Examples
    ///
    /// ```
    /// let event = evlatch::Event::new();
    /// event.record().unwrap();
    /// assert_eq!(event.reset(), Err(evlatch::EventError::InFlight));
    /// event.set_finished().unwrap();
    /// event.reset().unwrap();
    /// event.record().unwrap(); // usable again
    /// ```
    #[inline]
    pub fn reset(&self) -> Result<(), EventError> {
        let mut s = self.state.load(Ordering::Acquire);
        loop {
            match status_bits(s) {
                INITIALIZED => return Ok(()),
                SCHEDULED => return Err(EventError::InFlight),
                _ => {}
            }
            if s & (COLLECTING | RESETTING | REG_MASK) != 0 || slot_in_flight(s) {
                // A registration or the finisher's collection is in flight:
                // a few atomic operations on another thread, never user code
                // (a slot registration: also a large closure's allocation,
                // and the wait for the previous finisher to move its entry
                // out of the slot).
                spin_hint();
                s = self.state.load(Ordering::Acquire);
                continue;
            }
            if s & CALLBACKS == 0 {
                // Fast path: the callback list was never touched.
                // AcqRel: the new generation is published to later readers;
                // acquire orders our reset after the finish we observed.
                match self.state.compare_exchange_weak(
                    s,
                    reset_word(s),
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) => return Ok(()),
                    Err(actual) => s = actual,
                }
                continue;
            }
            match self.state.compare_exchange_weak(
                s,
                s | RESETTING,
                Ordering::Acquire,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    self.callbacks.reopen();
                    // Release: publishes the reopened list with the new
                    // generation. A plain store is enough: while RESETTING is
                    // set (and the status finished) no other thread writes.
                    self.state.store(reset_word(s), Ordering::Release);
                    return Ok(());
                }
                Err(actual) => s = actual,
            }
        }
    }

    /// Runs `f` with the outcome when the event finishes (see the type's
    /// docs for exactly when and where).
    ///
    /// Allocation: none for the first callback of a generation if `f` is at
    /// most two words (16 bytes on 64-bit targets, aligned to at most a
    /// word: e.g. a closure capturing an `Arc` and an index); otherwise one
    /// (a larger first callback: `f`'s box; a later one: `f` and its list
    /// node together).
    ///
    /// # Panics
    ///
    /// A panicking callback loses nothing: the finisher still runs every
    /// other callback of the generation exactly once (the ones after it from
    /// a drop guard, while the panic unwinds), armed waiters are woken before
    /// any callback runs, the status is finished and the event can be reset;
    /// then the panic continues out of `set_finished` / `set_failed` on the
    /// finishing thread. A callback that runs at once (the event already
    /// finished) panics out of `on_finished` itself.
    ///
    /// Only one panic per finish can be survived: if a *second* callback
    /// panics while the first panic unwinds, the process aborts. The core is
    /// `no_std` and cannot catch a panic, and Rust aborts whenever a panic
    /// escapes a destructor that runs during unwinding. Under `panic = "abort"`
    /// the first panic aborts. Callbacks that may panic should catch it
    /// themselves (`std::panic::catch_unwind`).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use evlatch::{Event, EventStatus};
    ///
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let event = Event::new();
    /// for i in 0..3 {
    ///     let seen = seen.clone();
    ///     event.on_finished(move |status| seen.lock().unwrap().push((i, status)));
    /// }
    /// event.set_finished().unwrap();
    /// assert_eq!(
    ///     *seen.lock().unwrap(),
    ///     [(0, EventStatus::Success), (1, EventStatus::Success), (2, EventStatus::Success)]
    /// );
    /// // Already finished: runs at once.
    /// let seen2 = seen.clone();
    /// event.on_finished(move |status| seen2.lock().unwrap().push((3, status)));
    /// assert_eq!(seen.lock().unwrap().len(), 4);
    /// ```
    #[cfg(feature = "alloc")]
    #[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
    #[inline]
    pub fn on_finished<F>(&self, f: F)
    where
        F: FnOnce(EventStatus) + Send + 'static,
    {
        // With `alloc`, allocation never hands the callback back.
        let _ = self.register(Closure(f));
    }

    /// Runs `f(outcome, context)` when the event finishes: the form that
    /// needs no allocator.
    ///
    /// # Panics
    ///
    /// As for `on_finished`: if `f` panics, every other callback of the
    /// generation still runs exactly once and the event stays finished and
    /// resettable, then the panic continues on the finishing thread; a second
    /// panic while the first unwinds aborts the process (the `no_std` core
    /// cannot catch a panic).
    ///
    /// # Errors
    ///
    /// Without `alloc`, an event holds at most [`INLINE_CALLBACKS`] callbacks
    /// per generation; one more returns [`EventError::CallbacksFull`] and
    /// registers nothing. With `alloc` it never fails.
    ///
    /// # Examples
    ///
    /// ```
    /// use core::sync::atomic::{AtomicUsize, Ordering};
    /// use evlatch::{Event, EventStatus};
    ///
    /// static HITS: AtomicUsize = AtomicUsize::new(0);
    /// fn count(status: EventStatus, weight: usize) {
    ///     if status == EventStatus::Success {
    ///         HITS.fetch_add(weight, Ordering::Relaxed);
    ///     }
    /// }
    ///
    /// let event = Event::new();
    /// event.on_finished_fn(count, 10).unwrap();
    /// event.set_finished().unwrap();
    /// assert_eq!(HITS.load(Ordering::Relaxed), 10);
    /// ```
    #[inline]
    pub fn on_finished_fn(
        &self,
        f: fn(EventStatus, usize),
        context: usize,
    ) -> Result<(), EventError> {
        self.register(FnCallback { f, context })
    }

    /// The body of [`wake::arm`] (documented there): sets WAITERS for the
    /// generation `seen` came from, or says how that generation finished.
    #[inline]
    pub(crate) fn arm_wake(&self, seen: Snapshot) -> WakeArm {
        let mut s = self.state.load(Ordering::Acquire);
        loop {
            if generation(s) != seen.generation() {
                // Only a reset out of a finished status moves the generation.
                return WakeArm::Finished(previous_outcome(s));
            }
            if is_finished(s) {
                return WakeArm::Finished(status(s));
            }
            // Always a read-modify-write, even when WAITERS is already set
            // (then it writes the same word): a plain load would give a
            // second waiter no release edge to the finisher, whose hook
            // could then miss that waiter's entry in a lock-free table
            // (loom: verify/tests/loom_event.rs, two_waiters_racing_finish).
            // Release: the finisher acquires this word (its CAS reads from
            // the last arm, and every arm's RMW is in the release sequence),
            // and with it the waiter the shell stored before arming.
            match self.state.compare_exchange_weak(
                s,
                s | WAITERS,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return WakeArm::Armed,
                Err(actual) => s = actual,
            }
        }
    }

    /// Registers `callback` for this generation: in the inline slot if it is
    /// the first, else in the list; or runs it at once if the event is finished.
    #[inline]
    fn register<C: Callback>(&self, callback: C) -> Result<(), EventError> {
        // Phase 1: claim the slot, or pin the generation for the list, or
        // find the event finished.
        let mut s = self.state.load(Ordering::Acquire);
        loop {
            if is_finished(s) {
                callback.run(status(s));
                return Ok(());
            }
            let next = if s & SLOT_CLAIMED == 0 {
                s | SLOT_CLAIMED
            } else if registrations(s) == REG_MAX {
                // REG_MAX list registrations in flight: wait for one.
                spin_hint();
                s = self.state.load(Ordering::Acquire);
                continue;
            } else {
                (s + REG_ONE) | CALLBACKS
            };
            // Acquire: a finished status read later in this call orders the
            // finisher's writes before our callback.
            match self
                .state
                .compare_exchange_weak(s, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) if s & SLOT_CLAIMED == 0 => {
                    self.fill_slot(Entry::new(callback));
                    return Ok(());
                }
                Ok(_) => break,
                Err(actual) => s = actual,
            }
        }
        // Phase 2: the generation is pinned until `unpin`; push the node.
        let result = match self.callbacks.allocate(callback) {
            Err(_unregistered) => Err(EventError::CallbacksFull),
            Ok(node) => match self.callbacks.push(node) {
                Ok(()) => Ok(()),
                Err(node) => {
                    // The finisher of *this* generation took the list first:
                    // the event is finished and stays so while we are pinned.
                    let outcome = status(self.state.load(Ordering::Acquire));
                    let callback = self.callbacks.reclaim(node);
                    self.unpin();
                    callback.run(outcome);
                    return Ok(());
                }
            },
        };
        self.unpin();
        result
    }

    /// The slot claimant's second step: write the entry, publish it with
    /// `SLOT_READY`; if the finisher came in between (it saw the slot claimed
    /// but not ready, and left the entry to us), run it here.
    #[inline]
    fn fill_slot(&self, entry: Entry) {
        self.slot.fill(entry);
        // AcqRel: release publishes the entry to the finisher, whose CAS
        // acquires SLOT_READY before it reads the entry; acquire orders the
        // finisher's writes before the callback if we run it (loom, both:
        // slot_registration_racing_finish).
        let old = self.state.fetch_add(SLOT_READY, Ordering::AcqRel);
        debug_assert!(slot_in_flight(old), "only the claimant publishes the slot");
        if is_finished(old) {
            // SAFETY: the finisher's CAS started from a word without
            // SLOT_READY, so it left the entry to us.
            unsafe { self.slot.take() }.run(status(old));
        }
    }

    /// The CAS loop of both finishes: moves an unfinished, unclaimed word `s`
    /// to `next(s)` and returns `s`. Losers get `AlreadyFinished`, after any
    /// claimed finish is published.
    #[inline]
    fn claim_finish(&self, next: impl Fn(u32) -> u32) -> Result<u32, EventError> {
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            if s & FINISHING != 0 {
                self.await_publication();
                return Err(EventError::AlreadyFinished);
            }
            if is_finished(s) {
                return Err(EventError::AlreadyFinished);
            }
            // AcqRel: release publishes the finisher's work to every thread
            // that acquires the finished status; acquire sees the slot entry,
            // the nodes and the hooks that set SLOT_READY / CALLBACKS /
            // WAITERS.
            match self
                .state
                .compare_exchange_weak(s, next(s), Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => return Ok(s),
                Err(actual) => s = actual,
            }
        }
    }

    /// Waits while a concurrent `set_failed` that claimed the finish copies
    /// its message (at most `MESSAGE_CAPACITY` bytes, never user code), so
    /// that a caller told `AlreadyFinished` then sees a finished status.
    #[cold]
    fn await_publication(&self) {
        while self.state.load(Ordering::Acquire) & FINISHING != 0 {
            spin_hint();
        }
    }

    /// Ends a registration pin.
    fn unpin(&self) {
        // Release: a reset that sees the count drop also sees our push.
        self.state.fetch_sub(REG_ONE, Ordering::Release);
    }

    /// The finisher's slow path: take the callbacks (if any), wake armed
    /// waiters (if any), then run the callbacks.
    #[inline]
    fn after_finish(&self, old: u32, new: u32) {
        if old & (CALLBACKS | WAITERS | SLOT_READY) == 0 {
            return;
        }
        if old & (CALLBACKS | WAITERS) == 0 {
            // Only the slot's callback: run it here (nothing runs after it,
            // so its panic loses nothing).
            // SAFETY: our finishing CAS started from `old`, with SLOT_READY.
            unsafe { self.slot.take() }.run(status(new));
            return;
        }
        self.finish_slow(old, new);
    }

    /// Unwind-safe: the slot entry is moved out, the list taken and
    /// COLLECTING cleared before any user code runs, so the event is finished
    /// and resettable whatever a hook or a callback does; if a hook panics,
    /// the other hooks are still called (`wake::notify`'s guard) and the
    /// callbacks still run (`Pending`'s drop), then the panic continues.
    #[cold]
    fn finish_slow(&self, old: u32, new: u32) {
        let outcome = status(new);
        let finished = Finished {
            generation: generation(new),
            status: outcome,
        };
        if old & (CALLBACKS | SLOT_READY) == 0 {
            // Armed waiters and no callback: nothing runs after the hooks,
            // so there is nothing for a guard to finish (the hot path of
            // every wake-up).
            wake::notify(self, finished);
            return;
        }
        let slot = if old & SLOT_READY != 0 {
            // SAFETY: our finishing CAS started from `old`, with SLOT_READY.
            Some(unsafe { self.slot.take() })
        } else {
            None
        };
        let list = if old & CALLBACKS != 0 {
            let taken = self.callbacks.take(outcome);
            // Release: reset may reuse the list once it sees this.
            self.state.fetch_and(!COLLECTING, Ordering::Release);
            Some(taken)
        } else {
            None
        };
        let pending = Pending {
            status: outcome,
            slot,
            list,
        };
        if old & WAITERS != 0 {
            // A panicking hook unwinds through here and drops `pending`,
            // which runs the callbacks.
            wake::notify(self, finished);
        }
        pending.run();
    }
}

/// The callbacks a finisher has taken and not yet run, in registration
/// order: the slot's, then the list's. Runs them in `run`, or in `drop`
/// (while a hook's or a callback's panic unwinds), each exactly once.
struct Pending {
    status: EventStatus,
    slot: Option<Entry>,
    list: Option<callbacks::Taken>,
}

impl Pending {
    #[inline]
    fn run(mut self) {
        self.run_rest();
    }

    /// Each callback leaves `self` before it runs, so `drop` never reruns it.
    fn run_rest(&mut self) {
        if let Some(entry) = self.slot.take() {
            entry.run(self.status);
        }
        if let Some(list) = self.list.take() {
            // If one of these panics, `Taken`'s own drop runs the rest.
            list.run();
        }
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        self.run_rest();
    }
}

impl Drop for Event {
    /// A callback in the slot of an unfinished event is dropped unrun (the
    /// list's are dropped by the list).
    fn drop(&mut self) {
        let s = self.state.load(Ordering::Acquire);
        if !is_finished(s) && s & SLOT_READY != 0 {
            // SAFETY: unfinished with SLOT_READY: the entry belongs to the
            // event, and `&mut self` excludes every other access.
            drop(unsafe { self.slot.take() });
        }
    }
}

impl Default for Event {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.state.load(Ordering::Acquire);
        f.debug_struct("Event")
            .field("status", &status(s))
            .field("generation", &generation(s))
            .finish_non_exhaustive()
    }
}

// SAFETY: all shared state is atomics, plus node storage whose ownership
// moves by the list protocol (see callbacks.rs); callbacks are `Send`.
unsafe impl Sync for Event {}
// SAFETY: as above; nothing in an event is tied to a thread.
unsafe impl Send for Event {}
