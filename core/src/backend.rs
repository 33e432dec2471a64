//! Device backends: one trait per device's events, a static registry of
//! backends by device type, and a wait matrix, as in Caffe2's event tables.
//!
//! - [`DeviceType`] names a device kind: [`DeviceType::CPU`],
//!   [`DeviceType::CUDA`], or a custom id.
//! - [`DeviceEvent`] is the one trait a backend implements, on its event
//!   type; its methods' contracts are the MUSTs below. The core [`Event`] is
//!   the CPU backend's event.
//! - [`register_backend`] fills the backend slot of a device type (once);
//!   [`register_wait`] fills one cell of the wait matrix
//!   `[waiter device][event device]` (once). Both are lock-free and refuse
//!   an occupied slot with an error rather than overwrite it.
//! - [`wait`] dispatches "make `waiter` wait for `event`" through the matrix.
//!
//! One argument order everywhere, the matrix's: the waiter first, then the
//! event (or the event's device), then what is specific to the call — the
//! function in [`register_wait`]`(waiter, event, f)`, the waiter's context
//! in [`wait`]`(waiter, event, context)`; [`has_wait`]`(waiter, event)`.
//!
//! See `core/examples/custom_backend.rs` for a backend written from scratch.

use core::any::Any;
use core::fmt;

use crate::sync::statics::AtomicPtr;
use crate::wake::{self, Snapshot, WakeArm};
use crate::{ErrorMessage, Event, EventError, EventStatus};
use core::sync::atomic::Ordering;

/// How many device types the registry holds (ids `0..MAX_DEVICE_TYPES`).
pub const MAX_DEVICE_TYPES: usize = 8;

/// A kind of device: an index into the registry and the wait matrix.
///
/// # Examples
///
/// ```
/// use evlatch::backend::DeviceType;
/// let npu = DeviceType::custom(5).unwrap();
/// assert_eq!(npu.index(), 5);
/// assert!(DeviceType::custom(1).is_err()); // reserved for CUDA
/// assert!(DeviceType::custom(200).is_err()); // out of range
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeviceType(u8);

impl DeviceType {
    /// The host CPU; its events are [`Event`]s.
    pub const CPU: DeviceType = DeviceType(0);
    /// NVIDIA CUDA devices (the `evlatch-cuda` crate).
    pub const CUDA: DeviceType = DeviceType(1);
    /// The first id free for user backends.
    pub const FIRST_CUSTOM: u8 = 2;

    /// A user device type, `FIRST_CUSTOM..MAX_DEVICE_TYPES`.
    ///
    /// # Errors
    ///
    /// [`BackendError::InvalidDeviceType`] for a reserved or out-of-range id.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(evlatch::backend::DeviceType::custom(2).is_ok());
    /// ```
    pub const fn custom(id: u8) -> Result<DeviceType, BackendError> {
        if id >= Self::FIRST_CUSTOM && (id as usize) < MAX_DEVICE_TYPES {
            Ok(DeviceType(id))
        } else {
            Err(BackendError::InvalidDeviceType(id))
        }
    }

    /// The id as an index, `0..MAX_DEVICE_TYPES`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(evlatch::backend::DeviceType::CUDA.index(), 1);
    /// ```
    pub const fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for DeviceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            DeviceType::CPU => f.write_str("CPU"),
            DeviceType::CUDA => f.write_str("CUDA"),
            DeviceType(id) => write!(f, "device#{id}"),
        }
    }
}

/// The event of one device: the one trait a backend implements.
///
/// Contract (each a MUST for implementors; callers may rely on it). The
/// state machine is [`Event`]'s transition table, with the two refinements
/// marked *device rule*: a backend whose device finishes recorded work
/// itself (CUDA) may take them, and must say so in its docs; the CPU
/// backend takes neither.
///
/// - `device_type` MUST return the same value for the event's whole life.
/// - `record(context)` MUST move `Initialized → Scheduled` exactly as
///   [`Event::record`] does, returning its errors for the other states; a
///   `context` of a type the backend does not take MUST give
///   [`BackendError::WrongContext`], never undefined behaviour.
/// - `query` MUST NOT block and MUST report a finished status only once the
///   work is finished; once finished, it MUST stay finished until `reset`.
/// - `finish` MUST block the calling thread until the status is finished and
///   return the outcome of the generation current when it was called, or
///   return an error saying why it cannot block. *Device rule:* on an
///   `Initialized` event, which only a host call could ever finish, it MAY
///   return an error instead of waiting (the CPU backend waits, as Caffe2's
///   CPU `Finish` does).
/// - `error_message` MUST be `Some` exactly when `query` is `Failed`.
/// - `set_finished` / `set_failed` MUST follow the table. *Device rule:* on
///   a `Scheduled` (recorded) event, whose finish is the device's, they MAY
///   refuse with `BackendError::Event(EventError::AlreadyRecorded)` and
///   leave the event unchanged; from `Initialized` they MUST finish it.
/// - `reset` MUST follow the table: `Err` while scheduled, and the event
///   MUST be recordable again afterwards.
/// - `supports_callbacks` MUST be `true` exactly when `on_finished_fn` can
///   succeed; callbacks MUST run exactly once, with the outcome, and never
///   under a lock held by the backend.
/// - `core_event` MUST return the core event that mirrors this one's
///   outcome, if the backend keeps one (the CPU backend returns itself).
///
/// # Examples
///
/// The CPU backend is the core [`Event`]; its `finish` blocks (see its
/// docs for how):
///
/// ```
/// use evlatch::backend::{DeviceEvent, DeviceType};
/// use evlatch::{Event, EventStatus};
///
/// let event = Event::new();
/// let device: &dyn DeviceEvent = &event;
/// assert_eq!(device.device_type(), DeviceType::CPU);
/// device.record(&()).unwrap();
/// device.set_failed("no input").unwrap(); // the CPU takes no device rule
/// assert_eq!(device.finish(), Ok(EventStatus::Failed));
/// assert_eq!(device.error_message().unwrap().as_str(), "no input");
/// assert!(device.set_finished().is_err());
/// device.reset().unwrap();
/// assert_eq!(device.query(), EventStatus::Initialized);
/// ```
pub trait DeviceEvent: Sync {
    /// The device this event belongs to.
    fn device_type(&self) -> DeviceType;
    /// Marks the point whose finish the event reports (e.g. on a stream
    /// given as `context`).
    fn record(&self, context: &dyn Any) -> Result<(), BackendError>;
    /// The status now, without blocking.
    fn query(&self) -> EventStatus;
    /// Blocks until the event is finished.
    fn finish(&self) -> Result<EventStatus, BackendError>;
    /// The failure message, if failed.
    fn error_message(&self) -> Option<ErrorMessage>;
    /// Finishes with success.
    fn set_finished(&self) -> Result<(), BackendError>;
    /// Finishes with an error message.
    fn set_failed(&self, msg: &str) -> Result<(), BackendError>;
    /// Makes a finished event reusable.
    fn reset(&self) -> Result<(), BackendError>;
    /// Whether [`on_finished_fn`](Self::on_finished_fn) is supported.
    fn supports_callbacks(&self) -> bool;
    /// Runs `f(outcome, context)` once when the event finishes.
    fn on_finished_fn(&self, f: fn(EventStatus, usize), context: usize)
        -> Result<(), BackendError>;
    /// The core event mirroring this one, if any.
    fn core_event(&self) -> Option<&Event>;

    /// The event as `Any`, so that a wait function can get back to the
    /// backend's concrete type. Implementors whose type is `'static` should
    /// return `Some(self)`.
    fn as_any(&self) -> Option<&dyn Any> {
        None
    }

    /// Makes `waiter` (a device, with its `context`) wait for this event,
    /// through the wait matrix: Caffe2's `Event::Wait`. (Named so that it
    /// does not clash with the std shell's blocking `wait`.)
    fn device_wait(&self, waiter: DeviceType, context: &dyn Any) -> Result<(), BackendError>
    where
        Self: Sized,
    {
        wait(waiter, self, context)
    }
}

/// The CPU backend: the core event itself.
impl DeviceEvent for Event {
    fn device_type(&self) -> DeviceType {
        DeviceType::CPU
    }

    /// The CPU takes no context; any value (conventionally `&()`) is accepted.
    fn record(&self, _context: &dyn Any) -> Result<(), BackendError> {
        Event::record(self).map_err(BackendError::Event)
    }

    fn query(&self) -> EventStatus {
        self.status()
    }

    /// Blocks until the generation current at the call finishes, and
    /// returns its outcome (even if the event is reset meanwhile).
    ///
    /// An event already finished answers at once (one load). Otherwise the
    /// wait goes through the `(CPU, CPU)` cell of the wait matrix, which
    /// evlatch-std fills (`evlatch_std::install()`, or its first wait) with a
    /// wait that parks the thread. While that cell is empty — a `no_std`
    /// program, or evlatch-std not installed yet — the no_std core has no
    /// way to park, so it waits by spinning (spin hints, and the yield
    /// function registered with [`register_yield`](crate::queue::register_yield)
    /// once it has spun a while). Either way the answer is the same: it never
    /// depends on what evlatch-std did before.
    fn finish(&self) -> Result<EventStatus, BackendError> {
        let seen = self.snapshot();
        if seen.status().is_finished() {
            return Ok(seen.status());
        }
        match wait(DeviceType::CPU, self, &()) {
            Err(BackendError::NoWaitFunction { .. }) => spin_until_finished(self, seen),
            other => other?,
        }
        Ok(outcome_of(self, seen))
    }

    fn error_message(&self) -> Option<ErrorMessage> {
        Event::error_message(self)
    }

    fn set_finished(&self) -> Result<(), BackendError> {
        Event::set_finished(self).map_err(BackendError::Event)
    }

    fn set_failed(&self, msg: &str) -> Result<(), BackendError> {
        Event::set_failed(self, msg).map_err(BackendError::Event)
    }

    fn reset(&self) -> Result<(), BackendError> {
        Event::reset(self).map_err(BackendError::Event)
    }

    fn supports_callbacks(&self) -> bool {
        true
    }

    fn on_finished_fn(
        &self,
        f: fn(EventStatus, usize),
        context: usize,
    ) -> Result<(), BackendError> {
        Event::on_finished_fn(self, f, context).map_err(BackendError::Event)
    }

    fn core_event(&self) -> Option<&Event> {
        Some(self)
    }

    fn as_any(&self) -> Option<&dyn Any> {
        Some(self)
    }
}

/// The outcome of the generation `seen` came from, which has finished (the
/// event may have moved on since).
fn outcome_of(event: &Event, seen: Snapshot) -> EventStatus {
    match wake::arm(event, seen) {
        WakeArm::Finished(status) => status,
        // Unreachable once that generation finished; a stray arm asks only
        // for a harmless hook call, and the status now is the best answer.
        WakeArm::Armed => event.status(),
    }
}

/// `finish`'s wait when no `(CPU, CPU)` wait function is registered: spin
/// until the generation `seen` came from has finished, yielding (if a yield
/// function is registered) once the spin backoff is at its limit.
fn spin_until_finished(event: &Event, seen: Snapshot) {
    /// Spin hints per round at the backoff's limit.
    const MAX_SPINS: u32 = 64;
    let mut spins = 1;
    loop {
        let now = event.snapshot();
        if now.generation() != seen.generation() || now.status().is_finished() {
            return;
        }
        if spins < MAX_SPINS {
            spins *= 2;
        } else if crate::queue::yield_now() {
            continue;
        }
        for _ in 0..spins {
            crate::sync::spin_hint();
        }
    }
}

/// A registered backend: what the registry knows about a device type.
///
/// # Examples
///
/// ```
/// use evlatch::backend::{lookup, DeviceType};
/// let cpu = lookup(DeviceType::CPU).unwrap();
/// assert_eq!(cpu.name(), "cpu");
/// assert!(cpu.supports_callbacks());
/// ```
#[derive(Debug)]
pub struct Backend {
    name: &'static str,
    device: DeviceType,
    callbacks: bool,
}

impl Backend {
    /// Describes the backend of `device`.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch::backend::{Backend, DeviceType};
    /// static NPU: Backend = Backend::new("npu", DeviceType::CPU, false);
    /// assert_eq!(NPU.name(), "npu");
    /// ```
    pub const fn new(name: &'static str, device: DeviceType, supports_callbacks: bool) -> Self {
        Self {
            name,
            device,
            callbacks: supports_callbacks,
        }
    }

    /// The backend's name.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(evlatch::backend::lookup(evlatch::backend::DeviceType::CPU).unwrap().name(), "cpu");
    /// ```
    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// The device type it serves.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch::backend::{lookup, DeviceType};
    /// assert_eq!(lookup(DeviceType::CPU).unwrap().device_type(), DeviceType::CPU);
    /// ```
    pub const fn device_type(&self) -> DeviceType {
        self.device
    }

    /// Whether its events take callbacks.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch::backend::{lookup, DeviceType};
    /// assert!(lookup(DeviceType::CPU).unwrap().supports_callbacks());
    /// ```
    pub const fn supports_callbacks(&self) -> bool {
        self.callbacks
    }
}

/// A wait function: make the waiter device wait for `event`. `context` is
/// the waiter's (e.g. its stream).
pub type WaitFn = fn(event: &dyn DeviceEvent, context: &dyn Any) -> Result<(), BackendError>;

/// Why a backend operation failed.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum BackendError {
    /// The event's state machine refused the call.
    Event(EventError),
    /// An id outside `FIRST_CUSTOM..MAX_DEVICE_TYPES` (or reserved).
    InvalidDeviceType(u8),
    /// The slot for this device type already holds a backend.
    BackendRegistered(DeviceType),
    /// The wait matrix cell already holds a function.
    WaitRegistered {
        /// The waiting device.
        waiter: DeviceType,
        /// The device of the event waited on.
        event: DeviceType,
    },
    /// No wait function for this pair; register one (the std shell
    /// registers CPU→CPU; the CUDA shell the CUDA pairs).
    NoWaitFunction {
        /// The waiting device.
        waiter: DeviceType,
        /// The device of the event waited on.
        event: DeviceType,
    },
    /// A `context` of the wrong type was passed.
    WrongContext {
        /// What the backend expected.
        expected: &'static str,
    },
    /// The backend does not support this operation.
    Unsupported {
        /// The operation.
        operation: &'static str,
    },
    /// The device reported an error.
    Device {
        /// The device API's numeric error code.
        code: i64,
        /// The device API's name for it (e.g. `CUDA_ERROR_INVALID_HANDLE`).
        name: &'static str,
    },
}

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BackendError::Event(e) => fmt::Display::fmt(e, f),
            BackendError::InvalidDeviceType(id) => write!(
                f,
                "invalid device type id {id}: custom ids are {}..{MAX_DEVICE_TYPES} (0 is CPU, 1 is CUDA)",
                DeviceType::FIRST_CUSTOM
            ),
            BackendError::BackendRegistered(d) => {
                write!(f, "a backend for {d} is already registered; register each device type once")
            }
            BackendError::WaitRegistered { waiter, event } => write!(
                f,
                "a wait function for {waiter} waiting on {event} is already registered"
            ),
            BackendError::NoWaitFunction { waiter, event } => write!(
                f,
                "no wait function for {waiter} waiting on {event}: register one with evlatch::backend::register_wait (CPU->CPU comes with evlatch-std)"
            ),
            BackendError::WrongContext { expected } => {
                write!(f, "wrong context type for this backend: expected {expected}")
            }
            BackendError::Unsupported { operation } => {
                write!(f, "this backend does not support {operation}")
            }
            BackendError::Device { code, name } => write!(f, "device error {name} ({code})"),
        }
    }
}

impl core::error::Error for BackendError {}

impl From<EventError> for BackendError {
    fn from(e: EventError) -> Self {
        BackendError::Event(e)
    }
}

static CPU_BACKEND: Backend = Backend::new("cpu", DeviceType::CPU, true);

/// Backend slots; slot 0 (CPU) is filled from the start.
static BACKENDS: [AtomicPtr<Backend>; MAX_DEVICE_TYPES] = {
    let mut slots = [const { AtomicPtr::new(core::ptr::null_mut()) }; MAX_DEVICE_TYPES];
    slots[0] = AtomicPtr::new(&CPU_BACKEND as *const Backend as *mut Backend);
    slots
};

/// The wait matrix, `[waiter][event]`, holding `WaitFn`s as data pointers.
static WAITS: [[AtomicPtr<()>; MAX_DEVICE_TYPES]; MAX_DEVICE_TYPES] =
    [const { [const { AtomicPtr::new(core::ptr::null_mut()) }; MAX_DEVICE_TYPES] };
        MAX_DEVICE_TYPES];

// A function pointer must round-trip through a data pointer.
const _: () = assert!(core::mem::size_of::<WaitFn>() == core::mem::size_of::<*mut ()>());

/// Registers the backend of `backend.device_type()`. Lock-free.
///
/// # Errors
///
/// [`BackendError::BackendRegistered`] if the slot is taken (the CPU slot
/// always is).
///
/// # Examples
///
/// ```
/// use evlatch::backend::{lookup, register_backend, Backend, BackendError, DeviceType};
/// static NPU: Backend = Backend::new("npu", match DeviceType::custom(7) { Ok(d) => d, Err(_) => panic!() }, false);
/// register_backend(&NPU).unwrap();
/// assert_eq!(lookup(NPU.device_type()).unwrap().name(), "npu");
/// assert_eq!(register_backend(&NPU), Err(BackendError::BackendRegistered(NPU.device_type())));
/// ```
pub fn register_backend(backend: &'static Backend) -> Result<(), BackendError> {
    let slot = &BACKENDS[backend.device.index()];
    // AcqRel: publishes the backend to `lookup`'s acquire.
    slot.compare_exchange(
        core::ptr::null_mut(),
        backend as *const Backend as *mut Backend,
        Ordering::AcqRel,
        Ordering::Acquire,
    )
    .map(|_| ())
    .map_err(|_| BackendError::BackendRegistered(backend.device))
}

/// The backend registered for `device`, if any.
///
/// # Examples
///
/// ```
/// use evlatch::backend::{lookup, DeviceType};
/// assert!(lookup(DeviceType::CPU).is_some());
/// ```
pub fn lookup(device: DeviceType) -> Option<&'static Backend> {
    let ptr = BACKENDS[device.index()].load(Ordering::Acquire);
    // SAFETY: only `&'static Backend`s are stored in the slots.
    (!ptr.is_null()).then(|| unsafe { &*ptr })
}

/// Registers the function that makes `waiter` wait for events of `event`.
///
/// # Errors
///
/// [`BackendError::WaitRegistered`] if that cell is taken.
///
/// # Examples
///
/// ```
/// use evlatch::backend::{register_wait, wait, DeviceEvent, DeviceType, BackendError};
/// let d = DeviceType::custom(6).unwrap();
/// fn spin_wait(event: &dyn DeviceEvent, _: &dyn core::any::Any) -> Result<(), BackendError> {
///     while !event.query().is_finished() { core::hint::spin_loop() }
///     Ok(())
/// }
/// register_wait(d, DeviceType::CPU, spin_wait).unwrap();
/// let event = evlatch::Event::new();
/// event.set_finished().unwrap();
/// wait(d, &event, &()).unwrap();
/// ```
pub fn register_wait(waiter: DeviceType, event: DeviceType, f: WaitFn) -> Result<(), BackendError> {
    let cell = &WAITS[waiter.index()][event.index()];
    // AcqRel: publishes the function to `wait`'s acquire.
    cell.compare_exchange(
        core::ptr::null_mut(),
        f as *mut (),
        Ordering::AcqRel,
        Ordering::Acquire,
    )
    .map(|_| ())
    .map_err(|_| BackendError::WaitRegistered { waiter, event })
}

/// Whether a wait function is registered for the pair.
///
/// # Examples
///
/// ```
/// use evlatch::backend::{has_wait, DeviceType};
/// let d = DeviceType::custom(3).unwrap();
/// assert!(!has_wait(d, d));
/// ```
pub fn has_wait(waiter: DeviceType, event: DeviceType) -> bool {
    !WAITS[waiter.index()][event.index()]
        .load(Ordering::Acquire)
        .is_null()
}

/// Makes `waiter` (with its `context`, e.g. a stream) wait for `event`
/// through the wait matrix cell `[waiter][event.device_type()]`.
///
/// # Errors
///
/// [`BackendError::NoWaitFunction`] when the pair has no function;
/// otherwise whatever the function returns.
///
/// # Examples
///
/// ```
/// use evlatch::backend::{wait, BackendError, DeviceType};
/// let d = DeviceType::custom(4).unwrap();
/// let event = evlatch::Event::new();
/// assert!(matches!(wait(d, &event, &()), Err(BackendError::NoWaitFunction { .. })));
/// ```
pub fn wait(
    waiter: DeviceType,
    event: &dyn DeviceEvent,
    context: &dyn Any,
) -> Result<(), BackendError> {
    let device = event.device_type();
    let ptr = WAITS[waiter.index()][device.index()].load(Ordering::Acquire);
    if ptr.is_null() {
        return Err(BackendError::NoWaitFunction {
            waiter,
            event: device,
        });
    }
    // SAFETY: only `WaitFn`s are stored in the matrix, cast to `*mut ()`;
    // the const assertion above checks the sizes agree.
    let f: WaitFn = unsafe { core::mem::transmute::<*mut (), WaitFn>(ptr) };
    f(event, context)
}

#[cfg(test)]
mod tests;
