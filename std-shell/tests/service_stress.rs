//! Event service under concurrency: publishers, subscribe/unsubscribe churn,
//! `process_events` callers (synchronous mode), dispatchers (asynchronous
//! mode) or the publishers themselves (direct mode) and receivers, all at
//! once. Checks, for subscriptions that exist
//! throughout: no event lost (`Block`, listeners), per-publisher order, and
//! every drop counted (`DropOldest`, `DropNewest`: received + dropped =
//! published; lag notices add up to the drops; the service's count is the
//! sum). For churned subscriptions: no listener call after `unsubscribe`
//! returns.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use evlatch_std::service::{
    EventService, Message, Mode, Overflow, ProcessError, SubscribeOptions, Subscription,
    SubscriptionRecvTimeoutError, SubscriptionTryRecvError,
};

const PUBLISHERS: usize = 3;
const PER_PUBLISHER: i64 = if cfg!(debug_assertions) {
    8_000
} else {
    50_000
};
const TOTAL: u64 = PUBLISHERS as u64 * PER_PUBLISHER as u64;

/// How long a receiver waits without progress before it declares events
/// lost (a liveness bound against hanging, not a timing assertion).
const STALL: Duration = Duration::from_secs(60);

fn options(capacity: usize, overflow: Overflow) -> SubscribeOptions {
    SubscribeOptions::new()
        .capacity(capacity)
        .overflow(overflow)
}

/// Per-publisher order check: `seq` must be greater than the last one seen
/// (`gapless`: exactly one more).
fn check_order(last: &mut HashMap<u64, i64>, publisher: u64, seq: i64, gapless: bool) {
    let prev = last.insert(publisher, seq).unwrap_or(-1);
    if gapless {
        assert_eq!(seq, prev + 1, "publisher {publisher}: {prev} then {seq}");
    } else {
        assert!(seq > prev, "publisher {publisher}: {prev} then {seq}");
    }
}

/// Receives from a lossy subscription until everything is accounted for;
/// returns (received, sum of lag notices).
fn drain_lossy(sub: &Subscription, published: &AtomicBool) -> (u64, u64) {
    let mut last = HashMap::new();
    let (mut received, mut lagged) = (0_u64, 0_u64);
    let mut idle = Duration::ZERO;
    let tick = Duration::from_millis(5);
    loop {
        match sub.recv_timeout(tick) {
            Ok(e) => {
                idle = Duration::ZERO;
                received += 1;
                check_order(
                    &mut last,
                    e.publisher(),
                    e.body().get_i64("seq").unwrap(),
                    false,
                );
            }
            Err(SubscriptionRecvTimeoutError::Lagged(n)) => lagged += n,
            Err(SubscriptionRecvTimeoutError::Timeout) => {
                let stats = sub.stats();
                if published.load(Ordering::SeqCst)
                    && stats.received + stats.dropped == TOTAL
                    && stats.queued == 0
                {
                    break;
                }
                idle += tick;
                assert!(idle < STALL, "events unaccounted for: {stats:?}");
            }
            Err(e) => panic!("lossy receiver: {e}"),
        }
        // A slow receiver, so that its queue overflows now and then.
        if received % 64 == 0 {
            thread::yield_now();
        }
    }
    // The last lag notice, if the loss was counted after the last receive.
    if let Err(SubscriptionTryRecvError::Lagged(n)) = sub.try_recv() {
        lagged += n;
    }
    (received, lagged)
}

/// Sets the flag when dropped — also when a check fails and unwinds, so
/// that the looping helper threads stop and the failure is reported.
struct SetOnDrop<'a>(&'a AtomicBool);

impl Drop for SetOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

fn stress(mode: Mode) {
    let service = EventService::builder()
        .mode(mode)
        .queue_capacity(64)
        .build()
        .unwrap();
    let subscriber = service.subscriber();
    // A direct service refuses `Block`: there a subscription with room for
    // everything stands in for the lossless one.
    let direct = mode == Mode::Direct;
    let lossless = if direct {
        options(TOTAL as usize, Overflow::DropNewest)
    } else {
        options(16, Overflow::Block)
    };
    let block = subscriber.subscribe_with("load.*", lossless).unwrap();
    let oldest = subscriber
        .subscribe_with("load.*", options(8, Overflow::DropOldest))
        .unwrap();
    let newest = subscriber
        .subscribe_with("*.x", options(8, Overflow::DropNewest))
        .unwrap();
    let listened = subscriber.subscribe("load.?").unwrap();
    let heard: Arc<Mutex<(u64, HashMap<u64, i64>)>> = Arc::default();
    let h = heard.clone();
    listened.add_listener(move |e| {
        let mut heard = h.lock().unwrap();
        heard.0 += 1;
        check_order(
            &mut heard.1,
            e.publisher(),
            e.body().get_i64("seq").unwrap(),
            true,
        );
    });
    // The service's own events, concurrently with everything else.
    let sys_seen = Arc::new(AtomicUsize::new(0));
    let s = sys_seen.clone();
    let sys_watch = subscriber
        .subscribe_with("sys.*", options(4, Overflow::DropNewest))
        .unwrap();
    sys_watch.add_listener(move |_| {
        s.fetch_add(1, Ordering::Relaxed);
    });

    let published = AtomicBool::new(false);
    let received_all = AtomicBool::new(false);
    let churn_violations = AtomicUsize::new(0);
    let churn_dropped = AtomicU64::new(0);
    let churns = AtomicUsize::new(0);

    thread::scope(|s| {
        let _stop_helpers = (SetOnDrop(&received_all), SetOnDrop(&published));
        // Publishers.
        let publishers: Vec<_> = (0..PUBLISHERS)
            .map(|_| {
                let p = service.publisher();
                s.spawn(move || {
                    for seq in 0..PER_PUBLISHER {
                        p.publish("load.x", Message::new().with_body("seq", seq))
                            .unwrap();
                    }
                })
            })
            .collect();

        // Delivery: two threads taking turns in synchronous mode; in
        // asynchronous mode the dispatchers deliver and process_events
        // refuses.
        for _ in 0..2 {
            s.spawn(|| {
                while !received_all.load(Ordering::SeqCst) {
                    match service.process_events() {
                        Ok(0) | Err(ProcessError::Blocked { .. }) => {
                            thread::sleep(Duration::from_micros(50));
                        }
                        Ok(_) => {}
                        Err(ProcessError::Asynchronous) => return,
                        Err(e) => panic!("process_events: {e}"),
                    }
                }
            });
        }

        // Subscribe/unsubscribe churn: listeners must never run after
        // unsubscribe returns; small `Block` pull subscriptions that are
        // hardly drained stall delivery until they are dropped.
        let churn = s.spawn(|| {
            while !published.load(Ordering::SeqCst) {
                let ended = Arc::new(AtomicBool::new(false));
                let violations = Arc::new(AtomicUsize::new(0));
                let sub = subscriber.subscribe("load.*").unwrap();
                let (e, v) = (ended.clone(), violations.clone());
                sub.add_listener(move |_| {
                    if e.load(Ordering::SeqCst) {
                        v.fetch_add(1, Ordering::SeqCst);
                    }
                });
                // Events delivered before the listener came were queued,
                // and may have overflowed the queue (counted drops). Empty
                // it: the few deliveries in flight at `add_listener` find
                // room, so this subscription's drop count is final now.
                while matches!(
                    sub.try_recv(),
                    Ok(_) | Err(SubscriptionTryRecvError::Lagged(_))
                ) {}
                churn_dropped.fetch_add(sub.stats().dropped, Ordering::SeqCst);
                // (Not in direct mode, which refuses `Block`.)
                let pull = (!direct).then(|| {
                    subscriber
                        .subscribe_with("load.x", options(4, Overflow::Block))
                        .unwrap()
                });
                for _ in 0..20 {
                    thread::yield_now();
                    if let Some(pull) = &pull {
                        let _ = pull.try_recv();
                    }
                }
                sub.unsubscribe();
                ended.store(true, Ordering::SeqCst);
                drop(pull);
                // A call that started after `unsubscribe` returned would
                // count; give one a chance to show.
                thread::yield_now();
                churn_violations.fetch_add(violations.load(Ordering::SeqCst), Ordering::SeqCst);
                churns.fetch_add(1, Ordering::Relaxed);
            }
        });

        // Receivers.
        let block_reader = s.spawn(|| {
            let mut last = HashMap::new();
            let mut n = 0_u64;
            while n < TOTAL {
                let e = match block.recv_timeout(STALL) {
                    Ok(e) => e,
                    Err(e) => panic!("Block subscription after {n} events: {e}"),
                };
                check_order(
                    &mut last,
                    e.publisher(),
                    e.body().get_i64("seq").unwrap(),
                    true,
                );
                n += 1;
            }
            n
        });
        let oldest_reader = s.spawn(|| drain_lossy(&oldest, &published));
        let newest_reader = s.spawn(|| drain_lossy(&newest, &published));

        for p in publishers {
            p.join().unwrap();
        }
        // The churn thread runs until `published`: let it finish a round
        // first, however late the scheduler started it (a liveness bound).
        let waited = std::time::Instant::now();
        while churns.load(Ordering::Relaxed) == 0 && !churn.is_finished() {
            assert!(waited.elapsed() < STALL, "the churn thread never ran");
            thread::sleep(Duration::from_millis(1));
        }
        published.store(true, Ordering::SeqCst);
        assert_eq!(block_reader.join().unwrap(), TOTAL, "Block lost events");
        let (received, lagged) = oldest_reader.join().unwrap();
        let stats = oldest.stats();
        assert_eq!(received, stats.received);
        assert_eq!(
            stats.received + stats.dropped,
            TOTAL,
            "DropOldest: {stats:?}"
        );
        assert_eq!(lagged, stats.dropped, "DropOldest lag notices");
        let (received, lagged) = newest_reader.join().unwrap();
        let stats = newest.stats();
        assert_eq!(received, stats.received);
        assert_eq!(
            stats.received + stats.dropped,
            TOTAL,
            "DropNewest: {stats:?}"
        );
        assert_eq!(lagged, stats.dropped, "DropNewest lag notices");
        // The listener may still be on the last event: wait for it.
        let waited = std::time::Instant::now();
        while heard.lock().unwrap().0 < TOTAL {
            assert!(waited.elapsed() < STALL, "listener lost events");
            thread::sleep(Duration::from_millis(1));
        }
        received_all.store(true, Ordering::SeqCst);
    });

    let heard = heard.lock().unwrap();
    assert_eq!(heard.0, TOTAL, "listener lost events");
    assert_eq!(heard.1.len(), PUBLISHERS);
    assert_eq!(
        churn_violations.load(Ordering::SeqCst),
        0,
        "listener ran after unsubscribe"
    );
    assert!(churns.load(Ordering::Relaxed) > 0);

    let stats = service.stats();
    assert_eq!(stats.published, TOTAL);
    assert_eq!(stats.expired + stats.filtered + stats.rejected, 0);
    // Listener subscriptions drop nothing once their listener is on, `Block`
    // ones never (none was abandoned: no shutdown yet), so every drop the
    // service counted is one of the two lossy subscriptions' or a churned
    // one's before its listener came — each counted on both sides.
    assert_eq!(sys_watch.stats().dropped + block.stats().dropped, 0);
    let counted =
        oldest.stats().dropped + newest.stats().dropped + churn_dropped.load(Ordering::SeqCst);
    assert!(counted > 0, "the lossy subscriptions never overflowed");
    // Counters are Relaxed and a dispatcher may still be finishing the
    // increment after the subscription's: let it (a liveness bound, not a
    // timing assertion).
    for _ in 0..10_000 {
        if service.stats().dropped == counted {
            break;
        }
        thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(service.stats().dropped, counted);
    assert!(sys_seen.load(Ordering::Relaxed) > 0);
    drop(service);
    assert_eq!(
        block.try_recv().unwrap_err(),
        SubscriptionTryRecvError::Closed
    );
}

#[test]
fn synchronous_concurrent_publish_subscribe_process() {
    stress(Mode::Synchronous);
}

#[test]
fn asynchronous_concurrent_publish_subscribe_dispatch() {
    stress(Mode::Asynchronous { dispatchers: 3 });
}

#[test]
fn direct_concurrent_publish_subscribe_deliver() {
    stress(Mode::Direct);
}
