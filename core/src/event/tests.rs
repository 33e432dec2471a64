//! Unit tests of the completion event, the wake-hook contract and the backend
//! registry. They run natively and under miri (sizes scaled down there), both
//! without and with the `alloc` feature.
//!
//! The wake-hook registry and the backend registry are process-wide, and the
//! test harness runs tests on several threads at once. So every test that
//! arms a wake-up uses its own `static` event (a unique address the shared
//! hook log is filtered by), and every test that fills a registry slot uses
//! device ids no other test touches.
//!
//! Not built under loom: the statics below need `Event::new` to be `const`.
#![cfg(not(evlatch_loom))]

use std::format;
use std::string::{String, ToString};
use std::sync::{Arc, Barrier, Mutex};
use std::thread;
use std::vec::Vec;

use super::state::{GEN_MODULUS, GEN_SHIFT, PREV_FAILED};
use super::*;
use crate::backend::{self, Backend, BackendError, DeviceEvent, DeviceType, MAX_DEVICE_TYPES};
use crate::sync::AtomicUsize;
use crate::wake::{register_wake_hook, Finished, HookError, WakeHook};

/// Repetitions of each multi-thread race (miri runs far fewer).
const RACE_ITERS: usize = if cfg!(miri) { 4 } else { 2_000 };

/// Spins allowed before a waiter is declared stranded (a hang detector, not
/// a timing assertion: a correct waiter is woken long before).
const SPIN_LIMIT: usize = if cfg!(miri) { 100_000 } else { 50_000_000 };

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// The four statuses, in table order.
const STATUSES: [EventStatus; 4] = [
    EventStatus::Initialized,
    EventStatus::Scheduled,
    EventStatus::Success,
    EventStatus::Failed,
];

/// The message every `Failed` event built by [`drive_to`] carries.
const FIRST_FAILURE: &str = "first failure";

/// One call of the transition table.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Call {
    Record,
    SetFinished,
    SetFailed,
    Reset,
}

const CALLS: [Call; 4] = [
    Call::Record,
    Call::SetFinished,
    Call::SetFailed,
    Call::Reset,
];

impl Call {
    fn apply(self, event: &Event) -> Result<(), EventError> {
        match self {
            Call::Record => event.record(),
            Call::SetFinished => event.set_finished(),
            Call::SetFailed => event.set_failed("second failure"),
            Call::Reset => event.reset(),
        }
    }
}

/// What the design's table says `call` does from `from`: the status after
/// and whether the generation moves, or the error.
fn table(from: EventStatus, call: Call) -> Result<(EventStatus, bool), EventError> {
    use EventStatus::*;
    match (from, call) {
        (Initialized, Call::Record) => Ok((Scheduled, false)),
        (Scheduled, Call::Record) => Err(EventError::AlreadyRecorded),
        (Success | Failed, Call::Record) => Err(EventError::AlreadyFinished),
        (Initialized | Scheduled, Call::SetFinished) => Ok((Success, false)),
        (Success | Failed, Call::SetFinished) => Err(EventError::AlreadyFinished),
        (Initialized | Scheduled, Call::SetFailed) => Ok((Failed, false)),
        (Success | Failed, Call::SetFailed) => Err(EventError::AlreadyFinished),
        (Initialized, Call::Reset) => Ok((Initialized, false)),
        (Scheduled, Call::Reset) => Err(EventError::InFlight),
        (Success | Failed, Call::Reset) => Ok((Initialized, true)),
    }
}

/// Moves a fresh-generation (`Initialized`) event to `status`.
fn drive_to(event: &Event, status: EventStatus) {
    assert_eq!(event.status(), EventStatus::Initialized);
    match status {
        EventStatus::Initialized => {}
        EventStatus::Scheduled => event.record().unwrap(),
        EventStatus::Success => {
            event.record().unwrap();
            event.set_finished().unwrap();
        }
        EventStatus::Failed => {
            event.record().unwrap();
            event.set_failed(FIRST_FAILURE).unwrap();
        }
    }
    assert_eq!(event.status(), status);
}

/// Moves an event forward `n` generations (finish + reset each).
fn advance_generations(event: &Event, n: u32) {
    for _ in 0..n {
        event.set_finished().unwrap();
        event.reset().unwrap();
    }
}

/// The raw state word (the tests live inside the crate).
fn word(event: &Event) -> u32 {
    event.state.load(Ordering::SeqCst)
}

fn message_of(event: &Event) -> Option<String> {
    event.error_message().map(|m| m.as_str().to_string())
}

/// Logs for function-pointer callbacks. A callback's context is
/// `slot * 1000 + tag`; each test that logs owns one slot.
static LOGS: [Mutex<Vec<(usize, EventStatus)>>; 16] = [const { Mutex::new(Vec::new()) }; 16];

const fn ctx(slot: usize, tag: usize) -> usize {
    slot * 1000 + tag
}

fn log_cb(status: EventStatus, context: usize) {
    LOGS[context / 1000]
        .lock()
        .unwrap()
        .push((context % 1000, status));
}

fn log_of(slot: usize) -> Vec<(usize, EventStatus)> {
    LOGS[slot].lock().unwrap().clone()
}

// Slots of `LOGS`, one per test.
const SLOT_ORDER: usize = 0;
const SLOT_IMMEDIATE: usize = 1;
const SLOT_RESET_INSIDE: usize = 2;
const SLOT_GENERATIONS: usize = 3;
const SLOT_LIMIT: usize = 4;
const SLOT_NESTED: usize = 5;
const SLOT_DROP: usize = 6;
const SLOT_INIT_RESET: usize = 7;
const SLOT_BACKEND: usize = 8;
const SLOT_FAILED_REG: usize = 9;
const SLOT_PANIC_FN: usize = 10;
const SLOT_PANIC_HOOK: usize = 11;

/// Every wake-hook call: (event address, completion).
static HOOK_LOG: Mutex<Vec<(usize, Finished)>> = Mutex::new(Vec::new());

fn logging_hook(event: &Event, done: Finished) {
    HOOK_LOG
        .lock()
        .unwrap()
        .push((event as *const Event as usize, done));
}

static LOGGING_HOOK: WakeHook = WakeHook::new("evlatch-unit-tests", logging_hook);

fn install_hook() {
    register_wake_hook(&LOGGING_HOOK).unwrap();
}

/// The hook calls made so far for `event`.
fn hook_calls(event: &Event) -> Vec<Finished> {
    let addr = event as *const Event as usize;
    HOOK_LOG
        .lock()
        .unwrap()
        .iter()
        .filter(|(a, _)| *a == addr)
        .map(|(_, c)| *c)
        .collect()
}

// ---------------------------------------------------------------------------
// The transition table
// ---------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------
// The failure message
// ---------------------------------------------------------------------------

/// Messages longer than `MESSAGE_CAPACITY` are cut at a character boundary
/// (for characters of every UTF-8 width straddling the limit), and
/// `is_truncated` and `Display` say so; messages that fit are kept whole.
#[test]
fn message_truncated_at_utf8_boundary() {
    let cap = MESSAGE_CAPACITY;
    let cases: Vec<(String, usize, bool)> = std::vec![
        (String::new(), 0, false),
        ("a".repeat(cap), cap, false),
        ("a".repeat(cap + 1), cap, true),
        // A 2-byte char starting at byte cap-1 does not fit.
        ("a".repeat(cap - 1) + "é", cap - 1, true),
        // A 3-byte char starting at cap-2 does not fit; one at cap-3 does.
        ("a".repeat(cap - 2) + "€", cap - 2, true),
        ("a".repeat(cap - 3) + "€", cap, false),
        ("a".repeat(cap - 3) + "€b", cap, true),
        // 4-byte chars: 32 fit exactly, the 33rd is cut whole.
        ("😀".repeat(33), cap, true),
        ("a".repeat(cap - 1) + "😀", cap - 1, true),
        ("a".repeat(cap - 3) + "😀", cap - 3, true),
        ("é".repeat(100), cap, true),
        ("x".repeat(1 << 16), cap, true),
    ];
    for (input, kept, truncated) in cases {
        let event = Event::new();
        event.set_failed(&input).unwrap();
        let msg = event.error_message().unwrap();
        assert_eq!(msg.len(), kept, "input of {} bytes", input.len());
        assert_eq!(msg.as_str(), &input[..kept]);
        assert_eq!(
            msg.is_truncated(),
            truncated,
            "input of {} bytes",
            input.len()
        );
        let shown = msg.to_string();
        if truncated {
            assert_eq!(shown, format!("{}…", &input[..kept]));
        } else {
            assert_eq!(shown, input);
            assert_eq!(msg, input.as_str());
        }
        let debug = format!("{msg:?}");
        assert!(debug.contains("truncated"), "{debug}");
    }
}

/// Bad input never panics: empty messages, NULs, control characters, a
/// megabyte of text; they come back exactly (up to the capacity).
#[test]
fn odd_messages_are_kept_exactly() {
    let big = "ü".repeat(if cfg!(miri) { 2_000 } else { 500_000 });
    let inputs: [&str; 5] = ["", "\0", "\0\0\0\0\0", "line\nbreak\r\t\u{7f}", &big];
    for input in inputs {
        let event = Event::new();
        event.set_failed(input).unwrap();
        let msg = event.error_message().unwrap();
        let kept = input.len().min(MESSAGE_CAPACITY);
        assert_eq!(msg.as_str(), &input[..kept]);
        assert_eq!(&*msg, &input[..kept]);
    }
}

/// `error_message` is `Some` exactly while the status is `Failed`, and a
/// later, shorter message shows no bytes of an earlier, longer one.
#[test]
fn error_message_only_when_failed() {
    let event = Event::new();
    assert!(event.error_message().is_none());
    event.record().unwrap();
    assert!(event.error_message().is_none());
    event.set_finished().unwrap();
    assert!(event.error_message().is_none());
    event.reset().unwrap();

    event
        .set_failed("a fairly long first message, over one word")
        .unwrap();
    assert_eq!(
        message_of(&event).as_deref(),
        Some("a fairly long first message, over one word")
    );
    // Refused calls keep it.
    assert!(event.set_failed("other").is_err());
    assert!(event.set_finished().is_err());
    assert!(event.record().is_err());
    assert_eq!(
        message_of(&event).as_deref(),
        Some("a fairly long first message, over one word")
    );
    event.reset().unwrap();
    assert!(event.error_message().is_none());
    event.record().unwrap();
    assert!(event.error_message().is_none());
    event.set_failed("short").unwrap();
    let msg = event.error_message().unwrap();
    assert_eq!(msg.as_str(), "short");
    assert!(!msg.is_truncated());
    event.reset().unwrap();
    event.set_finished().unwrap();
    assert!(event.error_message().is_none());
}

/// An `ErrorMessage` is an owned copy: it survives a reset and a new
/// failure of its event.
#[test]
fn error_message_is_an_owned_copy() {
    let event = Event::new();
    event.set_failed("old").unwrap();
    let old = event.error_message().unwrap();
    event.reset().unwrap();
    event.set_failed("new message").unwrap();
    assert_eq!(old.as_str(), "old");
    assert_eq!(message_of(&event).as_deref(), Some("new message"));
    assert_ne!(old, event.error_message().unwrap());
}

// ---------------------------------------------------------------------------
// Callbacks
// ---------------------------------------------------------------------------

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

/// The message of every panic these tests raise on purpose.
const ON_PURPOSE: &str = "panics on purpose";

/// Runs `f`, which must panic with [`ON_PURPOSE`], and returns once the panic
/// has been caught.
fn expect_panic(f: impl FnOnce()) {
    let payload = std::panic::catch_unwind(core::panic::AssertUnwindSafe(f))
        .expect_err("the call did not panic");
    let message = match payload.downcast_ref::<String>() {
        Some(m) => m.as_str(),
        None => payload.downcast_ref::<&str>().copied().unwrap_or(""),
    };
    assert_eq!(message, ON_PURPOSE);
}

/// A function-pointer callback that panics when its tag is 900, and logs
/// otherwise.
fn log_or_panic(status: EventStatus, context: usize) {
    if context % 1000 == 900 {
        panic!("{}", ON_PURPOSE);
    }
    log_cb(status, context);
}

/// Function-pointer form: with three callbacks, whichever one panics, the
/// other two still run exactly once, in order, on the finisher; the panic
/// comes out of `set_finished`; the status is final, and the event resets and
/// runs the next generation's callbacks normally.
#[test]
fn panicking_fn_callback_loses_nothing() {
    let slot = SLOT_PANIC_FN;
    let event = Event::new();
    for panicking in 0..3 {
        LOGS[slot].lock().unwrap().clear();
        event.record().unwrap();
        for i in 0..3 {
            let tag = if i == panicking { 900 } else { i };
            event.on_finished_fn(log_or_panic, ctx(slot, tag)).unwrap();
        }
        expect_panic(|| event.set_finished().unwrap());
        let expected: Vec<_> = (0..3)
            .filter(|&i| i != panicking)
            .map(|i| (i, EventStatus::Success))
            .collect();
        assert_eq!(log_of(slot), expected, "panicking callback {panicking}");
        assert_eq!(event.status(), EventStatus::Success);
        assert_eq!(event.set_finished(), Err(EventError::AlreadyFinished));
        // A late registration runs at once (and its panic is its own).
        event.on_finished_fn(log_cb, ctx(slot, 7)).unwrap();
        expect_panic(|| event.on_finished_fn(log_or_panic, ctx(slot, 900)).unwrap());
        event.reset().unwrap();
        event.record().unwrap();
        event.on_finished_fn(log_cb, ctx(slot, 8)).unwrap();
        event.set_failed("next generation").unwrap();
        let log = log_of(slot);
        assert_eq!(
            log[log.len() - 2..],
            [(7, EventStatus::Success), (8, EventStatus::Failed)]
        );
        event.reset().unwrap();
    }
}

/// Closure form: three closures, the second panics; the first and third run
/// exactly once, every closure is consumed (nothing leaked, nothing dropped
/// unrun), the status is final and the event is reusable.
#[cfg(feature = "alloc")]
#[test]
fn panicking_closure_loses_nothing() {
    let ran = Arc::new(Mutex::new(Vec::new()));
    let event = Arc::new(Event::new());
    event.record().unwrap();
    for i in 0..3 {
        let ran = ran.clone();
        event.on_finished(move |status| {
            if i == 1 {
                panic!("{}", ON_PURPOSE);
            }
            ran.lock().unwrap().push((i, status));
        });
    }
    expect_panic(|| event.set_finished().unwrap());
    assert_eq!(
        *ran.lock().unwrap(),
        [(0, EventStatus::Success), (2, EventStatus::Success)]
    );
    assert_eq!(Arc::strong_count(&ran), 1, "a closure was not consumed");
    assert_eq!(event.status(), EventStatus::Success);
    event.reset().unwrap();
    event.record().unwrap();
    let again = ran.clone();
    event.on_finished(move |status| again.lock().unwrap().push((3, status)));
    event.set_finished().unwrap();
    assert_eq!(ran.lock().unwrap().last(), Some(&(3, EventStatus::Success)));
}

/// Set in the child process of [`second_panic_while_unwinding_aborts`].
const DOUBLE_PANIC_CHILD: &str = "EVLATCH_TEST_DOUBLE_PANIC_CHILD";

/// The documented limit: a second callback panicking while the first panic
/// unwinds aborts the process (the `no_std` core cannot catch a panic). Runs
/// the finish in a child process (this test binary again) and checks that it
/// died of an abort rather than returning. Not under miri (no processes).
#[cfg(not(miri))]
#[test]
fn second_panic_while_unwinding_aborts() {
    if std::env::var_os(DOUBLE_PANIC_CHILD).is_some() {
        // The child: two panicking callbacks, then a finish.
        let event = Event::new();
        event
            .on_finished_fn(log_or_panic, ctx(SLOT_PANIC_FN, 900))
            .unwrap();
        event
            .on_finished_fn(log_or_panic, ctx(SLOT_PANIC_FN, 900))
            .unwrap();
        let _ = std::panic::catch_unwind(core::panic::AssertUnwindSafe(|| event.set_finished()));
        // Not reached: the second panic aborts.
        std::process::exit(0);
    }
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "event::tests::second_panic_while_unwinding_aborts",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(DOUBLE_PANIC_CHILD, "1")
        .output()
        .unwrap();
    assert!(!output.status.success(), "the child returned normally");
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        // SIGABRT.
        assert_eq!(output.status.signal(), Some(6), "{output:?}");
    }
}

/// The one event the panicking test hook panics for.
static PANIC_HOOK_EVENT: Event = Event::new();

/// Panics for [`PANIC_HOOK_EVENT`] only; every other event passes.
fn panicking_hook(event: &Event, _: Finished) {
    if core::ptr::eq(event, &PANIC_HOOK_EVENT) {
        panic!("{}", ON_PURPOSE);
    }
}

/// Counts its calls for [`PANIC_HOOK_EVENT`]; registered after
/// [`panicking_hook`], so it sits in a later slot.
fn after_panicking_hook(event: &Event, done: Finished) {
    if core::ptr::eq(event, &PANIC_HOOK_EVENT) {
        LOGS[SLOT_PANIC_HOOK]
            .lock()
            .unwrap()
            .push((500 + done.generation as usize, done.status));
    }
}

/// A wake hook that panics (a waiter's wake failing) stops neither the hooks
/// after it nor the callbacks: all still run, then the panic comes out of the
/// finish; the status is final and the event resets.
#[test]
fn panicking_wake_hook_loses_nothing() {
    static PANICKY: WakeHook = WakeHook::new("evlatch-unit-tests-panicky", panicking_hook);
    static AFTER: WakeHook = WakeHook::new("evlatch-unit-tests-after", after_panicking_hook);
    let slot = SLOT_PANIC_HOOK;
    register_wake_hook(&PANICKY).unwrap();
    register_wake_hook(&AFTER).unwrap();
    let event = &PANIC_HOOK_EVENT;
    event.record().unwrap();
    assert_eq!(crate::wake::arm(&event, event.snapshot()), WakeArm::Armed);
    event.on_finished_fn(log_cb, ctx(slot, 0)).unwrap();
    event.on_finished_fn(log_cb, ctx(slot, 1)).unwrap();
    expect_panic(|| event.set_failed("hook test").unwrap());
    assert_eq!(
        log_of(slot),
        [
            (500, EventStatus::Failed),
            (0, EventStatus::Failed),
            (1, EventStatus::Failed)
        ]
    );
    assert_eq!(event.status(), EventStatus::Failed);
    assert_eq!(event.error_message().unwrap().as_str(), "hook test");
    event.reset().unwrap();
    // Not armed: no hook call, no panic.
    event.on_finished_fn(log_cb, ctx(slot, 2)).unwrap();
    event.set_finished().unwrap();
    assert_eq!(log_of(slot).last(), Some(&(2, EventStatus::Success)));
}

// ---------------------------------------------------------------------------
// Wake hooks and arm_wake
// ---------------------------------------------------------------------------

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
    assert_eq!(crate::wake::arm(&event, seen), WakeArm::Armed);
    assert_eq!(crate::wake::arm(&event, seen), WakeArm::Armed);
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
        crate::wake::arm(&event, seen),
        WakeArm::Finished(EventStatus::Failed)
    );
    // Next generation, armed from Initialized (never recorded).
    event.reset().unwrap();
    let seen1 = event.snapshot();
    assert_eq!(seen1.generation(), 1);
    assert_eq!(crate::wake::arm(&event, seen1), WakeArm::Armed);
    event.set_finished().unwrap();
    assert_eq!(
        hook_calls(event)[1..],
        [Finished {
            generation: 1,
            status: EventStatus::Success
        }]
    );
    assert_eq!(
        crate::wake::arm(&event, seen1),
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
            crate::wake::arm(&event, event.snapshot()),
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
fn arm_wake_after_reset_reports_previous_outcome() {
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
        assert_eq!(crate::wake::arm(&event, seen), WakeArm::Finished(outcome));
        event.record().unwrap();
        assert_eq!(crate::wake::arm(&event, seen), WakeArm::Finished(outcome));
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
    assert_eq!(crate::wake::arm(&event, seen), WakeArm::Armed);
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

// ---------------------------------------------------------------------------
// Multi-thread races (small; loom checks the same races exhaustively)
// ---------------------------------------------------------------------------

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

/// A waiter (snapshot, arm_wake, wait for the hook) racing a thread that
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
                match crate::wake::arm(&event, seen) {
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

// ---------------------------------------------------------------------------
// Backends and the registry
// ---------------------------------------------------------------------------
// Device ids used here: 2 (backend slot), 3 (wait matrix). The CPU→CPU wait
// is never registered in this crate's tests (so `finish` spins here).

/// The CPU backend is there from the start; its slot cannot be taken again,
/// and a custom slot can be filled exactly once.
#[test]
fn backend_registered_twice_is_an_error() {
    let cpu = backend::lookup(DeviceType::CPU).unwrap();
    assert_eq!(cpu.name(), "cpu");
    assert_eq!(cpu.device_type(), DeviceType::CPU);
    assert!(cpu.supports_callbacks());
    static FAKE_CPU: Backend = Backend::new("fake-cpu", DeviceType::CPU, false);
    assert_eq!(
        backend::register_backend(&FAKE_CPU),
        Err(BackendError::BackendRegistered(DeviceType::CPU))
    );
    assert_eq!(backend::lookup(DeviceType::CPU).unwrap().name(), "cpu");

    let id = DeviceType::custom(2).unwrap();
    static NPU_A: Backend = Backend::new("npu-a", dev(2), false);
    static NPU_B: Backend = Backend::new("npu-b", dev(2), true);
    assert!(backend::lookup(id).is_none());
    backend::register_backend(&NPU_A).unwrap();
    assert_eq!(
        backend::register_backend(&NPU_B),
        Err(BackendError::BackendRegistered(id))
    );
    let found = backend::lookup(id).unwrap();
    assert_eq!(found.name(), "npu-a");
    assert!(!found.supports_callbacks());
    assert!(format!("{found:?}").contains("npu-a"));
}

/// A custom device type known to be valid, for statics.
const fn dev(id: u8) -> DeviceType {
    match DeviceType::custom(id) {
        Ok(d) => d,
        Err(_) => panic!("invalid test device id"),
    }
}

/// Counts calls; used through the `&dyn Any` context.
fn counting_wait(
    event: &dyn DeviceEvent,
    context: &dyn core::any::Any,
) -> Result<(), BackendError> {
    let Some(counter) = context.downcast_ref::<AtomicUsize>() else {
        return Err(BackendError::WrongContext {
            expected: "AtomicUsize",
        });
    };
    counter.fetch_add(1, Ordering::Relaxed);
    if event.query().is_finished() {
        Ok(())
    } else {
        Err(BackendError::Unsupported {
            operation: "waiting on an unfinished event in this test",
        })
    }
}

fn never_wait(_: &dyn DeviceEvent, _: &dyn core::any::Any) -> Result<(), BackendError> {
    Err(BackendError::Unsupported { operation: "never" })
}

/// The wait matrix: a cell is filled once (a second registration is an
/// error and does not overwrite), `wait` dispatches on (waiter, event
/// device) and passes the context through; empty cells give
/// `NoWaitFunction`.
#[test]
fn wait_matrix() {
    let d3 = dev(3);
    assert!(!backend::has_wait(d3, DeviceType::CPU));
    let event = Event::new();
    let counter = AtomicUsize::new(0);
    assert_eq!(
        backend::wait(d3, &event, &counter),
        Err(BackendError::NoWaitFunction {
            waiter: d3,
            event: DeviceType::CPU
        })
    );
    backend::register_wait(d3, DeviceType::CPU, counting_wait).unwrap();
    assert_eq!(
        backend::register_wait(d3, DeviceType::CPU, never_wait),
        Err(BackendError::WaitRegistered {
            waiter: d3,
            event: DeviceType::CPU
        })
    );
    assert!(backend::has_wait(d3, DeviceType::CPU));
    // The transposed cell is a different cell.
    assert!(!backend::has_wait(DeviceType::CPU, d3));
    event.set_finished().unwrap();
    backend::wait(d3, &event, &counter).unwrap();
    backend::wait(d3, &event, &counter).unwrap();
    assert_eq!(
        counter.load(Ordering::Relaxed),
        2,
        "the first function stays"
    );
    assert_eq!(
        backend::wait(d3, &event, &()),
        Err(BackendError::WrongContext {
            expected: "AtomicUsize"
        })
    );
    // Every other cell of the matrix row for CUDA events is still empty.
    for waiter in 0..MAX_DEVICE_TYPES as u8 {
        if waiter >= DeviceType::FIRST_CUSTOM && waiter != 3 {
            assert!(!backend::has_wait(dev(waiter), DeviceType::CUDA));
        }
    }
}

/// `DeviceType::custom` accepts exactly `FIRST_CUSTOM..MAX_DEVICE_TYPES`.
#[test]
fn device_type_custom_ids() {
    for id in 0..=u8::MAX {
        let result = DeviceType::custom(id);
        if (DeviceType::FIRST_CUSTOM..MAX_DEVICE_TYPES as u8).contains(&id) {
            let d = result.unwrap();
            assert_eq!(d.index(), id as usize);
            assert_eq!(d.to_string(), format!("device#{id}"));
        } else {
            assert_eq!(result, Err(BackendError::InvalidDeviceType(id)));
        }
    }
    assert_eq!(DeviceType::CPU.to_string(), "CPU");
    assert_eq!(DeviceType::CUDA.to_string(), "CUDA");
    assert_eq!(DeviceType::CPU.index(), 0);
    assert_eq!(DeviceType::CUDA.index(), 1);
}

/// Every `BackendError` says what was wrong (naming the devices involved)
/// and is an `Error`.
#[test]
fn backend_error_display() {
    let failed = Event::new();
    failed.set_failed("ECC error").unwrap();
    let d = dev(5);
    let cases: Vec<(BackendError, Vec<&str>)> = std::vec![
        (
            BackendError::Event(EventError::InFlight),
            std::vec!["in flight"]
        ),
        (
            BackendError::InvalidDeviceType(200),
            std::vec!["200", "2..8"]
        ),
        (
            BackendError::BackendRegistered(d),
            std::vec!["device#5", "already registered"]
        ),
        (
            BackendError::WaitRegistered {
                waiter: d,
                event: DeviceType::CUDA
            },
            std::vec!["device#5", "CUDA", "already registered"]
        ),
        (
            BackendError::NoWaitFunction {
                waiter: DeviceType::CPU,
                event: d
            },
            std::vec!["CPU", "device#5", "register_wait"]
        ),
        (
            BackendError::WrongContext { expected: "Stream" },
            std::vec!["Stream"]
        ),
        (
            BackendError::Unsupported {
                operation: "callbacks"
            },
            std::vec!["callbacks"]
        ),
        (
            BackendError::Device {
                code: 214,
                name: "CUDA_ERROR_ECC_UNCORRECTABLE",
            },
            std::vec!["CUDA_ERROR_ECC_UNCORRECTABLE", "214"]
        ),
    ];
    for (error, parts) in cases {
        let text = error.to_string();
        for part in parts {
            assert!(text.contains(part), "{error:?}: {text:?} lacks {part:?}");
        }
        let as_error: &dyn core::error::Error = &error;
        assert!(as_error.source().is_none());
    }
    assert_eq!(
        BackendError::from(EventError::AlreadyFinished),
        BackendError::Event(EventError::AlreadyFinished)
    );
}

/// The core event through the `DeviceEvent` trait: the same table, errors
/// wrapped in `BackendError::Event`, none of the contract's device rules,
/// and a `finish` that answers without the CPU→CPU wait function (which
/// only the std shell registers).
#[test]
fn cpu_backend_through_the_trait() {
    let slot = SLOT_BACKEND;
    let event = Event::new();
    let dev_event: &dyn DeviceEvent = &event;
    assert_eq!(dev_event.device_type(), DeviceType::CPU);
    assert!(dev_event.supports_callbacks());
    assert!(core::ptr::eq(dev_event.core_event().unwrap(), &event));
    // The CPU takes any context.
    dev_event.record(&42u32).unwrap();
    assert_eq!(
        dev_event.record(&()),
        Err(BackendError::Event(EventError::AlreadyRecorded))
    );
    assert_eq!(dev_event.query(), EventStatus::Scheduled);
    assert_eq!(
        dev_event.reset(),
        Err(BackendError::Event(EventError::InFlight))
    );
    dev_event.on_finished_fn(log_cb, ctx(slot, 7)).unwrap();
    assert!(dev_event.error_message().is_none());
    dev_event.set_failed("trait failure").unwrap();
    assert_eq!(log_of(slot), [(7, EventStatus::Failed)]);
    assert_eq!(
        dev_event.error_message().map(|m| m.as_str().to_string()),
        Some("trait failure".to_string())
    );
    assert_eq!(
        dev_event.set_finished(),
        Err(BackendError::Event(EventError::AlreadyFinished))
    );
    assert_eq!(dev_event.finish(), Ok(EventStatus::Failed));
    dev_event.reset().unwrap();
    assert_eq!(dev_event.query(), EventStatus::Initialized);
    // No device rule: a recorded CPU event is the host's to finish.
    dev_event.record(&()).unwrap();
    dev_event.set_finished().unwrap();
    assert_eq!(dev_event.finish(), Ok(EventStatus::Success));
    dev_event.reset().unwrap();
}
