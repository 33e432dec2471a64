//! One worker's doorbell: how senders (new data, a closed channel) and
//! receivers (freed space) wake a worker that waits, without a lock and
//! without a wake-up per message.
//!
//! The truth is always in the rings (positions and close flags); the
//! doorbell only says "look again". A worker that waits announces itself in
//! the state word, issues a `SeqCst` fence and re-checks its condition; a
//! peer that changed something the worker may wait for issues a `SeqCst`
//! fence and then reads the state word, and only if the worker announced
//! itself does it pay for a wake-up (a CAS plus an unpark or a waker call).
//! Store-buffering (Dekker) argument: of the two fences, one comes first in
//! the fences' total order, so either the peer sees the announcement or the
//! worker's re-check sees the change. A busy worker therefore costs its
//! peers one fence and one load per operation, and a burst of messages
//! wakes a parked worker once.

use core::time::Duration;
use std::task::Waker;
use std::time::Instant;

use crate::sync::{fence, park_until, thread, AtomicU8, AtomicWaker, Ordering, Thread, UnsafeCell};

/// The worker runs (or is about to look at its channels): nobody to wake.
const IDLE: u8 = 0;
/// The worker's thread is parked, or about to park, in [`Doorbell::wait`].
const PARKED: u8 = 1;
/// The worker's task registered its waker in [`Doorbell::poll_wait`] and
/// returned `Pending`.
const POLLING: u8 = 2;
/// A peer rang: the worker must look again.
const RUNG: u8 = 3;

/// Rounds of spinning (1, 2, 4 … 32 hints, then 32 per round: 127 hints,
/// a few microseconds) before a waiter parks; none under loom, where every
/// re-check is a modelled step.
#[cfg(not(evlatch_loom))]
const SPIN_ROUNDS: u32 = 8;
#[cfg(evlatch_loom)]
const SPIN_ROUNDS: u32 = 0;

/// How a waiter (on a doorbell or a [`Bell`](super::bell::Bell)) spends
/// the moment before it parks, chosen once per exchange from the number of
/// workers and cores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Spin {
    /// Park at once (the loom models: every re-check is a modelled step).
    #[cfg_attr(not(all(test, evlatch_loom)), allow(dead_code))]
    Park,
    /// Spin a few microseconds (spin hints only, no yields): every worker
    /// can have a core, so the peer that will ring is running now, and
    /// catching it costs a cache line instead of a park and an unpark.
    Hints,
    /// Yield the core, re-checking after each yield, until this much time
    /// has passed, before parking: workers share cores, so the peer that
    /// will ring is likely waiting for this core; a yield hands it over
    /// without the futex park and unpark pair (and leaves the core to
    /// anyone else runnable).
    Yields(Duration),
}

impl Spin {
    /// The policy for `workers` workers on `cores` cores: spin when each
    /// can have a core, else yield a few times (a spin would burn the
    /// time slice the peer needs to answer; a yield hands it over).
    pub(crate) fn for_workers(workers: usize, cores: usize) -> Self {
        if workers <= cores {
            Spin::Hints
        } else {
            Spin::Yields(OVERSUBSCRIBED_YIELD_BUDGET)
        }
    }

    /// Spins as the policy says until `ready()` holds; returns whether it
    /// did.
    #[inline]
    // Under loom `SPIN_ROUNDS` is 0: the spin loop is empty there on purpose.
    #[cfg_attr(evlatch_loom, allow(clippy::reversed_empty_ranges))]
    pub(crate) fn spin_until(self, ready: impl Fn() -> bool) -> bool {
        match self {
            Spin::Park => false,
            Spin::Hints => {
                for step in 0..SPIN_ROUNDS {
                    if ready() {
                        return true;
                    }
                    for _ in 0..1u32 << step.min(5) {
                        crate::sync::spin_hint();
                    }
                }
                false
            }
            Spin::Yields(budget) => {
                if !YIELDS_ENABLED {
                    return false;
                }
                let start = Instant::now();
                loop {
                    if ready() {
                        return true;
                    }
                    thread::yield_now();
                    if start.elapsed() >= budget {
                        return ready();
                    }
                }
            }
        }
    }
}

/// How long a waiter yields before parking when workers share cores.
///
/// A time, not a count: a yield with nobody else runnable on the core
/// returns in well under a microsecond, one that runs a peer costs that
/// peer's whole turn, so a count of yields means anything from 2 to 50 µs.
/// Parking is what costs: a futex park and unpark pair plus waking an idle
/// core. Measured on 2 cores shared with other work, 4 workers
/// all-to-all (10,000 rounds, `perf stat`): budgets of 5–20 µs parked
/// 300–14,000 times a run and used 245–445 ms of CPU; 50 and 200 µs
/// parked about never in 9 runs of 10 (3–6 futex calls), at 139–235 ms,
/// with exactly 3 yields (and 3 context switches) per round for the 4
/// workers (one run: 623 calls, 353 ms); timely used 234–277 ms. Session
/// 4's 4 yields did as well as 50 µs here (5 runs of 6), but when the two
/// workers of a core both wait for the other core, 4 yields between them
/// last only a few µs: the 5–20 µs regime. A worker with nothing coming
/// parks after the budget, so idle CPU stays about 0.
const OVERSUBSCRIBED_YIELD_BUDGET: Duration = Duration::from_micros(50);

/// None under loom (see `SPIN_ROUNDS`).
const YIELDS_ENABLED: bool = !cfg!(evlatch_loom);

/// Whether a peer that changed something should ring in state `s`.
#[inline]
fn is_waiting(s: u8) -> bool {
    s == PARKED || s == POLLING
}

pub(crate) struct Doorbell {
    /// The state word. Transitions (`w` = the owning worker, `p` = any peer):
    ///
    /// | from    | to      | by | how                                          |
    /// |---------|---------|----|----------------------------------------------|
    /// | IDLE    | PARKED  | w  | store (Release: publishes `thread`)          |
    /// | IDLE    | POLLING | w  | store (Release: publishes the registration)  |
    /// | PARKED  | RUNG    | p  | CAS (Acquire: reads `thread`), then unpark   |
    /// | POLLING | RUNG    | p  | CAS, then wake the registered waker          |
    /// | any     | IDLE    | w  | swap, when it stops waiting (woken, found its condition, timed out, future dropped) |
    ///
    /// Only the owner leaves IDLE, only peers enter RUNG, only the owner
    /// leaves RUNG. A peer's CAS that loses (the owner already went back to
    /// IDLE) means the owner is about to re-check anyway.
    state: AtomicU8,
    /// The owner's thread, written once by the owner before its first
    /// `IDLE → PARKED` (nobody reads it before that store), read by a peer
    /// only after it won `PARKED → RUNG`. Never written again.
    thread: UnsafeCell<Option<Thread>>,
    /// The owner's task waker, for the `POLLING` state.
    waker: AtomicWaker,
    /// What a waiter does before it parks (see [`Spin`]).
    spin: Spin,
}

// SAFETY: `thread` is written once by the owner before it is published by
// the Release store of `PARKED`, and only read afterwards (see the field);
// everything else is atomic.
unsafe impl Sync for Doorbell {}
// SAFETY: as above; a `Thread` handle and an `AtomicWaker` are `Send`.
unsafe impl Send for Doorbell {}

impl Doorbell {
    /// `spin`: what a waiter does before it parks (see [`Spin`]).
    pub(crate) fn new(spin: Spin) -> Self {
        Self {
            state: AtomicU8::new(IDLE),
            thread: UnsafeCell::new(None),
            waker: AtomicWaker::new(),
            spin,
        }
    }

    /// Called by a peer after it changed something the owner may wait for
    /// (published data, closed a channel, freed space): wakes the owner if,
    /// and only if, it announced that it waits.
    #[inline]
    #[cfg_attr(not(all(test, evlatch_loom)), allow(dead_code))] // used by the loom models
    pub(crate) fn ring(&self) {
        // Pairs with the fence in `wait` / `poll_wait` (store buffering):
        // either we see the announcement or the owner sees our change.
        fence(Ordering::SeqCst);
        self.ring_fenced();
    }

    /// [`ring`](Self::ring) for a caller that issued the `SeqCst` fence
    /// itself, after its change (a sender shares one fence between the
    /// worker's doorbell and the receiver's bell).
    #[inline]
    pub(crate) fn ring_fenced(&self) {
        let s = self.state.load(Ordering::Relaxed);
        if is_waiting(s) {
            self.ring_slow(s);
        }
    }

    #[cold]
    fn ring_slow(&self, s: u8) {
        // Acquire: the owner's Release store of PARKED published `thread`.
        if self
            .state
            .compare_exchange(s, RUNG, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            // The owner stopped waiting (or another peer rang first).
            return;
        }
        if s == PARKED {
            // SAFETY: we won PARKED → RUNG, so the owner stored PARKED after
            // writing `thread` (Release/Acquire), and `thread` is never
            // written after that first time.
            let t = self.thread.with(|t| unsafe { (*t).clone() });
            if let Some(t) = t {
                t.unpark();
            }
        } else {
            self.waker.wake();
        }
    }

    /// What a waiter does before it parks.
    pub(crate) fn spin(&self) -> Spin {
        self.spin
    }

    /// Blocks the owner's thread until `ready()` holds, a peer rings, or
    /// `deadline` passes.
    ///
    /// Returns whether `ready()` was seen to hold; `false` after a ring or
    /// a timeout (the caller re-checks and, if it must, waits again).
    /// Only the owning worker's thread may call it.
    pub(crate) fn wait(&self, deadline: Option<Instant>, ready: impl Fn() -> bool) -> bool {
        // A peer mid-operation usually finishes within a short spin: catch
        // it without the cost of a park and an unpark (see `Spin`).
        if self.spin.spin_until(&ready) {
            return true;
        }
        // SAFETY: only the owner writes `thread`, before its first PARKED
        // (we are in IDLE now: no peer reads it, see the field).
        self.thread.with_mut(|t| unsafe {
            if (*t).is_none() {
                *t = Some(thread::current());
            }
        });
        // Release: publishes `thread` to the peer whose CAS reads PARKED.
        self.state.store(PARKED, Ordering::Release);
        // Pairs with the fence in `ring` (store buffering).
        fence(Ordering::SeqCst);
        if ready() {
            self.state.swap(IDLE, Ordering::Relaxed);
            return true;
        }
        loop {
            // Acquire: pairs with the ringer's CAS; what it changed before
            // ringing is visible to the caller's re-check.
            if self.state.load(Ordering::Acquire) == RUNG {
                break;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                break;
            }
            park_until(deadline);
        }
        self.state.swap(IDLE, Ordering::Acquire);
        false
    }

    /// The async form of [`wait`](Self::wait): returns `true` if `ready()`
    /// holds, else registers `waker`, announces `POLLING`, re-checks and
    /// returns `false` (the caller returns `Pending`; a ring wakes `waker`).
    pub(crate) fn poll_wait(&self, waker: &Waker, ready: impl Fn() -> bool) -> bool {
        self.state.swap(IDLE, Ordering::Acquire);
        if ready() {
            return true;
        }
        self.waker.register(waker);
        // Release: the registration above happens before the ringer's
        // Acquire CAS, so its `wake` finds this waker.
        self.state.store(POLLING, Ordering::Release);
        // Pairs with the fence in `ring` (store buffering).
        fence(Ordering::SeqCst);
        if ready() {
            self.state.swap(IDLE, Ordering::Relaxed);
            return true;
        }
        false
    }

    /// Leaves any waiting state (a dropped or finished async wait).
    pub(crate) fn stop_waiting(&self) {
        self.state.swap(IDLE, Ordering::Relaxed);
    }
}

/// Converts a timeout into a deadline (`None` for one too far away to
/// represent: wait without a deadline).
pub(crate) fn deadline_after(timeout: Duration) -> Option<Instant> {
    Instant::now().checked_add(timeout)
}
