//! Verification of evlatch: loom models (`tests/loom_*.rs`, run with
//! `RUSTFLAGS="--cfg evlatch_loom"`), proptest model tests and stress tests
//! (`tests/`). This library holds the shared test helpers.

pub mod stress;
pub mod topic_fuzz;
