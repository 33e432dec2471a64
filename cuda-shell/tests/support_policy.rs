//! The GPU tests' own rules, checked without a GPU: when a test may skip
//! (only without a GPU, and never with `EVLATCH_CUDA_REQUIRE_GPU=1`), and
//! that every bounded wait turns a finish that never comes into a
//! failure saying what did not arrive.

mod support;

use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

use evlatch::{Event, EventStatus};
use evlatch_cuda::cudarc::driver::sys::CUresult;
use evlatch_cuda::CudaError;
use support::{recv_within, skip_or_fail, wait_within, REQUIRE_GPU, WATCHDOG_EXIT};

#[test]
fn only_a_missing_gpu_skips() {
    for no_gpu in [CudaError::NoDriver, CudaError::NoDevice] {
        let reason = skip_or_fail(&no_gpu, false).expect("no GPU: skip");
        assert_eq!(reason, no_gpu.to_string());
    }
    // A CUDA that is there but broken fails, with or without the variable.
    let broken = [
        CudaError::Driver {
            call: "cuInit",
            code: CUresult::CUDA_ERROR_STUB_LIBRARY,
        },
        CudaError::Driver {
            call: "cuInit",
            code: CUresult::CUDA_ERROR_UNKNOWN,
        },
        CudaError::Driver {
            call: "CudaContext::new",
            code: CUresult::CUDA_ERROR_OUT_OF_MEMORY,
        },
        CudaError::MissingSymbol {
            name: "cuStreamAddCallback",
        },
        CudaError::InvalidDevice {
            ordinal: 0,
            count: 0,
        },
    ];
    for why in broken {
        for require in [false, true] {
            let msg = skip_or_fail(&why, require).expect_err("broken CUDA: fail");
            assert!(msg.contains("not a skip"), "{msg}");
            assert!(msg.contains(&why.to_string()), "{msg}");
        }
    }
}

#[test]
fn with_require_gpu_nothing_skips() {
    for no_gpu in [CudaError::NoDriver, CudaError::NoDevice] {
        let msg = skip_or_fail(&no_gpu, true).expect_err("required: fail");
        assert!(msg.contains(REQUIRE_GPU), "{msg}");
        assert!(msg.contains(&no_gpu.to_string()), "{msg}");
    }
}

#[test]
fn a_completion_that_never_comes_is_a_failure_naming_it() {
    let stuck = Event::new();
    stuck.record().unwrap();
    let msg = wait_within(&stuck, "the kernel's finish", Duration::from_millis(20))
        .expect_err("nothing finishes it");
    assert!(
        msg.starts_with("the kernel's finish: did not arrive"),
        "{msg}"
    );
    stuck.set_finished().unwrap();
    assert_eq!(
        wait_within(&stuck, "x", Duration::ZERO),
        Ok(EventStatus::Success)
    );
}

#[test]
fn a_message_that_never_comes_is_a_failure_naming_it() {
    let (tx, rx) = mpsc::channel::<u32>();
    let msg = recv_within(&rx, "the on_finished callback", Duration::from_millis(20))
        .expect_err("nothing is sent");
    assert!(
        msg.starts_with("the on_finished callback: did not arrive"),
        "{msg}"
    );
    tx.send(7).unwrap();
    assert_eq!(recv_within(&rx, "x", Duration::ZERO), Ok(7));
}

#[test]
#[should_panic(expected = "the future's wake-up: did not arrive")]
fn a_future_that_never_resolves_is_a_failure_naming_it() {
    support::block_on_within(
        "the future's wake-up",
        Duration::from_millis(20),
        std::future::pending::<()>(),
    );
}

/// The child half of `the_watchdog_ends_a_hung_call`: does nothing unless
/// the parent asked for it.
#[test]
fn watchdog_child() {
    if std::env::var_os("SUPPORT_WATCHDOG_CHILD").is_none() {
        return;
    }
    support::bounded_within("a call that hangs", Duration::from_millis(50), || {
        std::thread::sleep(Duration::from_secs(30));
    });
}

#[test]
fn the_watchdog_ends_a_hung_call() {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "watchdog_child", "--nocapture"])
        .env("SUPPORT_WATCHDOG_CHILD", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(WATCHDOG_EXIT), "{stderr}");
    assert!(
        stderr.contains("watchdog: a call that hangs: did not return within"),
        "{stderr}"
    );
    // A call that returns in time is left alone.
    assert_eq!(
        support::bounded_within("quick", Duration::from_secs(5), || 3),
        3
    );
}
