//! Callbacks: exactly once, in order, with the outcome; across resets; inline limits; closures; drop.

use super::*;

/// Function-pointer callbacks run exactly once, in registration order, with
/// the outcome, on both outcomes, with or without a prior `record`.
#[test]
fn callbacks_run_once_in_order_with_outcome() {
    let slot = SLOT_ORDER;
    let per_event = INLINE_CALLBACKS;
    let mut expected = Vec::new();
    for (round, (record_first, fail)) in
        [(true, false), (false, false), (true, true), (false, true)]
            .into_iter()
            .enumerate()
    {
        let event = Event::new();
        if record_first {
            event.record().unwrap();
        }
        for i in 0..per_event {
            event
                .on_finished_fn(log_cb, ctx(slot, round * 10 + i))
                .unwrap();
        }
        assert_eq!(log_of(slot), expected, "ran before the finish");
        let outcome = if fail {
            event.set_failed("boom").unwrap();
            EventStatus::Failed
        } else {
            event.set_finished().unwrap();
            EventStatus::Success
        };
        expected.extend((0..per_event).map(|i| (round * 10 + i, outcome)));
        assert_eq!(log_of(slot), expected);
        // Refused finishes and a reset run nothing again.
        assert!(event.set_finished().is_err());
        event.reset().unwrap();
        event.set_finished().unwrap();
        assert_eq!(log_of(slot), expected);
    }
}

/// On an event that already finished, a callback runs at once on the
/// registering thread, with the outcome, before the call returns.
#[test]
fn callback_on_finished_event_runs_immediately() {
    let slot = SLOT_IMMEDIATE;
    let event = Event::new();
    event.set_finished().unwrap();
    // More than the inline capacity: immediate runs take no storage.
    for i in 0..INLINE_CALLBACKS + 3 {
        event.on_finished_fn(log_cb, ctx(slot, i)).unwrap();
        assert_eq!(log_of(slot).len(), i + 1);
    }
    event.reset().unwrap();
    event.set_failed("bad").unwrap();
    event.on_finished_fn(log_cb, ctx(slot, 99)).unwrap();
    let log = log_of(slot);
    assert!(log[..INLINE_CALLBACKS + 3]
        .iter()
        .all(|&(_, s)| s == EventStatus::Success));
    assert_eq!(log.last(), Some(&(99, EventStatus::Failed)));
}

/// A callback registered in the `Failed` state runs at once with `Failed`,
/// and a callback registered while `Initialized` then `reset` (a no-op) is
/// still pending for the same generation.
#[test]
fn registration_around_noop_reset() {
    let slot = SLOT_INIT_RESET;
    let event = Event::new();
    event.on_finished_fn(log_cb, ctx(slot, 1)).unwrap();
    event.reset().unwrap(); // Initialized: no change
    assert!(log_of(slot).is_empty());
    event.set_failed("late").unwrap();
    assert_eq!(log_of(slot), [(1, EventStatus::Failed)]);

    let slot = SLOT_FAILED_REG;
    let event = Event::new();
    event.set_failed("already").unwrap();
    event.on_finished_fn(log_cb, ctx(slot, 2)).unwrap();
    assert_eq!(log_of(slot), [(2, EventStatus::Failed)]);
}

static RESET_INSIDE: Event = Event::new();

/// Resets its own event, records it, and registers a callback for the new
/// generation: all from inside a callback of the old one.
fn reset_and_rerecord(status: EventStatus, context: usize) {
    log_cb(status, context);
    RESET_INSIDE.reset().unwrap();
    RESET_INSIDE.record().unwrap();
    RESET_INSIDE
        .on_finished_fn(log_cb, ctx(SLOT_RESET_INSIDE, 100))
        .unwrap();
}

/// A callback that resets, records and registers on its own event does not
/// deadlock; the old generation's later callbacks still run with the old
/// outcome; the callback registered inside belongs to the new generation.
#[test]
fn callback_resets_its_own_event() {
    let slot = SLOT_RESET_INSIDE;
    let event = &RESET_INSIDE;
    event.record().unwrap();
    event.on_finished_fn(log_cb, ctx(slot, 1)).unwrap();
    event
        .on_finished_fn(reset_and_rerecord, ctx(slot, 2))
        .unwrap();
    event.on_finished_fn(log_cb, ctx(slot, 3)).unwrap();
    event.set_finished().unwrap();
    assert_eq!(
        log_of(slot),
        [
            (1, EventStatus::Success),
            (2, EventStatus::Success),
            (3, EventStatus::Success)
        ]
    );
    assert_eq!(event.status(), EventStatus::Scheduled);
    assert_eq!(event.snapshot().generation(), 1);
    event.set_failed("second generation").unwrap();
    assert_eq!(log_of(slot).last(), Some(&(100, EventStatus::Failed)));
    assert_eq!(log_of(slot).len(), 4);
}

static NESTED: Event = Event::new();

/// Resets its event and finishes it again from inside a callback.
fn reset_and_refinish(status: EventStatus, context: usize) {
    log_cb(status, context);
    if status == EventStatus::Success {
        NESTED.reset().unwrap();
        NESTED.on_finished_fn(log_cb, ctx(SLOT_NESTED, 50)).unwrap();
        // Runs the new generation's callback, nested in this one.
        NESTED.set_failed("nested").unwrap();
        // Already finished: runs at once, nested as well.
        NESTED.on_finished_fn(log_cb, ctx(SLOT_NESTED, 51)).unwrap();
    }
}

/// Finishing an event from inside one of its own callbacks runs the new
/// generation's callbacks (nested), with no deadlock and nothing run twice.
#[test]
fn callback_refinishes_its_own_event() {
    let slot = SLOT_NESTED;
    NESTED
        .on_finished_fn(reset_and_refinish, ctx(slot, 1))
        .unwrap();
    NESTED.on_finished_fn(log_cb, ctx(slot, 2)).unwrap();
    NESTED.set_finished().unwrap();
    assert_eq!(
        log_of(slot),
        [
            (1, EventStatus::Success),
            (50, EventStatus::Failed),
            (51, EventStatus::Failed),
            (2, EventStatus::Success),
        ]
    );
    assert_eq!(NESTED.status(), EventStatus::Failed);
    assert_eq!(message_of(&NESTED).as_deref(), Some("nested"));
}

/// Callbacks belong to the generation they were registered in: a reset
/// neither reruns nor drops them, and the next generation's callbacks see
/// the next outcome.
#[test]
fn callbacks_across_reset_belong_to_their_generation() {
    let slot = SLOT_GENERATIONS;
    let event = Event::new();
    event.record().unwrap();
    event.on_finished_fn(log_cb, ctx(slot, 0)).unwrap();
    event.set_failed("gen 0").unwrap();
    event.reset().unwrap();
    event.on_finished_fn(log_cb, ctx(slot, 1)).unwrap();
    assert_eq!(log_of(slot), [(0, EventStatus::Failed)]);
    event.record().unwrap();
    event.on_finished_fn(log_cb, ctx(slot, 2)).unwrap();
    event.set_finished().unwrap();
    event.reset().unwrap();
    event.set_finished().unwrap(); // a generation with no callbacks
    event.reset().unwrap();
    event.on_finished_fn(log_cb, ctx(slot, 3)).unwrap();
    event.set_failed("gen 3").unwrap();
    assert_eq!(
        log_of(slot),
        [
            (0, EventStatus::Failed),
            (1, EventStatus::Success),
            (2, EventStatus::Success),
            (3, EventStatus::Failed),
        ]
    );
}

/// Without `alloc`: `INLINE_CALLBACKS` registrations per generation succeed,
/// the next is refused with `CallbacksFull` and never runs, and a reset makes
/// the storage available again.
#[cfg(not(feature = "alloc"))]
#[test]
fn inline_callback_limit() {
    let slot = SLOT_LIMIT;
    let event = Event::new();
    for generation in 0..3 {
        event.record().unwrap();
        for i in 0..INLINE_CALLBACKS {
            event
                .on_finished_fn(log_cb, ctx(slot, generation * 10 + i))
                .unwrap();
        }
        let status_before = event.status();
        assert_eq!(
            event.on_finished_fn(log_cb, ctx(slot, 999)),
            Err(EventError::CallbacksFull)
        );
        assert_eq!(
            event.on_finished_fn(log_cb, ctx(slot, 998)),
            Err(EventError::CallbacksFull)
        );
        assert_eq!(event.status(), status_before);
        assert_eq!(event.snapshot().generation(), generation as u32);
        event.set_finished().unwrap();
        let log = log_of(slot);
        assert_eq!(log.len(), (generation + 1) * INLINE_CALLBACKS);
        assert!(
            log.iter().all(|&(tag, _)| tag < 900),
            "a refused callback ran"
        );
        // Finished: registration runs at once, whatever the storage holds.
        event
            .on_finished_fn(log_cb, ctx(slot, generation * 10 + 9))
            .unwrap();
        assert_eq!(log_of(slot).len(), (generation + 1) * INLINE_CALLBACKS + 1);
        LOGS[slot].lock().unwrap().pop();
        event.reset().unwrap();
    }
}

/// With `alloc`: no limit on function-pointer callbacks.
#[cfg(feature = "alloc")]
#[test]
fn no_callback_limit_with_alloc() {
    let slot = SLOT_LIMIT;
    let event = Event::new();
    let n = INLINE_CALLBACKS * 8;
    for i in 0..n {
        event.on_finished_fn(log_cb, ctx(slot, i)).unwrap();
    }
    event.set_finished().unwrap();
    let log = log_of(slot);
    assert_eq!(log.len(), n);
    assert!(log.iter().enumerate().all(|(i, &(tag, _))| tag == i));
}

/// Closures run exactly once, in order, with the outcome; on a finished
/// event at once.
#[cfg(feature = "alloc")]
#[test]
fn closures_run_once_in_order() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let event = Event::new();
    event.record().unwrap();
    for i in 0..10 {
        let seen = seen.clone();
        event.on_finished(move |status| seen.lock().unwrap().push((i, status)));
    }
    // Mixed with the function-pointer form, order is still registration order.
    event.on_finished_fn(|_, _| {}, 0).unwrap();
    let seen2 = seen.clone();
    event.on_finished(move |status| seen2.lock().unwrap().push((10, status)));
    assert!(seen.lock().unwrap().is_empty());
    event.set_failed("closure test").unwrap();
    let expected: Vec<_> = (0..11).map(|i| (i, EventStatus::Failed)).collect();
    assert_eq!(*seen.lock().unwrap(), expected);
    let seen3 = seen.clone();
    event.on_finished(move |status| seen3.lock().unwrap().push((11, status)));
    assert_eq!(
        seen.lock().unwrap().last(),
        Some(&(11, EventStatus::Failed))
    );
    // Every closure (and its captured Arc) has been consumed.
    assert_eq!(Arc::strong_count(&seen), 1);
}

/// The slot keeps small closures inline and boxes large ones: both kinds run
/// once with the outcome, are consumed, and are dropped unrun with an
/// unfinished event; the slot is reused generation after generation, with
/// either kind in it.
#[cfg(feature = "alloc")]
#[test]
fn slot_holds_small_and_large_closures() {
    let marker = Arc::new(());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let event = Event::new();
    for generation in 0..4usize {
        let (m, seen2) = (marker.clone(), seen.clone());
        if generation % 2 == 0 {
            // Two words: inline.
            event.on_finished(move |status| {
                drop(m);
                seen2.lock().unwrap().push((generation, status));
            });
        } else {
            // Far more than two words: boxed.
            let big = [generation as u64; 16];
            event.on_finished(move |status| {
                drop(m);
                let sum: u64 = big.iter().sum();
                assert_eq!(sum, 16 * generation as u64);
                seen2.lock().unwrap().push((generation, status));
            });
        }
        event.set_finished().unwrap();
        event.reset().unwrap();
    }
    let expected: Vec<_> = (0..4).map(|g| (g, EventStatus::Success)).collect();
    assert_eq!(*seen.lock().unwrap(), expected);
    assert_eq!(Arc::strong_count(&marker), 1);
    for big in [false, true] {
        let event = Event::new();
        let m = marker.clone();
        if big {
            let payload = [7u64; 16];
            event.on_finished(move |_| {
                drop(m);
                assert_eq!(payload.len(), 16);
                unreachable!("dropped unrun");
            });
        } else {
            event.on_finished(move |_| {
                drop(m);
                unreachable!("dropped unrun");
            });
        }
        assert_eq!(Arc::strong_count(&marker), 2);
        drop(event);
        assert_eq!(Arc::strong_count(&marker), 1, "big = {big}");
    }
}

/// Dropping an event with pending callbacks drops them unrun (and, under
/// miri, frees their storage).
#[test]
fn dropping_an_unfinished_event_drops_callbacks_unrun() {
    let slot = SLOT_DROP;
    {
        let event = Event::new();
        event.record().unwrap();
        for i in 0..INLINE_CALLBACKS {
            event.on_finished_fn(log_cb, ctx(slot, i)).unwrap();
        }
    }
    assert!(log_of(slot).is_empty());
    #[cfg(feature = "alloc")]
    {
        let marker = Arc::new(());
        {
            let event = Event::new();
            for _ in 0..3 {
                let m = marker.clone();
                event.on_finished(move |_| drop(m));
            }
            assert_eq!(Arc::strong_count(&marker), 4);
        }
        assert_eq!(Arc::strong_count(&marker), 1);
    }
}
