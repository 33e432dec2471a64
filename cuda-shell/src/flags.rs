//! The creation flags of a CUDA event.

use cudarc::driver::sys::CUevent_flags;

/// How a [`CudaEvent`](crate::CudaEvent) is created: with or without timing,
/// with or without blocking synchronization.
///
/// cudarc's `CUevent_flags` is an enum of single flags and cannot say
/// "blocking *and* no timing"; this type composes the bits for
/// `cuEventCreate` itself.
///
/// - `timing(false)` (the default, as in Caffe2) adds
///   `CU_EVENT_DISABLE_TIMING`: cheaper record and query, no `elapsed_ms`.
/// - `blocking_sync(true)` adds `CU_EVENT_BLOCKING_SYNC`: a thread in
///   [`CudaEvent::finish`](crate::CudaEvent::finish) sleeps in the driver
///   instead of spinning. It does not affect the bridge, whose
///   waiters never spin.
///
/// # Examples
///
/// ```
/// use evlatch_cuda::EventFlags;
/// let flags = EventFlags::new().blocking_sync(true);
/// assert!(!flags.has_timing());
/// assert!(flags.is_blocking_sync());
/// assert_eq!(flags.bits(), 0x1 | 0x2); // CU_EVENT_BLOCKING_SYNC | CU_EVENT_DISABLE_TIMING
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct EventFlags {
    timing: bool,
    blocking_sync: bool,
}

impl EventFlags {
    /// No timing, spinning synchronization: Caffe2's CUDA event flags.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(evlatch_cuda::EventFlags::new().bits(), 0x2); // CU_EVENT_DISABLE_TIMING
    /// ```
    #[must_use]
    pub const fn new() -> Self {
        Self {
            timing: false,
            blocking_sync: false,
        }
    }

    /// With or without timing (needed by [`CudaEvent::elapsed_ms`](crate::CudaEvent::elapsed_ms)).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(evlatch_cuda::EventFlags::new().timing(true).bits(), 0); // CU_EVENT_DEFAULT
    /// ```
    #[must_use]
    pub const fn timing(self, on: bool) -> Self {
        Self { timing: on, ..self }
    }

    /// With or without blocking synchronization in
    /// [`CudaEvent::finish`](crate::CudaEvent::finish).
    ///
    /// # Examples
    ///
    /// ```
    /// let f = evlatch_cuda::EventFlags::new().timing(true).blocking_sync(true);
    /// assert_eq!(f.bits(), 0x1); // CU_EVENT_BLOCKING_SYNC
    /// ```
    #[must_use]
    pub const fn blocking_sync(self, on: bool) -> Self {
        Self {
            blocking_sync: on,
            ..self
        }
    }

    /// Whether events with these flags record timing.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!evlatch_cuda::EventFlags::new().has_timing());
    /// ```
    pub const fn has_timing(self) -> bool {
        self.timing
    }

    /// Whether `finish` sleeps in the driver rather than spinning.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!evlatch_cuda::EventFlags::new().is_blocking_sync());
    /// ```
    pub const fn is_blocking_sync(self) -> bool {
        self.blocking_sync
    }

    /// The `Flags` argument of `cuEventCreate`.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_cuda::EventFlags;
    /// assert_eq!(EventFlags::new().timing(true).bits(), 0);
    /// ```
    pub const fn bits(self) -> u32 {
        let mut bits = CUevent_flags::CU_EVENT_DEFAULT as u32;
        if !self.timing {
            bits |= CUevent_flags::CU_EVENT_DISABLE_TIMING as u32;
        }
        if self.blocking_sync {
            bits |= CUevent_flags::CU_EVENT_BLOCKING_SYNC as u32;
        }
        bits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DISABLE_TIMING: u32 = CUevent_flags::CU_EVENT_DISABLE_TIMING as u32;
    const BLOCKING: u32 = CUevent_flags::CU_EVENT_BLOCKING_SYNC as u32;

    #[test]
    fn all_four_combinations() {
        for timing in [false, true] {
            for blocking in [false, true] {
                let f = EventFlags::new().timing(timing).blocking_sync(blocking);
                assert_eq!(f.has_timing(), timing);
                assert_eq!(f.is_blocking_sync(), blocking);
                assert_eq!(f.bits() & DISABLE_TIMING != 0, !timing, "{f:?}");
                assert_eq!(f.bits() & BLOCKING != 0, blocking, "{f:?}");
                // Nothing else (interprocess, ...) is ever set.
                assert_eq!(f.bits() & !(DISABLE_TIMING | BLOCKING), 0, "{f:?}");
            }
        }
    }

    #[test]
    fn default_is_caffe2s() {
        assert_eq!(EventFlags::default(), EventFlags::new());
        assert_eq!(EventFlags::new().bits(), DISABLE_TIMING);
    }

    #[test]
    fn setters_are_independent() {
        let f = EventFlags::new()
            .blocking_sync(true)
            .timing(true)
            .timing(false);
        assert!(f.is_blocking_sync());
        assert!(!f.has_timing());
    }
}
