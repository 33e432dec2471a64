//! The count that keeps a stream in order when it takes two ways: each item
//! goes the direct way (published at once, on the producing thread) while
//! nothing waits on the slow way (a channel to a helper thread that retries),
//! and the slow way while anything does.
//!
//! The zenoh bridge's import uses it: zenoh's callback publishes a remote
//! event into the service itself, unless the service queue is full or
//! earlier events still wait in the import channel for the bridge thread.
//!
//! State word `waiting`: items handed to the slow way whose delivery has
//! not finished.
//!
//! | step | who | what |
//! |------|-----|------|
//! | [`is_empty`](Backlog::is_empty) | producer | `waiting == 0`: an item may go direct |
//! | [`enter`](Backlog::enter) | producer | `+1`, *before* the hand-off |
//! | [`leave`](Backlog::leave) | helper | `-1`, *after* the item's delivery (or its loss) |
//! | [`leave`](Backlog::leave) | producer | `-1`, when its hand-off failed |
//!
//! Why this keeps order: a producer that sees `0` saw the `leave` of every
//! item it handed over before, and each `leave` comes after that item's
//! delivery; so everything it sent the slow way was delivered before it
//! delivers directly. `enter` before the hand-off means the helper can
//! never `leave` an item not yet counted, so the word never reads `0` while
//! one is on its way.

use crate::sync::{AtomicUsize, Ordering};

/// See the [module docs](self).
#[derive(Default)]
pub(crate) struct Backlog {
    waiting: AtomicUsize,
}

impl Backlog {
    /// Whether nothing handed to the slow way is still undelivered: the
    /// producer may deliver its next item directly.
    pub(crate) fn is_empty(&self) -> bool {
        // Acquire: pairs with `leave`'s Release, so the helper's deliveries
        // happened before what the producer does next.
        self.waiting.load(Ordering::Acquire) == 0
    }

    /// Counts one item about to be handed to the slow way.
    pub(crate) fn enter(&self) {
        self.waiting.fetch_add(1, Ordering::AcqRel);
    }

    /// Uncounts one item: delivered (or lost) by the helper, or not handed
    /// over after all.
    pub(crate) fn leave(&self) {
        let before = self.waiting.fetch_sub(1, Ordering::AcqRel);
        debug_assert!(before > 0, "left a backlog nobody entered");
    }
}

#[cfg(all(test, evlatch_loom))]
mod loom_model {
    use loom::sync::{Arc, Mutex};
    use std::collections::VecDeque;

    use super::Backlog;

    /// The producer's first item goes the slow way (its direct attempt
    /// "failed"); its second takes whichever way the backlog allows, while
    /// the helper delivers the first and leaves. Delivery order must be
    /// producer order. (Putting the helper's `leave` before its delivery
    /// makes this fail: the second item overtakes.)
    #[test]
    fn a_direct_item_never_overtakes_a_waiting_one() {
        loom::model(|| {
            let backlog = Arc::new(Backlog::default());
            let slow = Arc::new(Mutex::new(VecDeque::new()));
            let delivered = Arc::new(Mutex::new(Vec::new()));
            let helper = {
                let (backlog, slow, delivered) = (backlog.clone(), slow.clone(), delivered.clone());
                loom::thread::spawn(move || loop {
                    let item = slow.lock().unwrap().pop_front();
                    match item {
                        Some(item) => {
                            delivered.lock().unwrap().push(item);
                            backlog.leave();
                            return;
                        }
                        None => loom::thread::yield_now(),
                    }
                })
            };
            backlog.enter();
            slow.lock().unwrap().push_back(1);
            if backlog.is_empty() {
                delivered.lock().unwrap().push(2);
            } else {
                backlog.enter();
                slow.lock().unwrap().push_back(2);
            }
            helper.join().unwrap();
            // What the helper left on the slow way, delivered in order.
            while let Some(item) = slow.lock().unwrap().pop_front() {
                delivered.lock().unwrap().push(item);
                backlog.leave();
            }
            assert_eq!(*delivered.lock().unwrap(), [1, 2]);
            assert!(backlog.is_empty());
        });
    }
}
