//! A wait list for "something changed" notifications: the blocking and async
//! half of the channels.
//!
//! Listeners are intrusive nodes ([`Listener`]) that live on the blocked
//! thread's stack or inside the pending future: listening allocates
//! nothing, and a listener that gives up unlinks itself in O(1).
//!
//! `count` mirrors the number of linked listeners so that a notifier with
//! nobody to wake pays one fence and one load, no lock. Lost wake-ups are
//! excluded by a store-buffering (Dekker) argument: a waiter links itself
//! (count += 1, SeqCst) and then re-checks the condition; a notifier changes
//! the condition, issues a SeqCst fence, then reads `count`. At least one of
//! the two sees the other's write.
//!
//! A notification goes to one listener (`notify_one`, oldest first) or all
//! (`notify_all`). A notified listener is unlinked by the notifier and owns
//! its notification: it either consumes it ([`Listener::take_notified`],
//! then retries its operation) or, giving up (timeout, dropped future, an
//! operation that succeeded without it), passes it on to the next listener,
//! so none is lost.

use core::cell::Cell;
use core::marker::PhantomPinned;
use core::pin::Pin;
use std::task::Waker;

use crate::list::{Linked, Links, List};
use crate::list_lock::ListLock;
use crate::sync::{fence, AtomicBool, AtomicUsize, Ordering, UnsafeCell};
use crate::wake_list::{WakeBy, WakeList};

pub(crate) struct Notify {
    /// Number of linked listeners (kept equal to the list's length; changed
    /// only under the lock, read without it by notifiers).
    count: AtomicUsize,
    list: ListLock<List<Node>>,
}

/// The shared part of a listener, reached by notifiers through the list.
struct Node {
    links: Links<Node>,
    /// How to wake the owner: written under the lock (listen, waker
    /// updates), taken by the notifier under the lock.
    wake: UnsafeCell<Option<WakeBy>>,
    /// Set (release) by the notifier after unlinking the node: its last
    /// touch of it. Cleared only by the owner.
    notified: AtomicBool,
    _pinned: PhantomPinned,
}

// SAFETY: `links` returns the node's own field.
unsafe impl Linked for Node {
    fn links(&self) -> &Links<Node> {
        &self.links
    }
}

// SAFETY: notifiers reach a linked node from other threads; its non-atomic
// fields (`links`, `wake`) are accessed only under the list's lock, and
// `WakeBy` is `Send`.
unsafe impl Sync for Node {}
// SAFETY: as above; nothing in a node is tied to a thread.
unsafe impl Send for Node {}

/// One listener on one [`Notify`]; pinned while it listens, reusable for
/// several rounds.
///
/// States (`armed` is the owner's; `linked` the list's, under the lock):
///
/// | armed | linked | notified | meaning                            | next                        |
/// |-------|--------|----------|------------------------------------|-----------------------------|
/// | no    | no     | no       | idle                               | owner: `listen`             |
/// | yes   | yes    | no       | listening                          | notifier: notify; owner: `cancel` |
/// | yes   | no     | yes      | notified, not yet consumed          | owner: `take_notified` or `cancel` (passes it on) |
pub(crate) struct Listener<'a> {
    notify: &'a Notify,
    node: Node,
    /// Whether the node is listening or holds an unconsumed notification.
    /// Owner-only (the owner is one thread at a time).
    armed: Cell<bool>,
}

impl<'a> Listener<'a> {
    /// An idle listener on `notify`.
    pub(crate) fn new(notify: &'a Notify) -> Self {
        Self {
            notify,
            node: Node {
                links: Links::new(),
                wake: UnsafeCell::new(None),
                notified: AtomicBool::new(false),
                _pinned: PhantomPinned,
            },
            armed: Cell::new(false),
        }
    }

    /// Starts listening. The caller re-checks its condition afterwards.
    pub(crate) fn listen(self: Pin<&Self>, wake: WakeBy) {
        debug_assert!(!self.armed.get(), "listen on an idle listener");
        let node = &self.node;
        // Relaxed: the node is ours until linked; the lock publishes it.
        node.notified.store(false, Ordering::Relaxed);
        self.notify.list.with(|list| {
            // SAFETY: not linked, so nobody else reads `wake`.
            node.wake.with_mut(|w| unsafe { *w = Some(wake) });
            // SAFETY: not linked; pinned, and `Drop` unlinks it before it
            // moves or dies.
            unsafe { list.push_back(node) };
            // SeqCst: the Dekker pair with `notify`'s fence (module docs).
            self.notify.count.fetch_add(1, Ordering::SeqCst);
        });
        // SeqCst fence: orders the increment before the caller's re-check.
        fence(Ordering::SeqCst);
        self.armed.set(true);
    }

    /// Consumes a notification, if one arrived: `true` means the caller
    /// retries its operation (and listens again if that fails).
    pub(crate) fn take_notified(&self) -> bool {
        // Acquire: pairs with the notifier's release store; after it the
        // notifier no longer touches the node.
        if self.armed.get() && self.node.notified.load(Ordering::Acquire) {
            self.node.wake.with(|w| {
                // SAFETY: notified, so the notifier is done with the node:
                // the acquire load orders its taking of `wake` before this
                // read (loom checks that edge here).
                let taken = unsafe { (*w).is_none() };
                debug_assert!(taken, "the notifier took the waker");
            });
            self.node.notified.store(false, Ordering::Relaxed);
            self.armed.set(false);
            true
        } else {
            false
        }
    }

    /// Replaces the task waker while still listening; `false` if the
    /// listener was notified meanwhile (or is idle).
    pub(crate) fn update_waker(&self, waker: &Waker) -> bool {
        // Idle, or notified already (acquire, as in `take_notified`): no
        // lock needed to know it is not listening.
        if !self.armed.get() || self.node.notified.load(Ordering::Acquire) {
            return false;
        }
        self.notify.list.with(|list| {
            if !list.contains(&self.node) {
                return false;
            }
            self.node.wake.with_mut(|w| {
                // SAFETY: linked, and we hold the lock that guards `wake`.
                if let Some(wake) = unsafe { &mut *w } {
                    wake.update(waker);
                }
            });
            true
        })
    }

    /// Gives up: unlinks the listener, or, if it was notified meanwhile,
    /// passes the notification on to the next listener.
    pub(crate) fn cancel(&self) {
        if !self.armed.replace(false) {
            return;
        }
        // Acquire: as in `take_notified`.
        if !self.node.notified.load(Ordering::Acquire) {
            let wake = self.notify.list.with(|list| {
                // SAFETY: the node is in this notify's list or in none.
                if unsafe { list.remove(&self.node) } {
                    self.notify.count.fetch_sub(1, Ordering::SeqCst);
                    // SAFETY: unlinked under the lock: nobody else reads it.
                    self.node.wake.with_mut(|w| unsafe { (*w).take() })
                } else {
                    None
                }
            });
            if wake.is_some() {
                // Withdrawn before any notification; dropped outside the
                // lock (a waker's drop is user code).
                return;
            }
        }
        self.node.notified.store(false, Ordering::Relaxed);
        self.notify.notify_one();
    }
}

impl Drop for Listener<'_> {
    fn drop(&mut self) {
        self.cancel();
    }
}

impl Notify {
    pub(crate) fn new() -> Self {
        Self {
            count: AtomicUsize::new(0),
            list: ListLock::new(List::new()),
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
        if n == 0 || self.count.load(Ordering::SeqCst) == 0 {
            return;
        }
        let mut left = n;
        let mut wakes = WakeList::new();
        while left > 0 && self.notify_round(&mut left, &mut wakes) {
            wakes.wake_all();
        }
        wakes.finish();
    }

    /// Unlinks and notifies listeners from the front until `left` is 0, the
    /// list is empty or the round is full; `true` if listeners remain to be
    /// tried in another round.
    fn notify_round(&self, left: &mut usize, wakes: &mut WakeList) -> bool {
        self.list.with(|list| self.notify_locked(list, left, wakes))
    }

    fn notify_locked(&self, list: &mut List<Node>, left: &mut usize, wakes: &mut WakeList) -> bool {
        let mut room = wakes.room();
        let mut taken = 0;
        // SAFETY: neither closure touches links or unwinds (`push_unchecked`
        // gets at most `room` wake-ups: `pick` counts them).
        let stopped = unsafe {
            list.unlink_where(
                |_| {
                    if *left == 0 || room == 0 {
                        return None;
                    }
                    *left -= 1;
                    room -= 1;
                    Some(true)
                },
                |node| {
                    // Unlinked under the lock: its `wake` is ours to take.
                    let wake = (*node).wake.with_mut(|w| (*w).take());
                    // Release: the owner acquires this and may free the node
                    // at once; nothing after this touches `node` (only the
                    // pointer, and the atomic's own reference for the store).
                    (*node).notified.store(true, Ordering::Release);
                    taken += 1;
                    if let Some(wake) = wake {
                        wakes.push_unchecked(wake);
                    }
                },
            )
        };
        if taken > 0 {
            // Once per round, still under the lock (the only place `count`
            // changes): until this lands, a notifier reading the old, larger
            // count takes the lock and finds fewer listeners, which is
            // harmless; it never reads a count too small.
            self.count.fetch_sub(taken, Ordering::SeqCst);
        }
        stopped && *left > 0
    }
}

#[cfg(all(test, evlatch_loom))]
mod loom_model {
    use core::pin::pin;
    use std::task::{Wake, Waker};

    use loom::sync::Arc;

    use super::{Listener, Notify};
    use crate::wake_list::WakeBy;

    struct Noop;
    impl Wake for Noop {
        fn wake(self: std::sync::Arc<Self>) {}
    }

    /// A listener that polls for its notification (as a timed wait or a
    /// spuriously woken thread does, with no unpark to order it) while
    /// another thread notifies: the flag's acquire/release pair alone must
    /// order the notifier's last touch of the node (taking its waker) before
    /// the listener reuses or frees the node — loom's cell check in
    /// `take_notified` fails if either side of the pair is weakened.
    #[test]
    fn notification_seen_without_unpark() {
        loom::model(|| {
            let notify = Arc::new(Notify::new());
            let listener = {
                let notify = notify.clone();
                loom::thread::spawn(move || {
                    let l = pin!(Listener::new(&notify));
                    l.as_ref()
                        .listen(WakeBy::Task(Waker::from(std::sync::Arc::new(Noop))));
                    while !l.take_notified() {
                        loom::thread::yield_now();
                    }
                })
            };
            // Only notify once the listener is linked (else nothing to wake).
            while notify.count.load(crate::sync::Ordering::SeqCst) == 0 {
                loom::thread::yield_now();
            }
            notify.notify_one();
            listener.join().unwrap();
        });
    }
}
