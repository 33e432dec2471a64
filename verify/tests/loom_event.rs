//! Loom models of the core event (`evlatch::Event`): one race per
//! test, each named after the race it checks.
//!
//! Run with
//! `RUSTFLAGS="--cfg evlatch_loom -C debug-assertions" LOOM_MAX_PREEMPTIONS=2
//! cargo test --release -p evlatch-verify --test loom_event`.
//!
//! The crate is built with `alloc` here (the verify crate enables it). Loom
//! still sees the callback storage: the inline slot's entry and every
//! list-node field handed between threads are sync-shim cells (inside the
//! event, or inside the boxed node), so a missing happens-before edge on
//! them is a loom error.
//! The first callback of a generation goes to the inline slot, later ones to
//! the list: a scenario that wants the list registers one callback first.
//! The no-alloc pool exists only without `alloc`: its model is in the core's
//! lib tests (core/src/event/loom_pool.rs).
#![cfg(evlatch_loom)]

use evlatch::wake::WakeArm;
use evlatch::wake::{register_wake_hook, Finished, WakeHook};
use evlatch::{Event, EventError, EventStatus};
use loom::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use loom::sync::{Arc, Notify};
use loom::thread;

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// Encodes a finished status for an atomic (0 = nothing yet).
fn code(status: EventStatus) -> usize {
    status as usize
}

/// Counts the runs of callbacks and remembers the last outcome.
#[derive(Default)]
struct Runs {
    count: AtomicUsize,
    outcome: AtomicUsize,
}

impl Runs {
    fn new() -> Arc<Self> {
        Arc::new(Runs::default())
    }

    /// Registers a closure on `event` that records its run in `this`.
    fn register(this: &Arc<Self>, event: &Event) {
        let runs = this.clone();
        event.on_finished(move |status| {
            runs.outcome.store(code(status), Ordering::Relaxed);
            runs.count.fetch_add(1, Ordering::Relaxed);
        });
    }

    fn count(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    fn outcome(&self) -> usize {
        self.outcome.load(Ordering::Relaxed)
    }
}

/// An event together with a tiny lock-free "waiter table" that the wake hook
/// fills in: the shape of a shell, small enough for loom.
///
/// `#[repr(C)]` with the event first, so the hook, which is handed only the
/// `&Event`, can get back to the whole `Watched` (see [`watched_hook`]).
#[repr(C)]
struct Watched {
    event: Event,
    /// Waiter `i` puts `generation + 1` here before arming (0 = no waiter).
    slots: [AtomicU32; 2],
    /// The hook writes the outcome for waiter `i` here (0 = not woken).
    woken: [AtomicUsize; 2],
    /// Where waiter `i` blocks (loom's park/unpark): a waiter nobody wakes
    /// is reported by loom as a deadlock. (Spinning waiters would not do:
    /// loom cannot bound two threads spinning with `yield_now`.)
    parked: [Notify; 2],
    /// How many hook calls this event received.
    hook_calls: AtomicUsize,
}

impl Watched {
    fn new() -> Arc<Self> {
        Arc::new(Watched {
            event: Event::new(),
            slots: [AtomicU32::new(0), AtomicU32::new(0)],
            woken: [AtomicUsize::new(0), AtomicUsize::new(0)],
            parked: [Notify::new(), Notify::new()],
            hook_calls: AtomicUsize::new(0),
        })
    }

    /// The shell's wait, for waiter `i` that saw `seen` (unfinished):
    /// publish the table slot, arm; on `Armed`, block until the hook wakes
    /// this slot.
    fn wait_from(&self, i: usize, seen: evlatch::wake::Snapshot) -> EventStatus {
        // Release: the hook's acquire load sees this entry if it runs after
        // our arm (the core promises that edge).
        self.slots[i].store(seen.generation() + 1, Ordering::Release);
        match evlatch::wake::arm(&self.event, seen) {
            WakeArm::Finished(status) => status,
            WakeArm::Armed => loop {
                match self.woken[i].load(Ordering::Acquire) {
                    0 => self.parked[i].wait(),
                    code => match EventStatus::from_u8(code as u8) {
                        Some(status) if status.is_finished() => return status,
                        _ => panic!("bad outcome code {code}"),
                    },
                }
            },
        }
    }
}

/// The wake hook of this test binary.
fn watched_hook(event: &Event, finished: Finished) {
    // SAFETY: in this test binary only the `event` field of a `Watched` is
    // ever armed (every `wake::arm` call below goes through `Watched`), and
    // the core calls hooks only for armed events. `Watched` is `#[repr(C)]`
    // with `event` as its first field, so the event's address is the
    // `Watched`'s address (the `container_of` pattern); the `Watched` is
    // alive because the finisher holds a reference into it for this whole
    // call. (Reading past the `Event` through a pointer derived from a
    // field reference is the aliasing model's grey zone: Tree Borrows
    // accepts it, Stacked Borrows would not; these loom tests never run
    // under miri.)
    let watched = unsafe { &*(event as *const Event as *const Watched) };
    watched.hook_calls.fetch_add(1, Ordering::Relaxed);
    for i in 0..2 {
        if watched.slots[i].load(Ordering::Acquire) == finished.generation + 1 {
            watched.woken[i].store(code(finished.status), Ordering::Release);
            watched.parked[i].notify();
        }
    }
}

static HOOK: WakeHook = WakeHook::new("evlatch-verify-loom-event", watched_hook);

fn install_hook() {
    register_wake_hook(&HOOK).unwrap();
}

// ---------------------------------------------------------------------------
// Finishing
// ---------------------------------------------------------------------------

/// Race: `set_finished` against `set_failed` on a scheduled event. Exactly
/// one wins; the status and the message agree with the winner.
#[test]
fn set_finished_racing_set_failed() {
    loom::model(|| {
        let e = Arc::new(Event::new());
        e.record().unwrap();
        let failer = {
            let e = e.clone();
            thread::spawn(move || e.set_failed("f").is_ok())
        };
        let finished = e.set_finished();
        let failed = failer.join().unwrap();
        match (finished, failed) {
            (Ok(()), false) => {
                assert_eq!(e.status(), EventStatus::Success);
                assert!(e.error_message().is_none());
            }
            (Err(EventError::AlreadyFinished), true) => {
                assert_eq!(e.status(), EventStatus::Failed);
                assert_eq!(e.error_message().unwrap().as_str(), "f");
            }
            other => panic!("not exactly one winner: {other:?}"),
        }
    });
}

/// Race: `set_failed`'s message publication against a concurrent
/// `error_message` reader. The reader sees `None` (not yet `Failed`) or the
/// whole message, never a partial one.
#[test]
fn set_failed_publication_racing_reader() {
    const MSG: &str = "abcdef"; // two words of the cell
    loom::model(|| {
        let e = Arc::new(Event::new());
        let reader = {
            let e = e.clone();
            thread::spawn(move || e.error_message())
        };
        e.set_failed(MSG).unwrap();
        match reader.join().unwrap() {
            None => {}
            Some(m) => assert_eq!(m.as_str(), MSG),
        }
        assert_eq!(e.error_message().unwrap().as_str(), MSG);
    });
}

/// Race: `error_message` against `reset` + `set_failed` with a message of
/// another length. The reader's copy is `None` or exactly one of the two
/// messages (the seqlock over the state word never returns a torn copy).
#[test]
fn error_message_racing_reset_and_set_failed() {
    const FIRST: &str = "ab"; // one word
    const SECOND: &str = "cdefgh"; // two words
    loom::model(|| {
        let e = Arc::new(Event::new());
        e.set_failed(FIRST).unwrap();
        let reader = {
            let e = e.clone();
            thread::spawn(move || e.error_message())
        };
        e.reset().unwrap();
        e.set_failed(SECOND).unwrap();
        if let Some(m) = reader.join().unwrap() {
            assert!(
                m.as_str() == FIRST || m.as_str() == SECOND,
                "torn message {:?}",
                m.as_str()
            );
        }
    });
}

// ---------------------------------------------------------------------------
// Callbacks
// ---------------------------------------------------------------------------

/// Race: a callback registered while another thread finishes the event
/// (with `set_failed`, whose claim-then-publish window is the widest). The
/// callback runs exactly once, with `Failed`, wherever it runs.
#[test]
fn callback_registration_racing_finish() {
    loom::model(|| {
        let e = Arc::new(Event::new());
        e.record().unwrap();
        let runs = Runs::new();
        let registrar = {
            let (e, runs) = (e.clone(), runs.clone());
            thread::spawn(move || Runs::register(&runs, &e))
        };
        e.set_failed("").unwrap();
        registrar.join().unwrap();
        assert_eq!(runs.count(), 1);
        assert_eq!(runs.outcome(), code(EventStatus::Failed));
    });
}

/// Race: a callback registered (on another thread) after an earlier one,
/// while the event finishes. The guarantee: both run exactly once; those the
/// finisher collected run on the finishing thread in registration order; a
/// registration that finds the event already finished runs its callback at
/// once on its own thread (it may then overtake callbacks the finisher is
/// still running — that is documented, not checked against).
#[test]
fn later_registration_racing_finish() {
    loom::model(|| {
        let e = Arc::new(Event::new());
        let finisher = thread::current().id();
        // `ran[i]`: (ticket drawn when callback i ran, ran on the finisher).
        let ran = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
        let on_finisher = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
        let ticket = Arc::new(AtomicUsize::new(1));
        let register = {
            let (ran, on_finisher, ticket) = (ran.clone(), on_finisher.clone(), ticket.clone());
            move |i: usize, e: &Event| {
                let (ran, on_finisher, ticket) = (ran.clone(), on_finisher.clone(), ticket.clone());
                e.on_finished(move |_| {
                    let here = usize::from(thread::current().id() == finisher);
                    on_finisher[i].store(here, Ordering::Relaxed);
                    ran[i].store(ticket.fetch_add(1, Ordering::Relaxed), Ordering::Relaxed);
                });
            }
        };
        // The first registration happens-before the second (spawn).
        register(0, &e);
        let registrar = {
            let e = e.clone();
            let register = register.clone();
            thread::spawn(move || register(1, &e))
        };
        e.set_finished().unwrap();
        registrar.join().unwrap();
        let (first, second) = (
            ran[0].load(Ordering::Relaxed),
            ran[1].load(Ordering::Relaxed),
        );
        assert!(first != 0 && second != 0, "a callback did not run");
        assert_eq!(ticket.load(Ordering::Relaxed), 3, "a callback ran twice");
        // The first was registered before the finish: the finisher ran it.
        assert_eq!(on_finisher[0].load(Ordering::Relaxed), 1);
        if on_finisher[1].load(Ordering::Relaxed) == 1 {
            assert!(first < second, "the finisher ran them out of order");
        }
    });
}

/// A loom cell shared between threads; its accesses are checked by loom.
struct Shared<T>(loom::cell::UnsafeCell<T>);

// SAFETY: every access goes through loom's `with` / `with_mut`, which loom
// checks for data races; that is the point of the type.
unsafe impl<T: Send> Sync for Shared<T> {}

/// Race: the *first* callback (the inline slot: claim, write, publish)
/// registered while another thread finishes the event. Two hand-overs: if
/// the finisher's CAS starts from a published slot, it reads the entry
/// (needs the publish's release and the finisher's acquire); if the
/// registrant's publish finds the event finished, it runs the callback itself
/// and must see the finisher's writes (needs the publish's acquire). Either
/// way the callback runs exactly once and sees what the finisher wrote.
#[test]
fn slot_registration_racing_finish() {
    loom::model(|| {
        let e = Arc::new(Event::new());
        // Written by the finisher before it finishes; read by the callback.
        let data = Arc::new(Shared(loom::cell::UnsafeCell::new(0usize)));
        let runs = Arc::new(AtomicUsize::new(0));
        let registrar = {
            let (e, data, runs) = (e.clone(), data.clone(), runs.clone());
            thread::spawn(move || {
                e.on_finished(move |status| {
                    assert_eq!(status, EventStatus::Success);
                    // SAFETY: the finisher's write happens-before every
                    // callback of the finish (the event's contract).
                    assert_eq!(data.0.with(|d| unsafe { *d }), 7);
                    runs.fetch_add(1, Ordering::Relaxed);
                });
            })
        };
        // SAFETY: nobody reads `data` before the finish below publishes it.
        data.0.with_mut(|d| unsafe { *d = 7 });
        e.set_finished().unwrap();
        registrar.join().unwrap();
        assert_eq!(runs.load(Ordering::Relaxed), 1);
    });
}

/// Race: the next generation's first registration (a slot write) against
/// the previous generation's finisher, which may still be moving its entry
/// out of the slot after its finishing CAS. The slot's `busy` flag makes the
/// write wait for that move (the entry is a loom cell): both callbacks run
/// exactly once, each with its own generation's outcome.
#[test]
fn slot_reuse_racing_previous_finisher() {
    loom::model(|| {
        let e = Arc::new(Event::new());
        let first = Runs::new();
        Runs::register(&first, &e); // generation 0's slot
        let finisher = {
            let e = e.clone();
            thread::spawn(move || e.set_finished().unwrap())
        };
        // As soon as generation 0 is finished, reset and fill the slot again.
        while !e.is_finished() {
            thread::yield_now();
        }
        e.reset().unwrap();
        let second = Runs::new();
        Runs::register(&second, &e); // generation 1's slot
        e.set_failed("").unwrap();
        finisher.join().unwrap();
        assert_eq!(first.count(), 1);
        assert_eq!(first.outcome(), code(EventStatus::Success));
        assert_eq!(second.count(), 1);
        assert_eq!(second.outcome(), code(EventStatus::Failed));
    });
}

/// Race: a callback pushed onto the list (the slot already holds an earlier
/// one) while another thread finishes and takes the list. The finisher reads
/// the pushed node only through the push CAS's release and the take swap's
/// acquire (the node's `next` is a loom cell): both callbacks run exactly
/// once with the outcome.
#[test]
fn list_push_racing_finish() {
    loom::model(|| {
        let e = Arc::new(Event::new());
        let first = Runs::new();
        Runs::register(&first, &e); // takes the slot
        let second = Runs::new();
        let registrar = {
            let (e, second) = (e.clone(), second.clone());
            thread::spawn(move || Runs::register(&second, &e))
        };
        e.set_failed("").unwrap();
        registrar.join().unwrap();
        for runs in [&first, &second] {
            assert_eq!(runs.count(), 1);
            assert_eq!(runs.outcome(), code(EventStatus::Failed));
        }
    });
}

/// The panic message of [`panicking_callback_racing_registration`].
const ON_PURPOSE: &str = "loom: callback panics on purpose";

/// Installs (once) a panic hook that keeps quiet about [`ON_PURPOSE`]
/// panics and reports every other panic as usual.
fn quiet_on_purpose_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if info.payload().downcast_ref::<&str>() != Some(&ON_PURPOSE) {
                default(info);
            }
        }));
    });
}

/// Race: a finish whose first callback panics, against a registration on
/// another thread (list push, or — if it comes after the finish — an
/// immediate run). The panic comes out of the finisher's `set_finished`
/// (caught here with `catch_unwind`, which loom threads support); every other
/// callback still runs exactly once with `Success`; the event is finished, and
/// reset and a new generation work. (A second panic during the unwind would
/// abort the process, so none of the other callbacks panics.)
#[test]
fn panicking_callback_racing_registration() {
    quiet_on_purpose_panics();
    loom::model(|| {
        let e = Arc::new(Event::new());
        e.record().unwrap();
        e.on_finished(|_| std::panic::panic_any(ON_PURPOSE)); // the slot
        let before = Runs::new();
        Runs::register(&before, &e); // the list
        let racing = Runs::new();
        let registrar = {
            let (e, racing) = (e.clone(), racing.clone());
            thread::spawn(move || Runs::register(&racing, &e))
        };
        let finished = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| e.set_finished()));
        let payload = finished.expect_err("the callback's panic reaches the finisher");
        assert_eq!(payload.downcast_ref::<&str>(), Some(&ON_PURPOSE));
        registrar.join().unwrap();
        for runs in [&before, &racing] {
            assert_eq!(runs.count(), 1);
            assert_eq!(runs.outcome(), code(EventStatus::Success));
        }
        assert_eq!(e.status(), EventStatus::Success);
        e.reset().unwrap();
        let next = Runs::new();
        Runs::register(&next, &e);
        e.set_failed("").unwrap();
        assert_eq!(next.count(), 1);
        assert_eq!(next.outcome(), code(EventStatus::Failed));
    });
}

/// Race: `set_finished` + `reset` against a callback registration (the
/// registration pin). The callback joins either the finished generation
/// (and runs once with `Success`) or the new one (and runs once, with
/// `Failed`, when that one fails) — never both, never neither.
#[test]
fn reset_racing_callback_registration() {
    loom::model(|| {
        let e = Arc::new(Event::new());
        e.record().unwrap();
        let runs = Runs::new();
        let registrar = {
            let (e, runs) = (e.clone(), runs.clone());
            thread::spawn(move || Runs::register(&runs, &e))
        };
        e.set_finished().unwrap();
        e.reset().unwrap();
        registrar.join().unwrap();
        match runs.count() {
            1 => assert_eq!(runs.outcome(), code(EventStatus::Success)),
            0 => {
                e.set_failed("").unwrap();
                assert_eq!(runs.count(), 1);
                assert_eq!(runs.outcome(), code(EventStatus::Failed));
            }
            n => panic!("callback ran {n} times"),
        }
        assert_eq!(e.snapshot().generation(), 1);
    });
}

/// Race: `reset` against the finisher while it takes the callback list
/// (COLLECTING). The reset waits until the list is taken: the old
/// generation's callback runs once with `Success`, and the new generation's
/// list is open for new callbacks.
#[test]
fn reset_racing_finisher_collection() {
    loom::model(|| {
        let e = Arc::new(Event::new());
        e.record().unwrap();
        let runs = Runs::new();
        Runs::register(&runs, &e);
        let resetter = {
            let e = e.clone();
            thread::spawn(move || e.reset())
        };
        e.set_finished().unwrap();
        let reset = resetter.join().unwrap();
        assert_eq!(runs.count(), 1);
        assert_eq!(runs.outcome(), code(EventStatus::Success));
        match reset {
            // Ran before the finish.
            Err(EventError::InFlight) => assert_eq!(e.status(), EventStatus::Success),
            Ok(()) => {
                assert_eq!(e.status(), EventStatus::Initialized);
                assert_eq!(e.snapshot().generation(), 1);
                let later = Runs::new();
                Runs::register(&later, &e);
                assert_eq!(later.count(), 0, "new generation's list is closed");
                e.set_failed("").unwrap();
                assert_eq!(later.count(), 1);
                assert_eq!(later.outcome(), code(EventStatus::Failed));
            }
            Err(other) => panic!("reset: {other:?}"),
        }
    });
}

/// Race: two `reset`s of a finished event that had a callback (the slow,
/// RESETTING path). Both succeed and the generation moves exactly once; the
/// reopened callback list works.
#[test]
fn reset_racing_reset() {
    loom::model(|| {
        let e = Arc::new(Event::new());
        let runs = Runs::new();
        Runs::register(&runs, &e);
        e.set_finished().unwrap();
        let other = {
            let e = e.clone();
            thread::spawn(move || e.reset())
        };
        assert_eq!(e.reset(), Ok(()));
        assert_eq!(other.join().unwrap(), Ok(()));
        assert_eq!(e.snapshot().generation(), 1);
        assert_eq!(e.status(), EventStatus::Initialized);
        Runs::register(&runs, &e);
        e.set_finished().unwrap();
        assert_eq!(runs.count(), 2);
    });
}

// ---------------------------------------------------------------------------
// Waiting (snapshot + wake::arm + wake hook)
// ---------------------------------------------------------------------------

/// Race: a waiter (snapshot, then wake::arm, then wait for the hook) against
/// a thread that fails, resets and records the event again. The waiter is
/// never stranded and learns the outcome of the generation it saw.
#[test]
fn waiter_racing_finish_reset_record() {
    install_hook();
    loom::model(|| {
        let w = Watched::new();
        w.event.record().unwrap();
        // The waiter saw generation 0 scheduled; everything after races.
        let seen = w.event.snapshot();
        let waiter = {
            let w = w.clone();
            thread::spawn(move || w.wait_from(0, seen))
        };
        w.event.set_failed("").unwrap();
        w.event.reset().unwrap();
        w.event.record().unwrap();
        assert_eq!(waiter.join().unwrap(), EventStatus::Failed);
        assert!(w.hook_calls.load(Ordering::Relaxed) <= 1);
    });
}

/// Race: a waiter arming a snapshot taken before a finish + reset (the
/// generation check). The stale snapshot never arms the new generation:
/// the answer is `Finished(outcome of the old one)` and no hook call
/// is made for it.
#[test]
fn stale_snapshot_arm_racing_reset() {
    install_hook();
    loom::model(|| {
        let w = Watched::new();
        w.event.record().unwrap();
        let seen = w.event.snapshot();
        let finisher = {
            let w = w.clone();
            thread::spawn(move || {
                w.event.set_finished().unwrap();
                w.event.reset().unwrap();
            })
        };
        let status = w.wait_from(0, seen);
        finisher.join().unwrap();
        assert_eq!(status, EventStatus::Success);
        // Finish the new generation: it was never armed, so no hook call.
        let calls_before = w.hook_calls.load(Ordering::Relaxed);
        w.event.set_finished().unwrap();
        assert_eq!(w.hook_calls.load(Ordering::Relaxed), calls_before);
    });
}

/// Race: two waiters arming the same generation while a third thread
/// finishes it. The second waiter finds WAITERS already set; the hook must
/// still see its table entry (published before its arm) — neither waiter is
/// stranded.
#[test]
fn two_waiters_racing_finish() {
    install_hook();
    loom::model(|| {
        let w = Watched::new();
        w.event.record().unwrap();
        let seen = w.event.snapshot();
        let waiters: Vec<_> = (0..2)
            .map(|i| {
                let w = w.clone();
                thread::spawn(move || w.wait_from(i, seen))
            })
            .collect();
        w.event.set_finished().unwrap();
        for waiter in waiters {
            assert_eq!(waiter.join().unwrap(), EventStatus::Success);
        }
    });
}

/// Race: `set_finished` losing to a `set_failed` that is still copying its
/// message. The loser is told `AlreadyFinished` only once the winner's
/// `Failed` is visible, so the caller never sees "already finished" next to
/// an unfinished status (linearizability of the loser's answer).
#[test]
fn finish_losing_to_set_failed_sees_final_status() {
    loom::model(|| {
        let e = Arc::new(Event::new());
        e.record().unwrap();
        let failer = {
            let e = e.clone();
            thread::spawn(move || e.set_failed("lost"))
        };
        match e.set_finished() {
            Ok(()) => assert_eq!(e.status(), EventStatus::Success),
            Err(err) => {
                assert_eq!(err, evlatch::EventError::AlreadyFinished);
                assert_eq!(e.status(), EventStatus::Failed);
                assert_eq!(e.error_message().unwrap().as_str(), "lost");
            }
        }
        let failed = failer.join().unwrap();
        assert_eq!(failed.is_ok(), e.status() == EventStatus::Failed);
    });
}
