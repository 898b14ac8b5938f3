#!/usr/bin/env bash
# shardq against llama-quantize run here on the same F32 model:
#  - every preset picks the same type for every tensor (both shared models), and both
#    files list every tensor of the source;
#  - where llama-quantize refuses a preset (legacy types on 172-wide rows), shardq's
#    F16 fallback equals llama-quantize run with --tensor-type ffn_down=f16;
#  - the tensor bytes are identical, both with the SIMD encoders this CPU runs and
#    with the scalar references (SHARDQ_FORCE_SCALAR=1): the block layouts, ggml's
#    rounding and its scale searches are reproduced exactly.
source "$(dirname "$0")/lib.bash"
need_llama llama-quantize

types_of() { "$SHARDQ" inspect --hashes "$1" | awk '/^sha256 /{print $2, $3}'; }
hashes_of() { "$SHARDQ" inspect --hashes "$1" | awk '/^sha256 /{print $2, $3, $4}'; }

for model in shakespeare-5m stories260K; do
  if [ $model = shakespeare-5m ]; then src="$GOLDEN/gguf/shakespeare-5m-F32.gguf"; else src="$MODELS/stories260K/stories260K.gguf"; fi
  n_src=$(types_of "$src" | wc -l)
  [ "$n_src" -gt 0 ] || fail "$model: no tensors listed in $src"
  for preset in Q8_0 Q6_K Q5_K_M Q5_K_S Q4_K_M Q4_K_S Q4_0 Q3_K_M Q3_K_S Q3_K_L Q2_K TQ2_0 TQ1_0; do
    fallback=
    if ! "$LLAMA_BIN/llama-quantize" "$src" "$WORK/ref.gguf" $preset 2 > "$WORK/ref.log" 2>&1; then
      # llama-quantize has no fallback for legacy types on rows that do not divide 32
      # (stories260K's 172-wide ffn_down) and stops; shardq writes those tensors as F16.
      # The reference is then llama-quantize told to do just that (--tensor-type ffn_down=f16).
      if grep -q "no tensor type fallback" "$WORK/ref.log" && grep -q "ffn_down.weight .*not divisible" "$WORK/ref.log"; then
        fallback=" (ffn_down F16: llama-quantize refuses without --tensor-type ffn_down=f16)"
        "$LLAMA_BIN/llama-quantize" --tensor-type ffn_down=f16 "$src" "$WORK/ref.gguf" $preset 2 > "$WORK/ref.log" 2>&1 ||
          { fail "$model $preset: llama-quantize --tensor-type ffn_down=f16 failed: $(tail -1 "$WORK/ref.log")"; continue; }
        types_of "$WORK/ref.gguf" | grep -q "ffn_down.weight F16$" || fail "$model $preset: reference has no F16 ffn_down"
      else
        fail "$model $preset: llama-quantize failed: $(tail -1 "$WORK/ref.log")"; continue
      fi
    fi
    quantize "$src" "$WORK/ours.gguf" $preset
    SHARDQ_FORCE_SCALAR=1 quantize "$src" "$WORK/ours-scalar.gguf" $preset
    if ! cmp -s "$WORK/ours.gguf" "$WORK/ours-scalar.gguf"; then
      fail "$model $preset: SIMD and scalar encoders wrote different files"
    fi
    # Empty lists would compare equal: both files must list every tensor of the source.
    n_ref=$(types_of "$WORK/ref.gguf" | wc -l); n_ours=$(types_of "$WORK/ours.gguf" | wc -l)
    if [ "$n_src" -eq 0 ] || [ "$n_ref" -ne "$n_src" ] || [ "$n_ours" -ne "$n_src" ]; then
      fail "$model $preset: tensor counts: source $n_src, llama-quantize $n_ref, shardq $n_ours"; continue
    fi
    if ! diff <(types_of "$WORK/ref.gguf") <(types_of "$WORK/ours.gguf") > "$WORK/types.diff"; then
      fail "$model $preset: tensor types differ from llama-quantize's:"; head -5 "$WORK/types.diff"; continue
    fi
    if diff <(hashes_of "$WORK/ref.gguf") <(hashes_of "$WORK/ours.gguf") > "$WORK/bytes.diff"; then
      pass "$model $preset: same types and identical tensor bytes ($n_src tensors)$fallback"
    else
      fail "$model $preset: same types, but $(grep -c '^>' "$WORK/bytes.diff") tensor(s) differ in bytes:"
      grep '^>' "$WORK/bytes.diff" | head -3
    fi
  done
done
finish
