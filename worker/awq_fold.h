// Folding AWQ's per-channel scales into the block so that the result is an
// ordinary Llama block (llama.cpp runs it unmodified): each linear's weight
// columns are multiplied by s, and whatever produces that linear's input is
// divided by s, so in exact arithmetic the block computes the same function.
#pragma once

#include <vector>

#include "common/model.h"
#include "common/status.h"
#include "worker/block_weights_f32.h"

namespace shardq {

// An empty vector leaves its group alone.
struct AwqScaleSet {
  std::vector<float> qkv;        // dim: attn_q/k/v columns; 1/s into attn_norm
  std::vector<float> attn_out;   // dim: attn_output columns; 1/s into attn_v rows
  std::vector<float> gate_up;    // dim: ffn_gate/up columns; 1/s into ffn_norm
  std::vector<float> down;       // hidden: ffn_down columns; 1/s into ffn_up rows
};

// attn_output's input channel h * head_dim + d is head h's mix of v row
// (h / group) * head_dim + d, where group = n_heads / n_kv_heads: under GQA
// several heads read one v row, so attn_out must be equal across the heads
// that share a kv head (an error otherwise: there is no single row to divide).
// Dividing ffn_up's row j divides silu(gate)_j * up_j, ffn_down's input j.
Status FoldAwqScales(const LlamaConfig& config, const AwqScaleSet& scales, BlockWeightsF32* w);

}  // namespace shardq
