#!/usr/bin/env bash
# Sets up, builds and runs every test (unit tests, CLI and llama.cpp interop tests) with ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
# MPI tests run as root in containers and CI.
if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
bash scripts/setup.sh
bash scripts/build.sh
cd build
ctest -j"$(nproc)" --output-on-failure --timeout 900
