//! The stage loops: what each task of a stage runs.
//!
//! - completion order: `concurrency` tasks, each `recv → op → send`;
//! - input order (concurrency > 1): the same tasks, plus an intake token
//!   (receiving and taking a ticket is one step), a reorder window of
//!   `concurrency` slots (a permit per slot) and an emitter role (one task
//!   at a time sends the finished head of the window);
//! - aggregate: one task, batches of up to `max_items`, closed early at
//!   `max_wait` after the batch's first item (a timer deadline raced with
//!   the receive);
//! - disaggregate: one task, sends each element of each batch.
//!
//! Every wait here is an evlatch channel wait (`recv_async` / `send_async`)
//! or a timer deadline. An op runs under `catch_unwind`, and its panic is a
//! failure like an `Err` (as is a panic in an error's `Display`); a panic
//! in other user code a task runs (a batch's iterator, an item's drop)
//! ends the pipeline with `PipelineError::StagePanicked` ([`contained`]).

use core::fmt::Display;
use core::future::{poll_fn, Future};
use core::pin::pin;
use core::task::Poll;
use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::executor::{flush_deferred, has_deferred};
use super::shared::Shared;
use super::stats::OpSampler;
use crate::channel::{bounded, Receiver, Sender, TryRecvError, TrySendError};
use crate::sync::{lock, Mutex, Ordering};

/// An op: called with an item, resolves to its result or the failure's
/// text (an error's `Display`, or a panic's message).
pub(crate) trait StageOp<T, U>: Send + Sync + 'static {
    fn call(&self, x: T) -> impl Future<Output = Result<U, String>> + Send;
}

/// A sync op: runs inline on the worker.
pub(crate) struct SyncOp<F>(pub(crate) F);

impl<T, U, E, F> StageOp<T, U> for SyncOp<F>
where
    F: Fn(T) -> Result<U, E> + Send + Sync + 'static,
    E: Display,
    T: Send,
    U: Send,
{
    fn call(&self, x: T) -> impl Future<Output = Result<U, String>> + Send {
        let r = match catch_unwind(AssertUnwindSafe(|| (self.0)(x))) {
            Ok(Ok(u)) => Ok(u),
            Ok(Err(e)) => Err(error_text(&e)),
            Err(p) => Err(panic_text(&*p)),
        };
        core::future::ready(r)
    }
}

/// An async op: its future runs on the pipeline's executor.
pub(crate) struct AsyncOp<F>(pub(crate) F);

impl<T, U, E, F, Fut> StageOp<T, U> for AsyncOp<F>
where
    F: Fn(T) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<U, E>> + Send,
    E: Display,
    T: Send,
    U: Send,
{
    fn call(&self, x: T) -> impl Future<Output = Result<U, String>> + Send {
        let made = catch_unwind(AssertUnwindSafe(|| (self.0)(x)));
        async move {
            let fut = match made {
                Ok(f) => f,
                Err(p) => return Err(panic_text(&*p)),
            };
            let mut fut = pin!(fut);
            let r = poll_fn(
                |cx| match catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(cx))) {
                    Ok(Poll::Pending) => Poll::Pending,
                    Ok(Poll::Ready(r)) => Poll::Ready(Ok(r)),
                    Err(p) => Poll::Ready(Err(panic_text(&*p))),
                },
            )
            .await;
            match r {
                Ok(Ok(u)) => Ok(u),
                Ok(Err(e)) => Err(error_text(&e)),
                Err(p) => Err(p),
            }
        }
    }
}

/// An op error's text; a `Display` that panics is user code too, and the
/// failure is still counted (with the panic's message).
fn error_text(e: &impl Display) -> String {
    catch_unwind(AssertUnwindSafe(|| e.to_string()))
        .unwrap_or_else(|p| format!("the error's Display {}", panic_text(&*p)))
}

/// A stage task's future, with a panic out of its poll contained: user
/// code a stage runs outside its ops (a batch's iterator, an item's or a
/// batch's drop) ends the pipeline with
/// [`PipelineError::StagePanicked`](super::PipelineError::StagePanicked)
/// instead of ending the task silently (which would end the stream early
/// with no error).
pub(crate) async fn contained(sh: Arc<Shared>, stage: usize, fut: impl Future<Output = ()>) {
    let mut fut = pin!(fut);
    poll_fn(
        |cx| match catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(cx))) {
            Ok(p) => p,
            Err(p) => {
                sh.stage_panicked(stage, panic_text(&*p));
                Poll::Ready(())
            }
        },
    )
    .await;
}

/// A panic payload's message.
pub(crate) fn panic_text(p: &(dyn core::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        format!("panicked: {s}")
    } else if let Some(s) = p.downcast_ref::<String>() {
        format!("panicked: {s}")
    } else {
        "panicked (non-string payload)".to_owned()
    }
}

/// Yields once: the task is queued again behind the runnable tasks of
/// higher (downstream) rank.
pub(crate) async fn yield_now() {
    let mut yielded = false;
    poll_fn(|cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
    .await;
}

/// Mean op time above which a stage's ops count as long (about the cost of
/// waking a sleeping worker).
const LONG_OP_NS: u64 = 20_000;

/// The counters of one hop (stage `i` reads queue `i`, writes queue `i+1`).
///
/// A receive or send that completes at once is counted with no clock read
/// (it waited 0); of those that have to wait, the task's wait sampler
/// times some (see the stats module). Op times are sampled per task too
/// ([`OpSampler`]).
struct Hop<'a> {
    sh: &'a Shared,
    i: usize,
    /// Samplers of the waits for input and for room (one per queue side,
    /// so a timed wait stands only for waits of its own kind).
    get_waits: OpSampler,
    put_waits: OpSampler,
}

impl Hop<'_> {
    fn new(sh: &Shared, i: usize) -> Hop<'_> {
        Hop {
            sh,
            i,
            get_waits: OpSampler::for_waits(),
            put_waits: OpSampler::for_waits(),
        }
    }

    /// The next item of the input (`None`: it ended), counted as a get.
    async fn recv<T>(&mut self, rx: &Receiver<T>) -> Option<T> {
        let q = &self.sh.queues[self.i];
        match rx.try_recv() {
            Ok(x) => {
                q.get_at_once(rx.len());
                Some(x)
            }
            Err(TryRecvError::Disconnected) => None,
            Err(TryRecvError::Empty) => {
                let since = self.get_waits.start();
                let x = rx.recv_async().await.ok()?;
                match since {
                    Some(t) => q.get_sampled(&mut self.get_waits, t, rx.len()),
                    None => q.get_at_once(rx.len()),
                }
                Some(x)
            }
        }
    }

    /// Sends `u` downstream, counted as a put; `false` if the downstream is
    /// gone (`u` is dropped).
    async fn send<U>(&mut self, tx: &Sender<U>, u: U) -> bool {
        let q = &self.sh.queues[self.i + 1];
        match tx.try_send(u) {
            Ok(()) => {
                q.put_at_once();
                true
            }
            Err(TrySendError::Disconnected(_)) => false,
            Err(TrySendError::Full(u)) => {
                let since = self.put_waits.start();
                if tx.send_async(u).await.is_err() {
                    return false;
                }
                match since {
                    Some(t) => q.put_sampled(&mut self.put_waits, t),
                    None => q.put_at_once(),
                }
                true
            }
        }
    }

    /// Whether this stage's ops have been long on average (then a task
    /// this worker kept for itself is handed to another worker rather than
    /// waiting for the op).
    fn long_ops(&self) -> bool {
        self.sh.stages[self.i].op_time.mean_ns() > LONG_OP_NS
    }

    /// After an item was passed on: if this poll made a task runnable that
    /// this worker kept, run it next (short ops: `yield`, downstream ranks
    /// first) or hand it to another worker (long ops).
    async fn pass_on(&self) {
        if has_deferred() && !(self.long_ops() && flush_deferred()) {
            yield_now().await;
        }
    }

    /// Before an op: counts the call; the start time if it is timed. A
    /// task kept for this worker is handed on first if the op may be long
    /// (the stage's ops are long on average, or none was timed yet).
    fn start(&self, sampler: &mut OpSampler) -> Option<Instant> {
        if has_deferred() && (self.long_ops() || self.sh.stages[self.i].op_time.count() == 0) {
            let _ = flush_deferred();
        }
        let st = &self.sh.stages[self.i];
        st.calls.fetch_add(1, Ordering::Relaxed);
        sampler.start()
    }

    /// After an op.
    fn end(&self, sampler: &mut OpSampler, started: Option<Instant>) {
        let st = &self.sh.stages[self.i];
        if let Some(t) = started {
            sampler.end(t, &st.op_time);
        }
        st.ended.fetch_add(1, Ordering::Relaxed);
    }
}

/// One task of a completion-order stage (or of an input-order stage with
/// concurrency 1).
pub(crate) async fn completion_loop<T, U, O: StageOp<T, U>>(
    sh: Arc<Shared>,
    i: usize,
    rx: Receiver<T>,
    tx: Sender<U>,
    op: Arc<O>,
) {
    let mut hop = Hop::new(&sh, i);
    let mut sampler = OpSampler::new();
    while let Some(x) = hop.recv(&rx).await {
        let started = hop.start(&mut sampler);
        let r = op.call(x).await;
        hop.end(&mut sampler, started);
        match r {
            Ok(u) => {
                if !hop.send(&tx, u).await {
                    return;
                }
            }
            Err(e) => {
                if sh.fail(i, e) {
                    return;
                }
            }
        }
        hop.pass_on().await;
    }
}

/// The shared state of an input-order stage with concurrency > 1.
pub(crate) struct Reorder<U> {
    window: Mutex<Window<U>>,
    /// One token: holding it makes "receive, take a ticket" one step.
    intake_tx: Sender<()>,
    intake_rx: Receiver<()>,
    /// `concurrency` permits: one per ticket taken and not yet emitted.
    permits_tx: Sender<()>,
    permits_rx: Receiver<()>,
}

enum Slot<U> {
    Running,
    Finished(Option<U>),
}

struct Window<U> {
    /// Slots of tickets `head .. head + slots.len()`, in ticket order.
    slots: VecDeque<Slot<U>>,
    head: u64,
    /// One task at a time sends the finished head (so sends stay in order).
    emitting: bool,
}

impl<U> Reorder<U> {
    pub(crate) fn new(concurrency: usize) -> Option<Self> {
        let (intake_tx, intake_rx) = bounded(1).ok()?;
        let (permits_tx, permits_rx) = bounded(concurrency).ok()?;
        intake_tx.try_send(()).ok()?;
        for _ in 0..concurrency {
            permits_tx.try_send(()).ok()?;
        }
        Some(Self {
            window: Mutex::new(Window {
                slots: VecDeque::with_capacity(concurrency),
                head: 0,
                emitting: false,
            }),
            intake_tx,
            intake_rx,
            permits_tx,
            permits_rx,
        })
    }
}

impl<U> Reorder<U> {
    /// Takes the head of the window if it is finished and nobody is
    /// emitting; the caller is then the emitter until it clears `emitting`.
    fn take_head(&self) -> Option<Option<U>> {
        let mut w = lock(&self.window);
        if w.emitting || !matches!(w.slots.front(), Some(Slot::Finished(_))) {
            return None;
        }
        let Some(Slot::Finished(v)) = w.slots.pop_front() else {
            unreachable!("checked above")
        };
        w.head += 1;
        w.emitting = true;
        Some(v)
    }
}

/// One task of an input-order stage with concurrency > 1.
pub(crate) async fn ordered_loop<T, U, O: StageOp<T, U>>(
    sh: Arc<Shared>,
    i: usize,
    rx: Receiver<T>,
    tx: Sender<U>,
    op: Arc<O>,
    ro: Arc<Reorder<U>>,
) {
    let mut hop = Hop::new(&sh, i);
    let mut sampler = OpSampler::new();
    loop {
        // The permit bounds the window; the channels never close while `ro`
        // lives, so these receives only wait.
        if ro.permits_rx.recv_async().await.is_err() || ro.intake_rx.recv_async().await.is_err() {
            return;
        }
        let got = hop.recv(&rx).await;
        let ticket = match got {
            Some(_) => {
                let mut w = lock(&ro.window);
                w.slots.push_back(Slot::Running);
                w.head + w.slots.len() as u64 - 1
            }
            None => 0,
        };
        let _ = ro.intake_tx.try_send(());
        let Some(x) = got else {
            let _ = ro.permits_tx.try_send(());
            return;
        };
        let started = hop.start(&mut sampler);
        let r = op.call(x).await;
        hop.end(&mut sampler, started);
        let (value, stop) = match r {
            Ok(u) => (Some(u), false),
            Err(e) => (None, sh.fail(i, e)),
        };
        {
            let mut w = lock(&ro.window);
            let k = (ticket - w.head) as usize;
            debug_assert!(k < w.slots.len());
            w.slots[k] = Slot::Finished(value);
        }
        if stop {
            return;
        }
        // Emit the finished head, unless another task is emitting (it
        // re-checks the head after each send, so nothing is stranded).
        while let Some(v) = ro.take_head() {
            let _ = ro.permits_tx.try_send(());
            let sent = match v {
                Some(u) => hop.send(&tx, u).await,
                None => true,
            };
            lock(&ro.window).emitting = false;
            if !sent {
                return;
            }
        }
        hop.pass_on().await;
    }
}

/// Items a new batch reserves room for at most (it grows past that).
const BATCH_RESERVE: usize = 1024;

/// The aggregate task: batches of up to `max_items`; a batch is sent when
/// full, when `max_wait` has passed since its first item, or at the end
/// (unless `drop_last` and it is short).
pub(crate) async fn aggregate_loop<T: Send>(
    sh: Arc<Shared>,
    i: usize,
    rx: Receiver<T>,
    tx: Sender<Vec<T>>,
    max_items: usize,
    max_wait: Option<Duration>,
    drop_last: bool,
) {
    let mut hop = Hop::new(&sh, i);
    let q = &sh.queues[i];
    let mut sampler = OpSampler::new();
    let mut ended = false;
    while !ended {
        let Some(first) = hop.recv(&rx).await else {
            return;
        };
        let started = hop.start(&mut sampler);
        let deadline = max_wait.and_then(|w| started.unwrap_or_else(Instant::now).checked_add(w));
        // `max_items` may be "no limit" (`usize::MAX`, batching by time
        // only): reserve a little, let the batch grow as it fills.
        let mut batch = Vec::with_capacity(max_items.min(BATCH_RESERVE));
        batch.push(first);
        while batch.len() < max_items {
            match rx.try_recv() {
                Ok(v) => {
                    batch.push(v);
                    q.get_at_once(rx.len());
                    continue;
                }
                Err(TryRecvError::Disconnected) => {
                    ended = true;
                    break;
                }
                Err(_) => {}
            }
            let waited = Instant::now();
            let got = match deadline {
                None => Some(rx.recv_async().await),
                Some(d) => {
                    let mut recv = pin!(rx.recv_async());
                    let mut sleep = pin!(sh.timer.sleep_until(d));
                    poll_fn(|cx| {
                        if let Poll::Ready(r) = recv.as_mut().poll(cx) {
                            Poll::Ready(Some(r))
                        } else if sleep.as_mut().poll(cx).is_ready() {
                            Poll::Ready(None)
                        } else {
                            Poll::Pending
                        }
                    })
                    .await
                }
            };
            match got {
                Some(Ok(v)) => {
                    batch.push(v);
                    q.get(waited.elapsed(), rx.len());
                }
                Some(Err(_)) => {
                    ended = true;
                    break;
                }
                None => break, // max_wait reached
            }
        }
        hop.end(&mut sampler, started);
        if ended && drop_last && batch.len() < max_items {
            return;
        }
        if !hop.send(&tx, batch).await {
            return;
        }
    }
}

/// The disaggregate task: sends every element of every batch, in order.
pub(crate) async fn disaggregate_loop<B, T>(
    sh: Arc<Shared>,
    i: usize,
    rx: Receiver<B>,
    tx: Sender<T>,
) where
    B: IntoIterator<Item = T> + Send,
    B::IntoIter: Send,
    T: Send,
{
    let mut hop = Hop::new(&sh, i);
    let mut sampler = OpSampler::new();
    while let Some(batch) = hop.recv(&rx).await {
        let started = hop.start(&mut sampler);
        hop.end(&mut sampler, started);
        for x in batch {
            if !hop.send(&tx, x).await {
                return;
            }
        }
        hop.pass_on().await;
    }
}
