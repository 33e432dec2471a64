//! A CPU thread and an async task each wait for a kernel, and both wake when
//! the GPU finishes it — through the bridge, with no polling
//! thread and no busy wait.
//!
//! ```text
//! cargo run -p evlatch-cuda --example wait_kernel
//! ```
//!
//! Without a CUDA driver it prints why it skipped and exits successfully.

#[path = "../tests/support/mod.rs"]
mod support;

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use evlatch_cuda::{CudaEvent, EventFlags};
use evlatch_std::EventExt;
use support::WAIT;

fn main() {
    let Some(gpu) = support::gpu("wait_kernel") else {
        return;
    };
    let stream = gpu.ctx.new_stream().expect("a stream");
    let event = Arc::new(CudaEvent::new(&gpu.ctx, EventFlags::new()).expect("an event"));

    let kernel = Duration::from_millis(200);
    let start = Instant::now();
    gpu.spin_signal(&stream, kernel.as_nanos() as u64, None, 0);
    event.record(&stream).expect("record");

    // A CPU thread blocks (it parks: no core burnt while it waits), at most
    // `WAIT`, so a lost finish fails the example instead of hanging it.
    let cpu_waiter = {
        let event = Arc::clone(&event);
        thread::spawn(move || {
            let status = event
                .core_event()
                .wait_timeout(WAIT)
                .expect("the finish did not arrive (stream callback never ran)");
            (status, start.elapsed())
        })
    };
    // An async task awaits, on a one-thread executor of its own.
    let async_waiter = {
        let event = Arc::clone(&event);
        thread::spawn(move || {
            support::block_on("the async task's wake-up", async {
                let status = event.core_event().wait_async().await;
                (status, start.elapsed())
            })
        })
    };

    let (cpu_status, cpu_at) = cpu_waiter.join().expect("cpu waiter");
    let (task_status, task_at) = async_waiter.join().expect("async waiter");
    println!("kernel of {kernel:?} launched");
    println!("CPU thread woke after {cpu_at:?}: {cpu_status}");
    println!("async task woke after {task_at:?}: {task_status}");
    assert!(cpu_status.is_finished() && task_status.is_finished());
}
