//! What the GPU evidence run records first: the driver version, every
//! device, and whether the driver exports each symbol the crate (and its
//! tests) call.
//!
//! ```text
//! cargo run -p evlatch-cuda --example gpu_info
//! ```
//!
//! Without a GPU it prints `gpu_info: skipped: <why>` and exits successfully
//! (with `EVLATCH_CUDA_REQUIRE_GPU=1` it fails instead). A driver that is
//! present but unusable (a stub, a missing symbol) is a failure: exit 1.

#[path = "../tests/support/mod.rs"]
mod support;

use evlatch_cuda::cudarc::driver::sys;
use evlatch_cuda::{availability, driver_exports, DRIVER_SYMBOLS};

/// Symbols only `elapsed_ms` needs (one of them).
const ELAPSED: &[&str] = &["cuEventElapsedTime_v2", "cuEventElapsedTime"];

/// Symbols the tests and examples call through cudarc (not the crate).
const TESTS: &[&str] = &[
    "cuDriverGetVersion",
    "cuDeviceGetName",
    "cuStreamCreate",
    "cuStreamDestroy_v2",
    "cuStreamSynchronize",
    "cuCtxSynchronize",
    "cuModuleLoadData",
    "cuModuleGetFunction",
    "cuModuleUnload",
    "cuLaunchKernel",
    "cuMemHostAlloc",
    "cuMemHostGetDevicePointer_v2",
    "cuMemFreeHost",
    "cuMemAlloc_v2",
    "cuMemsetD32_v2",
    "cuMemcpyDtoH_v2",
    "cuMemFree_v2",
    "cuCtxCreate_v4",
    "cuCtxDestroy_v2",
];

fn main() {
    if let Err(why) = driver_exports("cuInit") {
        // No library: nothing more to report.
        match support::skip_or_fail(&why, support::require_gpu()) {
            Ok(reason) => return eprintln!("gpu_info: skipped: {reason}"),
            Err(message) => fail(&message),
        }
    }
    let mut missing = 0;
    for (group, names) in [
        ("crate", DRIVER_SYMBOLS),
        ("elapsed_ms (one of)", ELAPSED),
        ("tests and examples", TESTS),
    ] {
        println!("driver symbols, {group}:");
        for name in names {
            let present = driver_exports(name).unwrap_or(false);
            if !present && group == "crate" {
                missing += 1;
            }
            println!("  {name}: {}", if present { "present" } else { "MISSING" });
        }
    }
    if driver_exports("cuDriverGetVersion") == Ok(true) {
        let mut version = 0;
        // SAFETY: the library is loaded and exports the symbol; `version`
        // is a valid out-pointer. Needs no cuInit.
        let rc = unsafe { sys::cuDriverGetVersion(&mut version) };
        println!(
            "driver API version: {}.{} ({rc:?})",
            version / 1000,
            version % 1000 / 10
        );
    }
    let count = match availability() {
        Ok(count) => count,
        Err(why) => match support::skip_or_fail(&why, support::require_gpu()) {
            Ok(reason) => return eprintln!("gpu_info: skipped: {reason}"),
            Err(message) => fail(&message),
        },
    };
    println!("devices: {count}");
    for ordinal in 0..count {
        match evlatch_cuda::context(ordinal) {
            Ok(ctx) => {
                let name = ctx.name().unwrap_or_else(|e| format!("? ({e:?})"));
                let cc = ctx.compute_capability().map_or_else(
                    |e| format!("? ({e:?})"),
                    |(major, minor)| format!("sm_{major}{minor}"),
                );
                println!("  device {ordinal}: {name}, {cc}");
            }
            Err(why) => fail(&format!("device {ordinal}: {why}")),
        }
    }
    if missing > 0 {
        fail(&format!("{missing} symbol(s) the crate calls are missing"));
    }
}

fn fail(message: &str) -> ! {
    eprintln!("gpu_info: {message}");
    std::process::exit(1);
}
