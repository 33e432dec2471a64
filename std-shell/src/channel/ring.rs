//! The storage behind a channel: one ring, or two for the priority levels.
//! (TEMPORARY: a mutex-guarded ring until the core's lock-free heap ring
//! lands; the interface is the one the core queue offers.)

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;

use super::CapacityError;

/// The two priority levels of [`bounded_priority`](super::bounded_priority).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Priority {
    /// Served first.
    High,
    /// Served when no `High` value waits, or by the starvation guard.
    Low,
}

/// After this many `High` values in a row, a waiting `Low` value is served.
pub const LOW_PRIORITY_EVERY: u32 = 8;

pub(crate) struct Ring<T> {
    q: Mutex<VecDeque<T>>,
    cap: usize,
    dropped: AtomicU64,
}

impl<T> Ring<T> {
    fn new(cap: usize) -> Result<Self, CapacityError> {
        if cap == 0 {
            return Err(CapacityError { requested: cap });
        }
        Ok(Self {
            q: Mutex::new(VecDeque::with_capacity(cap)),
            cap,
            dropped: AtomicU64::new(0),
        })
    }
    fn try_push(&self, v: T) -> Result<(), T> {
        let mut q = self.q.lock().unwrap();
        if q.len() == self.cap {
            return Err(v);
        }
        q.push_back(v);
        Ok(())
    }
    fn force_push(&self, v: T) -> Option<T> {
        let mut q = self.q.lock().unwrap();
        let old = if q.len() == self.cap {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            q.pop_front()
        } else {
            None
        };
        q.push_back(v);
        old
    }
    fn try_pop(&self) -> Option<T> {
        self.q.lock().unwrap().pop_front()
    }
    fn len(&self) -> usize {
        self.q.lock().unwrap().len()
    }
}

pub(crate) enum Store<T> {
    Fifo(Ring<T>),
    Priority {
        high: Ring<T>,
        low: Ring<T>,
        streak: AtomicU32,
    },
}

impl<T> Store<T> {
    pub(crate) fn fifo(cap: usize) -> Result<Self, CapacityError> {
        Ok(Store::Fifo(Ring::new(cap)?))
    }

    pub(crate) fn priority(cap: usize) -> Result<Self, CapacityError> {
        Ok(Store::Priority {
            high: Ring::new(cap)?,
            low: Ring::new(cap)?,
            streak: AtomicU32::new(0),
        })
    }

    fn ring(&self, priority: super::Priority) -> &Ring<T> {
        match self {
            Store::Fifo(r) => r,
            Store::Priority { high, low, .. } => match priority {
                Priority::High => high,
                Priority::Low => low,
            },
        }
    }

    pub(crate) fn try_push(&self, v: T, priority: Priority) -> Result<(), T> {
        self.ring(priority).try_push(v)
    }

    pub(crate) fn force_push(&self, v: T, priority: Priority) -> Option<T> {
        self.ring(priority).force_push(v)
    }

    pub(crate) fn try_pop(&self) -> Option<T> {
        match self {
            Store::Fifo(r) => r.try_pop(),
            Store::Priority { high, low, streak } => {
                // Starvation guard: after LOW_PRIORITY_EVERY Highs in a row,
                // a waiting Low goes first.
                if streak.load(Ordering::Relaxed) >= LOW_PRIORITY_EVERY {
                    if let Some(v) = low.try_pop() {
                        streak.store(0, Ordering::Relaxed);
                        return Some(v);
                    }
                }
                if let Some(v) = high.try_pop() {
                    streak.fetch_add(1, Ordering::Relaxed);
                    return Some(v);
                }
                let v = low.try_pop();
                if v.is_some() {
                    streak.store(0, Ordering::Relaxed);
                }
                v
            }
        }
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            Store::Fifo(r) => r.len(),
            Store::Priority { high, low, .. } => high.len() + low.len(),
        }
    }

    pub(crate) fn capacity(&self) -> usize {
        match self {
            Store::Fifo(r) => r.cap,
            Store::Priority { high, .. } => high.cap,
        }
    }

    pub(crate) fn dropped(&self) -> u64 {
        match self {
            Store::Fifo(r) => r.dropped.load(Ordering::Relaxed),
            Store::Priority { high, low, .. } => {
                high.dropped.load(Ordering::Relaxed) + low.dropped.load(Ordering::Relaxed)
            }
        }
    }
}
