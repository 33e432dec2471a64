//! Lines for the event service (`evlatch_std::service`): publish → deliver
//! throughput on one topic, and fan-out of each event to 100 subscribers,
//! against `tokio::sync::broadcast`.
//!
//! Every line runs the same structure. A batch of `n` events runs in
//! *chunks* of at most the queue capacity; in each chunk one thread
//! publishes while the subscribers consume concurrently, and the chunk ends
//! when every subscriber has every event of it. Queues start each chunk
//! empty and hold a whole chunk, so nothing is ever dropped (checked: a lag
//! panics) and every line does the same work. One op = one event published
//! and delivered to every subscriber.
//!
//! The payloads are what each library is used with: `broadcast` sends a
//! small `Clone` struct (topic `&'static str` + `u64`); the service builds a
//! [`Message`] with one `i64` body field, validates the topic, stamps the
//! publisher id into the header, matches the topic against the subscription
//! index, and delivers one shared `Arc<Delivery>`.

use core::sync::atomic::{AtomicU64, Ordering};
use core::time::Duration;
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::Instant;

use evlatch_std::service::{
    EventService, Message, Mode, Publisher, SubscribeOptions, Subscription, SubscriptionRecvError,
};
use tokio::runtime::Runtime;
use tokio::sync::broadcast;

use crate::harness::Harness;

/// Events per chunk and queue capacity of the one-subscriber group.
const CHUNK: usize = 1 << 14;
/// Events per chunk and queue capacity of the fan-out group.
const FAN_CHUNK: usize = 1 << 10;
/// Subscribers of the fan-out group.
const FAN_OUT: usize = 100;
/// The fewest events a batch publishes: a chunk has fixed costs (a thread
/// spawned, tasks spawned, the last wake-ups); smaller requests run this
/// many and report the time scaled to the events asked for.
const MIN_EVENTS: u64 = 2 * CHUNK as u64;
const FAN_MIN_EVENTS: u64 = 4 * FAN_CHUNK as u64;

const TOPIC: &str = "bench.tick";

/// What `broadcast` carries: the same information as the service's event.
#[derive(Clone, Copy, Debug)]
struct Tick {
    topic: &'static str,
    seq: u64,
}

/// Registers the service groups.
pub fn register(h: &mut Harness) {
    throughput(h);
    fan_out(h);
}

/// Runs `chunk(k)` over chunks of at most `max_chunk` covering at least
/// `min` events; returns the time scaled to `n` events.
fn chunked(n: u64, min: u64, max_chunk: usize, mut chunk: impl FnMut(u64)) -> Duration {
    let total = n.max(min);
    let start = Instant::now();
    let mut left = total;
    while left > 0 {
        let k = left.min(max_chunk as u64);
        chunk(k);
        left -= k;
    }
    start.elapsed().mul_f64(n as f64 / total as f64)
}

fn message(seq: u64) -> Message {
    Message::new().with_body("seq", seq as i64)
}

/// Receives `k` events from a service subscription, asserting none lagged.
fn pull(sub: &Subscription, k: u64) {
    for _ in 0..k {
        match sub.recv() {
            Ok(_) => {}
            Err(SubscriptionRecvError::Lagged(n)) => {
                panic!("bench queue overflowed: {n} events dropped")
            }
            Err(e) => panic!("bench subscription: {e}"),
        }
    }
}

/// Publishes `k` events on another thread while this one receives them.
fn publish_then_pull(publisher: &Publisher, sub: &Subscription, k: u64) {
    thread::scope(|s| {
        s.spawn(|| {
            for seq in 0..k {
                publisher.publish(TOPIC, message(seq)).expect("publish");
            }
        });
        pull(sub, k);
    });
}

/// Counts listener calls and wakes a waiter when the count reaches a target.
#[derive(Default)]
struct Countdown {
    count: AtomicU64,
    target: AtomicU64,
    done: Mutex<bool>,
    cv: Condvar,
}

impl Countdown {
    /// Called by listeners: one more delivery.
    fn hit(&self) {
        let c = self.count.fetch_add(1, Ordering::AcqRel) + 1;
        if c == self.target.load(Ordering::Acquire) {
            *self.done.lock().expect("no panics while locked") = true;
            self.cv.notify_one();
        }
    }

    /// Arms for `more` deliveries past the current count.
    fn arm(&self, more: u64) {
        *self.done.lock().expect("no panics while locked") = false;
        let now = self.count.load(Ordering::Acquire);
        self.target.store(now + more, Ordering::Release);
    }

    fn wait(&self) {
        let mut done = self.done.lock().expect("no panics while locked");
        while !*done {
            done = self.cv.wait(done).expect("no panics while locked");
        }
    }
}

fn service(mode: Mode, capacity: usize) -> EventService {
    EventService::builder()
        .mode(mode)
        .queue_capacity(capacity)
        .build()
        .expect("the bench service builds")
}

fn options(capacity: usize) -> SubscribeOptions {
    SubscribeOptions::new().capacity(capacity)
}

/// One publisher, one subscriber, one topic.
fn throughput(h: &mut Harness) {
    let (btx, mut brx) = broadcast::channel::<Tick>(CHUNK);

    let async_pull = service(Mode::Asynchronous { dispatchers: 1 }, CHUNK);
    let async_pull_sub = async_pull
        .subscriber()
        .subscribe_with(TOPIC, options(CHUNK))
        .expect("bench subscription");
    let async_pull_pub = async_pull.publisher();

    let sync_pull = service(Mode::Synchronous, CHUNK);
    let sync_pull_sub = sync_pull
        .subscriber()
        .subscribe_with(TOPIC, options(CHUNK))
        .expect("bench subscription");
    let sync_pull_pub = sync_pull.publisher();

    let async_listen = service(Mode::Asynchronous { dispatchers: 1 }, CHUNK);
    let async_listen_sub = async_listen
        .subscriber()
        .subscribe_with(TOPIC, options(CHUNK))
        .expect("bench subscription");
    let countdown = Arc::new(Countdown::default());
    let c = countdown.clone();
    async_listen_sub.add_listener(move |_| c.hit());
    let async_listen_pub = async_listen.publisher();

    let direct_pull = service(Mode::Direct, CHUNK);
    let direct_pull_sub = direct_pull
        .subscriber()
        .subscribe_with(TOPIC, options(CHUNK))
        .expect("bench subscription");
    let direct_pull_pub = direct_pull.publisher();

    let direct_listen = service(Mode::Direct, CHUNK);
    let direct_listen_sub = direct_listen
        .subscriber()
        .subscribe_with(TOPIC, options(CHUNK))
        .expect("bench subscription");
    let direct_count = Arc::new(AtomicU64::new(0));
    let c = direct_count.clone();
    direct_listen_sub.add_listener(move |_| {
        c.fetch_add(1, Ordering::Relaxed);
    });
    let direct_listen_pub = direct_listen.publisher();

    let (ltx, lrx) = evlatch_std::channel::bounded::<Tick>(CHUNK).expect("bench channel");

    h.group(
        "service.throughput",
        "publish → deliver, one topic, one publisher thread, one subscriber",
    )
    .note(
        "chunks of 16384 events, queues of 16384 (nothing dropped); broadcast: \
         send(Tick) / blocking_recv on another thread; service: publish(Message with one \
         i64 field) / recv, or a listener; floor: the bare evlatch channel under the service",
    )
    .baseline_timed("tokio broadcast", |n| {
        chunked(n, MIN_EVENTS, CHUNK, |k| {
            thread::scope(|s| {
                s.spawn(|| {
                    for seq in 0..k {
                        btx.send(Tick { topic: TOPIC, seq }).expect("a receiver");
                    }
                });
                for _ in 0..k {
                    match brx.blocking_recv() {
                        Ok(t) => {
                            core::hint::black_box((t.topic, t.seq));
                        }
                        Err(e) => panic!("broadcast: {e}"),
                    }
                }
            });
        })
    })
    .line_timed("floor: evlatch channel::bounded(Tick)", |n| {
        chunked(n, MIN_EVENTS, CHUNK, |k| {
            thread::scope(|s| {
                s.spawn(|| {
                    for seq in 0..k {
                        ltx.send(Tick { topic: TOPIC, seq }).expect("a receiver");
                    }
                });
                for _ in 0..k {
                    let t = lrx.recv().expect("a sender");
                    core::hint::black_box((t.topic, t.seq));
                }
            });
        })
    })
    .line_timed("service async(1) → recv", |n| {
        chunked(n, MIN_EVENTS, CHUNK, |k| {
            publish_then_pull(&async_pull_pub, &async_pull_sub, k)
        })
    })
    .line_timed("service async(1) → listener", |n| {
        chunked(n, MIN_EVENTS, CHUNK, |k| {
            countdown.arm(k);
            for seq in 0..k {
                async_listen_pub
                    .publish(TOPIC, message(seq))
                    .expect("publish");
            }
            countdown.wait();
        })
    })
    .line_timed("service direct → recv", |n| {
        chunked(n, MIN_EVENTS, CHUNK, |k| {
            publish_then_pull(&direct_pull_pub, &direct_pull_sub, k)
        })
    })
    .line_timed("service direct → listener", |n| {
        chunked(n, MIN_EVENTS, CHUNK, |k| {
            let before = direct_count.load(Ordering::Relaxed);
            for seq in 0..k {
                direct_listen_pub
                    .publish(TOPIC, message(seq))
                    .expect("publish");
            }
            // Delivered before each publish returned.
            assert_eq!(direct_count.load(Ordering::Relaxed) - before, k);
        })
    })
    .line_timed("service sync, process_events → recv", |n| {
        chunked(n, MIN_EVENTS, CHUNK, |k| {
            thread::scope(|s| {
                s.spawn(|| {
                    for seq in 0..k {
                        sync_pull_pub.publish(TOPIC, message(seq)).expect("publish");
                    }
                });
                let mut got = 0;
                while got < k {
                    sync_pull.process_events().expect("no Block subscription");
                    got += sync_pull_sub.try_iter().count() as u64;
                }
                assert_eq!(sync_pull_sub.stats().dropped, 0, "bench queue overflowed");
            });
        })
    })
    .run();
}

/// One publisher, 100 subscribers of the same topic.
fn fan_out(h: &mut Harness) {
    let rt = multi_thread();

    // Receivers are made per chunk, before its first send.
    let (btx, _) = broadcast::channel::<Tick>(FAN_CHUNK);

    let tasks = service(Mode::Asynchronous { dispatchers: 1 }, FAN_CHUNK);
    let task_subs: Vec<Arc<Subscription>> = (0..FAN_OUT)
        .map(|_| {
            Arc::new(
                tasks
                    .subscriber()
                    .subscribe_with(TOPIC, options(FAN_CHUNK))
                    .expect("bench subscription"),
            )
        })
        .collect();
    let tasks_pub = tasks.publisher();

    let listen = service(Mode::Asynchronous { dispatchers: 1 }, FAN_CHUNK);
    let countdown = Arc::new(Countdown::default());
    let listen_subs: Vec<Subscription> = (0..FAN_OUT)
        .map(|_| {
            let sub = listen
                .subscriber()
                .subscribe_with(TOPIC, options(FAN_CHUNK))
                .expect("bench subscription");
            let c = countdown.clone();
            sub.add_listener(move |_| c.hit());
            sub
        })
        .collect();
    let listen_pub = listen.publisher();

    let sync = service(Mode::Synchronous, FAN_CHUNK);
    let sync_count = Arc::new(AtomicU64::new(0));
    let sync_subs: Vec<Subscription> = (0..FAN_OUT)
        .map(|_| {
            let sub = sync
                .subscriber()
                .subscribe_with(TOPIC, options(FAN_CHUNK))
                .expect("bench subscription");
            let c = sync_count.clone();
            sub.add_listener(move |_| {
                c.fetch_add(1, Ordering::Relaxed);
            });
            sub
        })
        .collect();
    let sync_pub = sync.publisher();

    h.group(
        "service.fanout",
        "one publisher, 100 subscribers of one topic: ns per event delivered to all 100",
    )
    .note(
        "chunks of 1024 events, queues of 1024 (nothing dropped); tasks: 100 tokio tasks on a \
         multi-thread runtime (one worker per core), each receiving the chunk, spawned per \
         chunk; listeners: 100 subscriptions with a counting listener, called by the \
         dispatcher (async) or by process_events on the publishing thread (sync)",
    )
    .baseline_timed("tokio broadcast → 100 tasks", |n| {
        chunked(n, FAN_MIN_EVENTS, FAN_CHUNK, |k| {
            let receivers: Vec<_> = (0..FAN_OUT).map(|_| btx.subscribe()).collect();
            rt.block_on(async {
                let handles: Vec<_> = receivers
                    .into_iter()
                    .map(|mut rx| {
                        tokio::spawn(async move {
                            for _ in 0..k {
                                match rx.recv().await {
                                    Ok(t) => {
                                        core::hint::black_box((t.topic, t.seq));
                                    }
                                    Err(e) => panic!("broadcast: {e}"),
                                }
                            }
                        })
                    })
                    .collect();
                for seq in 0..k {
                    btx.send(Tick { topic: TOPIC, seq }).expect("receivers");
                }
                for h in handles {
                    h.await.expect("a receiver task");
                }
            });
        })
    })
    .line_timed("service async(1) → 100 tasks (recv_async)", |n| {
        chunked(n, FAN_MIN_EVENTS, FAN_CHUNK, |k| {
            rt.block_on(async {
                let handles: Vec<_> = task_subs
                    .iter()
                    .map(|sub| {
                        let sub = sub.clone();
                        tokio::spawn(async move {
                            for _ in 0..k {
                                match sub.recv_async().await {
                                    Ok(e) => {
                                        core::hint::black_box(e.topic().len());
                                    }
                                    Err(e) => panic!("bench subscription: {e}"),
                                }
                            }
                        })
                    })
                    .collect();
                for seq in 0..k {
                    tasks_pub.publish(TOPIC, message(seq)).expect("publish");
                }
                for h in handles {
                    h.await.expect("a receiver task");
                }
            });
        })
    })
    .line_timed("service async(1) → 100 listeners", |n| {
        chunked(n, FAN_MIN_EVENTS, FAN_CHUNK, |k| {
            countdown.arm(k * FAN_OUT as u64);
            for seq in 0..k {
                listen_pub.publish(TOPIC, message(seq)).expect("publish");
            }
            countdown.wait();
        })
    })
    .line_timed("service sync → 100 listeners", |n| {
        chunked(n, FAN_MIN_EVENTS, FAN_CHUNK, |k| {
            let before = sync_count.load(Ordering::Relaxed);
            for seq in 0..k {
                sync_pub.publish(TOPIC, message(seq)).expect("publish");
            }
            sync.process_events().expect("no Block subscription");
            let delivered = sync_count.load(Ordering::Relaxed) - before;
            assert_eq!(
                delivered,
                k * FAN_OUT as u64,
                "every listener got every event"
            );
        })
    })
    .run();
    drop((listen_subs, sync_subs));
}

/// A multi-thread runtime with one worker per core.
fn multi_thread() -> Runtime {
    let workers = thread::available_parallelism().map_or(2, |n| n.get());
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .build()
        .expect("a multi-thread runtime")
}
