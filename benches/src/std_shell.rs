//! Lines for the std shell (`evlatch-std`): wake latency (blocking and
//! async), fan-out to many waiters, and channel throughput, each against the
//! crates a user would pick instead.
//!
//! Every contender of a group runs the *same structure*, written once as a
//! generic function over a small trait that each contender implements with
//! its own library's idiomatic calls:
//!
//! - wake latency: a ping-pong between two threads (or two tasks) over two
//!   one-slot "signals"; one op = half a round trip = one wake;
//! - fan-out: one notifier releases 1,000 waiting tasks;
//! - throughput: P producers send `n` distinct `u64`s through a bounded
//!   channel of capacity [`CAP`] to C consumers, which count and sum what
//!   they receive (checked: every item arrives exactly once).

use core::future::Future;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use core::time::Duration;
use std::sync::{Arc, Barrier, Condvar, Mutex};
use std::thread;
use std::time::Instant;

use event_listener::Listener as _;
use evlatch_std::{Event, EventExt};
use tokio::runtime::Runtime;

use crate::harness::Harness;

/// Channel capacity, the same for every channel line.
const CAP: usize = 1024;

/// The fewest items a channel batch moves. A batch has a fixed cost
/// (spawning, joining, the last wake-ups); with the few items the harness
/// asks for while calibrating, one preempted batch would make it pick tiny
/// batches that measure that fixed cost. Smaller requests run this many
/// items and report the time scaled to the items asked for.
const MIN_ITEMS: u64 = 32 * CAP as u64;

/// Waiters released by one fan-out.
const FAN_OUT: usize = 1000;

/// Target batch times (timed part) of the fan-out groups: every fan-out
/// spawns 1,000 tasks untimed (~0.3 ms here), so a batch's wall time is a
/// few times its timed part; the notifier-only group times ~30 µs of each.
const FAN_OUT_BATCH: Duration = Duration::from_millis(4);
const FAN_OUT_NOTIFY_BATCH: Duration = Duration::from_micros(500);

/// Registers the std-shell groups.
pub fn register(h: &mut Harness) {
    wake_blocking(h);
    wake_async(h);
    fan_out(h);
    channel_blocking(h, 1, 1);
    channel_blocking(h, 2, 2);
    channel_async(h, 1, 1);
    channel_async(h, 2, 2);
}

// ---------------------------------------------------------------------------
// Blocking wake latency
// ---------------------------------------------------------------------------

/// A one-slot, one-waiter signal for a blocking thread: `set` raises it and
/// wakes the waiter; `wait_clear` blocks until it is raised, then lowers it.
trait Signal: Sync + Default {
    fn set(&self);
    fn wait_clear(&self);
}

/// `evlatch::Event` + `EventExt::wait`: finish, wait, reset.
#[derive(Default)]
struct EvlatchSignal(Event);

impl Signal for EvlatchSignal {
    fn set(&self) {
        self.0.set_finished().expect("the waiter reset the event");
    }
    fn wait_clear(&self) {
        self.0.wait();
        self.0.reset().expect("reset of a finished event");
    }
}

/// `std::sync::Mutex<bool>` + `Condvar`, the textbook form.
#[derive(Default)]
struct CondvarSignal {
    raised: Mutex<bool>,
    cv: Condvar,
}

impl Signal for CondvarSignal {
    fn set(&self) {
        *self.raised.lock().expect("no panics while locked") = true;
        self.cv.notify_one();
    }
    fn wait_clear(&self) {
        let mut raised = self.raised.lock().expect("no panics while locked");
        while !*raised {
            raised = self.cv.wait(raised).expect("no panics while locked");
        }
        *raised = false;
    }
}

/// `event_listener::Event` + an `AtomicBool`, in the crate's documented
/// check / listen / re-check / wait pattern, with the allocation-free
/// `listener!` stack listener.
#[derive(Default)]
struct ListenerSignal {
    raised: AtomicBool,
    event: event_listener::Event,
}

impl Signal for ListenerSignal {
    fn set(&self) {
        self.raised.store(true, Ordering::SeqCst);
        // `notify` issues the SeqCst fence the pattern needs.
        self.event.notify(1);
    }
    fn wait_clear(&self) {
        loop {
            if self.raised.load(Ordering::SeqCst) {
                break;
            }
            event_listener::listener!(self.event => listener);
            if self.raised.load(Ordering::SeqCst) {
                break;
            }
            listener.wait();
        }
        self.raised.store(false, Ordering::Relaxed);
    }
}

/// Ping-pong over two signals between this thread and a responder thread
/// spawned for the batch; returns the time of `iters` round trips / 2.
fn ping_pong<S: Signal>(pair: &(S, S), iters: u64) -> Duration {
    let (ping, pong) = (&pair.0, &pair.1);
    thread::scope(|s| {
        s.spawn(|| {
            for _ in 0..=iters {
                ping.wait_clear();
                pong.set();
            }
        });
        // One untimed round: the responder is running and both are warm.
        ping.set();
        pong.wait_clear();
        let start = Instant::now();
        for _ in 0..iters {
            ping.set();
            pong.wait_clear();
        }
        start.elapsed() / 2
    })
}

fn wake_blocking(h: &mut Harness) {
    let condvar = <(CondvarSignal, CondvarSignal)>::default();
    let listener = <(ListenerSignal, ListenerSignal)>::default();
    let evlatch = <(EvlatchSignal, EvlatchSignal)>::default();
    h.group(
        "std.wake.blocking",
        "blocking wake latency: finish → blocked waiter running (thread ping-pong)",
    )
    .note(
        "two threads, two one-slot signals; A: set(ping), wait+clear(pong); \
         B: wait+clear(ping), set(pong). ns/op = round trip / 2 = one wake. \
         evlatch: set_finished / EventExt::wait + reset",
    )
    .baseline_timed("std Mutex+Condvar", |n| ping_pong(&condvar, n))
    .line_timed("event-listener 5 (listener!)", |n| ping_pong(&listener, n))
    .line_timed("evlatch Event + EventExt::wait", |n| ping_pong(&evlatch, n))
    .goal(1.0)
    .run();
}

// ---------------------------------------------------------------------------
// Async wake latency
// ---------------------------------------------------------------------------

/// A one-slot, one-waiter signal for a task (the async [`Signal`]).
trait AsyncSignal: Send + Sync + Default + 'static {
    fn set(&self);
    fn wait_clear(&self) -> impl Future<Output = ()> + Send + '_;
}

impl AsyncSignal for EvlatchSignal {
    fn set(&self) {
        Signal::set(self);
    }
    async fn wait_clear(&self) {
        self.0.wait_async().await;
        self.0.reset().expect("reset of a finished event");
    }
}

/// `tokio::sync::Notify`: `notify_one` stores a permit when nobody waits,
/// so it is a one-slot signal as it stands.
#[derive(Default)]
struct NotifySignal(tokio::sync::Notify);

impl AsyncSignal for NotifySignal {
    fn set(&self) {
        self.0.notify_one();
    }
    fn wait_clear(&self) -> impl Future<Output = ()> + Send + '_ {
        self.0.notified()
    }
}

/// A current-thread runtime: both tasks of a ping-pong on one thread, so a
/// wake is the library's wake path plus tokio's local scheduling, the same
/// for every line, with no OS wake-up in it.
fn current_thread() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime")
}

/// Worker threads of [`multi_thread`]: one per core (2 on the reference VM).
fn workers() -> usize {
    thread::available_parallelism().map_or(2, |n| n.get())
}

/// A multi-thread runtime with [`workers`] workers.
fn multi_thread() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers())
        .build()
        .expect("a multi-thread runtime")
}

/// The async [`ping_pong`]: two spawned tasks; round trips / 2.
fn ping_pong_async<S: AsyncSignal>(rt: &Runtime, pair: &Arc<(S, S)>, iters: u64) -> Duration {
    rt.block_on(async {
        let responder = {
            let pair = pair.clone();
            tokio::spawn(async move {
                for _ in 0..iters {
                    pair.0.wait_clear().await;
                    pair.1.set();
                }
            })
        };
        let pair = pair.clone();
        let initiator = tokio::spawn(async move {
            let start = Instant::now();
            for _ in 0..iters {
                pair.0.set();
                pair.1.wait_clear().await;
            }
            start.elapsed() / 2
        });
        responder.await.expect("the responder does not panic");
        initiator.await.expect("the initiator does not panic")
    })
}

/// The same ping-pong with `tokio::sync::oneshot`, which is single-use: each
/// ping carries the reply's sender and the next ping's receiver (two fresh
/// channels per round trip, as one-shot completions are used).
fn ping_pong_oneshot(rt: &Runtime, iters: u64) -> Duration {
    use tokio::sync::oneshot;
    /// A ping: the reply's sender and the next ping's receiver.
    struct Msg(oneshot::Sender<()>, oneshot::Receiver<Msg>);
    rt.block_on(async {
        let (first_tx, first_rx) = oneshot::channel::<Msg>();
        let responder = tokio::spawn(async move {
            let mut ping_rx = first_rx;
            for _ in 0..iters {
                let Msg(pong_tx, next_rx) = ping_rx.await.expect("the initiator sends");
                pong_tx.send(()).expect("the initiator waits");
                ping_rx = next_rx;
            }
        });
        let initiator = tokio::spawn(async move {
            let mut ping_tx = first_tx;
            let start = Instant::now();
            for _ in 0..iters {
                let (pong_tx, pong_rx) = oneshot::channel();
                let (next_tx, next_rx) = oneshot::channel();
                if ping_tx.send(Msg(pong_tx, next_rx)).is_err() {
                    panic!("the responder waits");
                }
                pong_rx.await.expect("the responder replies");
                ping_tx = next_tx;
            }
            start.elapsed() / 2
        });
        responder.await.expect("the responder does not panic");
        initiator.await.expect("the initiator does not panic")
    })
}

fn wake_async(h: &mut Harness) {
    let rt = current_thread();
    let notify = Arc::new(<(NotifySignal, NotifySignal)>::default());
    let evlatch = Arc::new(<(EvlatchSignal, EvlatchSignal)>::default());
    h.group(
        "std.wake.async",
        "async wake latency: two tasks ping-pong on a tokio current-thread runtime",
    )
    .note(
        "two spawned tasks, two signals; A: set(ping), await(pong); B: await(ping), set(pong). \
         ns/op = round trip / 2 = one wake. Notify: notify_one / notified(); \
         oneshot: two fresh channels per round trip; evlatch: set_finished / wait_async + reset",
    )
    .baseline_timed("tokio Notify", |n| ping_pong_async(&rt, &notify, n))
    .line_timed("tokio oneshot", |n| ping_pong_oneshot(&rt, n))
    .line_timed("evlatch Event::wait_async", |n| {
        ping_pong_async(&rt, &evlatch, n)
    })
    .goal(1.0)
    .run();
}

// ---------------------------------------------------------------------------
// Fan-out
// ---------------------------------------------------------------------------

/// A broadcast that releases every task waiting on it.
trait Broadcast: Send + Sync + Default + 'static {
    /// Untimed, before the waiters are spawned: back to "not fired".
    fn rearm(&self);
    /// Releases every waiter.
    fn fire(&self);
    /// Waits until fired. It must register in its first poll.
    fn wait(&self) -> impl Future<Output = ()> + Send + '_;
}

impl Broadcast for EvlatchSignal {
    fn rearm(&self) {
        self.0.reset().expect("reset of a finished event");
    }
    fn fire(&self) {
        self.0.set_finished().expect("rearm reset the event");
    }
    async fn wait(&self) {
        self.0.wait_async().await;
    }
}

impl Broadcast for ListenerSignal {
    fn rearm(&self) {
        self.raised.store(false, Ordering::SeqCst);
    }
    fn fire(&self) {
        self.raised.store(true, Ordering::SeqCst);
        self.event.notify(usize::MAX);
    }
    async fn wait(&self) {
        loop {
            if self.raised.load(Ordering::SeqCst) {
                return;
            }
            let listener = self.event.listen();
            if self.raised.load(Ordering::SeqCst) {
                return;
            }
            listener.await;
        }
    }
}

/// `tokio::sync::Notify::notify_waiters` (releases the `Notified` futures
/// that exist when it is called; no permit is stored).
impl Broadcast for NotifySignal {
    fn rearm(&self) {}
    fn fire(&self) {
        self.0.notify_waiters();
    }
    async fn wait(&self) {
        self.0.notified().await;
    }
}

/// Bookkeeping of one fan-out, shared by the waiter tasks.
#[derive(Default)]
struct FanOutState {
    /// Waiters that have been polled once (and so registered).
    started: AtomicUsize,
    /// Waiters that have been released and ran to the end.
    done: AtomicUsize,
    /// Raised by the last waiter to finish.
    all_done: tokio::sync::Notify,
}

/// What a fan-out line times.
#[derive(Clone, Copy)]
enum FanOutTimes {
    /// From the call that fires until every waiter has run.
    AllRan,
    /// Only the call that fires (the notifier's cost).
    Fire,
}

/// `iters` fan-outs of [`FAN_OUT`] tasks on a current-thread runtime; the
/// spawning and first polls are untimed.
fn fan_out_batch<B: Broadcast>(
    rt: &Runtime,
    b: &Arc<B>,
    what: FanOutTimes,
    iters: u64,
) -> Duration {
    rt.block_on(async {
        let state = Arc::new(FanOutState::default());
        let mut total = Duration::ZERO;
        for _ in 0..iters {
            b.rearm();
            state.started.store(0, Ordering::Relaxed);
            state.done.store(0, Ordering::Relaxed);
            for _ in 0..FAN_OUT {
                let (b, state) = (b.clone(), state.clone());
                tokio::spawn(async move {
                    // One thread: when `started` reads FAN_OUT, every waiter
                    // has returned from its first poll, and so registered.
                    state.started.fetch_add(1, Ordering::Relaxed);
                    b.wait().await;
                    if state.done.fetch_add(1, Ordering::Relaxed) + 1 == FAN_OUT {
                        state.all_done.notify_one();
                    }
                });
            }
            while state.started.load(Ordering::Relaxed) < FAN_OUT {
                tokio::task::yield_now().await;
            }
            let start = Instant::now();
            b.fire();
            let fired = start.elapsed();
            state.all_done.notified().await;
            let all_ran = start.elapsed();
            assert_eq!(state.done.load(Ordering::Relaxed), FAN_OUT);
            total += match what {
                FanOutTimes::AllRan => all_ran,
                FanOutTimes::Fire => fired,
            };
        }
        total
    })
}

fn fan_out(h: &mut Harness) {
    let rt = current_thread();
    let listener = Arc::new(ListenerSignal::default());
    let notify = Arc::new(NotifySignal::default());
    let evlatch = Arc::new(EvlatchSignal::default());
    let note = format!(
        "{FAN_OUT} tokio tasks on a current-thread runtime, each awaiting the signal once \
         (all registered before the clock starts); event-listener: flag + listen() + \
         notify(usize::MAX); tokio: Notify::notify_waiters; evlatch: wait_async / set_finished. \
         ns/op = one fan-out"
    );
    for (what, batch, name, title) in [
        (
            FanOutTimes::AllRan,
            FAN_OUT_BATCH,
            "std.fanout.all",
            "fan-out: finish one event with 1,000 waiting tasks → all 1,000 have run",
        ),
        (
            FanOutTimes::Fire,
            FAN_OUT_NOTIFY_BATCH,
            "std.fanout.notify",
            "fan-out: the notifier's call alone (finish / notify) with 1,000 waiting tasks",
        ),
    ] {
        h.group(name, title)
            .note(&note)
            .batch_time(batch)
            .baseline_timed("event-listener 5", |n| {
                fan_out_batch(&rt, &listener, what, n)
            })
            .line_timed("tokio Notify::notify_waiters", |n| {
                fan_out_batch(&rt, &notify, what, n)
            })
            .line_timed("evlatch Event::wait_async", |n| {
                fan_out_batch(&rt, &evlatch, what, n)
            })
            .goal(1.0)
            .run();
    }
}

// ---------------------------------------------------------------------------
// Channel throughput
// ---------------------------------------------------------------------------

/// A bounded channel of `u64` with blocking operations.
trait BlockingChan {
    type Tx: Clone + Send;
    type Rx: Send;
    fn bounded(cap: usize) -> (Self::Tx, Self::Rx);
    fn send(tx: &Self::Tx, v: u64);
    /// `None` once every sender is gone and the channel is drained.
    fn recv(rx: &mut Self::Rx) -> Option<u64>;
    /// Another receiver, for channels with more than one consumer.
    fn clone_rx(rx: &Self::Rx) -> Option<Self::Rx>;
}

struct StdMpsc;
struct Crossbeam;
struct Flume;
struct Evlatch;

impl BlockingChan for StdMpsc {
    type Tx = std::sync::mpsc::SyncSender<u64>;
    type Rx = std::sync::mpsc::Receiver<u64>;
    fn bounded(cap: usize) -> (Self::Tx, Self::Rx) {
        std::sync::mpsc::sync_channel(cap)
    }
    fn send(tx: &Self::Tx, v: u64) {
        tx.send(v).expect("the consumer outlives the producers");
    }
    fn recv(rx: &mut Self::Rx) -> Option<u64> {
        rx.recv().ok()
    }
    fn clone_rx(_: &Self::Rx) -> Option<Self::Rx> {
        None // std's mpsc has a single consumer
    }
}

impl BlockingChan for Crossbeam {
    type Tx = crossbeam_channel::Sender<u64>;
    type Rx = crossbeam_channel::Receiver<u64>;
    fn bounded(cap: usize) -> (Self::Tx, Self::Rx) {
        crossbeam_channel::bounded(cap)
    }
    fn send(tx: &Self::Tx, v: u64) {
        tx.send(v).expect("the consumers outlive the producers");
    }
    fn recv(rx: &mut Self::Rx) -> Option<u64> {
        rx.recv().ok()
    }
    fn clone_rx(rx: &Self::Rx) -> Option<Self::Rx> {
        Some(rx.clone())
    }
}

impl BlockingChan for Flume {
    type Tx = flume::Sender<u64>;
    type Rx = flume::Receiver<u64>;
    fn bounded(cap: usize) -> (Self::Tx, Self::Rx) {
        flume::bounded(cap)
    }
    fn send(tx: &Self::Tx, v: u64) {
        tx.send(v).expect("the consumers outlive the producers");
    }
    fn recv(rx: &mut Self::Rx) -> Option<u64> {
        rx.recv().ok()
    }
    fn clone_rx(rx: &Self::Rx) -> Option<Self::Rx> {
        Some(rx.clone())
    }
}

impl BlockingChan for Evlatch {
    type Tx = evlatch_std::channel::Sender<u64>;
    type Rx = evlatch_std::channel::Receiver<u64>;
    fn bounded(cap: usize) -> (Self::Tx, Self::Rx) {
        evlatch_std::channel::bounded(cap).expect("CAP is a valid capacity")
    }
    fn send(tx: &Self::Tx, v: u64) {
        tx.send(v).expect("the consumers outlive the producers");
    }
    fn recv(rx: &mut Self::Rx) -> Option<u64> {
        rx.recv().ok()
    }
    fn clone_rx(rx: &Self::Rx) -> Option<Self::Rx> {
        Some(rx.clone())
    }
}

/// evlatch's channel at one less than the capacity asked for (`CAP - 1`, not
/// a power of two): the ring stays `CAP`, and a count of the room taken
/// keeps the capacity exact — what that count costs.
struct EvlatchGated;

impl BlockingChan for EvlatchGated {
    type Tx = evlatch_std::channel::Sender<u64>;
    type Rx = evlatch_std::channel::Receiver<u64>;
    fn bounded(cap: usize) -> (Self::Tx, Self::Rx) {
        evlatch_std::channel::bounded(cap - 1).expect("CAP - 1 is a valid capacity")
    }
    fn send(tx: &Self::Tx, v: u64) {
        <Evlatch as BlockingChan>::send(tx, v);
    }
    fn recv(rx: &mut Self::Rx) -> Option<u64> {
        <Evlatch as BlockingChan>::recv(rx)
    }
    fn clone_rx(rx: &Self::Rx) -> Option<Self::Rx> {
        <Evlatch as BlockingChan>::clone_rx(rx)
    }
}

/// Producer `k` of `producers` sends `k, k + producers, …` below `n`: every
/// value in `0..n` exactly once.
fn share(k: usize, producers: usize, n: u64) -> impl Iterator<Item = u64> {
    (k as u64..n).step_by(producers)
}

/// What a consumer saw: how many items, their sum, and when it saw the
/// channel disconnect.
struct Received {
    count: u64,
    sum: u64,
    end: Instant,
}

/// Checks that the consumers saw exactly `0..n` (counts and sums add up);
/// returns the time from the first producer's start to the last consumer's
/// end. Taken inside the worker threads, so the measuring thread being
/// descheduled cannot shorten or stretch it.
fn span(starts: &[Instant], parts: &[Received], n: u64) -> Duration {
    let count: u64 = parts.iter().map(|p| p.count).sum();
    let sum: u128 = parts.iter().map(|p| u128::from(p.sum)).sum();
    let expected = u128::from(n) * u128::from(n.saturating_sub(1)) / 2;
    assert_eq!(
        (count, sum),
        (n, expected),
        "items lost or duplicated in a channel"
    );
    let start = starts.iter().min().expect("at least one producer");
    let end = parts
        .iter()
        .map(|p| p.end)
        .max()
        .expect("at least one consumer");
    end.saturating_duration_since(*start)
}

/// Runs `pump` on at least [`MIN_ITEMS`] items; returns its time scaled to `n`.
fn at_least_min_items(n: u64, pump: impl FnOnce(u64) -> Duration) -> Duration {
    let items = n.max(MIN_ITEMS);
    let took = pump(items);
    if items == n {
        took
    } else {
        took.mul_f64(n as f64 / items as f64)
    }
}

/// Moves `n` items through a fresh channel with `producers` × `consumers`
/// threads, released together by a barrier; see [`span`] for the time.
fn pump_blocking<C: BlockingChan>(producers: usize, consumers: usize, n: u64) -> Duration {
    let (tx, rx) = C::bounded(CAP);
    let mut rxs: Vec<C::Rx> = (1..consumers)
        .map(|_| C::clone_rx(&rx).expect("only MPMC channels get several consumers"))
        .collect();
    rxs.push(rx);
    let go = Barrier::new(producers + consumers);
    thread::scope(|s| {
        let go = &go;
        let receivers: Vec<_> = rxs
            .into_iter()
            .map(|mut rx| {
                s.spawn(move || {
                    go.wait();
                    let (mut count, mut sum) = (0u64, 0u64);
                    while let Some(v) = C::recv(&mut rx) {
                        count += 1;
                        sum = sum.wrapping_add(v);
                    }
                    let end = Instant::now();
                    Received { count, sum, end }
                })
            })
            .collect();
        let senders: Vec<_> = (0..producers)
            .map(|k| {
                let tx = tx.clone();
                s.spawn(move || {
                    go.wait();
                    let start = Instant::now();
                    for v in share(k, producers, n) {
                        C::send(&tx, v);
                    }
                    start
                })
            })
            .collect();
        drop(tx); // the producers hold the only senders now
        let starts: Vec<_> = senders
            .into_iter()
            .map(|t| t.join().expect("a producer does not panic"))
            .collect();
        let parts: Vec<_> = receivers
            .into_iter()
            .map(|t| t.join().expect("a consumer does not panic"))
            .collect();
        span(&starts, &parts, n)
    })
}

fn channel_blocking(h: &mut Harness, producers: usize, consumers: usize) {
    let name = format!("std.channel.blocking.{producers}p{consumers}c");
    let title = format!(
        "channel throughput, blocking send/recv, {producers} producer(s) → {consumers} consumer(s), \
         capacity {CAP}, u64"
    );
    let mut group = h
        .group(&name, &title)
        .note(
            "threads spawned per batch, released together by a barrier; timed from the first \
             producer's start until the last consumer has seen the channel disconnect. \
             ns/op = per item",
        )
        .baseline_timed("crossbeam-channel bounded", move |n| {
            at_least_min_items(n, |n| pump_blocking::<Crossbeam>(producers, consumers, n))
        });
    if consumers == 1 {
        group = group.line_timed("std mpsc sync_channel", move |n| {
            at_least_min_items(n, |n| pump_blocking::<StdMpsc>(producers, consumers, n))
        });
    }
    group
        .line_timed("flume bounded", move |n| {
            at_least_min_items(n, |n| pump_blocking::<Flume>(producers, consumers, n))
        })
        .line_timed(
            "evlatch channel::bounded, capacity CAP - 1 (gated)",
            move |n| {
                at_least_min_items(n, |n| {
                    pump_blocking::<EvlatchGated>(producers, consumers, n)
                })
            },
        )
        .line_timed("evlatch channel::bounded", move |n| {
            at_least_min_items(n, |n| pump_blocking::<Evlatch>(producers, consumers, n))
        })
        .goal(1.0)
        .run();
}

/// A bounded channel of `u64` with async operations.
trait AsyncChan {
    type Tx: Clone + Send + Sync + 'static;
    type Rx: Send + 'static;
    fn bounded(cap: usize) -> (Self::Tx, Self::Rx);
    fn send(tx: &Self::Tx, v: u64) -> impl Future<Output = ()> + Send + '_;
    /// `None` once every sender is gone and the channel is drained.
    fn recv(rx: &mut Self::Rx) -> impl Future<Output = Option<u64>> + Send + '_;
    /// Another receiver, for channels with more than one consumer.
    fn clone_rx(rx: &Self::Rx) -> Option<Self::Rx>;
}

struct TokioMpsc;

impl AsyncChan for TokioMpsc {
    type Tx = tokio::sync::mpsc::Sender<u64>;
    type Rx = tokio::sync::mpsc::Receiver<u64>;
    fn bounded(cap: usize) -> (Self::Tx, Self::Rx) {
        tokio::sync::mpsc::channel(cap)
    }
    async fn send(tx: &Self::Tx, v: u64) {
        tx.send(v)
            .await
            .expect("the consumer outlives the producers");
    }
    async fn recv(rx: &mut Self::Rx) -> Option<u64> {
        rx.recv().await
    }
    fn clone_rx(_: &Self::Rx) -> Option<Self::Rx> {
        None // tokio's mpsc has a single consumer
    }
}

impl AsyncChan for Flume {
    type Tx = flume::Sender<u64>;
    type Rx = flume::Receiver<u64>;
    fn bounded(cap: usize) -> (Self::Tx, Self::Rx) {
        flume::bounded(cap)
    }
    async fn send(tx: &Self::Tx, v: u64) {
        tx.send_async(v)
            .await
            .expect("the consumers outlive the producers");
    }
    async fn recv(rx: &mut Self::Rx) -> Option<u64> {
        rx.recv_async().await.ok()
    }
    fn clone_rx(rx: &Self::Rx) -> Option<Self::Rx> {
        Some(rx.clone())
    }
}

impl AsyncChan for Evlatch {
    type Tx = evlatch_std::channel::Sender<u64>;
    type Rx = evlatch_std::channel::Receiver<u64>;
    fn bounded(cap: usize) -> (Self::Tx, Self::Rx) {
        <Evlatch as BlockingChan>::bounded(cap)
    }
    async fn send(tx: &Self::Tx, v: u64) {
        tx.send_async(v)
            .await
            .expect("the consumers outlive the producers");
    }
    async fn recv(rx: &mut Self::Rx) -> Option<u64> {
        rx.recv_async().await.ok()
    }
    fn clone_rx(rx: &Self::Rx) -> Option<Self::Rx> {
        Some(rx.clone())
    }
}

/// [`pump_blocking`] with tasks on `rt`; the time runs from the first
/// producer task's first poll to the last consumer's end (see [`span`]).
fn pump_async<C: AsyncChan>(rt: &Runtime, producers: usize, consumers: usize, n: u64) -> Duration {
    let (tx, rx) = C::bounded(CAP);
    let mut rxs: Vec<C::Rx> = (1..consumers)
        .map(|_| C::clone_rx(&rx).expect("only MPMC channels get several consumers"))
        .collect();
    rxs.push(rx);
    let (starts, parts) = rt.block_on(async move {
        let receivers: Vec<_> = rxs
            .into_iter()
            .map(|mut rx| {
                tokio::spawn(async move {
                    let (mut count, mut sum) = (0u64, 0u64);
                    while let Some(v) = C::recv(&mut rx).await {
                        count += 1;
                        sum = sum.wrapping_add(v);
                    }
                    let end = Instant::now();
                    Received { count, sum, end }
                })
            })
            .collect();
        let senders: Vec<_> = (0..producers)
            .map(|k| {
                let tx = tx.clone();
                tokio::spawn(async move {
                    let start = Instant::now();
                    for v in share(k, producers, n) {
                        C::send(&tx, v).await;
                    }
                    start
                })
            })
            .collect();
        drop(tx);
        let (mut starts, mut parts) = (Vec::new(), Vec::new());
        for t in senders {
            starts.push(t.await.expect("a producer does not panic"));
        }
        for t in receivers {
            parts.push(t.await.expect("a consumer does not panic"));
        }
        (starts, parts)
    });
    span(&starts, &parts, n)
}

fn channel_async(h: &mut Harness, producers: usize, consumers: usize) {
    let name = format!("std.channel.async.{producers}p{consumers}c");
    if !h.selects(&name) {
        return; // spares starting the runtime's worker threads
    }
    let rt = multi_thread();
    let title = format!(
        "channel throughput, async send/recv, {producers} producer task(s) → {consumers} consumer \
         task(s) on a tokio multi-thread runtime ({} workers), capacity {CAP}, u64",
        workers()
    );
    let mut group = h.group(&name, &title).note(
        "tasks spawned per batch; timed from the first producer's first poll until the \
         last consumer has seen the channel disconnect. ns/op = per item",
    );
    // tokio's mpsc has one consumer: with several, flume (MPMC, async) is
    // the baseline.
    group = if consumers == 1 {
        group
            .baseline_timed("tokio mpsc channel", |n| {
                at_least_min_items(n, |n| pump_async::<TokioMpsc>(&rt, producers, consumers, n))
            })
            .line_timed("flume bounded send_async/recv_async", |n| {
                at_least_min_items(n, |n| pump_async::<Flume>(&rt, producers, consumers, n))
            })
    } else {
        group.baseline_timed("flume bounded send_async/recv_async", |n| {
            at_least_min_items(n, |n| pump_async::<Flume>(&rt, producers, consumers, n))
        })
    };
    group
        .line_timed("evlatch send_async/recv_async", |n| {
            at_least_min_items(n, |n| pump_async::<Evlatch>(&rt, producers, consumers, n))
        })
        .goal(1.0)
        .run();
}
