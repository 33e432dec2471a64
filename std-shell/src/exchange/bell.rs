//! An endpoint's own wake slot: how a blocked [`Sender`](super::Sender)
//! (waiting for space) or [`Receiver`](super::Receiver) (waiting for
//! data) is woken, on whatever thread or task it runs.
//!
//! One bell has at most one waiter at a time: the ring's one producer
//! waits on the ring's space bell, the channel's one receiver on its data
//! bell, each through `&mut self`. That is exactly `atomic-waker`'s case:
//! the waiter registers its waker (a task's, or for a blocking wait a
//! waker that unparks the current thread), so endpoints may move between
//! threads (`Send`) and wait in async tasks alike.
//!
//! The truth is always in the ring (positions, close flags); the bell only
//! says "look again". Store-buffering (Dekker) argument, as in
//! [`doorbell`](super::doorbell): the waiter registers, sets `waiting`,
//! issues a `SeqCst` fence and re-checks its condition; the peer changes
//! the ring, issues a `SeqCst` fence and reads `waiting`. Of the two
//! fences one is first, so either the peer sees `waiting` or the waiter's
//! re-check sees the change. A peer whose load says "nobody waits" pays
//! nothing more.

use core::task::Waker;
use std::time::Instant;

use super::doorbell::Spin;
use crate::sync::{fence, park_until, AtomicBool, AtomicWaker, Ordering};

pub(crate) struct Bell {
    /// Whether the waiter registered its waker and waits.
    ///
    /// | from  | to    | by     | how                                        |
    /// |-------|-------|--------|--------------------------------------------|
    /// | false | true  | waiter | swap (Release: publishes the registration), after `register`, before its fence |
    /// | true  | false | peer   | swap (Acquire), then `waker.wake()`; only the winner of the swap wakes |
    /// | true  | false | waiter | swap, when it stops waiting (condition seen, timeout, future dropped) |
    ///
    /// A stale `true` (the waiter left without clearing it, e.g. a
    /// cancelled future) costs one needless wake of a stale waker, nothing
    /// else.
    waiting: AtomicBool,
    /// The waiter's waker: a task's, or one that unparks a thread.
    waker: AtomicWaker,
}

impl Bell {
    pub(crate) fn new() -> Self {
        Self {
            waiting: AtomicBool::new(false),
            waker: AtomicWaker::new(),
        }
    }

    /// Called by a peer after it changed something the waiter may wait
    /// for and issued a `SeqCst` fence (the publishing side shares one
    /// fence among the bells it rings): wakes the waiter if, and only if,
    /// it said that it waits.
    #[inline]
    pub(crate) fn ring_fenced(&self) {
        // Relaxed first: the common case is "nobody waits", one load.
        // Acquire on the swap: pairs with the waiter's Release store, so
        // its registration happens before our `wake` takes the waker.
        if self.waiting.load(Ordering::Relaxed) && self.waiting.swap(false, Ordering::Acquire) {
            self.waker.wake();
        }
    }

    /// The async wait: `true` if `ready()` holds; else registers `waker`,
    /// says it waits, re-checks, and returns `false` (the caller returns
    /// `Pending`; a ring wakes `waker`). Only the bell's one waiter calls
    /// it.
    pub(crate) fn poll_wait(&self, waker: &Waker, ready: impl Fn() -> bool) -> bool {
        if ready() {
            // Left over from an earlier round (a spurious wake): clear it.
            self.stop_waiting();
            return true;
        }
        self.waker.register(waker);
        // Release: the registration above happens before the ringer's
        // Acquire swap, so its `wake` finds this waker. A swap rather than
        // a store (the same cost, on the path to parking only): a
        // read-modify-write reads the latest value, so it comes after every
        // earlier ringer's swap in the modification order; loom orders
        // plain stores only partially against other threads' swaps and
        // would otherwise let a ringer read a `false` from before it.
        self.waiting.swap(true, Ordering::Release);
        // Pairs with the ringer's fence (store buffering): either it sees
        // `waiting`, or this re-check sees its change.
        fence(Ordering::SeqCst);
        if ready() {
            self.stop_waiting();
            return true;
        }
        false
    }

    /// The blocking wait: spins as `spin` says, then parks the current
    /// thread until `ready()` holds or `deadline` passes. Returns whether
    /// `ready()` holds. Only the bell's one waiter calls it.
    pub(crate) fn wait(
        &self,
        spin: Spin,
        deadline: Option<Instant>,
        ready: impl Fn() -> bool,
    ) -> bool {
        if spin.spin_until(&ready) {
            return true;
        }
        let waker = thread_waker();
        loop {
            if self.poll_wait(&waker, &ready) {
                return true;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                self.stop_waiting();
                return ready();
            }
            // A wake unparks this thread (or an earlier unpark is still
            // pending: then we only look again).
            park_until(deadline);
        }
    }

    /// Leaves the waiting state (a finished or dropped wait).
    pub(crate) fn stop_waiting(&self) {
        // A swap for the same reason as in `poll_wait`.
        self.waiting.swap(false, Ordering::Relaxed);
    }
}

/// Unparks one thread.
struct ThreadWaker(crate::sync::Thread);

impl std::task::Wake for ThreadWaker {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        self.0.unpark();
    }
}

/// A waker that unparks the current thread. Made once per thread (the
/// first call allocates it; [`prepare_thread`] makes that call early) and
/// cloned after that, which allocates nothing.
pub(crate) fn thread_waker() -> Waker {
    #[cfg(not(evlatch_loom))]
    {
        thread_local! {
            static WAKER: Waker =
                Waker::from(std::sync::Arc::new(ThreadWaker(std::thread::current())));
        }
        WAKER.with(Waker::clone)
    }
    // Loom runs its threads on one OS thread: no thread-local cache there.
    #[cfg(evlatch_loom)]
    Waker::from(std::sync::Arc::new(ThreadWaker(
        crate::sync::thread::current(),
    )))
}

/// Makes this thread's [`thread_waker`] now, so that a thread's first
/// blocking wait does not allocate (a worker thread calls it at start).
pub(crate) fn prepare_thread() {
    #[cfg(not(evlatch_loom))]
    drop(thread_waker());
}
