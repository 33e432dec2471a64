//! What must hold on every machine, with or without a CUDA driver: the
//! availability check never panics and agrees with itself, registration
//! needs no GPU, and every error says what to do.

use evlatch::backend::{has_wait, lookup, wait, BackendError, DeviceType};
use evlatch::{Event, EventError};
use evlatch_cuda::cudarc::driver::sys::{self, CUresult};
use evlatch_cuda::{availability, context, is_available, CudaError};

/// The driver library is there, by cudarc's own search.
fn driver_library_present() -> bool {
    // SAFETY: only tries to dlopen the candidate names.
    unsafe { sys::is_culib_present() }
}

#[test]
fn availability_never_panics_and_is_consistent() {
    let answer = availability();
    assert_eq!(is_available(), answer.is_ok());
    assert_eq!(availability(), answer, "the answer is cached");
    if !driver_library_present() {
        assert_eq!(answer, Err(CudaError::NoDriver));
    }
    if let Err(why) = answer {
        // The device half of this test did not run: say so, like a GPU test
        // (and fail where CUDA is broken, or where a GPU is required).
        assert!(
            why.is_no_gpu(),
            "CUDA is present but unusable (a failure, not a skip): {why}"
        );
        assert!(
            std::env::var_os("EVLATCH_CUDA_REQUIRE_GPU").is_none_or(|v| v != "1"),
            "EVLATCH_CUDA_REQUIRE_GPU=1 but CUDA is unavailable: {why}"
        );
        eprintln!("availability_never_panics_and_is_consistent: skipped: device checks: {why}");
    }
    match answer {
        Ok(count) => {
            assert!(count > 0);
            assert_eq!(
                context(count).unwrap_err(),
                CudaError::InvalidDevice {
                    ordinal: count,
                    count
                }
            );
        }
        Err(why) => {
            // Every entry point answers the same error instead of panicking.
            assert_eq!(context(0).unwrap_err(), why);
            assert_eq!(context(7).unwrap_err(), why);
        }
    }
}

/// The guard matters: without a driver, cudarc itself panics on its first
/// driver call. (With a driver this checks nothing and says so.)
#[test]
fn without_a_driver_cudarc_would_panic_but_we_do_not() {
    if driver_library_present() {
        eprintln!("driver present: nothing to show about the missing-driver panic");
        return;
    }
    let raw = std::panic::catch_unwind(|| {
        let _ = evlatch_cuda::cudarc::driver::CudaContext::new(0);
    });
    assert!(raw.is_err(), "cudarc is expected to panic without libcuda");
    assert_eq!(context(0).unwrap_err(), CudaError::NoDriver);
}

#[test]
fn registration_needs_no_gpu() {
    evlatch_cuda::register().unwrap();
    evlatch_cuda::register().unwrap();
    let backend = lookup(DeviceType::CUDA).unwrap();
    assert_eq!(backend.name(), "cuda");
    assert!(backend.supports_callbacks());
    assert!(has_wait(DeviceType::CUDA, DeviceType::CUDA));
    assert!(has_wait(DeviceType::CPU, DeviceType::CUDA));
    assert!(has_wait(DeviceType::CUDA, DeviceType::CPU));
    // A CUDA waiter on a CPU event needs its stream as the context.
    let cpu = Event::new();
    cpu.set_finished().unwrap();
    assert!(matches!(
        wait(DeviceType::CUDA, &cpu, &()),
        Err(BackendError::WrongContext { .. })
    ));
}

#[test]
fn every_error_says_what_happened_and_what_to_do() {
    let cases = [
        (CudaError::NoDriver, "LD_LIBRARY_PATH"),
        (CudaError::NoDevice, "CUDA_VISIBLE_DEVICES"),
        (
            CudaError::InvalidDevice {
                ordinal: 3,
                count: 1,
            },
            "ordinals 0..1",
        ),
        (
            CudaError::Driver {
                call: "cuEventRecord",
                code: CUresult::CUDA_ERROR_INVALID_HANDLE,
            },
            "cuEventRecord failed with CUDA_ERROR_INVALID_HANDLE: ",
        ),
        (
            CudaError::WrongContext {
                event_device: 0,
                other_device: 1,
            },
            "event's own context",
        ),
        (CudaError::Event(EventError::InFlight), "finish it"),
        (CudaError::Recorded, "unrecorded"),
        (CudaError::NotRecorded, "record it"),
        (CudaError::TimingDisabled, "timing(true)"),
        (CudaError::NotReady, "finish()"),
        (CudaError::Failed, "error_message()"),
        (CudaError::ForeignEvent, "CudaEvent::new"),
        (
            CudaError::MissingSymbol {
                name: "cuEventElapsedTime_v2",
            },
            "does not export cuEventElapsedTime_v2",
        ),
        (CudaError::Timeout, "wait again"),
    ];
    for (err, needle) in cases {
        let text = err.to_string();
        assert!(text.contains(needle), "{err:?} displays {text:?}");
        let _: &dyn std::error::Error = &err;
    }
}

#[test]
fn backend_errors_keep_the_cuda_code() {
    let e = CudaError::Driver {
        call: "cuStreamWaitEvent",
        code: CUresult::CUDA_ERROR_ILLEGAL_ADDRESS,
    };
    assert_eq!(
        e.into_backend(),
        BackendError::Device {
            code: 700,
            name: "CUDA_ERROR_ILLEGAL_ADDRESS"
        }
    );
    assert_eq!(
        BackendError::from(CudaError::Recorded),
        BackendError::Event(EventError::AlreadyRecorded)
    );
    assert_eq!(
        CudaError::NotReady.into_backend(),
        BackendError::Device {
            code: 600,
            name: "CUDA_ERROR_NOT_READY"
        }
    );
    assert!(matches!(
        CudaError::NotRecorded.into_backend(),
        BackendError::Unsupported { .. }
    ));
    assert_eq!(
        CudaError::Timeout.into_backend(),
        BackendError::Device {
            code: 600,
            name: "CUDA_ERROR_NOT_READY"
        }
    );
    assert_eq!(
        CudaError::MissingSymbol { name: "cuInit" }.into_backend(),
        BackendError::Device {
            code: 500,
            name: "CUDA_ERROR_NOT_FOUND"
        }
    );
}
