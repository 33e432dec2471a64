//! Fuzz targets of evlatch, as plain functions so that each target's corpus
//! also replays as a normal test (`tests/corpus_replay.rs`).

pub mod queue_ops;
pub mod topic_parse;

/// Every target: its name (the `fuzz_targets/<name>.rs` file and the
/// `corpus/<name>/` folder) and the function it runs on one input.
pub const TARGETS: &[(&str, fn(&[u8]))] = &[
    ("queue_ops", queue_ops::run),
    ("topic_parse", topic_parse::run),
];
