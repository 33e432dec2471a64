//! # evlatch-cuda
//!
//! CUDA events for [`evlatch`], on cudarc's driver API loaded at run time:
//! the crate builds on any machine, and on one without a CUDA driver every
//! entry point answers [`CudaError::NoDriver`] instead of panicking.
//!
//! - [`is_available`] / [`availability`]: is there a driver and a device?
//!   Checked before any driver call.
//! - [`context`]: a device's primary context, safely.
//! - [`CudaEvent`]: Caffe2's CUDA event — record on a stream once per
//!   generation, query (`cuEventQuery`), blocking finish, device-side waits
//!   between streams, elapsed time, reset — with [`EventFlags`] for timing
//!   and blocking sync.
//! - **The bridge**, which Caffe2 and PyTorch lack: recording
//!   also enqueues a stream callback that finishes a core [`evlatch::Event`]
//!   ([`CudaEvent::core_event`]) when the GPU reaches it — with the CUDA
//!   error's name and text if the stream failed. Blocking waits, `.await`
//!   and `on_finished` callbacks on that event wake when the GPU finishes, with
//!   no polling thread and no busy wait.
//! - [`register`]: the CUDA backend in the core registry, with the wait
//!   matrix entries CUDA→CUDA (device-side), CPU→CUDA and CUDA→CPU
//!   (host-side).
//!
//! ## Why a stream callback, not a host function
//!
//! The bridge enqueues its finish with `cuStreamAddCallback`, not
//! `cuLaunchHostFunc`, because of what each does after a device error. The
//! CUDA driver API reference says of `cuLaunchHostFunc` that, in contrast to
//! `cuStreamAddCallback`, the function is *not called* in the event of an
//! error in the CUDA context; of `cuStreamAddCallback`, that each callback is
//! executed exactly once and, after a device error, receives the error code.
//! With a host function a faulting kernel would leave the core event
//! `Scheduled` forever — every waiter stranded, the callback's state leaked;
//! with the stream callback the core event finishes as `Failed` with the
//! error's name and text.
//!
//! The costs, both from the same reference's note on `cuStreamAddCallback`:
//!
//! - it is not supported under stream capture (`cuStreamBeginCapture`), so
//!   [`CudaEvent::record`] on a capturing stream fails (and finishes the
//!   event as `Failed`, so nobody waits on it); record outside capture;
//! - it is "slated for eventual deprecation and removal". Should it go, the
//!   bridge needs a host function plus another way to finish the core event
//!   after a context error.
//!
//! ## Threads
//!
//! Callbacks on a core event run on the CUDA driver's callback thread: they
//! MUST NOT call CUDA and should not block. Waking threads and tasks (what
//! evlatch-std's hook does) is fine. Two traps:
//!
//! - **Drops are calls.** A callback that owns the last `Arc` of a
//!   [`CudaEvent`], a `CudaStream` or a `CudaContext` runs its CUDA destroy
//!   (`cuEventDestroy`, `cuStreamDestroy`, the context release) on the
//!   driver's callback thread when it drops it. Keep another owner alive
//!   until the core event is finished.
//! - **Driver locks.** The driver may hold an internal lock while stream
//!   callbacks run: a callback MUST NOT block on a lock or channel shared
//!   with a thread that is (or may be) inside a CUDA call.
//!
//! ## Driver symbols
//!
//! cudarc resolves each driver function on its first call and *panics* if
//! the driver does not export it. [`availability`] checks every symbol in
//! [`DRIVER_SYMBOLS`] first and answers [`CudaError::MissingSymbol`]
//! instead; `elapsed_ms` uses `cuEventElapsedTime_v2` where the driver has
//! it (12.8 and newer, and the only spelling in cudarc's CUDA 13 bindings)
//! and falls back to `cuEventElapsedTime`. Calling cudarc yourself can
//! still panic — e.g. `CudaContext::new_non_primary` needs
//! `cuCtxCreate_v4`, a driver of CUDA 12.5 or newer: ask
//! [`driver_exports`] first.
//!
//! ## Examples
//!
//! ```
//! use std::{sync::mpsc, time::Duration};
//! use evlatch::EventStatus;
//! use evlatch_cuda::{CudaEvent, EventFlags};
//!
//! let ctx = match evlatch_cuda::context(0) {
//!     Ok(ctx) => ctx,
//!     // Skip only where there is no GPU; a broken CUDA is a failure.
//!     Err(why) if why.is_no_gpu() => return println!("skipped: {why}"),
//!     Err(why) => panic!("CUDA is there but broken: {why}"),
//! };
//! let stream = ctx.new_stream().unwrap();
//! let event = CudaEvent::new(&ctx, EventFlags::new()).unwrap();
//! let (tx, rx) = mpsc::channel();
//! event.core_event().on_finished(move |status| {
//!     let _ = tx.send(status);
//! });
//! event.record(&stream).unwrap(); // after the kernels you launched on `stream`
//! let status = rx.recv_timeout(Duration::from_secs(30)).expect("the stream callback ran");
//! assert_eq!(status, EventStatus::Success);
//! ```
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

mod backend;
mod bridge;
mod codes;
pub mod diagnostics;
mod driver;
mod error;
mod event;
mod flags;

pub use backend::{register, BACKEND};
pub use driver::{availability, context, driver_exports, is_available, DRIVER_SYMBOLS};
pub use error::CudaError;
pub use event::CudaEvent;
pub use flags::EventFlags;

/// The cudarc this crate is built on (driver API, loaded at run time), for
/// contexts and streams of the matching version.
pub use cudarc;

/// The device type this crate's backend registers under.
///
/// # Examples
///
/// ```
/// assert_eq!(evlatch_cuda::DEVICE, evlatch::backend::DeviceType::CUDA);
/// ```
pub const DEVICE: evlatch::backend::DeviceType = evlatch::backend::DeviceType::CUDA;
