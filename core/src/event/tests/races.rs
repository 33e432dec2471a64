//! Multi-thread races (small; loom checks the same races exhaustively).

use super::*;

/// `set_finished` racing `set_failed`: exactly one wins, and status and
/// message agree with the winner.
#[test]
fn race_finish_against_fail() {
    let event = Arc::new(Event::new());
    for _ in 0..RACE_ITERS {
        event.record().unwrap();
        let barrier = Arc::new(Barrier::new(2));
        let (e, b) = (event.clone(), barrier.clone());
        let failer = thread::spawn(move || {
            b.wait();
            e.set_failed("failer won").is_ok()
        });
        barrier.wait();
        let finished = event.set_finished().is_ok();
        let failed = failer.join().unwrap();
        assert!(finished ^ failed, "finished {finished}, failed {failed}");
        if failed {
            assert_eq!(event.status(), EventStatus::Failed);
            assert_eq!(message_of(&event).as_deref(), Some("failer won"));
        } else {
            assert_eq!(event.status(), EventStatus::Success);
            assert!(event.error_message().is_none());
        }
        event.reset().unwrap();
    }
}

/// Callbacks registered by two threads while a third finishes: each runs
/// exactly once with the outcome.
#[cfg(feature = "alloc")]
#[test]
fn race_registrations_against_finish() {
    let event = Arc::new(Event::new());
    let per_thread = if cfg!(miri) { 3 } else { 20 };
    for round in 0..RACE_ITERS / 4 + 1 {
        let runs = Arc::new(Mutex::new(Vec::new()));
        let outcome = if round % 2 == 0 {
            EventStatus::Success
        } else {
            EventStatus::Failed
        };
        let barrier = Arc::new(Barrier::new(3));
        let registrars: Vec<_> = (0..2)
            .map(|t| {
                let (e, b, runs) = (event.clone(), barrier.clone(), runs.clone());
                thread::spawn(move || {
                    b.wait();
                    for i in 0..per_thread {
                        let runs = runs.clone();
                        e.on_finished(move |s| runs.lock().unwrap().push((t, i, s)));
                    }
                })
            })
            .collect();
        barrier.wait();
        match outcome {
            EventStatus::Success => event.set_finished().unwrap(),
            _ => event.set_failed("f").unwrap(),
        }
        for r in registrars {
            r.join().unwrap();
        }
        let mut runs = runs.lock().unwrap().clone();
        assert_eq!(runs.len(), 2 * per_thread);
        assert!(runs.iter().all(|&(_, _, s)| s == outcome));
        // Each callback ran exactly once.
        runs.sort_by_key(|&(t, i, _)| (t, i));
        runs.dedup_by_key(|&mut (t, i, _)| (t, i));
        assert_eq!(runs.len(), 2 * per_thread, "a callback ran twice");
        event.reset().unwrap();
    }
}

/// `error_message` racing `reset` + `set_failed` with a message of another
/// length: the copy is `None` or exactly one of the two messages.
#[test]
fn race_error_message_against_reset_and_fail() {
    const A: &str = "short";
    const B: &str = "a much longer message that spans many words of the cell";
    let event = Arc::new(Event::new());
    event.set_failed(A).unwrap();
    let writer = {
        let e = event.clone();
        thread::spawn(move || {
            for i in 0..RACE_ITERS {
                e.reset().unwrap();
                e.set_failed(if i % 2 == 0 { B } else { A }).unwrap();
            }
        })
    };
    let mut seen = [0usize; 3];
    while !writer.is_finished() {
        match event.error_message() {
            None => seen[0] += 1,
            Some(m) if m == A => seen[1] += 1,
            Some(m) if m == B => seen[2] += 1,
            Some(m) => panic!("torn message: {m:?}"),
        }
        thread::yield_now();
    }
    writer.join().unwrap();
    assert!(matches!(message_of(&event).as_deref(), Some(A | B)));
}

static WAKE_RACE: Event = Event::new();

/// A waiter (snapshot, wake::arm, wait for the hook) racing a thread that
/// finishes, resets and records again: the waiter is never stranded and
/// learns the outcome of the generation it saw.
#[test]
fn race_waiter_against_finish_reset_record() {
    install_hook();
    let event = &WAKE_RACE;
    event.record().unwrap();
    for round in 0..RACE_ITERS {
        let outcome = if round % 3 == 0 {
            EventStatus::Failed
        } else {
            EventStatus::Success
        };
        let barrier = Barrier::new(2);
        thread::scope(|s| {
            let waiter = s.spawn(|| {
                // Snapshot first, arm after the finisher is released: the
                // finish, reset and record may all land before the arm.
                let seen = event.snapshot();
                barrier.wait();
                match crate::wake::arm(event, seen) {
                    WakeArm::Finished(status) => (seen.generation(), status),
                    WakeArm::Armed => {
                        let mut spins = 0;
                        loop {
                            let hit = hook_calls(event)
                                .into_iter()
                                .rev()
                                .find(|c| c.generation == seen.generation());
                            if let Some(c) = hit {
                                return (seen.generation(), c.status);
                            }
                            spins += 1;
                            assert!(spins < SPIN_LIMIT, "waiter stranded at {seen:?}");
                            thread::yield_now();
                        }
                    }
                }
            });
            let generation = event.snapshot().generation();
            barrier.wait();
            match outcome {
                EventStatus::Success => event.set_finished().unwrap(),
                _ => event.set_failed("").unwrap(),
            }
            event.reset().unwrap();
            event.record().unwrap();
            let (seen_gen, status) = waiter.join().unwrap();
            // The waiter saw this round's generation (it snapshotted before
            // the finisher started) and learned its outcome.
            assert_eq!(seen_gen, generation);
            assert_eq!(status, outcome, "round {round}");
        });
    }
    // Each hook call is for a distinct generation: nothing woken twice.
    let calls = hook_calls(event);
    let mut gens: Vec<u32> = calls.iter().map(|c| c.generation).collect();
    gens.dedup();
    assert_eq!(gens.len(), calls.len());
}

/// `reset` racing a callback registration on a finished-then-reset event:
/// the callback runs exactly once, with the outcome of the generation it
/// joined (the registration pin keeps the generation from moving under it).
#[cfg(feature = "alloc")]
#[test]
fn race_reset_against_registration() {
    let event = Arc::new(Event::new());
    for _ in 0..RACE_ITERS {
        event.record().unwrap();
        let ran = Arc::new(Mutex::new(Vec::new()));
        let barrier = Arc::new(Barrier::new(2));
        let (e, b, r) = (event.clone(), barrier.clone(), ran.clone());
        let registrar = thread::spawn(move || {
            b.wait();
            e.on_finished(move |s| r.lock().unwrap().push(s));
        });
        barrier.wait();
        event.set_failed("gen a").unwrap();
        event.reset().unwrap();
        registrar.join().unwrap();
        let runs = ran.lock().unwrap().clone();
        match runs.as_slice() {
            // Joined the failed generation.
            [EventStatus::Failed] => {}
            // Joined the new generation: pending until it finishes.
            [] => {
                event.set_finished().unwrap();
                assert_eq!(*ran.lock().unwrap(), [EventStatus::Success]);
            }
            other => panic!("callback runs: {other:?}"),
        }
        event.set_finished().ok();
        event.reset().unwrap();
    }
}

/// No-alloc form of the registration races: two threads fill the inline
/// storage while a third finishes; every accepted callback runs once.
#[test]
fn race_fn_registrations_against_finish() {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    fn count(status: EventStatus, expected: usize) {
        assert_eq!(status as usize, expected);
        RUNS.fetch_add(1, Ordering::Relaxed);
    }
    let event = Arc::new(Event::new());
    for round in 0..RACE_ITERS {
        RUNS.store(0, Ordering::Relaxed);
        let outcome = if round % 2 == 0 {
            EventStatus::Success
        } else {
            EventStatus::Failed
        };
        let barrier = Arc::new(Barrier::new(3));
        let registrars: Vec<_> = (0..2)
            .map(|_| {
                let (e, b) = (event.clone(), barrier.clone());
                thread::spawn(move || {
                    b.wait();
                    (0..INLINE_CALLBACKS / 2 + 1)
                        .filter(|_| e.on_finished_fn(count, outcome as usize).is_ok())
                        .count()
                })
            })
            .collect();
        barrier.wait();
        match outcome {
            EventStatus::Success => event.set_finished().unwrap(),
            _ => event.set_failed("f").unwrap(),
        }
        let accepted: usize = registrars.into_iter().map(|r| r.join().unwrap()).sum();
        assert_eq!(RUNS.load(Ordering::Relaxed), accepted);
        #[cfg(feature = "alloc")]
        assert_eq!(accepted, 2 * (INLINE_CALLBACKS / 2 + 1));
        #[cfg(not(feature = "alloc"))]
        assert!(accepted >= INLINE_CALLBACKS);
        event.reset().unwrap();
    }
}
