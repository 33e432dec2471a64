#!/usr/bin/env bash
# Builds every fuzz target and runs each briefly (FUZZ_SECONDS, default 20).
# New inputs go to a scratch directory, so the committed corpus only changes
# when someone copies a finding into corpus/<target>/ on purpose.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${FUZZ_SECONDS:-20}"
for target in $(cargo +nightly fuzz list); do
  scratch=$(mktemp -d)
  echo "fuzz: $target for ${seconds}s"
  cargo +nightly fuzz run "$target" "$scratch" "corpus/$target" -- \
    -max_total_time="$seconds" -print_final_stats=1
  rm -rf "$scratch"
done
