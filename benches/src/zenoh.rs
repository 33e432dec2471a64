//! Lines for the event service over zenoh (`evlatch_std::zenoh`, bench
//! feature `zenoh`): the bridge against raw zenoh `put` / subscriber
//! callback, on the same two loopback peers in this process and the same
//! payload size.
//!
//! Each bridge group has two lines, one per service mode on both peers:
//! asynchronous services (each side adds a dispatcher hop) and direct ones
//! (a publish runs the export listener — encode, put — on the publishing
//! thread, and zenoh's callback publishes an import and runs its listeners
//! on zenoh's thread: no hand-off besides zenoh's own). Each pair of bridges
//! uses its own key root, so neither sees the other's events.
//!
//! - `zenoh.throughput`: one op = one event put on peer A and seen by a
//!   callback (raw) or a subscription listener (bridge) on peer B. Both use
//!   zenoh's `Block` congestion control, so nothing is dropped (checked: a
//!   drop or a 10 s stall panics).
//! - `zenoh.rtt`: one op = one round trip A → B → A (B answers from its
//!   callback / listener). The group's note also gives p50/p99 of single
//!   round trips, measured before the timed rounds.
//! - `zenoh.exchange`: the worker exchange across two processes (each one
//!   worker) against timely_communication 0.29's `Config::Cluster` (TCP)
//!   on loopback, with the workload of `exchange.all_to_all`: every round,
//!   each worker sends a 256-record u64 batch to each worker and receives
//!   its round's records. The two "processes" are two zenoh sessions
//!   (evlatch) / two `Config::Cluster` instances (timely) in this bench
//!   process, each on its own threads; one op = one record received by one
//!   worker. Each worker times its rounds after one untimed warm-up round
//!   (so start-up and connecting are not measured); the slower one counts.

use core::sync::atomic::{AtomicU64, Ordering};
use core::time::Duration;
use std::net::TcpListener;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

use evlatch_std::channel;
use evlatch_std::service::{EventService, Message, Mode, Subscription};
use evlatch_std::zenoh::engine::qos::CongestionControl;
use evlatch_std::zenoh::engine::{self, Session, Wait};
use evlatch_std::zenoh::{self as ez, BridgeOptions, KeyMap, ServiceBridge};

use crate::harness::Harness;

/// The longest any wait here takes before the bench gives up.
const STALL: Duration = Duration::from_secs(10);
/// Events in flight at most (the import channel holds them all).
const CHUNK: u64 = 1 << 14;

/// Registers the zenoh groups (only if one is selected: they open sockets).
pub fn register(h: &mut Harness) {
    exchange(h);
    if !h.selects("zenoh.throughput") && !h.selects("zenoh.rtt") {
        return;
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port();
    let endpoint = format!("tcp/127.0.0.1:{port}");
    let sa = open(&[&endpoint], &[]);
    let sb = open(&[], &[&endpoint]);
    let deadline = Instant::now() + STALL;
    while sb.info().peers_zid().wait().next().is_none() {
        assert!(Instant::now() < deadline, "the bench peers did not connect");
        std::thread::sleep(Duration::from_millis(5));
    }
    throughput(h, &sa, &sb);
    rtt(h, &sa, &sb);
}

fn open(listen: &[&str], connect: &[&str]) -> Session {
    engine::open(ez::peer_config(listen, connect).expect("peer config"))
        .wait()
        .expect("zenoh session")
}

/// Counts deliveries; a waiter waits for a target.
#[derive(Default)]
struct Countdown {
    count: AtomicU64,
    lock: Mutex<()>,
    cv: Condvar,
}

impl Countdown {
    fn hit(&self) {
        self.count.fetch_add(1, Ordering::AcqRel);
        let _g = self.lock.lock().expect("no panics while locked");
        self.cv.notify_one();
    }

    fn wait_for(&self, target: u64, what: &str) {
        let mut g = self.lock.lock().expect("no panics while locked");
        let deadline = Instant::now() + STALL;
        while self.count.load(Ordering::Acquire) < target {
            let left = deadline
                .checked_duration_since(Instant::now())
                .unwrap_or_else(|| panic!("{what}: stalled (events lost?)"));
            g = self.cv.wait_timeout(g, left).expect("no panics").0;
        }
    }
}

/// A bridge's service in `mode`.
fn bridge_service(mode: Mode) -> EventService {
    EventService::builder()
        .mode(mode)
        .queue_capacity(CHUNK as usize)
        .build()
        .expect("the bench service builds")
}

/// The two service modes the bridge lines run with, and the key root each
/// pair of bridges uses (distinct roots: one pair never sees the other's
/// events on the shared sessions).
const SETUPS: [(&str, Mode, &str); 2] = [
    (
        "asynchronous services",
        Mode::Asynchronous { dispatchers: 1 },
        "async",
    ),
    ("direct services", Mode::Direct, "direct"),
];

/// The bench bridges' options: keys under `root`, `Block` congestion
/// control (nothing dropped).
fn bench_options(root: &str) -> BridgeOptions {
    BridgeOptions::new()
        .keys(KeyMap::new(root).expect("a valid key root"))
        .block_when_congested(true)
}

/// One-way bridge lines: A exports `bench.*`, B imports it and a listener
/// on B counts.
struct OneWay {
    publisher: evlatch_std::service::Publisher,
    count: Arc<Countdown>,
    import: ServiceBridge,
    _keep: (ServiceBridge, Subscription, EventService, EventService),
}

impl OneWay {
    fn new(sa: &Session, sb: &Session, mode: Mode, root: &str) -> Self {
        let (a, b) = (bridge_service(mode), bridge_service(mode));
        let options = || bench_options(root);
        let export = ServiceBridge::attach(&a, sa, options().export("bench.*").expect("pattern"))
            .expect("bridge A");
        let import = ServiceBridge::attach(
            &b,
            sb,
            options()
                .import("bench.*")
                .expect("pattern")
                .import_capacity(2 * CHUNK as usize),
        )
        .expect("bridge B");
        let count = Arc::new(Countdown::default());
        let c = count.clone();
        let sub = b
            .subscriber()
            .subscribe("bench.tick")
            .expect("subscription");
        sub.add_listener(move |_| c.hit());
        OneWay {
            publisher: a.publisher(),
            count,
            import,
            _keep: (export, sub, a, b),
        }
    }

    fn arrived(&self) -> bool {
        self.count.count.load(Ordering::Acquire) > 0
    }

    fn publish(&self, seq: u64) {
        self.publisher
            .publish("bench.tick", Message::new().with_body("seq", seq as i64))
            .expect("publish");
    }

    /// `n` events through the bridge, in chunks the import channel holds.
    fn run(&self, n: u64) {
        let mut left = n;
        while left > 0 {
            let k = left.min(CHUNK);
            let target = self.count.count.load(Ordering::Acquire) + k;
            for i in 0..k {
                self.publish(i);
            }
            let dropped = self.import.stats().dropped;
            assert_eq!(dropped, 0, "the bench bridge dropped events");
            self.count.wait_for(target, "bridge throughput");
            left -= k;
        }
    }
}

fn throughput(h: &mut Harness, sa: &Session, sb: &Session) {
    // Raw: a callback on B counts.
    let raw_count = Arc::new(Countdown::default());
    let c = raw_count.clone();
    let _raw_sub = sb
        .declare_subscriber("rawbench/tick")
        .callback(move |_| c.hit())
        .wait()
        .expect("raw subscriber");
    // The bridge payload of a one-field message is about this size.
    let payload = vec![7_u8; 46];
    let bridges: Vec<OneWay> = SETUPS
        .iter()
        .map(|&(_, mode, root)| OneWay::new(sa, sb, mode, root))
        .collect();

    // Warm up until every route exists.
    let deadline = Instant::now() + STALL;
    while raw_count.count.load(Ordering::Acquire) == 0 || !bridges.iter().all(OneWay::arrived) {
        assert!(
            Instant::now() < deadline,
            "zenoh bench routes never came up"
        );
        sa.put("rawbench/tick", payload.clone())
            .wait()
            .expect("put");
        for bridge in &bridges {
            bridge.publish(0);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(50));

    let mut group = h
        .group(
            "zenoh.throughput",
            "A → B over loopback zenoh peers: put → subscriber callback vs service publish → bridge → listener",
        )
        .note(
            "same two sessions and link; raw: session.put(46-byte payload, Block) / callback; \
             bridge: publish(Message with one i64 field) → export listener → put (Block) → \
             import callback → try_publish → B's listener; asynchronous services add a \
             dispatcher hop on each side, direct ones run the listeners on the publishing \
             thread and on zenoh's",
        )
        .baseline("raw zenoh put/callback", |n| {
            let mut left = n;
            while left > 0 {
                let k = left.min(CHUNK);
                let target = raw_count.count.load(Ordering::Acquire) + k;
                for _ in 0..k {
                    sa.put("rawbench/tick", payload.clone())
                        .congestion_control(CongestionControl::Block)
                        .wait()
                        .expect("put");
                }
                raw_count.wait_for(target, "raw zenoh throughput");
                left -= k;
            }
        });
    for (bridge, &(name, _, _)) in bridges.iter().zip(&SETUPS) {
        group = group
            .line(&format!("evlatch bridge, {name}"), |n| bridge.run(n))
            .goal(1.1);
    }
    group.run();
}

fn rtt(h: &mut Harness, sa: &Session, sb: &Session) {
    let payload = vec![7_u8; 46];
    // Raw: B answers each ping from its callback; A's callback forwards the
    // pong to this thread.
    let sb2 = sb.clone();
    let pong_payload = payload.clone();
    let _ping = sb
        .declare_subscriber("rawbench/ping")
        .callback(move |_| {
            let _ = sb2
                .put("rawbench/pong", pong_payload.clone())
                .congestion_control(CongestionControl::Block)
                .wait();
        })
        .wait()
        .expect("raw ping subscriber");
    let (tx, rx) = channel::bounded::<()>(16).expect("channel");
    let _pong = sa
        .declare_subscriber("rawbench/pong")
        .callback(move |_| {
            let _ = tx.try_send(());
        })
        .wait()
        .expect("raw pong subscriber");
    let raw_trip = || {
        sa.put("rawbench/ping", payload.clone())
            .congestion_control(CongestionControl::Block)
            .wait()
            .expect("put");
        rx.recv_timeout(STALL).expect("raw pong within 10 s");
    };

    let bridges: Vec<RoundTrip> = SETUPS
        .iter()
        .map(|&(_, mode, root)| RoundTrip::new(sa, sb, mode, root))
        .collect();

    // Warm up every route (a lost warm-up ping is retried).
    let deadline = Instant::now() + STALL;
    let mut up = vec![false; bridges.len()];
    let mut raw_up = false;
    while !raw_up || !up.iter().all(|&u| u) {
        assert!(
            Instant::now() < deadline,
            "zenoh bench ping routes never came up"
        );
        sa.put("rawbench/ping", payload.clone())
            .wait()
            .expect("put");
        for bridge in &bridges {
            bridge.ping();
        }
        std::thread::sleep(Duration::from_millis(20));
        raw_up |= rx.try_recv().is_ok();
        for (u, bridge) in up.iter_mut().zip(&bridges) {
            *u |= bridge.pong.try_recv().is_ok();
        }
    }
    std::thread::sleep(Duration::from_millis(50));
    while rx.try_recv().is_ok() {}
    for bridge in &bridges {
        while bridge.pong.try_recv().is_ok() {}
    }

    // Single round trips, interleaved, for the percentiles.
    let mut raw_us = Vec::new();
    let mut bridge_us = vec![Vec::new(); bridges.len()];
    for _ in 0..1000 {
        let t = Instant::now();
        raw_trip();
        raw_us.push(t.elapsed().as_secs_f64() * 1e6);
        for (us, bridge) in bridge_us.iter_mut().zip(&bridges) {
            let t = Instant::now();
            bridge.trip();
            us.push(t.elapsed().as_secs_f64() * 1e6);
        }
    }
    let (r50, r99) = percentiles(&mut raw_us);
    let mut note = format!(
        "one op = one round trip; 1000 single trips each, interleaved: raw p50 {r50:.1} µs \
         p99 {r99:.1} µs"
    );
    for (us, &(name, _, _)) in bridge_us.iter_mut().zip(&SETUPS) {
        let (b50, b99) = percentiles(us);
        note += &format!(
            "; bridge, {name}: p50 {b50:.1} µs p99 {b99:.1} µs (ratio p50 {:.2}, p99 {:.2})",
            b50 / r50,
            b99 / r99
        );
    }
    let mut group = h
        .group(
            "zenoh.rtt",
            "round trip A → B → A over loopback zenoh peers: raw put/callback vs the bridge",
        )
        .note(&note)
        .baseline("raw zenoh ping/pong", |n| {
            for _ in 0..n {
                raw_trip();
            }
        });
    for (bridge, &(name, _, _)) in bridges.iter().zip(&SETUPS) {
        group = group
            .line(&format!("evlatch bridge ping/pong, {name}"), |n| {
                for _ in 0..n {
                    bridge.trip();
                }
            })
            .goal(1.1);
    }
    group.run();
}

/// Round-trip bridge lines: A exports `ping.*` and imports `pong.*`, B the
/// other way; B's listener answers each ping with a pong.
struct RoundTrip {
    publisher: evlatch_std::service::Publisher,
    pong: Subscription,
    _keep: (
        ServiceBridge,
        ServiceBridge,
        Subscription,
        EventService,
        EventService,
    ),
}

impl RoundTrip {
    fn new(sa: &Session, sb: &Session, mode: Mode, root: &str) -> Self {
        let (a, b) = (bridge_service(mode), bridge_service(mode));
        let options = || bench_options(root);
        let ab = ServiceBridge::attach(
            &a,
            sa,
            options()
                .export("ping.*")
                .expect("p")
                .import("pong.*")
                .expect("p"),
        )
        .expect("bridge A");
        let bb = ServiceBridge::attach(
            &b,
            sb,
            options()
                .import("ping.*")
                .expect("p")
                .export("pong.*")
                .expect("p"),
        )
        .expect("bridge B");
        let answer = b.publisher();
        let ping_sub = b.subscriber().subscribe("ping.*").expect("subscription");
        ping_sub.add_listener(move |_| {
            let _ = answer.publish("pong.x", Message::new().with_body("seq", 0_i64));
        });
        let pong = a.subscriber().subscribe("pong.*").expect("subscription");
        RoundTrip {
            publisher: a.publisher(),
            pong,
            _keep: (ab, bb, ping_sub, a, b),
        }
    }

    fn ping(&self) {
        self.publisher
            .publish("ping.x", Message::new().with_body("seq", 0_i64))
            .expect("publish");
    }

    fn trip(&self) {
        self.ping();
        self.pong
            .recv_timeout(STALL)
            .expect("bridge pong within 10 s");
    }
}

fn percentiles(v: &mut [f64]) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((v.len() as f64 - 1.0) * q).round() as usize];
    (at(0.5), at(0.99))
}

// ---------------------------------------------------------------------------
// The exchange across two processes

use crate::exchange::{timely_round, Records};
use evlatch_std::zenoh::exchange::{self as zx, ClusterConfig};
use timely_communication::Allocator;

/// Records per batch per pair per round (as `exchange.all_to_all`).
const XBATCH: usize = 256;
/// The fewest records per worker one timed run moves (setup amortized).
const XMIN_RECORDS: u64 = 1 << 17;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// One timely worker's rounds after one untimed warm-up round (every
/// peer connected); returns the records of the timed rounds and their time.
fn timely_rounds(alloc: &mut Allocator, rounds: usize) -> (u64, Duration) {
    let (mut senders, mut receiver) = alloc.allocate::<Records>(0);
    let expected = XBATCH * alloc.peers();
    let mut counts = (0, 0);
    let mut start = Instant::now();
    for round in 0..=rounds as u64 {
        if round == 1 {
            start = Instant::now();
        }
        timely_round(
            alloc,
            (&mut senders, &mut receiver),
            XBATCH,
            round,
            &mut counts,
            |alloc| {
                alloc.events().borrow_mut().clear();
                alloc.await_events(Some(Duration::from_millis(1)));
            },
        );
    }
    let cur = counts.0;
    let elapsed = start.elapsed();
    assert_eq!(cur, 0, "timely: records after the last round");
    ((rounds * expected) as u64, elapsed)
}

/// timely's cluster of two processes (one worker each) on loopback.
fn timely_cluster(rounds: usize) -> Vec<(u64, Duration)> {
    let addresses = vec![
        format!("127.0.0.1:{}", free_port()),
        format!("127.0.0.1:{}", free_port()),
    ];
    let procs: Vec<_> = (0..2)
        .map(|process| {
            let addresses = addresses.clone();
            // Process 0 listens first (spares process 1 a 1 s connect retry).
            std::thread::sleep(Duration::from_millis(100 * process as u64));
            std::thread::spawn(move || {
                let config = timely_communication::Config::Cluster {
                    threads: 1,
                    process,
                    addresses,
                    report: false,
                    zerocopy: false,
                    log_fn: Arc::new(|_| None),
                };
                let guards = timely_communication::initialize(config, move |mut alloc| {
                    timely_rounds(&mut alloc, rounds)
                })
                .expect("timely cluster starts");
                guards
                    .join()
                    .into_iter()
                    .map(|r| r.expect("timely worker"))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    procs
        .into_iter()
        .flat_map(|p| p.join().expect("timely process"))
        .collect()
}

/// One evlatch cluster worker's rounds, after one untimed warm-up round.
fn evlatch_rounds(mut w: zx::ClusterWorker, rounds: usize) -> (u64, Duration) {
    // A peer is at most one round ahead: two rounds never block.
    let (mut senders, mut receiver) = w.allocate_bounded::<u64>(0, 2 * XBATCH).expect("allocate");
    let expected = XBATCH * w.peers();
    let mut batch = Vec::with_capacity(XBATCH);
    let mut inbox = Vec::with_capacity(2 * expected);
    let (mut cur, mut next) = (0, 0);
    let mut start = Instant::now();
    for round in 0..=rounds as u64 {
        if round == 1 {
            start = Instant::now();
        }
        for s in senders.iter_mut() {
            batch.resize(XBATCH, round);
            s.send_batch(&mut batch).expect("peers receive every round");
        }
        while cur < expected {
            receiver
                .recv_batch(&mut inbox, 2 * expected)
                .expect("peers send every round");
            for v in inbox.drain(..) {
                if v == round {
                    cur += 1;
                } else {
                    next += 1;
                }
            }
        }
        (cur, next) = (next, 0);
    }
    let elapsed = start.elapsed();
    assert_eq!(cur, 0, "evlatch: records after the last round");
    ((rounds * expected) as u64, elapsed)
}

/// evlatch's cluster of two processes (one worker each): two zenoh
/// sessions, linked once; a fresh job per run.
fn evlatch_cluster(sessions: &(Session, Session), run: u64, rounds: usize) -> Vec<(u64, Duration)> {
    let job = format!("bench{run}");
    let start = |session: &Session, process| {
        zx::initialize(
            session,
            ClusterConfig::new(&job, process, 2, 1).expect("config"),
            move |w| evlatch_rounds(w, rounds),
        )
        .expect("evlatch cluster starts")
    };
    let (a, b) = (start(&sessions.0, 0), start(&sessions.1, 1));
    let mut got: Vec<(u64, Duration)> = a
        .join()
        .into_iter()
        .map(|r| r.expect("evlatch worker"))
        .collect();
    got.extend(b.join().into_iter().map(|r| r.expect("evlatch worker")));
    got
}

/// Runs `run(rounds)` for at least [`XMIN_RECORDS`] records per worker and
/// scales the slower worker's time of its timed rounds to `iters` records.
fn cluster_batch(iters: u64, run: impl FnOnce(usize) -> Vec<(u64, Duration)>) -> Duration {
    let per_round = (XBATCH * 2) as u64;
    let records = iters.max(XMIN_RECORDS);
    let rounds = records.div_ceil(per_round) as usize;
    let got = run(rounds);
    assert!(
        got.iter().all(|&(g, _)| g == rounds as u64 * per_round),
        "records lost: {got:?}"
    );
    let elapsed = got.iter().map(|&(_, d)| d).max().expect("two workers");
    elapsed.mul_f64(iters as f64 / (rounds as u64 * per_round) as f64)
}

fn exchange(h: &mut Harness) {
    if !h.selects("zenoh.exchange") {
        return;
    }
    let endpoint = format!("tcp/127.0.0.1:{}", free_port());
    let sessions = (open(&[&endpoint], &[]), open(&[], &[&endpoint]));
    let deadline = Instant::now() + STALL;
    while sessions.1.info().peers_zid().wait().next().is_none() {
        assert!(Instant::now() < deadline, "the bench peers did not connect");
        std::thread::sleep(Duration::from_millis(5));
    }
    let runs = AtomicU64::new(0);
    h.group(
        "zenoh.exchange",
        &format!(
            "2 processes x 1 worker all-to-all over loopback TCP, {XBATCH}-record u64 batches per pair per round; op = one record received by one worker"
        ),
    )
    .baseline_timed("timely_communication Cluster (TCP)", |iters| {
        cluster_batch(iters, timely_cluster)
    })
    .line_timed("evlatch zenoh cluster", |iters| {
        let run = runs.fetch_add(1, Ordering::Relaxed);
        cluster_batch(iters, |rounds| evlatch_cluster(&sessions, run, rounds))
    })
    .goal(1.0)
    .note("timed per worker after one warm-up round (start-up and connecting excluded), the slower worker counts; at least 2^17 records per worker per run")
    .run();
}
