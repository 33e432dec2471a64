//! The waiter table: where blocked threads and pending tasks wait for core
//! events, woken by the core's wake hook.
//!
//! The core never blocks and keeps no waiter lists; it offers
//! `snapshot` + `wake::arm` and calls registered hooks when an armed
//! generation finishes (see `evlatch::wake`). This module is that hook's
//! other half, in the spirit of a parking lot: a fixed array of buckets,
//! each a lock over an intrusive list of the [`Waiter`]s whose event hashes
//! there. A `Waiter` lives on the blocked thread's stack or inside the
//! pending future, so a wait allocates nothing, and cancelling one unlinks
//! it in O(1).
//!
//! Protocol for one waiter (the proof that no finish is missed):
//!
//! 1. `snapshot()`; a finished status returns at once (one load).
//! 2. Link the waiter `(event address, generation, wake-by)` at the back of
//!    its bucket (under the bucket lock).
//! 3. `wake::arm(event, snapshot)`. `Finished(s)`: no hook call will come for that
//!    generation; unlink (or find the hook of an earlier-armed waiter
//!    already released us) and return `s`. `Armed`: the finisher of that
//!    generation calls the hook after its finishing CAS, which reads from
//!    our arming RMW, which comes after our unlock: the hook, taking the
//!    bucket lock, finds the waiter.
//! 4. The hook walks the bucket from the front (oldest first), and for each
//!    waiter of that event *and generation*: unlinks it, takes its wake-by,
//!    and stores the outcome — its last touch of the node, since the owner
//!    may return and free it as soon as it sees the outcome. It wakes the
//!    batch after releasing the lock (in rounds of 32 for long lists). A
//!    bucket that holds one waiter (the usual finish) takes a shorter path
//!    with the same steps: no walk, and no batch around its one wake-up.
//!
//! Cancellation (a dropped future, a timed-out wait) unlinks under the
//! lock; a waiter already unlinked was released by the hook, and its
//! outcome says how. The waiter's `Drop` cancels, so a node is never freed
//! while linked.
//!
//! The lock: the bucket lock (`list_lock`) is held only for list surgery (no user code,
//! no wake-ups, no allocation), by waiters registering or cancelling and by
//! finishers' hooks. A finisher's `record`/`set_*` CAS never takes it: only
//! the hook, which runs after the status is already finished and visible, does,
//! and it can wait only for other holders' bounded list surgery.

use core::marker::PhantomPinned;
use core::pin::Pin;
use std::task::Waker;

use evlatch::wake::{register_wake_hook, Finished, Snapshot, WakeArm, WakeHook};
use evlatch::{Event, EventStatus};

use crate::list::{Linked, Links, List};
use crate::list_lock::ListLock;
use crate::sync::{AtomicU32, AtomicU8, AtomicUsize, Ordering, UnsafeCell};
use crate::wake_list::{WakeBy, WakeList};

const BUCKETS: usize = 64;

/// One waiter of one event generation; pinned while registered.
///
/// States (`event`, `outcome`; the `links` flag is the list's):
///
/// | event | linked | outcome | meaning                          | next                          |
/// |-------|--------|---------|----------------------------------|-------------------------------|
/// | 0     | no     | 0       | new, or cancelled by its owner   | owner: `register` (new only)  |
/// | addr  | yes    | 0       | waiting                          | hook: release; owner: cancel |
/// | addr  | no     | 2 / 3   | released: `Success` / `Failed`  | none                          |
pub(crate) struct Waiter {
    links: Links<Waiter>,
    /// The event's address; written by the owner before linking, read by
    /// the hook under the lock (the lock orders the two).
    event: AtomicUsize,
    /// The generation waited for; like `event`.
    generation: AtomicU32,
    /// How to wake the owner: written by the owner before linking and
    /// under the lock (waker updates); taken by the hook or the owner's
    /// cancel under the lock.
    wake: UnsafeCell<Option<WakeBy>>,
    /// 0 while pending, else the finished status as `EventStatus as u8`.
    /// Stored (release) by the hook as its last touch of the node.
    outcome: AtomicU8,
    _pinned: PhantomPinned,
}

// SAFETY: `Links` and `Waiter` follow the list's contract: `links` returns
// the node's own field.
unsafe impl Linked for Waiter {
    fn links(&self) -> &Links<Waiter> {
        &self.links
    }
}

// SAFETY: the hook reads a linked `Waiter` from another thread; every
// non-atomic field (`links`, `wake`) is accessed only under the bucket lock
// (or by the owner before the node is shared), and `WakeBy` is `Send`.
unsafe impl Sync for Waiter {}
// SAFETY: as above; nothing in a waiter is tied to a thread.
unsafe impl Send for Waiter {}

impl Waiter {
    /// A waiter that is not registered yet.
    pub(crate) fn new() -> Self {
        Self {
            links: Links::new(),
            event: AtomicUsize::new(0),
            generation: AtomicU32::new(0),
            wake: UnsafeCell::new(None),
            outcome: AtomicU8::new(0),
            _pinned: PhantomPinned,
        }
    }

    /// The outcome, once the hook released this waiter.
    pub(crate) fn outcome(&self) -> Option<EventStatus> {
        // Acquire: pairs with the hook's release store, so the owner sees
        // everything the finisher did before finishing, and the hook is done
        // with the node.
        // 0 (`Initialized`) while pending; only finished statuses are stored.
        EventStatus::from_u8(self.outcome.load(Ordering::Acquire)).filter(|s| s.is_finished())
    }

    /// Steps 2–3 of the protocol. `Err(status)` when the generation `seen`
    /// came from has already finished (the waiter is not linked then).
    /// A waiter registers once.
    pub(crate) fn register(
        self: Pin<&Self>,
        event: &Event,
        seen: Snapshot,
        wake: WakeBy,
    ) -> Result<(), EventStatus> {
        install();
        let addr = event as *const Event as usize;
        debug_assert_eq!(self.event.load(Ordering::Relaxed), 0, "registers once");
        // Relaxed: published to the hook by the bucket lock below.
        self.event.store(addr, Ordering::Relaxed);
        self.generation.store(seen.generation(), Ordering::Relaxed);
        table().bucket(addr).with(|bucket| {
            // SAFETY: the node is not linked yet, so nobody else reads `wake`.
            self.wake.with_mut(|w| unsafe { *w = Some(wake) });
            // SAFETY: not linked; pinned, and `Drop` unlinks it before it
            // moves or dies.
            unsafe { bucket.push_back(&self) };
        });
        match evlatch::wake::arm(event, seen) {
            WakeArm::Armed => Ok(()),
            // Another waiter's arm may have made the hook release us
            // already; either way the outcome is that generation's.
            WakeArm::Finished(status) => Err(self.cancel().unwrap_or(status)),
        }
    }

    /// Unlinks the waiter. `Some(status)` if the hook released it first.
    pub(crate) fn cancel(&self) -> Option<EventStatus> {
        let addr = self.event.load(Ordering::Relaxed);
        if addr == 0 {
            return None;
        }
        let wake = table().bucket(addr).with(|bucket| {
            // SAFETY: a waiter is only ever linked in its event's bucket.
            if unsafe { bucket.remove(self) } {
                // Back to "new": a second cancel (from `Drop`) is a no-op.
                self.event.store(0, Ordering::Relaxed);
                // SAFETY: unlinked under the lock: nobody else reads `wake`.
                self.wake.with_mut(|w| unsafe { (*w).take() })
            } else {
                None
            }
        });
        match wake {
            // Dropped outside the lock (a waker's drop is user code).
            Some(wake) => {
                drop(wake);
                None
            }
            None => {
                let status = self.outcome();
                debug_assert!(status.is_some(), "only the hook unlinks what we did not");
                status
            }
        }
    }

    /// Replaces the task waker if the waiter is still linked; returns the
    /// outcome if the hook already released it.
    pub(crate) fn update_waker(&self, waker: &Waker) -> Option<EventStatus> {
        let addr = self.event.load(Ordering::Relaxed);
        let linked = table().bucket(addr).with(|bucket| {
            if !bucket.contains(self) {
                return false;
            }
            self.wake.with_mut(|w| {
                // SAFETY: linked, and we hold the lock that guards `wake`.
                if let Some(wake) = unsafe { &mut *w } {
                    wake.update(waker);
                }
            });
            true
        });
        if linked {
            None
        } else {
            self.outcome()
        }
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        // A released waiter is unlinked and untouched by the hook: nothing
        // to do (the common case, no lock).
        if self.outcome().is_none() {
            let _ = self.cancel();
            return;
        }
        self.wake.with(|w| {
            // SAFETY: released, so the hook is done with the node: the
            // outcome's acquire load orders its taking of `wake` before this
            // read (loom checks exactly that edge here).
            let taken = unsafe { (*w).is_none() };
            debug_assert!(taken, "the hook took the waker");
        });
    }
}

struct Table {
    buckets: Vec<ListLock<List<Waiter>>>,
}

impl Table {
    fn new() -> Self {
        Self {
            buckets: (0..BUCKETS).map(|_| ListLock::new(List::new())).collect(),
        }
    }

    fn bucket(&self, event: usize) -> &ListLock<List<Waiter>> {
        // Fibonacci hashing of the address (events are at least 4-aligned).
        let h = (event >> 3).wrapping_mul(0x9E37_79B9_7F4A_7C15_u64 as usize);
        &self.buckets[h >> (usize::BITS - BUCKETS.trailing_zeros())]
    }
}

#[cfg(not(evlatch_loom))]
fn table() -> &'static Table {
    static TABLE: std::sync::OnceLock<Table> = std::sync::OnceLock::new();
    TABLE.get_or_init(Table::new)
}

#[cfg(evlatch_loom)]
fn table() -> &'static Table {
    loom::lazy_static! {
        static ref TABLE: Table = Table::new();
    }
    &TABLE
}

static HOOK: WakeHook = WakeHook::new("evlatch-std", wake_hook);

/// Registers the std shell's wake hook and its CPU→CPU wait function.
/// Idempotent; called by every waiting entry point.
pub(crate) fn install() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Only `Full` can fail, with four other shells registered; then
        // waits would hang, so fail loudly at the first wait instead.
        if let Err(e) = register_wake_hook(&HOOK) {
            panic!("evlatch-std cannot register its wake hook: {e}");
        }
        // The core's stamp ring (under the channels) yields instead of
        // spinning while it waits out a preempted neighbour.
        evlatch::queue::register_yield(crate::sync::thread::yield_now);
        // Another crate may have registered a CPU->CPU wait already; that
        // one serves equally, so the error is not a failure.
        let _ = evlatch::backend::register_wait(
            evlatch::backend::DeviceType::CPU,
            evlatch::backend::DeviceType::CPU,
            crate::wait::cpu_wait,
        );
    });
}

/// Step 4: releases every waiter of `event`'s finished generation, oldest
/// first. A panicking waker does not stop the others; the first such panic
/// continues once all are woken.
fn wake_hook(event: &Event, finished: Finished) {
    let addr = event as *const Event as usize;
    // The usual finish: the bucket holds at most one waiter. It is released
    // under the lock and woken after it with no wake list (no rounds; a panic
    // of that lone wake-up loses nobody else's, so it unwinds straight out).
    let lone = table().bucket(addr).with(|bucket| {
        if bucket.len() > 1 {
            return Err(());
        }
        // SAFETY: `pick` reads two atomics only and does not unwind.
        let w = unsafe { bucket.take_lone(|w| is_mine(w, addr, finished)) };
        // SAFETY: `w` was just unlinked under the lock (or is null).
        Ok(unsafe { release(w, finished) })
    });
    match lone {
        Ok(Some(wake)) => wake.wake(),
        Ok(None) => {}
        Err(()) => wake_many(addr, finished),
    }
}

/// The hook's general path: a bucket with several waiters (a fan-out, or
/// other events' waiters sharing the bucket), released in rounds.
#[inline(never)]
fn wake_many(addr: usize, finished: Finished) {
    let mut wakes = WakeList::new();
    // Full rounds are woken here; the last (usually the only) one by
    // `finish`, so a small list runs one wake loop.
    while release_round(addr, finished, &mut wakes) {
        wakes.wake_all();
    }
    wakes.finish();
}

/// Whether `w` waits for the finished generation of the event at `addr`.
#[inline(always)]
fn is_mine(w: &Waiter, addr: usize, finished: Finished) -> bool {
    // Relaxed: written before linking, ordered by the lock.
    w.event.load(Ordering::Relaxed) == addr
        && w.generation.load(Ordering::Relaxed) == finished.generation
}

/// Completes a waiter the hook has just unlinked (under the lock): takes its
/// wake-up and stores the outcome. `w` may be null (then nothing happens).
///
/// # Safety
///
/// `w` is null or a waiter unlinked by this hook under the bucket lock,
/// which is still held. This is the hook's last touch of it: the owner may
/// free the node as soon as the outcome is stored, so only the pointer (and
/// the atomic's own reference for the store) is used.
#[inline(always)]
unsafe fn release(w: *const Waiter, finished: Finished) -> Option<WakeBy> {
    if w.is_null() {
        return None;
    }
    // SAFETY: unlinked under the lock: its `wake` is ours to take.
    let wake = unsafe { (*w).wake.with_mut(|p| (*p).take()) };
    // Release: the owner acquires this and may free the node at once.
    // SAFETY: the node is valid until this store lands (see the contract).
    unsafe { (*w).outcome.store(finished.status as u8, Ordering::Release) };
    wake
}

/// Completes up to one round of matching waiters under the bucket lock;
/// `true` if the round filled up before the walk reached the end.
fn release_round(addr: usize, finished: Finished, wakes: &mut WakeList) -> bool {
    table()
        .bucket(addr)
        .with(|bucket| release_locked(bucket, addr, finished, wakes))
}

fn release_locked(
    bucket: &mut List<Waiter>,
    addr: usize,
    finished: Finished,
    wakes: &mut WakeList,
) -> bool {
    debug_assert!(finished.status.is_finished());
    let mut room = wakes.room();
    // SAFETY: neither closure touches links or unwinds (`push_unchecked`
    // gets at most `room` wake-ups: `pick` counts them). Consecutive
    // waiters of this event (the usual bucket: one event's waiters, oldest
    // first) are unlinked as one run.
    unsafe {
        bucket.unlink_where(
            |w| {
                if !is_mine(w, addr, finished) {
                    return Some(false);
                }
                if room == 0 {
                    return None;
                }
                room -= 1;
                Some(true)
            },
            |w| {
                // `w` was just unlinked under the lock; nothing after this
                // touches it.
                if let Some(wake) = release(w, finished) {
                    wakes.push_unchecked(wake);
                }
            },
        )
    }
}

/// How many waiters are registered right now, across all events.
pub(crate) fn waiter_count() -> usize {
    table()
        .buckets
        .iter()
        .map(|b| b.with(|list| list.len()))
        .sum()
}
