//! 10,000 record/wait/reset cycles leak no CUDA event and no stream
//! callback. Its own test binary (own process), so the crate's global
//! counters are this test's alone. Without a GPU it prints
//! `<test>: skipped: <why>` and returns.

mod support;

use evlatch::EventStatus;
use std::time::Instant;

use evlatch_cuda::diagnostics::{live_events, pending_callbacks};
use evlatch_cuda::{CudaEvent, EventFlags};
use support::{finish, gpu, sync, WAIT};

const CYCLES: usize = 10_000;

#[test]
fn ten_thousand_cycles_leak_nothing() {
    let Some(gpu) = gpu("ten_thousand_cycles_leak_nothing") else {
        return;
    };
    let stream = gpu.ctx.new_stream().unwrap();
    assert_eq!(live_events(), 0);
    assert_eq!(pending_callbacks(), 0);
    let events = [
        CudaEvent::new(&gpu.ctx, EventFlags::new()).unwrap(),
        CudaEvent::new(&gpu.ctx, EventFlags::new().blocking_sync(true)).unwrap(),
    ];
    assert_eq!(live_events(), 2);
    let mut waiters = 0usize;
    for i in 0..CYCLES {
        let event = &events[i % 2];
        gpu.spin_signal(&stream, 1_000, None, 0);
        event.record(&stream).unwrap();
        // Alternate the ways of waiting: the bridge (evlatch-std) and finish.
        let status = if i % 3 == 0 {
            finish(event).unwrap()
        } else {
            waiters += 1;
            support::wait(event.core_event(), "a soak cycle's finish")
        };
        assert_eq!(status, EventStatus::Success, "cycle {i}");
        // Once a core event is finished, its callback no longer counts.
        assert_eq!(pending_callbacks(), 0, "cycle {i}");
        event.reset().unwrap();
    }
    assert_eq!(evlatch_std::diagnostics::registered_waiters(), 0);
    drop(events);
    assert_eq!(live_events(), 0, "CUDA events leaked");

    // Events dropped while still recorded: the driver and the callbacks
    // clean up after them.
    for _ in 0..1_000 {
        let e = CudaEvent::new(&gpu.ctx, EventFlags::new()).unwrap();
        gpu.spin_signal(&stream, 1_000, None, 0);
        e.record(&stream).unwrap();
    }
    assert_eq!(
        live_events(),
        0,
        "dropped events must release their CUevent"
    );
    sync(&stream);
    // The last callbacks may still be running on the driver's thread.
    let deadline = Instant::now() + WAIT;
    while pending_callbacks() != 0 {
        assert!(
            Instant::now() < deadline,
            "{} stream callbacks did not run within {WAIT:?} of the stream's end",
            pending_callbacks()
        );
        std::thread::yield_now();
    }
    eprintln!("soak: {CYCLES} cycles ({waiters} bridge waits), 1000 dropped-while-recorded events");
}
