//! The wait lists' lock: a test-and-test-and-set lock that backs off, then
//! yields.
//!
//! Why not `std::sync::Mutex`: its unlock is a locked read-modify-write (it
//! must learn whether a sleeper needs waking); this lock's unlock is a plain
//! release store. Every wait takes a list lock twice (to link, and the
//! finisher's hook to unlink), so that is two locked instructions fewer per
//! wake-up.
//!
//! Why spinning is safe here: the sections under this lock are list surgery
//! only — a few pointer writes, no user code, no allocation, no wake-ups (the
//! lists collect wake-ups and deliver them after unlocking). So a thread
//! that finds the lock taken waits for a bounded amount of work; it spins
//! briefly, then yields its core, so a holder preempted mid-section gets to
//! run and finish it. Nobody holding this lock ever waits for anything.
//!
//! State of `locked`:
//!
//! | value | meaning  | who moves it out                                  |
//! |-------|----------|---------------------------------------------------|
//! | false | free     | any thread (acquiring CAS)                        |
//! | true  | held     | the holder only (release store, also on unwind)   |

use crate::sync::{AtomicBool, Backoff, Ordering, UnsafeCell};

/// The lock the wait lists use: the spin lock below, except under loom,
/// where a spinning thread multiplies the interleavings loom must explore
/// past its limits. There the lists run on loom's (exactly modelled) mutex,
/// and the spin lock has a loom model of its own (`tests::loom_model`).
#[cfg(not(evlatch_loom))]
pub(crate) type ListLock<T> = SpinLock<T>;
#[cfg(evlatch_loom)]
pub(crate) type ListLock<T> = LoomMutex<T>;

/// A test-and-test-and-set lock: acquire by CAS, release by a plain store.
#[cfg_attr(
    evlatch_loom,
    allow(dead_code, reason = "under loom only its own model uses it")
)]
pub(crate) struct SpinLock<T> {
    locked: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: the lock hands `&mut T` to one thread at a time (acquire/release
// on `locked`), so it is shareable when `T` may move between threads.
unsafe impl<T: Send> Sync for SpinLock<T> {}
// SAFETY: as above; owning the lock owns the `T`.
unsafe impl<T: Send> Send for SpinLock<T> {}

#[cfg_attr(
    evlatch_loom,
    allow(dead_code, reason = "under loom only its own model uses it")
)]
impl<T> SpinLock<T> {
    pub(crate) fn new(value: T) -> Self {
        Self {
            locked: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    /// Runs `f` with the lock held. `f` must be short and must not wait for
    /// anything (see the module docs).
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        self.acquire();
        /// Releases on every way out of `f`, unwinding included.
        struct Unlock<'a>(&'a AtomicBool);
        impl Drop for Unlock<'_> {
            fn drop(&mut self) {
                // Release: the next holder's acquire sees our writes.
                self.0.store(false, Ordering::Release);
            }
        }
        let _unlock = Unlock(&self.locked);
        // SAFETY: we hold the lock, so no other reference to the value
        // exists until `_unlock` releases it after `f` returns.
        self.value.with_mut(|v| f(unsafe { &mut *v }))
    }

    fn acquire(&self) {
        // Acquire: pairs with the previous holder's release store.
        if self
            .locked
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.acquire_contended();
        }
    }

    #[cold]
    fn acquire_contended(&self) {
        let mut backoff = Backoff::new();
        loop {
            // Test before test-and-set: wait on a shared copy of the line.
            while self.locked.load(Ordering::Relaxed) {
                backoff.snooze();
            }
            if self
                .locked
                .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                return;
            }
        }
    }
}

/// Under loom: loom's mutex behind the same closure interface.
#[cfg(evlatch_loom)]
pub(crate) struct LoomMutex<T>(loom::sync::Mutex<T>);

#[cfg(evlatch_loom)]
impl<T> LoomMutex<T> {
    pub(crate) fn new(value: T) -> Self {
        Self(loom::sync::Mutex::new(value))
    }

    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        f(&mut self.0.lock().unwrap())
    }
}

#[cfg(all(test, evlatch_loom))]
mod loom_model {
    use loom::sync::Arc;

    use super::SpinLock;

    /// Two threads each increment a counter under the spin lock: both
    /// increments land (mutual exclusion), and loom's cell checks that each
    /// holder's acquire sees the previous holder's write (the acquire/release
    /// pair on `locked`).
    #[test]
    fn two_holders_exclude_each_other() {
        loom::model(|| {
            let lock = Arc::new(SpinLock::new(0u32));
            let other = {
                let lock = lock.clone();
                loom::thread::spawn(move || lock.with(|v| *v += 1))
            };
            lock.with(|v| *v += 1);
            other.join().unwrap();
            assert_eq!(lock.with(|v| *v), 2);
        });
    }
}

#[cfg(all(test, not(evlatch_loom)))]
mod tests {
    use std::sync::Arc;

    use super::SpinLock as ListLock;

    #[test]
    fn excludes_and_releases_on_unwind() {
        let lock = Arc::new(ListLock::new(0u64));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let lock = lock.clone();
                std::thread::spawn(move || {
                    for _ in 0..if cfg!(miri) { 50 } else { 20_000 } {
                        lock.with(|v| *v += 1);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let per = if cfg!(miri) { 50 } else { 20_000 };
        assert_eq!(lock.with(|v| *v), 4 * per);
        let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            lock.with(|_| panic!("inside the lock"));
        }));
        assert!(unwound.is_err());
        assert_eq!(lock.with(|v| *v), 4 * per, "released while unwinding");
    }
}
