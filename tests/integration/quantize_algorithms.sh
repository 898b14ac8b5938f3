#!/usr/bin/env bash
# `shardq quantize --algorithm A --calib-text FILE` calibrates in this process through
# the unit stages `shardq run` uses (runtime/local_stage_runner.h). Checked against
# independent paths: imatrix equals `shardq calibrate` + `quantize --imatrix` and the
# `shardq run` job with the same recipe; flag combinations that cannot mean anything
# are refused with exit 2 and nothing written.
source "$(dirname "$0")/lib.bash"
model="$MODELS/shakespeare-5m"
calib="$SHARDQ_SHARED/corpus/shakespeare-calib.txt"
cal=(--calib-text "$calib" --samples 6 --seq-len 64)

quantize "$model" "$WORK/imat.gguf" Q4_K_M --threads 2 --algorithm imatrix "${cal[@]}"
"$SHARDQ" calibrate -q --model "$model" --text "$calib" --samples 6 --seq-len 64 --out "$WORK/s.stats"
quantize "$model" "$WORK/imat-file.gguf" Q4_K_M --threads 1 --imatrix "$WORK/s.stats"
quantize "$model" "$WORK/rtn.gguf" Q4_K_M
cmp -s "$WORK/imat.gguf" "$WORK/rtn.gguf" && fail "imatrix: same bytes as rtn (bad test)"
cmp -s "$WORK/imat.gguf" "$WORK/imat-file.gguf" && pass "imatrix in process equals calibrate + quantize --imatrix" ||
  fail "imatrix in process differs from calibrate + quantize --imatrix"

cat > "$WORK/job.yaml" <<YAML
model: $model
output: { path: $WORK/job.gguf }
state_dir: $WORK/state
recipe: { quantize: { preset: Q4_K_M, algorithm: imatrix } }
calibration: { text: $calib, samples: 6, seq_len: 64 }
YAML
if timeout 120 "$SHARDQ" run "$WORK/job.yaml" -q > "$WORK/run.log" 2>&1; then
  cmp -s "$WORK/job.gguf" "$WORK/imat.gguf" && pass "imatrix in process equals the shardq run job" ||
    fail "imatrix: shardq run's artifact differs from quantize's"
else fail "imatrix job failed: $(cat "$WORK/run.log")"; fi

refused() {  # label expected-message quantize-args...
  local label=$1 want=$2; shift 2
  set +e
  "$SHARDQ" quantize -q --model "$model" --out "$WORK/refused.gguf" "$@" 2> "$WORK/err"
  local rc=$?
  set -e
  if [ "$rc" -eq 2 ] && grep -qF -- "$want" "$WORK/err" && [ ! -e "$WORK/refused.gguf" ]; then pass "$label"
  else fail "$label: rc $rc, stderr: $(cat "$WORK/err")"; fi
}
refused "imatrix without a text" "--algorithm imatrix needs --calib-text FILE" --algorithm imatrix
refused "rtn with a text" "--algorithm rtn does not calibrate" --calib-text "$calib"
refused "a statistics file and a text" "exclude --calib-text" --imatrix "$WORK/s.stats" --calib-text "$calib"
refused "unknown algorithm" "--algorithm 'best': unknown; choose one of rtn, imatrix" --algorithm best
refused "zero samples" "--samples" --algorithm imatrix --calib-text "$calib" --samples 0
refused "unknown algorithm: every name listed" "choose one of rtn, imatrix, gptq, awq, awq+gptq" --algorithm gptq2
gptq_only="--gptq-damp, --act-order: only with --algorithm gptq or awq+gptq"
refused "--act-order with rtn (was silently ignored)" "$gptq_only" --act-order
refused "--gptq-damp with rtn (was silently ignored)" "$gptq_only" --gptq-damp 0.1
refused "--act-order with a statistics file" "$gptq_only" --imatrix "$WORK/s.stats" --act-order
refused "--act-order with awq" "$gptq_only" --algorithm awq --act-order --calib-text "$calib"
refused "--gptq-damp with imatrix" "$gptq_only" --algorithm imatrix --gptq-damp 0.1 --calib-text "$calib"
refused "negative damp" "--gptq-damp -1.000000: must be in [0, 1]" --algorithm gptq --gptq-damp -1 --calib-text "$calib"
refused "gptq without a text" "--algorithm gptq needs --calib-text FILE" --algorithm gptq
set +e
"$SHARDQ" quantize -q --model "$model" --out "$WORK/few.gguf" --algorithm imatrix --calib-text "$calib" \
  --samples 100000 --seq-len 64 2> "$WORK/err"
rc=$?
set -e
[ "$rc" -ne 0 ] && grep -q "holds only" "$WORK/err" && [ ! -e "$WORK/few.gguf" ] &&
  pass "more windows than the text holds: refused before any work" || fail "too many samples: rc $rc, $(cat "$WORK/err")"
finish
