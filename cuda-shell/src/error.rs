//! Why a CUDA event operation failed.

use core::fmt;

use cudarc::driver::sys::CUresult;
use evlatch::backend::BackendError;
use evlatch::EventError;

use crate::driver;

/// Why an `evlatch-cuda` operation failed. The event is left as the
/// operation's docs say (most refusals leave it unchanged).
///
/// # Examples
///
/// ```
/// use evlatch_cuda::CudaError;
/// // Without a GPU this is what every entry point answers, never a panic.
/// if let Err(err) = evlatch_cuda::availability() {
///     println!("skipped: {err}");
/// }
/// assert!(CudaError::NoDriver.to_string().contains("LD_LIBRARY_PATH"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum CudaError {
    /// The CUDA driver library (`libcuda.so`, `nvcuda.dll`) could not be
    /// loaded.
    NoDriver,
    /// The driver loaded but reports no CUDA device.
    NoDevice,
    /// A device ordinal past the number of devices.
    InvalidDevice {
        /// The ordinal asked for.
        ordinal: usize,
        /// How many devices the driver reports.
        count: usize,
    },
    /// A driver call returned an error.
    Driver {
        /// The driver function that failed, e.g. `"cuEventRecord"`.
        call: &'static str,
        /// What it returned.
        code: CUresult,
    },
    /// A stream (or, for `elapsed_ms`, another event) of another context or
    /// device than the event's.
    WrongContext {
        /// Ordinal of the device of the event's context.
        event_device: usize,
        /// Ordinal of the device of the other object's context.
        other_device: usize,
    },
    /// The event's state machine refused the call (e.g. recording twice in
    /// one generation, resetting while in flight).
    Event(EventError),
    /// `set_finished` / `set_failed` on a recorded CUDA event: once recorded,
    /// only the device finishes it (Caffe2's rule).
    Recorded,
    /// The event was never recorded in this generation, so there is nothing
    /// to wait for, time, or synchronize with.
    NotRecorded,
    /// `elapsed_ms` on an event created without timing.
    TimingDisabled,
    /// `elapsed_ms` before both events finished.
    NotReady,
    /// The event waited on (device-side) finished as `Failed`; its
    /// `error_message()` says why.
    Failed,
    /// The CUDA driver library does not export a function this crate calls
    /// (see [`DRIVER_SYMBOLS`](crate::DRIVER_SYMBOLS)): a driver too old, or
    /// a newer one that dropped it. Checked before the first
    /// driver call, where cudarc itself would panic.
    MissingSymbol {
        /// The symbol looked for, e.g. `"cuEventElapsedTime_v2"`.
        name: &'static str,
    },
    /// A timed wait ([`CudaEvent::finish_timeout`](crate::CudaEvent::finish_timeout))
    /// ran out before the stream callback finished the event; the event is
    /// still `Scheduled` and can be waited on again.
    Timeout,
    /// A `DeviceEvent` claiming [`DeviceType::CUDA`](evlatch::backend::DeviceType::CUDA)
    /// that is not an [`evlatch_cuda::CudaEvent`](crate::CudaEvent): the CUDA
    /// wait functions cannot reach its CUDA handle.
    ForeignEvent,
}

impl CudaError {
    /// Whether the error means "this machine has no usable GPU" —
    /// [`NoDriver`](Self::NoDriver) or [`NoDevice`](Self::NoDevice) — as
    /// opposed to a CUDA that is there but broken (a stub library, a failing
    /// `cuInit`, a missing symbol, a context that cannot be retained). Tests
    /// skip on the first kind only.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_cuda::CudaError;
    /// assert!(CudaError::NoDriver.is_no_gpu());
    /// assert!(CudaError::NoDevice.is_no_gpu());
    /// assert!(!CudaError::MissingSymbol { name: "cuInit" }.is_no_gpu());
    /// ```
    pub fn is_no_gpu(&self) -> bool {
        matches!(self, CudaError::NoDriver | CudaError::NoDevice)
    }

    /// The error as the core's backend error, for
    /// [`DeviceEvent`](evlatch::backend::DeviceEvent) and the wait matrix.
    ///
    /// State-machine refusals stay [`BackendError::Event`] (a recorded
    /// event's `set_finished` is `AlreadyRecorded`); driver failures, a stream
    /// of the wrong context (`CUDA_ERROR_INVALID_CONTEXT`, as cudarc reports
    /// it) and an unfinished timing (`CUDA_ERROR_NOT_READY`) become
    /// [`BackendError::Device`] with the CUDA code and name; what has no CUDA
    /// code becomes [`BackendError::Unsupported`] naming the refused operation.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch::backend::BackendError;
    /// use evlatch::EventError;
    /// use evlatch_cuda::CudaError;
    /// let e = CudaError::Event(EventError::InFlight).into_backend();
    /// assert_eq!(e, BackendError::Event(EventError::InFlight));
    /// let e = CudaError::WrongContext { event_device: 0, other_device: 1 }.into_backend();
    /// assert_eq!(e, BackendError::Device { code: 201, name: "CUDA_ERROR_INVALID_CONTEXT" });
    /// ```
    pub fn into_backend(self) -> BackendError {
        let device = |code: CUresult| BackendError::Device {
            code: code as i64,
            name: driver::code_name(code),
        };
        let unsupported = |operation| BackendError::Unsupported { operation };
        match self {
            CudaError::Event(e) => BackendError::Event(e),
            CudaError::Recorded => BackendError::Event(EventError::AlreadyRecorded),
            CudaError::Driver { code, .. } => device(code),
            CudaError::NoDevice => device(CUresult::CUDA_ERROR_NO_DEVICE),
            CudaError::InvalidDevice { .. } => device(CUresult::CUDA_ERROR_INVALID_DEVICE),
            CudaError::WrongContext { .. } => device(CUresult::CUDA_ERROR_INVALID_CONTEXT),
            CudaError::NotReady | CudaError::Timeout => device(CUresult::CUDA_ERROR_NOT_READY),
            CudaError::MissingSymbol { .. } => device(CUresult::CUDA_ERROR_NOT_FOUND),
            CudaError::NoDriver => unsupported("CUDA without a driver (libcuda.so not found)"),
            CudaError::NotRecorded => {
                unsupported("finishing or waiting on an unrecorded CUDA event (record it first)")
            }
            CudaError::TimingDisabled => unsupported("timing CUDA events created without timing"),
            CudaError::Failed => {
                unsupported("a device-side wait on a failed CUDA event (see its error_message)")
            }
            CudaError::ForeignEvent => {
                unsupported("a CUDA wait on a CUDA event not created by evlatch-cuda")
            }
        }
    }
}

impl fmt::Display for CudaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CudaError::NoDriver => f.write_str(
                "no CUDA driver (libcuda.so not found): install the NVIDIA driver, or add the \
                 directory holding libcuda.so (nvcuda.dll on Windows) to LD_LIBRARY_PATH",
            ),
            CudaError::NoDevice => f.write_str(
                "the CUDA driver found no device: check that a GPU is present and visible \
                 (CUDA_VISIBLE_DEVICES, container device flags)",
            ),
            CudaError::InvalidDevice { ordinal, count } => write!(
                f,
                "no CUDA device {ordinal}: the driver reports {count} device(s), ordinals 0..{count}"
            ),
            CudaError::Driver { call, code } => {
                write!(f, "{call} failed with ")?;
                driver::write_code(f, *code)
            }
            CudaError::WrongContext {
                event_device,
                other_device,
            } => write!(
                f,
                "the stream (or event) belongs to another CUDA context (device {other_device}) \
                 than the event (device {event_device}): use one of the event's own context"
            ),
            CudaError::Event(e) => fmt::Display::fmt(e, f),
            CudaError::Recorded => f.write_str(
                "the CUDA event is recorded: only the device finishes it; call set_finished or \
                 set_failed only on an unrecorded (initialized) event",
            ),
            CudaError::NotRecorded => f.write_str(
                "the CUDA event was not recorded in this generation: record it on a stream first",
            ),
            CudaError::TimingDisabled => f.write_str(
                "the CUDA event was created without timing: create both events with \
                 EventFlags::new().timing(true)",
            ),
            CudaError::NotReady => f.write_str(
                "the CUDA events have not finished yet: call finish() on both before timing them",
            ),
            CudaError::Failed => f.write_str(
                "the CUDA event failed, so there is no work to wait for: see its error_message() \
                 and handle the failure before enqueuing dependent work",
            ),
            CudaError::MissingSymbol { name } => write!(
                f,
                "the CUDA driver does not export {name}, which evlatch-cuda calls: the driver \
                 is too old, or a newer one dropped it; use a driver for CUDA 12 or 13 and check \
                 evlatch_cuda::DRIVER_SYMBOLS against it"
            ),
            CudaError::Timeout => f.write_str(
                "the CUDA event did not finish in time: its stream callback has \
                 not run (the GPU work is still running or stuck); the event is still in \
                 flight, wait again or investigate the stream",
            ),
            CudaError::ForeignEvent => f.write_str(
                "the event says it is a CUDA event but was not created by evlatch-cuda: \
                 create CUDA events with evlatch_cuda::CudaEvent::new",
            ),
        }
    }
}

impl core::error::Error for CudaError {}

impl From<EventError> for CudaError {
    fn from(e: EventError) -> Self {
        CudaError::Event(e)
    }
}

impl From<CudaError> for BackendError {
    fn from(e: CudaError) -> Self {
        e.into_backend()
    }
}
