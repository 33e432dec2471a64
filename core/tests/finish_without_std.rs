//! `DeviceEvent::finish` on a core `Event` in a process where nothing has
//! filled the `(CPU, CPU)` cell of the wait matrix (no evlatch-std at all):
//! it must still block until the finish and return the outcome, instead of
//! answering `NoWaitFunction`. Its own test binary, so the registry is
//! fresh: no test here registers a CPU wait.

use std::sync::Arc;
use std::thread;
use std::time::Duration;

use evlatch::backend::{has_wait, DeviceEvent, DeviceType};
use evlatch::{Event, EventStatus};

#[test]
fn finish_blocks_until_another_thread_finishes() {
    assert!(
        !has_wait(DeviceType::CPU, DeviceType::CPU),
        "this binary must start with an empty (CPU, CPU) cell"
    );
    for outcome in [EventStatus::Success, EventStatus::Failed] {
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
        assert!(event.is_finished(), "finish returned before the finish");
        finisher.join().unwrap();
    }
    assert!(!has_wait(DeviceType::CPU, DeviceType::CPU));
}

#[test]
fn finish_reports_the_generation_it_waited_for() {
    // Finished, then reset and recorded again before the waiter looks: the
    // waiter's generation failed, whatever the event does now.
    let event = Event::new();
    event.record().unwrap();
    event.set_failed("first").unwrap();
    assert_eq!(DeviceEvent::finish(&event), Ok(EventStatus::Failed));
    event.reset().unwrap();
    event.set_finished().unwrap();
    assert_eq!(DeviceEvent::finish(&event), Ok(EventStatus::Success));
}
