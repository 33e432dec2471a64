//! `evlatch-bench`: evlatch side by side with the crates users would pick
//! instead, measured in one run, interleaved, reported as medians and ratios.
//!
//! ```text
//! cargo run --release -p evlatch-bench -- [--quick] [--filter SUBSTR] [--json PATH]
//! ```
//!
//! To add lines: write a module with `pub fn register(h: &mut Harness)` that
//! builds its groups (see `harness.rs`), and add it to [`GROUPS`].

use std::process::ExitCode;

mod event;
mod exchange;
mod harness;
mod pipeline;
mod queue;
mod service;
mod std_shell;
mod topic;
#[cfg(feature = "zenoh")]
mod zenoh;

use harness::{Config, Harness};

/// Every group registration, in the order the groups run.
const GROUPS: &[fn(&mut Harness)] = &[
    event::register,
    topic::register,
    std_shell::register,
    queue::register,
    service::register,
    exchange::register,
    pipeline::register,
    #[cfg(feature = "zenoh")]
    zenoh::register,
];

fn main() -> ExitCode {
    let config = match Config::from_args(std::env::args().skip(1)) {
        Ok(Some(config)) => config,
        Ok(None) => return ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("evlatch-bench: {msg}");
            return ExitCode::from(2);
        }
    };
    let list = config.list;
    let mut harness = Harness::new(config);
    if !list {
        harness.print_header();
    }
    for register in GROUPS {
        register(&mut harness);
    }
    match harness.finish() {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("evlatch-bench: {msg}");
            ExitCode::FAILURE
        }
    }
}
