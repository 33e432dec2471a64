//! Wake hooks: how a shell learns that an event it waits on has finished.
//!
//! The core never blocks. A shell that blocks (threads, async tasks, a GPU
//! host callback) keeps its own waiter table and registers one
//! [`WakeHook`]. The protocol, per waiter:
//!
//! 1. `let seen = event.snapshot()` (a [`Snapshot`]); if `seen.status()` is
//!    finished, return it (one load, no hook involved).
//! 2. Put the waiter where the hook will find it (keyed by the event's
//!    address and `seen.generation()`).
//! 3. [`arm(event, seen)`](arm): on [`WakeArm::Finished`], remove the
//!    waiter and return that outcome; on [`WakeArm::Armed`], park.
//! 4. The finisher calls `hook(event, Finished { generation, status })`
//!    for the armed generation; the hook releases the waiters of that event
//!    and generation with that status.
//!
//! Everything here is plumbing for shells: users of `evlatch-std` or
//! `evlatch-cuda` wait through those crates and never need this module.
//!
//! Hooks run on the finishing thread, after the status is visible, before
//! the event's callbacks. A hook MUST NOT block for long and SHOULD NOT
//! panic. If one does, nothing is lost: the finisher still calls every other
//! hook (from a drop guard, while the panic unwinds) and runs the event's
//! callbacks, then the panic continues on the finishing thread. A second
//! panic during that unwinding (another hook, or a callback) aborts the
//! process: the core is `no_std` and cannot catch a panic, and Rust aborts
//! when a panic escapes a destructor that runs during unwinding.
//! It may be called for an event none of its waiters waits on (another shell
//! armed it); it then does nothing.
//!
//! Finishing an event nobody armed costs no hook call at all.

use crate::event::state;
use crate::sync::statics::AtomicPtr;
use crate::{Event, EventStatus};
use core::fmt;
use core::sync::atomic::Ordering;

/// What [`Event::snapshot`] saw: a status and the generation it belongs to.
///
/// Shells use it to wait for "the finish of the generation I saw": see
/// [`arm`].
///
/// # Examples
///
/// ```
/// let event = evlatch::Event::new();
/// let before = event.snapshot();
/// event.set_finished().unwrap();
/// event.reset().unwrap();
/// assert_eq!(event.snapshot().generation(), before.generation() + 1);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Snapshot {
    word: u32,
}

impl Snapshot {
    /// A snapshot of the state word `word`.
    #[inline]
    pub(crate) const fn from_word(word: u32) -> Self {
        Self { word }
    }

    /// The status at the time of the snapshot.
    ///
    /// # Examples
    ///
    /// ```
    /// let event = evlatch::Event::new();
    /// assert_eq!(event.snapshot().status(), evlatch::EventStatus::Initialized);
    /// ```
    #[inline]
    pub fn status(self) -> EventStatus {
        state::status(self.word)
    }

    /// The generation: 0 for a new event, +1 (mod 2^18) at every reset out
    /// of a finished status.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(evlatch::Event::new().snapshot().generation(), 0);
    /// ```
    #[inline]
    pub fn generation(self) -> u32 {
        state::generation(self.word)
    }
}

/// The answer of [`arm`].
///
/// # Examples
///
/// ```
/// use evlatch::wake::{arm, WakeArm};
/// let event = evlatch::Event::new();
/// let seen = event.snapshot();
/// event.set_finished().unwrap();
/// assert_eq!(arm(&event, seen), WakeArm::Finished(evlatch::EventStatus::Success));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WakeArm {
    /// The finish of the snapshot's generation will call every registered
    /// wake hook with that generation.
    Armed,
    /// The snapshot's generation already finished, with this outcome: no
    /// hook call will come for it, so do not park.
    ///
    /// If the event has since been reset and finished again *more than once*,
    /// the outcome of the snapshot's generation is no longer known and this
    /// holds the outcome of the most recent earlier generation instead.
    Finished(EventStatus),
}

/// Asks for a wake-hook call at the finish of the generation `seen` came
/// from (step 3 of the protocol above). Shells call this after putting
/// their waiter where their hook will find it, and park only on
/// [`WakeArm::Armed`].
///
/// # Contract
///
/// - If it returns `Armed`, the thread that finishes that generation calls
///   every hook registered (before this call) with
///   `Finished { generation: seen.generation(), .. }`, after the status is
///   visible and before running callbacks. Everything the caller wrote
///   before an `arm` that returned `Armed` happens-before that hook call
///   (for every armed waiter, not only the first).
/// - If it returns `Finished(s)`, this arm asks for no hook call (one may
///   still come for the generation if another waiter armed it).
/// - A waiter that arms for a generation is never missed, even if the event
///   is reset and recorded again before the waiter runs.
///
/// Cost: one read-modify-write on the event's state word while unfinished,
/// one load once finished.
///
/// # Examples
///
/// ```
/// use evlatch::wake::{arm, WakeArm};
/// use evlatch::{Event, EventStatus};
/// let event = Event::new();
/// let seen = event.snapshot();
/// assert_eq!(arm(&event, seen), WakeArm::Armed);
/// event.set_failed("x").unwrap();
/// assert_eq!(arm(&event, seen), WakeArm::Finished(EventStatus::Failed));
/// ```
#[inline]
pub fn arm(event: &Event, seen: Snapshot) -> WakeArm {
    event.arm_wake(seen)
}

/// How many distinct hooks can be registered in one process.
pub const MAX_WAKE_HOOKS: usize = 4;

/// What a hook is told: which generation finished, and how.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Finished {
    /// The generation that finished (as in [`Snapshot::generation`]).
    pub generation: u32,
    /// Its outcome, `Success` or `Failed`.
    pub status: EventStatus,
}

/// A shell's wake function, registered once per process.
///
/// # Examples
///
/// ```
/// use evlatch::wake::{register_wake_hook, Finished, WakeHook};
/// use evlatch::Event;
///
/// fn wake(_event: &Event, _done: Finished) { /* release waiters */ }
/// static HOOK: WakeHook = WakeHook::new("doc-example", wake);
/// register_wake_hook(&HOOK).unwrap();
/// register_wake_hook(&HOOK).unwrap(); // the same hook again is fine
/// ```
pub struct WakeHook {
    name: &'static str,
    wake: fn(&Event, Finished),
}

impl WakeHook {
    /// A hook named `name` (shown in errors and `Debug`) calling `wake`.
    ///
    /// # Examples
    ///
    /// ```
    /// fn wake(_: &evlatch::Event, _: evlatch::wake::Finished) {}
    /// static HOOK: evlatch::wake::WakeHook = evlatch::wake::WakeHook::new("mine", wake);
    /// assert_eq!(HOOK.name(), "mine");
    /// ```
    pub const fn new(name: &'static str, wake: fn(&Event, Finished)) -> Self {
        Self { name, wake }
    }

    /// The hook's name.
    ///
    /// # Examples
    ///
    /// ```
    /// fn wake(_: &evlatch::Event, _: evlatch::wake::Finished) {}
    /// let hook = evlatch::wake::WakeHook::new("x", wake);
    /// assert_eq!(hook.name(), "x");
    /// ```
    pub const fn name(&self) -> &'static str {
        self.name
    }
}

impl fmt::Debug for WakeHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WakeHook")
            .field("name", &self.name)
            .finish()
    }
}

/// Why a hook could not be registered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HookError {
    /// All [`MAX_WAKE_HOOKS`] slots hold other hooks.
    Full,
}

impl fmt::Display for HookError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HookError::Full => write!(
                f,
                "all {MAX_WAKE_HOOKS} wake-hook slots are taken: register one hook per shell, not per waiter"
            ),
        }
    }
}

impl core::error::Error for HookError {}

static HOOKS: [AtomicPtr<WakeHook>; MAX_WAKE_HOOKS] =
    [const { AtomicPtr::new(core::ptr::null_mut()) }; MAX_WAKE_HOOKS];

/// Registers `hook` for every event in the process. Registering the same
/// `static` again is a no-op. Lock-free; slots are never freed.
///
/// Register before the first [`arm`] that relies on the hook.
///
/// # Errors
///
/// [`HookError::Full`] when [`MAX_WAKE_HOOKS`] other hooks are registered.
///
/// # Examples
///
/// ```
/// fn wake(_: &evlatch::Event, _: evlatch::wake::Finished) {}
/// static HOOK: evlatch::wake::WakeHook = evlatch::wake::WakeHook::new("example", wake);
/// evlatch::wake::register_wake_hook(&HOOK).unwrap();
/// ```
pub fn register_wake_hook(hook: &'static WakeHook) -> Result<(), HookError> {
    let ptr = hook as *const WakeHook as *mut WakeHook;
    for slot in &HOOKS {
        // AcqRel: release publishes the hook to finishers (they acquire the
        // slot); acquire lets us compare against hooks others registered.
        match slot.compare_exchange(
            core::ptr::null_mut(),
            ptr,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => return Ok(()),
            Err(existing) if existing == ptr => return Ok(()),
            Err(_) => continue,
        }
    }
    Err(HookError::Full)
}

/// Calls every registered hook; the finisher's slow path.
///
/// Unwind-safe: if a hook panics, a drop guard calls the hooks after it while
/// the panic unwinds (a second panic among those aborts the process, as any
/// panic escaping a destructor during unwinding does), then the panic goes on
/// to the finisher, which still runs the event's callbacks.
pub(crate) fn notify(event: &Event, finished: Finished) {
    let mut rest = Rest {
        event,
        finished,
        next: 0,
    };
    rest.call_all();
}

/// The hooks not yet called by one `notify`: slots `next..`.
struct Rest<'a> {
    event: &'a Event,
    finished: Finished,
    /// The next slot to call, `0..=MAX_WAKE_HOOKS`.
    next: usize,
}

impl Rest<'_> {
    /// Calls the hooks from `next` on, advancing `next` *before* each call so
    /// that a hook that panics is not called again by `drop`.
    fn call_all(&mut self) {
        while self.next < MAX_WAKE_HOOKS {
            let ptr = HOOKS[self.next].load(Ordering::Acquire);
            self.next += 1;
            if ptr.is_null() {
                // Slots fill in order and are never freed.
                self.next = MAX_WAKE_HOOKS;
                break;
            }
            // SAFETY: only `&'static WakeHook`s are stored in the slots.
            let hook = unsafe { &*ptr };
            (hook.wake)(self.event, self.finished);
        }
    }
}

impl Drop for Rest<'_> {
    /// Does nothing after a complete `call_all`; while a hook's panic
    /// unwinds, calls the hooks after it.
    fn drop(&mut self) {
        self.call_all();
    }
}
