#!/usr/bin/env bash
# llama.cpp loads what shardq writes and continues the prompt greedily exactly as
# it does from the F32 reference (Q8_0), and as from its own Q4_K_M (stories260K),
# whatever format the source model came in.
source "$(dirname "$0")/lib.bash"
need_llama llama-completion

want=$(golden_greedy shakespeare-5m-F32.gguf)
[ -n "$want" ] || { echo "golden greedy text not found"; exit 1; }
for type in Q8_0 Q6_K; do
  quantize "$MODELS/shakespeare-5m" "$WORK/sh-$type.gguf" $type
  if got=$(greedy_is "$WORK/sh-$type.gguf" "ROMEO:" "$want"); then pass "shakespeare-5m $type: '$got'"
  else fail "shakespeare-5m $type: got '$got', want '$want'"; fi
done

# Q4_K_M: fluent text that begins like the reference (same first line).
quantize "$MODELS/shakespeare-5m" "$WORK/sh-q4km.gguf" Q4_K_M
for _ in 1 2 3 4 5 6 7 8 9 10; do  # retried only while the output is shorter than the part checked (see greedy_is)
  got=$(llama_greedy "$WORK/sh-q4km.gguf" "ROMEO:" 24)
  [ ${#got} -ge 20 ] && break
done
case "$got" in
  "|There is the "*) pass "shakespeare-5m Q4_K_M: '$got'" ;;
  *) fail "shakespeare-5m Q4_K_M: got '$got'" ;;
esac

want=$(golden_greedy stories260K-Q4_K_M.gguf)
for src in "$MODELS/stories260K/stories260K.gguf" "$MODELS/stories260K/stories260K.bin" "$MODELS/stories260K"; do
  for type in Q4_K_M Q8_0; do
    quantize "$src" "$WORK/st.gguf" $type
    if got=$(greedy_is "$WORK/st.gguf" "" "$want"); then pass "stories260K $type from $(basename "$src")"
    else fail "stories260K $type from $src: got '$got', want '$want'"; fi
  done
done
finish
