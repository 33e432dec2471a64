//! Op sequences on the event queues against a `VecDeque` model.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| evlatch_fuzz::queue_ops::run(data));
