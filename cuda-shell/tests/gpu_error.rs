//! A faulting kernel finishes the event as `Failed` with the CUDA error's
//! name and text, and wakes its waiters; recording on the poisoned context
//! afterwards fails the event instead of stranding it.
//!
//! Its own test binary (own process): an illegal address poisons the CUDA
//! context for the rest of the process. Without a GPU it prints
//! `<test>: skipped: <why>` and returns.
//!
//! No race with the fault: a gated kernel holds the stream first, then the
//! faulting kernel and the record are enqueued behind it — so `record` runs
//! while nothing has failed yet and must succeed — and only then is the gate
//! opened and the fault can happen.

mod support;

use std::sync::mpsc;

use evlatch::EventStatus;
use evlatch_cuda::{CudaError, CudaEvent, EventFlags};
use support::{finish, gpu, recv, HostWord};

/// How long the gated kernel waits at most (5 s, below the host's `WAIT`).
const WATCHDOG_NS: u64 = 5_000_000_000;

#[test]
fn a_faulting_kernel_fails_the_event_with_its_message() {
    let Some(gpu) = gpu("a_faulting_kernel_fails_the_event_with_its_message") else {
        return;
    };
    let stream = gpu.ctx.new_stream().unwrap();
    let gate = HostWord::new(&gpu);
    let event = CudaEvent::new(&gpu.ctx, EventFlags::new()).unwrap();
    let (tx, rx) = mpsc::channel();
    event.core_event().on_finished(move |status| {
        let _ = tx.send(status);
    });

    // Gate, fault, record — all enqueued while the gate holds the stream.
    gpu.gate_wait(&stream, &gate, WATCHDOG_NS);
    gpu.fault(&stream);
    event
        .record(&stream)
        .expect("record behind a closed gate: nothing has failed yet");
    assert_eq!(event.core_event().status(), EventStatus::Scheduled);
    gate.set(1);

    // The blocking waiter, the callback and finish() all see the failure.
    assert_eq!(
        support::wait(event.core_event(), "the faulting stream's finish"),
        EventStatus::Failed
    );
    assert_eq!(
        recv(&rx, "the on_finished callback after the fault"),
        EventStatus::Failed
    );
    assert_eq!(finish(&event), Ok(EventStatus::Failed));
    assert_eq!(event.status(), EventStatus::Failed);
    let msg = event.error_message().expect("a failed event has a message");
    eprintln!("faulting kernel reported: {msg}");
    assert!(
        msg.starts_with("CUDA_ERROR_ILLEGAL_ADDRESS: ")
            || msg.starts_with("CUDA_ERROR_LAUNCH_FAILED: "),
        "unexpected message (want the CUDA error's name first): {msg}"
    );
    assert!(
        !msg.contains("no description"),
        "the driver's text is missing: {msg}"
    );
    assert_eq!(event.core_event().error_message(), Some(msg));
    assert_eq!(evlatch_cuda::diagnostics::pending_callbacks(), 0);

    // The context is poisoned now. A new record either fails at once (and
    // fails the event with the reason) or is reported by the stream
    // callback — never left waiting.
    event.reset().unwrap();
    match event.record(&stream) {
        Err(CudaError::Driver { call, code }) => {
            eprintln!("record on the poisoned context: {call} -> {code:?}");
            assert_eq!(event.core_event().status(), EventStatus::Failed);
            let msg = event.error_message().unwrap();
            assert!(msg.contains(call), "{msg}");
        }
        Err(other) => panic!("unexpected record error: {other}"),
        Ok(()) => assert_eq!(
            support::wait(event.core_event(), "a record on the poisoned context"),
            EventStatus::Failed
        ),
    }
    assert_eq!(evlatch_cuda::diagnostics::pending_callbacks(), 0);
}
