//! Loading the CUDA driver at run time, and naming its error codes.
//!
//! cudarc's `sys` functions load `libcuda` on first use and *panic* when it
//! is missing. Every entry point of this crate therefore goes through
//! [`availability`] first, which checks for the library before any `sys`
//! call; nothing here lets that panic reach a user.
//!
//! Error descriptions (`cuGetErrorString`) are fetched once, when the driver
//! is first probed, into a table: the stream callback that finishes events
//! reads the table and never calls CUDA.

use core::fmt;
use std::sync::{Arc, OnceLock};

use cudarc::driver::sys::{self, CUresult};
use cudarc::driver::CudaContext;
use evlatch::EventStatus;

use crate::codes::ALL_CODES;
use crate::CudaError;

/// The probe's answer, computed once per process.
static DRIVER: OnceLock<Result<usize, CudaError>> = OnceLock::new();

/// `cuGetErrorString` for every code in [`ALL_CODES`], filled by the probe
/// before any event can exist. `None` until then (and forever without a
/// driver).
static DESCRIPTIONS: OnceLock<Vec<(CUresult, Box<str>)>> = OnceLock::new();

/// Whether CUDA can be used: the driver library loads, initializes, and
/// reports at least one device. Never panics; the answer is cached.
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
/// [`CudaError::Driver`] when `cuInit` fails (e.g. a stub library),
/// [`CudaError::NoDevice`] with zero devices. Checks for the library before
/// calling into it, so it never panics. The answer is cached.
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

/// The primary context of device `ordinal`, after checking that CUDA is
/// available: the safe way in, where `CudaContext::new` would panic without
/// a driver.
///
/// # Errors
///
/// What [`availability`] returns, [`CudaError::InvalidDevice`] for an
/// ordinal past the device count, [`CudaError::Driver`] if the context
/// cannot be retained.
///
/// # Examples
///
/// ```
/// match evlatch_cuda::context(0) {
///     Ok(ctx) => assert_eq!(ctx.ordinal(), 0),
///     Err(why) => println!("skipped: {why}"),
/// }
/// ```
pub fn context(ordinal: usize) -> Result<Arc<CudaContext>, CudaError> {
    let count = availability()?;
    if ordinal >= count {
        return Err(CudaError::InvalidDevice { ordinal, count });
    }
    CudaContext::new(ordinal).map_err(|e| CudaError::Driver {
        call: "cuDevicePrimaryCtxRetain",
        code: e.0,
    })
}

fn probe() -> Result<usize, CudaError> {
    // SAFETY: `is_culib_present` only tries to dlopen the candidate names
    // and closes what it opened; it calls nothing in the library.
    if !unsafe { sys::is_culib_present() } {
        return Err(CudaError::NoDriver);
    }
    // The library loads, so cudarc's lazy symbol loading below finds it.
    DESCRIPTIONS.get_or_init(load_descriptions);
    // SAFETY: the driver library is present; `cuInit(0)` has no other
    // precondition and may be called any number of times.
    check("cuInit", unsafe { sys::cuInit(0) })?;
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
        let msg = code_message(CUresult::CUDA_ERROR_ILLEGAL_ADDRESS);
        assert!(
            msg.as_str().starts_with("CUDA_ERROR_ILLEGAL_ADDRESS: "),
            "{}",
            msg.as_str()
        );
        // With a driver the text is the driver's; without, it says why not.
        match description(CUresult::CUDA_ERROR_ILLEGAL_ADDRESS) {
            Some(text) => assert!(msg.as_str().ends_with(text)),
            None => assert!(msg.as_str().contains("code 700"), "{}", msg.as_str()),
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
