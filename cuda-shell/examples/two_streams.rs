//! Two streams ordered by an event: stream `a` runs a slow kernel and then
//! writes a word; stream `b` waits for `a`'s event on the device (the host
//! does not block) and copies that word. Without the wait, `b` would copy
//! the word before `a` wrote it.
//!
//! ```text
//! cargo run -p evlatch-cuda --example two_streams
//! ```
//!
//! Without a CUDA driver it prints why it skipped and exits successfully.

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::Instant;

use evlatch_cuda::{CudaEvent, EventFlags};

fn main() {
    let Some(gpu) = support::gpu("two_streams") else {
        return;
    };
    let a = gpu.ctx.new_stream().expect("stream a");
    let b = gpu.ctx.new_stream().expect("stream b");
    let words = support::DeviceWords::new(&gpu, 2);
    let a_done = CudaEvent::new(&gpu.ctx, EventFlags::new()).expect("event");
    let b_done = CudaEvent::new(&gpu.ctx, EventFlags::new()).expect("event");

    let start = Instant::now();
    gpu.spin_signal(&a, 100_000_000, None, 0); // 100 ms
    gpu.store_u32(&a, &words, 0, 42);
    a_done.record(&a).expect("record on a");

    a_done.wait_on(&b).expect("b waits for a, on the device");
    let enqueued = start.elapsed();
    gpu.copy_u32(&b, &words, 0, 1);
    b_done.record(&b).expect("record on b");

    let status = support::wait(b_done.core_event(), "stream b's finish");
    println!("host enqueued everything in {enqueued:?} (no blocking)");
    println!("b finished after {:?}: {status}", start.elapsed());
    let out = words.read();
    println!("words = {out:?} (b copied what a wrote)");
    assert_eq!(out, [42, 42]);
}
