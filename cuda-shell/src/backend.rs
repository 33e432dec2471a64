//! Registration as the CUDA backend of the core registry, with the wait
//! matrix entries Caffe2 has.
//!
//! | waiter \ event | CPU (core `Event`)          | CUDA ([`CudaEvent`](crate::CudaEvent)) |
//! |----------------|-----------------------------|----------------------------------------|
//! | CPU            | evlatch-std                 | host blocks: the event's `finish`      |
//! | CUDA           | host blocks until it is final, then the stream's later work follows | device-side: `cuStreamWaitEvent`, the host does not block |
//!
//! A CUDA waiter's context is its stream: a `cudarc::driver::CudaStream` or
//! an `Arc` of one. A CPU waiter takes no context (any value).

use core::any::Any;
use std::sync::OnceLock;

use evlatch::backend::{
    register_backend, register_wait, Backend, BackendError, DeviceEvent, DeviceType,
};

use crate::event::{lookup, park_until_final, stream_of};
use crate::CudaError;

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
        register_backend(&BACKEND)?;
        register_wait(DeviceType::CUDA, DeviceType::CUDA, wait_cuda_on_cuda)?;
        register_wait(DeviceType::CPU, DeviceType::CUDA, wait_cpu_on_cuda)?;
        register_wait(DeviceType::CUDA, DeviceType::CPU, wait_cuda_on_cpu)?;
        Ok(())
    })
}

/// CUDA waits for CUDA, on the device (`cuStreamWaitEvent`).
fn wait_cuda_on_cuda(event: &dyn DeviceEvent, context: &dyn Any) -> Result<(), BackendError> {
    let stream = stream_of(context)?;
    let event = lookup(event).ok_or(CudaError::ForeignEvent)?;
    event.wait_on(stream).map_err(CudaError::into_backend)
}

/// The CPU waits for CUDA: the host blocks in the event's `finish`.
fn wait_cpu_on_cuda(event: &dyn DeviceEvent, _context: &dyn Any) -> Result<(), BackendError> {
    event.finish().map(|_| ())
}

/// CUDA waits for a CPU event: the host blocks until it is final, so work
/// the caller enqueues on the stream afterwards follows it.
fn wait_cuda_on_cpu(event: &dyn DeviceEvent, context: &dyn Any) -> Result<(), BackendError> {
    stream_of(context)?;
    match event.completion() {
        Some(completion) => {
            park_until_final(completion);
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
        completion: Event,
        finishes: AtomicUsize,
    }

    impl DeviceEvent for Impostor {
        fn device_type(&self) -> DeviceType {
            DeviceType::CUDA
        }
        fn record(&self, _: &dyn Any) -> Result<(), BackendError> {
            Ok(())
        }
        fn query(&self) -> EventStatus {
            self.completion.status()
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
        fn on_complete_fn(&self, _: fn(EventStatus, usize), _: usize) -> Result<(), BackendError> {
            Err(BackendError::Unsupported {
                operation: "callbacks",
            })
        }
        fn completion(&self) -> Option<&Event> {
            Some(&self.completion)
        }
    }

    fn impostor() -> Impostor {
        Impostor {
            completion: Event::new(),
            finishes: AtomicUsize::new(0),
        }
    }

    #[test]
    fn cuda_on_cuda_refuses_a_foreign_event() {
        // Without a stream: the context check comes first.
        assert!(matches!(
            wait_cuda_on_cuda(&impostor(), &()),
            Err(BackendError::WrongContext { .. })
        ));
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
    fn lookup_misses_foreign_events() {
        assert!(lookup(&impostor()).is_none());
        assert!(lookup(&Event::new()).is_none());
    }
}
