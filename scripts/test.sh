#!/usr/bin/env bash
# The one command that passes every test on a fresh machine:
#   bash scripts/test.sh
# It installs what it needs (rustup components and targets, nightly miri,
# cargo-fuzz), then runs: fmt check, clippy -D warnings, all tests (with and
# without `alloc`), the release stress of the queues, service, pipeline and
# exchange, the zenoh bridge's tests (feature `zenoh`), loom models, miri on
# the core and on the std shell's waits, ThreadSanitizer on the std shell and the stress tests, the no_std
# builds, the fuzz targets briefly, and a quick smoke run of the comparison
# program.
# Set EVLATCH_SKIP_FUZZ=1 to skip the fuzz step (e.g. on a machine without
# nightly); CI never sets it.
set -euo pipefail
cd "$(dirname "$0")/.."

started=$(date +%s)
# Each step's header says how long the run has taken so far (the budget is
# 40 minutes on 2 cores), so the slow steps can be found from a CI log.
step() { printf '\n==> [%ss] %s\n' "$(($(date +%s) - started))" "$*"; }

step "setup: toolchains, components, targets, tools"
rustup component add rustfmt clippy >/dev/null
rustup target add thumbv7em-none-eabihf thumbv6m-none-eabi >/dev/null
if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  rustup toolchain install nightly --profile minimal
fi
rustup +nightly component add miri rust-src >/dev/null
if [ "${EVLATCH_SKIP_FUZZ:-0}" != 1 ] && ! command -v cargo-fuzz >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi

step "fmt"
cargo fmt --all -- --check
cargo fmt --manifest-path fuzz/Cargo.toml -- --check

step "clippy (-D warnings)"
cargo clippy --workspace --all-targets -- -D warnings
cargo clippy -p evlatch --all-targets --no-default-features -- -D warnings
# The zenoh bridge (feature `zenoh`): check mode, so zenoh is checked here
# and built once, in release, for its tests below.
# One invocation for both crates: one feature set, one zenoh check build.
cargo clippy -p evlatch-std -p evlatch-bench --all-targets --features evlatch-std/zenoh,evlatch-bench/zenoh -- -D warnings
# The loom build of the libraries (its cfg swaps constants, e.g. spin limits
# of 0), linted as well.
RUSTFLAGS="--cfg evlatch_loom --cfg evlatch_stall_hook" CARGO_TARGET_DIR=target/loom-clippy \
  cargo clippy -p evlatch -p evlatch-std --lib -- -D warnings

step "docs build without warnings (broken links, missing docs)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps
RUSTDOCFLAGS="-D warnings" cargo doc -p evlatch --no-deps --no-default-features
# What docs.rs builds ([package.metadata.docs.rs]: all features, --cfg docsrs,
# so items behind features carry their "Available on feature" badge).
RUSTDOCFLAGS="--cfg docsrs -D warnings" cargo +nightly doc -p evlatch --all-features --no-deps
RUSTDOCFLAGS="-D warnings" cargo doc -p evlatch-std --no-deps --features zenoh

step "tests: workspace (core with alloc, through the shells)"
cargo test --workspace

step "cuda shell: GPU evidence bundle (gpu/prepare.sh, < 64 MiB) and run.sh's no-GPU report"
cuda-shell/gpu/prepare.sh
cuda-shell/gpu/check-no-gpu.sh

step "examples: a backend for a made-up device"
cargo run -p evlatch --example custom_backend --features alloc

step "tests: core without alloc"
cargo test -p evlatch --no-default-features

step "queues: 10M-item release stress, the stall proofs (--cfg evlatch_stall_hook), linearizability"
RUSTFLAGS="--cfg evlatch_stall_hook" CARGO_TARGET_DIR=target/stall \
  cargo test --release -p evlatch-verify --test queue_stress --test queue_stall --test stamp_stress \
    --test queue_linearizable

step "event service: release stress (3 x 50k events, several threads); channel linearizability and full-size channel tests"
cargo test --release -p evlatch-std --test service_stress --test channel_linearizable --test channel

step "exchange: release stress (Process(4) all-to-all, 10M messages) and the example"
cargo test --release -p evlatch-std --test exchange --test exchange_async
cargo run --release -p evlatch-std --example exchange

step "pipeline: release stress (1M items, 4 mixed sync/async stages) and behaviour; the example"
cargo test --release -p evlatch-std --test pipeline
cargo run --release -p evlatch-std --example pipeline

step "event service and exchange over zenoh (release: zenoh is built once): differential proptest against zenoh's key matcher, loopback bridge and cluster exchange tests, two example processes each, the module's unit and doc tests"
cargo test --release -p evlatch-std --features zenoh --test zenoh_keys --test zenoh_bridge --test zenoh_exchange
cargo test --release -p evlatch-std --features zenoh --lib zenoh::
cargo test --release -p evlatch-std --features zenoh --doc zenoh

step "loom models (--release, debug assertions, LOOM_MAX_PREEMPTIONS=2)"
loom_tests=()
for f in verify/tests/loom_*.rs; do
  loom_tests+=(--test "$(basename "$f" .rs)")
done
RUSTFLAGS="--cfg evlatch_loom --cfg evlatch_stall_hook -C debug-assertions" LOOM_MAX_PREEMPTIONS=2 \
  CARGO_TARGET_DIR=target/loom cargo test --release -p evlatch-std --lib -p evlatch-verify "${loom_tests[@]}"
# The callback pool exists only without `alloc`, which the verify crate
# enables: its models live in the core's lib tests (core/src/event/loom_pool.rs).
RUSTFLAGS="--cfg evlatch_loom --cfg evlatch_stall_hook -C debug-assertions" LOOM_MAX_PREEMPTIONS=2 \
  CARGO_TARGET_DIR=target/loom cargo test --release -p evlatch --lib event::loom_pool

step "miri: core unit tests (without and with alloc)"
MIRIFLAGS="${MIRIFLAGS:-}" cargo +nightly miri test -p evlatch --lib
MIRIFLAGS="${MIRIFLAGS:-}" cargo +nightly miri test -p evlatch --lib --features alloc

step "miri: the std shell's waits, wait lists and channels (scaled down under cfg(miri))"
MIRIFLAGS="${MIRIFLAGS:-}" cargo +nightly miri test -p evlatch-std --lib --test waits --test no_alloc \
  --test channel

step "ThreadSanitizer: the std shell's tests and the stress tests (nightly, -Zbuild-std)"
TSAN_TARGET="$(rustc -vV | sed -n 's/^host: //p')"
RUSTFLAGS="-Zsanitizer=thread" RUSTDOCFLAGS="-Zsanitizer=thread" CARGO_TARGET_DIR=target/tsan \
  TSAN_OPTIONS="halt_on_error=1" \
  cargo +nightly test -Zbuild-std --target "$TSAN_TARGET" -p evlatch-std --lib --tests
RUSTFLAGS="-Zsanitizer=thread" CARGO_TARGET_DIR=target/tsan TSAN_OPTIONS="halt_on_error=1" \
  cargo +nightly test -Zbuild-std --target "$TSAN_TARGET" -p evlatch-verify \
  --test event_stress --test queue_stress --test stamp_stress

step "no_std builds"
cargo build -p evlatch --target thumbv7em-none-eabihf
cargo build -p evlatch --target thumbv7em-none-eabihf --features alloc
RUSTFLAGS="--cfg portable_atomic_unsafe_assume_single_core" CARGO_TARGET_DIR=target/thumbv6m \
  cargo build -p evlatch --target thumbv6m-none-eabi --features portable-atomic

step "fuzz crate: clippy and corpus replay (every corpus file as a test)"
cargo clippy --manifest-path fuzz/Cargo.toml --all-targets -- -D warnings
cargo test --manifest-path fuzz/Cargo.toml

if [ "${EVLATCH_SKIP_FUZZ:-0}" != 1 ]; then
  step "fuzz targets: build and run each briefly"
  fuzz/run.sh
fi

step "comparison program smoke run (--quick)"
cargo run --release -p evlatch-bench -- --quick --json target/bench-quick.json

printf '\nall checks passed in %ss\n' "$(( $(date +%s) - started ))"
