//! How a waiter is woken, and a fixed-size batch of wake-ups that both wait
//! lists collect under their lock and deliver after it.
//!
//! The batch never allocates: a list with more waiters to wake than fit
//! wakes them in rounds, releasing its lock between rounds (tokio's
//! `WakeList` works the same way). Waking runs user code (a `Waker`); a
//! panic in one wake-up does not lose the others: the wake loop runs under
//! one `catch_unwind` and keeps a cursor in the list, so after a panic it
//! resumes with the next wake-up, and the first panic is resumed once every
//! waiter of the batch has been woken.

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
    #[inline]
    pub(crate) fn wake(self) {
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
    /// `items[next..len]` are initialised; the rest are not (so a new list
    /// costs nothing to set up on the finisher's hot path).
    items: [MaybeUninit<WakeBy>; ROUND],
    len: usize,
    /// The wake loop's cursor: `items[..next]` have been woken (or are
    /// being woken) and are no longer owned by the list.
    next: usize,
    /// The first panic a wake-up raised, resumed by [`WakeList::finish`].
    panic: Option<Box<dyn Any + Send + 'static>>,
}

impl WakeList {
    pub(crate) fn new() -> Self {
        Self {
            items: [const { MaybeUninit::uninit() }; ROUND],
            len: 0,
            next: 0,
            panic: None,
        }
    }

    /// How many more wake-ups fit before [`wake_all`](Self::wake_all).
    pub(crate) fn room(&self) -> usize {
        ROUND - self.len
    }

    #[cfg(all(test, not(evlatch_loom)))]
    fn is_full(&self) -> bool {
        self.len == ROUND
    }

    /// Adds a wake-up.
    ///
    /// # Safety
    ///
    /// There is [`room`](Self::room) for it (the caller counts).
    pub(crate) unsafe fn push_unchecked(&mut self, wake: WakeBy) {
        debug_assert!(self.len < ROUND, "a wake list holds {ROUND} wake-ups");
        // SAFETY: `len < ROUND` by the contract.
        unsafe { self.items.get_unchecked_mut(self.len) }.write(wake);
        self.len += 1;
    }

    /// Adds a wake-up; the list must not be full (it panics if it is).
    #[cfg(all(test, not(evlatch_loom)))]
    fn push(&mut self, wake: WakeBy) {
        assert!(self.room() > 0, "a wake list holds {ROUND} wake-ups");
        // SAFETY: checked just above.
        unsafe { self.push_unchecked(wake) };
    }

    /// Wakes everything collected so far, in collection order (call it with
    /// no lock held). A panicking wake-up is remembered, not propagated: the
    /// loop runs under one `catch_unwind` (not one per wake-up, which would
    /// cost a call per waiter) and, after a panic, resumes at the cursor.
    pub(crate) fn wake_all(&mut self) {
        while let Err(payload) = catch_unwind(AssertUnwindSafe(|| self.wake_rest())) {
            // Later payloads are dropped; the first one is resumed.
            self.panic.get_or_insert(payload);
        }
        self.len = 0;
        self.next = 0;
    }

    /// The wake loop: every wake-up leaves the list (the cursor moves past
    /// it) before it runs, so a panicking one is neither rerun nor dropped
    /// twice.
    fn wake_rest(&mut self) {
        /// Writes the cursor back on every way out (a panic included), so
        /// the loop itself keeps it in a register.
        struct Cursor<'a> {
            next: &'a mut usize,
            at: usize,
        }
        impl Drop for Cursor<'_> {
            fn drop(&mut self) {
                *self.next = self.at;
            }
        }
        let len = self.len;
        let items = &self.items;
        let mut cursor = Cursor {
            at: self.next,
            next: &mut self.next,
        };
        while cursor.at < len {
            let i = cursor.at;
            cursor.at = i + 1;
            // SAFETY: `next <= i < len`: initialised by `push_unchecked` and
            // not yet read; the cursor is already past it, so it is read once.
            let wake = unsafe { items.get_unchecked(i).assume_init_read() };
            wake.wake();
        }
    }

    /// Wakes what is left, then resumes the first panic a wake-up raised.
    /// (By reference: the list is large, and moving it costs a copy.)
    #[inline]
    pub(crate) fn finish(&mut self) {
        if self.panic.is_none() && self.len - self.next <= 1 {
            // At most one wake-up left and no panic to resume: nothing runs
            // after it, so its panic (if any) loses nothing and can unwind
            // straight out, with no `catch_unwind` (the common case: one
            // waiter per finish).
            if self.next < self.len {
                let i = self.next;
                self.next = self.len;
                // SAFETY: `next <= i < len`: initialised and not yet read;
                // the cursor is past it, so `drop` does not read it again.
                unsafe { self.items.get_unchecked(i).assume_init_read() }.wake();
            }
            return;
        }
        self.wake_all();
        if let Some(payload) = self.panic.take() {
            resume_unwind(payload);
        }
    }
}

impl Drop for WakeList {
    #[inline]
    fn drop(&mut self) {
        if self.next == self.len {
            // The usual way out: everything woken.
            return;
        }
        // Only reached with items left if the caller unwound between
        // collecting and waking: drop them unwoken rather than leak them.
        for slot in &mut self.items[self.next..self.len] {
            // SAFETY: `items[next..len]` are initialised and dropped once here.
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

    #[test]
    fn two_panics_in_one_round_lose_no_other() {
        let good = Arc::new(Count(AtomicUsize::new(0), false));
        let bad = Arc::new(Count(AtomicUsize::new(0), true));
        let mut list = WakeList::new();
        for i in 0..ROUND {
            let w = if i == 3 || i == ROUND - 1 {
                &bad
            } else {
                &good
            };
            list.push(WakeBy::Task(Waker::from(w.clone())));
        }
        // A full round (woken by `wake_all`, as the hook does), then one
        // more wake-up for `finish`.
        list.wake_all();
        list.push(WakeBy::Task(Waker::from(good.clone())));
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| list.finish()));
        assert!(result.is_err(), "the first panic continues at the end");
        assert_eq!(good.0.load(Ordering::SeqCst), ROUND - 2 + 1);
        assert_eq!(bad.0.load(Ordering::SeqCst), 2);
        // Every waker was consumed once: only the test's references remain.
        assert_eq!(Arc::strong_count(&good), 1);
        assert_eq!(Arc::strong_count(&bad), 1);
    }

    #[test]
    fn a_lone_panicking_wake_up_unwinds_out_of_finish() {
        let bad = Arc::new(Count(AtomicUsize::new(0), true));
        let mut list = WakeList::new();
        list.push(WakeBy::Task(Waker::from(bad.clone())));
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| list.finish()));
        assert!(result.is_err());
        drop(list);
        assert_eq!(bad.0.load(Ordering::SeqCst), 1);
        assert_eq!(Arc::strong_count(&bad), 1, "woken once, dropped once");
    }
}
