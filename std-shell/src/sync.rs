//! The std shell's one door to locks, atomics, `Arc` and thread parking:
//! loom's under `cfg(evlatch_loom)`, std's otherwise.

#[cfg(evlatch_loom)]
#[allow(unused_imports)]
pub(crate) use loom::{
    sync::atomic::{fence, AtomicBool, AtomicU8, AtomicUsize, Ordering},
    sync::{Arc, Mutex, MutexGuard},
    thread::{self, Thread},
};

#[cfg(not(evlatch_loom))]
#[allow(unused_imports)]
pub(crate) use std::{
    sync::atomic::{fence, AtomicBool, AtomicU8, AtomicUsize, Ordering},
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
