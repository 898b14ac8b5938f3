#!/usr/bin/env bash
# The job service end to end over loopback:
#  A. `mpirun -np 3 shardq serve` (rank 0 serves, ranks 1-2 persistent workers)
#     answers a Python client generated from idl/shardq.thrift by Thrift's own
#     compiler; 20 concurrent clients each get `shardq run`'s bytes; a wrong
#     token, paths outside the roots and garbage/oversized/stalled frames on
#     both ports are refused without harm; /metrics passes `promtool check
#     metrics` and its values move as jobs run.
#  B. embedded `shardq serve` with slow units: `shardq submit/cancel/resume`
#     stop a job and finish it with the same bytes; kill -9 of the server mid-job,
#     restart, every job completes with the same bytes and in the queue's order.
source "$(dirname "$0")/lib.bash"
command -v mpirun >/dev/null || { echo "skip: mpirun not installed"; exit 77; }
command -v promtool >/dev/null || { echo "skip: promtool (Debian's prometheus) not installed"; exit 77; }
command -v thrift >/dev/null || { echo "skip: the thrift compiler is not installed"; exit 77; }
PY=/usr/bin/python3
$PY -c "import thrift" 2>/dev/null || { echo "skip: python3-thrift not installed"; exit 77; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export SHARDQ_TOKEN="tok-$RANDOM-$RANDOM"
# Absolute and without "..": the server refuses paths with ".." components.
MODELS=$(cd "$MODELS" && pwd -P)
MODEL="$MODELS/shakespeare-5m"
IDL="${SHARDQ_SOURCE_DIR:-$(dirname "$0")/../..}/idl/shardq.thrift"
CLIENT_PY="$(dirname "$0")/service_client.py"

thrift --gen py -out "$WORK" "$IDL"
pyc() { timeout 300 $PY "$CLIENT_PY" "$WORK" 127.0.0.1 "$THRIFT_PORT" "$@"; }
sha() { sha256sum "$1" | cut -d' ' -f1; }

# The reference: the same job by `shardq run`.
cat > "$WORK/ref.yaml" <<YAML
model: $MODEL
output: { path: $WORK/ref.gguf }
recipe: { quantize: { preset: Q4_K_M, algorithm: rtn } }
YAML
"$SHARDQ" run "$WORK/ref.yaml" --state "$WORK/ref-state" -q
REF=$(sha "$WORK/ref.gguf")

SERVER_PID=""
start_server() {  # log [launcher...]: starts `shardq serve`, sets THRIFT_PORT, HTTP_PORT
  local log=$1; shift
  "$@" "$SHARDQ" serve --listen 127.0.0.1:0 --http 127.0.0.1:0 --state "$WORK/svc-state" \
    --roots "$WORK,$MODELS" --threads 1 > "$log" 2> "$log.err" &
  SERVER_PID=$!
  for _ in $(seq 300); do
    grep -q "^shardq serve: thrift" "$log" 2>/dev/null && break
    sleep 0.1
  done
  THRIFT_PORT=$(sed -nE 's/^shardq serve: thrift [0-9.]+:([0-9]+),.*/\1/p' "$log")
  HTTP_PORT=$(sed -nE 's/.* http [0-9.]+:([0-9]+),.*/\1/p' "$log")
  [ -n "$THRIFT_PORT" ] || { echo "server did not start:"; cat "$log" "$log.err"; exit 1; }
}
stop_server() {
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
}
metric() { curl -s "http://127.0.0.1:$HTTP_PORT/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }

# ---------------------------------------------------------------- A: mpirun -np 3
start_server "$WORK/serve-a.log" timeout 300 mpirun --oversubscribe --bind-to none -np 3
pyc info 3 || fail "serverInfo"
pyc bad-token || fail "wrong token"
"$SHARDQ" status job-x --server "127.0.0.1:$THRIFT_PORT" --token-file /dev/null 2> "$WORK/err" &&
  fail "shardq status with no token succeeded" || grep -q "unauthorized" "$WORK/err" &&
  pass "shardq status without the token: $(cat "$WORK/err")" || fail "no-token message: $(cat "$WORK/err")"
pyc invalid /etc/hostname "$WORK/x.gguf" model || fail "model outside the roots"
pyc invalid "$MODEL" /tmp/outside-roots.gguf output.path || fail "output outside the roots"
pyc invalid "$WORK/../$(basename "$WORK")/x" "$WORK/x.gguf" model || fail "a '..' path"
ln -s /etc "$WORK/etc-link"
pyc invalid "$MODEL" "$WORK/etc-link/x.gguf" output.path || fail "a symlink out of the roots"
pyc garbage || fail "garbage frames"
# Garbage and a stalled client on the HTTP port: a 400, and others still served.
printf 'NOT HTTP AT ALL\r\n\r\n' | timeout 5 curl -s "telnet://127.0.0.1:$HTTP_PORT" > "$WORK/http-garbage" 2>&1 || true
grep -q "400 Bad Request" "$WORK/http-garbage" && pass "HTTP garbage gets 400" || fail "HTTP garbage: $(head -c 200 "$WORK/http-garbage")"
exec 7<>"/dev/tcp/127.0.0.1/$HTTP_PORT"; printf 'GET /hea' >&7
[ "$(curl -s -m 5 "http://127.0.0.1:$HTTP_PORT/healthz")" = ok ] && pass "/healthz answers beside a stalled HTTP client" ||
  fail "/healthz blocked by a stalled client"
exec 7>&-
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HTTP_PORT/readyz")" = 200 ] && pass "/readyz 200" || fail "/readyz"

# 5,246,208 parameters (../shared/models/README.md); the artifact as shardq run wrote it.
pyc estimate "$MODEL" 5246208 "$(stat -c %s "$WORK/ref.gguf")" "$WORK/est.gguf" > "$WORK/est.out" || { cat "$WORK/est.out"; fail "estimate"; }
grep "^ok" "$WORK/est.out" || true
units_before=$(metric shardq_units_done_total)
pyc idempotent "$MODEL" "$WORK/idem.gguf" > "$WORK/idem.out" || { cat "$WORK/idem.out"; fail "idempotency"; }
grep "^ok" "$WORK/idem.out" || true
pyc concurrent "$MODEL" "$WORK/c" 20 > "$WORK/conc.out" || { cat "$WORK/conc.out"; fail "20 concurrent clients"; }
grep "^ok" "$WORK/conc.out" || true
n_same=0
for i in $(seq 0 19); do [ "$(sha "$WORK/c$i.gguf")" = "$REF" ] && n_same=$((n_same + 1)); done
[ "$n_same" = 20 ] && pass "20 concurrent jobs: every artifact has shardq run's bytes" || fail "only $n_same of 20 artifacts match shardq run's"
grep -q "SHA .*c7.gguf $REF" "$WORK/conc.out" && pass "the status sha256 is the file's" || fail "status sha256 differs from the file's"
[ "$(sha "$WORK/idem.gguf")" = "$REF" ] && pass "idempotent job's bytes match" || fail "idempotent job's bytes differ"

curl -s "http://127.0.0.1:$HTTP_PORT/metrics" > "$WORK/metrics.txt"
promtool check metrics < "$WORK/metrics.txt" > "$WORK/promtool.out" 2>&1 && pass "promtool check metrics: clean" ||
  { fail "promtool check metrics"; cat "$WORK/promtool.out"; }
units_after=$(metric shardq_units_done_total)
[ "$units_before" = 0 ] && [ "$units_after" = 168 ] && pass "shardq_units_done_total moved 0 -> 168 (21 jobs x 8 units)" ||
  fail "shardq_units_done_total $units_before -> $units_after"
[ "$(metric 'shardq_jobs{state="done"}')" = 21 ] && pass "shardq_jobs{state=done} = 21" || fail "jobs done: $(metric 'shardq_jobs{state="done"}')"
busy1=$(metric 'shardq_rank_busy_seconds_total{rank="1"}'); busy2=$(metric 'shardq_rank_busy_seconds_total{rank="2"}')
[ -n "$busy1" ] && [ -n "$busy2" ] && pass "both worker ranks busy: $busy1 s, $busy2 s" || fail "rank busy seconds: '$busy1' '$busy2'"
id=$(sed -nE 's/^ok: the same idempotency key returns the same job id \((.*)\)$/\1/p' "$WORK/idem.out")
curl -s "http://127.0.0.1:$HTTP_PORT/jobs/$id/report.html" > "$WORK/report.html"
grep -q "<html" "$WORK/report.html" && cmp -s "$WORK/report.html" "$WORK/idem.gguf.report.html" &&
  pass "/jobs/$id/report.html is the artifact's report" || fail "report.html of $id"
stop_server

# ---------------------------------------------------------------- B: embedded, slow units
rm -rf "$WORK/svc-state"
submit() {  # name [args]: prints the job id
  cat > "$WORK/$1.yaml" <<YAML
model: $MODEL
output: { path: $WORK/$1.gguf }
recipe: { quantize: { preset: Q4_K_M } }
YAML
  local name=$1; shift
  "$SHARDQ" submit "$WORK/$name.yaml" --server "127.0.0.1:$THRIFT_PORT" "$@"
}
units_done() { "$SHARDQ" status "$1" --server "127.0.0.1:$THRIFT_PORT" | sed -nE '1s/.* units ([0-9]+)\/.*/\1/p'; }
state_of() { "$SHARDQ" status "$1" --server "127.0.0.1:$THRIFT_PORT" | awk 'NR == 1 { print $2 }'; }
wait_units() {  # id n: until the job has committed n units
  for _ in $(seq 600); do [ "$(units_done "$1")" -ge "$2" ] 2>/dev/null && return 0; sleep 0.05; done
  return 1
}

SHARDQ_FAULT_DELAY_MS=250 start_server "$WORK/serve-b.log" env
X=$(submit x)
wait_units "$X" 2 || fail "job $X made no progress"
"$SHARDQ" cancel "$X" --server "127.0.0.1:$THRIFT_PORT" > /dev/null
"$SHARDQ" wait "$X" --server "127.0.0.1:$THRIFT_PORT" > "$WORK/x-wait" && fail "wait on a cancelled job exited 0"
[ "$(state_of "$X")" = cancelled ] && [ "$(units_done "$X")" -lt 8 ] && pass "cancel stopped $X after $(units_done "$X") of 8 units" ||
  fail "cancel: $(cat "$WORK/x-wait")"
"$SHARDQ" resume "$X" --server "127.0.0.1:$THRIFT_PORT" > /dev/null
"$SHARDQ" wait "$X" --server "127.0.0.1:$THRIFT_PORT" > "$WORK/x-wait" || fail "resumed job: $(cat "$WORK/x-wait")"
[ "$(sha "$WORK/x.gguf")" = "$REF" ] && pass "cancel + resume: shardq run's bytes" || fail "cancel + resume: bytes differ"
grep -q '"units_reused": [1-9]' <("$SHARDQ" report "$X" --server "127.0.0.1:$THRIFT_PORT") &&
  pass "the resumed run reused committed units" || fail "resume recomputed everything"

# kill -9 mid-job with two more queued; the restarted service finishes all three in order.
A=$(submit a); B=$(submit b); C=$(submit c --priority 0)
wait_units "$A" 2 || fail "job $A made no progress"
kill -9 "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
start_server "$WORK/serve-b2.log" env
for j in "$A" "$B" "$C"; do "$SHARDQ" wait "$j" --server "127.0.0.1:$THRIFT_PORT" > /dev/null || fail "job $j after restart"; done
ok=0; for n in a b c; do [ "$(sha "$WORK/$n.gguf")" = "$REF" ] && ok=$((ok + 1)); done
[ $ok = 3 ] && pass "after kill -9 and restart: 3 of 3 jobs have shardq run's bytes" || fail "after restart only $ok of 3 match"
grep -q "interrupted and resumed first" "$WORK/serve-b2.log.err" && pass "restart: $(grep -o '[0-9]* job(s) in.*' "$WORK/serve-b2.log.err")" ||
  fail "restart did not report the interrupted job"
order=$("$SHARDQ" report "$A" --server "127.0.0.1:$THRIFT_PORT" | sed -nE 's/.*"finished_ms": ([0-9]+).*/\1/p')
fb=$("$SHARDQ" report "$B" --server "127.0.0.1:$THRIFT_PORT" | sed -nE 's/.*"finished_ms": ([0-9]+).*/\1/p')
fc=$("$SHARDQ" report "$C" --server "127.0.0.1:$THRIFT_PORT" | sed -nE 's/.*"finished_ms": ([0-9]+).*/\1/p')
[ "$order" -lt "$fb" ] && [ "$fb" -lt "$fc" ] && pass "queue order held across kill -9: A, B, C" || fail "finish order: $order $fb $fc"
stop_server

# A bug that throws in the embedded worker fails that job only: the worker
# thread survives and the next job is done with shardq run's bytes.
start_server "$WORK/serve-b3.log" env SHARDQ_FAULT_WORKER_THROW=1
D=$(submit d); "$SHARDQ" wait "$D" --server "127.0.0.1:$THRIFT_PORT" > "$WORK/d-wait" 2>&1 && fail "job $D with a throwing worker exited 0"
E=$(submit e); "$SHARDQ" wait "$E" --server "127.0.0.1:$THRIFT_PORT" > /dev/null || fail "job $E after the throwing one"
[ "$(state_of "$D")" = failed ] && grep -q "fault injection: an exception in the unit loop" "$WORK/d-wait" &&
  [ "$(sha "$WORK/e.gguf")" = "$REF" ] && pass "a worker's exception failed job $D only; job $E then had shardq run's bytes" ||
  { fail "worker exception: $D $(state_of "$D"), $(cat "$WORK/d-wait")"; tail -3 "$WORK/serve-b3.log.err"; }
stop_server
finish
