#!/usr/bin/env bash
# Builds, on this (x86_64 Linux) machine, everything the GPU evidence run
# needs into one git-ignored folder, cuda-shell/gpu/bin/, for a bare GPU
# machine without a Rust toolchain or network:
#
#   cuda-shell/gpu/prepare.sh          # here: build, strip, measure (< 64 MiB)
#   cuda-shell/gpu/run.sh              # there: the evidence, into $OUT
#
# - the crate's test binaries that touch a driver (unit tests, availability,
#   gpu, gpu_error, gpu_soak) and the examples gpu_info, wait_kernel and
#   two_streams, in the test/dev profile (debug assertions on);
# - bridge_latency in release (it is the one that is timed).
#
# Debug info is stripped (symbol names stay, for panic messages); the
# folder's size is printed and must stay under 64 MiB, the most a GPU run
# can carry. Needs no GPU and no CUDA.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="$here/bin"
limit=$((64 * 1024 * 1024))
cd "$root"

if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
  echo "prepare.sh: this builds for the machine it runs on; the GPU machine is x86_64 Linux" >&2
  exit 2
fi

rm -rf "$bin"
mkdir -p "$bin"

# The executables cargo reports, one per line.
executables() { sed -n 's/.*"executable":"\([^"]*\)".*/\1/p'; }

# cp, then strip debug info (strip, or objcopy where strip is missing).
install_stripped() {
  local src=$1 name=$2
  cp "$src" "$bin/$name"
  if command -v strip >/dev/null 2>&1; then
    strip --strip-debug "$bin/$name"
  elif command -v objcopy >/dev/null 2>&1; then
    objcopy --strip-debug "$bin/$name"
  else
    echo "prepare.sh: neither strip nor objcopy found; $name keeps its debug info" >&2
  fi
}

echo "==> test binaries and examples (test/dev profile)"
cargo test -p evlatch-cuda --no-run --message-format=json-render-diagnostics \
  | executables > "$bin/.debug-list"
while read -r exe; do
  name=$(basename "$exe" | sed 's/-[0-9a-f]\{16\}$//')
  case "$name" in
    bridge_latency) continue ;; # the release build below
    support_policy | fake_driver) continue ;; # no GPU needed: scripts/test.sh runs them
    evlatch_cuda) name=unit ;;  # the library's unit tests
  esac
  install_stripped "$exe" "$name"
done < "$bin/.debug-list"
rm -f "$bin/.debug-list"

echo "==> bridge_latency (release)"
exe=$(cargo build --release -p evlatch-cuda --example bridge_latency \
  --message-format=json-render-diagnostics | executables | tail -n 1)
install_stripped "$exe" bridge_latency

for need in unit availability gpu gpu_error gpu_soak gpu_info wait_kernel two_streams bridge_latency; do
  [ -x "$bin/$need" ] || { echo "prepare.sh: $need was not built" >&2; exit 1; }
done

# What was built, from what, and what the binaries need of the machine.
{
  echo "commit: $(git rev-parse HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (with uncommitted changes)')"
  echo "built: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -srm)"
  echo "rustc: $(rustc --version)"
  if command -v objdump >/dev/null 2>&1; then
    echo "needs glibc: $(objdump -T "$bin"/* 2>/dev/null | grep -o 'GLIBC_[0-9.]*' | sort -t. -k2,2n -k3,3n -u | tail -n 1)"
  fi
  echo "files:"
  (cd "$bin" && for f in *; do [ "$f" = MANIFEST ] || printf '  %-16s %9d bytes\n' "$f" "$(wc -c < "$f")"; done)
} > "$bin/MANIFEST"

total=$(du -sb "$bin" | cut -f1)
echo "==> $bin: $(ls "$bin" | wc -l) files, $total bytes ($((total / 1024 / 1024)) MiB; limit 64 MiB)"
if [ "$total" -ge "$limit" ]; then
  echo "prepare.sh: $total bytes is over the 64 MiB a GPU run can carry" >&2
  exit 1
fi
