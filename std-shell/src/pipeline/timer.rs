//! Deadlines for tasks: one timer thread that blocks in `recv_timeout` on
//! its request channel until the next deadline (a timed channel wait, not a
//! sleep loop), then wakes the tasks whose deadline passed.

use core::cmp::Ordering as CmpOrdering;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};
use std::collections::BinaryHeap;
use std::thread::JoinHandle;
use std::time::Instant;

use crate::channel::{bounded, RecvTimeoutError, Sender};
use crate::sync::{lock, Mutex};

enum Msg {
    At(Entry),
    Stop,
}

struct Entry {
    deadline: Instant,
    waker: Waker,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.deadline == other.deadline
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> CmpOrdering {
        // Earliest deadline at the top of the (max-)heap.
        other.deadline.cmp(&self.deadline)
    }
}

/// The timer thread and its request channel (`None`: not started, see
/// [`Timer::unused`]).
pub(crate) struct Timer {
    tx: Option<Sender<Msg>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Timer {
    pub(crate) fn start(name: &str) -> std::io::Result<Self> {
        let (tx, rx) = bounded::<Msg>(256).map_err(|e| std::io::Error::other(e.to_string()))?;
        let thread = std::thread::Builder::new()
            .name(format!("{name}-timer"))
            .spawn(move || {
                let mut heap = BinaryHeap::<Entry>::new();
                loop {
                    let msg = match heap.peek() {
                        None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
                        Some(e) => {
                            rx.recv_timeout(e.deadline.saturating_duration_since(Instant::now()))
                        }
                    };
                    match msg {
                        Ok(Msg::At(e)) => heap.push(e),
                        Ok(Msg::Stop) | Err(RecvTimeoutError::Disconnected) => return,
                        Err(RecvTimeoutError::Timeout) => {}
                    }
                    let now = Instant::now();
                    while heap.peek().is_some_and(|e| e.deadline <= now) {
                        if let Some(e) = heap.pop() {
                            e.waker.wake();
                        }
                    }
                }
            })?;
        Ok(Self {
            tx: Some(tx),
            thread: Mutex::new(Some(thread)),
        })
    }

    /// A timer without a thread, for a pipeline that never waits for a
    /// deadline (no aggregate with a `max_wait`): one thread fewer to start.
    /// Its sleeps never resolve, so it must not be slept on.
    pub(crate) fn unused() -> Self {
        Self {
            tx: None,
            thread: Mutex::new(None),
        }
    }

    /// A future that resolves at `deadline`.
    pub(crate) fn sleep_until(&self, deadline: Instant) -> Sleep<'_> {
        debug_assert!(
            self.tx.is_some(),
            "a sleep on a pipeline whose timer thread was not started"
        );
        Sleep {
            timer: self,
            deadline,
            waker: None,
        }
    }

    /// Stops the thread (pending sleeps never resolve afterwards).
    pub(crate) fn stop(&self) {
        let thread = lock(&self.thread).take();
        if let (Some(t), Some(tx)) = (thread, &self.tx) {
            let _ = tx.send(Msg::Stop);
            let _ = t.join();
        }
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Resolves once its deadline has passed. Registers with the timer thread
/// on its first `Pending` poll (and again if polled with another waker).
pub(crate) struct Sleep<'a> {
    timer: &'a Timer,
    deadline: Instant,
    waker: Option<Waker>,
}

impl Future for Sleep<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if Instant::now() >= self.deadline {
            return Poll::Ready(());
        }
        if !self.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            self.waker = Some(cx.waker().clone());
            let entry = Entry {
                deadline: self.deadline,
                waker: cx.waker().clone(),
            };
            // The timer thread only ever drains this channel, so a full one
            // empties quickly; if the thread is gone (stopping) the task is
            // being cancelled anyway.
            if let Some(tx) = &self.timer.tx {
                let _ = tx.send(Msg::At(entry));
            }
        }
        Poll::Pending
    }
}
