#!/usr/bin/env bash
# Crash matrix (issue 9): a 3-rank job (rank 0 coordinates, ranks 1-2 work) on
# stories260K is killed at every unit boundary of the coordinator, in the middle
# of a commit (the unit's batch written, not yet flushed), after each worker's
# units, and stopped by SIGTERM; each time the rerun must reuse exactly the
# units that were durable, recompute only the others, and write the bytes of
# an uninterrupted run. Prints the counts.
source "$(dirname "$0")/lib.bash"
command -v mpirun >/dev/null || { echo "skip: mpirun not installed"; exit 77; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export SHARDQ_FAULT_KILL_AT= SHARDQ_FAULT_KILL_RANK= SHARDQ_FAULT_KILL_AFTER= SHARDQ_FAULT_DELAY_MS=
MPIRUN=(mpirun --oversubscribe --bind-to none -x SHARDQ_FAULT_KILL_AT -x SHARDQ_FAULT_KILL_RANK
        -x SHARDQ_FAULT_KILL_AFTER -x SHARDQ_FAULT_DELAY_MS -np 3)
UNITS=7
job="$WORK/job.yaml"
cat > "$job" <<YAML
model: $MODELS/stories260K
output: { path: $WORK/out.gguf }
state_dir: $WORK/state
recipe: { quantize: { preset: Q4_K_M, algorithm: rtn } }
YAML
"$SHARDQ" quantize -q --model "$MODELS/stories260K" --out "$WORK/ref.gguf" --type Q4_K_M
reused_of() { sed -nE 's/.*\(([0-9]+) reused from the state store, ([0-9]+) computed.*/\1 \2/p' "$1"; }
TRIALS=0 GOOD=0
# trial label expected-reused(or "logged") -- runs the killed job (already
# started by the caller into $WORK/kill.log), then the rerun, and checks.
check_rerun() {  # label want
  local label=$1 want=$2 logged rerun reused computed
  logged=$(grep -c "committed (rank" "$WORK/kill.log" || true)
  timeout 120 "${MPIRUN[@]}" "$SHARDQ" run "$job" > "$WORK/rerun.log" 2>&1 || { fail "$label: rerun failed"; tail -3 "$WORK/rerun.log"; return; }
  read -r reused computed < <(reused_of "$WORK/rerun.log")
  [ "$want" = logged ] && want=$logged
  TRIALS=$((TRIALS + 1))
  if [ "$reused" = "$want" ] && [ $((reused + computed)) = $UNITS ] && cmp -s "$WORK/out.gguf" "$WORK/ref.gguf"; then
    GOOD=$((GOOD + 1)); pass "$label: $reused reused (want $want; $logged logged before the crash), $computed recomputed, same bytes"
  else fail "$label: reused '$reused' (want $want, $logged logged), computed '$computed', bytes $(cmp -s "$WORK/out.gguf" "$WORK/ref.gguf" && echo same || echo differ)"; fi
}
fresh() { rm -rf "$WORK/state" "$WORK"/out.gguf*; }

# The coordinator dies right after its K-th unit is durable and in the artifact.
for k in $(seq 1 $((UNITS - 1))); do
  fresh
  SHARDQ_FAULT_KILL_AT=commit-done:$k timeout 120 "${MPIRUN[@]}" "$SHARDQ" run "$job" > "$WORK/kill.log" 2>&1 && fail "commit-done:$k: the job did not die"
  [ -e "$WORK/out.gguf" ] && fail "commit-done:$k: an artifact exists after the crash"
  check_rerun "coordinator killed after commit $k" $k
done
# The coordinator dies mid-commit: the K-th unit's batch is written, not flushed.
for k in $(seq 1 $((UNITS - 1))); do
  fresh
  SHARDQ_FAULT_KILL_AT=commit-written:$k timeout 120 "${MPIRUN[@]}" "$SHARDQ" run "$job" > "$WORK/kill.log" 2>&1 && fail "commit-written:$k: the job did not die"
  check_rerun "coordinator killed in the middle of commit $k" $((k - 1))
done
# A worker dies after sending K units (rank 1 owns 3 units, rank 2 owns 4):
# whatever rank 0 logged as committed before mpirun ended the job is reused.
for rk in "1 1" "1 2" "1 3" "2 1" "2 2" "2 3"; do
  read -r r k <<< "$rk"
  fresh
  SHARDQ_FAULT_KILL_RANK=$r SHARDQ_FAULT_KILL_AFTER=$k SHARDQ_FAULT_DELAY_MS=100 timeout 120 "${MPIRUN[@]}" "$SHARDQ" run "$job" > "$WORK/kill.log" 2>&1 &&
    fail "worker $r after $k: the job did not die"
  check_rerun "worker rank $r killed after $k unit(s)" logged
done
# SIGTERM to the coordinator: it relays the stop, commits what is in flight, exits 143.
for after in 0 1; do
  fresh
  SHARDQ_FAULT_DELAY_MS=700 timeout 120 "${MPIRUN[@]}" "$SHARDQ" run "$job" > "$WORK/kill.log" 2>&1 &
  mp=$!
  for _ in $(seq 1 300); do [ "$(grep -c "committed (rank" "$WORK/kill.log" || true)" -ge $after ] && break; sleep 0.05; done
  r0=""
  for _ in $(seq 1 200); do
    for p in $(pgrep -f "shardq run $job"); do
      [ "$(cat /proc/$p/comm 2>/dev/null)" = shardq ] && tr '\0' '\n' < /proc/$p/environ 2>/dev/null | grep -qx OMPI_COMM_WORLD_RANK=0 && r0=$p
    done
    [ -n "$r0" ] && break; sleep 0.05
  done
  sleep 0.3  # past its start-up (the handlers are installed before MPI_Init)
  [ -n "$r0" ] && kill -TERM "$r0" || fail "SIGTERM after $after: rank 0 not found"
  set +e; wait $mp; rc=$?; set -e
  [ $rc -ne 0 ] && grep -q "stopped by SIGTERM after" "$WORK/kill.log" ||
    fail "SIGTERM after $after: no stop message (mpirun exit $rc)"
  check_rerun "coordinator SIGTERM after $after commit(s)" logged
done
echo "crash matrix: $GOOD of $TRIALS trials resumed with every durable unit reused and the same bytes"
[ $TRIALS -ge 20 ] || fail "only $TRIALS trials"
finish
