#!/usr/bin/env bash
# The test command's check of run.sh on a machine without a GPU (after
# prepare.sh): a plain run reports every step as SKIP with its reason and
# exits 0; with EVLATCH_CUDA_REQUIRE_GPU=1 it exits non-zero and no step
# passes or skips; the planned worst case stays under 8 minutes. On a
# machine with a GPU there is nothing to check here (run run.sh itself).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fail() { echo "check-no-gpu: $*" >&2; exit 1; }

if env -u EVLATCH_CUDA_REQUIRE_GPU "$here/bin/gpu_info" > "$tmp/info" 2>&1 \
  && ! grep -q ': skipped: ' "$tmp/info"; then
  echo "check-no-gpu: this machine has a GPU; the no-GPU check does not apply"
  cat "$tmp/info"
  exit 0
fi

# 1. Plain: every step skipped, each with its reason; exit 0.
if ! env -u EVLATCH_CUDA_REQUIRE_GPU OUT="$tmp/plain" "$here/run.sh" > "$tmp/plain.txt" 2>&1; then
  cat "$tmp/plain.txt"
  fail "run.sh without a GPU (and without EVLATCH_CUDA_REQUIRE_GPU) must exit 0"
fi
steps=$(grep -vc '^#' "$tmp/plain/summary.txt" || true)
[ "$steps" -ge 10 ] || fail "only $steps steps in the summary"
if grep -v '^#' "$tmp/plain/summary.txt" | grep -v -E '^\S+ +SKIP +rc=0 +skipped=[1-9][0-9]* +[0-9.]+s  .+'; then
  fail "the steps above did not report SKIP with a reason"
fi
grep -q '^# NO GPU: every step skipped' "$tmp/plain/summary.txt" \
  || fail "the summary does not say that nothing ran on a GPU"
worst=$(sed -n 's/^# .* steps; worst case, every step timing out: \([0-9]*\)s$/\1/p' "$tmp/plain/summary.txt")
[ -n "$worst" ] && [ "$worst" -lt 480 ] || fail "worst case '${worst}'s is not under 8 minutes"
[ "$(ls "$tmp/plain/logs" | wc -l)" = "$steps" ] || fail "not one log per step"

# 2. Required: non-zero, and no step passes or skips.
if EVLATCH_CUDA_REQUIRE_GPU=1 OUT="$tmp/required" "$here/run.sh" > "$tmp/required.txt" 2>&1; then
  cat "$tmp/required.txt"
  fail "run.sh with EVLATCH_CUDA_REQUIRE_GPU=1 and no GPU must exit non-zero"
fi
if grep -v '^#' "$tmp/required/summary.txt" | grep -E '^\S+ +(PASS|SKIP) '; then
  fail "with EVLATCH_CUDA_REQUIRE_GPU=1 these steps passed or skipped without a GPU"
fi

echo "check-no-gpu: ok: $steps steps, all SKIP with a reason (exit 0); all FAIL under EVLATCH_CUDA_REQUIRE_GPU=1 (exit non-zero); worst case ${worst}s"
