//! The waiter table: where blocked threads and pending tasks wait for core
//! events, keyed by the event's address, woken by the core's wake hook.
//!
//! The core never blocks and keeps no waiter lists; it offers
//! `snapshot` + `arm_wake` and calls registered hooks when an armed
//! generation finishes (see `evlatch::wake`). This module is that hook's
//! other half, in the spirit of a parking lot: a fixed array of buckets, each
//! a mutex over the waiters whose event hashes there.
//!
//! Protocol for one waiter (the proof that no completion is missed):
//!
//! 1. `snapshot()`; a final status returns at once (one load).
//! 2. Insert the entry `(event address, generation, outcome cell, wake-by)`
//!    into its bucket (under the bucket lock).
//! 3. `arm_wake(snapshot)`. `Completed(s)`: no hook call will come for that
//!    generation; remove the entry (or find the hook of an earlier-armed
//!    waiter already completed it) and return `s`. `Armed`: the finisher of
//!    that generation will call the hook after its finishing CAS, which
//!    happens after our arming CAS, which happens after our insertion: the
//!    hook, taking the bucket lock, finds the entry.
//! 4. The hook sets each matching entry's outcome, removes it, and wakes it
//!    after releasing the lock.
//!
//! Cancellation (a dropped future, a timed-out wait) removes the entry under
//! the lock; if the entry is already gone, the hook completed it, and the
//! outcome cell says how.

use std::task::Waker;

use evlatch::wake::{register_wake_hook, Completion, WakeHook};
use evlatch::{Event, EventStatus, Snapshot, WakeArm};

use crate::batch::Batch;
use crate::sync::{lock, Arc, AtomicU8, Mutex, Ordering, Thread};

const BUCKETS: usize = 64;

/// How a waiter is woken.
pub(crate) enum WakeBy {
    Thread(Thread),
    Task(Waker),
}

impl WakeBy {
    pub(crate) fn wake(self) {
        match self {
            WakeBy::Thread(t) => t.unpark(),
            WakeBy::Task(w) => w.wake(),
        }
    }
}

/// Where the hook writes a waiter's outcome: 0 while pending, else the
/// final status as `EventStatus as u8`.
#[derive(Debug, Default)]
pub(crate) struct Outcome(AtomicU8);

impl Outcome {
    pub(crate) fn get(&self) -> Option<EventStatus> {
        // Acquire: pairs with `set`, so the waiter sees what the finisher
        // wrote before finishing.
        match self.0.load(Ordering::Acquire) {
            2 => Some(EventStatus::Success),
            3 => Some(EventStatus::Failed),
            _ => None,
        }
    }

    fn set(&self, status: EventStatus) {
        debug_assert!(status.is_final());
        self.0.store(status as u8, Ordering::Release);
    }
}

struct Entry {
    event: usize,
    generation: u32,
    key: u64,
    outcome: Arc<Outcome>,
    wake: WakeBy,
}

struct Bucket {
    entries: Vec<Entry>,
    next_key: u64,
}

struct Table {
    buckets: Vec<Mutex<Bucket>>,
}

impl Table {
    fn new() -> Self {
        Self {
            buckets: (0..BUCKETS)
                .map(|_| {
                    Mutex::new(Bucket {
                        entries: Vec::new(),
                        next_key: 0,
                    })
                })
                .collect(),
        }
    }

    fn bucket(&self, event: usize) -> &Mutex<Bucket> {
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
        // Another crate may have registered a CPU->CPU wait already; that
        // one serves equally, so the error is not a failure.
        let _ = evlatch::backend::register_wait(
            evlatch::backend::DeviceType::CPU,
            evlatch::backend::DeviceType::CPU,
            crate::wait::cpu_wait,
        );
    });
}

fn wake_hook(event: &Event, done: Completion) {
    let addr = event as *const Event as usize;
    let mut woken: Batch<Entry> = Batch::new();
    {
        let mut bucket = lock(table().bucket(addr));
        // In registration order, so waiters are released first come, first
        // served.
        for entry in bucket
            .entries
            .extract_if(.., |e| e.event == addr && e.generation == done.generation)
        {
            entry.outcome.set(done.status);
            woken.push(entry);
        }
    }
    // Wake (and drop the entries' outcome handles) outside the lock: a woken
    // thread goes straight for it otherwise.
    for entry in woken.drain() {
        entry.wake.wake();
    }
}

/// How many waiters are registered right now, across all events.
pub(crate) fn waiter_count() -> usize {
    table().buckets.iter().map(|b| lock(b).entries.len()).sum()
}

/// A waiter's place in the table.
pub(crate) struct Registration {
    event: usize,
    key: u64,
    pub(crate) outcome: Arc<Outcome>,
}

/// Steps 2–3 of the protocol. `Err(status)` when the generation `seen` came
/// from has already completed (nothing stays registered then).
pub(crate) fn register(
    event: &Event,
    seen: Snapshot,
    wake: WakeBy,
) -> Result<Registration, EventStatus> {
    install();
    let addr = event as *const Event as usize;
    let outcome = Arc::new(Outcome::default());
    let key = {
        let mut bucket = lock(table().bucket(addr));
        let key = bucket.next_key;
        bucket.next_key += 1;
        bucket.entries.push(Entry {
            event: addr,
            generation: seen.generation(),
            key,
            outcome: outcome.clone(),
            wake,
        });
        key
    };
    let reg = Registration {
        event: addr,
        key,
        outcome,
    };
    match event.arm_wake(seen) {
        WakeArm::Armed => Ok(reg),
        WakeArm::Completed(status) => {
            // Another waiter's arm may have made the hook complete us
            // already; either way the outcome is `status`'s generation's.
            Err(reg.cancel().unwrap_or(status))
        }
    }
}

impl Registration {
    /// Removes the entry. `Some(status)` if the hook completed it first.
    pub(crate) fn cancel(&self) -> Option<EventStatus> {
        let mut bucket = lock(table().bucket(self.event));
        match bucket
            .entries
            .iter()
            .position(|e| e.key == self.key && e.event == self.event)
        {
            Some(i) => {
                let entry = bucket.entries.remove(i);
                drop(bucket);
                drop(entry);
                None
            }
            None => {
                drop(bucket);
                let status = self.outcome.get();
                debug_assert!(
                    status.is_some(),
                    "only the hook removes entries it did not cancel"
                );
                status
            }
        }
    }

    /// Replaces the task waker (if the entry is still waiting). Returns the
    /// outcome if the hook already completed it.
    pub(crate) fn update_waker(&self, waker: &Waker) -> Option<EventStatus> {
        let mut bucket = lock(table().bucket(self.event));
        match bucket
            .entries
            .iter_mut()
            .find(|e| e.key == self.key && e.event == self.event)
        {
            Some(entry) => {
                match &mut entry.wake {
                    WakeBy::Task(w) if w.will_wake(waker) => {}
                    other => *other = WakeBy::Task(waker.clone()),
                }
                None
            }
            None => {
                drop(bucket);
                self.outcome.get()
            }
        }
    }
}
