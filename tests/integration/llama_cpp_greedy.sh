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
  got=$(llama_greedy "$WORK/sh-$type.gguf" "ROMEO:" 24)
  [ "$got" = "$want" ] && pass "shakespeare-5m $type: '$got'" || fail "shakespeare-5m $type: got '$got', want '$want'"
done

# Q4_K_M: fluent text that begins like the reference (same first line).
quantize "$MODELS/shakespeare-5m" "$WORK/sh-q4km.gguf" Q4_K_M
got=$(llama_greedy "$WORK/sh-q4km.gguf" "ROMEO:" 24)
case "$got" in
  "|There is the "*) pass "shakespeare-5m Q4_K_M: '$got'" ;;
  *) fail "shakespeare-5m Q4_K_M: got '$got'" ;;
esac

want=$(golden_greedy stories260K-Q4_K_M.gguf)
for src in "$MODELS/stories260K/stories260K.gguf" "$MODELS/stories260K/stories260K.bin" "$MODELS/stories260K"; do
  for type in Q4_K_M Q8_0; do
    quantize "$src" "$WORK/st.gguf" $type
    got=$(llama_greedy "$WORK/st.gguf" "" 24)
    [ "$got" = "$want" ] && pass "stories260K $type from $(basename "$src")" ||
      fail "stories260K $type from $src: got '$got', want '$want'"
  done
done
finish
