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

/// Locks `m` if nobody holds it, ignoring poisoning as [`lock`] does;
/// `None` if it is held.
pub(crate) fn try_lock<T>(m: &Mutex<T>) -> Option<MutexGuard<'_, T>> {
    match m.try_lock() {
        Ok(guard) => Some(guard),
        #[cfg(not(evlatch_loom))]
        Err(std::sync::TryLockError::Poisoned(e)) => Some(e.into_inner()),
        Err(_) => None,
    }
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
// Transparent outside loom: a slice of cells has the layout of a slice of
// `T`, so a ring may copy runs of slots at once (`exchange::ring`).
#[cfg_attr(not(evlatch_loom), repr(transparent))]
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

/// A spin-wait hint (a no-op under loom, which has no notion of it).
#[inline]
pub(crate) fn spin_hint() {
    #[cfg(not(evlatch_loom))]
    core::hint::spin_loop();
}

/// A bounded wait before a thread commits to parking (or, in a lock, between
/// attempts): [`crossbeam_utils::Backoff`] — spins of 1, 2, 4 … 64 hints,
/// then yields the core, and is done after four yields. A peer that is
/// mid-operation usually finishes within the spins; a yield lets a preempted
/// peer run on this core.
///
/// Under loom every re-check is a modelled step, so none are spent there:
/// `should_park` is true at once and `snooze` is one loom yield.
pub(crate) struct Backoff {
    #[cfg(not(evlatch_loom))]
    inner: crossbeam_utils::Backoff,
}

impl Backoff {
    pub(crate) fn new() -> Self {
        Self {
            #[cfg(not(evlatch_loom))]
            inner: crossbeam_utils::Backoff::new(),
        }
    }

    /// One round of waiting.
    pub(crate) fn snooze(&mut self) {
        #[cfg(evlatch_loom)]
        thread::yield_now();
        #[cfg(not(evlatch_loom))]
        self.inner.snooze();
    }

    /// Whether a waiter has backed off long enough and should park now.
    pub(crate) fn should_park(&self) -> bool {
        #[cfg(evlatch_loom)]
        return true;
        #[cfg(not(evlatch_loom))]
        return self.inner.is_completed();
    }
}

/// The single-waiter waker slot: `atomic-waker`'s, or under loom a model
/// of its contract on a loom mutex (so loom sees the registration and the
/// wake). Not loom's own mock: when `register` meets a concurrent `wake`
/// it drops the registration and wakes the new waker instead, which a
/// thread-unparking waker followed by the mock's `yield_now` loses (loom's
/// yield forgets a pending unpark) — a hang of the model, not of the code.
#[cfg(not(evlatch_loom))]
pub(crate) use atomic_waker::AtomicWaker;

#[cfg(evlatch_loom)]
pub(crate) struct AtomicWaker(Mutex<Option<std::task::Waker>>);

#[cfg(evlatch_loom)]
impl AtomicWaker {
    pub(crate) fn new() -> Self {
        Self(Mutex::new(None))
    }

    /// Stores `waker` (a clone), replacing the one before.
    pub(crate) fn register(&self, waker: &std::task::Waker) {
        *lock(&self.0) = Some(waker.clone());
    }

    /// Takes the stored waker, if any, and wakes it.
    pub(crate) fn wake(&self) {
        let taken = lock(&self.0).take();
        if let Some(w) = taken {
            w.wake();
        }
    }
}
