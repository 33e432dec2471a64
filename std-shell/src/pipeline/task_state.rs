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
    //! Each model checks its claims from the thread that acts on them
    //! (before any `join`, whose happens-before edge would make a
    //! visibility check pass by itself): the thread that queues the task
    //! pops it and runs it at once, as a worker would. The future and the
    //! waker's message are loom cells with plain accesses, so only the state
    //! word's orderings (and the queue's lock) can order them.
    use super::*;
    use crate::sync::UnsafeCell;
    use loom::sync::{Arc, Mutex};
    use loom::thread;

    /// The future's value once a worker dropped it (for a cancel or after
    /// completion).
    const DROPPED: usize = usize::MAX;

    /// A task with a run queue of its own (a counter of queue entries), its
    /// future (a poll counter) and a message its waker or stopper writes
    /// before waking or cancelling (what the poll or drop it causes must
    /// see).
    struct Model {
        state: TaskState,
        queued: Mutex<usize>,
        future: UnsafeCell<usize>,
        message: UnsafeCell<usize>,
    }

    impl Model {
        /// A new task, `SCHEDULED` and queued once by its spawner.
        fn scheduled() -> Arc<Self> {
            Arc::new(Self {
                state: TaskState::new_scheduled(),
                queued: Mutex::new(1),
                future: UnsafeCell::new(0),
                message: UnsafeCell::new(0),
            })
        }

        /// A task its worker (this thread) popped and moved to `RUNNING`,
        /// not yet polled.
        fn running() -> Arc<Self> {
            let m = Self::scheduled();
            m.pop();
            assert!(!m.state.start_run());
            m
        }

        fn push(&self) {
            *self.queued.lock().unwrap() += 1;
        }

        fn pop(&self) {
            let mut q = self.queued.lock().unwrap();
            assert!(*q > 0, "ran a task that was not queued");
            *q -= 1;
        }

        /// A wake; queues the task if the state says so. Returns whether it
        /// did (then the caller is the worker that runs it next).
        fn wake(&self) -> bool {
            let queue = self.state.wake();
            if queue {
                self.push();
            }
            queue
        }

        /// A cancel; queues the task if the state says so, like `wake`.
        fn cancel(&self) -> bool {
            let queue = self.state.cancel();
            if queue {
                self.push();
            }
            queue
        }

        /// One poll: the worker writes the future.
        fn poll(&self) {
            // SAFETY: the claim under test: only the worker that moved the
            // task to RUNNING touches the future, after the previous
            // worker's last touch; loom reports any access that breaks it.
            self.future.with_mut(|f| unsafe { *f += 1 });
        }

        /// The worker drops the future (it saw the cancel, or the future
        /// completed).
        fn drop_future(&self) {
            // SAFETY: as in `poll`.
            self.future.with_mut(|f| unsafe { *f = DROPPED });
        }

        /// The future's value once every thread is joined.
        fn future_after_join(&self) -> usize {
            // SAFETY: every other thread was joined.
            self.future.with(|f| unsafe { *f })
        }

        /// The waker or stopper writes its message (plain data).
        fn send(&self, value: usize) {
            // SAFETY: written once, before the wake or cancel; read only by
            // the poll or drop that wake or cancel causes (loom checks it).
            self.message.with_mut(|msg| unsafe { *msg = value });
        }

        /// A poll (or drop) caused by the wake (or cancel) reads the message.
        fn receive(&self) -> usize {
            // SAFETY: as in `send`.
            self.message.with(|msg| unsafe { *msg })
        }

        /// Whether the word holds `CANCEL` (seen from this thread).
        fn cancel_bit(&self) -> bool {
            self.state.word.load(Ordering::Acquire) & CANCEL != 0
        }
    }

    /// Wake racing the end of a poll: a waker sends a message and wakes the
    /// task while its worker polls it (the poll does not see the message and
    /// returns `Pending`) and ends the poll. The wake is never lost and the
    /// task is queued once (exactly one re-poll), and the re-poll, on
    /// whichever thread queued it, sees the message and comes after the
    /// first poll.
    #[test]
    fn wake_racing_end_of_poll() {
        loom::model(|| {
            let m = Model::running();
            let w = {
                let m = m.clone();
                thread::spawn(move || {
                    m.send(1);
                    if m.wake() {
                        // It was idle: this thread is the next worker.
                        m.pop();
                        assert!(!m.state.start_run());
                        m.poll();
                        assert_eq!(m.receive(), 1, "the re-poll missed the message");
                    }
                })
            };
            m.poll();
            if m.state.end_poll_pending() == AfterPoll::Requeue {
                // Woken while running: this worker runs it again.
                m.push();
                m.pop();
                assert!(!m.state.start_run());
                m.poll();
                assert_eq!(m.receive(), 1, "the re-poll missed the message");
            }
            w.join().unwrap();
            match m.future_after_join() {
                1 => panic!("wake lost"),
                2 => {}
                n => panic!("task polled {n} times: queued twice"),
            }
            assert_eq!(*m.queued.lock().unwrap(), 0);
        });
    }

    /// Two wakers racing on an idle task: exactly one queues it (and runs
    /// it; two would poll the future at once).
    #[test]
    fn two_wakes_on_idle_task() {
        loom::model(|| {
            let m = Model::running();
            m.poll();
            assert_eq!(m.state.end_poll_pending(), AfterPoll::Idle);
            let run_if_queued = |m: &Model| {
                if m.wake() {
                    m.pop();
                    assert!(!m.state.start_run());
                    m.poll();
                }
            };
            let w = {
                let m = m.clone();
                thread::spawn(move || run_if_queued(&m))
            };
            run_if_queued(&m);
            w.join().unwrap();
            assert_eq!(m.future_after_join(), 2, "not re-polled exactly once");
            assert_eq!(*m.queued.lock().unwrap(), 0);
        });
    }

    /// Cancel racing `start_run`: a stopper sends a message and cancels the
    /// task while it is `SCHEDULED` and its worker pops it. The cancel is
    /// never lost and the task is not queued again: either `start_run`
    /// reports it (and the worker, dropping the future, sees the message),
    /// or the cancel found the task `RUNNING` and the end of that poll
    /// requeues it, then the next `start_run` reports it. `CANCEL` stays in
    /// the word (the state table: never cleared).
    #[test]
    fn cancel_racing_start_run() {
        loom::model(|| {
            let m = Model::scheduled();
            let c = {
                let m = m.clone();
                thread::spawn(move || {
                    m.send(1);
                    assert!(!m.cancel(), "a queued or running task was queued again");
                })
            };
            m.pop();
            if m.state.start_run() {
                assert!(m.cancel_bit(), "CANCEL cleared by start_run");
                m.drop_future();
                assert_eq!(m.receive(), 1, "the drop missed the stopper's message");
                m.state.set_done();
                c.join().unwrap();
            } else {
                // A long poll: the cancel arrives while it runs.
                m.poll();
                c.join().unwrap();
                assert!(m.cancel_bit(), "cancel lost");
                assert_eq!(
                    m.state.end_poll_pending(),
                    AfterPoll::Requeue,
                    "a cancelled task went idle"
                );
                m.push();
                m.pop();
                assert!(m.state.start_run(), "cancel not seen by the next run");
                m.drop_future();
                m.state.set_done();
            }
            assert!(m.state.is_done());
            assert_eq!(m.future_after_join(), DROPPED);
            assert_eq!(*m.queued.lock().unwrap(), 0);
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
                    if m.cancel() {
                        // Would run a dropped future (start_run asserts).
                        m.pop();
                        m.state.start_run();
                    }
                })
            };
            m.poll();
            m.drop_future();
            m.state.set_done();
            c.join().unwrap();
            assert_eq!(*m.queued.lock().unwrap(), 0, "a done task was queued");
            assert!(m.state.is_done());
        });
    }

    /// Cancel racing the end of a `Pending` poll: a stopper sends a message
    /// and cancels while the worker ends its poll. The task is queued
    /// exactly once, and the worker that runs it next (whichever thread
    /// queued it) sees the cancel, so it drops the future rather than
    /// waiting for a wake that never comes; the drop sees the message and
    /// comes after the poll.
    #[test]
    fn cancel_racing_end_of_poll() {
        loom::model(|| {
            let m = Model::running();
            let run_cancelled = |m: &Model| {
                m.pop();
                assert!(m.state.start_run(), "cancel not seen by the next run");
                m.drop_future();
                assert_eq!(m.receive(), 1, "the drop missed the stopper's message");
                m.state.set_done();
            };
            let c = {
                let m = m.clone();
                thread::spawn(move || {
                    m.send(1);
                    if m.cancel() {
                        // It was idle: this thread is the next worker.
                        run_cancelled(&m);
                    }
                })
            };
            m.poll();
            if m.state.end_poll_pending() == AfterPoll::Requeue {
                m.push();
                run_cancelled(&m);
            }
            c.join().unwrap();
            assert!(m.state.is_done(), "cancel lost: the task is not done");
            assert_eq!(m.future_after_join(), DROPPED);
            assert_eq!(*m.queued.lock().unwrap(), 0);
        });
    }
}
