//! Writing a backend for your own device, from scratch: a made-up "DSP"
//! accelerator whose work finishes on a worker thread.
//!
//! A backend is three things:
//! 1. an event type implementing [`DeviceEvent`] (here `DspEvent`, which
//!    keeps a core [`Event`] as its core event so callbacks come for free);
//! 2. a [`Backend`] entry in the registry under a custom [`DeviceType`];
//! 3. wait functions in the wait matrix: how a CPU waits for a DSP event,
//!    and how the DSP waits for a CPU event.
//!
//! Run it with `cargo run -p evlatch --example custom_backend --features alloc`.

use std::any::Any;
use std::sync::mpsc;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use evlatch::backend::{
    lookup, register_backend, register_wait, wait, Backend, BackendError, DeviceEvent, DeviceType,
};
use evlatch::{ErrorMessage, Event, EventStatus};

const DSP: DeviceType = match DeviceType::custom(5) {
    Ok(d) => d,
    Err(_) => panic!("5 is a valid custom device id"),
};

static DSP_BACKEND: Backend = Backend::new("dsp", DSP, true);

/// What a DSP "stream" is in this toy: a queue of jobs run by a thread.
struct DspQueue {
    jobs: mpsc::Sender<Box<dyn FnOnce() + Send>>,
}

impl DspQueue {
    fn new() -> Self {
        let (jobs, rx) = mpsc::channel::<Box<dyn FnOnce() + Send>>();
        thread::spawn(move || {
            for job in rx {
                job();
            }
        });
        Self { jobs }
    }

    fn submit(&self, job: impl FnOnce() + Send + 'static) {
        // The worker thread lives as long as the queue.
        let _ = self.jobs.send(Box::new(job));
    }
}

/// A DSP event: recording it on a `DspQueue` enqueues a marker job that
/// finishes the core event when the queue reaches it.
struct DspEvent {
    core: Arc<Event>,
}

impl DeviceEvent for DspEvent {
    fn device_type(&self) -> DeviceType {
        DSP
    }

    fn record(&self, context: &dyn Any) -> Result<(), BackendError> {
        let queue = context
            .downcast_ref::<DspQueue>()
            .ok_or(BackendError::WrongContext {
                expected: "DspQueue",
            })?;
        self.core.record()?;
        let done = self.core.clone();
        queue.submit(move || {
            thread::sleep(Duration::from_millis(5)); // the "kernel"
            let _ = done.set_finished();
        });
        Ok(())
    }

    fn query(&self) -> EventStatus {
        self.core.status()
    }

    fn finish(&self) -> Result<EventStatus, BackendError> {
        wait(DeviceType::CPU, self, &())?;
        Ok(self.query())
    }

    fn error_message(&self) -> Option<ErrorMessage> {
        self.core.error_message()
    }

    fn set_finished(&self) -> Result<(), BackendError> {
        Ok(self.core.set_finished()?)
    }

    fn set_failed(&self, msg: &str) -> Result<(), BackendError> {
        Ok(self.core.set_failed(msg)?)
    }

    fn reset(&self) -> Result<(), BackendError> {
        Ok(self.core.reset()?)
    }

    fn supports_callbacks(&self) -> bool {
        true
    }

    fn on_finished_fn(
        &self,
        f: fn(EventStatus, usize),
        context: usize,
    ) -> Result<(), BackendError> {
        Ok(self.core.on_finished_fn(f, context)?)
    }

    fn core_event(&self) -> Option<&Event> {
        Some(&self.core)
    }
}

/// CPU waits for a DSP event: block on the core event (a no_std core has no
/// blocking primitive, so this toy parks through a callback and a channel;
/// with evlatch-std you would call its `wait()`).
fn cpu_waits_for_dsp(event: &dyn DeviceEvent, _context: &dyn Any) -> Result<(), BackendError> {
    let core = event.core_event().ok_or(BackendError::Unsupported {
        operation: "waiting without an event",
    })?;
    let (tx, rx) = mpsc::sync_channel::<()>(1);
    core.on_finished(move |_| {
        let _ = tx.send(());
    });
    let _ = rx.recv();
    Ok(())
}

/// DSP waits for a CPU event: enqueue a job on the DSP queue that blocks the
/// queue until the CPU event finishes (work after it is ordered after it).
fn dsp_waits_for_cpu(event: &dyn DeviceEvent, context: &dyn Any) -> Result<(), BackendError> {
    let queue = context
        .downcast_ref::<DspQueue>()
        .ok_or(BackendError::WrongContext {
            expected: "DspQueue",
        })?;
    let core = event.core_event().ok_or(BackendError::Unsupported {
        operation: "waiting without an event",
    })?;
    let (tx, rx) = mpsc::sync_channel::<()>(1);
    core.on_finished(move |_| {
        let _ = tx.send(());
    });
    queue.submit(move || {
        let _ = rx.recv();
    });
    Ok(())
}

fn main() -> Result<(), BackendError> {
    register_backend(&DSP_BACKEND)?;
    register_wait(DeviceType::CPU, DSP, cpu_waits_for_dsp)?;
    register_wait(DSP, DeviceType::CPU, dsp_waits_for_cpu)?;
    // A second registration of the same slot is an error, not an overwrite.
    assert_eq!(
        register_backend(&DSP_BACKEND),
        Err(BackendError::BackendRegistered(DSP))
    );
    println!("registered backend {:?}", lookup(DSP).map(|b| b.name()));

    let queue = DspQueue::new();
    let kernel_done = DspEvent {
        core: Arc::new(Event::new()),
    };
    kernel_done.on_finished_fn(|status, _| println!("callback: DSP kernel {status}"), 0)?;

    // The wrong context is a clear error, not undefined behaviour.
    assert!(matches!(
        kernel_done.record(&()),
        Err(BackendError::WrongContext { .. })
    ));

    kernel_done.record(&queue)?;
    println!("recorded; status {}", kernel_done.query());
    let status = kernel_done.finish()?; // CPU -> DSP wait through the matrix
    println!("finished: {status}");
    assert_eq!(status, EventStatus::Success);

    // The DSP waits for CPU work: the job after the wait runs only once the
    // CPU event finishes.
    let cpu_ready = Event::new();
    cpu_ready.record()?;
    cpu_ready.device_wait(DSP, &queue)?;
    let after = DspEvent {
        core: Arc::new(Event::new()),
    };
    after.record(&queue)?;
    thread::sleep(Duration::from_millis(20));
    assert_eq!(
        after.query(),
        EventStatus::Scheduled,
        "blocked behind the CPU event"
    );
    cpu_ready.set_finished()?;
    after.finish()?;
    println!("DSP work after the CPU event: {}", after.query());
    Ok(())
}
