//! The std shell's one door to locks, atomics, `Arc`, `UnsafeCell` and
//! thread parking: loom's under `cfg(evlatch_loom)`, std's otherwise.

#[cfg(evlatch_loom)]
#[allow(unused_imports)]
pub(crate) use loom::{
    sync::atomic::{fence, AtomicBool, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering},
    sync::{Arc, Mutex, MutexGuard},
    thread::{self, Thread},
};

#[cfg(not(evlatch_loom))]
#[allow(unused_imports)]
pub(crate) use std::{
    sync::atomic::{fence, AtomicBool, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering},
    sync::{Arc, Mutex, MutexGuard},
    thread::{self, Thread},
};

/// Locks `m`, ignoring poisoning: every critical section in this crate
/// leaves its data consistent before anything that could panic.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    #[cfg(evlatch_loom)]
    return m.lock().unwrap();
    #[cfg(not(evlatch_loom))]
    return m.lock().unwrap_or_else(|e| e.into_inner());
}

/// Parks the current thread until `deadline` (or indefinitely).
pub(crate) fn park_until(deadline: Option<std::time::Instant>) {
    match deadline {
        None => thread::park(),
        Some(d) => {
            #[cfg(evlatch_loom)]
            {
                // Loom has no clock: a timed park is a park that may wake
                // spuriously, which loom explores by yielding.
                let _ = d;
                thread::yield_now();
            }
            #[cfg(not(evlatch_loom))]
            {
                let now = std::time::Instant::now();
                if d > now {
                    thread::park_timeout(d - now);
                }
            }
        }
    }
}

/// An `UnsafeCell` whose accesses loom can check (std's `UnsafeCell`
/// outside loom).
///
/// `with` hands out a `*const T`, `with_mut` a `*mut T`; the caller's SAFETY
/// comment says why no conflicting access exists at that moment.
pub(crate) struct UnsafeCell<T>(Inner<T>);

#[cfg(evlatch_loom)]
type Inner<T> = loom::cell::UnsafeCell<T>;
#[cfg(not(evlatch_loom))]
type Inner<T> = std::cell::UnsafeCell<T>;

impl<T> UnsafeCell<T> {
    pub(crate) fn new(value: T) -> Self {
        Self(Inner::new(value))
    }

    /// Runs `f` with a shared pointer to the contents.
    #[inline]
    pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        #[cfg(evlatch_loom)]
        return self.0.with(f);
        #[cfg(not(evlatch_loom))]
        return f(self.0.get());
    }

    /// Runs `f` with an exclusive pointer to the contents.
    #[inline]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        #[cfg(evlatch_loom)]
        return self.0.with_mut(f);
        #[cfg(not(evlatch_loom))]
        return f(self.0.get());
    }
}

/// A bounded wait before a thread commits to parking (or, in a lock, between
/// attempts): spins of 1, 2, 4 … 32 hints, then yields the core (crossbeam's
/// `Backoff` shape). A peer that is mid-operation usually finishes within
/// the spins; a yield lets a preempted peer run on this core.
pub(crate) struct Backoff {
    step: u32,
}

impl Backoff {
    /// Spin rounds before the yielding ones (`2^5` = 32 hints at most).
    const SPIN_STEPS: u32 = 6;
    /// Rounds before a waiter should stop backing off and park: the spins,
    /// then four yields. Under loom every re-check is a modelled step, so
    /// none are spent there.
    #[cfg(not(evlatch_loom))]
    const PARK_AFTER: u32 = 10;
    #[cfg(evlatch_loom)]
    const PARK_AFTER: u32 = 0;

    pub(crate) fn new() -> Self {
        Self { step: 0 }
    }

    /// One round of waiting.
    pub(crate) fn snooze(&mut self) {
        if cfg!(evlatch_loom) || self.step >= Self::SPIN_STEPS {
            thread::yield_now();
        } else {
            for _ in 0..1u32 << self.step {
                core::hint::spin_loop();
            }
        }
        self.step = self.step.saturating_add(1);
    }

    /// Whether a waiter has backed off long enough and should park now.
    pub(crate) fn should_park(&self) -> bool {
        self.step >= Self::PARK_AFTER
    }
}
