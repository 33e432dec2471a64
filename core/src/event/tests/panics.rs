//! Panicking callbacks and wake hooks lose nothing; a second panic while unwinding aborts.

use super::*;

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
/// comes out of `set_finished`; the status is finished, and the event resets and
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
/// unrun), the status is finished and the event is reusable.
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
            "event::tests::panics::second_panic_while_unwinding_aborts",
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
fn after_panicking_hook(event: &Event, finished: Finished) {
    if core::ptr::eq(event, &PANIC_HOOK_EVENT) {
        LOGS[SLOT_PANIC_HOOK]
            .lock()
            .unwrap()
            .push((500 + finished.generation as usize, finished.status));
    }
}

/// A wake hook that panics (a waiter's wake failing) stops neither the hooks
/// after it nor the callbacks: all still run, then the panic comes out of the
/// finish; the status is finished and the event resets.
#[test]
fn panicking_wake_hook_loses_nothing() {
    static PANICKY: WakeHook = WakeHook::new("evlatch-unit-tests-panicky", panicking_hook);
    static AFTER: WakeHook = WakeHook::new("evlatch-unit-tests-after", after_panicking_hook);
    let slot = SLOT_PANIC_HOOK;
    register_wake_hook(&PANICKY).unwrap();
    register_wake_hook(&AFTER).unwrap();
    let event = &PANIC_HOOK_EVENT;
    event.record().unwrap();
    assert_eq!(crate::wake::arm(event, event.snapshot()), WakeArm::Armed);
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
