#!/usr/bin/env bash
# The main job on the bundled example: shakespeare-5m (HF safetensors) -> GGUF Q4_K_M.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
mkdir -p out
./build/shardq quantize --model ../shared/models/shakespeare-5m --out out/shakespeare-5m-Q4_K_M.gguf --type Q4_K_M
