#!/usr/bin/env bash
# The main job on the bundled example, shakespeare-5m (HF safetensors):
#  1. shardq quantize -> out/shakespeare-5m-Q4_K_M.gguf, with the per-tensor table;
#  2. the same model as a job (examples/shakespeare-5m.yaml: calibration, importance-weighted
#     Q4_K_M, checkpoints in out/.shardq; rerunning it resumes) -> out/shakespeare-5m-Q4_K_M-imatrix.gguf.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
mkdir -p out
./build/shardq quantize --model ../shared/models/shakespeare-5m --out out/shakespeare-5m-Q4_K_M.gguf --type Q4_K_M
echo
./build/shardq run examples/shakespeare-5m.yaml --state out/.shardq --out out/shakespeare-5m-Q4_K_M-imatrix.gguf
