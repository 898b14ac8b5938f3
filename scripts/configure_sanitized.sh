#!/usr/bin/env bash
# Configures ./build-fuzz: clang, ASan + UBSan, libFuzzer coverage on every
# library (tests/fuzz/sanitizer_flags.cmake). One build serves both
# scripts/sanitize.sh (the unit tests under the sanitizers) and scripts/fuzz.sh
# (the fuzz targets), so CI compiles the instrumented libraries once.
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED="${SHARDQ_SHARED_DIR:-$(cd .. && pwd)/shared}"
# clang and its libFuzzer runtime, as scripts/setup.sh installs the rest.
if ! command -v clang++ >/dev/null || ! ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "sanitized build: installing clang libclang-rt-14-dev"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends clang libclang-rt-14-dev
fi
bash scripts/setup.sh
# -O1 as OSS-Fuzz builds: faster to compile than -O2, and reports stay readable.
cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSHARDQ_FUZZ=ON \
  -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g" -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DSHARDQ_SHARED_DIR="$SHARED" \
  > build-fuzz.log 2>&1 || { cat build-fuzz.log; exit 1; }
