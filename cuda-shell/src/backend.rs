//! Registration as the CUDA backend of the core registry, with the wait
//! matrix entries Caffe2 has.
//!
//! | waiter \ event | CPU (core `Event`)          | CUDA ([`CudaEvent`])                   |
//! |----------------|-----------------------------|----------------------------------------|
//! | CPU            | evlatch-std                 | host blocks: the event's `finish`      |
//! | CUDA           | host blocks until it is finished, then the stream's later work follows | device-side: `cuStreamWaitEvent`, the host does not block |
//!
//! A CUDA waiter's context is its stream: a `cudarc::driver::CudaStream` or
//! an `Arc` of one. A CPU waiter takes no context (any value).
//!
//! A wait function sees the event as a `&dyn DeviceEvent`; the CUDA→CUDA
//! entry gets back to the [`CudaEvent`] (and its
//! `CUevent`) by downcasting [`DeviceEvent::as_any`]. An event that claims
//! to be CUDA but does not downcast is refused with
//! [`CudaError::ForeignEvent`].

use core::any::Any;
use std::sync::OnceLock;

use evlatch::backend::{
    register_backend, register_wait, Backend, BackendError, DeviceEvent, DeviceType,
};

use evlatch_std::EventExt;

use crate::event::stream_of;
use crate::{CudaError, CudaEvent};

/// The CUDA backend's registry entry: name `"cuda"`, callbacks supported.
///
/// # Examples
///
/// ```
/// assert_eq!(evlatch_cuda::BACKEND.name(), "cuda");
/// assert_eq!(evlatch_cuda::BACKEND.device_type(), evlatch::backend::DeviceType::CUDA);
/// assert!(evlatch_cuda::BACKEND.supports_callbacks());
/// ```
pub static BACKEND: Backend = Backend::new("cuda", DeviceType::CUDA, true);

/// Registers [`BACKEND`] for [`DeviceType::CUDA`] and the wait functions
/// CUDA→CUDA, CPU→CUDA and CUDA→CPU. Needs no GPU and makes no driver call.
/// [`CudaEvent::new`](crate::CudaEvent::new) calls it; call it yourself to
/// register before any event exists. Calling it again returns the first
/// call's result.
///
/// # Errors
///
/// [`BackendError::BackendRegistered`] or [`BackendError::WaitRegistered`]
/// if another crate took one of these slots first; the slots registered
/// before the refused one stay registered.
///
/// # Examples
///
/// ```
/// use evlatch::backend::{has_wait, lookup, DeviceType};
/// evlatch_cuda::register().unwrap();
/// evlatch_cuda::register().unwrap(); // idempotent
/// assert_eq!(lookup(DeviceType::CUDA).unwrap().name(), "cuda");
/// assert!(has_wait(DeviceType::CUDA, DeviceType::CUDA));
/// assert!(has_wait(DeviceType::CPU, DeviceType::CUDA));
/// assert!(has_wait(DeviceType::CUDA, DeviceType::CPU));
/// ```
pub fn register() -> Result<(), BackendError> {
    static RESULT: OnceLock<Result<(), BackendError>> = OnceLock::new();
    *RESULT.get_or_init(|| {
        // The host-side waits below block through evlatch-std: install it
        // now, so a CPU wait on a CUDA event parks from the first call.
        evlatch_std::install();
        register_backend(&BACKEND)?;
        register_wait(DeviceType::CUDA, DeviceType::CUDA, wait_cuda_on_cuda)?;
        register_wait(DeviceType::CPU, DeviceType::CUDA, wait_cpu_on_cuda)?;
        register_wait(DeviceType::CUDA, DeviceType::CPU, wait_cuda_on_cpu)?;
        Ok(())
    })
}

/// The `CudaEvent` behind a `&dyn DeviceEvent`, if it is one.
fn cuda_event(event: &dyn DeviceEvent) -> Option<&CudaEvent> {
    event.as_any().and_then(|a| a.downcast_ref::<CudaEvent>())
}

/// CUDA waits for CUDA, on the device (`cuStreamWaitEvent`). The event is
/// checked first, then the stream.
fn wait_cuda_on_cuda(event: &dyn DeviceEvent, context: &dyn Any) -> Result<(), BackendError> {
    let event = cuda_event(event).ok_or(CudaError::ForeignEvent)?;
    let stream = stream_of(context)?;
    event.wait_on(stream).map_err(CudaError::into_backend)
}

/// The CPU waits for CUDA: the host blocks in the event's `finish`.
fn wait_cpu_on_cuda(event: &dyn DeviceEvent, _context: &dyn Any) -> Result<(), BackendError> {
    event.finish().map(|_| ())
}

/// CUDA waits for a CPU event: the host blocks until it is finished, so work
/// the caller enqueues on the stream afterwards follows it.
fn wait_cuda_on_cpu(event: &dyn DeviceEvent, context: &dyn Any) -> Result<(), BackendError> {
    stream_of(context)?;
    match event.core_event() {
        Some(core) => {
            core.wait();
            Ok(())
        }
        None => event.finish().map(|_| ()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use evlatch::{ErrorMessage, Event, EventStatus};
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A `DeviceEvent` that claims to be CUDA but is not a `CudaEvent`.
    struct Impostor {
        core: Event,
        finishes: AtomicUsize,
        /// Whether `as_any` gives `Some(self)` (else the trait's default).
        any: bool,
    }

    impl DeviceEvent for Impostor {
        fn device_type(&self) -> DeviceType {
            DeviceType::CUDA
        }
        fn record(&self, _: &dyn Any) -> Result<(), BackendError> {
            Ok(())
        }
        fn query(&self) -> EventStatus {
            self.core.status()
        }
        fn finish(&self) -> Result<EventStatus, BackendError> {
            self.finishes.fetch_add(1, Ordering::Relaxed);
            Ok(EventStatus::Success)
        }
        fn error_message(&self) -> Option<ErrorMessage> {
            None
        }
        fn set_finished(&self) -> Result<(), BackendError> {
            Ok(())
        }
        fn set_failed(&self, _: &str) -> Result<(), BackendError> {
            Ok(())
        }
        fn reset(&self) -> Result<(), BackendError> {
            Ok(())
        }
        fn supports_callbacks(&self) -> bool {
            false
        }
        fn on_finished_fn(&self, _: fn(EventStatus, usize), _: usize) -> Result<(), BackendError> {
            Err(BackendError::Unsupported {
                operation: "callbacks",
            })
        }
        fn core_event(&self) -> Option<&Event> {
            Some(&self.core)
        }
        fn as_any(&self) -> Option<&dyn Any> {
            self.any.then_some(self as &dyn Any)
        }
    }

    fn impostor() -> Impostor {
        Impostor {
            core: Event::new(),
            finishes: AtomicUsize::new(0),
            any: false,
        }
    }

    fn impostor_with_any() -> Impostor {
        Impostor {
            any: true,
            ..impostor()
        }
    }

    #[test]
    fn cuda_on_cuda_refuses_a_foreign_event() {
        // The event is checked before the context, so no stream (and no GPU)
        // is needed to reach the refusal.
        let foreign = Err(CudaError::ForeignEvent.into_backend());
        assert_eq!(wait_cuda_on_cuda(&impostor(), &()), foreign);
        assert_eq!(wait_cuda_on_cuda(&impostor_with_any(), &()), foreign);
        assert_eq!(wait_cuda_on_cuda(&Event::new(), &()), foreign);
    }

    #[test]
    fn cpu_on_cuda_calls_finish() {
        let ev = impostor();
        wait_cpu_on_cuda(&ev, &()).unwrap();
        assert_eq!(ev.finishes.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn cuda_on_cpu_wants_a_stream() {
        let ev = Event::new();
        ev.set_finished().unwrap();
        assert!(matches!(
            wait_cuda_on_cpu(&ev, &()),
            Err(BackendError::WrongContext { .. })
        ));
    }

    #[test]
    fn downcast_misses_foreign_events() {
        // `as_any` left at the trait's default (`None`).
        assert!(cuda_event(&impostor()).is_none());
        // `as_any` gives `Some`, but of another type.
        let with_any = impostor_with_any();
        assert!(with_any.as_any().is_some());
        assert!(cuda_event(&with_any).is_none());
        assert!(cuda_event(&Event::new()).is_none());
    }
}
