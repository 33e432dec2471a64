//! Loading the CUDA driver at run time, and naming its error codes.
//!
//! cudarc's `sys` functions load `libcuda` on first use and *panic* when it
//! is missing, and each one looks its own symbol up on its first call and
//! *panics* when the driver does not export it (`Missing symbol …`). Every
//! entry point of this crate therefore goes through [`availability`] first,
//! which checks for the library and for every symbol in [`DRIVER_SYMBOLS`]
//! before any `sys` call; nothing here lets either panic reach a user. (A
//! cudarc call the crate does not make — `CudaContext::new_non_primary`
//! needs `cuCtxCreate_v4`, driver 12.5 or newer — can still panic: check
//! with [`driver_exports`] first.)
//!
//! Error descriptions (`cuGetErrorString`) are fetched once, when the driver
//! is first probed (after `cuInit`, whatever it returned), into a table: the
//! stream callback that finishes events reads the table and never calls CUDA.

use core::fmt;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use cudarc::driver::sys::{self, CUcontext, CUresult};
use cudarc::driver::CudaContext;
use evlatch::EventStatus;

use crate::codes::ALL_CODES;
use crate::CudaError;

/// Every driver symbol this crate calls, directly or through the cudarc
/// functions it uses (`CudaContext::new` and its drop), in the order they
/// are first needed. [`availability`] fails with
/// [`CudaError::MissingSymbol`] unless the driver exports all of them.
///
/// `elapsed_ms` needs one more, looked up when first used:
/// `cuEventElapsedTime_v2` (driver 12.8 and newer; the only spelling in
/// cudarc's CUDA 13 bindings) or, failing that, `cuEventElapsedTime`.
///
/// # Examples
///
/// ```
/// assert!(evlatch_cuda::DRIVER_SYMBOLS.contains(&"cuStreamAddCallback"));
/// if let Ok(true) = evlatch_cuda::driver_exports("cuInit") {
///     for name in evlatch_cuda::DRIVER_SYMBOLS {
///         println!("{name}: {:?}", evlatch_cuda::driver_exports(name));
///     }
/// }
/// ```
pub const DRIVER_SYMBOLS: &[&str] = &[
    "cuInit",
    "cuGetErrorString",
    "cuDeviceGetCount",
    "cuDeviceGet",
    "cuDevicePrimaryCtxRetain",
    "cuDeviceGetAttribute",
    "cuDevicePrimaryCtxRelease_v2",
    "cuCtxGetCurrent",
    "cuCtxSetCurrent",
    "cuEventCreate",
    "cuEventRecord",
    "cuStreamAddCallback",
    "cuEventQuery",
    "cuEventSynchronize",
    "cuStreamWaitEvent",
    "cuEventDestroy_v2",
];

/// The probe's answer, computed once per process.
static DRIVER: OnceLock<Result<usize, CudaError>> = OnceLock::new();

/// Whether the driver library can be opened, checked once.
static LIBRARY: OnceLock<bool> = OnceLock::new();

/// `cuGetErrorString` for every code in [`ALL_CODES`], filled by the probe
/// before any event can exist. `None` until then (and forever without a
/// driver).
static DESCRIPTIONS: OnceLock<Vec<(CUresult, Box<str>)>> = OnceLock::new();

/// One primary context per device ordinal, retained on first use and kept
/// for the life of the process (see [`context`]).
static CONTEXTS: Mutex<Vec<Option<Arc<CudaContext>>>> = Mutex::new(Vec::new());

/// Whether CUDA can be used: the driver library loads, exports every symbol
/// the crate needs, initializes, and reports at least one device. Never
/// panics; the answer is cached.
///
/// # Examples
///
/// ```
/// if !evlatch_cuda::is_available() {
///     println!("skipped: {}", evlatch_cuda::availability().unwrap_err());
/// }
/// ```
pub fn is_available() -> bool {
    availability().is_ok()
}

/// How many CUDA devices there are, or why CUDA cannot be used:
/// [`CudaError::NoDriver`] without the driver library,
/// [`CudaError::MissingSymbol`] when it lacks a symbol of
/// [`DRIVER_SYMBOLS`], [`CudaError::NoDevice`] when `cuInit` says
/// `CUDA_ERROR_NO_DEVICE` or there are zero devices, [`CudaError::Driver`]
/// when `cuInit` fails otherwise (e.g. `CUDA_ERROR_STUB_LIBRARY`: a stub
/// library, not a driver). Checks for the library and its symbols before
/// calling into it, so it never panics. The answer is cached.
///
/// Only `NoDriver` and `NoDevice` mean "this machine has no GPU"
/// ([`CudaError::is_no_gpu`]); the others mean a broken or mismatched
/// driver.
///
/// # Examples
///
/// ```
/// match evlatch_cuda::availability() {
///     Ok(devices) => assert!(devices > 0),
///     Err(why) => println!("no CUDA here: {why}"),
/// }
/// ```
pub fn availability() -> Result<usize, CudaError> {
    *DRIVER.get_or_init(probe)
}

/// Whether the CUDA driver library exports `symbol` (e.g.
/// `"cuCtxCreate_v4"`), without calling it: the guard for cudarc functions
/// this crate does not check, which panic on a missing symbol.
///
/// # Errors
///
/// [`CudaError::NoDriver`] without the driver library.
///
/// # Examples
///
/// ```
/// match evlatch_cuda::driver_exports("cuEventElapsedTime_v2") {
///     Ok(true) => println!("driver 12.8 or newer"),
///     Ok(false) => println!("an older driver"),
///     Err(why) => println!("skipped: {why}"),
/// }
/// ```
pub fn driver_exports(symbol: &str) -> Result<bool, CudaError> {
    if !library_present() {
        return Err(CudaError::NoDriver);
    }
    Ok(lookup(symbol))
}

/// The primary context of device `ordinal`, after checking that CUDA is
/// available: the safe way in, where `CudaContext::new` would panic without
/// a driver.
///
/// The context is retained once per ordinal and cached for the life of the
/// process: every call returns the same `Arc`. That matters because cudarc
/// counts streams per `CudaContext` object, and the first `new_stream()` of
/// an object with no live stream synchronizes the whole (shared) primary
/// context, waiting for every other thread's work on the device; with fresh
/// objects per call, every caller's first stream would wait so. (With the
/// cached one it still happens whenever the stream count drops to zero:
/// keep one stream alive if other threads have long-running work.)
///
/// # Errors
///
/// What [`availability`] returns, [`CudaError::InvalidDevice`] for an
/// ordinal past the device count, [`CudaError::Driver`] (call
/// `"CudaContext::new"`: cudarc does not say which of its driver calls —
/// device, retain, attribute, bind — failed) if the context cannot be
/// retained; that is not cached: the next call tries again.
///
/// # Examples
///
/// ```
/// match evlatch_cuda::context(0) {
///     Ok(ctx) => {
///         assert_eq!(ctx.ordinal(), 0);
///         assert!(std::sync::Arc::ptr_eq(&ctx, &evlatch_cuda::context(0).unwrap()));
///     }
///     Err(why) if why.is_no_gpu() => println!("skipped: {why}"),
///     Err(why) => panic!("CUDA is there but broken: {why}"),
/// }
/// ```
pub fn context(ordinal: usize) -> Result<Arc<CudaContext>, CudaError> {
    let count = availability()?;
    if ordinal >= count {
        return Err(CudaError::InvalidDevice { ordinal, count });
    }
    // A panic while holding the lock leaves the cache consistent (an entry is
    // written whole or not at all), so a poisoned lock is still usable.
    let mut cache = CONTEXTS.lock().unwrap_or_else(PoisonError::into_inner);
    if cache.len() < count {
        cache.resize(count, None);
    }
    if let Some(ctx) = &cache[ordinal] {
        return Ok(Arc::clone(ctx));
    }
    let ctx = CudaContext::new(ordinal).map_err(|e| CudaError::Driver {
        call: "CudaContext::new",
        code: e.0,
    })?;
    cache[ordinal] = Some(Arc::clone(&ctx));
    Ok(ctx)
}

/// Makes `ctx` current on the calling thread, with the driver directly
/// (`cuCtxGetCurrent`, then `cuCtxSetCurrent` if needed) rather than
/// cudarc's `bind_to_thread`: that one first returns, and clears, any error
/// an unrelated cudarc drop stored in the context, which is not this call's
/// failure (and not ours to swallow). The error names the call that failed.
pub(crate) fn bind(ctx: &CudaContext) -> Result<(), CudaError> {
    bind_with(
        ctx.cu_ctx(),
        // SAFETY: only reached after `availability` (every event, stream and
        // context exists only then); `out` is a valid out-pointer.
        |out| unsafe { sys::cuCtxGetCurrent(out) },
        // SAFETY: `target` is the live context of a `CudaContext` the caller
        // borrows.
        |target| unsafe { sys::cuCtxSetCurrent(target) },
    )
}

/// `bind`'s logic over stand-in driver calls: current context first, set
/// only when it differs; each failure labelled with its call.
fn bind_with(
    target: CUcontext,
    get_current: impl FnOnce(&mut CUcontext) -> CUresult,
    set_current: impl FnOnce(CUcontext) -> CUresult,
) -> Result<(), CudaError> {
    let mut current: CUcontext = core::ptr::null_mut();
    check("cuCtxGetCurrent", get_current(&mut current))?;
    if current != target {
        check("cuCtxSetCurrent", set_current(target))?;
    }
    Ok(())
}

fn library_present() -> bool {
    // SAFETY: `is_culib_present` only tries to dlopen the candidate names
    // and closes what it opened; it calls nothing in the library.
    *LIBRARY.get_or_init(|| unsafe { sys::is_culib_present() })
}

/// Whether the driver exports `symbol`. Only after `library_present()`.
fn lookup(symbol: &str) -> bool {
    debug_assert!(library_present());
    // SAFETY: the library is present, so `culib` opens it (once, cached)
    // instead of panicking; `get` only looks the name up (dlsym), and the
    // pointer it gives is dropped without being called.
    unsafe {
        sys::culib()
            .get::<unsafe extern "C" fn()>(symbol.as_bytes())
            .is_ok()
    }
}

fn probe() -> Result<usize, CudaError> {
    if !library_present() {
        return Err(CudaError::NoDriver);
    }
    // Every symbol before the first call: cudarc panics on a missing one.
    if let Some(name) = DRIVER_SYMBOLS.iter().find(|name| !lookup(name)) {
        return Err(CudaError::MissingSymbol { name });
    }
    // SAFETY: the driver library is present and exports `cuInit`; `cuInit(0)`
    // has no other precondition and may be called any number of times.
    let init = unsafe { sys::cuInit(0) };
    // After cuInit, whatever it returned: descriptions are wanted most when
    // it failed, and some drivers describe nothing before it ran.
    DESCRIPTIONS.get_or_init(load_descriptions);
    init_outcome(init)?;
    let mut count: core::ffi::c_int = 0;
    // SAFETY: the driver is initialized; `count` is a valid out-pointer.
    check("cuDeviceGetCount", unsafe {
        sys::cuDeviceGetCount(&mut count)
    })?;
    match usize::try_from(count) {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(CudaError::NoDevice),
    }
}

/// What `cuInit`'s answer means: `CUDA_ERROR_NO_DEVICE` is a machine
/// without a GPU ([`CudaError::NoDevice`], a reason to skip); every other
/// error is a driver that is broken or a stub ([`CudaError::Driver`], a
/// reason to fail).
fn init_outcome(code: CUresult) -> Result<(), CudaError> {
    match code {
        CUresult::CUDA_ERROR_NO_DEVICE => Err(CudaError::NoDevice),
        code => check("cuInit", code),
    }
}

/// Which `cuEventElapsedTime` the driver exports, looked up once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ElapsedTime {
    /// `cuEventElapsedTime_v2`: driver 12.8 and newer.
    V2,
    /// `cuEventElapsedTime`: older drivers (absent from cudarc's CUDA 13
    /// bindings, still exported by CUDA 12.x drivers).
    V1,
}

/// The elapsed-time entry point to call, or the error saying neither is
/// exported. Only after `availability` succeeded.
pub(crate) fn elapsed_time_entry() -> Result<ElapsedTime, CudaError> {
    static ENTRY: OnceLock<Option<ElapsedTime>> = OnceLock::new();
    let entry = *ENTRY.get_or_init(|| {
        pick_elapsed_time(
            lookup("cuEventElapsedTime_v2"),
            lookup("cuEventElapsedTime"),
        )
    });
    entry.ok_or(CudaError::MissingSymbol {
        name: "cuEventElapsedTime_v2",
    })
}

/// `_v2` when exported, else the original, else neither.
fn pick_elapsed_time(has_v2: bool, has_v1: bool) -> Option<ElapsedTime> {
    match (has_v2, has_v1) {
        (true, _) => Some(ElapsedTime::V2),
        (false, true) => Some(ElapsedTime::V1),
        (false, false) => None,
    }
}

/// Asks the driver to describe every known code, once.
fn load_descriptions() -> Vec<(CUresult, Box<str>)> {
    let mut table = Vec::with_capacity(ALL_CODES.len());
    for &(code, _) in ALL_CODES {
        let mut text: *const core::ffi::c_char = core::ptr::null();
        // SAFETY: only called from `probe` after the library was found;
        // `text` is a valid out-pointer. `cuGetErrorString` needs no cuInit.
        let rc = unsafe { sys::cuGetErrorString(code, &mut text) };
        if rc == CUresult::CUDA_SUCCESS && !text.is_null() {
            // SAFETY: on success the driver hands back a NUL-terminated
            // static string; we copy it at once.
            let s = unsafe { core::ffi::CStr::from_ptr(text) };
            table.push((code, s.to_string_lossy().into()));
        }
    }
    table
}

/// The driver's description of `code`, if the probe fetched one. Never
/// calls CUDA: safe on a stream-callback thread.
pub(crate) fn description(code: CUresult) -> Option<&'static str> {
    DESCRIPTIONS
        .get()?
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, text)| &**text)
}

/// The CUDA error's name, as `cuGetErrorName` spells it. Never calls CUDA.
pub(crate) fn code_name(code: CUresult) -> &'static str {
    ALL_CODES
        .iter()
        .find(|(c, _)| *c == code)
        .map_or("CUDA_ERROR_UNLISTED", |(_, name)| name)
}

/// Writes `NAME: text` for `code` — the CUDA error's name and the driver's
/// description. Never calls CUDA and never allocates, so the stream callback
/// can use it.
pub(crate) fn write_code(out: &mut dyn fmt::Write, code: CUresult) -> fmt::Result {
    out.write_str(code_name(code))?;
    out.write_str(": ")?;
    match description(code) {
        Some(text) => out.write_str(text),
        None => write!(
            out,
            "no description (code {}; the CUDA driver was not loaded to describe it)",
            code as u32
        ),
    }
}

/// `Ok` for `CUDA_SUCCESS`, else the failure of `call`.
pub(crate) fn check(call: &'static str, code: CUresult) -> Result<(), CudaError> {
    match code {
        CUresult::CUDA_SUCCESS => Ok(()),
        code => Err(CudaError::Driver { call, code }),
    }
}

/// What `cuEventQuery` answered, as an event status: `CUDA_SUCCESS` →
/// `Success`, `CUDA_ERROR_NOT_READY` → `Scheduled`, any other code →
/// `Failed` with that code.
///
/// Pure: this is the whole mapping, tested without a GPU.
pub(crate) fn query_status(code: CUresult) -> (EventStatus, Option<CUresult>) {
    match code {
        CUresult::CUDA_SUCCESS => (EventStatus::Success, None),
        CUresult::CUDA_ERROR_NOT_READY => (EventStatus::Scheduled, None),
        other => (EventStatus::Failed, Some(other)),
    }
}

/// A message buffer on the stack: `fmt::Write` that keeps the first
/// `N` bytes, cut at a character boundary. For the stream callback, which
/// must not allocate or block.
pub(crate) struct StackMessage<const N: usize> {
    buf: [u8; N],
    /// Bytes used, `0..=N`; `buf[..len]` is always valid UTF-8.
    len: usize,
}

impl<const N: usize> StackMessage<N> {
    pub(crate) const fn new() -> Self {
        Self {
            buf: [0; N],
            len: 0,
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        debug_assert!(self.len <= N);
        // Only whole characters are ever copied in (see `write_str`).
        core::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
    }
}

impl<const N: usize> fmt::Write for StackMessage<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = N - self.len;
        let mut take = s.len().min(room);
        while !s.is_char_boundary(take) {
            take -= 1;
        }
        self.buf[self.len..self.len + take].copy_from_slice(&s.as_bytes()[..take]);
        self.len += take;
        // Never report an error: a cut message is still the best we have.
        Ok(())
    }
}

/// `NAME: text` for `code`, in a stack buffer of the core's message capacity.
pub(crate) fn code_message(code: CUresult) -> StackMessage<{ evlatch::MESSAGE_CAPACITY }> {
    let mut msg = StackMessage::new();
    let _ = write_code(&mut msg, code);
    msg
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::fmt::Write;

    #[test]
    fn query_mapping_covers_the_three_cases() {
        assert_eq!(
            query_status(CUresult::CUDA_SUCCESS),
            (EventStatus::Success, None)
        );
        assert_eq!(
            query_status(CUresult::CUDA_ERROR_NOT_READY),
            (EventStatus::Scheduled, None)
        );
        for code in [
            CUresult::CUDA_ERROR_ILLEGAL_ADDRESS,
            CUresult::CUDA_ERROR_LAUNCH_FAILED,
            CUresult::CUDA_ERROR_INVALID_HANDLE,
            CUresult::CUDA_ERROR_UNKNOWN,
        ] {
            assert_eq!(query_status(code), (EventStatus::Failed, Some(code)));
        }
    }

    #[test]
    fn every_known_code_but_two_maps_to_failed() {
        let failed = ALL_CODES
            .iter()
            .filter(|&&(c, _)| query_status(c).0 == EventStatus::Failed)
            .count();
        assert_eq!(failed, ALL_CODES.len() - 2);
    }

    #[test]
    fn code_names_are_the_driver_spelling() {
        let _ = availability(); // loads the descriptions where there is a driver
        let msg = code_message(CUresult::CUDA_ERROR_ILLEGAL_ADDRESS);
        assert!(
            msg.as_str().starts_with("CUDA_ERROR_ILLEGAL_ADDRESS: "),
            "{}",
            msg.as_str()
        );
        // With a driver the text is the driver's; without, it says why not.
        match description(CUresult::CUDA_ERROR_ILLEGAL_ADDRESS) {
            Some(text) => assert!(msg.as_str().ends_with(text)),
            None => {
                assert!(msg.as_str().contains("code 700"), "{}", msg.as_str());
                assert!(
                    std::env::var_os("EVLATCH_CUDA_REQUIRE_GPU").is_none_or(|v| v != "1"),
                    "EVLATCH_CUDA_REQUIRE_GPU=1 but the driver described nothing"
                );
                eprintln!(
                    "code_names_are_the_driver_spelling: skipped: driver descriptions: no driver"
                );
            }
        }
    }

    #[test]
    fn stack_message_cuts_at_a_char_boundary() {
        let mut m = StackMessage::<5>::new();
        write!(m, "ab").unwrap();
        write!(m, "éé").unwrap(); // 4 bytes, room for 3: keeps one 'é'
        assert_eq!(m.as_str(), "abé");
        write!(m, "xyz").unwrap();
        assert_eq!(m.as_str(), "abéx");
        write!(m, "more").unwrap();
        assert_eq!(m.as_str(), "abéx");
    }

    #[test]
    fn check_maps_success_and_errors() {
        assert_eq!(check("cuX", CUresult::CUDA_SUCCESS), Ok(()));
        assert_eq!(
            check("cuX", CUresult::CUDA_ERROR_INVALID_VALUE),
            Err(CudaError::Driver {
                call: "cuX",
                code: CUresult::CUDA_ERROR_INVALID_VALUE
            })
        );
    }

    #[test]
    fn cu_init_no_device_is_no_device_and_other_failures_are_driver_errors() {
        assert_eq!(init_outcome(CUresult::CUDA_SUCCESS), Ok(()));
        assert_eq!(
            init_outcome(CUresult::CUDA_ERROR_NO_DEVICE),
            Err(CudaError::NoDevice)
        );
        for code in [
            CUresult::CUDA_ERROR_STUB_LIBRARY,
            CUresult::CUDA_ERROR_UNKNOWN,
            CUresult::CUDA_ERROR_SYSTEM_DRIVER_MISMATCH,
        ] {
            let err = init_outcome(code).unwrap_err();
            assert_eq!(
                err,
                CudaError::Driver {
                    call: "cuInit",
                    code
                }
            );
            assert!(
                !err.is_no_gpu(),
                "{err}: a broken driver is not a missing GPU"
            );
        }
    }

    #[test]
    fn bind_labels_the_call_that_failed() {
        let target = 0x10 as CUcontext;
        let other = 0x20 as CUcontext;
        let current_is = |c: CUcontext| {
            move |out: &mut CUcontext| {
                *out = c;
                CUresult::CUDA_SUCCESS
            }
        };
        let never = |_: CUcontext| -> CUresult { panic!("set_current called needlessly") };
        // Already current: one query, no set.
        assert_eq!(bind_with(target, current_is(target), never), Ok(()));
        // Another context current: set it, and report a failure as the set's.
        assert_eq!(
            bind_with(target, current_is(other), |_| CUresult::CUDA_SUCCESS),
            Ok(())
        );
        assert_eq!(
            bind_with(target, current_is(other), |_| {
                CUresult::CUDA_ERROR_INVALID_CONTEXT
            }),
            Err(CudaError::Driver {
                call: "cuCtxSetCurrent",
                code: CUresult::CUDA_ERROR_INVALID_CONTEXT
            })
        );
        // The query fails: labelled as the query, and nothing is set.
        assert_eq!(
            bind_with(target, |_| CUresult::CUDA_ERROR_DEINITIALIZED, never),
            Err(CudaError::Driver {
                call: "cuCtxGetCurrent",
                code: CUresult::CUDA_ERROR_DEINITIALIZED
            })
        );
    }

    #[test]
    fn elapsed_time_prefers_v2_and_falls_back() {
        assert_eq!(pick_elapsed_time(true, true), Some(ElapsedTime::V2));
        assert_eq!(pick_elapsed_time(true, false), Some(ElapsedTime::V2));
        assert_eq!(pick_elapsed_time(false, true), Some(ElapsedTime::V1));
        assert_eq!(pick_elapsed_time(false, false), None);
    }

    #[test]
    fn symbol_checks_agree_with_availability() {
        match driver_exports("cuInit") {
            Err(why) => {
                assert_eq!(why, CudaError::NoDriver);
                assert_eq!(availability(), Err(CudaError::NoDriver));
            }
            Ok(has_init) => {
                let missing = DRIVER_SYMBOLS.iter().find(|n| !driver_exports(n).unwrap());
                if let Some(name) = missing {
                    assert_eq!(availability(), Err(CudaError::MissingSymbol { name }));
                }
                assert!(has_init || missing.is_some());
                assert_eq!(driver_exports("cuNoSuchFunction_v9"), Ok(false));
            }
        }
    }

    #[test]
    fn driver_symbols_are_distinct() {
        for (i, name) in DRIVER_SYMBOLS.iter().enumerate() {
            assert!(!DRIVER_SYMBOLS[i + 1..].contains(name), "{name} twice");
            assert!(name.starts_with("cu"), "{name}");
        }
    }

    #[test]
    fn all_codes_are_distinct_and_named_as_the_driver_names_them() {
        for (i, (code, name)) in ALL_CODES.iter().enumerate() {
            assert!(
                !ALL_CODES[i + 1..].iter().any(|(c, _)| c == code),
                "{name} listed twice"
            );
            // The table's name is the enum variant's, which is the C name.
            assert_eq!(format!("{code:?}"), *name);
            assert_eq!(code_name(*code), *name);
        }
        assert_eq!(
            code_name(CUresult::CUDA_ERROR_UNKNOWN),
            "CUDA_ERROR_UNKNOWN"
        );
    }
}
