//! Unit tests of the backend registry, the wait matrix and the CPU backend.
//! They run natively and under miri, without and with `alloc`.
//!
//! The registries are process-wide and the harness runs tests on several
//! threads at once, so every test that fills a slot uses device ids no other
//! test touches: 2 (backend slot), 3 (wait matrix). The CPU→CPU wait is never
//! registered in this crate's tests (so `finish` spins here).
//!
//! Not built under loom: the statics below need `const` constructors.
#![cfg(not(evlatch_loom))]

use std::format;
use std::string::ToString;
use std::sync::Mutex;
use std::vec::Vec;

use super::*;
use crate::backend;
use crate::sync::AtomicUsize;

/// What `log_cb` saw: (tag, outcome).
static LOG: Mutex<Vec<(usize, EventStatus)>> = Mutex::new(Vec::new());

fn log_cb(status: EventStatus, tag: usize) {
    LOG.lock().unwrap().push((tag, status));
}

/// The CPU backend is there from the start; its slot cannot be taken again,
/// and a custom slot can be filled exactly once.
#[test]
fn backend_registered_twice_is_an_error() {
    let cpu = backend::lookup(DeviceType::CPU).unwrap();
    assert_eq!(cpu.name(), "cpu");
    assert_eq!(cpu.device_type(), DeviceType::CPU);
    assert!(cpu.supports_callbacks());
    static FAKE_CPU: Backend = Backend::new("fake-cpu", DeviceType::CPU, false);
    assert_eq!(
        backend::register_backend(&FAKE_CPU),
        Err(BackendError::BackendRegistered(DeviceType::CPU))
    );
    assert_eq!(backend::lookup(DeviceType::CPU).unwrap().name(), "cpu");

    let id = DeviceType::custom(2).unwrap();
    static NPU_A: Backend = Backend::new("npu-a", dev(2), false);
    static NPU_B: Backend = Backend::new("npu-b", dev(2), true);
    assert!(backend::lookup(id).is_none());
    backend::register_backend(&NPU_A).unwrap();
    assert_eq!(
        backend::register_backend(&NPU_B),
        Err(BackendError::BackendRegistered(id))
    );
    let found = backend::lookup(id).unwrap();
    assert_eq!(found.name(), "npu-a");
    assert!(!found.supports_callbacks());
    assert!(format!("{found:?}").contains("npu-a"));
}

/// A custom device type known to be valid, for statics.
const fn dev(id: u8) -> DeviceType {
    match DeviceType::custom(id) {
        Ok(d) => d,
        Err(_) => panic!("invalid test device id"),
    }
}

/// Counts calls; used through the `&dyn Any` context.
fn counting_wait(
    event: &dyn DeviceEvent,
    context: &dyn core::any::Any,
) -> Result<(), BackendError> {
    let Some(counter) = context.downcast_ref::<AtomicUsize>() else {
        return Err(BackendError::WrongContext {
            expected: "AtomicUsize",
        });
    };
    counter.fetch_add(1, Ordering::Relaxed);
    if event.query().is_finished() {
        Ok(())
    } else {
        Err(BackendError::Unsupported {
            operation: "waiting on an unfinished event in this test",
        })
    }
}

fn never_wait(_: &dyn DeviceEvent, _: &dyn core::any::Any) -> Result<(), BackendError> {
    Err(BackendError::Unsupported { operation: "never" })
}

/// The wait matrix: a cell is filled once (a second registration is an
/// error and does not overwrite), `wait` dispatches on (waiter, event
/// device) and passes the context through; empty cells give
/// `NoWaitFunction`.
#[test]
fn wait_matrix() {
    let d3 = dev(3);
    assert!(!backend::has_wait(d3, DeviceType::CPU));
    let event = Event::new();
    let counter = AtomicUsize::new(0);
    assert_eq!(
        backend::wait(d3, &event, &counter),
        Err(BackendError::NoWaitFunction {
            waiter: d3,
            event: DeviceType::CPU
        })
    );
    backend::register_wait(d3, DeviceType::CPU, counting_wait).unwrap();
    assert_eq!(
        backend::register_wait(d3, DeviceType::CPU, never_wait),
        Err(BackendError::WaitRegistered {
            waiter: d3,
            event: DeviceType::CPU
        })
    );
    assert!(backend::has_wait(d3, DeviceType::CPU));
    // The transposed cell is a different cell.
    assert!(!backend::has_wait(DeviceType::CPU, d3));
    event.set_finished().unwrap();
    backend::wait(d3, &event, &counter).unwrap();
    backend::wait(d3, &event, &counter).unwrap();
    assert_eq!(
        counter.load(Ordering::Relaxed),
        2,
        "the first function stays"
    );
    assert_eq!(
        backend::wait(d3, &event, &()),
        Err(BackendError::WrongContext {
            expected: "AtomicUsize"
        })
    );
    // Every other cell of the matrix row for CUDA events is still empty.
    for waiter in 0..MAX_DEVICE_TYPES as u8 {
        if waiter >= DeviceType::FIRST_CUSTOM && waiter != 3 {
            assert!(!backend::has_wait(dev(waiter), DeviceType::CUDA));
        }
    }
}

/// `DeviceType::custom` accepts exactly `FIRST_CUSTOM..MAX_DEVICE_TYPES`.
#[test]
fn device_type_custom_ids() {
    for id in 0..=u8::MAX {
        let result = DeviceType::custom(id);
        if (DeviceType::FIRST_CUSTOM..MAX_DEVICE_TYPES as u8).contains(&id) {
            let d = result.unwrap();
            assert_eq!(d.index(), id as usize);
            assert_eq!(d.to_string(), format!("device#{id}"));
        } else {
            assert_eq!(result, Err(BackendError::InvalidDeviceType(id)));
        }
    }
    assert_eq!(DeviceType::CPU.to_string(), "CPU");
    assert_eq!(DeviceType::CUDA.to_string(), "CUDA");
    assert_eq!(DeviceType::CPU.index(), 0);
    assert_eq!(DeviceType::CUDA.index(), 1);
}

/// Every `BackendError` says what was wrong (naming the devices involved)
/// and is an `Error`.
#[test]
fn backend_error_display() {
    let failed = Event::new();
    failed.set_failed("ECC error").unwrap();
    let d = dev(5);
    let cases: Vec<(BackendError, Vec<&str>)> = std::vec![
        (
            BackendError::Event(EventError::InFlight),
            std::vec!["in flight"]
        ),
        (
            BackendError::InvalidDeviceType(200),
            std::vec!["200", "2..8"]
        ),
        (
            BackendError::BackendRegistered(d),
            std::vec!["device#5", "already registered"]
        ),
        (
            BackendError::WaitRegistered {
                waiter: d,
                event: DeviceType::CUDA
            },
            std::vec!["device#5", "CUDA", "already registered"]
        ),
        (
            BackendError::NoWaitFunction {
                waiter: DeviceType::CPU,
                event: d
            },
            std::vec!["CPU", "device#5", "register_wait"]
        ),
        (
            BackendError::WrongContext { expected: "Stream" },
            std::vec!["Stream"]
        ),
        (
            BackendError::Unsupported {
                operation: "callbacks"
            },
            std::vec!["callbacks"]
        ),
        (
            BackendError::Device {
                code: 214,
                name: "CUDA_ERROR_ECC_UNCORRECTABLE",
            },
            std::vec!["CUDA_ERROR_ECC_UNCORRECTABLE", "214"]
        ),
    ];
    for (error, parts) in cases {
        let text = error.to_string();
        for part in parts {
            assert!(text.contains(part), "{error:?}: {text:?} lacks {part:?}");
        }
        let as_error: &dyn core::error::Error = &error;
        assert!(as_error.source().is_none());
    }
    assert_eq!(
        BackendError::from(EventError::AlreadyFinished),
        BackendError::Event(EventError::AlreadyFinished)
    );
}

/// The core event through the `DeviceEvent` trait: the same table, errors
/// wrapped in `BackendError::Event`, none of the contract's device rules,
/// and a `finish` that answers without the CPU→CPU wait function (which
/// only the std shell registers).
#[test]
fn cpu_backend_through_the_trait() {
    let event = Event::new();
    let dev_event: &dyn DeviceEvent = &event;
    assert_eq!(dev_event.device_type(), DeviceType::CPU);
    assert!(dev_event.supports_callbacks());
    assert!(core::ptr::eq(dev_event.core_event().unwrap(), &event));
    // The CPU takes any context.
    dev_event.record(&42u32).unwrap();
    assert_eq!(
        dev_event.record(&()),
        Err(BackendError::Event(EventError::AlreadyRecorded))
    );
    assert_eq!(dev_event.query(), EventStatus::Scheduled);
    assert_eq!(
        dev_event.reset(),
        Err(BackendError::Event(EventError::InFlight))
    );
    dev_event.on_finished_fn(log_cb, 7).unwrap();
    assert!(dev_event.error_message().is_none());
    dev_event.set_failed("trait failure").unwrap();
    assert_eq!(*LOG.lock().unwrap(), [(7, EventStatus::Failed)]);
    assert_eq!(
        dev_event.error_message().map(|m| m.as_str().to_string()),
        Some("trait failure".to_string())
    );
    assert_eq!(
        dev_event.set_finished(),
        Err(BackendError::Event(EventError::AlreadyFinished))
    );
    assert_eq!(dev_event.finish(), Ok(EventStatus::Failed));
    dev_event.reset().unwrap();
    assert_eq!(dev_event.query(), EventStatus::Initialized);
    // No device rule: a recorded CPU event is the host's to finish.
    dev_event.record(&()).unwrap();
    dev_event.set_finished().unwrap();
    assert_eq!(dev_event.finish(), Ok(EventStatus::Success));
    dev_event.reset().unwrap();
}
