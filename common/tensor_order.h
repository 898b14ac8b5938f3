// The canonical order of tensors in every artifact shardq writes: a function of
// the names alone, so the same model read from any format (or by any number of
// ranks) is assembled identically.
//   token_embd.weight; then for blk.0, blk.1, ...: attn_norm, attn_q, attn_k,
//   attn_v, attn_output, ffn_norm, ffn_gate, ffn_up, ffn_down (other names of a
//   block after these, by name); output_norm.weight; output.weight; anything
//   else by name.
#pragma once

#include <cstddef>
#include <vector>

#include "common/tensor_info.h"

namespace shardq {

// Indices into `tensors` in canonical order.
std::vector<size_t> CanonicalTensorOrder(const std::vector<TensorInfo>& tensors);

}  // namespace shardq
