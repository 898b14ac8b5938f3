#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz) with clang, ASan and UBSan in
# ./build-fuzz (scripts/configure_sanitized.sh) and runs each for SECONDS (default 20) from seeds made of
# ../shared's small models. Fails on any crash, leak, OOM (> 2 GB RSS) or
# slow input (> 10 s); the input is kept in build-fuzz/artifacts/.
# Usage: scripts/fuzz.sh [SECONDS] [TARGET ...]
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET="${1:-20}"
shift || true
SHARED="${SHARDQ_SHARED_DIR:-$(cd .. && pwd)/shared}"

bash scripts/configure_sanitized.sh
ninja -C build-fuzz -j"$(nproc)" shardq_fuzzers >> build-fuzz.log 2>&1 || { tail -50 build-fuzz.log; exit 1; }

BIN=build-fuzz/tests/fuzz
SEEDS=build-fuzz/seeds
rm -rf "$SEEDS"
python3 tests/fuzz/make_seeds.py "$SHARED" . "$SEEDS"
mkdir -p build-fuzz/artifacts build-fuzz/corpus build-fuzz/logs

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in tests/fuzz/fuzz_*.cpp; do targets+=("$(basename "$f" .cpp)"); done
fi

# Stack traces for UBSan reports (ASan prints its own).
export UBSAN_OPTIONS="print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
failed=()
printf '%-26s %12s %8s %8s  %s\n' target executions cov ft result
for t in "${targets[@]}"; do
  corpus="build-fuzz/corpus/$t"
  mkdir -p "$corpus" "$SEEDS/$t"
  log="build-fuzz/logs/$t.log"
  rc=0
  # New inputs go to the corpus dir (kept between runs), seeds are read only.
  "$BIN/$t" -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=2048 -timeout=10 \
    -print_final_stats=1 -artifact_prefix="build-fuzz/artifacts/$t-" \
    "$corpus" "$SEEDS/$t" > "$log" 2>&1 || rc=$?
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
  last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
  cov=$(grep -o 'cov: [0-9]*' <<<"$last" | grep -o '[0-9]*' || true)
  ft=$(grep -o 'ft: [0-9]*' <<<"$last" | grep -o '[0-9]*' || true)
  if [ "$rc" -eq 0 ]; then result=ok; else result="FAILED (exit $rc, log $log)"; failed+=("$t"); fi
  printf '%-26s %12s %8s %8s  %s\n' "$t" "${execs:-?}" "${cov:-?}" "${ft:-?}" "$result"
  if [ "$rc" -ne 0 ]; then grep -E 'ERROR|SUMMARY|Test unit written|runtime error' "$log" | head -8 || true; fi
done
if [ ${#failed[@]} -ne 0 ]; then
  echo "fuzz: ${#failed[@]} target(s) failed: ${failed[*]}"
  exit 1
fi
echo "fuzz: all ${#targets[@]} targets ran ${SECONDS_PER_TARGET}s each without a finding"
