//! Wake hooks and `wake::arm`: one hook call per armed generation, none unarmed.

use super::*;

static WAKE_BASIC: Event = Event::new();

/// `Armed` on an unfinished generation; the finish then calls the hook once
/// with that generation and the outcome; arming again (another waiter)
/// still gives one call; afterwards `Finished(outcome)`.
#[test]
fn armed_wake_calls_hook_once_with_generation_and_status() {
    install_hook();
    let event = &WAKE_BASIC;
    event.record().unwrap();
    let seen = event.snapshot();
    assert_eq!(crate::wake::arm(event, seen), WakeArm::Armed);
    assert_eq!(crate::wake::arm(event, seen), WakeArm::Armed);
    assert!(
        hook_calls(event).is_empty(),
        "hook called before the finish"
    );
    event.set_failed("wake me").unwrap();
    assert_eq!(
        hook_calls(event),
        [Finished {
            generation: 0,
            status: EventStatus::Failed
        }]
    );
    assert_eq!(
        crate::wake::arm(event, seen),
        WakeArm::Finished(EventStatus::Failed)
    );
    // Next generation, armed from Initialized (never recorded).
    event.reset().unwrap();
    let seen1 = event.snapshot();
    assert_eq!(seen1.generation(), 1);
    assert_eq!(crate::wake::arm(event, seen1), WakeArm::Armed);
    event.set_finished().unwrap();
    assert_eq!(
        hook_calls(event)[1..],
        [Finished {
            generation: 1,
            status: EventStatus::Success
        }]
    );
    assert_eq!(
        crate::wake::arm(event, seen1),
        WakeArm::Finished(EventStatus::Success)
    );
}

static WAKE_UNARMED: Event = Event::new();

/// No arm, no hook call: finishing costs nothing for nobody.
#[test]
fn unarmed_finish_calls_no_hook() {
    install_hook();
    let event = &WAKE_UNARMED;
    for _ in 0..3 {
        event.record().unwrap();
        event.set_finished().unwrap();
        event.reset().unwrap();
        event.set_failed("x").unwrap();
        // Arming a finished generation gives `Finished` and no call.
        assert_eq!(
            crate::wake::arm(event, event.snapshot()),
            WakeArm::Finished(EventStatus::Failed)
        );
        event.reset().unwrap();
    }
    assert!(hook_calls(event).is_empty());
}

static WAKE_AFTER_RESET: Event = Event::new();

/// A snapshot of a generation that finished and was reset (and recorded
/// again) gives `Finished(outcome of that generation)`, for both outcomes,
/// and never arms the new generation.
#[test]
fn arm_after_reset_reports_previous_outcome() {
    install_hook();
    let event = &WAKE_AFTER_RESET;
    for outcome in [
        EventStatus::Failed,
        EventStatus::Success,
        EventStatus::Failed,
    ] {
        event.record().unwrap();
        let seen = event.snapshot();
        match outcome {
            EventStatus::Success => event.set_finished().unwrap(),
            _ => event.set_failed("gone").unwrap(),
        }
        event.reset().unwrap();
        assert_eq!(crate::wake::arm(event, seen), WakeArm::Finished(outcome));
        event.record().unwrap();
        assert_eq!(crate::wake::arm(event, seen), WakeArm::Finished(outcome));
        // The new generation was not armed by the stale snapshot.
        assert_eq!(word(event) & super::state::WAITERS, 0);
        event.set_finished().unwrap();
        event.reset().unwrap();
    }
    assert!(hook_calls(event).is_empty());
}

static WAKE_INIT_RESET: Event = Event::new();

/// A no-op reset of an armed `Initialized` event keeps the arm.
#[test]
fn noop_reset_keeps_the_arm() {
    install_hook();
    let event = &WAKE_INIT_RESET;
    let seen = event.snapshot();
    assert_eq!(crate::wake::arm(event, seen), WakeArm::Armed);
    event.reset().unwrap();
    event.set_finished().unwrap();
    assert_eq!(
        hook_calls(event),
        [Finished {
            generation: 0,
            status: EventStatus::Success
        }]
    );
}

fn other_hook(_: &Event, _: Finished) {}

/// Registering the same hook twice is fine; `HookError` explains itself.
#[test]
fn hook_registration_is_idempotent() {
    static OTHER: WakeHook = WakeHook::new("other", other_hook);
    install_hook();
    install_hook();
    register_wake_hook(&OTHER).unwrap();
    register_wake_hook(&OTHER).unwrap();
    assert_eq!(OTHER.name(), "other");
    assert!(format!("{OTHER:?}").contains("other"));
    let text = HookError::Full.to_string();
    assert!(text.contains("one hook per shell"), "{text}");
}
