//! The topic and pattern parsers and matchers on any bytes. The checks live
//! in `verify/src/topic_fuzz.rs` (compiled in here by path), where the
//! workspace test `verify/tests/topic_fuzz_replay.rs` also runs them.

#[path = "../../verify/src/topic_fuzz.rs"]
mod checks;

/// Runs the topic checks on one input; panics on a disagreement.
pub fn run(data: &[u8]) {
    checks::check(data);
}
