//! Fuzzes the topic and pattern parsers and the matchers: see
//! `verify/src/topic_fuzz.rs` for what is checked. The same checks replay
//! the corpus in `fuzz/corpus/topic_parse/` as a normal test
//! (`cargo test -p evlatch-verify --test topic_fuzz_replay`).
//!
//! Run: `cargo +nightly fuzz run topic_parse` (from `fuzz/`).
#![no_main]

use libfuzzer_sys::fuzz_target;

// The checks live in the verify crate, shared with the replay test; they
// only need `evlatch` (with `alloc`) and std.
#[path = "../../verify/src/topic_fuzz.rs"]
mod topic_fuzz;

fuzz_target!(|data: &[u8]| {
    topic_fuzz::check(data);
});
