#!/usr/bin/env bash
# Every recipe field of a job spec reaches the workers and changes the artifact as the
# matching `shardq quantize` flag does: pure, tensor_types, output_tensor_type,
# token_embedding_type (each alone, embedded; all together across MPI ranks);
# calibration.hessian (the job runs and its bytes equal calibrate --hessian + quantize
# --imatrix: the Hessian does not enter the rounding); eval.ctx (the eval stage runs at
# that context).
source "$(dirname "$0")/lib.bash"
src="$MODELS/stories260K/stories260K.gguf"
calib="$SHARDQ_SHARED/corpus/tinystories-calib.txt"
evtext="$SHARDQ_SHARED/corpus/tinystories-eval.txt"

job() {  # name recipe-extra-yaml [more top-level yaml] -> path of a job spec
  local f="$WORK/$1.yaml"
  printf 'model: %s\noutput: { path: %s }\nrecipe:\n  quantize: { preset: Q4_K_M%s }\n%s' \
    "$src" "$WORK/unused.gguf" "$2" "${3:-}" > "$f"
  echo "$f"
}
run() {  # spec out [more args]
  local spec=$1 out=$2; shift 2
  timeout 120 "$SHARDQ" run "$spec" --state "$WORK/state-$(basename "$out" .gguf)" --out "$out" -q "$@"
}
quantize "$src" "$WORK/plain.gguf" Q4_K_M --threads 1

check() {  # label job-recipe-extra quantize-flags...
  local label=$1 extra=$2; shift 2
  quantize "$src" "$WORK/q-$label.gguf" Q4_K_M --threads 1 "$@"
  cmp -s "$WORK/q-$label.gguf" "$WORK/plain.gguf" && fail "$label: the quantize flags change nothing (bad test)"
  if run "$(job "$label" "$extra")" "$WORK/j-$label.gguf" 2> "$WORK/log"; then
    cmp -s "$WORK/j-$label.gguf" "$WORK/q-$label.gguf" && pass "$label: job artifact equals shardq quantize $*" ||
      fail "$label: job artifact differs from shardq quantize $*"
  else fail "$label: job failed: $(cat "$WORK/log")"; fi
}
check pure ", pure: true" --pure
check tensor_types ", tensor_types: [attn_v=Q8_0, ffn_up=Q5_0]" --tensor-type attn_v=Q8_0 --tensor-type ffn_up=Q5_0
check output_tensor_type ", output_tensor_type: Q5_0" --output-tensor-type Q5_0
check token_embedding_type ", token_embedding_type: Q8_0" --token-embedding-type Q8_0

# All four at once, over MPI (the assignment crosses process boundaries).
if command -v mpirun >/dev/null; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  all=", pure: true, tensor_types: [attn_v=Q8_0], output_tensor_type: Q5_0, token_embedding_type: Q8_0"
  quantize "$src" "$WORK/q-all.gguf" Q4_K_M --pure --tensor-type attn_v=Q8_0 --output-tensor-type Q5_0 --token-embedding-type Q8_0
  spec=$(job all "$all")
  if timeout 120 mpirun --oversubscribe --bind-to none -np 3 "$SHARDQ" run "$spec" --state "$WORK/state-all" \
       --out "$WORK/j-all.gguf" -q 2> "$WORK/log"; then
    cmp -s "$WORK/j-all.gguf" "$WORK/q-all.gguf" && pass "all four recipe fields over 2 MPI workers: equal to quantize" ||
      fail "all four recipe fields over MPI: artifact differs"
  else fail "all four over MPI: job failed: $(cat "$WORK/log")"; fi
fi

# calibration.hessian: the job runs with it, and the bytes are those of the statistics.
"$SHARDQ" calibrate -q --model "$src" --text "$calib" --samples 4 --seq-len 64 --hessian --out "$WORK/h.stats"
quantize "$src" "$WORK/q-imat.gguf" Q4_K_M --threads 1 --imatrix "$WORK/h.stats"
spec=$(job hessian ", algorithm: imatrix" "calibration: { text: $calib, samples: 4, seq_len: 64, hessian: true }
")
run "$spec" "$WORK/j-hessian.gguf" 2> "$WORK/log" || fail "hessian job failed: $(cat "$WORK/log")"
cmp -s "$WORK/j-hessian.gguf" "$WORK/q-imat.gguf" && pass "calibration.hessian: job equals calibrate --hessian + quantize --imatrix" ||
  fail "calibration.hessian: job artifact differs"

# eval.ctx: the eval stage runs at the spec's context (half the ctx: about twice the chunks).
for ctx in 64 128; do
  spec=$(job "eval$ctx" ", pure: true" "eval: { text: $evtext, ctx: $ctx }
")
  run "$spec" "$WORK/e$ctx.gguf" 2> "$WORK/log" || fail "eval ctx $ctx: job failed: $(cat "$WORK/log")"
done
num() { tr -d ' \n' < "$1" 2>/dev/null | grep -oE "\"$2\":[0-9.e-]+" | cut -d: -f2 || true; }
c64=$(num "$WORK/e64.gguf.eval.json" ctx); c128=$(num "$WORK/e128.gguf.eval.json" ctx)
n64=$(num "$WORK/e64.gguf.eval.json" chunks); n128=$(num "$WORK/e128.gguf.eval.json" chunks)
if [ "$c64" = 64 ] && [ "$c128" = 128 ] && [ -n "$n64" ] && [ -n "$n128" ] && [ "$n128" -gt 0 ] &&
   [ $((n64 - 2 * n128)) -ge -1 ] && [ $((n64 - 2 * n128)) -le 1 ]; then
  pass "eval.ctx: ctx $c64 -> $n64 chunks, ctx $c128 -> $n128 chunks"
else fail "eval.ctx: ctx '$c64'/'$c128', chunks '$n64'/'$n128'"; fi
finish
