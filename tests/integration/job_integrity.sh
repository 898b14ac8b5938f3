#!/usr/bin/env bash
# Job integrity (issue 9): never a wrong artifact with exit 0, never a clobbered
# input, never stuck. Each block is the regression test of one failure class:
# two jobs on one output, stale units after the model changed, --out naming an
# input, numeric options, a damaged state store, validation before work, and
# SIGTERM/SIGINT at a unit boundary.
source "$(dirname "$0")/lib.bash"
S="$SHARDQ"
sha() { sha256sum "$1" | cut -d' ' -f1; }
leftovers() {  # dir: temp files or locks a failed command must not leave
  find "$1" \( -name '*.partial' -o -name '*.tmp.*' -o -name '*.lock' \) | head -5
}
wait_for() {  # file pattern (grep -q on a log), up to 30 s
  for _ in $(seq 1 300); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done; return 1
}
rtn_spec() {  # path model out state [preset]
  cat > "$1" <<YAML
model: $2
output: { path: $3 }
state_dir: $4
recipe: { quantize: { preset: ${5:-Q4_K_M}, algorithm: rtn } }
YAML
}

# --- 1. Two jobs, one output path --------------------------------------------
mkdir -p "$WORK/two"
rtn_spec "$WORK/two/a.yaml" "$MODELS/shakespeare-5m" "$WORK/two/same.gguf" "$WORK/two/A"
rtn_spec "$WORK/two/b.yaml" "$MODELS/shakespeare-5m" "$WORK/two/same.gguf" "$WORK/two/B" Q8_0
SHARDQ_FAULT_DELAY_MS=300 "$S" run "$WORK/two/a.yaml" --threads 1 > "$WORK/two/a.out" 2> "$WORK/two/a.err" &
apid=$!
wait_for "$WORK/two/a.err" "committed" || fail "job A never committed a unit"
set +e; "$S" run "$WORK/two/b.yaml" --threads 1 > "$WORK/two/b.out" 2>&1; brc=$?; set -e
set +e; wait $apid; arc=$?; set -e
[ $brc -ne 0 ] && grep -q "another job is writing this output (pid $apid" "$WORK/two/b.out" &&
  pass "second job on the same output refused, naming the holder (pid $apid)" ||
  { fail "second job: exit $brc"; cat "$WORK/two/b.out"; }
[ -e "$WORK/two/B" ] && fail "the refused job created its state directory"
printed=$(sed -nE 's/.*sha256 ([0-9a-f]{64}).*/\1/p' "$WORK/two/a.out")
manifest=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['sha256'])" "$WORK/two/same.gguf.manifest.json" 2>/dev/null || true)
[ $arc -eq 0 ] && [ "$printed" = "$(sha "$WORK/two/same.gguf")" ] && [ "$manifest" = "$printed" ] &&
  pass "first job: the sha256 it printed and its manifest are the file's" ||
  fail "first job: exit $arc, printed '$printed', manifest '$manifest', file $(sha "$WORK/two/same.gguf")"
[ -z "$(leftovers "$WORK/two")" ] || fail "left behind: $(leftovers "$WORK/two")"

# --- 2. Resume after the model's weights changed (same names and shapes) -------
mkdir -p "$WORK/stale"; cp "$MODELS/stories260K/"{stories260K.bin,tok512.bin} "$WORK/stale/"
rtn_spec "$WORK/stale/job.yaml" "$WORK/stale/stories260K.bin" "$WORK/stale/out.gguf" "$WORK/stale/state"
"$S" run "$WORK/stale/job.yaml" -q
old=$(sha "$WORK/stale/out.gguf")
python3 - "$WORK/stale/stories260K.bin" <<'PY'
import struct, sys
b = open(sys.argv[1], 'rb').read(); n = (len(b) - 28) // 4
w = struct.unpack('<%df' % n, b[28:28 + 4 * n])
open(sys.argv[1], 'wb').write(b[:28] + struct.pack('<%df' % n, *[x * 0.5 for x in w]) + b[28 + 4 * n:])
PY
"$S" run "$WORK/stale/job.yaml" > "$WORK/stale/rerun.out" 2>&1 || fail "stale rerun failed"
rtn_spec "$WORK/stale/fresh.yaml" "$WORK/stale/stories260K.bin" "$WORK/stale/fresh.gguf" "$WORK/stale/fresh-state"
"$S" run "$WORK/stale/fresh.yaml" -q
grep -q "(0 reused from the state store, 7 computed, 0 recovered, 7 stale)" "$WORK/stale/rerun.out" &&
  cmp -s "$WORK/stale/out.gguf" "$WORK/stale/fresh.gguf" && [ "$(sha "$WORK/stale/out.gguf")" != "$old" ] &&
  pass "weights scaled by 0.5: all 7 units stale, recomputed, artifact equals a fresh run's" ||
  { fail "stale units reused"; tail -3 "$WORK/stale/rerun.out"; }
# A calibrated job: changing the calibration text invalidates every unit.
mkdir -p "$WORK/calib"; head -c 60000 "$SHARDQ_SHARED/corpus/shakespeare-calib.txt" > "$WORK/calib/text.txt"
calib_spec() {  # path out state
  cat > "$1" <<YAML
model: $MODELS/shakespeare-5m
output: { path: $2 }
state_dir: $3
recipe: { quantize: { preset: Q4_K_M, algorithm: imatrix } }
calibration: { text: $WORK/calib/text.txt, samples: 8, seq_len: 64 }
YAML
}
calib_spec "$WORK/calib/job.yaml" "$WORK/calib/out.gguf" "$WORK/calib/state"
"$S" run "$WORK/calib/job.yaml" -q --threads 2
sed -i 's/the/THE/g' "$WORK/calib/text.txt"
"$S" run "$WORK/calib/job.yaml" --threads 2 > "$WORK/calib/rerun.out" 2>&1
calib_spec "$WORK/calib/fresh.yaml" "$WORK/calib/fresh.gguf" "$WORK/calib/fresh-state"
"$S" run "$WORK/calib/fresh.yaml" -q --threads 2
grep -q "calibration text or the model's weights changed" "$WORK/calib/rerun.out" &&
  grep -q "(0 reused from the state store, 8 computed, 0 recovered, 8 stale)" "$WORK/calib/rerun.out" &&
  cmp -s "$WORK/calib/out.gguf" "$WORK/calib/fresh.gguf" &&
  pass "calibration text changed: all 8 units recomputed, artifact equals a fresh run's" ||
  { fail "calibrated job reused units computed from other text"; tail -3 "$WORK/calib/rerun.out"; }

# --- 4. --out naming an input: refused, model untouched, for all three formats ----
mkdir -p "$WORK/clobber"; cp -r "$MODELS/shakespeare-5m" "$WORK/clobber/hf"
cp "$MODELS/stories260K/"{stories260K.bin,stories260K.gguf,tok512.bin} "$WORK/clobber/"
ln -s "$WORK/clobber/hf/model.safetensors" "$WORK/clobber/link.gguf"
before=$(cd "$WORK/clobber" && find . -type f -exec sha256sum {} + | sort)
try_clobber() {  # label args...
  local label=$1; shift
  set +e; "$S" "$@" > "$WORK/clobber/out" 2>&1; local rc=$?; set -e
  [ $rc -ne 0 ] && grep -q "is the same file as the" "$WORK/clobber/out" && pass "$label: refused" ||
    { fail "$label: exit $rc"; cat "$WORK/clobber/out"; }
}
try_clobber "quantize --out DIR/model.safetensors" quantize -q --model "$WORK/clobber/hf" --out "$WORK/clobber/hf/model.safetensors"
try_clobber "quantize --out config.json" quantize -q --model "$WORK/clobber/hf" --out "$WORK/clobber/hf/config.json"
try_clobber "quantize --out a symlink to the model" quantize -q --model "$WORK/clobber/hf" --out "$WORK/clobber/link.gguf"
try_clobber "quantize GGUF onto itself" quantize -q --model "$WORK/clobber/stories260K.gguf" --out "$WORK/clobber/stories260K.gguf"
try_clobber "quantize llama2.c onto its tokenizer" quantize -q --model "$WORK/clobber/stories260K.bin" --out "$WORK/clobber/tok512.bin"
rtn_spec "$WORK/clobber/job.yaml" "$WORK/clobber/stories260K.bin" "$WORK/clobber/stories260K.bin" "$WORK/clobber/state"
try_clobber "run with output.path = its llama2.c model" run -q "$WORK/clobber/job.yaml"
rtn_spec "$WORK/clobber/gguf.yaml" "$WORK/clobber/stories260K.gguf" "$WORK/clobber/elsewhere.gguf" "$WORK/clobber/state"
try_clobber "run --out its GGUF model" run -q "$WORK/clobber/gguf.yaml" --out "$WORK/clobber/stories260K.gguf"
try_clobber "run --out its own spec" run -q "$WORK/clobber/job.yaml" --out "$WORK/clobber/job.yaml"
after=$(cd "$WORK/clobber" && find . -type f ! -path './out' ! -name '*.yaml' -exec sha256sum {} + | sort)
[ "$before" = "$after" ] && pass "every input byte-identical afterwards" || fail "an input changed"

# --- 6. Numeric options -----------------------------------------------------------
mkdir -p "$WORK/opts"
for t in 100000 -1; do
  set +e; "$S" quantize -q --model "$MODELS/stories260K" --out "$WORK/opts/q.gguf" --threads=$t > "$WORK/opts/out" 2>&1; rc=$?; set -e
  [ $rc -ne 0 ] && [ $rc -lt 128 ] && grep -q "threads $t: must be between 1 and 1024" "$WORK/opts/out" &&
    pass "quantize --threads $t: clear error" || { fail "quantize --threads $t: exit $rc"; cat "$WORK/opts/out"; }
  rtn_spec "$WORK/opts/job.yaml" "$MODELS/stories260K" "$WORK/opts/r.gguf" "$WORK/opts/state"
  set +e; "$S" run -q "$WORK/opts/job.yaml" --threads=$t > "$WORK/opts/out" 2>&1; rc=$?; set -e
  [ $rc -ne 0 ] && [ $rc -lt 128 ] && grep -q "threads $t: must be between 1 and 1024" "$WORK/opts/out" &&
    pass "run --threads $t: clear error" || { fail "run --threads $t: exit $rc"; cat "$WORK/opts/out"; }
done
[ -z "$(ls -A "$WORK/opts" | grep -v -e '^out$' -e '^job.yaml$')" ] && pass "nothing left behind by refused options" ||
  fail "left behind: $(ls -A "$WORK/opts")"

# --- 7. A damaged state store recovers, run after run -------------------------------
mkdir -p "$WORK/damage"
rtn_spec "$WORK/damage/job.yaml" "$MODELS/shakespeare-5m" "$WORK/damage/out.gguf" "$WORK/damage/state"
"$S" run -q "$WORK/damage/job.yaml"; good=$(sha "$WORK/damage/out.gguf")
python3 - "$WORK/damage/state" <<'PY'
import glob, sys
for f in sorted(glob.glob(sys.argv[1] + '/*.sst')):
    b = bytearray(open(f, 'rb').read()); i = len(b) // 3; b[i] ^= 0xff; b[i + 1] ^= 0x55; open(f, 'wb').write(b)
PY
ok=1
for round in 1 2 3; do
  "$S" run "$WORK/damage/job.yaml" > "$WORK/damage/r$round.out" 2>&1 || { ok=0; fail "damaged store, rerun $round failed"; cat "$WORK/damage/r$round.out"; }
  [ "$(sha "$WORK/damage/out.gguf")" = "$good" ] || { ok=0; fail "damaged store, rerun $round: other bytes"; }
done
grep -q "is damaged" "$WORK/damage/r1.out" && grep -q "moved aside to $WORK/damage/state.damaged-" "$WORK/damage/r1.out" &&
  grep -q "(8 reused from the state store" "$WORK/damage/r3.out" && [ $ok = 1 ] &&
  pass "damaged store: found at open, moved aside, job recomputed; later reruns reuse everything" ||
  fail "damaged store recovery (see above)"

# --- 9. Validation before any work ------------------------------------------------------
mkdir -p "$WORK/early"
bad_spec() {  # name extra-yaml expected-message
  cat > "$WORK/early/$1.yaml" <<YAML
model: $MODELS/shakespeare-5m
output: { path: $WORK/early/$1/out.gguf }
state_dir: $WORK/early/$1/state
recipe: { quantize: { preset: Q4_K_M, algorithm: ${4:-rtn} } }
$2
YAML
  set +e; "$S" run -q "$WORK/early/$1.yaml" > "$WORK/early/$1.out" 2>&1; local rc=$?; set -e
  [ $rc -ne 0 ] && grep -q "$3" "$WORK/early/$1.out" && [ ! -e "$WORK/early/$1/state" ] &&
    pass "$1: refused before any work ($3)" || { fail "$1: exit $rc"; cat "$WORK/early/$1.out"; }
}
bad_spec eval-missing "eval: { text: $WORK/early/nope.txt, ctx: 128 }" "eval.text: $WORK/early/nope.txt: cannot open"
head -c 300 "$SHARDQ_SHARED/corpus/shakespeare-eval.txt" > "$WORK/early/short.txt"
bad_spec eval-short "eval: { text: $WORK/early/short.txt, ctx: 128 }" "perplexity needs at least 2 x ctx = 256"
bad_spec calib-short "calibration: { text: $WORK/early/short.txt, samples: 4, seq_len: 512 }" "fewer than one window" imatrix
printf '{"model": "%s", "output": {"path": "%s"}, "recipe": {"quantize": {"preset": "Q8_0"}}}\n}' \
  "$MODELS/stories260K" "$WORK/early/j.gguf" > "$WORK/early/trailing.json"
set +e; "$S" run -q "$WORK/early/trailing.json" > "$WORK/early/j.out" 2>&1; rc=$?; set -e
[ $rc -ne 0 ] && grep -q "not valid JSON" "$WORK/early/j.out" && pass "JSON with trailing bytes refused" ||
  { fail "trailing JSON: exit $rc"; cat "$WORK/early/j.out"; }
set +e; "$S" run "$SHARDQ_SOURCE_DIR/examples" > "$WORK/early/d.out" 2>&1; rc=$?; set -e
[ $rc -ne 0 ] && grep -q "is a directory; give a job spec file" "$WORK/early/d.out" && pass "run DIR: asks for a spec file" ||
  { fail "run DIR: exit $rc"; cat "$WORK/early/d.out"; }
rtn_spec "$WORK/early/mkdir.yaml" "$MODELS/stories260K" "$WORK/early/new/sub/out.gguf" "$WORK/early/mkdir-state"
"$S" run -q "$WORK/early/mkdir.yaml" && [ -s "$WORK/early/new/sub/out.gguf" ] &&
  pass "a missing output directory is created" || fail "missing output directory"

# --- 9. SIGTERM / SIGINT stop a job at a unit boundary; the rerun resumes ----------
mkdir -p "$WORK/sig"
rtn_spec "$WORK/sig/job.yaml" "$MODELS/shakespeare-5m" "$WORK/sig/out.gguf" "$WORK/sig/state"
"$S" quantize -q --model "$MODELS/shakespeare-5m" --out "$WORK/sig/ref.gguf" --type Q4_K_M
for sig in TERM INT; do
  rm -rf "$WORK/sig/state" "$WORK/sig/out.gguf"
  want=$([ $sig = TERM ] && echo 143 || echo 130)
  SHARDQ_FAULT_DELAY_MS=300 "$S" run "$WORK/sig/job.yaml" --threads 1 > "$WORK/sig/$sig.out" 2> "$WORK/sig/$sig.err" &
  pid=$!
  wait_for "$WORK/sig/$sig.err" "unit 2/8" || fail "SIG$sig: the job never committed 2 units"
  kill -$sig $pid; set +e; wait $pid; rc=$?; set -e
  done_before=$(grep -c "committed (rank" "$WORK/sig/$sig.err" || true)
  "$S" run "$WORK/sig/job.yaml" > "$WORK/sig/$sig.rerun" 2>&1
  reused=$(sed -nE 's/.*\(([0-9]+) reused from the state store.*/\1/p' "$WORK/sig/$sig.rerun")
  if [ $rc = $want ] && grep -q "stopped by SIG$sig after $done_before of 8 units" "$WORK/sig/$sig.err" &&
     [ ! -e "$WORK/sig/out.gguf.lock" ] && [ "$reused" = "$done_before" ] && [ "$done_before" -lt 8 ] &&
     cmp -s "$WORK/sig/out.gguf" "$WORK/sig/ref.gguf"; then
    pass "SIG$sig: exit $rc, $done_before units committed and all reused by the rerun, same bytes"
  else fail "SIG$sig: exit $rc (want $want), committed $done_before, reused '$reused'"; tail -2 "$WORK/sig/$sig.err"; fi
done
# quantize: stops before the next tensor, removes its temp file, exit 130.
SHARDQ_FAULT_DELAY_MS=100 "$S" quantize --model "$MODELS/shakespeare-5m" --out "$WORK/sig/q.gguf" --threads 1 > "$WORK/sig/q.out" 2>&1 &
pid=$!
for _ in $(seq 1 100); do ls "$WORK/sig/" | grep -q 'q.gguf.tmp' && break; sleep 0.05; done
kill -INT $pid; set +e; wait $pid; rc=$?; set -e
[ $rc = 130 ] && [ ! -e "$WORK/sig/q.gguf" ] && [ -z "$(leftovers "$WORK/sig")" ] && grep -q "stopped by SIGINT before tensor" "$WORK/sig/q.out" &&
  pass "quantize SIGINT: exit 130, no output, no temp file" || { fail "quantize SIGINT: exit $rc, left $(leftovers "$WORK/sig")"; cat "$WORK/sig/q.out"; }
finish
