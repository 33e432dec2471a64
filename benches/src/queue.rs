//! Lines for the bounded MPMC [`EventQueue`] (SCQ, strictly lock-free) and
//! [`StampQueue`] (evlatch's stamp ring: faster, not lock-free) against the
//! bounded queues users would pick instead: crossbeam-queue's
//! `ArrayQueue` (the baseline), concurrent-queue's bounded queue, heapless'
//! `mpmc::Queue` (deprecated in heapless 0.9 for not being lock-free) and
//! `std::sync::mpsc::sync_channel`.
//!
//! Each batch spawns `p` producers and `c` consumers, releases them together,
//! and times until all `iters` items have gone through a queue of 64 slots;
//! ns/op is per item. A thread that finds the queue full (or empty) spins a
//! few times, then yields: the same policy for every line.

use core::hint::spin_loop;
use std::sync::mpsc;
use std::sync::{Arc, Barrier, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use evlatch::{EventQueue, StampQueue};

use crate::harness::Harness;

/// Slots in every queue.
const CAPACITY: usize = 64;

/// Registers the queue groups.
pub fn register(h: &mut Harness) {
    let cores = thread::available_parallelism().map_or(1, |n| n.get());
    for (p, c) in [(1, 1), (2, 2), (4, 4)] {
        let over = if p + c > cores {
            format!(" — {} threads on {cores} cores: oversubscribed", p + c)
        } else {
            String::new()
        };
        let title = format!("{p} producer(s), {c} consumer(s), {CAPACITY} slots, throughput{over}");
        let group = h
            .group(&format!("queue.{p}p{c}c"), &title)
            .note(
                "ns per item through the queue; each batch spawns the threads and times from \
                 their common start to the last item popped. sync_channel has one Receiver: \
                 with several consumers they share it through a Mutex",
            )
            .baseline_timed("crossbeam ArrayQueue", move |n| {
                transfer(p, c, n, Arc::new(crossbeam_queue::ArrayQueue::new(CAPACITY)))
            })
            .line_timed("concurrent-queue bounded", move |n| {
                transfer(p, c, n, Arc::new(concurrent_queue::ConcurrentQueue::bounded(CAPACITY)))
            })
            .line_timed("std sync_channel", move |n| {
                let (tx, rx) = mpsc::sync_channel(CAPACITY);
                transfer(p, c, n, Arc::new(Channel { tx, rx: Mutex::new(rx) }))
            })
            // heapless' mpmc queue only at 1p1c: with several producers on an
            // oversubscribed machine its 8-bit sequence counters can wrap
            // while a thread is preempted, and its pop then spins forever (seen
            // here: a 2p2c batch hung for 15 minutes). That is the hazard its
            // deprecation in heapless 0.9 names.
            .line_timed_if(p == 1 && c == 1, "heapless mpmc (not lock-free; 1p1c only)", move |n| {
                #[allow(deprecated, reason = "heapless 0.9 deprecates mpmc::Queue::new; it is what embedded users have")]
                let q = heapless::mpmc::Queue::<u64, CAPACITY>::new();
                transfer(p, c, n, Arc::new(q))
            })
            // Before the SCQ line, so that `.goal` below stays on the SCQ.
            .line_timed("evlatch StampQueue (not lock-free)", move |n| {
                transfer(p, c, n, Arc::new(StampQueue::<u64, CAPACITY>::new()))
            })
            .line_timed("evlatch EventQueue (SCQ)", move |n| {
                transfer(p, c, n, Arc::new(EventQueue::<u64, CAPACITY>::new()))
            });
        // The goal of issue 3: at least as fast as ArrayQueue at 1p1c and 2p2c.
        let group = if p <= 2 { group.goal(1.0) } else { group };
        group.run();
    }
}

/// What the transfer loop needs of a queue.
trait Bounded: Send + Sync + 'static {
    fn push(&self, v: u64) -> Result<(), u64>;
    fn pop(&self) -> Option<u64>;
}

impl Bounded for crossbeam_queue::ArrayQueue<u64> {
    fn push(&self, v: u64) -> Result<(), u64> {
        crossbeam_queue::ArrayQueue::push(self, v)
    }
    fn pop(&self) -> Option<u64> {
        crossbeam_queue::ArrayQueue::pop(self)
    }
}

impl Bounded for concurrent_queue::ConcurrentQueue<u64> {
    fn push(&self, v: u64) -> Result<(), u64> {
        concurrent_queue::ConcurrentQueue::push(self, v).map_err(|e| e.into_inner())
    }
    fn pop(&self) -> Option<u64> {
        concurrent_queue::ConcurrentQueue::pop(self).ok()
    }
}

impl Bounded for heapless::mpmc::Queue<u64, CAPACITY> {
    fn push(&self, v: u64) -> Result<(), u64> {
        self.enqueue(v)
    }
    fn pop(&self) -> Option<u64> {
        self.dequeue()
    }
}

impl Bounded for EventQueue<u64, CAPACITY> {
    fn push(&self, v: u64) -> Result<(), u64> {
        self.try_push(v).map_err(|full| full.0)
    }
    fn pop(&self) -> Option<u64> {
        self.try_pop()
    }
}

impl Bounded for StampQueue<u64, CAPACITY> {
    fn push(&self, v: u64) -> Result<(), u64> {
        self.try_push(v).map_err(|full| full.0)
    }
    fn pop(&self) -> Option<u64> {
        self.try_pop()
    }
}

/// `sync_channel`, its single receiver shared by the consumers.
struct Channel {
    tx: mpsc::SyncSender<u64>,
    rx: Mutex<mpsc::Receiver<u64>>,
}

impl Bounded for Channel {
    fn push(&self, v: u64) -> Result<(), u64> {
        self.tx.try_send(v).map_err(|e| match e {
            mpsc::TrySendError::Full(v) | mpsc::TrySendError::Disconnected(v) => v,
        })
    }
    fn pop(&self) -> Option<u64> {
        self.rx.lock().ok()?.try_recv().ok()
    }
}

/// Backs off after a failed push or pop: spin a little, then yield.
fn back_off(failures: &mut u32) {
    *failures += 1;
    if *failures < 16 {
        spin_loop();
    } else {
        thread::yield_now();
    }
}

/// Moves `n` items from `p` producers to `c` consumers through `q`; returns
/// the time from the common start to the last consumer done.
fn transfer<Q: Bounded>(p: usize, c: usize, n: u64, q: Arc<Q>) -> Duration {
    let start = Arc::new(Barrier::new(p + c));
    let per_producer = n.div_ceil(p as u64);
    let total = per_producer * p as u64;
    let per_consumer = |i: usize| total / c as u64 + u64::from((i as u64) < total % c as u64);
    // Each worker reports when it started and finished; the batch's time runs
    // from the earliest start to the latest finish (the main thread's own
    // wake-up from a barrier can come after most of the work on 2 cores).
    let producers: Vec<_> = (0..p)
        .map(|_| {
            let (q, start) = (q.clone(), start.clone());
            thread::spawn(move || {
                start.wait();
                let t0 = Instant::now();
                for i in 0..per_producer {
                    let mut v = i;
                    let mut failures = 0;
                    while let Err(back) = q.push(v) {
                        v = back;
                        back_off(&mut failures);
                    }
                }
                (t0, Instant::now(), 0u64)
            })
        })
        .collect();
    let consumers: Vec<_> = (0..c)
        .map(|i| {
            let (q, start) = (q.clone(), start.clone());
            let want = per_consumer(i);
            thread::spawn(move || {
                start.wait();
                let t0 = Instant::now();
                let mut sum = 0u64;
                for _ in 0..want {
                    let mut failures = 0;
                    loop {
                        if let Some(v) = q.pop() {
                            sum = sum.wrapping_add(v);
                            break;
                        }
                        back_off(&mut failures);
                    }
                }
                (t0, Instant::now(), sum)
            })
        })
        .collect();
    let spans: Vec<_> = producers
        .into_iter()
        .chain(consumers)
        .map(|t| t.join().expect("worker panicked"))
        .collect();
    let first = spans
        .iter()
        .map(|s| s.0)
        .min()
        .expect("at least one worker");
    let last = spans
        .iter()
        .map(|s| s.1)
        .max()
        .expect("at least one worker");
    // Every item arrived exactly once: the consumers' sums add up.
    let got = spans.iter().fold(0u64, |a, s| a.wrapping_add(s.2));
    let want = (p as u64).wrapping_mul(per_producer.wrapping_mul(per_producer.wrapping_sub(1)) / 2);
    assert_eq!(got, want, "items lost or duplicated in transfer");
    last - first
}
