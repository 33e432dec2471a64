//! Unit tests of the event and the wake-hook contract, one submodule per
//! topic; the shared helpers are here (the backend registry's tests are in
//! `backend/tests.rs`). They run natively and under miri (sizes scaled down
//! there), both without and with the `alloc` feature.
//!
//! The wake-hook registry and the backend registry are process-wide, and the
//! test harness runs tests on several threads at once. So every test that
//! arms a wake-up uses its own `static` event (a unique address the shared
//! hook log is filtered by).
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
use crate::sync::AtomicUsize;
use crate::wake::{register_wake_hook, Finished, HookError, WakeHook};

/// Repetitions of each multi-thread race (miri runs far fewer).
const RACE_ITERS: usize = if cfg!(miri) { 4 } else { 2_000 };

/// Spins allowed before a waiter is declared stranded (a hang detector, not
/// a timing assertion: a correct waiter is woken long before).
const SPIN_LIMIT: usize = if cfg!(miri) { 100_000 } else { 50_000_000 };

mod callbacks;
mod hooks;
mod message;
mod panics;
mod races;
mod table;

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
const SLOT_FAILED_REG: usize = 9;
const SLOT_PANIC_FN: usize = 10;
const SLOT_PANIC_HOOK: usize = 11;

/// Every wake-hook call: (event address, what finished).
static HOOK_LOG: Mutex<Vec<(usize, Finished)>> = Mutex::new(Vec::new());

fn logging_hook(event: &Event, finished: Finished) {
    HOOK_LOG
        .lock()
        .unwrap()
        .push((event as *const Event as usize, finished));
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
