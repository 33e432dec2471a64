//! A wait list for "something changed" notifications: the blocking and async
//! half of the channels.
//!
//! `count` mirrors the number of registered listeners so that a notifier
//! with nobody to wake pays one fence and one load, no lock. Lost wake-ups
//! are excluded by a store-buffering (Dekker) argument: a waiter registers
//! (count += 1, SeqCst) and then re-checks the condition; a notifier changes
//! the condition, issues a SeqCst fence, then reads `count`. At least one of
//! the two sees the other's write.
//!
//! A notification goes to one listener (`notify_one`) or all
//! (`notify_all`); a listener that was chosen but gives up (timeout,
//! dropped future) passes its notification on, so none is lost.

use std::collections::VecDeque;
use std::task::Waker;

use crate::batch::Batch;
use crate::parking::WakeBy;
use crate::sync::{fence, lock, Arc, AtomicBool, AtomicUsize, Mutex, Ordering};

pub(crate) struct Notify {
    /// Number of entries in `list` (kept equal under the lock).
    count: AtomicUsize,
    list: Mutex<List>,
}

struct List {
    entries: VecDeque<Entry>,
    next_key: u64,
}

struct Entry {
    key: u64,
    wake: WakeBy,
    notified: Arc<AtomicBool>,
}

/// A registration in a [`Notify`]. Must be finished with [`Notify::cancel`]
/// unless [`Listener::is_notified`] (a notified listener has been removed).
pub(crate) struct Listener {
    key: u64,
    notified: Arc<AtomicBool>,
}

impl Listener {
    pub(crate) fn is_notified(&self) -> bool {
        // Acquire: pairs with the notifier's release store.
        self.notified.load(Ordering::Acquire)
    }
}

impl Notify {
    pub(crate) fn new() -> Self {
        Self {
            count: AtomicUsize::new(0),
            list: Mutex::new(List {
                entries: VecDeque::new(),
                next_key: 0,
            }),
        }
    }

    /// Registers a listener. The caller re-checks its condition afterwards.
    pub(crate) fn listen(&self, wake: WakeBy) -> Listener {
        let notified = Arc::new(AtomicBool::new(false));
        let mut list = lock(&self.list);
        let key = list.next_key;
        list.next_key += 1;
        list.entries.push_back(Entry {
            key,
            wake,
            notified: notified.clone(),
        });
        // SeqCst: the Dekker pair with `notify_*`'s fence (see module docs).
        self.count.fetch_add(1, Ordering::SeqCst);
        drop(list);
        // SeqCst fence: orders the increment before the caller's re-check.
        fence(Ordering::SeqCst);
        Listener { key, notified }
    }

    /// Replaces the waker of a still-registered listener.
    pub(crate) fn update_waker(&self, listener: &Listener, waker: &Waker) {
        let mut list = lock(&self.list);
        if let Some(e) = list.entries.iter_mut().find(|e| e.key == listener.key) {
            match &e.wake {
                WakeBy::Task(w) if w.will_wake(waker) => {}
                _ => e.wake = WakeBy::Task(waker.clone()),
            }
        }
    }

    /// Removes a listener that gives up. If it had been notified meanwhile,
    /// the notification passes to the next listener.
    pub(crate) fn cancel(&self, listener: Listener) {
        let mut list = lock(&self.list);
        if let Some(i) = list.entries.iter().position(|e| e.key == listener.key) {
            list.entries.remove(i);
            self.count.fetch_sub(1, Ordering::SeqCst);
            return;
        }
        drop(list);
        if listener.is_notified() {
            self.notify_one();
        }
    }

    /// Wakes the longest-waiting listener, if any.
    pub(crate) fn notify_one(&self) {
        self.notify(1);
    }

    /// Wakes every listener.
    pub(crate) fn notify_all(&self) {
        self.notify(usize::MAX);
    }

    /// Wakes up to `n` listeners, oldest first.
    pub(crate) fn notify(&self, n: usize) {
        // SeqCst fence: the caller's change to the condition is ordered
        // before our read of `count` (Dekker pair with `listen`).
        fence(Ordering::SeqCst);
        if self.count.load(Ordering::SeqCst) == 0 {
            return;
        }
        let mut woken = Batch::new();
        {
            let mut list = lock(&self.list);
            while woken.len() < n {
                let Some(e) = list.entries.pop_front() else {
                    break;
                };
                self.count.fetch_sub(1, Ordering::SeqCst);
                e.notified.store(true, Ordering::Release);
                woken.push(e);
            }
        }
        // Wake, and drop the entries' flags, outside the lock.
        for e in woken.drain() {
            e.wake.wake();
        }
    }
}
