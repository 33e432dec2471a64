//! Finish-to-wake latency of the bridge, against
//! `cuEventSynchronize` (default and blocking-sync events) and against
//! polling `cuEventQuery`, and the host CPU time each burns while waiting.
//!
//! ```text
//! cargo run --release -p evlatch-cuda --example bridge_latency -- [--rounds N] [--kernel-us K]
//! ```
//!
//! Without a CUDA driver it prints why it skipped and exits successfully.
//! No wait can hang it: a heartbeat watchdog ends the process (exit 86,
//! saying so) if no round ends for 10 s, without adding anything to the
//! timed paths.
//!
//! # Method
//!
//! Each round launches one kernel that spins `K` µs and, as its last act,
//! stores the round number into pinned host memory mapped into the device.
//! An *observer* thread spins on that word and timestamps the moment it
//! changes: the host's earliest view of "the GPU is done". The waiter then
//! waits with one of the methods below and timestamps its wake-up; the
//! latency is `wake − observed`. Methods rotate round by round, so drift
//! hits all of them alike. Latencies are a few microseconds above the true
//! finish-to-wake time (the kernel's exit and the finish signal come
//! after its store); the *differences* between methods are what matter.
//!
//! - `sync_spin`: `cuEventSynchronize` on a default event (the driver spins,
//!   or yields, per the context's scheduling flags);
//! - `sync_blocking`: `cuEventSynchronize` on a `CU_EVENT_BLOCKING_SYNC`
//!   event (the driver sleeps on an interrupt);
//! - `poll_query`: `cuEventQuery` in a tight loop;
//! - `bridge_wait`: `CudaEvent::record`, then evlatch-std's blocking
//!   `core_event().wait()` (a short bounded spin, then park; woken by the
//!   stream callback);
//! - `bridge_callback`: in the same rounds, when the `on_finished` callback
//!   ran on the driver's callback thread (a lower bound for any bridge
//!   waiter).
//!
//! CPU time is measured in a second pass without the observer (which burns
//! a core by design): the process's CPU time over the pass divided by its
//! wall time ("cores busy"; 1.0 = one core spinning the whole time), and the
//! waiting thread's own CPU time per wait. Linux only (clock_gettime).

#[path = "../tests/support/mod.rs"]
mod support;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use evlatch_cuda::cudarc::driver::sys::{self, CUresult};
use evlatch_cuda::cudarc::driver::CudaStream;
use evlatch_cuda::{CudaEvent, EventFlags};
use evlatch_std::EventExt;
use support::{ok, Gpu, HostWord, WAIT};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Method {
    SyncSpin,
    SyncBlocking,
    PollQuery,
    BridgeWait,
}

const METHODS: [Method; 4] = [
    Method::SyncSpin,
    Method::SyncBlocking,
    Method::PollQuery,
    Method::BridgeWait,
];

impl Method {
    fn name(self) -> &'static str {
        match self {
            Method::SyncSpin => "sync_spin",
            Method::SyncBlocking => "sync_blocking",
            Method::PollQuery => "poll_query",
            Method::BridgeWait => "bridge_wait",
        }
    }
}

/// Everything one round needs.
struct Bench {
    gpu: Gpu,
    stream: Arc<CudaStream>,
    flag: HostWord,
    spin_event: RawEvent,
    blocking_event: RawEvent,
    bridge: CudaEvent,
    kernel_ns: u64,
    base: Instant,
    /// When the bridge's `on_finished` callback last ran, ns since `base`,
    /// and for which round (stored after the time, with Release).
    callback_at: Arc<AtomicU64>,
    callback_round: Arc<AtomicU64>,
    /// When the last round ended, ns since `base`: the watchdog's input.
    heartbeat: Arc<AtomicU64>,
}

/// What one round measured, ns since `base`.
struct Round {
    woke_at: u64,
    callback_at: Option<u64>,
    waiter_cpu_ns: Option<u64>,
}

fn main() {
    let (rounds, kernel_us) = args();
    let Some(gpu) = support::gpu("bridge_latency") else {
        return;
    };
    let stream = gpu.ctx.new_stream().expect("stream");
    let flag = HostWord::new(&gpu);
    let bench = Bench {
        spin_event: RawEvent::new(&gpu, sys::CUevent_flags::CU_EVENT_DISABLE_TIMING as u32),
        blocking_event: RawEvent::new(
            &gpu,
            sys::CUevent_flags::CU_EVENT_DISABLE_TIMING as u32
                | sys::CUevent_flags::CU_EVENT_BLOCKING_SYNC as u32,
        ),
        bridge: CudaEvent::new(&gpu.ctx, EventFlags::new()).expect("event"),
        gpu,
        stream,
        flag,
        kernel_ns: kernel_us * 1_000,
        base: Instant::now(),
        callback_at: Arc::new(AtomicU64::new(0)),
        callback_round: Arc::new(AtomicU64::new(0)),
        heartbeat: Arc::new(AtomicU64::new(0)),
    };
    watchdog(Arc::clone(&bench.heartbeat), bench.base);
    println!(
        "device: {} | rounds per method: {rounds} | kernel: {kernel_us} µs",
        bench.gpu.ctx.name().unwrap_or_else(|_| "?".into())
    );

    // Warm up every path (module JIT, callback thread, page faults).
    for i in 0..50 {
        for m in METHODS {
            bench.round(m, 1_000_000 + i);
        }
    }

    latency_pass(&bench, rounds);
    cpu_pass(&bench, rounds.min(2_000), kernel_us.max(1_000));
}

/// Bounds every wait of the benchmark without touching its timed paths:
/// each round ends by storing the time in `heartbeat`; if none ends for
/// `WAIT` (a finish, a callback or a synchronize that never returns),
/// this thread prints so and ends the process with `WATCHDOG_EXIT`.
fn watchdog(heartbeat: Arc<AtomicU64>, base: Instant) {
    heartbeat.store(nanos_since(base), Ordering::Relaxed);
    thread::spawn(move || loop {
        thread::sleep(Duration::from_millis(500));
        let idle = nanos_since(base).saturating_sub(heartbeat.load(Ordering::Relaxed));
        if idle > WAIT.as_nanos() as u64 {
            eprintln!(
                "watchdog: bridge_latency: no round ended within {WAIT:?} \
                 (a wait for the GPU never returned); exiting"
            );
            std::process::exit(support::WATCHDOG_EXIT);
        }
    });
}

/// Latency: rotate the methods round by round, with the observer spinning.
fn latency_pass(bench: &Bench, rounds: u32) {
    let observed_round = Arc::new(AtomicU64::new(0));
    let observed_at = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let observer = {
        let (round, at, stop) = (observed_round.clone(), observed_at.clone(), stop.clone());
        let flag_ptr = SendPtr(bench.flag_host());
        let base = bench.base;
        thread::spawn(move || {
            let flag = flag_ptr;
            let mut last = 0;
            while !stop.load(Ordering::Relaxed) {
                // SAFETY: the flag word outlives this thread (joined below).
                let now = unsafe { flag.0.read_volatile() };
                if now != last {
                    last = now;
                    at.store(nanos_since(base), Ordering::Relaxed);
                    // Release: `at` is visible to whoever sees this round.
                    round.store(u64::from(now), Ordering::Release);
                }
                std::hint::spin_loop();
            }
        })
    };

    let mut latencies: Vec<Vec<i64>> = vec![Vec::new(); METHODS.len() + 1];
    let mut round_id: u32 = 1;
    for r in 0..rounds {
        for k in 0..METHODS.len() {
            let m = METHODS[(k + r as usize) % METHODS.len()];
            round_id += 1;
            let got = bench.round(m, round_id);
            // The observer is spinning: it has seen (or is about to see) it.
            let since = Instant::now();
            while observed_round.load(Ordering::Acquire) != u64::from(round_id) {
                assert!(
                    since.elapsed() < Duration::from_secs(5),
                    "the kernel's store to mapped host memory never became visible"
                );
                std::hint::spin_loop();
            }
            let seen = observed_at.load(Ordering::Relaxed) as i64;
            let i = METHODS.iter().position(|x| *x == m).unwrap_or(0);
            latencies[i].push(got.woke_at as i64 - seen);
            if let Some(cb) = got.callback_at {
                latencies[METHODS.len()].push(cb as i64 - seen);
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    observer.join().expect("observer");

    println!();
    println!("## Finish-to-wake latency (µs; wake − host-observed kernel end)");
    println!();
    println!("| method | median | p10 | p90 | p99 | max |");
    println!("|---|---:|---:|---:|---:|---:|");
    let mut medians = Vec::new();
    for (i, lat) in latencies.iter_mut().enumerate() {
        let name = METHODS.get(i).map_or("bridge_callback", |m| m.name());
        lat.sort_unstable();
        let q = |p: f64| us(lat[((lat.len() - 1) as f64 * p) as usize]);
        println!(
            "| {name} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} |",
            q(0.5),
            q(0.1),
            q(0.9),
            q(0.99),
            q(1.0)
        );
        medians.push(q(0.5));
    }
    println!();
    println!(
        "bridge_wait − sync_spin (medians): {:+.1} µs (goal: within 10 µs)",
        medians[3] - medians[0]
    );
    println!(
        "bridge_wait − sync_blocking (medians): {:+.1} µs",
        medians[3] - medians[1]
    );
}

/// CPU: each method alone for `rounds` rounds of `kernel_us`, no observer.
fn cpu_pass(bench: &Bench, rounds: u32, kernel_us: u64) {
    let kernel_ns = kernel_us * 1_000;
    println!();
    println!("## Host CPU burnt while waiting ({rounds} waits of a {kernel_us} µs kernel each)");
    println!();
    println!("| method | cores busy (process CPU / wall) | waiter CPU per wait (µs) |");
    println!("|---|---:|---:|");
    for m in METHODS {
        let wall0 = Instant::now();
        let cpu0 = cpu_time(Clock::Process);
        let mut waiter_ns = 0u64;
        let mut counted = true;
        for i in 0..rounds {
            let got = bench.round_with(m, 2_000_000 + i, kernel_ns);
            match got.waiter_cpu_ns {
                Some(ns) => waiter_ns += ns,
                None => counted = false,
            }
        }
        let wall = wall0.elapsed();
        let busy = match (cpu0, cpu_time(Clock::Process)) {
            (Some(a), Some(b)) => format!("{:.2}", (b - a) as f64 / wall.as_nanos() as f64),
            _ => "n/a".into(),
        };
        let per_wait = if counted {
            format!("{:.1}", waiter_ns as f64 / f64::from(rounds) / 1e3)
        } else {
            "n/a".into()
        };
        println!("| {} | {busy} | {per_wait} |", m.name());
    }
    println!();
    println!(
        "(The bridge's process CPU includes the driver's callback thread. \
         Scheduling: default context flags, CU_CTX_SCHED_AUTO.)"
    );
}

impl Bench {
    fn flag_host(&self) -> *const u32 {
        self.flag.host_ptr()
    }

    fn round(&self, m: Method, id: u32) -> Round {
        self.round_with(m, id, self.kernel_ns)
    }

    /// Launches the kernel, records with `m`'s event, waits with `m`.
    fn round_with(&self, m: Method, id: u32, kernel_ns: u64) -> Round {
        self.gpu
            .spin_signal(&self.stream, kernel_ns, Some(&self.flag), id);
        let stream = self.stream.cu_stream();
        let cpu0 = cpu_time(Clock::Thread);
        match m {
            Method::SyncSpin | Method::SyncBlocking | Method::PollQuery => {
                let event = if m == Method::SyncBlocking {
                    &self.blocking_event
                } else {
                    &self.spin_event
                };
                // SAFETY: live event and stream of the bound context.
                ok("cuEventRecord", unsafe {
                    sys::cuEventRecord(event.0, stream)
                });
                // No per-wait bound in the timed path (a deadline check per
                // poll, or a watchdog thread per wait, would cost the
                // baselines): the heartbeat watchdog bounds them all.
                if m == Method::PollQuery {
                    loop {
                        // SAFETY: live event of the bound context.
                        match unsafe { sys::cuEventQuery(event.0) } {
                            CUresult::CUDA_ERROR_NOT_READY => std::hint::spin_loop(),
                            code => break ok("cuEventQuery", code),
                        }
                    }
                } else {
                    // SAFETY: live event of the bound context.
                    ok("cuEventSynchronize", unsafe {
                        sys::cuEventSynchronize(event.0)
                    });
                }
            }
            Method::BridgeWait => {
                let _ = self.bridge.reset();
                let (at, round) = (self.callback_at.clone(), self.callback_round.clone());
                let base = self.base;
                self.bridge.core_event().on_finished(move |_| {
                    at.store(nanos_since(base), Ordering::Relaxed);
                    // Release: publishes `at` with the round.
                    round.store(u64::from(id), Ordering::Release);
                });
                self.bridge.record(&self.stream).expect("record");
                let status = self.bridge.core_event().wait(); // bounded by the heartbeat
                assert!(status == evlatch::EventStatus::Success, "{status}");
            }
        }
        let woke_at = nanos_since(self.base);
        let waiter_cpu_ns = match (cpu0, cpu_time(Clock::Thread)) {
            (Some(a), Some(b)) => Some(b - a),
            _ => None,
        };
        // Wake hooks run before callbacks: the callback may still be running.
        let callback_at = (m == Method::BridgeWait).then(|| {
            while self.callback_round.load(Ordering::Acquire) != u64::from(id) {
                std::hint::spin_loop();
            }
            self.callback_at.load(Ordering::Relaxed)
        });
        // Outside the timed part: tell the watchdog this round ended.
        self.heartbeat
            .store(nanos_since(self.base), Ordering::Relaxed);
        Round {
            woke_at,
            callback_at,
            waiter_cpu_ns,
        }
    }
}

/// A bare `CUevent` with the given flags (no bridge), for the baselines.
struct RawEvent(sys::CUevent);

impl RawEvent {
    fn new(gpu: &Gpu, flags: u32) -> Self {
        support::bind(&gpu.ctx);
        let mut e = std::ptr::null_mut();
        // SAFETY: the context is current; valid out-pointer; valid flags.
        ok("cuEventCreate", unsafe {
            sys::cuEventCreate(&mut e, flags)
        });
        Self(e)
    }
}

impl Drop for RawEvent {
    fn drop(&mut self) {
        // SAFETY: created in `new`, destroyed once; the bench synchronized.
        let _ = unsafe { sys::cuEventDestroy_v2(self.0) };
    }
}

struct SendPtr(*const u32);
// SAFETY: the pointee is pinned host memory read only with volatile loads.
unsafe impl Send for SendPtr {}

fn nanos_since(base: Instant) -> u64 {
    base.elapsed().as_nanos() as u64
}

fn us(ns: i64) -> f64 {
    ns as f64 / 1e3
}

fn args() -> (u32, u64) {
    let mut rounds = 2_000;
    let mut kernel_us = 100;
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < argv.len() {
        let value = argv.get(i + 1).and_then(|v| v.parse::<u64>().ok());
        match (argv[i].as_str(), value) {
            ("--rounds", Some(v)) => rounds = v as u32,
            ("--kernel-us", Some(v)) => kernel_us = v,
            (other, _) => {
                eprintln!(
                    "unknown or incomplete argument {other:?}; usage: --rounds N --kernel-us K"
                );
                std::process::exit(2);
            }
        }
        i += 2;
    }
    (rounds, kernel_us)
}

#[derive(Clone, Copy)]
enum Clock {
    Process,
    Thread,
}

/// CPU time of the process or the calling thread, in ns (Linux only).
#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
fn cpu_time(clock: Clock) -> Option<u64> {
    #[repr(C)]
    struct Timespec {
        tv_sec: i64,
        tv_nsec: i64,
    }
    extern "C" {
        fn clock_gettime(clock_id: i32, tp: *mut Timespec) -> i32;
    }
    const CLOCK_PROCESS_CPUTIME_ID: i32 = 2;
    const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
    let id = match clock {
        Clock::Process => CLOCK_PROCESS_CPUTIME_ID,
        Clock::Thread => CLOCK_THREAD_CPUTIME_ID,
    };
    let mut ts = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out-pointer of the C layout on 64-bit Linux.
    if unsafe { clock_gettime(id, &mut ts) } != 0 {
        return None;
    }
    Some(ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
}

#[cfg(not(all(target_os = "linux", target_pointer_width = "64")))]
fn cpu_time(_: Clock) -> Option<u64> {
    None
}
