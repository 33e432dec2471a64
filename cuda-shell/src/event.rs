//! The CUDA event: a `CUevent` plus the core [`evlatch::Event`] that the
//! bridge ([`crate::bridge`]) finishes when the GPU reaches the
//! recorded point.
//!
//! # Who finishes the core event
//!
//! For a recorded generation, only the bridge's stream callback does. That
//! single finisher is what makes the bridge race-free: the callback checks
//! nothing but its own generation, and by the time anyone can `reset` the
//! event (which needs a finished status) the callback has done everything it
//! will do to the event. `set_finished` / `set_failed` therefore refuse a
//! recorded event ([`CudaError::Recorded`], Caffe2's rule; the
//! [`DeviceEvent`] contract allows it), and they take the event through
//! `record` of the core event themselves so a concurrent CUDA record cannot
//! slip in between.
//!
//! # Waiting
//!
//! Host waits are evlatch-std's ([`EventExt`]) on the core event: woken by
//! the bridge's finish through the std shell's wake hook, never polling.

use core::any::Any;
use core::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use cudarc::driver::sys::{self, CUresult};
use cudarc::driver::{CudaContext, CudaStream};
use evlatch::backend::{BackendError, DeviceEvent, DeviceType};
use evlatch::{ErrorMessage, Event, EventError, EventStatus};
use evlatch_std::{EventExt, Timeout};

use crate::diagnostics::LIVE_EVENTS;
use crate::driver::{self, bind, check, code_message, query_status, ElapsedTime};
use crate::{bridge, CudaError, EventFlags};

/// A CUDA event on a context: Caffe2's CUDA event, plus a bridge
/// to a core [`Event`].
///
/// - [`record`](Self::record) on a stream of the event's context, once per
///   generation;
/// - [`status`](Self::status) (`cuEventQuery`), [`finish`](Self::finish)
///   (blocking host wait; [`finish_timeout`](Self::finish_timeout) for a
///   bounded one), [`wait_on`](Self::wait_on) (a stream waits,
///   device-side), [`elapsed_ms`](Self::elapsed_ms), [`reset`](Self::reset);
/// - [`core_event`](Self::core_event): the core event the stream callback
///   finishes — wait on it, `.await` it, or register callbacks on it.
///
/// Callbacks registered on the core event run on the CUDA driver's callback
/// thread when the event is finished by the GPU: they MUST NOT call CUDA
/// (the driver may deadlock or refuse with `CUDA_ERROR_NOT_PERMITTED`) and
/// should hand long work to another thread. Two ways to call CUDA there
/// without meaning to, and one way to deadlock:
///
/// - a callback that owns the *last* `Arc` of a `CudaEvent`, a `CudaStream`
///   or a `CudaContext` destroys it when it runs (or is dropped), and the
///   destroy (`cuEventDestroy`, `cuStreamDestroy`, the context release) runs
///   on the driver's callback thread. Keep another owner alive until the
///   core event is finished, or send the value to another thread to drop;
/// - the driver may hold an internal lock while stream callbacks run: a
///   callback MUST NOT block on a lock (or channel) that a thread inside a
///   CUDA call may hold (or be waiting to send on).
///
/// Do not finish or reset the core event directly; use this type's methods.
///
/// Dropping a recorded event is fine: the driver releases a recorded
/// `CUevent` once its work finishes, and the pending stream callback keeps
/// the core event alive until it has run.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use evlatch_cuda::{CudaEvent, EventFlags};
///
/// let ctx = match evlatch_cuda::context(0) {
///     Ok(ctx) => ctx,
///     Err(why) if why.is_no_gpu() => return println!("skipped: {why}"),
///     Err(why) => panic!("CUDA is there but broken: {why}"),
/// };
/// let stream = ctx.new_stream().unwrap();
/// let event = CudaEvent::new(&ctx, EventFlags::new()).unwrap();
/// event.record(&stream).unwrap();
/// let status = event.finish_timeout(Duration::from_secs(30)).expect("the GPU finishes");
/// assert_eq!(status, evlatch::EventStatus::Success);
/// assert!(event.core_event().is_finished());
/// event.reset().unwrap();
/// ```
pub struct CudaEvent {
    inner: Inner,
}

/// The event proper, owned by its `CudaEvent` alone: it holds CUDA handles,
/// so it is only ever dropped on a user thread, never by the stream
/// callback.
struct Inner {
    ctx: Arc<CudaContext>,
    /// Created by `cuEventCreate` in `CudaEvent::new`, destroyed in `drop`,
    /// never touched by the stream callback.
    raw: sys::CUevent,
    flags: EventFlags,
    /// The core event; the stream callback holds its own `Arc` to it.
    core: Arc<Event>,
    /// `generation + 1` of the last generation taken through `record`, once
    /// its `cuEventRecord` has succeeded; `0` for "none" (also stored by a
    /// generation that finished without a device record).
    ///
    /// Lets readers tell "the core says Scheduled but `cuEventRecord` is
    /// still under way" (query would see the *previous* recording) from
    /// "recorded on the device". Stored by the recorder, which owns the
    /// generation while it is `Scheduled`; Release/Acquire so a reader that
    /// sees it also sees the record call's effects.
    device_recorded: AtomicU32,
}

// SAFETY: `raw` and `ctx` are driver handles usable from any thread (every
// call binds the context first); all other state is atomics and an `Arc` of a
// `Sync + Send` core event. Nothing is tied to the creating thread.
unsafe impl Send for Inner {}
// SAFETY: as above; the driver API is thread-safe for these calls, and the
// only shared mutable state is atomic.
unsafe impl Sync for Inner {}

impl CudaEvent {
    /// A new event on `ctx`, `Initialized`, with `flags`. The first one also
    /// [`register`](crate::register)s the CUDA backend.
    ///
    /// # Errors
    ///
    /// What [`availability`](crate::availability) returns (checked first, so
    /// no driver call is made without a driver), or [`CudaError::Driver`]
    /// from binding the context or `cuEventCreate`.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_cuda::{CudaEvent, EventFlags};
    /// # let ctx = match evlatch_cuda::context(0) {
    /// #     Ok(ctx) => ctx,
    /// #     Err(why) if why.is_no_gpu() => return, // no GPU here
    /// #     Err(why) => panic!("CUDA is there but broken: {why}"),
    /// # };
    /// let timed = CudaEvent::new(&ctx, EventFlags::new().timing(true)).unwrap();
    /// assert!(timed.flags().has_timing());
    /// ```
    pub fn new(ctx: &Arc<CudaContext>, flags: EventFlags) -> Result<Self, CudaError> {
        driver::availability()?;
        // The wait matrix should know CUDA events once one exists. If another
        // crate holds a slot, the direct methods still work.
        let _ = crate::register();
        bind(ctx)?;
        let mut raw: sys::CUevent = core::ptr::null_mut();
        // SAFETY: the driver is loaded and initialized (availability), the
        // context is current, `raw` is a valid out-pointer, and `bits()` only
        // holds flags cuEventCreate accepts.
        check("cuEventCreate", unsafe {
            sys::cuEventCreate(&mut raw, flags.bits())
        })?;
        LIVE_EVENTS.fetch_add(1, Ordering::Relaxed);
        Ok(Self {
            inner: Inner {
                ctx: Arc::clone(ctx),
                raw,
                flags,
                core: Arc::new(Event::new()),
                device_recorded: AtomicU32::new(0),
            },
        })
    }

    /// Records the stream's current work into this event, and enqueues the
    /// stream callback that finishes [`core_event`](Self::core_event) when
    /// that work is done. Once per generation, as Caffe2 enforces.
    ///
    /// # Errors
    ///
    /// - [`CudaError::WrongContext`] for a stream of another context or
    ///   device; the event is unchanged.
    /// - [`CudaError::Event`]: `AlreadyRecorded` or `AlreadyFinished`
    ///   (reset it first); the event is unchanged.
    /// - [`CudaError::Driver`] if binding the context, `cuEventRecord` or
    ///   `cuStreamAddCallback` fails (e.g. during stream capture, which does
    ///   not take stream callbacks). The event is then finished as `Failed`
    ///   with that message, so nobody waits on it forever.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_cuda::{CudaError, CudaEvent, EventFlags};
    /// # let ctx = match evlatch_cuda::context(0) {
    /// #     Ok(ctx) => ctx,
    /// #     Err(why) if why.is_no_gpu() => return, // no GPU here
    /// #     Err(why) => panic!("CUDA is there but broken: {why}"),
    /// # };
    /// let stream = ctx.new_stream().unwrap();
    /// let event = CudaEvent::new(&ctx, EventFlags::new()).unwrap();
    /// event.record(&stream).unwrap();
    /// assert!(matches!(event.record(&stream), Err(CudaError::Event(_))));
    /// ```
    pub fn record(&self, stream: &CudaStream) -> Result<(), CudaError> {
        let inner = &self.inner;
        let stream_ctx = stream.context();
        if stream_ctx.cu_ctx() != inner.ctx.cu_ctx() {
            return Err(CudaError::WrongContext {
                event_device: inner.ctx.ordinal(),
                other_device: stream_ctx.ordinal(),
            });
        }
        // Claim the generation: Initialized → Scheduled. From here until the
        // core event is finished, no one else records, resets or finishes it.
        inner.core.record()?;
        let generation = inner.core.snapshot().generation();
        if let Err(err) = inner.enqueue(stream, generation) {
            inner.device_recorded.store(0, Ordering::Release);
            let mut msg = driver::StackMessage::<{ evlatch::MESSAGE_CAPACITY }>::new();
            let _ = fmt::write(&mut msg, format_args!("{err}"));
            // We own the generation, so this finish cannot be refused.
            let _ = inner.core.set_failed(msg.as_str());
            return Err(err);
        }
        Ok(())
    }

    /// The status now, without blocking: the core event's status when it is
    /// `Initialized` or finished; while it is `Scheduled`, `cuEventQuery` mapped
    /// — `CUDA_SUCCESS` → `Success`, `CUDA_ERROR_NOT_READY` → `Scheduled`,
    /// any other code → `Failed` (see [`error_message`](Self::error_message)).
    ///
    /// `Success` here means the GPU work is done; the core event (and its
    /// waiters and callbacks) follows when the stream callback runs, moments
    /// later. [`reset`](Self::reset) needs the core event to be finished.
    ///
    /// `Failed` only ever comes from the event itself (its stream's error,
    /// or a host `set_failed`): if the context cannot be made current for the
    /// query, that is not the event's failure and the answer stays
    /// `Scheduled`.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch::EventStatus;
    /// use evlatch_cuda::{CudaEvent, EventFlags};
    /// # let ctx = match evlatch_cuda::context(0) {
    /// #     Ok(ctx) => ctx,
    /// #     Err(why) if why.is_no_gpu() => return, // no GPU here
    /// #     Err(why) => panic!("CUDA is there but broken: {why}"),
    /// # };
    /// let event = CudaEvent::new(&ctx, EventFlags::new()).unwrap();
    /// assert_eq!(event.status(), EventStatus::Initialized);
    /// ```
    pub fn status(&self) -> EventStatus {
        self.inner.status().0
    }

    /// The failure message: `Some` exactly when [`status`](Self::status)
    /// says `Failed` — the CUDA error's name and text, e.g.
    /// `CUDA_ERROR_ILLEGAL_ADDRESS: an illegal memory access was encountered`.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_cuda::{CudaEvent, EventFlags};
    /// # let ctx = match evlatch_cuda::context(0) {
    /// #     Ok(ctx) => ctx,
    /// #     Err(why) if why.is_no_gpu() => return, // no GPU here
    /// #     Err(why) => panic!("CUDA is there but broken: {why}"),
    /// # };
    /// let event = CudaEvent::new(&ctx, EventFlags::new()).unwrap();
    /// event.set_failed("host gave up").unwrap();
    /// assert_eq!(event.error_message().unwrap().as_str(), "host gave up");
    /// ```
    pub fn error_message(&self) -> Option<ErrorMessage> {
        match self.inner.status() {
            (EventStatus::Failed, Some(code)) => {
                Some(ErrorMessage::new(code_message(code).as_str()))
            }
            (EventStatus::Failed, None) => self.inner.core.error_message(),
            _ => None,
        }
    }

    /// Blocks the calling thread until the event is finished, and returns the
    /// outcome: `cuEventSynchronize` (spinning, or sleeping in the driver
    /// with [`EventFlags::blocking_sync`]), then — if the stream callback has
    /// not run yet — waits for it with evlatch-std's blocking
    /// [`EventExt::wait`] on the core event (a short spin, then a park, woken
    /// by the callback's finish). Afterwards the core event is finished and
    /// [`reset`](Self::reset) succeeds. Caffe2's `Finish`.
    ///
    /// For a wait that never burns a core, wait on
    /// [`core_event`](Self::core_event) instead; for a bounded one,
    /// [`finish_timeout`](Self::finish_timeout).
    ///
    /// The wake-up comes from evlatch-std's wake hook, which the core calls
    /// before any `on_finished` callback, so a panicking callback cannot
    /// strand the waiter. It does not return while the stream callback has
    /// not run: if the GPU work never finishes, neither does `finish`.
    ///
    /// # Errors
    ///
    /// [`CudaError::NotRecorded`] on an `Initialized` event: nothing would
    /// ever finish it.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use evlatch_cuda::{CudaError, CudaEvent, EventFlags};
    /// # let ctx = match evlatch_cuda::context(0) {
    /// #     Ok(ctx) => ctx,
    /// #     Err(why) if why.is_no_gpu() => return, // no GPU here
    /// #     Err(why) => panic!("CUDA is there but broken: {why}"),
    /// # };
    /// let event = CudaEvent::new(&ctx, EventFlags::new().blocking_sync(true)).unwrap();
    /// assert_eq!(event.finish(), Err(CudaError::NotRecorded));
    /// event.record(&ctx.default_stream()).unwrap();
    /// // (Bounded first, so this example cannot hang; `finish` then
    /// // answers at once.)
    /// event.finish_timeout(Duration::from_secs(30)).unwrap();
    /// assert!(event.finish().unwrap().is_finished());
    /// ```
    pub fn finish(&self) -> Result<EventStatus, CudaError> {
        let inner = &self.inner;
        let snap = inner.core.snapshot();
        match snap.status() {
            EventStatus::Initialized => return Err(CudaError::NotRecorded),
            EventStatus::Scheduled => {}
            finished => return Ok(finished),
        }
        if inner.is_device_recorded(snap.generation()) && bind(&inner.ctx).is_ok() {
            // SAFETY: `raw` is a live event of the now-current context. The
            // result is not needed: the stream callback reports the outcome.
            let _ = unsafe { sys::cuEventSynchronize(inner.raw) };
        }
        Ok(inner.core.wait())
    }

    /// Like [`finish`](Self::finish), but gives up after `timeout`: waits
    /// with [`EventExt::wait_timeout`] until the stream callback has
    /// finished the core event (no `cuEventSynchronize`, which cannot be
    /// bounded).
    ///
    /// # Errors
    ///
    /// [`CudaError::NotRecorded`] on an `Initialized` event;
    /// [`CudaError::Timeout`] if the core event was still not finished after
    /// `timeout` (the event is unchanged, and nothing of the wait is left
    /// behind).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use evlatch_cuda::{CudaError, CudaEvent, EventFlags};
    /// # let ctx = match evlatch_cuda::context(0) {
    /// #     Ok(ctx) => ctx,
    /// #     Err(why) if why.is_no_gpu() => return, // no GPU here
    /// #     Err(why) => panic!("CUDA is there but broken: {why}"),
    /// # };
    /// let event = CudaEvent::new(&ctx, EventFlags::new()).unwrap();
    /// let limit = Duration::from_secs(30);
    /// assert_eq!(event.finish_timeout(limit), Err(CudaError::NotRecorded));
    /// event.record(&ctx.default_stream()).unwrap();
    /// assert!(event.finish_timeout(limit).unwrap().is_finished());
    /// ```
    pub fn finish_timeout(&self, timeout: Duration) -> Result<EventStatus, CudaError> {
        let core = &self.inner.core;
        match core.status() {
            EventStatus::Initialized => return Err(CudaError::NotRecorded),
            EventStatus::Scheduled => {}
            finished => return Ok(finished),
        }
        // (A timeout too large to represent is no timeout.)
        core.wait_timeout(timeout)
            .map_err(|Timeout| CudaError::Timeout)
    }

    /// Makes `stream` wait, on the device, for the work recorded in this
    /// event (`cuStreamWaitEvent`): Caffe2's CUDA→CUDA wait. The host does
    /// not block. The stream may belong to another context or device.
    ///
    /// If the event is reset and recorded again while this call runs, the
    /// stream may wait for the newer recording: it never waits for less.
    ///
    /// # Errors
    ///
    /// [`CudaError::NotRecorded`] on an `Initialized` event;
    /// [`CudaError::Failed`] if the event already failed (the stream is not
    /// made to wait); [`CudaError::Driver`] if the driver refuses.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_cuda::{CudaEvent, EventFlags};
    /// # let ctx = match evlatch_cuda::context(0) {
    /// #     Ok(ctx) => ctx,
    /// #     Err(why) if why.is_no_gpu() => return, // no GPU here
    /// #     Err(why) => panic!("CUDA is there but broken: {why}"),
    /// # };
    /// let (a, b) = (ctx.new_stream().unwrap(), ctx.new_stream().unwrap());
    /// let event = CudaEvent::new(&ctx, EventFlags::new()).unwrap();
    /// event.record(&a).unwrap();
    /// event.wait_on(&b).unwrap(); // later work on b runs after a's
    /// ```
    pub fn wait_on(&self, stream: &CudaStream) -> Result<(), CudaError> {
        self.inner.wait_on(stream)
    }

    /// Milliseconds of GPU time from `start` to this event (`end`), as
    /// `cuEventElapsedTime` measures them. Does not block.
    ///
    /// # Errors
    ///
    /// [`CudaError::TimingDisabled`] unless both were created with timing;
    /// [`CudaError::WrongContext`] for events of different contexts;
    /// [`CudaError::NotRecorded`] if either was not recorded on a stream *in
    /// its current generation* (never recorded, or finished from the host
    /// with `set_finished` / `set_failed`: its `CUevent` holds no time, or a
    /// stale one); [`CudaError::NotReady`] until both finished (call
    /// [`finish`](Self::finish) first); [`CudaError::MissingSymbol`] if the
    /// driver exports neither `cuEventElapsedTime_v2` (preferred, driver
    /// 12.8+) nor `cuEventElapsedTime`.
    ///
    /// Resetting and re-recording either event while this call runs is a
    /// race of the caller's: the time may then be the new recording's.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use evlatch_cuda::{CudaEvent, EventFlags};
    /// # let ctx = match evlatch_cuda::context(0) {
    /// #     Ok(ctx) => ctx,
    /// #     Err(why) if why.is_no_gpu() => return, // no GPU here
    /// #     Err(why) => panic!("CUDA is there but broken: {why}"),
    /// # };
    /// let stream = ctx.default_stream();
    /// let timed = EventFlags::new().timing(true);
    /// let (start, end) = (CudaEvent::new(&ctx, timed).unwrap(), CudaEvent::new(&ctx, timed).unwrap());
    /// start.record(&stream).unwrap();
    /// end.record(&stream).unwrap();
    /// end.finish_timeout(Duration::from_secs(30)).unwrap();
    /// start.finish_timeout(Duration::from_secs(30)).unwrap();
    /// assert!(end.elapsed_ms(&start).unwrap() >= 0.0);
    /// ```
    pub fn elapsed_ms(&self, start: &CudaEvent) -> Result<f32, CudaError> {
        let (end, start) = (&self.inner, &start.inner);
        if !end.flags.has_timing() || !start.flags.has_timing() {
            return Err(CudaError::TimingDisabled);
        }
        if end.ctx.cu_ctx() != start.ctx.cu_ctx() {
            return Err(CudaError::WrongContext {
                event_device: end.ctx.ordinal(),
                other_device: start.ctx.ordinal(),
            });
        }
        timing_state(&start.core, &start.device_recorded)?;
        timing_state(&end.core, &end.device_recorded)?;
        let entry = driver::elapsed_time_entry()?;
        bind(&end.ctx)?;
        let mut ms = 0.0f32;
        let (call, rc) = match entry {
            // SAFETY: both events are live events of the current context,
            // recorded on a stream in their current generation; `ms` is a
            // valid out-pointer; the driver exports the symbol (checked).
            ElapsedTime::V2 => ("cuEventElapsedTime_v2", unsafe {
                sys::cuEventElapsedTime_v2(&mut ms, start.raw, end.raw)
            }),
            // SAFETY: as above.
            ElapsedTime::V1 => ("cuEventElapsedTime", unsafe {
                sys::cuEventElapsedTime(&mut ms, start.raw, end.raw)
            }),
        };
        match rc {
            CUresult::CUDA_SUCCESS => Ok(ms),
            CUresult::CUDA_ERROR_NOT_READY => Err(CudaError::NotReady),
            code => Err(CudaError::Driver { call, code }),
        }
    }

    /// Makes a finished event recordable again: the core event goes
    /// `Success | Failed → Initialized`, generation + 1. On an `Initialized`
    /// event it does nothing.
    ///
    /// # Errors
    ///
    /// `CudaError::Event(EventError::InFlight)` while the core event is
    /// `Scheduled` — including the moment between the GPU finishing and the
    /// stream callback running; [`finish`](Self::finish) first.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use evlatch_cuda::{CudaEvent, EventFlags};
    /// # let ctx = match evlatch_cuda::context(0) {
    /// #     Ok(ctx) => ctx,
    /// #     Err(why) if why.is_no_gpu() => return, // no GPU here
    /// #     Err(why) => panic!("CUDA is there but broken: {why}"),
    /// # };
    /// let event = CudaEvent::new(&ctx, EventFlags::new()).unwrap();
    /// let stream = ctx.default_stream();
    /// for _ in 0..3 {
    ///     event.record(&stream).unwrap();
    ///     event.finish_timeout(Duration::from_secs(30)).unwrap();
    ///     event.reset().unwrap();
    /// }
    /// ```
    pub fn reset(&self) -> Result<(), CudaError> {
        self.inner.core.reset().map_err(CudaError::Event)
    }

    /// Finishes an *unrecorded* event with success, from the host: Caffe2's
    /// `SetFinished` (e.g. for work that was skipped).
    ///
    /// # Errors
    ///
    /// [`CudaError::Recorded`] on a recorded event (only the device finishes
    /// it); `CudaError::Event(EventError::AlreadyFinished)` on a finished one.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_cuda::{CudaEvent, EventFlags};
    /// # let ctx = match evlatch_cuda::context(0) {
    /// #     Ok(ctx) => ctx,
    /// #     Err(why) if why.is_no_gpu() => return, // no GPU here
    /// #     Err(why) => panic!("CUDA is there but broken: {why}"),
    /// # };
    /// let event = CudaEvent::new(&ctx, EventFlags::new()).unwrap();
    /// event.set_finished().unwrap();
    /// assert!(event.core_event().is_finished());
    /// ```
    pub fn set_finished(&self) -> Result<(), CudaError> {
        self.inner.claim_for_host()?;
        self.inner.core.set_finished().map_err(CudaError::Event)
    }

    /// Finishes an *unrecorded* event with an error, from the host: Caffe2's
    /// `SetFinished` with a message.
    ///
    /// # Errors
    ///
    /// As [`set_finished`](Self::set_finished).
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_cuda::{CudaEvent, EventFlags};
    /// # let ctx = match evlatch_cuda::context(0) {
    /// #     Ok(ctx) => ctx,
    /// #     Err(why) if why.is_no_gpu() => return, // no GPU here
    /// #     Err(why) => panic!("CUDA is there but broken: {why}"),
    /// # };
    /// let event = CudaEvent::new(&ctx, EventFlags::new()).unwrap();
    /// event.set_failed("input was empty").unwrap();
    /// assert_eq!(event.status(), evlatch::EventStatus::Failed);
    /// ```
    pub fn set_failed(&self, msg: &str) -> Result<(), CudaError> {
        self.inner.claim_for_host()?;
        self.inner.core.set_failed(msg).map_err(CudaError::Event)
    }

    /// The core event that the stream callback finishes: wait on it (blocking
    /// or `.await` with evlatch-std), or register `on_finished` callbacks —
    /// which then run on the CUDA driver's callback thread and MUST NOT call
    /// CUDA. Do not finish or reset it directly.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::{sync::mpsc, time::Duration};
    /// use evlatch_cuda::{CudaEvent, EventFlags};
    /// # let ctx = match evlatch_cuda::context(0) {
    /// #     Ok(ctx) => ctx,
    /// #     Err(why) if why.is_no_gpu() => return, // no GPU here
    /// #     Err(why) => panic!("CUDA is there but broken: {why}"),
    /// # };
    /// let event = CudaEvent::new(&ctx, EventFlags::new()).unwrap();
    /// let (tx, rx) = mpsc::channel();
    /// event.core_event().on_finished(move |status| { let _ = tx.send(status); });
    /// event.record(&ctx.default_stream()).unwrap();
    /// // No polling: the GPU's stream callback sends it.
    /// let status = rx.recv_timeout(Duration::from_secs(30)).expect("the core event arrives");
    /// assert!(status.is_finished());
    /// ```
    pub fn core_event(&self) -> &Event {
        &self.inner.core
    }

    /// The context the event belongs to.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_cuda::{CudaEvent, EventFlags};
    /// # let ctx = match evlatch_cuda::context(0) {
    /// #     Ok(ctx) => ctx,
    /// #     Err(why) if why.is_no_gpu() => return, // no GPU here
    /// #     Err(why) => panic!("CUDA is there but broken: {why}"),
    /// # };
    /// let event = CudaEvent::new(&ctx, EventFlags::new()).unwrap();
    /// assert_eq!(event.context().cu_ctx(), ctx.cu_ctx());
    /// ```
    pub fn context(&self) -> &Arc<CudaContext> {
        &self.inner.ctx
    }

    /// The flags the event was created with.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_cuda::{CudaEvent, EventFlags};
    /// # let ctx = match evlatch_cuda::context(0) {
    /// #     Ok(ctx) => ctx,
    /// #     Err(why) if why.is_no_gpu() => return, // no GPU here
    /// #     Err(why) => panic!("CUDA is there but broken: {why}"),
    /// # };
    /// assert_eq!(CudaEvent::new(&ctx, EventFlags::new()).unwrap().flags(), EventFlags::new());
    /// ```
    pub fn flags(&self) -> EventFlags {
        self.inner.flags
    }

    /// The raw `CUevent`, for driver calls this crate does not wrap. It stays
    /// owned by this event: do not destroy it, and do not record it yourself
    /// (that would bypass the bridge).
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_cuda::{CudaEvent, EventFlags};
    /// # let ctx = match evlatch_cuda::context(0) {
    /// #     Ok(ctx) => ctx,
    /// #     Err(why) if why.is_no_gpu() => return, // no GPU here
    /// #     Err(why) => panic!("CUDA is there but broken: {why}"),
    /// # };
    /// assert!(!CudaEvent::new(&ctx, EventFlags::new()).unwrap().cu_event().is_null());
    /// ```
    pub fn cu_event(&self) -> sys::CUevent {
        self.inner.raw
    }
}

impl fmt::Debug for CudaEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let snap = self.inner.core.snapshot();
        f.debug_struct("CudaEvent")
            .field("device", &self.inner.ctx.ordinal())
            .field("flags", &self.inner.flags)
            .field("core_event", &snap.status())
            .field("generation", &snap.generation())
            .finish_non_exhaustive()
    }
}

/// The CUDA backend's event, for the core registry and wait matrix.
///
/// Follows the [`DeviceEvent`] contract, taking both of its *device
/// rules* (Caffe2's): `set_finished` / `set_failed` on a recorded event
/// refuse with `BackendError::Event(EventError::AlreadyRecorded)` (only the
/// device finishes it; the event is unchanged), and `finish` on an
/// unrecorded event answers `BackendError::Unsupported` instead of waiting
/// for a finish that nothing would bring.
impl DeviceEvent for CudaEvent {
    fn device_type(&self) -> DeviceType {
        DeviceType::CUDA
    }

    /// Takes a `cudarc::driver::CudaStream` or an `Arc` of one.
    fn record(&self, context: &dyn Any) -> Result<(), BackendError> {
        let stream = stream_of(context)?;
        CudaEvent::record(self, stream).map_err(CudaError::into_backend)
    }

    fn query(&self) -> EventStatus {
        self.status()
    }

    fn finish(&self) -> Result<EventStatus, BackendError> {
        CudaEvent::finish(self).map_err(CudaError::into_backend)
    }

    fn error_message(&self) -> Option<ErrorMessage> {
        CudaEvent::error_message(self)
    }

    fn set_finished(&self) -> Result<(), BackendError> {
        CudaEvent::set_finished(self).map_err(CudaError::into_backend)
    }

    fn set_failed(&self, msg: &str) -> Result<(), BackendError> {
        CudaEvent::set_failed(self, msg).map_err(CudaError::into_backend)
    }

    fn reset(&self) -> Result<(), BackendError> {
        CudaEvent::reset(self).map_err(CudaError::into_backend)
    }

    fn supports_callbacks(&self) -> bool {
        true
    }

    fn on_finished_fn(
        &self,
        f: fn(EventStatus, usize),
        context: usize,
    ) -> Result<(), BackendError> {
        self.inner
            .core
            .on_finished_fn(f, context)
            .map_err(BackendError::Event)
    }

    fn core_event(&self) -> Option<&Event> {
        Some(&self.inner.core)
    }

    /// `Some(self)`: the CUDA wait functions downcast a `&dyn DeviceEvent`
    /// back to a `CudaEvent` to reach its `CUevent`.
    fn as_any(&self) -> Option<&dyn Any> {
        Some(self)
    }
}

impl Inner {
    fn is_device_recorded(&self, generation: u32) -> bool {
        device_recorded_in(&self.device_recorded, generation)
    }

    /// The status, and the failing code when it comes from `cuEventQuery`.
    fn status(&self) -> (EventStatus, Option<CUresult>) {
        let snap = self.core.snapshot();
        if snap.status() != EventStatus::Scheduled || !self.is_device_recorded(snap.generation()) {
            return (snap.status(), None);
        }
        scheduled_status(bind(&self.ctx).map(|()| {
            // SAFETY: `raw` is a live event of the now-current context.
            unsafe { sys::cuEventQuery(self.raw) }
        }))
    }

    /// Takes an `Initialized` event to `Scheduled` for a host-side finish,
    /// so no CUDA record can start in between.
    fn claim_for_host(&self) -> Result<(), CudaError> {
        match self.core.record() {
            Ok(()) => {
                // This generation has no device record.
                self.device_recorded.store(0, Ordering::Release);
                Ok(())
            }
            Err(EventError::AlreadyRecorded) => Err(CudaError::Recorded),
            Err(e) => Err(CudaError::Event(e)),
        }
    }

    /// `cuEventRecord`, then the stream callback, for `generation`, which
    /// the caller has taken to `Scheduled`.
    fn enqueue(&self, stream: &CudaStream, generation: u32) -> Result<(), CudaError> {
        bind(&self.ctx)?;
        let cu_stream = stream.cu_stream();
        // SAFETY: `raw` is a live event and `cu_stream` a live stream (the
        // caller borrows it) of the now-current context, checked by `record`.
        check("cuEventRecord", unsafe {
            sys::cuEventRecord(self.raw, cu_stream)
        })?;
        // Release: a reader that sees this also sees the record.
        self.device_recorded
            .store(generation.wrapping_add(1), Ordering::Release);
        // SAFETY: `cu_stream` is a live stream of the now-current context
        // (above), borrowed for this call.
        unsafe { bridge::add_callback(cu_stream, &self.core, generation) }?;
        Ok(())
    }

    fn wait_on(&self, stream: &CudaStream) -> Result<(), CudaError> {
        loop {
            let snap = self.core.snapshot();
            match snap.status() {
                EventStatus::Initialized => return Err(CudaError::NotRecorded),
                EventStatus::Success => return Ok(()),
                EventStatus::Failed => return Err(CudaError::Failed),
                EventStatus::Scheduled if self.is_device_recorded(snap.generation()) => break,
                // The recorder is between claiming the generation and
                // cuEventRecord (a few driver calls): let it finish.
                EventStatus::Scheduled => thread::yield_now(),
            }
        }
        bind(stream.context())?;
        // SAFETY: `stream` is live (borrowed) and its context is current;
        // `raw` is a live event (of any context: the driver allows
        // cross-context waits). Flags 0 is CU_EVENT_WAIT_DEFAULT.
        check("cuStreamWaitEvent", unsafe {
            sys::cuStreamWaitEvent(stream.cu_stream(), self.raw, 0)
        })
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        let _ = bind(&self.ctx);
        // SAFETY: `raw` came from cuEventCreate in `CudaEvent::new` and is
        // destroyed only here, once. A recorded, incomplete event may be
        // destroyed: the driver releases it when its work finishes. No
        // stream callback touches `raw`.
        let _ = unsafe { sys::cuEventDestroy_v2(self.raw) };
        LIVE_EVENTS.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The stream in a backend `context`: a `CudaStream` or an `Arc` of one.
pub(crate) fn stream_of(context: &dyn Any) -> Result<&CudaStream, BackendError> {
    if let Some(s) = context.downcast_ref::<CudaStream>() {
        return Ok(s);
    }
    if let Some(s) = context.downcast_ref::<Arc<CudaStream>>() {
        return Ok(s);
    }
    Err(BackendError::WrongContext {
        expected: "a cudarc::driver::CudaStream or Arc<CudaStream>",
    })
}

/// Whether `field` (an `Inner::device_recorded`) says `generation` was
/// recorded on a stream. Acquire: pairs with the recorder's Release store,
/// so a reader that sees it also sees the record.
fn device_recorded_in(field: &AtomicU32, generation: u32) -> bool {
    field.load(Ordering::Acquire) == generation.wrapping_add(1)
}

/// The status of a device-recorded, `Scheduled` generation, from what the
/// query gave: `cuEventQuery`'s code mapped, or — when the context could
/// not be bound, so nothing was asked — still `Scheduled`. A bind failure
/// is not the event's failure (cudarc-level errors of unrelated calls end
/// up there too), so it never becomes `Failed`.
fn scheduled_status(query: Result<CUresult, CudaError>) -> (EventStatus, Option<CUresult>) {
    match query {
        Ok(code) => query_status(code),
        Err(_) => (EventStatus::Scheduled, None),
    }
}

/// Whether an event (its core event and `device_recorded` field) holds a
/// time `cuEventElapsedTime` may read: recorded on a stream in the current
/// generation. Never recorded → `NotRecorded`; finished from the host, or
/// after a failed record → `NotRecorded` (its `CUevent` is unrecorded or
/// stale); taken to `Scheduled` but `cuEventRecord` still under way →
/// `NotReady`.
fn timing_state(core: &Event, device_recorded: &AtomicU32) -> Result<(), CudaError> {
    let snap = core.snapshot();
    match snap.status() {
        EventStatus::Initialized => Err(CudaError::NotRecorded),
        _ if device_recorded_in(device_recorded, snap.generation()) => Ok(()),
        EventStatus::Scheduled => Err(CudaError::NotReady),
        EventStatus::Success | EventStatus::Failed => Err(CudaError::NotRecorded),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn timing_needs_a_device_record_of_this_generation() {
        let core = Event::new();
        let field = AtomicU32::new(0);
        assert_eq!(timing_state(&core, &field), Err(CudaError::NotRecorded));
        // Taken to Scheduled, cuEventRecord still under way.
        core.record().unwrap();
        assert_eq!(timing_state(&core, &field), Err(CudaError::NotReady));
        // Recorded on the device (what `enqueue` stores).
        let g = core.snapshot().generation();
        field.store(g.wrapping_add(1), Ordering::Release);
        assert_eq!(timing_state(&core, &field), Ok(()));
        core.set_finished().unwrap();
        assert_eq!(timing_state(&core, &field), Ok(()));
        // Next generation, finished from the host (`claim_for_host` stores 0):
        // the CUevent holds the previous generation's time.
        core.reset().unwrap();
        core.record().unwrap();
        field.store(0, Ordering::Release);
        core.set_finished().unwrap();
        assert_eq!(timing_state(&core, &field), Err(CudaError::NotRecorded));
        // A stale field (left from an older generation) is not a record.
        core.reset().unwrap();
        core.record().unwrap();
        field.store(g.wrapping_add(1), Ordering::Release);
        core.set_failed("record failed").unwrap();
        assert_eq!(timing_state(&core, &field), Err(CudaError::NotRecorded));
    }

    #[test]
    fn a_bind_failure_never_reports_failed() {
        let bind_failed = Err(CudaError::Driver {
            call: "cuCtxSetCurrent",
            code: CUresult::CUDA_ERROR_INVALID_CONTEXT,
        });
        assert_eq!(
            scheduled_status(bind_failed),
            (EventStatus::Scheduled, None)
        );
        assert_eq!(
            scheduled_status(Ok(CUresult::CUDA_ERROR_NOT_READY)),
            (EventStatus::Scheduled, None)
        );
        assert_eq!(
            scheduled_status(Ok(CUresult::CUDA_SUCCESS)),
            (EventStatus::Success, None)
        );
        // The stream's own error is the event's failure.
        assert_eq!(
            scheduled_status(Ok(CUresult::CUDA_ERROR_ILLEGAL_ADDRESS)),
            (
                EventStatus::Failed,
                Some(CUresult::CUDA_ERROR_ILLEGAL_ADDRESS)
            )
        );
    }

    #[test]
    fn stream_of_rejects_other_types() {
        assert!(matches!(
            stream_of(&()),
            Err(BackendError::WrongContext { .. })
        ));
        assert!(matches!(
            stream_of(&5u32),
            Err(BackendError::WrongContext { .. })
        ));
    }
}
