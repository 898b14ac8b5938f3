#!/usr/bin/env bash
# llama.cpp's perplexity tool measures shardq's files against the F32 reference:
# mean KL and top-1 agreement must be as good as llama.cpp's own quantizations
# of the same model (llama-cpp-results.md), within a small margin.
source "$(dirname "$0")/lib.bash"
need_llama llama-perplexity
TEXT="$SHARDQ_SHARED/corpus/shakespeare-eval.txt"
F32="$GOLDEN/gguf/shakespeare-5m-F32.gguf"

timeout 300 "$LLAMA_BIN/llama-perplexity" -m "$F32" -f "$TEXT" -c 128 -b 128 -t 2 --no-warmup \
  --kl-divergence-base "$WORK/base.kld" > "$WORK/base.log" 2>&1 || { tail "$WORK/base.log"; exit 1; }

# llama.cpp's own numbers for its file of the same type (ctx 128).
golden_row() { grep "| shakespeare-5m-$1.gguf | shakespeare-eval.txt | 128 |" "$GOLDEN/gguf/llama-cpp-results.md"; }

for type in Q8_0 Q6_K Q4_K_M Q4_0; do
  quantize "$MODELS/shakespeare-5m" "$WORK/$type.gguf" $type
  # Under load llama.cpp's tools sometimes lose the tail of their output at exit
  # (see greedy_is in lib.bash): a run whose summary lines are missing is run
  # again, up to 3 times; numbers that are there are never retried.
  for _ in 1 2 3; do
    out=$(timeout 300 "$LLAMA_BIN/llama-perplexity" -m "$WORK/$type.gguf" -f "$TEXT" -c 128 -b 128 -t 2 \
          --no-warmup --kl-divergence-base "$WORK/base.kld" --kl-divergence 2>&1)
    kld=$(echo "$out" | awk '/^Mean +KLD:/{print $3}')
    top1=$(echo "$out" | awk '/^Same top p:/{print $4}')
    [ -n "$kld" ] && [ -n "$top1" ] && break
  done
  [ -n "$kld" ] || echo "$out" | tail -5
  row=$(golden_row $type)
  ref_kld=$(echo "$row" | awk -F'|' '{gsub(/ /,"",$6); print $6}')
  ref_top1=$(echo "$row" | awk -F'|' '{gsub(/ /,"",$7); print $7}')
  if [ -z "$kld" ] || [ -z "$ref_kld" ]; then fail "$type: no KL (got '$kld', reference '$ref_kld')"; continue; fi
  # Within 10% (+1e-5 absolute) of llama.cpp's KL, and top-1 no more than 0.5 points below.
  if awk -v k="$kld" -v r="$ref_kld" -v t="$top1" -v rt="$ref_top1" \
       'BEGIN { exit !(k <= r * 1.10 + 1e-5 && t >= rt - 0.5) }'; then
    pass "$type: mean KL $kld (llama.cpp $ref_kld), top-1 $top1% (llama.cpp $ref_top1%)"
  else
    fail "$type: mean KL $kld (llama.cpp $ref_kld), top-1 $top1% (llama.cpp $ref_top1%)"
  fi
done
finish
