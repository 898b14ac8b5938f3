#!/usr/bin/env bash
# Quality of shardq's algorithms against llama.cpp's own quantizations, all measured by
# llama.cpp's llama-perplexity against the F32 model on the held-out eval text:
# bytes, bits per weight, PPL and its change, mean KL of next-token distributions,
# top-1 agreement. llama.cpp's files are made by llama-quantize with and without
# llama-imatrix on the same calibration text (the same samples x seq_len tokens).
#
#   bench/quality.sh [MODEL [TYPES...]]       (from the project root, after the build)
#   MODEL: shakespeare-5m (default) or stories260K; TYPES default: Q4_K_M Q3_K_M Q2_K
#   ALGORITHMS="rtn imatrix gptq awq awq+gptq" MIXED="gptq awq+gptq" BPWS="4.0 4.5"
#   SAMPLES=32 SEQ_LEN=128 CTX=128 THREADS=2
# Mixed precision rows (for each algorithm in MIXED): the types chosen by measured
# sensitivity for a file no larger than llama.cpp's imatrix file of each type, and
# for each bits-per-weight in BPWS (over the Q4_K_M plan).
#
# Prints a Markdown table (one row per file) and the ratio of each file's KL to
# llama.cpp's imatrix file of the same type.
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${SHARDQ_SHARED:-../shared}
BIN=$SHARED/tools/llama.cpp/bin
SHARDQ=${SHARDQ:-build/shardq}
MODEL=${1:-shakespeare-5m}; shift || true
TYPES=${*:-Q4_K_M Q3_K_M Q2_K}
ALGORITHMS=${ALGORITHMS:-rtn imatrix gptq awq awq+gptq}
MIXED=${MIXED:-gptq awq+gptq}
BPWS=${BPWS:-4.0 4.5}
SAMPLES=${SAMPLES:-32} SEQ_LEN=${SEQ_LEN:-128} CTX=${CTX:-128} THREADS=${THREADS:-2}
case $MODEL in
  shakespeare-5m) SRC=$SHARED/models/shakespeare-5m; F32=$SHARED/golden/gguf/shakespeare-5m-F32.gguf
                  CALIB=$SHARED/corpus/shakespeare-calib.txt; EVAL=$SHARED/corpus/shakespeare-eval.txt ;;
  stories260K)    SRC=$SHARED/models/stories260K/stories260K.gguf; F32=$SRC
                  CALIB=$SHARED/corpus/tinystories-calib.txt; EVAL=$SHARED/corpus/tinystories-eval.txt ;;
  *) echo "unknown model $MODEL (shakespeare-5m or stories260K)" >&2; exit 2 ;;
esac
for t in llama-perplexity llama-quantize llama-imatrix; do
  [ -x "$BIN/$t" ] || { echo "bench/quality.sh: $BIN/$t not present" >&2; exit 2; }
done
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
lp() { "$BIN/llama-perplexity" -m "$1" -f "$EVAL" -c "$CTX" -b "$CTX" -t "$THREADS" --no-warmup "${@:2}" 2>&1; }
lp "$F32" --kl-divergence-base "$WORK/base.kld" > "$WORK/base.log"
base_ppl=$(sed -n 's/.*Final estimate: PPL = \([0-9.]*\).*/\1/p' "$WORK/base.log")
"$BIN/llama-imatrix" -m "$F32" -f "$CALIB" -c "$SEQ_LEN" --chunks "$SAMPLES" --no-ppl -t "$THREADS" \
  -o "$WORK/imatrix.gguf" > "$WORK/imatrix.log" 2>&1
# Weights in the model: the products of the tensor shapes `shardq inspect` lists.
n_weights=$("$SHARDQ" inspect "$F32" 2>/dev/null | grep -E '^  [a-z_.0-9]+ ' |
  awk '{ n = 1; k = split($2, d, "x"); for (i = 1; i <= k; i++) n *= d[i]; s += n } END { print s }')

measure() {  # label file -> one table row; KL remembered in $WORK/kl.<label>
  local out kld ppl top1 bytes
  for _ in 1 2 3; do  # under load llama.cpp's tools sometimes lose the tail of their output
    out=$(lp "$2" --kl-divergence-base "$WORK/base.kld" --kl-divergence)
    kld=$(echo "$out" | awk '/^Mean +KLD:/{print $3}')
    ppl=$(echo "$out" | awk '/^Mean +PPL\(Q\)/{print $4}')
    top1=$(echo "$out" | awk '/^Same top p:/{print $4}')
    [ -n "$kld" ] && [ -n "$top1" ] && break
  done
  bytes=$(stat -c %s "$2")
  echo "$kld" > "$WORK/kl.$1"
  awk -v l="$1" -v b="$bytes" -v p="$ppl" -v bp="$base_ppl" -v k="$kld" -v t="$top1" -v n="$n_weights" \
    'BEGIN { printf "| %s | %d | %s | %.4f | %+.4f | %s | %s |\n", l, b, (n > 0 ? sprintf("%.3f", 8*b/n) : "–"), p, p-bp, k, t }'
}

echo "model $MODEL: F32 PPL $base_ppl on $(basename "$EVAL") (ctx $CTX); calibration $SAMPLES x $SEQ_LEN tokens of $(basename "$CALIB")"
echo
echo "| file | bytes | bpw | PPL | ΔPPL | mean KL | top-1 % |"
echo "|---|---|---|---|---|---|---|"
for type in $TYPES; do
  "$BIN/llama-quantize" "$F32" "$WORK/llama-$type.gguf" "$type" "$THREADS" > /dev/null 2>&1
  measure "llama.cpp $type" "$WORK/llama-$type.gguf"
  "$BIN/llama-quantize" --imatrix "$WORK/imatrix.gguf" "$F32" "$WORK/llama-imat-$type.gguf" "$type" "$THREADS" > /dev/null 2>&1
  measure "llama.cpp $type + imatrix" "$WORK/llama-imat-$type.gguf"
  for a in $ALGORITHMS; do
    args=(--algorithm "$a")
    [ "$a" = rtn ] || args+=(--calib-text "$CALIB" --samples "$SAMPLES" --seq-len "$SEQ_LEN")
    "$SHARDQ" quantize -q -m "$SRC" -o "$WORK/shardq-$a-$type.gguf" --type "$type" --threads "$THREADS" "${args[@]}"
    measure "shardq $type $a" "$WORK/shardq-$a-$type.gguf"
  done
  target=$(stat -c %s "$WORK/llama-imat-$type.gguf")
  for a in $MIXED; do
    "$SHARDQ" quantize -q -m "$SRC" -o "$WORK/shardq-mixed-$a-$type.gguf" --type "$type" --threads "$THREADS" \
      --algorithm "$a" --calib-text "$CALIB" --samples "$SAMPLES" --seq-len "$SEQ_LEN" --target-size "$target"
    measure "shardq $a, mixed to $type+imatrix's size" "$WORK/shardq-mixed-$a-$type.gguf"
    cp "$WORK/kl.shardq $a, mixed to $type+imatrix's size" "$WORK/kl.shardq $type mixed-$a"
  done
done
for bpw in $BPWS; do
  for a in $MIXED; do
    # A target below what the smallest types take (stories260K: the tokenizer and the
    # F32 norms alone are over 4 bits per weight) is refused by shardq: a row says so.
    if "$SHARDQ" quantize -q -m "$SRC" -o "$WORK/shardq-bpw-$a-$bpw.gguf" --type Q4_K_M --threads "$THREADS" \
      --algorithm "$a" --calib-text "$CALIB" --samples "$SAMPLES" --seq-len "$SEQ_LEN" --target-bpw "$bpw" \
      2> "$WORK/bpw.err"; then
      measure "shardq $a, mixed at $bpw bpw" "$WORK/shardq-bpw-$a-$bpw.gguf"
    else
      echo "| shardq $a, mixed at $bpw bpw | refused: $(sed 's/|/\\|/g' "$WORK/bpw.err" | head -1) | | | | | |"
    fi
  done
done
echo
echo "mean KL relative to llama.cpp's imatrix file of the same type:"
for type in $TYPES; do
  ref=$(cat "$WORK/kl.llama.cpp $type + imatrix")
  for a in $ALGORITHMS $(for m in $MIXED; do echo "mixed-$m"; done); do
    awk -v a="$a" -v t="$type" -v k="$(cat "$WORK/kl.shardq $type $a")" -v r="$ref" \
      'BEGIN { printf "  %-7s %-15s %.3fx\n", t, a, k / r }'
  done
done
