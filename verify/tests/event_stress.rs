//! Stress test of `evlatch::Event`: many threads race record / finish /
//! fail / reset / callback registration / arming / message reads on a few
//! shared events. At the end every accepted callback ran exactly once with its
//! generation's outcome, every armed generation got exactly one wake-hook call (and
//! no other generation got one), and no message read was torn.
//!
//! `EVLATCH_STRESS_OPS` sets the operations per thread (default 200 000;
//! keep `threads × ops / 3` under 2^18 so generations do not wrap).
#![cfg(not(evlatch_loom))]

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::thread;

use evlatch::wake::WakeArm;
use evlatch::wake::{register_wake_hook, Finished, WakeHook};
use evlatch::{Event, EventError, EventStatus, MESSAGE_CAPACITY};

const EVENTS_N: usize = 3;
static EVENTS: [Event; EVENTS_N] = [const { Event::new() }; EVENTS_N];

/// The messages threads fail with; the last one is cut on storage.
const MESSAGES: [&str; 3] = [
    "a",
    "a medium-length failure message",
    "a very long failure message, longer than the inline capacity of an event's \
     message cell, so that it is truncated at a character boundary: ééééééé€€€€😀😀😀",
];

const _: () =
    assert!(MESSAGES[2].len() > MESSAGE_CAPACITY && MESSAGES[1].len() <= MESSAGE_CAPACITY);

/// Per callback id: how many times it ran.
static RUN_COUNTS: OnceLock<Box<[AtomicU8]>> = OnceLock::new();
/// Set when a callback ran twice or saw a unfinished status.
static BAD_RUN: AtomicBool = AtomicBool::new(false);
/// Ids handed out so far.
static NEXT_ID: AtomicUsize = AtomicUsize::new(0);

/// (event index, generation) → (hook calls, outcome).
type HookCalls = HashMap<(usize, u32), (usize, EventStatus)>;

/// Every wake-hook call, counted.
static HOOK_CALLS: Mutex<Option<HookCalls>> = Mutex::new(None);

fn stress_hook(event: &Event, finished: Finished) {
    let Some(index) = EVENTS.iter().position(|e| core::ptr::eq(e, event)) else {
        return;
    };
    let mut calls = HOOK_CALLS.lock().unwrap();
    let entry = calls
        .get_or_insert_with(HashMap::new)
        .entry((index, finished.generation))
        .or_insert((0, finished.status));
    entry.0 += 1;
}

static HOOK: WakeHook = WakeHook::new("evlatch-verify-event-stress", stress_hook);

fn ran(status: EventStatus, id: usize) {
    let counts = RUN_COUNTS.get().expect("run counters initialised");
    if counts[id].fetch_add(1, Ordering::Relaxed) != 0 || !status.is_finished() {
        BAD_RUN.store(true, Ordering::Relaxed);
    }
}

/// A small xorshift generator: deterministic per thread, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// What the event keeps of a message.
fn kept(msg: &str) -> &str {
    let mut end = msg.len().min(MESSAGE_CAPACITY);
    while !msg.is_char_boundary(end) {
        end -= 1;
    }
    &msg[..end]
}

/// What one worker saw: the generations it armed.
struct Report {
    armed: Vec<(usize, u32)>,
}

fn worker(seed: u64, ops: usize) -> Report {
    let mut rng = Rng(seed | 1);
    let mut armed = Vec::new();
    for _ in 0..ops {
        let e = rng.below(EVENTS_N);
        let event = &EVENTS[e];
        match rng.below(12) {
            0 | 1 => match event.record() {
                Ok(()) | Err(EventError::AlreadyRecorded | EventError::AlreadyFinished) => {}
                Err(other) => panic!("record: {other:?}"),
            },
            2 => match event.set_finished() {
                Ok(()) | Err(EventError::AlreadyFinished) => {}
                Err(other) => panic!("set_finished: {other:?}"),
            },
            3 => match event.set_failed(MESSAGES[rng.below(MESSAGES.len())]) {
                Ok(()) | Err(EventError::AlreadyFinished) => {}
                Err(other) => panic!("set_failed: {other:?}"),
            },
            4 | 5 => match event.reset() {
                Ok(()) | Err(EventError::InFlight) => {}
                Err(other) => panic!("reset: {other:?}"),
            },
            6 => {
                let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
                event.on_finished(move |s| ran(s, id));
            }
            7 => {
                let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
                event.on_finished_fn(ran, id).unwrap();
            }
            8 => {
                // A callback that resets (and sometimes re-records) its own
                // event from inside.
                let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
                let again = rng.below(2) == 0;
                event.on_finished(move |s| {
                    ran(s, id);
                    let _ = EVENTS[e].reset();
                    if again {
                        let _ = EVENTS[e].record();
                    }
                });
            }
            9 | 10 => {
                let seen = event.snapshot();
                if !seen.status().is_finished() {
                    if let WakeArm::Armed = evlatch::wake::arm(event, seen) {
                        armed.push((e, seen.generation()));
                    }
                }
            }
            _ => {
                if let Some(m) = event.error_message() {
                    let text = m.as_str();
                    assert!(
                        MESSAGES.iter().any(|msg| kept(msg) == text),
                        "torn message: {text:?}"
                    );
                    assert_eq!(m.is_truncated(), text == kept(MESSAGES[2]));
                }
            }
        }
    }
    Report { armed }
}

/// Races every operation on three events from many threads; nothing lost,
/// nothing run twice, no wake-up missed or invented.
#[test]
fn events_under_contention() {
    let ops: usize = std::env::var("EVLATCH_STRESS_OPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let threads = thread::available_parallelism()
        .map_or(4, |n| n.get())
        .clamp(4, 8);
    RUN_COUNTS
        .set((0..threads * ops).map(|_| AtomicU8::new(0)).collect())
        .unwrap();
    register_wake_hook(&HOOK).unwrap();

    let reports: Vec<Report> = thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| s.spawn(move || worker(0x9E37_79B9_7F4A_7C15 ^ (t as u64 * 7919), ops)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });

    // Finish every event once more: the callbacks (and the arm) of its
    // current generation are served now. (A callback may reset the event
    // again; the generation it opens has no callbacks and no arm.)
    for event in &EVENTS {
        match event.set_finished() {
            Ok(()) | Err(EventError::AlreadyFinished) => {}
            Err(other) => panic!("final set_finished: {other:?}"),
        }
    }

    assert!(
        !BAD_RUN.load(Ordering::Relaxed),
        "a callback ran twice or saw a unfinished status"
    );
    let registered = NEXT_ID.load(Ordering::Relaxed);
    let counts = RUN_COUNTS.get().unwrap();
    let never: Vec<usize> = (0..registered)
        .filter(|&id| counts[id].load(Ordering::Relaxed) != 1)
        .collect();
    assert!(
        never.is_empty(),
        "{} of {registered} callbacks did not run exactly once",
        never.len()
    );

    let armed: HashSet<(usize, u32)> = reports.into_iter().flat_map(|r| r.armed).collect();
    let calls = HOOK_CALLS.lock().unwrap().take().unwrap_or_default();
    for (key, (n, status)) in &calls {
        assert_eq!(*n, 1, "generation {key:?} woken {n} times");
        assert!(status.is_finished());
        assert!(
            armed.contains(key),
            "hook call for unarmed generation {key:?}"
        );
    }
    for key in &armed {
        assert!(
            calls.contains_key(key),
            "armed generation {key:?} never woken"
        );
    }
    let generations: Vec<u32> = EVENTS.iter().map(|e| e.snapshot().generation()).collect();
    eprintln!(
        "{threads} threads x {ops} ops: {registered} callbacks, {} armed generations, \
         final generations {generations:?}",
        armed.len()
    );
}
