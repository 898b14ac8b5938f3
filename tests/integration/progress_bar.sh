#!/usr/bin/env bash
# The progress bar: drawn on a terminal (run under a pseudo-terminal by util-linux's
# `script`), one redraw per step with the bar's width in proportion to done/total, the
# last step always drawn, the line cleared before the table; never drawn into a pipe
# or with -q. `shardq run` shows the bar on a terminal and per-unit log lines otherwise.
source "$(dirname "$0")/lib.bash"
command -v script >/dev/null || { echo "skip: script (util-linux) not installed"; exit 77; }
model="$MODELS/stories260K"

under_pty() {  # out-file command...
  local out=$1; shift
  script -qec "$(printf '%q ' "$@")" /dev/null > "$out" 2>&1
}
# Every "\r[bar] done/total" drawn, one per line: "hashes dots done total".
bars() { tr '\r' '\n' < "$1" | sed -nE 's/^\[([#.]+)\] ([0-9]+)\/([0-9]+) .*/\1 \2 \3/p' |
           awk '{ w = length($1); h = gsub(/#/, "#", $1); print h, w - h, $2, $3 }'; }
check_bars() {  # file label want_total
  local f=$1 label=$2 total=$3
  bars "$f" > "$WORK/bars"
  [ -s "$WORK/bars" ] || { fail "$label: no progress bar drawn on a terminal"; return; }
  awk -v T="$total" 'BEGIN { ok = 1; prev = -1 }
    { if ($1 + $2 != 30 || $4 != T || $3 < prev || $1 != int(30 * $3 / $4)) ok = 0; prev = $3; last = $3 }
    END { exit !(ok && last == T) }' "$WORK/bars" &&
    pass "$label: $(wc -l < "$WORK/bars") redraws, bar width 30 * done/total, ends at $total/$total" ||
    { fail "$label: bad bar sequence:"; head -5 "$WORK/bars"; tail -2 "$WORK/bars"; }
}

# shardq quantize: one step per tensor.
under_pty "$WORK/q.tty" "$SHARDQ" quantize --model "$model" --out "$WORK/q.gguf" --type Q8_0
n_tensors=$("$SHARDQ" inspect "$WORK/q.gguf" | sed -nE 's/^tensors \(([0-9]+)\):.*/\1/p')
check_bars "$WORK/q.tty" "quantize on a terminal" "$n_tensors"
# The bar's line is cleared (spaces, then \r) before the table is printed.
tr '\r' '\n' < "$WORK/q.tty" | grep -qE '^ {90}$' && pass "quantize: bar line cleared" || fail "quantize: bar line not cleared"
"$SHARDQ" quantize --model "$model" --out "$WORK/q3.gguf" --type Q8_0 > "$WORK/q.pipe" 2>&1
grep -q $'\r' "$WORK/q.pipe" && fail "quantize into a pipe drew a bar" || pass "quantize into a pipe: no bar"
under_pty "$WORK/qq.tty" "$SHARDQ" quantize -q --model "$model" --out "$WORK/q4.gguf" --type Q8_0
[ -z "$(bars "$WORK/qq.tty")" ] && pass "quantize -q on a terminal: no bar" || fail "quantize -q drew a bar"

# shardq run: one step per unit (embeddings, 5 blocks, head).
cat > "$WORK/job.yaml" <<YAML
model: $model
output: { path: $WORK/run.gguf }
recipe:
  quantize: { preset: Q8_0, algorithm: rtn }
YAML
under_pty "$WORK/r.tty" "$SHARDQ" run "$WORK/job.yaml" --state "$WORK/state-tty" --threads 1
check_bars "$WORK/r.tty" "run on a terminal" 7
grep -q "committed (rank" "$WORK/r.tty" && fail "run on a terminal also printed per-unit log lines" ||
  pass "run on a terminal: bar instead of per-unit lines"
"$SHARDQ" run "$WORK/job.yaml" --state "$WORK/state-pipe" --threads 1 --out "$WORK/run2.gguf" > "$WORK/r.pipe" 2>&1
[ "$(grep -c "committed (rank" "$WORK/r.pipe")" -eq 7 ] && ! grep -q $'\r' "$WORK/r.pipe" &&
  pass "run into a pipe: 7 per-unit log lines, no bar" || { fail "run into a pipe:"; cat "$WORK/r.pipe"; }
finish
