#include "worker/block_forward_f32.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "worker/llama_forward.h"

namespace shardq {

Status RunBlockF32(const LlamaConfig& config, const BlockWeightsF32& w, std::span<const float> input,
                   int64_t n_windows, int64_t seq_len, bool capture_inputs, BlockActivations* out) {
  SHARDQ_RETURN_IF_ERROR(CheckBlockShapes(config, w));
  const int64_t dim = config.dim, hidden = config.hidden_dim;
  if (n_windows <= 0 || seq_len <= 0)
    return Status::InvalidArgument("block forward: " + std::to_string(n_windows) + " windows of " +
                                   std::to_string(seq_len) + " tokens: no activations");
  if (static_cast<int64_t>(input.size()) != n_windows * seq_len * dim)
    return Status::InvalidArgument("block forward: " + std::to_string(input.size()) + " input values, expected " +
                                   std::to_string(n_windows) + " windows x " + std::to_string(seq_len) +
                                   " tokens x dim " + std::to_string(dim));
  std::vector<LlamaLayerWeights> layers;
  layers.push_back(LayerFromBlock(config, w));
  const std::unique_ptr<LlamaWeights> weights = LlamaWeights::FromLayers(config, std::move(layers));
  ForwardOptions fo;
  fo.max_context = seq_len;
  fo.n_threads = 1;  // the stage's caller parallelizes over blocks; bits independent of threads anyway
  LlamaForward forward(*weights, fo);

  const int64_t n = n_windows * seq_len;
  out->n_tokens = n;
  out->output.assign(input.begin(), input.end());
  for (auto* v : {&out->attn_in, &out->attn_mix, &out->ffn_in}) v->assign(capture_inputs ? n * dim : 0, 0.0f);
  out->down_in.assign(capture_inputs ? n * hidden : 0, 0.0f);
  int64_t window = 0;
  if (capture_inputs) {
    // The observer names each input by its consumer; one of each shared input is kept.
    forward.SetLinearInputObserver([&](const std::string& name, const float* x, int64_t rows, int64_t cols) {
      std::vector<float>* dst = nullptr;
      if (name == "blk.0.attn_q.weight") dst = &out->attn_in;
      else if (name == "blk.0.attn_output.weight") dst = &out->attn_mix;
      else if (name == "blk.0.ffn_gate.weight") dst = &out->ffn_in;
      else if (name == "blk.0.ffn_down.weight") dst = &out->down_in;
      if (dst) std::memcpy(dst->data() + window * seq_len * cols, x, sizeof(float) * rows * cols);
    });
  }
  for (window = 0; window < n_windows; ++window) {
    forward.Reset();
    forward.RunLayers(0, 1, seq_len, out->output.data() + window * seq_len * dim);
    forward.Advance(seq_len);
  }
  return Status::OK();
}

}  // namespace shardq
