#!/usr/bin/env bash
# The GPU evidence run, for a bare x86_64 Linux GPU machine (no Rust
# toolchain, no network): run what prepare.sh built into ./bin, each step in
# its own process under `timeout`, and write a summary and the logs to $OUT.
#
#   cuda-shell/gpu/prepare.sh                              # on a build machine
#   EVLATCH_CUDA_REQUIRE_GPU=1 cuda-shell/gpu/run.sh       # on the GPU machine
#
# Steps, in order: info (GPU, driver version, the driver symbols the crate
# needs), the unit and availability tests, each GPU test of tests/gpu.rs
# alone, all of them in parallel, the soak, the examples, bridge_latency,
# and the fault test (tests/gpu_error.rs) last, since it poisons its
# context. The per-step limits add up to under 7 minutes, so the whole run
# stays under 8 even if every step times out; about a minute when all is
# well.
#
# Summary ($OUT/summary.txt, also printed): one line per step —
#   <step> <PASS|SKIP|FAIL|TIMEOUT|WATCHDOG> rc=<exit code> skipped=<skip lines> <seconds>s <reason>
# Exit status: 0 when every step passed (or, without EVLATCH_CUDA_REQUIRE_GPU=1,
# skipped); 1 otherwise. With EVLATCH_CUDA_REQUIRE_GPU=1 a skip is a failure
# (the binaries themselves fail instead of skipping).
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="$here/bin"
out="${OUT:-$here/out}"
logs="$out/logs"
require="${EVLATCH_CUDA_REQUIRE_GPU:-0}"

# A copy may have lost the executable bits; put them back where we can.
if [ -f "$bin/gpu" ] && [ ! -x "$bin/gpu" ]; then
  chmod +x "$bin"/* 2>/dev/null || true
fi
if [ ! -x "$bin/gpu" ] || [ ! -f "$bin/MANIFEST" ]; then
  echo "run.sh: $bin is missing or incomplete: run cuda-shell/gpu/prepare.sh first" >&2
  exit 2
fi
if ! command -v timeout >/dev/null 2>&1; then
  echo "run.sh: needs coreutils' timeout" >&2
  exit 2
fi
mkdir -p "$logs"
summary="$out/summary.txt"
: > "$summary"
cp "$bin/MANIFEST" "$out/MANIFEST"
export RUST_BACKTRACE=1

# Milliseconds since the epoch (bash 5's EPOCHREALTIME, else date).
now_ms() {
  if [ -n "${EPOCHREALTIME:-}" ]; then
    local t=${EPOCHREALTIME/./}
    echo $((10#$t / 1000))
  else
    echo $(($(date +%s%N) / 1000000))
  fi
}
started=$(now_ms)
n=0
bad=0
skipped_steps=0

# The reason a step skipped or failed, from its log: the first skip line,
# else the first panic message, watchdog or gpu_info line.
reason_of() {
  local log=$1 result=$2 line
  if [ "$result" = SKIP ]; then
    line=$(grep -m1 ': skipped: ' "$log" | sed 's/.*: skipped: //')
  else
    line=$(grep -m1 -A1 "panicked at" "$log" | tail -n 1)
    [ -n "$line" ] || line=$(grep -m1 -E '^(watchdog|gpu_info): ' "$log")
    [ -n "$line" ] || line=$(grep -m1 -E 'FAILED|error' "$log")
  fi
  printf '%s' "${line:0:200}"
}

# step NAME LIMIT_S COMMAND...: runs COMMAND under `timeout`, logs it, and
# appends its summary line. In the planning pass (mode=plan) it only adds
# the step's worst case (its limit plus timeout's 2 s kill grace).
mode=plan
worst=10 # the nvidia-smi query below
planned=0
step() {
  local name=$1 limit=$2
  shift 2
  if [ "$mode" = plan ]; then
    worst=$((worst + limit + 2))
    planned=$((planned + 1))
    return
  fi
  n=$((n + 1))
  local log
  log="$logs/$(printf '%02d' "$n")-${name//[^A-Za-z0-9_.-]/_}.log"
  local t0 rc skips result reason
  t0=$(now_ms)
  {
    echo "\$ $*   (limit ${limit}s)"
    timeout --kill-after=2 "$limit" "$@"
  } > "$log" 2>&1
  rc=$?
  local ms=$(($(now_ms) - t0))
  skips=$(grep -c ': skipped: ' "$log")
  if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
    result=TIMEOUT
  elif [ "$rc" = 86 ]; then
    result=WATCHDOG
  elif [ "$rc" != 0 ]; then
    result=FAIL
  elif [ "$skips" -gt 0 ]; then
    result=SKIP
  else
    result=PASS
  fi
  reason=""
  case "$result" in
    PASS) ;;
    TIMEOUT) reason="no exit within ${limit}s; last line: $(tail -n 1 "$log" | cut -c1-160)" ;;
    *) reason=$(reason_of "$log" "$result") ;;
  esac
  case "$result" in
    PASS) ;;
    SKIP)
      skipped_steps=$((skipped_steps + 1))
      [ "$require" = 1 ] && bad=$((bad + 1))
      ;;
    *) bad=$((bad + 1)) ;;
  esac
  printf '%-58s %-8s rc=%-3s skipped=%-2s %6d.%ds  %s\n' "$name" "$result" "$rc" "$skips" \
    $((ms / 1000)) $((ms % 1000 / 100)) "$reason" | tee -a "$summary"
}

tests=$("$bin/gpu" --list --format terse 2>/dev/null | sed -n 's/: test$//p')

# Every step, in order.
steps() {
  step info 10 "$bin/gpu_info"
  if [ "$mode" = run ]; then
    # The driver, the devices and any missing symbol, into the summary too.
    grep -E '^(driver API version|devices|  device [0-9]+)|MISSING' "$logs/01-info.log" \
      | sed 's/^ */# /' | tee -a "$summary"
  fi
  step unit 15 "$bin/unit" --nocapture
  step availability 10 "$bin/availability" --nocapture
  for t in $tests; do
    step "gpu:$t" 15 "$bin/gpu" --exact "$t" --nocapture --test-threads 1
  done
  step gpu:parallel 30 "$bin/gpu" --nocapture --test-threads 8
  step soak 45 "$bin/gpu_soak" --nocapture
  step example:wait_kernel 15 "$bin/wait_kernel"
  step example:two_streams 15 "$bin/two_streams"
  step bridge_latency 45 "$bin/bridge_latency" --rounds 2000 --kernel-us 100
  step fault 20 "$bin/gpu_error" --nocapture
}

steps
if [ "$worst" -ge 480 ]; then
  echo "run.sh: the step limits add up to ${worst}s, over the 8 minutes allowed: lower them" >&2
  exit 2
fi
mode=run

{
  echo "# evlatch-cuda GPU evidence run, $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -n)"
  sed -n 's/^\(commit\|built\|needs glibc\): /# \1: /p' "$bin/MANIFEST"
  if command -v nvidia-smi >/dev/null 2>&1; then
    timeout 10 nvidia-smi --query-gpu=index,name,driver_version,memory.total --format=csv,noheader \
      | sed 's/^/# nvidia-smi: /'
  else
    echo "# nvidia-smi: not found"
  fi
  echo "# EVLATCH_CUDA_REQUIRE_GPU=$require"
  echo "# $planned steps; worst case, every step timing out: ${worst}s"
} | tee -a "$summary"

if [ -z "$tests" ]; then
  echo "run.sh: $bin/gpu lists no tests" | tee -a "$summary"
  bad=$((bad + 1))
fi
steps

total_ms=$(($(now_ms) - started))
{
  echo "# $n steps in $((total_ms / 1000))s: $bad bad, $skipped_steps skipped; logs in $logs"
  if [ "$skipped_steps" = "$n" ] && [ "$n" -gt 0 ]; then
    echo "# NO GPU: every step skipped — this run proves nothing on a GPU"
  fi
} | tee -a "$summary"
[ "$bad" = 0 ]
