//! The state word of one executor task: who may poll it, whether a wake is
//! pending, whether it was cancelled.
//!
//! Kept apart from the executor so that loom can check the protocol alone
//! (the models at the bottom), with a plain queue standing in for the run
//! queue.

use crate::sync::{AtomicU32, Ordering};

/// Lifecycle, bits 0..3 of the word.
///
/// | state       | meaning                                   | who moves it out, to what                                   |
/// |-------------|-------------------------------------------|-------------------------------------------------------------|
/// | `IDLE`      | pending, not queued, nobody polls it      | a waker: → `SCHEDULED` (and queues it)                      |
/// | `SCHEDULED` | in the run queue exactly once             | the worker that pops it: → `RUNNING`                        |
/// | `RUNNING`   | one worker polls it                       | that worker: → `IDLE` / `DONE`; a waker: → `NOTIFIED`       |
/// | `NOTIFIED`  | running, and woken while running          | the running worker: → `SCHEDULED` (and queues it again)     |
/// | `DONE`      | finished or cancelled, future dropped     | nobody (final)                                              |
///
/// `CANCEL` (bit 3) is set by [`TaskState::cancel`] in any state but
/// `DONE` and never cleared; the worker that next moves the task to
/// `RUNNING` sees it and drops the future instead of polling it.
///
/// Invariant: the task is in the run queue iff the state is `SCHEDULED`
/// (exactly one queue entry), so a task is never polled by two workers and
/// a wake is never lost: a wake that finds `RUNNING` leaves `NOTIFIED`,
/// which the running worker must see when it tries to go back to `IDLE`.
pub(crate) struct TaskState {
    word: AtomicU32,
}

const LIFE: u32 = 0b0111;
const IDLE: u32 = 0;
const SCHEDULED: u32 = 1;
const RUNNING: u32 = 2;
const NOTIFIED: u32 = 3;
const DONE: u32 = 4;
const CANCEL: u32 = 0b1000;

/// What the worker must do after a poll returned `Pending`.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub(crate) enum AfterPoll {
    /// Nothing: the task is idle until a waker queues it.
    Idle,
    /// It was woken while running: queue it again (it is `SCHEDULED`).
    Requeue,
}

impl TaskState {
    /// A new task, `SCHEDULED`: its spawner queues it once.
    pub(crate) fn new_scheduled() -> Self {
        Self {
            word: AtomicU32::new(SCHEDULED),
        }
    }

    /// A wake. Returns `true` if the caller must queue the task (it moved
    /// `IDLE → SCHEDULED`).
    pub(crate) fn wake(&self) -> bool {
        self.transition(0)
    }

    /// Sets `CANCEL` and wakes. Returns `true` if the caller must queue the
    /// task.
    pub(crate) fn cancel(&self) -> bool {
        self.transition(CANCEL)
    }

    /// `IDLE → SCHEDULED`, `RUNNING → NOTIFIED`, otherwise unchanged; `or`
    /// is or-ed into the flags unless the task is `DONE`.
    fn transition(&self, or: u32) -> bool {
        // Acquire/Release both ways: the waker's writes before the wake (a
        // value pushed into a channel) happen before the poll it causes, and
        // on `IDLE` the worker's last writes to the future happen before the
        // next worker's poll (the run queue's lock gives that edge too).
        let mut cur = self.word.load(Ordering::Acquire);
        loop {
            let next_life = match cur & LIFE {
                IDLE => SCHEDULED,
                RUNNING => NOTIFIED,
                SCHEDULED | NOTIFIED => cur & LIFE,
                _ => return false, // DONE
            };
            let next = next_life | (cur & CANCEL) | or;
            if next == cur {
                return false;
            }
            match self
                .word
                .compare_exchange_weak(cur, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return cur & LIFE == IDLE,
                Err(actual) => cur = actual,
            }
        }
    }

    /// The worker that popped the task: `SCHEDULED → RUNNING`. Returns
    /// whether the task was cancelled (then the worker drops the future and
    /// calls [`TaskState::set_done`] instead of polling).
    pub(crate) fn start_run(&self) -> bool {
        // Only the popping worker moves it out of SCHEDULED; wakers may only
        // add CANCEL meanwhile, so an or-free swap would lose that bit: use
        // a read-modify-write that keeps the flags.
        let prev = self.word.fetch_add(RUNNING - SCHEDULED, Ordering::AcqRel);
        assert_eq!(prev & LIFE, SCHEDULED, "a task ran without being scheduled");
        prev & CANCEL != 0
    }

    /// The running worker, after `poll` returned `Pending`.
    pub(crate) fn end_poll_pending(&self) -> AfterPoll {
        // Release: this poll's writes to the future happen before the next
        // poll's reads (whichever worker does it).
        match self
            .word
            .compare_exchange(RUNNING, IDLE, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => AfterPoll::Idle,
            Err(actual) => {
                // Woken (or cancelled, which also wakes) while running: only
                // this worker leaves NOTIFIED, so a plain subtraction works
                // and keeps the CANCEL bit.
                assert_eq!(actual & LIFE, NOTIFIED, "task state corrupted");
                self.word.fetch_sub(NOTIFIED - SCHEDULED, Ordering::AcqRel);
                AfterPoll::Requeue
            }
        }
    }

    /// The running worker, after the future completed or was dropped for a
    /// cancel: → `DONE`. Later wakes and cancels do nothing.
    pub(crate) fn set_done(&self) {
        let prev = self.word.swap(DONE, Ordering::AcqRel);
        debug_assert!(matches!(prev & LIFE, RUNNING | NOTIFIED));
    }

    /// Whether the task is `DONE` (for tests and debug checks).
    #[allow(dead_code)]
    pub(crate) fn is_done(&self) -> bool {
        self.word.load(Ordering::Acquire) & LIFE == DONE
    }
}

#[cfg(all(test, evlatch_loom))]
mod loom_models {
    use super::*;
    use loom::sync::atomic::AtomicUsize;
    use loom::sync::{Arc, Mutex};
    use loom::thread;

    /// A task with a run queue of its own (a counter of queue entries) and a
    /// flag its waker sets before waking (the "message" a poll must see).
    struct Model {
        state: TaskState,
        queued: Mutex<usize>,
        message: AtomicUsize,
    }

    impl Model {
        fn running() -> Arc<Self> {
            let m = Arc::new(Self {
                state: TaskState::new_scheduled(),
                queued: Mutex::new(0),
                message: AtomicUsize::new(0),
            });
            assert!(!m.state.start_run());
            m
        }

        fn wake(&self) {
            if self.state.wake() {
                *self.queued.lock().unwrap() += 1;
            }
        }
    }

    /// Wake racing the end of a poll: a waker sends a message and wakes the
    /// task while its worker finishes a `Pending` poll. The wake is never
    /// lost (the task ends up queued exactly once) and the next poll sees
    /// the message.
    #[test]
    fn wake_racing_end_of_poll() {
        loom::model(|| {
            let m = Model::running();
            let w = {
                let m = m.clone();
                thread::spawn(move || {
                    m.message.store(1, Ordering::Relaxed);
                    m.wake();
                })
            };
            // The poll did not see the message (it returned Pending).
            let after = m.state.end_poll_pending();
            if after == AfterPoll::Requeue {
                *m.queued.lock().unwrap() += 1;
            }
            w.join().unwrap();
            let queued = *m.queued.lock().unwrap();
            if queued == 0 {
                // The waker found it idle?  Impossible: then it queues.
                panic!("wake lost");
            }
            assert_eq!(queued, 1, "task queued twice");
            // The next poll (this thread, after popping) sees the message.
            assert!(!m.state.start_run());
            assert_eq!(m.message.load(Ordering::Relaxed), 1);
        });
    }

    /// Two wakers racing on an idle task: exactly one queues it.
    #[test]
    fn two_wakes_on_idle_task() {
        loom::model(|| {
            let m = Model::running();
            assert_eq!(m.state.end_poll_pending(), AfterPoll::Idle);
            let w = {
                let m = m.clone();
                thread::spawn(move || m.wake())
            };
            m.wake();
            w.join().unwrap();
            assert_eq!(*m.queued.lock().unwrap(), 1);
            assert!(!m.state.start_run());
        });
    }

    /// Cancel racing completion: a stopper cancels the task while its worker
    /// completes it. The task is never queued after `DONE` (nobody polls a
    /// dropped future) and ends `DONE`.
    #[test]
    fn cancel_racing_completion() {
        loom::model(|| {
            let m = Model::running();
            let c = {
                let m = m.clone();
                thread::spawn(move || {
                    if m.state.cancel() {
                        *m.queued.lock().unwrap() += 1;
                    }
                })
            };
            m.state.set_done();
            c.join().unwrap();
            assert_eq!(*m.queued.lock().unwrap(), 0, "a done task was queued");
            assert!(m.state.is_done());
        });
    }

    /// Cancel racing the end of a `Pending` poll: the task is queued exactly
    /// once, and the worker that runs it next sees the cancel (so it drops
    /// the future rather than waiting for a wake that never comes).
    #[test]
    fn cancel_racing_end_of_poll() {
        loom::model(|| {
            let m = Model::running();
            let c = {
                let m = m.clone();
                thread::spawn(move || {
                    if m.state.cancel() {
                        *m.queued.lock().unwrap() += 1;
                    }
                })
            };
            if m.state.end_poll_pending() == AfterPoll::Requeue {
                *m.queued.lock().unwrap() += 1;
            }
            c.join().unwrap();
            assert_eq!(*m.queued.lock().unwrap(), 1);
            assert!(m.state.start_run(), "cancel not seen by the next run");
            m.state.set_done();
        });
    }
}
