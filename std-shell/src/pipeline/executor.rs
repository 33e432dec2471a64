//! The pipeline's own executor: a few worker threads, one run queue with a
//! lane per (priority, stage), and wakers that queue their task.
//!
//! - A task is a boxed `Future<Output = ()>` with a [`TaskState`] word; its
//!   waker is the task's `Arc` (cloning a waker allocates nothing).
//! - The run queue is a mutex over one FIFO lane per rank; a worker pops
//!   from the highest non-empty rank (rank = priority level, then stage
//!   index: downstream first). The lock is held for a push or a pop only.
//! - An idle worker first yields its core a few times, watching the
//!   queue's length hint (see [`yielding`]), then blocks in `recv` on a
//!   token channel (an evlatch channel wait: no polling). A push sends a
//!   token only when a sleeping worker has not been sent one yet, so a
//!   busy pool pays no channel operation per task, and a worker that is
//!   still yielding takes the task without one. A worker woken for a task
//!   that a long-op stage handed on yields its core once before it runs
//!   anything, so that stage is not preempted before its next op (see
//!   `next_task`).
//! - Wake batching: the first task a worker's own poll makes runnable is
//!   kept for that worker, in a slot of its own outside the run queue (no
//!   lock, no other worker woken for it). Stages with short ops yield to it
//!   after each item ([`has_deferred`]), so work flows downstream on one
//!   worker and other workers are woken only for extra tasks; stages with
//!   long ops hand it to the run queue and a free worker
//!   ([`flush_deferred`]) before their next op.
//! - After a poll the worker picks its next task in one step: the kept
//!   task runs at once if no queued task outranks it (read from a hint
//!   without the lock when the yielding task need not be queued);
//!   otherwise, under one lock, the yielding task is queued, and the kept
//!   one runs or is queued behind the higher rank that runs instead. The
//!   kept slot and the hint are touched by the owning worker only (the
//!   hint is written under the lock); no new cross-thread protocol.

use core::cell::Cell;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};
use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::task::Wake;
use std::thread::JoinHandle;

use evlatch::Event;

use super::task_state::{AfterPoll, TaskState};
use super::yielding;
use crate::channel::{bounded, Receiver, Sender};
use crate::sync::{lock, thread, AtomicUsize, Mutex, Ordering, UnsafeCell};

type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// One task.
pub(crate) struct Task {
    state: TaskState,
    rank: usize,
    /// The future: touched only by the worker that moved the state to
    /// `RUNNING` (exclusive until it leaves `RUNNING`/`NOTIFIED`).
    future: UnsafeCell<Option<BoxFuture>>,
    exec: Arc<ExecShared>,
}

// SAFETY: `future` is accessed only by the one worker that holds the task in
// RUNNING (the state word's protocol makes that worker unique), and the
// boxed future is `Send`; everything else is atomics or `Sync`.
unsafe impl Sync for Task {}
// SAFETY: as above; nothing in a task is tied to a thread.
unsafe impl Send for Task {}

impl Task {
    /// Cancels the task: its future is dropped by a worker without being
    /// polled again (at once if it is idle, after its current poll if it is
    /// running).
    pub(crate) fn cancel(self: &Arc<Self>) {
        if self.state.cancel() {
            self.exec.push(self.clone());
        }
    }
}

impl Wake for Task {
    fn wake(self: Arc<Self>) {
        if self.state.wake() {
            let exec = self.exec.clone();
            exec.push(self);
        }
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if self.state.wake() {
            self.exec.push(self.clone());
        }
    }
}

struct RunQueue {
    lanes: Vec<VecDeque<Arc<Task>>>,
    /// Tasks in all lanes (mirrored in [`ExecShared::queued`]).
    len: usize,
    /// Workers blocked (or about to block) on the token channel.
    sleepers: usize,
    /// Tokens sent and not yet taken (`waking <= sleepers`).
    waking: usize,
    /// Set when the last task finished: idle workers exit.
    exit: bool,
}

impl RunQueue {
    fn pop(&mut self) -> Option<Arc<Task>> {
        if self.len == 0 {
            return None;
        }
        for lane in self.lanes.iter_mut().rev() {
            if let Some(t) = lane.pop_front() {
                self.len -= 1;
                return Some(t);
            }
        }
        None
    }

    fn push(&mut self, task: Arc<Task>) {
        debug_assert!(task.rank < self.lanes.len());
        let rank = task.rank;
        self.lanes[rank].push_back(task);
        self.len += 1;
    }

    /// The highest rank with a queued task.
    fn top_rank(&self) -> Option<usize> {
        if self.len == 0 {
            return None;
        }
        self.lanes.iter().rposition(|l| !l.is_empty())
    }
}

pub(crate) struct ExecShared {
    queue: Mutex<RunQueue>,
    /// `queue.len`, stored under the lock, read without it as a hint
    /// ("nothing queued": a worker runs its kept task without locking).
    queued: AtomicUsize,
    /// A token wakes one sleeping worker; `true`: yield the core first.
    tokens_tx: Sender<bool>,
    tokens_rx: Receiver<bool>,
    /// Worker threads.
    threads: usize,
    /// Tasks not yet `DONE`, plus one while spawning is open.
    live: AtomicUsize,
    /// Finished when `live` reaches zero.
    all_done: Event,
}

thread_local! {
    /// The executor this thread works for (null elsewhere) and whether its
    /// current poll made a task runnable that it keeps for itself.
    static WORKER: Cell<(*const ExecShared, bool)> = const { Cell::new((core::ptr::null(), false)) };
    /// The task this worker keeps (while `WORKER.1` and until it is run or
    /// flushed): `SCHEDULED`, and in no run queue.
    static KEPT: Cell<Option<Arc<Task>>> = const { Cell::new(None) };
}

impl ExecShared {
    fn push(&self, task: Arc<Task>) {
        let me = self as *const ExecShared;
        let keep = WORKER.with(|w| {
            let (exec, deferred) = w.get();
            if exec == me && !deferred {
                w.set((exec, true));
                true
            } else {
                false
            }
        });
        if keep {
            let old = KEPT.replace(Some(task));
            debug_assert!(old.is_none(), "a worker kept two tasks");
            return;
        }
        let wake = {
            let mut q = lock(&self.queue);
            q.push(task);
            self.queued.store(q.len, Ordering::Relaxed);
            let wake = q.sleepers > q.waking;
            if wake {
                q.waking += 1;
            }
            wake
        };
        if wake {
            // Never blocks: capacity is the worker count >= `waking`.
            let _ = self.tokens_tx.try_send(false);
        }
    }

    /// Picks what this worker runs after a poll: `requeue` (the polled
    /// task, if it must run again) and `kept` (the task its poll made
    /// runnable), against the queue. The kept task runs unless a queued
    /// task (or the requeued one) outranks it; the requeued one is queued
    /// without waking anyone (this worker comes back for it).
    fn pick_after_poll(
        &self,
        requeue: Option<Arc<Task>>,
        kept: Option<Arc<Task>>,
    ) -> Option<Arc<Task>> {
        let (next, requeue) = match (kept, requeue) {
            (Some(k), r) => (k, r),
            (None, r) => (r?, None),
        };
        if requeue.is_none() && self.queued.load(Ordering::Relaxed) == 0 {
            return Some(next);
        }
        let mut q = lock(&self.queue);
        if let Some(r) = requeue {
            q.push(r);
        }
        let run = match q.top_rank() {
            Some(top) if top > next.rank => {
                q.push(next);
                q.pop()
            }
            _ => Some(next),
        };
        self.queued.store(q.len, Ordering::Relaxed);
        run
    }

    /// Moves the kept task into the run queue and makes sure a worker is
    /// coming for the queued tasks: wakes a sleeping one if the workers
    /// already being woken are fewer than the tasks. Returns `false` only
    /// if this is the executor's only worker and no wake-up covers the
    /// queued tasks (nobody else will run them: the caller should yield).
    fn flush_kept(&self, kept: Option<Arc<Task>>) -> bool {
        let (wake, covered) = {
            let mut q = lock(&self.queue);
            if let Some(k) = kept {
                q.push(k);
                self.queued.store(q.len, Ordering::Relaxed);
            }
            if q.waking >= q.len {
                (false, true)
            } else if q.sleepers > q.waking {
                q.waking += 1;
                (true, true)
            } else {
                (false, false)
            }
        };
        if wake {
            // The caller is about to start a long op: the woken worker
            // yields its core to it first.
            let _ = self.tokens_tx.try_send(true);
        }
        // With another worker, every worker is awake (none asleep to wake):
        // the first to finish its task takes the queued one.
        covered || self.threads > 1
    }

    fn task_done(&self) {
        // AcqRel: every task's last writes happen before whoever sees zero.
        if self.live.fetch_sub(1, Ordering::AcqRel) == 1 {
            let n = {
                let mut q = lock(&self.queue);
                q.exit = true;
                let n = q.sleepers - q.waking;
                q.waking += n;
                n
            };
            for _ in 0..n {
                let _ = self.tokens_tx.try_send(false);
            }
            let _ = self.all_done.set_finished();
        }
    }

    fn next_task(&self) -> Option<Arc<Task>> {
        let mut q = lock(&self.queue);
        let mut yielded = false;
        loop {
            if let Some(t) = q.pop() {
                self.queued.store(q.len, Ordering::Relaxed);
                return Some(t);
            }
            if q.exit {
                return None;
            }
            if !yielded {
                // Not a sleeper yet: a push meanwhile sends no token; the
                // hint shows its task, taken under the lock below.
                yielded = true;
                drop(q);
                yielding::until(|| self.queued.load(Ordering::Relaxed) != 0);
                q = lock(&self.queue);
                continue;
            }
            q.sleepers += 1;
            drop(q);
            // The token channel's sender lives as long as `self`.
            if let Ok(true) = self.tokens_rx.recv() {
                // Woken by a long-op stage about to start its next op: let
                // it keep its core first. The kernel tends to run a woken
                // thread at once on the waker's core; preempted, the waker
                // (often the bottleneck stage) would wait for this worker's
                // whole op (seen as 2 ms gaps in the bottleneck stage of the
                // SPDL simulation on 2 cores). One `sched_yield` per such
                // wake-up; other wake-ups do not yield.
                thread::yield_now();
            }
            q = lock(&self.queue);
            q.sleepers -= 1;
            q.waking -= 1;
        }
    }

    /// Runs (polls) one task; returns the task to run next, if this
    /// worker should run one without going through the queue.
    fn run(&self, task: Arc<Task>) -> Option<Arc<Task>> {
        let cancelled = task.state.start_run();
        let done = if cancelled {
            true
        } else {
            let waker = Waker::from(task.clone());
            let mut cx = Context::from_waker(&waker);
            let polled = task.future.with_mut(|f| {
                // SAFETY: this worker moved the task to RUNNING; no other
                // thread touches the future until it leaves RUNNING/NOTIFIED.
                let f = unsafe { &mut *f };
                match f.as_mut() {
                    // The stage loops catch user panics themselves; a panic
                    // here is the pipeline's own bug: end the task rather
                    // than the worker.
                    Some(fut) => catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(&mut cx)))
                        .unwrap_or(Poll::Ready(())),
                    None => Poll::Ready(()),
                }
            });
            polled.is_ready()
        };
        let requeue = if done {
            // SAFETY: still RUNNING/NOTIFIED on this worker.
            let fut = task.future.with_mut(|f| unsafe { (*f).take() });
            // A future's drop runs user drops (items); keep the worker alive.
            let _ = catch_unwind(AssertUnwindSafe(|| drop(fut)));
            task.state.set_done();
            self.task_done();
            None
        } else if task.state.end_poll_pending() == AfterPoll::Requeue {
            // Woken while running, or it yielded (to a task it made
            // runnable, which this worker runs first). It follows on this
            // worker: waking another worker for it would cost more than a
            // short op saves.
            Some(task)
        } else {
            None
        };
        WORKER.with(|w| {
            let (exec, _) = w.get();
            w.set((exec, false));
        });
        self.pick_after_poll(requeue, KEPT.take())
    }
}

/// Whether the current poll (on a worker) made a task runnable that this
/// worker keeps for itself: a stage loop should yield soon.
pub(crate) fn has_deferred() -> bool {
    WORKER.with(|w| w.get().1)
}

/// Hands a kept task to the run queue (call before a sync op that may take
/// long, so the kept task does not wait for it), waking a sleeping worker
/// for it if none is on its way. Returns `false` if this is the
/// executor's only worker: the task is queued, and still counts as kept
/// (the caller should yield to it soon). With more workers it never makes
/// the caller wait: an awake worker takes the task when it finishes its own.
pub(crate) fn flush_deferred() -> bool {
    let (exec, deferred) = WORKER.with(Cell::get);
    if !deferred || exec.is_null() {
        return true;
    }
    // SAFETY: the pointer is set only while this worker thread runs inside
    // `worker_loop`, which holds an `Arc<ExecShared>`.
    let woke = unsafe { &*exec }.flush_kept(KEPT.take());
    if woke {
        WORKER.with(|w| w.set((exec, false)));
    }
    woke
}

/// The executor handle the pipeline owns.
pub(crate) struct Executor {
    shared: Arc<ExecShared>,
    workers: Vec<JoinHandle<()>>,
    /// The pipeline's name, for the worker threads' names.
    name: String,
}

impl Executor {
    /// An executor of `threads` workers over `ranks` lanes, with its first
    /// worker started; [`start_workers`](Self::start_workers) starts the
    /// others once the tasks are spawned.
    pub(crate) fn new(threads: usize, ranks: usize, name: &str) -> std::io::Result<Self> {
        let (tokens_tx, tokens_rx) =
            bounded(threads.max(1)).map_err(|e| std::io::Error::other(e.to_string()))?;
        let shared = Arc::new(ExecShared {
            queued: AtomicUsize::new(0),
            queue: Mutex::new(RunQueue {
                lanes: (0..ranks.max(1)).map(|_| VecDeque::new()).collect(),
                len: 0,
                sleepers: 0,
                waking: 0,
                exit: false,
            }),
            tokens_tx,
            tokens_rx,
            threads,
            live: AtomicUsize::new(1),
            all_done: Event::new(),
        });
        let mut exec = Self {
            shared,
            workers: Vec::with_capacity(threads),
            name: name.to_owned(),
        };
        if let Err(e) = exec.start_worker() {
            exec.open_done();
            return Err(e);
        }
        Ok(exec)
    }

    fn start_worker(&mut self) -> std::io::Result<()> {
        let shared = self.shared.clone();
        let h = std::thread::Builder::new()
            .name(format!("{}-worker-{}", self.name, self.workers.len()))
            .spawn(move || worker_loop(shared))?;
        self.workers.push(h);
        Ok(())
    }

    /// Starts the workers not started yet. Called after the tasks are
    /// spawned, so that each new worker takes a queued task instead of
    /// spinning idle beside the source and the first worker (on 2 cores,
    /// eight idle spinners delayed a pipeline's first op by ~0.3 ms). On an
    /// error the workers already started stay (at least the first), so
    /// the tasks can still be cancelled and run to their end.
    pub(crate) fn start_workers(&mut self) -> std::io::Result<()> {
        while self.workers.len() < self.shared.threads {
            self.start_worker()?;
        }
        Ok(())
    }

    /// Spawns a task on lane `rank`.
    pub(crate) fn spawn(
        &self,
        rank: usize,
        future: impl Future<Output = ()> + Send + 'static,
    ) -> Arc<Task> {
        self.shared.live.fetch_add(1, Ordering::Relaxed);
        let task = Arc::new(Task {
            state: TaskState::new_scheduled(),
            rank,
            future: UnsafeCell::new(Some(Box::pin(future))),
            exec: self.shared.clone(),
        });
        self.shared.push(task.clone());
        task
    }

    /// Closes spawning: once every task is done, the workers exit.
    pub(crate) fn open_done(&self) {
        self.shared.task_done();
    }

    /// The event that finishes when every task is done (after
    /// [`Executor::open_done`]).
    pub(crate) fn all_done(&self) -> &Event {
        &self.shared.all_done
    }

    /// A handle on the "every task is done" event that outlives borrows.
    pub(crate) fn done_signal(&self) -> DoneSignal {
        DoneSignal(self.shared.clone())
    }

    /// Joins the workers (they exit once every task is done).
    pub(crate) fn join(&mut self) {
        for h in self.workers.drain(..) {
            let _ = h.join();
        }
    }
}

/// Keeps the executor's shared part alive to wait on its "all done" event.
pub(crate) struct DoneSignal(Arc<ExecShared>);

impl DoneSignal {
    pub(crate) fn event(&self) -> &Event {
        &self.0.all_done
    }
}

fn worker_loop(shared: Arc<ExecShared>) {
    WORKER.with(|w| w.set((Arc::as_ptr(&shared), false)));
    let mut next = None;
    while let Some(task) = next.take().or_else(|| shared.next_task()) {
        next = shared.run(task);
    }
    WORKER.with(|w| w.set((core::ptr::null(), false)));
}
