//! Fuzz targets of evlatch, as plain functions so that each target's corpus
//! also replays as a normal test (`tests/corpus_replay.rs`).

pub mod queue_ops;
pub mod topic_parse;

/// A target's name (the `fuzz_targets/<name>.rs` file and the
/// `corpus/<name>/` folder) and the function it runs on one input.
pub type Target = (&'static str, fn(&[u8]));

/// Every target.
pub const TARGETS: &[Target] = &[
    ("queue_ops", queue_ops::run),
    ("topic_parse", topic_parse::run),
];
