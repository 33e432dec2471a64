//! The transition table: every status against every call, generations, queries and messages of `EventError`.

use super::*;

/// Every status × every call, at generation 0, at a later generation and at
/// the last generation before the counter wraps: the result is the table's,
/// and a refused call leaves the whole state word (generation, flags) and the
/// message unchanged.
#[test]
fn transition_table_every_status_and_call() {
    for start_gen in [0, 5, GEN_MODULUS - 1] {
        for from in STATUSES {
            for call in CALLS {
                let event = Event::new();
                if start_gen == GEN_MODULUS - 1 {
                    // Jump straight to the last generation (a fresh event
                    // with no flags set).
                    event
                        .state
                        .store((GEN_MODULUS - 1) << GEN_SHIFT, Ordering::SeqCst);
                } else {
                    advance_generations(&event, start_gen);
                }
                drive_to(&event, from);
                let before = word(&event);
                let message_before = message_of(&event);
                let gen_before = event.snapshot().generation();
                assert_eq!(gen_before, start_gen);

                let result = call.apply(&event);
                let context = format!("{from:?} --{call:?}--> at gen {start_gen}");
                match table(from, call) {
                    Err(expected) => {
                        assert_eq!(result, Err(expected), "{context}");
                        assert_eq!(word(&event), before, "{context}: word changed on error");
                        assert_eq!(message_of(&event), message_before, "{context}");
                    }
                    Ok((to, gen_moves)) => {
                        assert_eq!(result, Ok(()), "{context}");
                        assert_eq!(event.status(), to, "{context}");
                        let expected_gen = if gen_moves {
                            (gen_before + 1) % GEN_MODULUS
                        } else {
                            gen_before
                        };
                        assert_eq!(event.snapshot().generation(), expected_gen, "{context}");
                        // Every successful call leaves a non-Failed event,
                        // except set_failed, which stores its own message.
                        let expected_message =
                            (call == Call::SetFailed).then(|| "second failure".to_string());
                        assert_eq!(message_of(&event), expected_message, "{context}");
                        if from == EventStatus::Initialized && call == Call::Reset {
                            assert_eq!(word(&event), before, "{context}: reset of Initialized");
                        }
                    }
                }
            }
        }
    }
}

/// The generation wraps to 0 after `GEN_MODULUS - 1`, and a reset records
/// whether the generation it leaves failed.
#[test]
fn reset_moves_generation_and_remembers_outcome() {
    let event = Event::new();
    event
        .state
        .store((GEN_MODULUS - 1) << GEN_SHIFT, Ordering::SeqCst);
    event.set_failed("x").unwrap();
    event.reset().unwrap();
    assert_eq!(event.snapshot().generation(), 0);
    assert_eq!(event.status(), EventStatus::Initialized);
    assert_ne!(word(&event) & PREV_FAILED, 0);
    event.set_finished().unwrap();
    event.reset().unwrap();
    assert_eq!(event.snapshot().generation(), 1);
    assert_eq!(word(&event) & PREV_FAILED, 0);
    // The word after a reset holds nothing but the generation and PF.
    assert_eq!(word(&event), 1 << GEN_SHIFT);
}

/// Recording again after every kind of reset works: the event is reusable.
#[test]
fn reset_events_are_reusable_many_times() {
    let event = Event::new();
    let rounds = if cfg!(miri) { 20 } else { 1_000 };
    for round in 0..rounds {
        assert_eq!(event.snapshot().generation(), round);
        event.record().unwrap();
        if round % 2 == 0 {
            event.set_finished().unwrap();
            assert!(event.error_message().is_none());
        } else {
            event.set_failed("odd round").unwrap();
            assert_eq!(message_of(&event).as_deref(), Some("odd round"));
        }
        event.reset().unwrap();
        assert!(event.error_message().is_none());
    }
}

/// `status`, `is_finished`, `is_scheduled`, `snapshot` and the formatting
/// of statuses, snapshots and events agree with each other.
#[test]
fn queries_and_formatting_agree() {
    let event = Event::default();
    for status in STATUSES {
        let event_for = Event::new();
        drive_to(&event_for, status);
        assert_eq!(event_for.is_finished(), status.is_finished());
        assert_eq!(event_for.is_scheduled(), status == EventStatus::Scheduled);
        assert_eq!(event_for.snapshot().status(), status);
        let debug = format!("{event_for:?}");
        assert!(debug.contains(&format!("{status:?}")), "{debug}");
        assert!(debug.contains("generation"), "{debug}");
    }
    assert_eq!(EventStatus::Initialized.to_string(), "initialized");
    assert_eq!(EventStatus::Scheduled.to_string(), "scheduled");
    assert_eq!(EventStatus::Success.to_string(), "success");
    assert_eq!(EventStatus::Failed.to_string(), "failed");
    assert!(!event.is_finished());
    for (i, status) in STATUSES.into_iter().enumerate() {
        assert_eq!(status as u8 as usize, i);
        assert_eq!(EventStatus::from_bits(i as u32), status);
    }
}

/// Every `EventError` says what was wrong and what to do, and is an
/// `Error`.
#[test]
fn event_error_messages_say_what_to_do() {
    let cases = [
        (EventError::AlreadyRecorded, "finish"),
        (EventError::AlreadyFinished, "reset"),
        (EventError::InFlight, "finish"),
        (EventError::CallbacksFull, "alloc"),
    ];
    for (error, hint) in cases {
        let text = error.to_string();
        assert!(text.contains(hint), "{error:?}: {text}");
        let as_error: &dyn core::error::Error = &error;
        assert!(as_error.source().is_none());
    }
}
