#!/usr/bin/env bash
# Build the fuzz targets with clang (libFuzzer + ASan + UBSan) and run each one.
#   tests/fuzz/run.sh [SECONDS_PER_TARGET] [BUILD_DIR]
# SECONDS_PER_TARGET defaults to 60 (CI uses a short run; see docs/fuzzing.md for long
# ones). Exits non-zero if a target finds a crash, leak, sanitizer report or mismatch; the
# input is then saved under BUILD_DIR/tests/fuzz/artifacts-<target>/.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
seconds="${1:-60}"
build="${2:-$root/build-fuzz}"

cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DAE_BUILD_FUZZERS=ON -DAE_BUILD_TESTS=OFF -DAE_BUILD_EXAMPLES=OFF -DAE_BUILD_BENCH=OFF \
  -DAE_BUILD_DOCS=OFF >/dev/null
cmake --build "$build" -j2 --target fuzz_load fuzz_roundtrip

export OPENBLAS_NUM_THREADS=1
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

for target in load roundtrip; do
  out="$build/tests/fuzz"
  mkdir -p "$out/corpus-$target" "$out/artifacts-$target"
  echo "== fuzz_$target for ${seconds}s"
  # New inputs go to the first (build) corpus; the checked-in seeds are only read.
  "$out/fuzz_$target" -max_total_time="$seconds" -max_len=8192 -rss_limit_mb=2048 \
    -timeout=10 -print_final_stats=1 -artifact_prefix="$out/artifacts-$target/" \
    "$out/corpus-$target" "$root/tests/fuzz/corpus/$target"
done
