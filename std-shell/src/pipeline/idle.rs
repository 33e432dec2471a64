//! Idle workers of the pipeline's executor: a worker that runs out of
//! tasks spins briefly, then parks; a push hands its task to a spinning
//! worker (a *claim*: no syscall) and wakes a parked one only when no
//! spinner is free and the workers already on their way (claimed spinners,
//! woken workers) do not cover the queued tasks.
//!
//! Why: on a machine with few cores, an idle worker that keeps spinning
//! takes CPU time from the threads doing the work (the source, the busy
//! workers, the consumer). Before, every push woke some idle worker
//! (through a token channel whose send also unparked a parked receiver
//! while another one spun), so spare workers kept spinning; now a parked
//! worker stays parked while a spinner takes the pushes.
//!
//! The protocol is plain data under the run queue's mutex (the caller's
//! lock): [`Idle`] changes only with that lock held. The one thing read
//! without it is the claims hint a spinner watches, and a spinner always
//! takes the lock again (and looks at the claims and the queue) before it
//! parks, so a stale hint delays it, never strands a task. A busy worker's
//! own requeue (a task that yielded) makes no claim, so spinners do not
//! steal it from the worker that comes back for it. Threads are unparked
//! after the lock is dropped; a worker treats any return from `park` as
//! "look again under the lock" (spurious returns are harmless).
//!
//! Liveness: each push either finds enough workers on their way
//! (`claims + waking` ≥ queued), or makes a claim on a free spinner, or
//! wakes a parked worker, or finds no idle worker at all (then every
//! worker is busy and looks at the queue after its poll). The models at
//! the bottom check it under loom.

use crate::sync::{lock, thread, AtomicUsize, Backoff, Mutex, MutexGuard, Ordering, Thread};

/// What a parked worker was woken for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Woken {
    /// Not woken (parked, or not parked at all).
    No,
    /// Woken: look at the queue.
    Run,
    /// Woken by a stage about to start a long op: yield the core once
    /// first, so that stage is not preempted by this worker (see
    /// `ExecShared::flush_kept`).
    YieldFirst,
}

/// The idle workers' state; every field is read and written only under the
/// run queue's lock.
pub(crate) struct Idle {
    /// Parked workers (or about to park: they park right after the lock is
    /// dropped), by id, the most recently parked last (woken first: its
    /// caches are the warmest).
    parked: Vec<usize>,
    /// Per worker id: its wake-up. Set (≠ `No`) by the waker when it takes
    /// the worker off `parked`; reset to `No` by that worker.
    woken: Vec<Woken>,
    /// Per worker id: its thread, recorded when it first parks.
    threads: Vec<Option<Thread>>,
    /// Workers spinning outside the lock for a claim.
    spinning: usize,
    /// Claims made on spinners and not yet taken (`claims <= spinning`);
    /// mirrored in the claims hint the spinners watch.
    claims: usize,
    /// Workers taken off `parked` and not yet back under the lock.
    waking: usize,
}

impl Idle {
    /// The idle state of `workers` workers (ids `0..workers`).
    pub(crate) fn new(workers: usize) -> Self {
        Self {
            parked: Vec::with_capacity(workers),
            woken: vec![Woken::No; workers],
            threads: vec![None; workers],
            spinning: 0,
            claims: 0,
            waking: 0,
        }
    }

    /// After a push left `queued` tasks in the queue: makes sure a worker
    /// comes for them. Nothing to do if the workers on their way cover
    /// them; else a claim on a free spinner (stored in `hint`), else a
    /// parked worker is woken: its thread is returned, to unpark once the
    /// lock is dropped ([`unpark`]). [`Sent::None`]: no idle worker (every
    /// worker is busy and comes back to the queue after its poll).
    pub(crate) fn wake_for(
        &mut self,
        queued: usize,
        yield_first: bool,
        hint: &AtomicUsize,
    ) -> Sent {
        if queued <= self.claims + self.waking {
            return Sent::Covered;
        }
        if self.spinning > self.claims {
            self.claims += 1;
            // Relaxed: a hint; the spinner takes the claim under the lock.
            hint.store(self.claims, Ordering::Relaxed);
            return Sent::Covered;
        }
        let Some(id) = self.parked.pop() else {
            return Sent::None;
        };
        debug_assert_eq!(self.woken[id], Woken::No);
        self.woken[id] = if yield_first {
            Woken::YieldFirst
        } else {
            Woken::Run
        };
        self.waking += 1;
        match self.threads[id].clone() {
            Some(t) => Sent::Woken(t),
            None => unreachable!("a parked worker recorded its thread"),
        }
    }

    /// Wakes every parked worker (the executor is exiting); returns their
    /// threads, to unpark once the lock is dropped.
    pub(crate) fn wake_all(&mut self) -> Vec<Thread> {
        let mut out = Vec::with_capacity(self.parked.len());
        while let Some(id) = self.parked.pop() {
            self.woken[id] = Woken::Run;
            self.waking += 1;
            out.extend(self.threads[id].clone());
        }
        out
    }
}

/// What [`Idle::wake_for`] did.
pub(crate) enum Sent {
    /// A worker is on its way (already, or a spinner was claimed).
    Covered,
    /// This parked worker was woken: unpark it once the lock is dropped.
    Woken(Thread),
    /// No idle worker: every worker is busy.
    None,
}

impl Sent {
    /// Whether a worker is on its way.
    pub(crate) fn is_sent(&self) -> bool {
        !matches!(self, Sent::None)
    }

    /// Unparks the woken worker, if any (call once the lock is dropped).
    pub(crate) fn unpark(self) {
        if let Sent::Woken(t) = self {
            t.unpark();
        }
    }
}

/// Unparks the threads [`Idle::wake_all`] returned.
pub(crate) fn unpark(threads: impl IntoIterator<Item = Thread>) {
    for t in threads {
        t.unpark();
    }
}

/// The run queue as the idle protocol sees it.
pub(crate) trait WorkQueue {
    type Task;
    /// Takes the next task.
    fn pop(&mut self) -> Option<Self::Task>;
    /// Tasks queued.
    fn len(&self) -> usize;
    /// Whether idle workers should exit.
    fn exiting(&self) -> bool;
    /// The idle state.
    fn idle(&mut self) -> &mut Idle;
}

/// Worker `id`'s wait for its next task: takes one from the queue, or, if
/// none is queued, spins for a claim (a bounded backoff), then parks until
/// woken. `None`: the queue is empty and exiting. `hint` is the claims
/// hint ([`Idle::wake_for`] stores it); `queued`, the owner's queue-length
/// hint, is stored after a pop.
pub(crate) fn next_task<Q: WorkQueue>(
    queue: &Mutex<Q>,
    hint: &AtomicUsize,
    queued: &AtomicUsize,
    id: usize,
) -> Option<Q::Task> {
    let mut q = lock(queue);
    let mut may_spin = true;
    loop {
        if let Some(t) = q.pop() {
            queued.store(q.len(), Ordering::Relaxed);
            return Some(t);
        }
        if q.exiting() {
            return None;
        }
        if may_spin {
            // Spin once per idle spell (again after a claim), then park.
            q.idle().spinning += 1;
            drop(q);
            let (g, claimed) = spin(queue, hint);
            q = g;
            may_spin = claimed;
            continue;
        }
        q = park(queue, q, id);
        may_spin = true;
    }
}

/// Spins (a bounded [`Backoff`]: hints, then a few yields) for a claim,
/// counted in `spinning`. Whenever the hint shows one, looks under the lock
/// and takes it if it is still there (any spinner may take any claim: they
/// are all alike); if another spinner was first, spins on. Returns with the
/// lock held, counted off `spinning`, and whether it took a claim.
fn spin<'a, Q: WorkQueue>(queue: &'a Mutex<Q>, hint: &AtomicUsize) -> (MutexGuard<'a, Q>, bool) {
    let mut backoff = Backoff::new();
    loop {
        let spent = backoff.should_park();
        // Relaxed: a hint; the claims are looked at under the lock.
        if spent || hint.load(Ordering::Relaxed) > 0 {
            let mut q = lock(queue);
            let exiting = q.exiting();
            let idle = q.idle();
            if idle.claims > 0 {
                idle.claims -= 1;
                hint.store(idle.claims, Ordering::Relaxed);
                idle.spinning -= 1;
                return (q, true);
            }
            if spent || exiting {
                idle.spinning -= 1;
                return (q, false);
            }
        }
        backoff.snooze();
    }
}

/// Parks worker `id` (the queue is empty, `q` held) until a waker takes it
/// off the parked list; returns with the lock held again and the worker
/// counted off `waking`.
fn park<'a, Q: WorkQueue>(
    queue: &'a Mutex<Q>,
    mut q: MutexGuard<'a, Q>,
    id: usize,
) -> MutexGuard<'a, Q> {
    let idle = q.idle();
    if idle.threads[id].is_none() {
        idle.threads[id] = Some(thread::current());
    }
    debug_assert!(!idle.parked.contains(&id));
    idle.parked.push(id);
    let woken = loop {
        drop(q);
        // A return without a wake-up (spurious, or an unpark meant for an
        // earlier wait of this thread) just looks again.
        thread::park();
        q = lock(queue);
        let idle = q.idle();
        let w = core::mem::replace(&mut idle.woken[id], Woken::No);
        if w != Woken::No {
            break w;
        }
    };
    if woken == Woken::YieldFirst {
        // Still counted in `waking` while it yields: a push meanwhile sees
        // this worker on its way and wakes no other.
        drop(q);
        thread::yield_now();
        q = lock(queue);
    }
    q.idle().waking -= 1;
    q
}

#[cfg(all(test, evlatch_loom))]
mod loom_models {
    use super::*;
    use loom::sync::Arc;
    use std::collections::VecDeque;

    /// A run queue of numbered tasks.
    struct Queue {
        tasks: VecDeque<u32>,
        exit: bool,
        idle: Idle,
    }

    impl WorkQueue for Queue {
        type Task = u32;
        fn pop(&mut self) -> Option<u32> {
            self.tasks.pop_front()
        }
        fn len(&self) -> usize {
            self.tasks.len()
        }
        fn exiting(&self) -> bool {
            self.exit
        }
        fn idle(&mut self) -> &mut Idle {
            &mut self.idle
        }
    }

    struct Exec {
        queue: Mutex<Queue>,
        hint: AtomicUsize,
        queued: AtomicUsize,
    }

    impl Exec {
        fn new(workers: usize) -> Arc<Self> {
            Arc::new(Self {
                queue: Mutex::new(Queue {
                    tasks: VecDeque::new(),
                    exit: false,
                    idle: Idle::new(workers),
                }),
                hint: AtomicUsize::new(0),
                queued: AtomicUsize::new(0),
            })
        }

        /// What the executor's push does.
        fn push(&self, task: u32, yield_first: bool) {
            let t = {
                let mut q = lock(&self.queue);
                q.tasks.push_back(task);
                let n = q.tasks.len();
                q.idle.wake_for(n, yield_first, &self.hint)
            };
            t.unpark();
        }

        /// What the executor's last `task_done` does.
        fn exit(&self) {
            let ts = {
                let mut q = lock(&self.queue);
                q.exit = true;
                q.idle.wake_all()
            };
            unpark(ts);
        }

        /// A worker: takes tasks until the executor exits; the tasks it took.
        fn work(&self, id: usize) -> Vec<u32> {
            let mut got = Vec::new();
            while let Some(t) = next_task(&self.queue, &self.hint, &self.queued, id) {
                got.push(t);
            }
            got
        }
    }

    /// A push racing a worker on its way to park (it found the queue empty,
    /// spins, parks): the worker takes the task — the wake-up is never lost
    /// between its last look at the queue and its park. (A lost one leaves
    /// the worker parked for good: a deadlock, which loom reports.)
    #[test]
    fn push_racing_worker_going_to_park() {
        loom::model(|| {
            let ex = Exec::new(1);
            let w = {
                let ex = ex.clone();
                thread::spawn(move || next_task(&ex.queue, &ex.hint, &ex.queued, 0))
            };
            ex.push(7, false);
            assert_eq!(w.join().unwrap(), Some(7));
        });
    }

    /// Two pushes racing two idle workers (spinning, parking or parked),
    /// each worker taking one task and then staying busy: the second push
    /// must claim the other spinner or wake the parked worker whenever the
    /// first one covers only the first task — "on their way" is never
    /// counted twice, and two spinners never both take one claim. (A
    /// miscount leaves a task queued and a worker parked: a deadlock.)
    #[test]
    fn two_pushes_wake_two_idle_workers() {
        loom::model(|| {
            let ex = Exec::new(2);
            let ws: Vec<_> = (0..2)
                .map(|id| {
                    let ex = ex.clone();
                    thread::spawn(move || next_task(&ex.queue, &ex.hint, &ex.queued, id))
                })
                .collect();
            ex.push(1, false);
            ex.push(2, true);
            let mut got: Vec<u32> = ws.into_iter().map(|w| w.join().unwrap().unwrap()).collect();
            got.sort_unstable();
            assert_eq!(got, [1, 2]);
            let q = lock(&ex.queue);
            assert_eq!(
                (q.idle.waking, q.idle.claims),
                (0, 0),
                "every wake-up consumed"
            );
        });
    }

    /// The exit racing workers going idle: every worker, spinning or parked
    /// or about to park, ends.
    #[test]
    fn exit_wakes_every_idle_worker() {
        loom::model(|| {
            let ex = Exec::new(2);
            let ws: Vec<_> = (0..2)
                .map(|id| {
                    let ex = ex.clone();
                    thread::spawn(move || ex.work(id))
                })
                .collect();
            ex.exit();
            for w in ws {
                assert!(w.join().unwrap().is_empty());
            }
        });
    }
}
