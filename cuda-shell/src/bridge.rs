//! The bridge: a stream callback that finishes a [`CudaEvent`]'s
//! core [`Event`] with the stream's outcome, so every waiter on the core
//! event — evlatch-std's blocking waits and `.await`, `on_finished`
//! callbacks — wakes when the GPU reaches the recorded point, with no
//! polling thread and no busy wait.
//!
//! [`CudaEvent::record`] calls `cuEventRecord`, then [`add_callback`] on the
//! same stream. The callback, [`on_stream_done`], runs on a thread owned by
//! the CUDA driver. It MUST NOT call CUDA and MUST NOT block: it only reads
//! a table and finishes the core event. What it touches — the core event — it
//! holds alive itself through an `Arc`, passed as the callback's `userData`
//! and reclaimed in the callback. It holds no CUDA handle, so dropping the
//! last reference there never calls CUDA.
//!
//! Why `cuStreamAddCallback` and not `cuLaunchHostFunc`: CUDA documents that
//! a host function is *not* called once the context has an error, while a
//! stream callback is called exactly once, with the error. With
//! `cuLaunchHostFunc`, a faulting kernel would strand every waiter and leak
//! the callback's state; with the stream callback it finishes the event as
//! `Failed` with the error's name and text. The price (see the crate docs):
//! no stream capture, and CUDA's notice that `cuStreamAddCallback` is slated
//! for eventual deprecation.
//!
//! [`CudaEvent`]: crate::CudaEvent
//! [`CudaEvent::record`]: crate::CudaEvent::record

use core::ffi::c_void;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use cudarc::driver::sys::{self, CUresult, CUstream};
use evlatch::{Event, EventStatus};

use crate::diagnostics::PENDING_CALLBACKS;
use crate::driver::code_message;
use crate::CudaError;

/// What a stream callback owns: the core event to finish, and the
/// generation it was enqueued for. Boxed, leaked into `userData`, reclaimed
/// once by the callback (or by [`add_callback`] if the driver refused the
/// callback).
struct Pending {
    core: Arc<Event>,
    generation: u32,
}

/// Enqueues on `cu_stream` the callback that finishes `core`'s
/// `generation` (which the caller has taken to `Scheduled`) with the
/// stream's outcome.
///
/// # Errors
///
/// [`CudaError::Driver`] if the driver refuses the callback (e.g. during
/// stream capture); nothing is left enqueued or leaked then.
///
/// # Safety
///
/// `cu_stream` MUST be a live stream of the current context, for the whole
/// call.
pub(crate) unsafe fn add_callback(
    cu_stream: CUstream,
    core: &Arc<Event>,
    generation: u32,
) -> Result<(), CudaError> {
    let pending = Box::into_raw(Box::new(Pending {
        core: Arc::clone(core),
        generation,
    }));
    PENDING_CALLBACKS.fetch_add(1, Ordering::Relaxed);
    // SAFETY: `cu_stream` is live (the caller's contract); `on_stream_done`
    // matches `CUstreamCallback` and upholds its contract (no CUDA calls, no
    // blocking); `pending` stays valid until the callback reclaims it, which
    // CUDA does exactly once for an accepted callback. Flags MUST be 0.
    let rc =
        unsafe { sys::cuStreamAddCallback(cu_stream, Some(on_stream_done), pending.cast(), 0) };
    if rc != CUresult::CUDA_SUCCESS {
        // SAFETY: the driver refused the callback, so it never runs and the
        // box leaked above is still ours, reclaimed exactly once here.
        drop(unsafe { Box::from_raw(pending) });
        PENDING_CALLBACKS.fetch_sub(1, Ordering::Relaxed);
        return Err(CudaError::Driver {
            call: "cuStreamAddCallback",
            code: rc,
        });
    }
    Ok(())
}

/// The stream callback: finishes the core event with the stream's outcome.
///
/// Runs on a CUDA driver thread. Contract (CUDA's, and ours): no CUDA call,
/// no blocking, no unwinding out. It reads the description table (never
/// written after the probe) and finishes the core event, which runs wake
/// hooks and callbacks on this thread.
///
/// # Safety
///
/// `user` MUST be a pointer from `Box::<Pending>::into_raw` in
/// [`add_callback`] that nothing else reclaims; CUDA calls each accepted
/// callback exactly once.
unsafe extern "C" fn on_stream_done(_stream: CUstream, status: CUresult, user: *mut c_void) {
    // SAFETY: per this function's contract, `user` is our leaked box and
    // this is its only reclamation.
    let pending = unsafe { Box::from_raw(user.cast::<Pending>()) };
    PENDING_CALLBACKS.fetch_sub(1, Ordering::Relaxed);
    // A panicking user callback must not unwind into the driver (that would
    // abort the process). The status is already finished when callbacks run.
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        pending.finish(status);
    }));
}

impl Pending {
    fn finish(&self, status: CUresult) {
        let event = &*self.core;
        let snap = event.snapshot();
        // Only this callback finishes a recorded generation; a different
        // generation or a finished status means someone finished or reset
        // the core event directly (misuse): leave it alone.
        if snap.generation() != self.generation || snap.status() != EventStatus::Scheduled {
            return;
        }
        match status {
            CUresult::CUDA_SUCCESS => {
                let _ = event.set_finished();
            }
            code => {
                let _ = event.set_failed(code_message(code).as_str());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use evlatch_std::EventExt;
    use std::thread;
    use std::time::Duration;

    #[test]
    fn callback_finishes_its_generation_and_frees_its_box() {
        // The stream callback's logic, driven by hand (no GPU): the box is
        // reclaimed, the counter drops, the outcome and message land.
        let core = Arc::new(Event::new());
        core.record().unwrap();
        let generation = core.snapshot().generation();
        let user = Box::into_raw(Box::new(Pending {
            core: Arc::clone(&core),
            generation,
        }));
        PENDING_CALLBACKS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: `user` is a leaked `Box<Pending>`, reclaimed only here.
        unsafe {
            on_stream_done(
                core::ptr::null_mut(),
                CUresult::CUDA_ERROR_ILLEGAL_ADDRESS,
                user.cast(),
            )
        };
        assert_eq!(Arc::strong_count(&core), 1, "callback leaked its Arc");
        assert_eq!(core.status(), EventStatus::Failed);
        let msg = core.error_message().unwrap();
        assert!(
            msg.starts_with("CUDA_ERROR_ILLEGAL_ADDRESS: "),
            "{}",
            msg.as_str()
        );
    }

    #[test]
    fn callback_success_and_stale_generation() {
        let core = Arc::new(Event::new());
        core.record().unwrap();
        let g = core.snapshot().generation();
        Pending {
            core: Arc::clone(&core),
            generation: g,
        }
        .finish(CUresult::CUDA_SUCCESS);
        assert_eq!(core.status(), EventStatus::Success);

        // A callback of an older generation must not finish a newer one.
        core.reset().unwrap();
        core.record().unwrap();
        Pending {
            core: Arc::clone(&core),
            generation: g,
        }
        .finish(CUresult::CUDA_ERROR_LAUNCH_FAILED);
        assert_eq!(core.status(), EventStatus::Scheduled);
    }

    #[test]
    fn callback_survives_a_panicking_user_callback() {
        let core = Arc::new(Event::new());
        core.record().unwrap();
        core.on_finished(|_| panic!("user callback panics (expected in this test)"));
        let user = Box::into_raw(Box::new(Pending {
            core: Arc::clone(&core),
            generation: core.snapshot().generation(),
        }));
        PENDING_CALLBACKS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: `user` is a leaked `Box<Pending>`, reclaimed only here.
        unsafe { on_stream_done(core::ptr::null_mut(), CUresult::CUDA_SUCCESS, user.cast()) };
        assert_eq!(core.status(), EventStatus::Success);
        assert_eq!(Arc::strong_count(&core), 1);
    }

    /// A blocked host waiter (what `CudaEvent::finish` does after
    /// `cuEventSynchronize`) wakes on the callback's finish even though a
    /// user callback registered before it panics: evlatch-std's wake hook
    /// runs before the callbacks.
    #[test]
    fn a_blocked_waiter_wakes_even_after_an_earlier_callback_panics() {
        let core = Arc::new(Event::new());
        core.record().unwrap();
        core.on_finished(|_| panic!("user callback panics (expected in this test)"));
        let user = Box::into_raw(Box::new(Pending {
            core: Arc::clone(&core),
            generation: core.snapshot().generation(),
        }));
        PENDING_CALLBACKS.fetch_add(1, Ordering::Relaxed);
        let user = user as usize;
        let driver = thread::spawn(move || {
            thread::sleep(Duration::from_millis(20));
            // SAFETY: `user` is a leaked `Box<Pending>`, reclaimed only here.
            unsafe {
                on_stream_done(
                    core::ptr::null_mut(),
                    CUresult::CUDA_SUCCESS,
                    user as *mut c_void,
                )
            };
        });
        assert_eq!(core.wait(), EventStatus::Success);
        driver.join().unwrap();
    }
}
