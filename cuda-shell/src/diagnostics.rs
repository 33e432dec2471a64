//! Counters for leak checks: how many `CUevent`s and stream callbacks this
//! crate holds right now. Read them in tests and soak runs; nothing in the
//! API needs them.

use std::sync::atomic::{AtomicUsize, Ordering};

/// `CUevent`s created by this crate and not yet destroyed.
pub(crate) static LIVE_EVENTS: AtomicUsize = AtomicUsize::new(0);
/// Stream callbacks enqueued and not yet run.
pub(crate) static PENDING_CALLBACKS: AtomicUsize = AtomicUsize::new(0);

/// How many `CUevent`s this crate created and has not destroyed yet.
///
/// For leak checks (the soak test): after every [`CudaEvent`](crate::CudaEvent)
/// is dropped it is back where it started.
///
/// # Examples
///
/// ```
/// use evlatch_cuda::diagnostics::live_events;
/// let before = live_events();
/// # let ctx = match evlatch_cuda::context(0) {
/// #     Ok(ctx) => ctx,
/// #     Err(why) if why.is_no_gpu() => return, // no GPU here
/// #     Err(why) => panic!("CUDA is there but broken: {why}"),
/// # };
/// let e = evlatch_cuda::CudaEvent::new(&ctx, Default::default()).unwrap();
/// assert!(live_events() >= 1);
/// drop(e);
/// # let _ = before;
/// ```
pub fn live_events() -> usize {
    LIVE_EVENTS.load(Ordering::Relaxed)
}

/// How many stream callbacks were enqueued by
/// [`CudaEvent::record`](crate::CudaEvent::record) and have not run yet. A
/// callback decrements it before finishing its event, so once a core event
/// is observed finished its callback no longer counts.
///
/// # Examples
///
/// ```
/// // Nothing recorded yet in this process:
/// assert_eq!(evlatch_cuda::diagnostics::pending_callbacks(), 0);
/// ```
pub fn pending_callbacks() -> usize {
    PENDING_CALLBACKS.load(Ordering::Relaxed)
}
