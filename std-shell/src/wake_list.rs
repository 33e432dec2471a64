//! How a waiter is woken, and a fixed-size batch of wake-ups that both wait
//! lists collect under their lock and deliver after it.
//!
//! The batch never allocates: a list with more waiters to wake than fit
//! wakes them in rounds, releasing its lock between rounds (tokio's
//! `WakeList` works the same way). Waking runs user code (a `Waker`); a
//! panic in one wake-up does not lose the others: each wake runs under
//! `catch_unwind`, and the first panic is resumed once every waiter of the
//! batch has been woken.

use std::any::Any;
use std::mem::MaybeUninit;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::task::Waker;

use crate::sync::Thread;

/// How many wake-ups one round delivers.
const ROUND: usize = 32;

/// How a waiter is woken.
pub(crate) enum WakeBy {
    Thread(Thread),
    Task(Waker),
}

impl WakeBy {
    fn wake(self) {
        match self {
            WakeBy::Thread(t) => t.unpark(),
            WakeBy::Task(w) => w.wake(),
        }
    }

    /// Replaces a task waker unless it would wake the same task.
    pub(crate) fn update(&mut self, waker: &Waker) {
        match self {
            WakeBy::Task(w) if w.will_wake(waker) => {}
            other => *other = WakeBy::Task(waker.clone()),
        }
    }
}

/// Up to [`ROUND`] wake-ups taken out of a wait list under its lock.
pub(crate) struct WakeList {
    /// `items[..len]` are initialised; the rest are not (so a new list
    /// costs nothing to set up on the finisher's hot path).
    items: [MaybeUninit<WakeBy>; ROUND],
    len: usize,
    /// The first panic a wake-up raised, resumed by [`WakeList::finish`].
    panic: Option<Box<dyn Any + Send + 'static>>,
}

impl WakeList {
    pub(crate) fn new() -> Self {
        Self {
            items: [const { MaybeUninit::uninit() }; ROUND],
            len: 0,
            panic: None,
        }
    }

    pub(crate) fn is_full(&self) -> bool {
        self.len == ROUND
    }

    /// Adds a wake-up; the caller checks [`is_full`](Self::is_full) first.
    pub(crate) fn push(&mut self, wake: WakeBy) {
        assert!(!self.is_full(), "a wake list holds {ROUND} wake-ups");
        self.items[self.len].write(wake);
        self.len += 1;
    }

    /// Wakes everything collected so far, in collection order (call it with
    /// no lock held). A panicking wake-up is remembered, not propagated.
    pub(crate) fn wake_all(&mut self) {
        let len = core::mem::replace(&mut self.len, 0);
        for slot in &mut self.items[..len] {
            // SAFETY: `items[..len]` were initialised by `push`; `len` is
            // already 0, so each is read exactly once (no unwinding leaves
            // this loop: every wake runs under `catch_unwind`).
            let wake = unsafe { slot.assume_init_read() };
            if let Err(payload) = catch_unwind(AssertUnwindSafe(|| wake.wake())) {
                self.panic.get_or_insert(payload);
            }
        }
    }

    /// Wakes what is left, then resumes the first panic a wake-up raised.
    /// (By reference: the list is large, and moving it costs a copy.)
    pub(crate) fn finish(&mut self) {
        self.wake_all();
        if let Some(payload) = self.panic.take() {
            resume_unwind(payload);
        }
    }
}

impl Drop for WakeList {
    fn drop(&mut self) {
        // Only reached with items left if the caller unwound between
        // collecting and waking: drop them unwoken rather than leak them.
        for slot in &mut self.items[..self.len] {
            // SAFETY: `items[..len]` are initialised and dropped once here.
            unsafe { slot.assume_init_drop() };
        }
    }
}

#[cfg(all(test, not(evlatch_loom)))]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::{Wake, Waker};

    use super::{WakeBy, WakeList, ROUND};

    struct Count(AtomicUsize, bool);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
            assert!(!self.1, "this waker panics");
        }
    }

    #[test]
    fn a_panicking_wake_up_loses_no_other() {
        let good = Arc::new(Count(AtomicUsize::new(0), false));
        let bad = Arc::new(Count(AtomicUsize::new(0), true));
        let mut list = WakeList::new();
        list.push(WakeBy::Task(Waker::from(good.clone())));
        list.push(WakeBy::Task(Waker::from(bad.clone())));
        list.push(WakeBy::Task(Waker::from(good.clone())));
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| list.finish()));
        assert!(result.is_err(), "the panic continues after the others woke");
        assert_eq!(good.0.load(Ordering::SeqCst), 2);
        assert_eq!(bad.0.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn rounds_fill_and_empty() {
        let good = Arc::new(Count(AtomicUsize::new(0), false));
        let mut list = WakeList::new();
        for _ in 0..ROUND {
            list.push(WakeBy::Task(Waker::from(good.clone())));
        }
        assert!(list.is_full());
        list.wake_all();
        assert!(!list.is_full());
        list.push(WakeBy::Task(Waker::from(good.clone())));
        list.finish();
        assert_eq!(good.0.load(Ordering::SeqCst), ROUND + 1);
    }
}
