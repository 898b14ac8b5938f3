#!/usr/bin/env bash
# shardq run alone and under mpirun: byte-identical artifacts for 1..4 ranks
# (and equal to shardq quantize), resume after a worker kills itself, after
# kill -9 of the whole job at random moments, and refusal of a changed spec
# under the same job id.
source "$(dirname "$0")/lib.bash"
command -v mpirun >/dev/null || { echo "skip: mpirun not installed"; exit 77; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
MPIRUN=(mpirun --oversubscribe --bind-to none -x SHARDQ_FAULT_KILL_RANK -x SHARDQ_FAULT_KILL_AFTER -x SHARDQ_FAULT_DELAY_MS)
export SHARDQ_FAULT_KILL_RANK= SHARDQ_FAULT_KILL_AFTER= SHARDQ_FAULT_DELAY_MS=

spec() {  # model preset -> path of a job spec
  cat > "$WORK/$1-$2.yaml" <<YAML
model: $3
output: { path: $WORK/unused.gguf }
recipe:
  quantize: { preset: $2, algorithm: rtn }
YAML
  echo "$WORK/$1-$2.yaml"
}
run_job() {  # np spec state out [more args]; np 1 = no mpirun (embedded)
  local np=$1 job=$2 state=$3 out=$4; shift 4
  if [ "$np" = 1 ]; then timeout 120 "$SHARDQ" run "$job" --state "$state" --out "$out" "$@"
  else timeout 120 "${MPIRUN[@]}" -np "$np" "$SHARDQ" run "$job" --state "$state" --out "$out" "$@"; fi
}
field() { sed -nE "s/.*\(([0-9]+) reused from the state store, ([0-9]+) computed, ([0-9]+) recovered[^)]*\).*/\\$1/p"; }

for model in shakespeare-5m stories260K; do
  job=$(spec $model Q4_K_M "$MODELS/$model")
  quantize "$MODELS/$model" "$WORK/$model-ref.gguf" Q4_K_M
  for np in 1 2 3 4; do
    run_job $np "$job" "$WORK/state-$model-$np" "$WORK/$model-np$np.gguf" -q 2> "$WORK/log" || { fail "$model np=$np: exit $?"; cat "$WORK/log"; continue; }
    cmp -s "$WORK/$model-np$np.gguf" "$WORK/$model-ref.gguf" && pass "$model: -np $np artifact identical to shardq quantize's" ||
      fail "$model: -np $np artifact differs"
  done
done

# Units written in place by the workers (the default) and sent to rank 0 as
# bytes (SHARDQ_IN_PLACE=0, or a rank that cannot reach the temp file) give
# the same bytes; the store holds the packed bytes only in the second case.
model=shakespeare-5m; job=$(spec $model Q4_K_M "$MODELS/$model")
if SHARDQ_IN_PLACE=0 timeout 120 "${MPIRUN[@]}" -x SHARDQ_IN_PLACE -np 3 "$SHARDQ" run "$job" --state "$WORK/state-bytes" --out "$WORK/bytes.gguf" -q 2> "$WORK/log" &&
   cmp -s "$WORK/bytes.gguf" "$WORK/$model-ref.gguf" && [ "$(du -sk "$WORK/state-bytes" | cut -f1)" -gt 2000 ] &&
   [ "$(du -sk "$WORK/state-$model-3" | cut -f1)" -lt 1000 ]; then
  pass "units sent as bytes (SHARDQ_IN_PLACE=0): same artifact; the store holds $(du -sh "$WORK/state-bytes" | cut -f1), against $(du -sh "$WORK/state-$model-3" | cut -f1) in place"
else fail "units sent as bytes"; cat "$WORK/log"; du -sh "$WORK/state-bytes" "$WORK/state-$model-3"; fi
if SHARDQ_FAULT_NO_IN_PLACE_RANK=2 timeout 120 "${MPIRUN[@]}" -x SHARDQ_FAULT_NO_IN_PLACE_RANK -np 3 "$SHARDQ" run "$job" --state "$WORK/state-mixed" --out "$WORK/mixed.gguf" > "$WORK/log" 2>&1 &&
   cmp -s "$WORK/mixed.gguf" "$WORK/$model-ref.gguf" &&
   grep -q "rank 2: cannot write units in place (fault injection: no shared file system); sending their bytes to rank 0" "$WORK/log"; then
  pass "rank 2 without the shared file system sends bytes, rank 1 writes in place: same artifact, and the log says so"
else fail "mixed in-place and bytes"; tail -5 "$WORK/log"; fi

# A worker SIGKILLs itself after its first unit; the rerun resumes.
model=shakespeare-5m; job=$(spec $model Q4_K_M "$MODELS/$model"); state="$WORK/state-kill"
if SHARDQ_FAULT_KILL_RANK=2 SHARDQ_FAULT_KILL_AFTER=1 run_job 3 "$job" "$state" "$WORK/kill.gguf" > "$WORK/log1" 2>&1; then fail "fault injection: job did not fail"; fi
[ -e "$WORK/kill.gguf" ] && fail "fault injection: an artifact exists after the failed run"
run_job 3 "$job" "$state" "$WORK/kill.gguf" > "$WORK/log2" 2>&1 || { fail "resume failed"; cat "$WORK/log2"; }
reused=$(field 1 < "$WORK/log2"); computed=$(field 2 < "$WORK/log2")
committed_before=$(grep -c "committed (rank" "$WORK/log1" || true)
if [ -n "$reused" ] && [ "$reused" -ge 1 ] && [ $((reused + computed)) -eq 8 ] && [ "$reused" -le "$committed_before" ]; then
  pass "resume after a killed worker: $reused units reused (of $committed_before committed before the kill), $computed computed"
else fail "resume counts: reused '$reused', computed '$computed', committed before '$committed_before'"; fi
cmp -s "$WORK/kill.gguf" "$WORK/$model-ref.gguf" && pass "resumed artifact identical" || fail "resumed artifact differs"

# kill -9 of the whole (embedded) job, three times, each time right after it
# committed a unit (workers pause 250 ms after each unit, so the kill lands
# before the next one); then a resume. Progress is read from the job's log
# lines rather than guessed from the clock, so a slow start cannot fool it.
state="$WORK/state-kill9"; rm -f "$WORK/k9.gguf"
for round in 1 2 3; do
  SHARDQ_FAULT_DELAY_MS=250 "$SHARDQ" run "$job" --state "$state" --out "$WORK/k9.gguf" > "$WORK/k9-$round.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 1500); do  # up to 30 s
    grep -q "committed (rank" "$WORK/k9-$round.log" && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.02
  done
  kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null || true
  grep -q "committed (rank" "$WORK/k9-$round.log" || fail "kill -9 round $round: no unit was committed before the kill"
done
[ -e "$WORK/k9.gguf" ] && fail "kill -9: an artifact exists although every run was killed"
run_job 1 "$job" "$state" "$WORK/k9.gguf" > "$WORK/log3" 2>&1 || { fail "resume after kill -9 failed"; cat "$WORK/log3"; }
reused=$(field 1 < "$WORK/log3"); computed=$(field 2 < "$WORK/log3")
[ -n "$reused" ] && [ "$reused" -ge 3 ] && [ "$computed" -ge 1 ] && [ $((reused + computed)) -eq 8 ] &&
  pass "after 3 x kill -9: $reused units reused, $computed computed" ||
  fail "after kill -9: expected some units reused and some computed, got '$reused' / '$computed'"
cmp -s "$WORK/k9.gguf" "$WORK/$model-ref.gguf" && pass "after kill -9: artifact identical" || fail "after kill -9: artifact differs"

# The shipped imatrix example (pipeline-parallel calibration: hidden states flow
# rank to rank): the same bytes for 1..4 ranks, equal to calibrate + quantize
# --imatrix, and after a worker is killed mid-job and the job rerun.
cd "$SHARDQ_SOURCE_DIR"
"$SHARDQ" calibrate -q --model "$MODELS/shakespeare-5m" --text "$SHARDQ_SHARED/corpus/shakespeare-calib.txt" \
  --samples 32 --seq-len 128 --out "$WORK/calib.stats"
quantize "$MODELS/shakespeare-5m" "$WORK/imat-ref.gguf" Q4_K_M --imatrix "$WORK/calib.stats"
for np in 1 2 3 4; do
  # The eval stage runs once (np 1, checked below); it does not depend on the ranks.
  eval_flag=--no-eval; [ $np = 1 ] && eval_flag=
  run_job $np examples/shakespeare-5m.yaml "$WORK/state-imat-$np" "$WORK/imat-np$np.gguf" -q $eval_flag 2> "$WORK/log" || { fail "imatrix np=$np"; cat "$WORK/log"; continue; }
  cmp -s "$WORK/imat-np$np.gguf" "$WORK/imat-ref.gguf" && pass "imatrix example: -np $np identical to calibrate + quantize --imatrix" ||
    fail "imatrix example: -np $np differs"
done
# The eval stage (ctx 128 on shakespeare-eval.txt) must show Q4_K_M's quality, not a
# lesser type's. llama-perplexity's numbers for llama-quantize's files at ctx 128
# (golden/gguf/llama-cpp-results.md): Q4_K_M (no imatrix) mean KL 0.003717, top-1
# 94.712 %; Q4_0 mean KL 0.005249, top-1 93.879 %. With importance the artifact must do
# at least about as well as plain Q4_K_M: KL within 5 % of it, top-1 within 0.3 points,
# both far from Q4_0's.
ev="$WORK/imat-np1.gguf.eval.json"
if [ -f "$ev" ] && awk '/"kl_mean"/{gsub(/[,]/,"",$2); k=$2} /"top1_pct"/{gsub(/[,]/,"",$2); t=$2}
     /"delta_ppl_pct"/{gsub(/[,]/,"",$2); d=$2} END{exit !(k > 0 && k < 0.003717 * 1.05 && t > 94.712 - 0.3 && d < 1.0)}' "$ev"; then
  pass "eval stage: $(tr -d '\n ' < "$ev" | grep -oE '"(delta_ppl_pct|kl_mean|top1_pct)":[0-9.e-]+' | tr '\n' ' ')"
else fail "eval stage: $(cat "$ev" 2>/dev/null || echo no $ev)"; fi
if SHARDQ_FAULT_KILL_RANK=3 SHARDQ_FAULT_KILL_AFTER=1 run_job 4 examples/shakespeare-5m.yaml "$WORK/state-imat-k" "$WORK/imat-k.gguf" --no-eval > "$WORK/log5k" 2>&1; then
  fail "imatrix fault injection: job did not fail"; fi
run_job 4 examples/shakespeare-5m.yaml "$WORK/state-imat-k" "$WORK/imat-k.gguf" --no-eval > "$WORK/log5" 2>&1 || { fail "imatrix resume"; cat "$WORK/log5"; }
reused=$(field 1 < "$WORK/log5"); computed=$(field 2 < "$WORK/log5")
committed_before=$(grep -c "committed (rank" "$WORK/log5k" || true)
# Every unit logged as committed before the kill is reused (none recomputed), the rest computed.
if [ -n "$reused" ] && [ "$reused" -ge "$committed_before" ] && [ "$reused" -le $((committed_before + 1)) ] &&
   [ $((reused + computed)) -eq 8 ]; then
  pass "imatrix resume counts: $reused reused ($committed_before logged committed before the kill), $computed computed"
else fail "imatrix resume counts: reused '$reused', computed '$computed', committed before '$committed_before'"; fi
cmp -s "$WORK/imat-k.gguf" "$WORK/imat-ref.gguf" && pass "imatrix job resumed after a killed worker: identical" ||
  fail "imatrix resume: artifact differs"

# Same explicit job id, different recipe: refused, naming the job.
printf 'job_id: fixed\nmodel: %s\noutput: { path: %s }\nrecipe:\n  quantize: { preset: Q8_0 }\n' "$MODELS/$model" "$WORK/a.gguf" > "$WORK/a.yaml"
printf 'job_id: fixed\nmodel: %s\noutput: { path: %s }\nrecipe:\n  quantize: { preset: Q6_K }\n' "$MODELS/$model" "$WORK/a.gguf" > "$WORK/b.yaml"
"$SHARDQ" run "$WORK/a.yaml" --state "$WORK/state-fixed" -q 2>/dev/null || fail "job a failed"
if "$SHARDQ" run "$WORK/b.yaml" --state "$WORK/state-fixed" > "$WORK/log4" 2>&1; then fail "changed spec under the same id accepted"
else grep -q "job 'fixed'.*different spec" "$WORK/log4" && pass "changed spec under the same job id refused: $(tail -1 "$WORK/log4")" || fail "unclear refusal: $(cat "$WORK/log4")"; fi
finish
