// One transformer block's weights decoded to F32, as the stages that rewrite
// weights (AWQ) take them: plain vectors the stage may change in place, then
// hand on to the quantizer.
#pragma once

#include <cstdint>
#include <vector>

#include "common/model.h"
#include "common/status.h"
#include "worker/llama_weights.h"

namespace shardq {

// Row-major in ggml's orientation: a row is one output channel, `dim` or
// `hidden_dim` input values long (wq {dim, dim}, wk/wv {kv_dim, dim},
// wo {dim, dim}, w_gate/w_up {hidden, dim}, w_down {dim, hidden}).
struct BlockWeightsF32 {
  std::vector<float> attn_norm, ffn_norm;
  std::vector<float> wq, wk, wv, wo;
  std::vector<float> w_gate, w_up, w_down;
};

// Every vector has the size `config` gives it; the message names the first that does not.
Status CheckBlockShapes(const LlamaConfig& config, const BlockWeightsF32& w);

// Decodes a loaded block (any stored format) to F32.
BlockWeightsF32 BlockFromLayer(const LlamaLayerWeights& layer);
// F32 matrices holding copies of `w`, for LlamaForward.
LlamaLayerWeights LayerFromBlock(const LlamaConfig& config, const BlockWeightsF32& w);

}  // namespace shardq
