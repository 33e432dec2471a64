//! The zenoh bridge over loopback: two zenoh peers in this process (peer
//! mode, multicast scouting off, `tcp/127.0.0.1:<port from binding port 0>`),
//! each with its own event service. Every wait is bounded (`WAIT`).
//!
//! Run in release (scripts/test.sh): zenoh is built once, in that profile.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use evlatch_std::service::{sys, Delivery, EventService, Message, Priority, Subscription};
use evlatch_std::zenoh::engine::{Session, Wait};
use evlatch_std::zenoh::{
    BridgeError, BridgeOptions, ServiceBridge, ORIGIN_HEADER, REMOTE_PUBLISHER_HEADER,
};

#[path = "common/zenoh_peers.rs"]
mod zenoh_peers;

use zenoh_peers::{finished, free_endpoint, open};

/// The bound on every wait in these tests.
const WAIT: Duration = Duration::from_secs(10);

/// Two connected sessions: (listening, connecting), and the endpoint.
fn linked() -> (Session, Session, String) {
    zenoh_peers::linked(WAIT)
}

fn wait_until(what: &str, done: impl FnMut() -> bool) {
    zenoh_peers::wait_until(what, WAIT, done);
}

/// Publishes `topic` through `publisher` until `sub` receives an event of
/// that topic (remote subscriptions take a moment to reach the other side);
/// returns it. Other events received meanwhile are discarded.
fn publish_until_received(
    publisher: &evlatch_std::service::Publisher,
    topic: &str,
    sub: &Subscription,
) -> Arc<Delivery> {
    let deadline = Instant::now() + WAIT;
    loop {
        assert!(Instant::now() < deadline, "`{topic}` never arrived");
        publisher.publish(topic, Message::new()).unwrap();
        let until = Instant::now() + Duration::from_millis(50);
        while let Some(left) = until.checked_duration_since(Instant::now()) {
            match sub.recv_timeout(left) {
                Ok(e) if e.topic() == topic => return e,
                _ => {}
            }
        }
    }
}

fn recv(sub: &Subscription) -> Arc<Delivery> {
    sub.recv_timeout(WAIT).expect("an event within the bound")
}

fn options() -> BridgeOptions {
    BridgeOptions::new().block_when_congested(true)
}

#[test]
fn headers_bodies_priority_and_stamps_cross() {
    let (sa, sb, _) = linked();
    let (a, b) = (
        EventService::asynchronous(1).unwrap(),
        EventService::asynchronous(1).unwrap(),
    );
    let _ab = ServiceBridge::attach(&a, &sa, options().export("t.*").unwrap()).unwrap();
    let bb = ServiceBridge::attach(&b, &sb, options().import("t.*").unwrap()).unwrap();
    let sub = b.subscriber().subscribe("t.*").unwrap();
    let publisher = a.publisher();
    publish_until_received(&publisher, "t.warm", &sub);

    let message = Message::new()
        .with_header("trace", "abc-1")
        .with_header(ORIGIN_HEADER, "forged")
        .with_body("s", "text")
        .with_body("i", -42_i64)
        .with_body("f", 0.5)
        .with_body("b", true)
        .with_body("x", vec![0_u8, 7, 255])
        .with_priority(Priority::High);
    publisher.publish("t.data.one", message.clone()).unwrap();
    let event = loop {
        let e = recv(&sub);
        if e.topic() == "t.data.one" {
            break e;
        }
    };
    assert_eq!(event.body(), message.body());
    assert_eq!(event.priority(), Priority::High);
    assert_eq!(event.header().get_str("trace"), Some("abc-1"));
    assert_eq!(event.publisher(), bb.importer_id());
    assert_eq!(
        event.header().get_i64(REMOTE_PUBLISHER_HEADER),
        Some(publisher.id() as i64)
    );
    // The receiver stamps the origin; a sender's header cannot forge it.
    assert_eq!(
        event.header().get_str(ORIGIN_HEADER),
        Some(sa.zid().to_string().as_str())
    );
    assert_eq!(event.expires_at(), None);
    // The counter moves just after the delivery it counts.
    wait_until("both imports to be counted", || bb.stats().imported >= 2);
    let stats = bb.stats();
    assert_eq!(
        stats.malformed + stats.dropped + stats.refused,
        0,
        "{stats:?}"
    );
}

#[test]
fn wildcards_route_exactly_the_matching_topics() {
    let (sa, sb, _) = linked();
    let (a, b) = (
        EventService::asynchronous(1).unwrap(),
        EventService::asynchronous(1).unwrap(),
    );
    let export = options().export("*").unwrap();
    let _ab = ServiceBridge::attach(&a, &sa, export).unwrap();
    let import = options()
        .import("*.signals.?")
        .unwrap()
        .import("f.*") // overlaps the first: still one copy each
        .unwrap();
    let bb = ServiceBridge::attach(&b, &sb, import).unwrap();
    let sub = b.subscriber().subscribe("*").unwrap();
    let publisher = a.publisher();
    publish_until_received(&publisher, "w.signals.warm", &sub);
    publish_until_received(&publisher, "f.warm", &sub);
    // Repeated warm-ups may still be on the way: a sentinel sent after them
    // (one publisher, one link: FIFO) comes after the last.
    publisher.publish("f.sync", Message::new()).unwrap();
    while recv(&sub).topic() != "f.sync" {}

    let topics = [
        "f.signals.it",   // both patterns
        "g.signals.it",   // first
        "g.h.signals.it", // first (`*` takes two)
        "signals.x",      // neither: `*` needs a segment
        "g.signals.a.b",  // neither: `?` is one segment
        "f.x.y",          // second
        "g.x",            // neither
        "z.signals.end",  // first: the sentinel
    ];
    for t in topics {
        publisher.publish(t, Message::new()).unwrap();
    }
    let mut got = Vec::new();
    while got.last().map(String::as_str) != Some("z.signals.end") {
        got.push(recv(&sub).topic().to_owned());
    }
    // One publisher, one priority, one link: FIFO.
    assert_eq!(
        got,
        [
            "f.signals.it",
            "g.signals.it",
            "g.h.signals.it",
            "f.x.y",
            "z.signals.end"
        ]
    );
    assert!(sub.try_recv().is_err());
    assert_eq!(bb.stats().malformed, 0);
}

#[test]
fn events_are_never_sent_back() {
    never_sent_back(|| EventService::asynchronous(1).unwrap());
}

/// Direct services: an import is published — and reaches the export
/// listener, which must skip it — on zenoh's thread, inside the callback.
#[test]
fn events_are_never_sent_back_by_direct_services() {
    never_sent_back(|| {
        EventService::builder()
            .mode(evlatch_std::service::Mode::Direct)
            .build()
            .unwrap()
    });
}

fn never_sent_back(service: impl Fn() -> EventService) {
    let (sa, sb, _) = linked();
    let (a, b) = (service(), service());
    let both = || options().export("*").unwrap().import("*").unwrap();
    let ab = ServiceBridge::attach(&a, &sa, both()).unwrap();
    let bb = ServiceBridge::attach(&b, &sb, both()).unwrap();
    let (sub_a, sub_b) = (
        a.subscriber().subscribe("*").unwrap(),
        b.subscriber().subscribe("*").unwrap(),
    );
    let (pa, pb) = (a.publisher(), b.publisher());
    publish_until_received(&pa, "from.a", &sub_b);
    publish_until_received(&pb, "from.b", &sub_a);
    // Let anything in flight land, then look at everything each side got.
    pa.publish("from.a.last", Message::new()).unwrap();
    pb.publish("from.b.last", Message::new()).unwrap();
    let drain = |sub: &Subscription, last: &str| {
        let mut all = Vec::new();
        loop {
            let e = recv(sub);
            let done = e.topic() == last;
            all.push(e);
            if done {
                return all;
            }
        }
    };
    let got_a = drain(&sub_a, "from.b.last");
    let got_b = drain(&sub_b, "from.a.last");
    for e in &got_a {
        if e.publisher() == ab.importer_id() {
            assert!(e.topic().starts_with("from.b"), "A got back {}", e.topic());
        }
    }
    for e in &got_b {
        if e.publisher() == bb.importer_id() {
            assert!(e.topic().starts_with("from.a"), "B got back {}", e.topic());
        }
    }
    std::thread::sleep(Duration::from_millis(200));
    for (name, sub, bridge) in [("A", &sub_a, &ab), ("B", &sub_b, &bb)] {
        for e in sub.try_iter() {
            assert_ne!(
                e.publisher(),
                bridge.importer_id(),
                "{name} got late {}",
                e.topic()
            );
        }
    }
    // Each side exported exactly its own publishes: nothing imported went out again.
    // (`published` counts the importer's publishes too.) A counter moves
    // just after what it counts, so the last export or import may not be
    // counted yet: wait for the sums (they never exceed `published`).
    let balanced = |bridge: &ServiceBridge, service: &EventService| {
        let s = bridge.stats();
        s.exported + s.imported == service.stats().published
    };
    wait_until("A's counters to add up", || balanced(&ab, &a));
    wait_until("B's counters to add up", || balanced(&bb, &b));
    let (sa_stats, sb_stats) = (ab.stats(), bb.stats());
    assert_eq!(
        sa_stats.exported + sa_stats.imported,
        a.stats().published,
        "{sa_stats:?}"
    );
    assert_eq!(
        sb_stats.exported + sb_stats.imported,
        b.stats().published,
        "{sb_stats:?}"
    );
}

/// A hand-written wire-format payload (the documented layout): version 1,
/// origin "o", publisher 5, priority `Low`, the given expiry, no header, a
/// body `{"k": I64(3)}`.
fn payload(expires: Option<u64>) -> Vec<u8> {
    let mut p = vec![1, 1, b'o', 5, 0];
    match expires {
        None => p.push(0),
        Some(mut at) => {
            p.push(1);
            loop {
                let byte = (at & 0x7f) as u8;
                at >>= 7;
                if at == 0 {
                    p.push(byte);
                    break;
                }
                p.push(byte | 0x80);
            }
        }
    }
    p.extend([0, 1, 1, b'k', 1, 6]); // header [], body [("k", I64(zigzag 3 = 6))]
    p
}

fn unix_ns_in(d: Duration) -> u64 {
    (std::time::SystemTime::now() + d)
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

#[test]
fn ttl_travels_as_an_expiry() {
    let (sa, sb, _) = linked();
    let (a, b) = (
        EventService::asynchronous(1).unwrap(),
        EventService::asynchronous(1).unwrap(),
    );
    let _ab = ServiceBridge::attach(&a, &sa, options().export("ttl.*").unwrap()).unwrap();
    let bb = ServiceBridge::attach(&b, &sb, options().import("ttl.*").unwrap()).unwrap();
    let sub = b.subscriber().subscribe("ttl.*").unwrap();
    publish_until_received(&a.publisher(), "ttl.warm", &sub);

    // Through the bridge: what is left of a long TTL arrives.
    let sent = Instant::now();
    a.publisher()
        .publish("ttl.long", Message::new().with_ttl(Duration::from_secs(60)))
        .unwrap();
    let e = recv(&sub);
    assert_eq!(e.topic(), "ttl.long");
    // The importer publishes with the TTL that remains when it reads the
    // clock; the service counts it from the publish call a few
    // microseconds later, so the deadline may move by that much.
    let left = e.expires_at().expect("a TTL").duration_since(sent);
    assert!(
        left <= Duration::from_secs(60) + Duration::from_millis(1),
        "{left:?}"
    );
    assert!(left > Duration::from_secs(50), "{left:?}");

    // Raw payloads: an expiry already past is counted, not published; a
    // future one is published with the remaining TTL; none is delivered
    // twice.
    let before = bb.stats();
    sa.put(
        "evlatch/ttl/past",
        payload(Some(unix_ns_in(Duration::ZERO) - 1_000_000_000)),
    )
    .wait()
    .unwrap();
    sa.put(
        "evlatch/ttl/future",
        payload(Some(unix_ns_in(Duration::from_secs(30)))),
    )
    .wait()
    .unwrap();
    sa.put("evlatch/ttl/none", payload(None)).wait().unwrap();
    let e = recv(&sub);
    assert_eq!(e.topic(), "ttl.future");
    assert_eq!(e.body().get_i64("k"), Some(3));
    assert_eq!(e.header().get_i64(REMOTE_PUBLISHER_HEADER), Some(5));
    assert_eq!(e.header().get_str(ORIGIN_HEADER), Some("o"));
    assert!(e.expires_at().is_some());
    let e = recv(&sub);
    assert_eq!(e.topic(), "ttl.none");
    assert_eq!(e.expires_at(), None);
    // The counter moves just after the delivery it counts.
    wait_until("both imports to be counted", || {
        bb.stats().imported - before.imported >= 2
    });
    let after = bb.stats();
    assert_eq!(after.expired - before.expired, 1, "{after:?}");
    assert_eq!(after.imported - before.imported, 2, "{after:?}");
}

#[test]
fn malformed_samples_are_counted_and_reported() {
    let (sa, sb, _) = linked();
    let b = EventService::asynchronous(1).unwrap();
    let bb = ServiceBridge::attach(&b, &sb, options().import("*").unwrap()).unwrap();
    let watch = b.subscriber().subscribe("sys.bridge.*").unwrap();
    let sub = b.subscriber().subscribe("*").unwrap();
    // Warm up with valid raw payloads until the import subscriber is known.
    let deadline = Instant::now() + WAIT;
    loop {
        assert!(
            Instant::now() < deadline,
            "the import subscriber never appeared"
        );
        sa.put("evlatch/warm", payload(None)).wait().unwrap();
        if sub.recv_timeout(Duration::from_millis(50)).is_ok() {
            break;
        }
    }
    let before = bb.stats().malformed;
    let mut bad_version = payload(None);
    bad_version[0] = 9;
    let mut trailing = payload(None);
    trailing.push(0);
    let bad: [(&str, Vec<u8>); 7] = [
        ("evlatch/m/empty", Vec::new()),
        ("evlatch/m/version", bad_version),
        ("evlatch/m/garbage", vec![1, 0xff, 0xff, 0xff]),
        ("evlatch/m/trailing", trailing),
        ("evlatch/m/truncated", payload(None)[..4].to_vec()),
        ("evlatch/m.dot", payload(None)),
        ("evlatch/sys/drops", payload(None)),
    ];
    for (key, bytes) in &bad {
        sa.put(*key, bytes.clone()).wait().unwrap();
    }
    sa.put("evlatch/m/good", payload(None)).wait().unwrap();
    let mut keys = Vec::new();
    while keys.len() < bad.len() {
        let e = recv(&watch);
        assert_eq!(e.topic(), sys::BRIDGE_MALFORMED);
        assert!(!e.body().get_str(sys::MESSAGE).unwrap_or("").is_empty());
        keys.push(e.body().get_str(sys::KEY).unwrap().to_owned());
    }
    let expected: Vec<&str> = bad.iter().map(|(k, _)| *k).collect();
    assert_eq!(keys, expected);
    let e = loop {
        let e = recv(&sub);
        if e.topic() != "warm" {
            break e;
        }
    };
    assert_eq!(e.topic(), "m.good");
    assert_eq!(bb.stats().malformed - before, bad.len() as u64);
}

#[test]
fn a_full_import_channel_drops_and_counts() {
    let (sa, sb, _) = linked();
    let a = EventService::asynchronous(1).unwrap();
    // Synchronous, tiny queue: nothing moves until process_events.
    let b = EventService::builder().queue_capacity(1).build().unwrap();
    let _ab = ServiceBridge::attach(&a, &sa, options().export("d.*").unwrap()).unwrap();
    let bb = ServiceBridge::attach(&b, &sb, options().import("d.*").unwrap().import_capacity(2))
        .unwrap();
    let sub = b.subscriber().subscribe("d.*").unwrap();
    let publisher = a.publisher();
    // Every event `sub` received; each is one counted import.
    let mut seen = 0_u64;
    let deadline = Instant::now() + WAIT;
    'warm: loop {
        assert!(Instant::now() < deadline, "warm-up never arrived");
        publisher.publish("d.warm", Message::new()).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        b.process_events().unwrap();
        while let Ok(e) = sub.try_recv() {
            seen += 1;
            if e.topic() == "d.warm" {
                break 'warm;
            }
        }
    }
    // Settle: a sentinel through the same link (FIFO) is imported only
    // after everything sent before it was imported or dropped. Sentinels
    // are numbered, and the next goes only when one did not come within a
    // slice (dropped, or slow): once the last one sent is in, nothing else
    // is on the way (a late copy would count against the burst below).
    let mut n = 0_i64;
    wait_until("the last sentinel", || {
        n += 1;
        publisher
            .publish("d.sync", Message::new().with_body("n", n))
            .unwrap();
        let slice = Instant::now() + Duration::from_millis(500);
        while Instant::now() < slice {
            b.process_events().unwrap();
            for e in sub.try_iter() {
                seen += 1;
                if e.topic() == "d.sync" && e.body().get_i64("n") == Some(n) {
                    return true;
                }
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        false
    });
    // Its import is counted just after its delivery.
    wait_until("the settled imports to be counted", || {
        bb.stats().imported == seen
    });
    let accounted = |s: evlatch_std::zenoh::BridgeStats| s.imported + s.dropped;
    let (i0, d0) = (bb.stats().imported, bb.stats().dropped);

    const BURST: u64 = 200;
    for n in 0..BURST as i64 {
        publisher
            .publish("d.burst", Message::new().with_body("n", n))
            .unwrap();
    }
    wait_until("drops", || bb.stats().dropped > d0);
    let mut received = 0;
    wait_until("every burst event to be imported or dropped", || {
        b.process_events().unwrap();
        received += sub.try_iter().filter(|e| e.topic() == "d.burst").count() as u64;
        accounted(bb.stats()) - (i0 + d0) == BURST
    });
    b.process_events().unwrap();
    received += sub.try_iter().filter(|e| e.topic() == "d.burst").count() as u64;
    let s = bb.stats();
    assert!(s.dropped > d0, "{s:?}");
    assert_eq!(received, s.imported - i0, "{s:?}");
}

/// Imports are published straight from zenoh's callback while nothing is
/// backlogged, and through the bridge thread once the service queue was
/// full: the switch both ways keeps every remote publisher's order.
#[test]
fn imports_keep_their_order_across_a_full_service_queue() {
    let (sa, sb, _) = linked();
    let a = EventService::asynchronous(1).unwrap();
    // Synchronous with a small queue: it fills whenever nothing drains it,
    // so events go direct, then to the backlog, then direct again.
    let b = EventService::builder().queue_capacity(4).build().unwrap();
    let _ab = ServiceBridge::attach(&a, &sa, options().export("o.*").unwrap()).unwrap();
    let bb = ServiceBridge::attach(
        &b,
        &sb,
        options().import("o.*").unwrap().import_capacity(4096),
    )
    .unwrap();
    let sub = b
        .subscriber()
        .subscribe_with(
            "o.*",
            evlatch_std::service::SubscribeOptions::new().capacity(4096),
        )
        .unwrap();
    let publisher = a.publisher();
    let deadline = Instant::now() + WAIT;
    'warm: loop {
        assert!(Instant::now() < deadline, "warm-up never arrived");
        publisher.publish("o.warm", Message::new()).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        b.process_events().unwrap();
        while let Ok(e) = sub.try_recv() {
            if e.topic() == "o.warm" {
                break 'warm;
            }
        }
    }
    const N: i64 = 2000;
    for n in 0..N {
        publisher
            .publish("o.seq", Message::new().with_body("n", n))
            .unwrap();
    }
    // Nothing drains until the queue of 4 has filled and events wait in
    // the backlog; then draining lets them, and later ones, go direct.
    wait_until("a backlog", || bb.stats().backlogged > 0);
    let mut got = Vec::new();
    wait_until("every event of the sequence", || {
        b.process_events().unwrap();
        got.extend(
            sub.try_iter()
                .filter(|e| e.topic() == "o.seq")
                .filter_map(|e| e.body().get_i64("n")),
        );
        std::thread::sleep(Duration::from_micros(200));
        got.len() as i64 == N
    });
    let s = bb.stats();
    assert_eq!(s.dropped, 0, "{s:?}");
    // Both ways were taken (the queue of 4 filled, and drained).
    assert!(s.backlogged > 0 && s.backlogged < s.imported, "{s:?}");
    let expected: Vec<i64> = (0..N).collect();
    assert_eq!(got, expected, "imports out of order");
}

#[test]
fn delivery_resumes_after_the_peer_comes_back() {
    let endpoint = free_endpoint();
    let sb = open(&[], &[&endpoint]);
    let b = EventService::asynchronous(1).unwrap();
    let bb = ServiceBridge::attach(
        &b,
        &sb,
        options().import("r.*").unwrap().export("local.*").unwrap(),
    )
    .unwrap();
    let sub = b.subscriber().subscribe("r.*").unwrap();
    for round in 0..2 {
        let sa = open(&[&endpoint], &[]);
        let a = EventService::asynchronous(1).unwrap();
        let ab = ServiceBridge::attach(&a, &sa, options().export("r.*").unwrap()).unwrap();
        let e = publish_until_received(&a.publisher(), &format!("r.round{round}"), &sub);
        assert_eq!(
            e.header().get_str(ORIGIN_HEADER),
            Some(sa.zid().to_string().as_str())
        );
        // The peer goes away.
        drop(ab);
        drop(a);
        sa.close().wait().unwrap();
        wait_until("the link to drop", || {
            sb.info().peers_zid().wait().next().is_none()
        });
        // Publishing while disconnected neither blocks nor queues: each
        // export is handed to zenoh, which has no one to send it to.
        let local = b.publisher();
        let exported = bb.stats().exported;
        let start = Instant::now();
        for _ in 0..100 {
            local.publish("local.x", Message::new()).unwrap();
        }
        wait_until("the exports to be handled", || {
            bb.stats().exported - exported == 100
        });
        assert!(start.elapsed() < WAIT);
    }
    let stats = bb.stats();
    assert_eq!(stats.dropped + stats.malformed, 0, "{stats:?}");
}

#[test]
fn closing_waits_for_nothing_unbounded() {
    // A bridge whose peer never existed, on a synchronous service nobody
    // drives, closes promptly; so does one whose service is gone.
    let endpoint = free_endpoint();
    let s = open(&[], &[&endpoint]);
    let service = EventService::builder().queue_capacity(1).build().unwrap();
    let bridge = ServiceBridge::attach(
        &service,
        &s,
        options().import("*").unwrap().export("*").unwrap(),
    )
    .unwrap();
    service.publisher().publish("a", Message::new()).unwrap();
    let start = Instant::now();
    drop(service);
    let stats = bridge.close();
    assert!(start.elapsed() < WAIT, "close took {:?}", start.elapsed());
    assert_eq!(stats.imported, 0);
    assert!(matches!(
        options().import("sys.*"),
        Err(BridgeError::ReservedPattern(_))
    ));
}

#[test]
fn two_example_processes_deliver_end_to_end() {
    let example = zenoh_peers::build_example("zenoh_service");
    let endpoint = free_endpoint();
    let spawn = |flag: &str| {
        Command::new(&example)
            .args([flag, &endpoint, "--count", "5", "--timeout-s", "20"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the example starts")
    };
    let listen = spawn("--listen");
    std::thread::sleep(Duration::from_millis(200));
    let connect = spawn("--connect");
    for (name, child) in [("listen", listen), ("connect", connect)] {
        let stdout = finished(name, child);
        let other = if name == "listen" {
            "connect"
        } else {
            "listen"
        };
        let ticks = stdout
            .lines()
            .filter(|l| l.starts_with(&format!("received demo.{other}.")))
            .count();
        assert!(ticks >= 5, "{name} saw {ticks} remote events:\n{stdout}");
    }
}
