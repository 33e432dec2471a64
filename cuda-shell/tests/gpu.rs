//! The CUDA event on a real GPU. Without one, every test prints
//! `<test>: skipped: <why>` (past the harness's capture) and returns.
//!
//! Kernels that must still be running while the test looks at the event wait
//! on a *gate* in host-mapped memory that the test opens itself, so no test
//! depends on timing; the gate has a watchdog so a broken test fails rather
//! than hangs, and every host wait is bounded (`support::WAIT`), failing with
//! what did not arrive.
//!
//! The tests are safe in parallel (the default of `cargo test`): they share
//! one cached context, a keeper stream stops cudarc's first-stream
//! synchronization, each gate is drained before it is freed, and none reads
//! the crate's global counters.

mod support;

use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;

use evlatch::backend::{wait, BackendError, DeviceEvent, DeviceType};
use evlatch::{Event, EventError, EventStatus};
use evlatch_cuda::cudarc::driver::CudaContext;
use evlatch_cuda::{CudaError, CudaEvent, EventFlags};
use evlatch_std::EventExt;
use support::{block_on, bounded, finish, gpu, recv, sync, DeviceWords, HostWord, WAIT};

/// How long a gated kernel waits at most before giving up (5 s, below the
/// host's `WAIT`).
const WATCHDOG_NS: u64 = 5_000_000_000;

#[test]
fn record_status_finish_reset_cycle() {
    let Some(gpu) = gpu("record_status_finish_reset_cycle") else {
        return;
    };
    let stream = gpu.ctx.new_stream().unwrap();
    let gate = HostWord::new(&gpu);
    let event = CudaEvent::new(&gpu.ctx, EventFlags::new()).unwrap();
    assert_eq!(event.status(), EventStatus::Initialized);

    gpu.gate_wait(&stream, &gate, WATCHDOG_NS);
    event.record(&stream).unwrap();
    // Gated: deterministically in flight.
    assert_eq!(event.status(), EventStatus::Scheduled);
    assert!(event.error_message().is_none());
    assert!(!event.core_event().is_finished());
    assert_eq!(
        event.record(&stream),
        Err(CudaError::Event(EventError::AlreadyRecorded))
    );
    assert_eq!(event.reset(), Err(CudaError::Event(EventError::InFlight)));
    assert_eq!(event.set_finished(), Err(CudaError::Recorded));
    assert_eq!(event.set_failed("no"), Err(CudaError::Recorded));
    // A bounded finish on a gated event runs out, and changes nothing.
    assert_eq!(
        event.finish_timeout(Duration::from_millis(50)),
        Err(CudaError::Timeout)
    );
    assert_eq!(event.status(), EventStatus::Scheduled);
    // The crate hands out one context per device.
    assert!(Arc::ptr_eq(&gpu.ctx, &evlatch_cuda::context(0).unwrap()));

    gate.set(1);
    assert_eq!(finish(&event), Ok(EventStatus::Success));
    assert_eq!(event.status(), EventStatus::Success);
    assert!(event.core_event().is_finished());
    assert_eq!(
        event.record(&stream),
        Err(CudaError::Event(EventError::AlreadyFinished))
    );
    event.reset().unwrap();
    assert_eq!(event.status(), EventStatus::Initialized);
    event.record(&stream).unwrap();
    assert_eq!(event.finish_timeout(WAIT), Ok(EventStatus::Success));
    sync(&stream);
}

#[test]
fn unrecorded_events_refuse_waits_and_accept_host_finishes() {
    let Some(gpu) = gpu("unrecorded_events_refuse_waits_and_accept_host_finishes") else {
        return;
    };
    let stream = gpu.ctx.new_stream().unwrap();
    let event = CudaEvent::new(&gpu.ctx, EventFlags::new()).unwrap();
    assert_eq!(event.finish(), Err(CudaError::NotRecorded));
    assert_eq!(event.wait_on(&stream), Err(CudaError::NotRecorded));

    event.set_failed("skipped on the host").unwrap();
    assert_eq!(event.status(), EventStatus::Failed);
    assert_eq!(
        event.error_message().unwrap().as_str(),
        "skipped on the host"
    );
    assert_eq!(event.finish(), Ok(EventStatus::Failed));
    assert_eq!(event.wait_on(&stream), Err(CudaError::Failed));
    assert_eq!(
        event.set_finished(),
        Err(CudaError::Event(EventError::AlreadyFinished))
    );
    event.reset().unwrap();
    event.set_finished().unwrap();
    event.wait_on(&stream).unwrap(); // already done: nothing to wait for
    event.reset().unwrap();
    event.record(&stream).unwrap();
    assert_eq!(finish(&event), Ok(EventStatus::Success));
}

#[test]
fn a_stream_of_another_context_is_an_error() {
    let Some(gpu) = gpu("a_stream_of_another_context_is_an_error") else {
        return;
    };
    // cudarc's new_non_primary calls cuCtxCreate_v4 and panics ("Missing
    // symbol") on a driver older than 12.5: fail clearly instead.
    assert_eq!(
        evlatch_cuda::driver_exports("cuCtxCreate_v4"),
        Ok(true),
        "this test needs cuCtxCreate_v4 (a CUDA 12.5+ driver) for a second context"
    );
    let other = CudaContext::new_non_primary(0, 0).unwrap();
    let foreign = other.new_stream().unwrap();
    let event = CudaEvent::new(&gpu.ctx, EventFlags::new()).unwrap();
    assert_eq!(
        event.record(&foreign),
        Err(CudaError::WrongContext {
            event_device: 0,
            other_device: 0
        })
    );
    // Unchanged: still recordable on its own context.
    assert_eq!(event.status(), EventStatus::Initialized);
    event.record(&gpu.ctx.default_stream()).unwrap();
    finish(&event).unwrap();
    // Timing across contexts is refused too.
    let timed = EventFlags::new().timing(true);
    let a = CudaEvent::new(&gpu.ctx, timed).unwrap();
    let b = CudaEvent::new(&other, timed).unwrap();
    assert!(matches!(
        b.elapsed_ms(&a),
        Err(CudaError::WrongContext { .. })
    ));
}

#[test]
fn a_cpu_thread_and_an_async_task_wake_on_gpu_completion() {
    let Some(gpu) = gpu("a_cpu_thread_and_an_async_task_wake_on_gpu_completion") else {
        return;
    };
    let stream = gpu.ctx.new_stream().unwrap();
    let gate = HostWord::new(&gpu);
    let event = Arc::new(CudaEvent::new(&gpu.ctx, EventFlags::new()).unwrap());
    gpu.gate_wait(&stream, &gate, WATCHDOG_NS);
    event.record(&stream).unwrap();

    let (tx, rx) = mpsc::channel();
    event.core_event().on_finished(move |status| {
        let _ = tx.send(status);
    });
    let blocking = {
        let event = Arc::clone(&event);
        thread::spawn(move || support::wait(event.core_event(), "the blocking waiter's wake-up"))
    };
    let task = {
        let event = Arc::clone(&event);
        thread::spawn(move || {
            block_on("the async task's wake-up", async {
                event.core_event().wait_async().await
            })
        })
    };
    gate.set(1);
    assert_eq!(blocking.join().unwrap(), EventStatus::Success);
    assert_eq!(task.join().unwrap(), EventStatus::Success);
    assert_eq!(recv(&rx, "the on_finished callback"), EventStatus::Success);
    assert_eq!(finish(&event), Ok(EventStatus::Success));
}

#[test]
fn two_streams_ordered_by_an_event() {
    let Some(gpu) = gpu("two_streams_ordered_by_an_event") else {
        return;
    };
    let (a, b) = (gpu.ctx.new_stream().unwrap(), gpu.ctx.new_stream().unwrap());
    let gate = HostWord::new(&gpu);
    let words = DeviceWords::new(&gpu, 2);
    let event = CudaEvent::new(&gpu.ctx, EventFlags::new()).unwrap();

    gpu.gate_wait(&a, &gate, WATCHDOG_NS);
    gpu.store_u32(&a, &words, 0, 7);
    event.record(&a).unwrap();
    event.wait_on(&b).unwrap();
    // Without the device-side wait, this copy would run at once and copy 0.
    gpu.copy_u32(&b, &words, 0, 1);
    let after_b = CudaEvent::new(&gpu.ctx, EventFlags::new()).unwrap();
    after_b.record(&b).unwrap();
    assert_eq!(
        after_b.status(),
        EventStatus::Scheduled,
        "b must wait for a"
    );

    gate.set(1);
    assert_eq!(finish(&after_b), Ok(EventStatus::Success));
    assert_eq!(words.read(), [7, 7]);
    finish(&event).unwrap();
}

#[test]
fn the_wait_matrix_has_caffe2s_entries() {
    let Some(gpu) = gpu("the_wait_matrix_has_caffe2s_entries") else {
        return;
    };
    evlatch_cuda::register().unwrap();
    let (a, b) = (gpu.ctx.new_stream().unwrap(), gpu.ctx.new_stream().unwrap());
    let gate = HostWord::new(&gpu);
    let words = DeviceWords::new(&gpu, 2);
    let event = CudaEvent::new(&gpu.ctx, EventFlags::new()).unwrap();

    // Record through the trait, with an Arc<CudaStream> context.
    gpu.gate_wait(&a, &gate, WATCHDOG_NS);
    gpu.store_u32(&a, &words, 0, 9);
    DeviceEvent::record(&event, &a).unwrap();
    assert!(matches!(
        DeviceEvent::record(&event, &()),
        Err(BackendError::WrongContext { .. })
    ));
    // CUDA waits for CUDA, device-side: returns at once. The event is found
    // through `as_any`; the waiter's context must be its stream.
    assert!(matches!(
        wait(DeviceType::CUDA, &event, &()),
        Err(BackendError::WrongContext { .. })
    ));
    wait(DeviceType::CUDA, &event, &b).unwrap();
    gpu.copy_u32(&b, &words, 0, 1);

    // CUDA waits for the CPU: the host blocks until the CPU event is finished.
    let cpu = Arc::new(Event::new());
    cpu.record().unwrap();
    let opener = {
        let cpu = Arc::clone(&cpu);
        thread::spawn(move || {
            gate.set(1);
            cpu.set_finished().unwrap();
            gate
        })
    };
    bounded("the CUDA-waits-for-CPU wait", || {
        wait(DeviceType::CUDA, &*cpu, &b)
    })
    .unwrap();
    assert!(cpu.is_finished());

    // The CPU waits for CUDA: the host blocks until the event is finished.
    bounded("the CPU-waits-for-CUDA wait", || {
        wait(DeviceType::CPU, &event, &())
    })
    .unwrap();
    assert_eq!(event.query(), EventStatus::Success);
    sync(&b);
    assert_eq!(words.read(), [9, 9]);
    drop(opener.join().unwrap());
}

#[test]
fn elapsed_time_needs_timing_and_completion() {
    let Some(gpu) = gpu("elapsed_time_needs_timing_and_completion") else {
        return;
    };
    let stream = gpu.ctx.new_stream().unwrap();
    let gate = HostWord::new(&gpu);
    let timed = EventFlags::new().timing(true);
    let start = CudaEvent::new(&gpu.ctx, timed).unwrap();
    let end = CudaEvent::new(&gpu.ctx, timed).unwrap();
    let untimed = CudaEvent::new(&gpu.ctx, EventFlags::new()).unwrap();
    assert_eq!(end.elapsed_ms(&start), Err(CudaError::NotRecorded));
    assert_eq!(untimed.elapsed_ms(&start), Err(CudaError::TimingDisabled));
    // Finished from the host: its CUevent holds no time, so no driver call.
    let host = CudaEvent::new(&gpu.ctx, timed).unwrap();
    host.set_finished().unwrap();

    start.record(&stream).unwrap();
    gpu.gate_wait(&stream, &gate, WATCHDOG_NS);
    end.record(&stream).unwrap();
    assert_eq!(end.elapsed_ms(&start), Err(CudaError::NotReady));
    gate.set(1);
    end.finish_timeout(WAIT).unwrap();
    start.finish_timeout(WAIT).unwrap();
    let ms = end.elapsed_ms(&start).unwrap();
    assert!(ms >= 0.0, "{ms}");
    assert_eq!(host.elapsed_ms(&start), Err(CudaError::NotRecorded));
    assert_eq!(start.elapsed_ms(&host), Err(CudaError::NotRecorded));
    // A new generation finished from the host is not timed with the old
    // generation's (stale) record.
    end.reset().unwrap();
    end.set_finished().unwrap();
    assert_eq!(end.elapsed_ms(&start), Err(CudaError::NotRecorded));
}

#[test]
fn blocking_sync_events_finish() {
    let Some(gpu) = gpu("blocking_sync_events_finish") else {
        return;
    };
    let stream = gpu.ctx.new_stream().unwrap();
    for flags in [
        EventFlags::new().blocking_sync(true),
        EventFlags::new().blocking_sync(true).timing(true),
    ] {
        let event = CudaEvent::new(&gpu.ctx, flags).unwrap();
        assert_eq!(event.flags(), flags);
        gpu.spin_signal(&stream, 1_000_000, None, 0);
        event.record(&stream).unwrap();
        assert_eq!(finish(&event), Ok(EventStatus::Success));
        assert_eq!(
            support::wait(event.core_event(), "the core event"),
            EventStatus::Success
        );
    }
}

#[test]
fn dropping_a_recorded_event_keeps_the_bridge_alive() {
    let Some(gpu) = gpu("dropping_a_recorded_event_keeps_the_bridge_alive") else {
        return;
    };
    let stream = gpu.ctx.new_stream().unwrap();
    let gate = HostWord::new(&gpu);
    let event = CudaEvent::new(&gpu.ctx, EventFlags::new()).unwrap();
    gpu.gate_wait(&stream, &gate, WATCHDOG_NS);
    event.record(&stream).unwrap();
    let (tx, rx) = mpsc::channel();
    event.core_event().on_finished(move |status| {
        let _ = tx.send(status);
    });
    drop(event);
    assert!(
        rx.try_recv().is_err(),
        "dropping must not finish the core event"
    );
    gate.set(1);
    // The stream callback still runs, on the core event it kept alive.
    assert_eq!(
        recv(&rx, "the callback of a dropped event"),
        EventStatus::Success
    );
    sync(&stream);
}

#[test]
fn the_device_event_trait_reports_like_the_inherent_methods() {
    let Some(gpu) = gpu("the_device_event_trait_reports_like_the_inherent_methods") else {
        return;
    };
    let event = CudaEvent::new(&gpu.ctx, EventFlags::new()).unwrap();
    let dyn_event: &dyn DeviceEvent = &event;
    assert_eq!(dyn_event.device_type(), DeviceType::CUDA);
    assert!(dyn_event.supports_callbacks());
    assert!(std::ptr::eq(
        dyn_event.core_event().unwrap(),
        event.core_event()
    ));
    // `as_any` downcasts back to this very event (the wait matrix relies on it).
    let back = dyn_event
        .as_any()
        .and_then(|a| a.downcast_ref::<CudaEvent>());
    assert!(back.is_some_and(|e| std::ptr::eq(e, &event)));
    assert!(matches!(
        dyn_event.finish(),
        Err(BackendError::Unsupported { .. })
    ));
    dyn_event.set_failed("host says no").unwrap();
    assert_eq!(dyn_event.query(), EventStatus::Failed);
    assert_eq!(dyn_event.error_message().unwrap().as_str(), "host says no");
    dyn_event.reset().unwrap();
    dyn_event.record(&gpu.ctx.default_stream()).unwrap();
    // The contract's device rule: a recorded event is the device's to
    // finish; the host's finishes are refused and change nothing.
    assert_eq!(
        dyn_event.set_finished(),
        Err(BackendError::Event(EventError::AlreadyRecorded))
    );
    assert_eq!(
        dyn_event.set_failed("host says no again"),
        Err(BackendError::Event(EventError::AlreadyRecorded))
    );
    assert_ne!(dyn_event.query(), EventStatus::Failed);
    assert_eq!(
        bounded("DeviceEvent::finish", || dyn_event.finish()),
        Ok(EventStatus::Success)
    );
}
