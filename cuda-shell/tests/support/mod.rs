//! Test and example support: skipping without a GPU (with a printed
//! reason, and only without one), bounded waits, and a few hand-written PTX
//! kernels loaded with `cuModuleLoadData` (no NVRTC needed).
//!
//! Included by the integration tests (`mod support;`) and by the examples
//! (`#[path = "../tests/support/mod.rs"] mod support;`).
#![allow(dead_code)]

use std::ffi::{c_void, CStr};
use std::io::Write;
use std::sync::{mpsc, Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use evlatch::{Event, EventStatus};
use evlatch_cuda::cudarc::driver::sys::{self, CUresult};
use evlatch_cuda::cudarc::driver::{CudaContext, CudaStream};
use evlatch_cuda::CudaError;
use evlatch_std::EventExt;

/// The environment variable that turns every skip into a failure: set it to
/// `1` on a machine that has a GPU, so a run that skips cannot pass.
pub const REQUIRE_GPU: &str = "EVLATCH_CUDA_REQUIRE_GPU";

/// How long any host wait in the tests and examples waits for the GPU (a
/// finish, a callback, a synchronize) before failing with what did not
/// arrive. Far above any healthy wait here (milliseconds), and below the
/// per-process limit of `gpu/run.sh`, so a stuck wait reports itself.
pub const WAIT: Duration = Duration::from_secs(10);

/// Whether [`REQUIRE_GPU`] is set to `1`.
pub fn require_gpu() -> bool {
    std::env::var_os(REQUIRE_GPU).is_some_and(|v| v == "1")
}

/// What a GPU test does when device 0 is unavailable: `Ok(reason)` to skip
/// (printing it), `Err(message)` to fail. Only "no GPU here" (`NoDriver`,
/// `NoDevice`) skips, and not even that with `require_gpu`: a stub
/// library, a failing `cuInit`, a missing symbol or a context that cannot
/// be retained is a broken CUDA, and a test that skipped over it would be a
/// false green.
pub fn skip_or_fail(why: &CudaError, require_gpu: bool) -> Result<String, String> {
    if !why.is_no_gpu() {
        return Err(format!(
            "CUDA is present but unusable (a failure, not a skip): {why}"
        ));
    }
    if require_gpu {
        return Err(format!("{REQUIRE_GPU}=1 but there is no GPU: {why}"));
    }
    Ok(why.to_string())
}

/// Device 0's context with the test kernels, or `None` after printing why
/// the caller is skipped — which happens only without a GPU (see
/// [`skip_or_fail`]); any other error panics.
///
/// The line goes straight to the process's stderr, past the test harness's
/// output capture, so `cargo test` always shows it: a skipped GPU test is
/// never a silent pass.
pub fn gpu(test: &str) -> Option<Gpu> {
    match evlatch_cuda::context(0) {
        Ok(ctx) => Some(Gpu::new(ctx)),
        Err(why) => match skip_or_fail(&why, require_gpu()) {
            Ok(reason) => {
                // One write, so the line is not interleaved with the harness's.
                let line = format!("{test}: skipped: {reason}\n");
                let _ = std::io::stderr().write_all(line.as_bytes());
                None
            }
            Err(message) => panic!("{test}: {message}"),
        },
    }
}

/// Waits at most `limit` for `event` to finish, or says what did not arrive.
pub fn wait_within(event: &Event, what: &str, limit: Duration) -> Result<EventStatus, String> {
    event.wait_timeout(limit).map_err(|_| {
        format!("{what}: did not arrive within {limit:?} (the stream callback never ran?)")
    })
}

/// [`wait_within`] [`WAIT`], panicking with the message.
#[track_caller]
pub fn wait(event: &Event, what: &str) -> EventStatus {
    wait_within(event, what, WAIT).unwrap_or_else(|m| panic!("{m}"))
}

/// Receives from `rx` within `limit`, or says what did not arrive.
pub fn recv_within<T>(rx: &mpsc::Receiver<T>, what: &str, limit: Duration) -> Result<T, String> {
    rx.recv_timeout(limit)
        .map_err(|e| format!("{what}: did not arrive within {limit:?} ({e})"))
}

/// [`recv_within`] [`WAIT`], panicking with the message.
#[track_caller]
pub fn recv<T>(rx: &mpsc::Receiver<T>, what: &str) -> T {
    recv_within(rx, what, WAIT).unwrap_or_else(|m| panic!("{m}"))
}

/// Runs `f` (a call that cannot be given a timeout itself: `finish()`,
/// `cuStreamSynchronize`, a join) on this thread under a watchdog: if it has
/// not returned after [`WAIT`], the watchdog prints what did not return and
/// ends the process with [`WATCHDOG_EXIT`] — a hung test fails, with a
/// message, instead of hanging.
pub fn bounded<T>(what: &str, f: impl FnOnce() -> T) -> T {
    bounded_within(what, WAIT, f)
}

/// [`bounded`] with its own limit.
pub fn bounded_within<T>(what: &str, limit: Duration, f: impl FnOnce() -> T) -> T {
    let (disarm, armed) = mpsc::channel::<()>();
    let what = what.to_owned();
    let dog = std::thread::spawn(move || {
        if let Err(mpsc::RecvTimeoutError::Timeout) = armed.recv_timeout(limit) {
            let line = format!("watchdog: {what}: did not return within {limit:?}; exiting\n");
            let _ = std::io::stderr().write_all(line.as_bytes());
            std::process::exit(WATCHDOG_EXIT);
        }
    });
    let out = f();
    drop(disarm);
    let _ = dog.join();
    out
}

/// The exit code of a process ended by [`bounded`]'s watchdog.
pub const WATCHDOG_EXIT: i32 = 86;

/// Runs a future to completion on this thread, parking between polls (the
/// smallest executor, so the examples and tests need no async runtime);
/// panics saying `what` did not arrive if it is not ready within [`WAIT`].
#[track_caller]
pub fn block_on<F: std::future::Future>(what: &str, fut: F) -> F::Output {
    block_on_within(what, WAIT, fut)
}

/// [`block_on`] with its own limit.
#[track_caller]
pub fn block_on_within<F: std::future::Future>(what: &str, limit: Duration, fut: F) -> F::Output {
    use std::task::{Context, Poll, Wake, Waker};
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut fut = std::pin::pin!(fut);
    let deadline = Instant::now() + limit;
    loop {
        match fut.as_mut().poll(&mut cx) {
            Poll::Ready(out) => return out,
            Poll::Pending => match deadline.checked_duration_since(Instant::now()) {
                Some(left) if !left.is_zero() => std::thread::park_timeout(left),
                _ => panic!("{what}: did not arrive within {limit:?}"),
            },
        }
    }
}

/// Makes `ctx` current with the driver directly. (cudarc's `bind_to_thread`
/// first returns, and clears, errors stored by unrelated drops.)
#[track_caller]
pub fn bind(ctx: &CudaContext) {
    // SAFETY: `ctx` is a live context (borrowed).
    ok("cuCtxSetCurrent", unsafe {
        sys::cuCtxSetCurrent(ctx.cu_ctx())
    });
}

/// One stream of the shared context kept alive for the whole process:
/// cudarc's `new_stream` synchronizes the context whenever the context's
/// count of live streams is zero, which would make one test wait for
/// another's gated kernel. With this stream alive the count never drops to
/// zero, so tests in parallel never wait on each other.
static KEEPER: OnceLock<Arc<CudaStream>> = OnceLock::new();

/// The kernels, in PTX ISA 7.0 for sm_52 (JIT-compiled by the driver for the
/// actual GPU).
///
/// - `gate_wait(gate, limit_ns)`: spins until the host writes a non-zero
///   word at `gate` (host-mapped memory), or `limit_ns` of `%globaltimer`
///   passed (a watchdog, so a broken test fails instead of hanging).
/// - `spin_signal(ns, flag, value)`: spins `ns` nanoseconds, then, if `flag`
///   is not null, stores `value` there (volatile, system-wide fence): the
///   benchmark's finish reference.
/// - `store_u32(ptr, value)`: `*ptr = value`.
/// - `copy_u32(src, dst)`: `*dst = *src`.
/// - `fault(ptr)`: `*ptr = 1` — given a bad pointer, an illegal address.
pub const PTX: &CStr = c"
.version 7.0
.target sm_52
.address_size 64

.visible .entry gate_wait(.param .u64 gate_wait_gate, .param .u64 gate_wait_limit)
{
    .reg .pred %p<3>;
    .reg .b32 %r<2>;
    .reg .b64 %rd<6>;
    ld.param.u64 %rd1, [gate_wait_gate];
    cvta.to.global.u64 %rd1, %rd1;
    ld.param.u64 %rd2, [gate_wait_limit];
    mov.u64 %rd3, %globaltimer;
    add.u64 %rd4, %rd3, %rd2;
GATE_LOOP:
    ld.volatile.global.u32 %r1, [%rd1];
    setp.ne.u32 %p1, %r1, 0;
    @%p1 bra GATE_DONE;
    mov.u64 %rd5, %globaltimer;
    setp.lt.u64 %p2, %rd5, %rd4;
    @%p2 bra GATE_LOOP;
GATE_DONE:
    ret;
}

.visible .entry spin_signal(.param .u64 spin_ns, .param .u64 spin_flag, .param .u32 spin_value)
{
    .reg .pred %p<3>;
    .reg .b32 %r<2>;
    .reg .b64 %rd<6>;
    ld.param.u64 %rd1, [spin_ns];
    mov.u64 %rd2, %globaltimer;
    add.u64 %rd3, %rd2, %rd1;
SPIN_LOOP:
    mov.u64 %rd4, %globaltimer;
    setp.lt.u64 %p1, %rd4, %rd3;
    @%p1 bra SPIN_LOOP;
    ld.param.u64 %rd5, [spin_flag];
    setp.eq.u64 %p2, %rd5, 0;
    @%p2 bra SPIN_DONE;
    cvta.to.global.u64 %rd5, %rd5;
    ld.param.u32 %r1, [spin_value];
    st.volatile.global.u32 [%rd5], %r1;
    membar.sys;
SPIN_DONE:
    ret;
}

.visible .entry store_u32(.param .u64 store_ptr, .param .u32 store_value)
{
    .reg .b32 %r<2>;
    .reg .b64 %rd<2>;
    ld.param.u64 %rd1, [store_ptr];
    cvta.to.global.u64 %rd1, %rd1;
    ld.param.u32 %r1, [store_value];
    st.global.u32 [%rd1], %r1;
    ret;
}

.visible .entry copy_u32(.param .u64 copy_src, .param .u64 copy_dst)
{
    .reg .b32 %r<2>;
    .reg .b64 %rd<3>;
    ld.param.u64 %rd1, [copy_src];
    cvta.to.global.u64 %rd1, %rd1;
    ld.param.u64 %rd2, [copy_dst];
    cvta.to.global.u64 %rd2, %rd2;
    ld.global.u32 %r1, [%rd1];
    st.global.u32 [%rd2], %r1;
    ret;
}

.visible .entry fault(.param .u64 fault_ptr)
{
    .reg .b32 %r<2>;
    .reg .b64 %rd<2>;
    ld.param.u64 %rd1, [fault_ptr];
    mov.u32 %r1, 1;
    st.global.u32 [%rd1], %r1;
    ret;
}
";

/// A context with the test kernels loaded.
pub struct Gpu {
    pub ctx: Arc<CudaContext>,
    module: sys::CUmodule,
    gate_wait: sys::CUfunction,
    spin_signal: sys::CUfunction,
    store_u32: sys::CUfunction,
    copy_u32: sys::CUfunction,
    fault: sys::CUfunction,
}

/// Panics with the driver's name for `code` unless it is success: test code.
#[track_caller]
pub fn ok(call: &str, code: CUresult) {
    assert_eq!(code, CUresult::CUDA_SUCCESS, "{call} failed");
}

impl Gpu {
    fn new(ctx: Arc<CudaContext>) -> Self {
        KEEPER.get_or_init(|| ctx.new_stream().expect("the keeper stream"));
        bind(&ctx);
        let mut module = std::ptr::null_mut();
        // SAFETY: the context is current; `PTX` is NUL-terminated PTX text.
        ok("cuModuleLoadData", unsafe {
            sys::cuModuleLoadData(&mut module, PTX.as_ptr().cast())
        });
        let function = |name: &CStr| {
            let mut f = std::ptr::null_mut();
            // SAFETY: `module` is loaded; `name` is NUL-terminated.
            ok("cuModuleGetFunction", unsafe {
                sys::cuModuleGetFunction(&mut f, module, name.as_ptr())
            });
            f
        };
        Self {
            gate_wait: function(c"gate_wait"),
            spin_signal: function(c"spin_signal"),
            store_u32: function(c"store_u32"),
            copy_u32: function(c"copy_u32"),
            fault: function(c"fault"),
            module,
            ctx,
        }
    }

    /// Launches `f` with one thread on `stream`.
    ///
    /// # Safety
    ///
    /// `params` MUST point at values of exactly `f`'s parameter types, in
    /// order, and every pointer among them MUST be valid for the kernel.
    unsafe fn launch(&self, f: sys::CUfunction, stream: &CudaStream, params: &mut [*mut c_void]) {
        bind(&self.ctx);
        // SAFETY: the caller vouches for `params`; `f` belongs to our module
        // and `stream` to our context; one block of one thread.
        ok("cuLaunchKernel", unsafe {
            sys::cuLaunchKernel(
                f,
                1,
                1,
                1,
                1,
                1,
                1,
                0,
                stream.cu_stream(),
                params.as_mut_ptr(),
                std::ptr::null_mut(),
            )
        });
    }

    /// A kernel that runs until `gate` opens (or `watchdog_ns` passes). The
    /// gate remembers the stream, to open and drain it before it is freed.
    pub fn gate_wait(&self, stream: &Arc<CudaStream>, gate: &HostWord, watchdog_ns: u64) {
        gate.used_on(stream);
        let mut ptr = gate.device_ptr();
        let mut limit = watchdog_ns;
        // SAFETY: (u64 pointer to mapped host memory that outlives the
        // kernel: callers open and drop the gate after syncing, u64).
        unsafe {
            self.launch(
                self.gate_wait,
                stream,
                &mut [(&raw mut ptr).cast(), (&raw mut limit).cast()],
            )
        }
    }

    /// A kernel that spins `ns`, then stores `value` into `flag` if given
    /// (which remembers the stream, as a gate does).
    pub fn spin_signal(
        &self,
        stream: &Arc<CudaStream>,
        ns: u64,
        flag: Option<&HostWord>,
        value: u32,
    ) {
        if let Some(flag) = flag {
            flag.used_on(stream);
        }
        let mut ns = ns;
        let mut ptr = flag.map_or(0, HostWord::device_ptr);
        let mut value = value;
        // SAFETY: (u64, u64 pointer to live mapped host memory or 0, u32).
        unsafe {
            self.launch(
                self.spin_signal,
                stream,
                &mut [
                    (&raw mut ns).cast(),
                    (&raw mut ptr).cast(),
                    (&raw mut value).cast(),
                ],
            )
        }
    }

    /// A kernel that stores `value` at word `index` of `buf`.
    pub fn store_u32(&self, stream: &CudaStream, buf: &DeviceWords, index: usize, value: u32) {
        let mut ptr = buf.word(index);
        let mut value = value;
        // SAFETY: (u64 pointer into a live device allocation, u32).
        unsafe {
            self.launch(
                self.store_u32,
                stream,
                &mut [(&raw mut ptr).cast(), (&raw mut value).cast()],
            )
        }
    }

    /// A kernel that copies word `from` of `buf` to word `to`.
    pub fn copy_u32(&self, stream: &CudaStream, buf: &DeviceWords, from: usize, to: usize) {
        let mut src = buf.word(from);
        let mut dst = buf.word(to);
        // SAFETY: (two u64 pointers into a live device allocation).
        unsafe {
            self.launch(
                self.copy_u32,
                stream,
                &mut [(&raw mut src).cast(), (&raw mut dst).cast()],
            )
        }
    }

    /// A kernel that stores to address 16: an illegal address. Poisons the
    /// context for the rest of the process.
    pub fn fault(&self, stream: &CudaStream) {
        let mut bad: u64 = 16;
        // SAFETY: the parameter types match (u64); the pointer is invalid on
        // purpose — the device reports it, the host is not affected.
        unsafe { self.launch(self.fault, stream, &mut [(&raw mut bad).cast()]) }
    }
}

impl Drop for Gpu {
    fn drop(&mut self) {
        // SAFETY: the context is live (we hold it).
        let _ = unsafe { sys::cuCtxSetCurrent(self.ctx.cu_ctx()) };
        // SAFETY: loaded in `new`, unloaded once here.
        let _ = unsafe { sys::cuModuleUnload(self.module) };
    }
}

/// One `u32` of pinned host memory mapped into the device: a gate the host
/// opens for a kernel, or a flag a kernel raises for the host.
///
/// Dropping it opens it (stores 1) and synchronizes every stream a kernel
/// used it on before freeing it: a test that panics with its gate closed
/// must not free memory a kernel still reads (the fault would poison the
/// shared context for every other test in the process).
pub struct HostWord {
    ctx: Arc<CudaContext>,
    host: *mut u32,
    device: sys::CUdeviceptr,
    /// Streams that kernels reading or writing this word were launched on.
    streams: Mutex<Vec<Arc<CudaStream>>>,
}

// SAFETY: the word is only accessed with volatile reads and writes.
unsafe impl Send for HostWord {}
// SAFETY: as above.
unsafe impl Sync for HostWord {}

impl HostWord {
    pub fn new(gpu: &Gpu) -> Self {
        bind(&gpu.ctx);
        let mut host: *mut c_void = std::ptr::null_mut();
        // SAFETY: the context is current; valid out-pointer; 4 bytes.
        ok("cuMemHostAlloc", unsafe {
            sys::cuMemHostAlloc(
                &mut host,
                4,
                sys::CU_MEMHOSTALLOC_DEVICEMAP | sys::CU_MEMHOSTALLOC_PORTABLE,
            )
        });
        let mut device = 0;
        // SAFETY: `host` was just allocated with DEVICEMAP.
        ok("cuMemHostGetDevicePointer", unsafe {
            sys::cuMemHostGetDevicePointer_v2(&mut device, host, 0)
        });
        let word = Self {
            ctx: Arc::clone(&gpu.ctx),
            host: host.cast(),
            device,
            streams: Mutex::new(Vec::new()),
        };
        word.set(0);
        word
    }

    /// Notes that a kernel on `stream` uses the word.
    fn used_on(&self, stream: &Arc<CudaStream>) {
        let mut streams = self.streams.lock().unwrap_or_else(PoisonError::into_inner);
        if !streams.iter().any(|s| Arc::ptr_eq(s, stream)) {
            streams.push(Arc::clone(stream));
        }
    }

    pub fn device_ptr(&self) -> u64 {
        self.device
    }

    /// The host address, for threads that poll it with volatile reads.
    pub fn host_ptr(&self) -> *const u32 {
        self.host
    }

    pub fn set(&self, value: u32) {
        // SAFETY: `host` is a live, aligned, pinned u32.
        unsafe { self.host.write_volatile(value) }
    }

    pub fn get(&self) -> u32 {
        // SAFETY: as in `set`.
        unsafe { self.host.read_volatile() }
    }
}

impl Drop for HostWord {
    fn drop(&mut self) {
        // Open the gate first, so a kernel still waiting on it ends now.
        self.set(1);
        // SAFETY: the context is live (we hold it).
        let _ = unsafe { sys::cuCtxSetCurrent(self.ctx.cu_ctx()) };
        let streams = self
            .streams
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        for stream in streams.drain(..) {
            // SAFETY: a live stream (we hold it) of the current context. An
            // error (a poisoned context) returns at once, and then no kernel
            // runs any more either.
            let _ = unsafe { sys::cuStreamSynchronize(stream.cu_stream()) };
        }
        // SAFETY: allocated in `new`, freed once here; every kernel that used
        // it has finished (synchronized above).
        let _ = unsafe { sys::cuMemFreeHost(self.host.cast()) };
    }
}

/// A few `u32`s of device memory, zeroed.
pub struct DeviceWords {
    ctx: Arc<CudaContext>,
    ptr: sys::CUdeviceptr,
    len: usize,
}

impl DeviceWords {
    pub fn new(gpu: &Gpu, len: usize) -> Self {
        bind(&gpu.ctx);
        let mut ptr = 0;
        // SAFETY: the context is current; valid out-pointer.
        ok("cuMemAlloc", unsafe {
            sys::cuMemAlloc_v2(&mut ptr, 4 * len)
        });
        // SAFETY: `ptr` holds `len` u32s.
        ok("cuMemsetD32", unsafe { sys::cuMemsetD32_v2(ptr, 0, len) });
        // The memset may still be running on the legacy default stream, which
        // does not order the non-blocking streams the kernels use: wait here.
        // SAFETY: the null stream of the current context.
        ok("cuStreamSynchronize", unsafe {
            sys::cuStreamSynchronize(std::ptr::null_mut())
        });
        Self {
            ctx: Arc::clone(&gpu.ctx),
            ptr,
            len,
        }
    }

    fn word(&self, index: usize) -> u64 {
        assert!(index < self.len);
        self.ptr + 4 * index as u64
    }

    /// Reads all words back. The copy runs on the legacy default stream,
    /// which does not wait for the (non-blocking) streams the kernels use:
    /// synchronize those first.
    pub fn read(&self) -> Vec<u32> {
        bind(&self.ctx);
        let mut out = vec![0u32; self.len];
        // SAFETY: `out` holds `len` u32s, as does the allocation.
        ok("cuMemcpyDtoH", unsafe {
            sys::cuMemcpyDtoH_v2(out.as_mut_ptr().cast(), self.ptr, 4 * self.len)
        });
        out
    }
}

impl Drop for DeviceWords {
    fn drop(&mut self) {
        // SAFETY: the context is live (we hold it).
        let _ = unsafe { sys::cuCtxSetCurrent(self.ctx.cu_ctx()) };
        // SAFETY: allocated in `new`, freed once here.
        let _ = unsafe { sys::cuMemFree_v2(self.ptr) };
    }
}

/// `event.finish()` under the watchdog of [`bounded`].
#[track_caller]
pub fn finish(event: &evlatch_cuda::CudaEvent) -> Result<EventStatus, CudaError> {
    bounded(
        "CudaEvent::finish (waiting for the stream callback)",
        || event.finish(),
    )
}

/// `cuStreamSynchronize` on `stream` under the watchdog of [`bounded`],
/// panicking on an error.
#[track_caller]
pub fn sync(stream: &CudaStream) {
    bind(stream.context());
    bounded("cuStreamSynchronize", || {
        // SAFETY: a live stream (borrowed) of the current context.
        ok("cuStreamSynchronize", unsafe {
            sys::cuStreamSynchronize(stream.cu_stream())
        })
    });
}
