#!/usr/bin/env bash
# Builds the unit tests with AddressSanitizer and UndefinedBehaviorSanitizer
# (clang, -O1 -g) in ./build-fuzz, the build the fuzz targets share
# (scripts/configure_sanitized.sh), and runs them: the Catch2 tests only, not the
# shell-level integration tests (those drive llama.cpp and mpirun for minutes).
# Tests tagged [asan-slow] take minutes under ASan and are left out here; they
# run in the plain build (scripts/test.sh).
# Usage: scripts/sanitize.sh [extra Catch2 test spec, e.g. "[limits]"]
set -euo pipefail
cd "$(dirname "$0")/.."
# MPI tests run as root in containers and CI.
if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
bash scripts/configure_sanitized.sh
ninja -C build-fuzz -j"$(nproc)" shardq_tests >> build-fuzz.log 2>&1 || { tail -50 build-fuzz.log; exit 1; }
echo "sanitize: build ok"

# halt_on_error / abort_on_error: the first report fails the run.
export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:abort_on_error=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
cd build-fuzz
# Hidden tests ([.]: children of other tests) would run under a pure exclusion.
spec="~[asan-slow]~[.]${1:+ $1}"
rc=0
./shardq_tests "$spec" --durations no || rc=$?
# 77: every test that ran passed and some reported skipped (SHARDQ_SKIP: an ISA
# this CPU lacks), as ctest's SKIP_RETURN_CODE counts it: not a failure.
if [ "$rc" -eq 77 ]; then echo "sanitize: passed (some tests skipped)"; exit 0; fi
exit "$rc"
