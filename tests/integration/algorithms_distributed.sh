#!/usr/bin/env bash
# The calibrating algorithms (gptq, awq, awq+gptq) write the same bytes whichever way
# they run: `shardq quantize --algorithm A` (in process), the embedded `shardq run` job
# with the same recipe, and the job under mpirun with 1 to 3 workers (-np 2 to 4);
# a gptq job whose worker is killed mid-job resumes to the same bytes. The artifacts of
# the algorithms differ from each other and from rtn (an algorithm silently ignored
# would fail here). recipe.quantize.gptq's fields act as the matching quantize flags do
# (also across MPI ranks); importance: false changes the bytes.
# stories260K in Q4_0 (its rows fit no K-quant) with a small calibration (4 windows of
# 64 tokens) keeps each run under a second; one shakespeare-5m Q4_K_M gptq job over
# MPI covers the K-quant path, and resuming it after a kill from stored calibration products.
source "$(dirname "$0")/lib.bash"
model="$MODELS/stories260K/stories260K.gguf"
calib="$SHARDQ_SHARED/corpus/tinystories-calib.txt"
cal=(--calib-text "$calib" --samples 4 --seq-len 64)
have_mpi=1
command -v mpirun >/dev/null || { echo "note: mpirun not installed: the MPI checks are skipped"; have_mpi=0; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
MPIRUN=(mpirun --oversubscribe --bind-to none -x SHARDQ_FAULT_KILL_RANK -x SHARDQ_FAULT_KILL_AFTER -x SHARDQ_FAULT_DELAY_MS)
export SHARDQ_FAULT_KILL_RANK= SHARDQ_FAULT_KILL_AFTER= SHARDQ_FAULT_DELAY_MS=

job() {  # name algorithm [extra quantize yaml [model preset calib]] -> path of a job spec
  local f="$WORK/$1.yaml"
  cat > "$f" <<YAML
model: ${4:-$model}
output: { path: $WORK/unused.gguf }
recipe:
  quantize: { preset: ${5:-Q4_0}, algorithm: $2${3:-} }
calibration: { text: ${6:-$calib}, samples: 4, seq_len: 64 }
YAML
  echo "$f"
}
run_job() {  # np spec state out [more args]; np 1 = embedded (no mpirun)
  local np=$1 spec=$2 state=$3 out=$4; shift 4
  if [ "$np" = 1 ]; then timeout 120 "$SHARDQ" run "$spec" --state "$state" --out "$out" "$@"
  else timeout 120 "${MPIRUN[@]}" -np "$np" "$SHARDQ" run "$spec" --state "$state" --out "$out" "$@"; fi
}
field() { sed -nE "s/.*\(([0-9]+) reused from the state store, ([0-9]+) computed, ([0-9]+) recovered[^)]*\).*/\\$1/p"; }
same() {  # label a b
  if cmp -s "$2" "$3"; then pass "$1"; else fail "$1: $(basename "$2") and $(basename "$3") differ"; fi
}

quantize "$model" "$WORK/rtn.gguf" Q4_0
for alg in gptq awq awq+gptq; do
  a=${alg/+/-}
  quantize "$model" "$WORK/q-$a.gguf" Q4_0 --algorithm "$alg" "${cal[@]}" || fail "$alg: quantize exit $?"
  nps="1"
  if [ $have_mpi = 1 ]; then case $alg in gptq) nps="1 2 3 4" ;; awq) nps="1 3" ;; *) nps="1 2 4" ;; esac; fi
  for np in $nps; do
    if run_job "$np" "$(job "$a" "$alg")" "$WORK/state-$a-$np" "$WORK/j-$a-np$np.gguf" -q 2> "$WORK/log"; then
      same "$alg: shardq run -np $np equals shardq quantize --algorithm $alg" "$WORK/j-$a-np$np.gguf" "$WORK/q-$a.gguf"
    else fail "$alg: job -np $np failed: $(cat "$WORK/log")"; fi
  done
done

# Distinct algorithms, distinct bytes (also: none of them fell back to rtn).
files=(rtn q-gptq q-awq q-awq-gptq)
for ((i = 0; i < ${#files[@]}; i++)); do
  for ((j = i + 1; j < ${#files[@]}; j++)); do
    if cmp -s "$WORK/${files[i]}.gguf" "$WORK/${files[j]}.gguf"; then fail "${files[i]} and ${files[j]}: the same bytes"
    else pass "${files[i]} and ${files[j]} differ"; fi
  done
done

# A gptq job whose worker (rank 2 of 3) SIGKILLs itself after its first unit fails,
# writes nothing, and the rerun resumes from the state store to the same bytes
# (stories260K: 7 units, the token embeddings, 5 blocks, the head).
if [ $have_mpi = 1 ]; then
  spec=$(job gptq-kill gptq); state="$WORK/state-gptq-kill"
  if SHARDQ_FAULT_KILL_RANK=2 SHARDQ_FAULT_KILL_AFTER=1 run_job 3 "$spec" "$state" "$WORK/kill.gguf" > "$WORK/kill1.log" 2>&1; then
    fail "gptq fault injection: the job did not fail"; fi
  [ -e "$WORK/kill.gguf" ] && fail "gptq fault injection: an artifact exists after the failed run"
  if run_job 3 "$spec" "$state" "$WORK/kill.gguf" > "$WORK/kill2.log" 2>&1; then
    reused=$(field 1 < "$WORK/kill2.log"); computed=$(field 2 < "$WORK/kill2.log")
    committed_before=$(grep -c "committed (rank" "$WORK/kill1.log" || true)
    if [ -n "$reused" ] && [ "$reused" -ge 1 ] && [ "$reused" -ge "$committed_before" ] && [ $((reused + computed)) -eq 7 ]; then
      pass "gptq resume: $reused units reused ($committed_before logged committed before the kill), $computed computed"
    else fail "gptq resume counts: reused '$reused', computed '$computed', committed before '$committed_before'"; fi
    same "gptq job resumed after a killed worker equals quantize" "$WORK/kill.gguf" "$WORK/q-gptq.gguf"
  else fail "gptq resume failed: $(cat "$WORK/kill2.log")"; fi
fi

# shakespeare-5m, Q4_K_M (K-quants, importance-weighted scales): gptq over 2 workers.
big="$MODELS/shakespeare-5m"; bigcal="$SHARDQ_SHARED/corpus/shakespeare-calib.txt"
quantize "$big" "$WORK/big-q.gguf" Q4_K_M --algorithm gptq --calib-text "$bigcal" --samples 4 --seq-len 64
np=3; [ $have_mpi = 1 ] || np=1
if run_job $np "$(job big gptq "" "$big" Q4_K_M "$bigcal")" "$WORK/state-big" "$WORK/big-j.gguf" -q 2> "$WORK/log"; then
  same "shakespeare-5m Q4_K_M gptq: shardq run -np $np equals shardq quantize" "$WORK/big-j.gguf" "$WORK/big-q.gguf"
else fail "shakespeare-5m gptq job -np $np failed: $(cat "$WORK/log")"; fi

# Calibration products are checkpointed: the same job, its rank 1 (the embeddings
# and blocks 0-2) killed after 3 units (a pause after each lets rank 0 commit
# them, and the states leaving blocks 0 and 1, before the kill). The rerun must
# start rank 1's forward pass at block 2 from the stored states (not at the
# embeddings), say how many units reuse them, and write the same bytes.
if [ $have_mpi = 1 ]; then
  spec=$(job big-kill gptq "" "$big" Q4_K_M "$bigcal"); state="$WORK/state-big-kill"
  SHARDQ_FAULT_KILL_RANK=1 SHARDQ_FAULT_KILL_AFTER=3 SHARDQ_FAULT_DELAY_MS=300 \
    run_job 3 "$spec" "$state" "$WORK/big-kill.gguf" > "$WORK/bk1.log" 2>&1 && fail "products: the killed job did not fail"
  if run_job 3 "$spec" "$state" "$WORK/big-kill.gguf" > "$WORK/bk2.log" 2>&1; then
    line=$(grep "shardq: calibration:" "$WORK/bk2.log" || true)
    reusing=$(sed -nE 's/.*calibration: ([0-9]+) unit\(s\) reuse stored products, ([0-9]+) recalibrated.*/\1/p' <<< "$line")
    recal=$(sed -nE 's/.*calibration: ([0-9]+) unit\(s\) reuse stored products, ([0-9]+) recalibrated.*/\2/p' <<< "$line")
    computed=$(field 2 < "$WORK/bk2.log")
    if [ -n "$reusing" ] && [ "$reusing" -ge 1 ] && [ "$recal" = 0 ] && [ "$reusing" = "$computed" ] &&
       grep -q "rank 1 at block 2 from stored activations" <<< "$line" && ! grep -q "embeddings" <<< "$line"; then
      pass "products: $line"
    else fail "products: reuse line '$line', computed '$computed'"; fi
    same "products: the resumed gptq job equals quantize" "$WORK/big-kill.gguf" "$WORK/big-q.gguf"
  else fail "products: resume failed: $(cat "$WORK/bk2.log")"; fi
fi

# imatrix keeps each unit's statistics as soon as calibration ends: rank 2 killed
# after its first unit, the rerun calibrates nothing (every unit to do is handed
# its stored statistics) and writes the bytes of an uninterrupted run.
if [ $have_mpi = 1 ]; then
  quantize "$big" "$WORK/big-qi.gguf" Q4_K_M --algorithm imatrix --calib-text "$bigcal" --samples 4 --seq-len 64
  spec=$(job big-kill-i imatrix "" "$big" Q4_K_M "$bigcal"); state="$WORK/state-big-kill-i"
  SHARDQ_FAULT_KILL_RANK=2 SHARDQ_FAULT_KILL_AFTER=1 SHARDQ_FAULT_DELAY_MS=300 \
    run_job 3 "$spec" "$state" "$WORK/big-kill-i.gguf" > "$WORK/bki1.log" 2>&1 && fail "imatrix products: the killed job did not fail"
  if run_job 3 "$spec" "$state" "$WORK/big-kill-i.gguf" > "$WORK/bki2.log" 2>&1; then
    line=$(grep "shardq: calibration:" "$WORK/bki2.log" || true)
    computed=$(field 2 < "$WORK/bki2.log")
    if [ -n "$computed" ] && [ "$computed" -ge 1 ] &&
       grep -q "calibration: $computed unit(s) reuse stored products, 0 recalibrated; no forward pass" <<< "$line"; then
      pass "imatrix products: $line"
    else fail "imatrix products: reuse line '$line', computed '$computed'"; fi
    same "imatrix products: the resumed job equals quantize" "$WORK/big-kill-i.gguf" "$WORK/big-qi.gguf"
  else fail "imatrix products: resume failed: $(cat "$WORK/bki2.log")"; fi
fi

# recipe.quantize.gptq {act_order, damp} acts as --act-order --gptq-damp.
quantize "$model" "$WORK/q-gptq-ao.gguf" Q4_0 --algorithm gptq --act-order --gptq-damp 0.05 "${cal[@]}"
cmp -s "$WORK/q-gptq-ao.gguf" "$WORK/q-gptq.gguf" && fail "--act-order --gptq-damp 0.05: the same bytes as plain gptq (bad test)"
# Over MPI where there is one: the settings cross to the workers in the assignment.
np=3; [ $have_mpi = 1 ] || np=1
if run_job $np "$(job gptq-ao gptq ", gptq: { act_order: true, damp: 0.05 }")" "$WORK/state-ao" "$WORK/j-gptq-ao.gguf" -q 2> "$WORK/log"; then
  same "gptq: {act_order: true, damp: 0.05} (-np $np) equals quantize --act-order --gptq-damp 0.05" "$WORK/j-gptq-ao.gguf" "$WORK/q-gptq-ao.gguf"
else fail "gptq act_order job failed: $(cat "$WORK/log")"; fi
# importance (no quantize flag): turning it off changes the bytes, the same for 1 and 3 ranks.
for np in 1 3; do
  [ $np = 3 ] && [ $have_mpi = 0 ] && continue
  run_job $np "$(job gptq-ni gptq ", gptq: { importance: false }")" "$WORK/state-ni-$np" "$WORK/j-gptq-ni-$np.gguf" -q 2> "$WORK/log" ||
    fail "gptq importance: false, -np $np: job failed: $(cat "$WORK/log")"
done
cmp -s "$WORK/j-gptq-ni-1.gguf" "$WORK/q-gptq.gguf" && fail "gptq: {importance: false}: the same bytes as importance on" ||
  pass "gptq: {importance: false} changes the bytes"
[ $have_mpi = 0 ] || same "gptq: {importance: false}: -np 3 equals the embedded job" "$WORK/j-gptq-ni-3.gguf" "$WORK/j-gptq-ni-1.gguf"
# The spec's defaults are the flags' defaults: an explicit default block changes nothing.
if run_job 1 "$(job gptq-def gptq ", gptq: { damp: 0.01, act_order: false }")" "$WORK/state-def" "$WORK/j-gptq-def.gguf" -q 2> "$WORK/log"; then
  same "gptq: {damp: 0.01, act_order: false} equals plain gptq" "$WORK/j-gptq-def.gguf" "$WORK/q-gptq.gguf"
else fail "gptq default-settings job failed: $(cat "$WORK/log")"; fi

# Refused specs: exit code, a message naming the field, nothing written.
refused() {  # label expected-message algorithm extra-yaml
  local label=$1 want=$2 spec
  spec=$(job refused "$3" "$4")
  set +e
  timeout 60 "$SHARDQ" run "$spec" --state "$WORK/state-refused" --out "$WORK/refused.gguf" -q 2> "$WORK/err"
  local rc=$?
  set -e
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && grep -qF -- "$want" "$WORK/err" && [ ! -e "$WORK/refused.gguf" ] &&
     [ ! -e "$WORK/state-refused" ]; then pass "refused: $label (exit $rc)"
  else fail "$label: rc $rc, stderr: $(cat "$WORK/err")"; fi
}
refused "gptq settings with imatrix" "recipe.quantize.gptq: GPTQ settings need algorithm gptq or awq+gptq" imatrix ", gptq: { damp: 0.1 }"
refused "gptq settings with awq" "recipe.quantize.gptq: GPTQ settings need algorithm gptq or awq+gptq" awq ", gptq: { act_order: true }"
refused "negative damp" "recipe.quantize.gptq.damp: must be in [0, 1], got -1" gptq ", gptq: { damp: -1 }"
refused "zero block_columns" "recipe.quantize.gptq.block_columns: must be in 1..65536, got 0" gptq ", gptq: { block_columns: 0 }"
refused "unknown gptq field" "recipe.quantize.gptq.dampp: unknown field" gptq ", gptq: { dampp: 0.1 }"
refused "unknown algorithm" "recipe.quantize.algorithm: unknown algorithm 'gptq2'" gptq2 ""
finish
