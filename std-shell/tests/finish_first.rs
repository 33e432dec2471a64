//! `DeviceEvent::finish` on a core `Event` as the first thing a process
//! does with evlatch-std linked in: no `install()`, no earlier wait. It must
//! block until the finish and return the outcome (before the fix it
//! answered `NoWaitFunction`). Its own test binary, so nothing has waited.

use std::sync::Arc;
use std::thread;
use std::time::Duration;

use evlatch::backend::{has_wait, DeviceEvent, DeviceType};
use evlatch_std::{Event, EventExt, EventStatus};

#[test]
fn finish_works_before_and_after_the_first_wait() {
    assert!(
        !has_wait(DeviceType::CPU, DeviceType::CPU),
        "nothing in this binary has waited yet"
    );
    let run = |outcome: EventStatus| {
        let event = Arc::new(Event::new());
        event.record().unwrap();
        let finisher = {
            let event = Arc::clone(&event);
            thread::spawn(move || {
                thread::sleep(Duration::from_millis(20));
                match outcome {
                    EventStatus::Success => event.set_finished().unwrap(),
                    _ => event.set_failed("boom").unwrap(),
                }
            })
        };
        assert_eq!(DeviceEvent::finish(&*event), Ok(outcome));
        finisher.join().unwrap();
    };
    // Before anything waited through evlatch-std (the core spins) ...
    run(EventStatus::Failed);
    // ... and after (the std shell's parking wait).
    let done = Event::new();
    done.set_finished().unwrap();
    assert_eq!(done.wait(), EventStatus::Success);
    let waited = Event::new();
    waited.record().unwrap();
    let _ = waited.wait_timeout(Duration::from_millis(1));
    assert!(has_wait(DeviceType::CPU, DeviceType::CPU));
    run(EventStatus::Success);
    run(EventStatus::Failed);
}
