//! The event service's publish → deliver path after its speed-ups keeps its
//! meaning: the per-thread topic cache never lets a bad or reserved topic
//! through and never skips a publish filter; fields compare by content
//! whatever their storage; a failed publish hands the message back whole;
//! batched delivery keeps order and resumes exactly where a `Block`
//! subscription stopped it; one event is one shared `Arc` for every
//! subscription.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use evlatch_std::service::{
    EventService, Fields, Message, Mode, Overflow, ProcessError, PublishErrorKind,
    SubscribeOptions, Subscription, Value, INLINE_FIELDS, PUBLISHER_HEADER,
};

fn options(capacity: usize, overflow: Overflow) -> SubscribeOptions {
    SubscribeOptions::new()
        .capacity(capacity)
        .overflow(overflow)
}

fn seqs(sub: &Subscription) -> Vec<i64> {
    sub.try_iter()
        .map(|e| e.body().get_i64("n").expect("test events carry n"))
        .collect()
}

#[test]
fn a_remembered_topic_lets_no_bad_or_reserved_topic_through() {
    let service = EventService::synchronous();
    let sub = service.subscriber().subscribe("a.*").unwrap();
    let publisher = service.publisher();
    for _ in 0..3 {
        publisher.publish("a.b", Message::new()).unwrap();
        let kind = |topic| publisher.publish(topic, Message::new()).unwrap_err().kind();
        assert!(matches!(kind("a.*"), PublishErrorKind::InvalidTopic(_)));
        assert!(matches!(kind(""), PublishErrorKind::InvalidTopic(_)));
        assert!(matches!(kind("a..b"), PublishErrorKind::InvalidTopic(_)));
        assert_eq!(
            kind("sys.subscription.added"),
            PublishErrorKind::ReservedTopic
        );
        assert_eq!(kind("sys"), PublishErrorKind::ReservedTopic);
        publisher.publish("a.b", Message::new()).unwrap();
    }
    service.process_events().unwrap();
    assert_eq!(sub.try_iter().count(), 6);
    assert_eq!(service.stats().published, 6);
}

#[test]
fn a_publish_filter_sees_every_publish_of_a_repeated_topic() {
    // Another service on this thread remembers the topic first.
    let other = EventService::synchronous();
    other
        .publisher()
        .publish("jobs.done", Message::new())
        .unwrap();

    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let service = EventService::builder()
        .publish_filter(move |topic, message| {
            s.lock().unwrap().push(topic.as_str().to_owned());
            message.body().get_i64("n") != Some(1)
        })
        .build()
        .unwrap();
    let sub = service.subscriber().subscribe("jobs.*").unwrap();
    let publisher = service.publisher();
    for n in 0..3_i64 {
        let result = publisher.publish("jobs.done", Message::new().with_body("n", n));
        assert_eq!(result.is_err(), n == 1);
    }
    assert_eq!(*seen.lock().unwrap(), ["jobs.done"; 3]);
    assert_eq!(service.stats().rejected, 1);
    service.process_events().unwrap();
    assert_eq!(seqs(&sub), [0, 2]);
}

#[test]
fn the_topic_cache_is_per_thread() {
    let service = EventService::asynchronous(2).unwrap();
    let sub = service.subscriber().subscribe("t.?").unwrap();
    thread::scope(|s| {
        for t in 0..4_i64 {
            let publisher = service.publisher();
            s.spawn(move || {
                let topic = format!("t.{t}");
                for n in 0..100 {
                    publisher
                        .publish(&topic, Message::new().with_body("n", n))
                        .unwrap();
                    let err = publisher.publish("t.*", Message::new()).unwrap_err();
                    assert!(matches!(err.kind(), PublishErrorKind::InvalidTopic(_)));
                }
            });
        }
    });
    let mut per_topic = std::collections::HashMap::<String, Vec<i64>>::new();
    for event in sub.iter().take(400) {
        let n = event.body().get_i64("n").unwrap();
        per_topic
            .entry(event.topic().to_owned())
            .or_default()
            .push(n);
    }
    assert_eq!(per_topic.len(), 4);
    for ns in per_topic.values() {
        assert_eq!(*ns, (0..100).collect::<Vec<_>>(), "one publisher's order");
    }
}

#[test]
fn fields_compare_by_content_whatever_their_storage() {
    assert_eq!(INLINE_FIELDS, 1);
    let mut grown = Fields::new();
    grown.insert("a", 1_i64);
    grown.insert("b", 2_i64); // on the heap now
    assert_eq!(grown.remove("b"), Some(Value::I64(2)));
    let small: Fields = [("a", 1_i64)].into_iter().collect();
    assert_eq!(grown, small);
    assert_ne!(grown, Fields::new());

    let mut many: Fields = [("x", 1_i64), ("y", 2_i64), ("z", 3_i64)]
        .into_iter()
        .collect();
    assert_eq!(many.remove("x"), Some(Value::I64(1)));
    assert_eq!(many.remove("x"), None);
    let keys: Vec<&str> = many.iter().map(|(k, _)| k).collect();
    assert_eq!(keys, ["y", "z"]);
    assert_eq!(many.insert("y", 20_i64), Some(Value::I64(2)));
    assert_eq!(many.get_i64("y"), Some(20));
    assert_eq!(many.len(), 2);
    assert_eq!(many.remove("y"), Some(Value::I64(20)));
    assert_eq!(many.remove("z"), Some(Value::I64(3)));
    assert!(many.is_empty());
    assert_eq!(many, Fields::new());
    many.insert("again", "v");
    assert_eq!(many.get_str("again"), Some("v"));
}

#[test]
fn events_carry_their_fields_and_the_stamp_whatever_their_count() {
    let service = EventService::synchronous();
    let sub = service.subscriber().subscribe("f").unwrap();
    let publisher = service.publisher();
    let id = publisher.id() as i64;
    for fields in 0..4_i64 {
        let mut m = Message::new();
        for k in 0..fields {
            m = m
                .with_body(format!("b{k}"), k)
                .with_header(format!("h{k}"), k);
        }
        publisher
            .publish("f", m.with_header(PUBLISHER_HEADER, "forged"))
            .unwrap();
    }
    service.process_events().unwrap();
    for (fields, event) in sub.try_iter().enumerate() {
        let fields = fields as i64;
        assert_eq!(event.body().len() as i64, fields);
        assert_eq!(event.header().len() as i64, fields + 1);
        for k in 0..fields {
            assert_eq!(event.body().get_i64(&format!("b{k}")), Some(k));
            assert_eq!(event.header().get_i64(&format!("h{k}")), Some(k));
        }
        assert_eq!(event.header().get_i64(PUBLISHER_HEADER), Some(id));
        let last = event.header().iter().last().map(|(k, _)| k);
        assert_eq!(last, Some(PUBLISHER_HEADER), "the stamp goes last");
    }
}

#[test]
fn a_failed_publish_hands_back_the_whole_message() {
    let service = EventService::builder().queue_capacity(1).build().unwrap();
    let publisher = service.publisher();
    publisher.try_publish("a", Message::new()).unwrap();
    let message = Message::new()
        .with_body("k", 1_i64)
        .with_body("l", "two")
        .with_header("h", true)
        .with_ttl(Duration::from_secs(30));
    let err = publisher.try_publish("a", message.clone()).unwrap_err();
    assert_eq!(err.kind(), PublishErrorKind::Full);
    let back = err.into_message();
    assert_eq!(back, message);
    assert_eq!(back.ttl(), Some(Duration::from_secs(30)));
    assert!(back.header().get(PUBLISHER_HEADER).is_none());
}

#[test]
fn a_block_stop_resumes_with_the_rest_of_the_batch_in_order() {
    let service = EventService::synchronous();
    let block = service
        .subscriber()
        .subscribe_with("q", options(2, Overflow::Block))
        .unwrap();
    let lossy = service
        .subscriber()
        .subscribe_with("q", options(64, Overflow::DropOldest))
        .unwrap();
    let newest = service
        .subscriber()
        .subscribe_with("q", options(64, Overflow::DropNewest))
        .unwrap();
    let publisher = service.publisher();
    for n in 0..10_i64 {
        publisher
            .publish("q", Message::new().with_body("n", n))
            .unwrap();
    }
    let mut got = Vec::new();
    let mut processed = 0;
    loop {
        match service.process_events() {
            Ok(n) => {
                processed += n;
                got.extend(seqs(&block));
                break;
            }
            Err(ProcessError::Blocked {
                subscription,
                processed: n,
            }) => {
                assert_eq!(subscription, block.id());
                processed += n;
                got.extend(seqs(&block));
            }
            Err(e) => panic!("{e}"),
        }
    }
    let all: Vec<i64> = (0..10).collect();
    assert_eq!(got, all);
    assert_eq!(processed, 10);
    assert_eq!(seqs(&lossy), all);
    assert_eq!(seqs(&newest), all);
    let stats = service.stats();
    assert_eq!(
        (stats.dispatched, stats.delivered, stats.dropped),
        (10, 30, 0)
    );
}

#[test]
fn a_dispatcher_keeps_each_publishers_order_across_batches() {
    const EVENTS: i64 = 1000;
    let service = EventService::builder()
        .mode(Mode::Asynchronous { dispatchers: 1 })
        .queue_capacity(16)
        .build()
        .unwrap();
    let block = service
        .subscriber()
        .subscribe_with("p.*", options(4, Overflow::Block))
        .unwrap();
    let heard = Arc::new(Mutex::new(Vec::new()));
    let listened = service.subscriber().subscribe("p.*").unwrap();
    let h = heard.clone();
    listened.add_listener(move |e| {
        let key = (e.publisher(), e.body().get_i64("n").unwrap());
        h.lock().unwrap().push(key);
    });
    let received = AtomicUsize::new(0);
    thread::scope(|s| {
        for _ in 0..2 {
            let publisher = service.publisher();
            s.spawn(move || {
                for n in 0..EVENTS {
                    publisher
                        .publish("p.x", Message::new().with_body("n", n))
                        .unwrap();
                }
            });
        }
        let mut last = std::collections::HashMap::new();
        for event in block.iter().take(2 * EVENTS as usize) {
            let n = event.body().get_i64("n").unwrap();
            let prev = last.insert(event.publisher(), n);
            assert_eq!(prev.map_or(0, |p| p + 1), n, "one publisher's order");
            received.fetch_add(1, Ordering::Relaxed);
        }
    });
    assert_eq!(received.load(Ordering::Relaxed), 2 * EVENTS as usize);
    drop(service); // waits for listener calls in progress
    let heard = heard.lock().unwrap();
    assert_eq!(heard.len(), 2 * EVENTS as usize);
    let mut last = std::collections::HashMap::new();
    for &(publisher, n) in heard.iter() {
        let prev = last.insert(publisher, n);
        assert_eq!(prev.map_or(0, |p| p + 1), n, "one publisher's order");
    }
}

#[test]
fn one_event_is_one_shared_delivery() {
    let service = EventService::synchronous();
    let subs: Vec<Subscription> = (0..3)
        .map(|_| service.subscriber().subscribe("s").unwrap())
        .collect();
    service.publisher().publish("s", Message::new()).unwrap();
    service.process_events().unwrap();
    let got: Vec<_> = subs.iter().map(|s| s.try_recv().unwrap()).collect();
    assert!(Arc::ptr_eq(&got[0], &got[1]) && Arc::ptr_eq(&got[1], &got[2]));
    // Three subscriptions, and at most one reference the delivering
    // thread keeps to reuse the allocation.
    assert!((3..=4).contains(&Arc::strong_count(&got[0])));
    drop(got);

    // An event that owns heap memory is never kept.
    let text = Message::new().with_body("n", "some text");
    service.publisher().publish("s", text).unwrap();
    service.process_events().unwrap();
    let got: Vec<_> = subs.iter().map(|s| s.try_recv().unwrap()).collect();
    assert_eq!(Arc::strong_count(&got[0]), 3);
}

#[test]
fn a_reused_allocation_carries_the_new_event() {
    let service = EventService::synchronous();
    let sub = service.subscriber().subscribe("r.*").unwrap();
    let a = service.publisher();
    let b = service.publisher();
    let mut held = Vec::new();
    for n in 0..500_i64 {
        let (publisher, topic) = if n % 3 == 0 { (&a, "r.a") } else { (&b, "r.b") };
        let message = Message::new()
            .with_body("n", n)
            .with_priority(if n % 2 == 0 {
                evlatch_std::service::Priority::Low
            } else {
                evlatch_std::service::Priority::High
            });
        publisher.publish(topic, message).unwrap();
        service.process_events().unwrap();
        let event = sub.try_recv().unwrap();
        assert_eq!(event.body().get_i64("n"), Some(n));
        assert_eq!(event.topic(), topic);
        assert_eq!(event.publisher(), publisher.id());
        assert_eq!(
            event.header().get_i64(PUBLISHER_HEADER),
            Some(publisher.id() as i64)
        );
        assert_eq!(event.header().len(), 1);
        // Some are kept a while (not reusable), most dropped at once.
        if n % 7 == 0 {
            held.push((n, event));
        }
    }
    for (n, event) in &held {
        assert_eq!(
            event.body().get_i64("n"),
            Some(*n),
            "a held event never changes"
        );
    }
}
