#include "worker/block_forward_f32.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "worker/llama_forward.h"

namespace shardq {

Status RunBlockF32(const LlamaConfig& config, const BlockWeightsF32& w, std::span<const float> input,
                   int64_t n_windows, int64_t seq_len, const BlockRunOptions& options, BlockRunCapture* out) {
  SHARDQ_RETURN_IF_ERROR(CheckBlockShapes(config, w));
  const int64_t dim = config.dim, hidden = config.hidden_dim;
  if (n_windows <= 0 || seq_len <= 0)
    return Status::InvalidArgument("block forward: " + std::to_string(n_windows) + " windows of " +
                                   std::to_string(seq_len) + " tokens: no activations");
  if (static_cast<int64_t>(input.size()) != n_windows * seq_len * dim)
    return Status::InvalidArgument("block forward: " + std::to_string(input.size()) + " input values, expected " +
                                   std::to_string(n_windows) + " windows x " + std::to_string(seq_len) +
                                   " tokens x dim " + std::to_string(dim));
  const int64_t n = n_windows * seq_len;
  const std::vector<int64_t>& keep = options.captured_tokens;
  for (size_t i = 0; i < keep.size(); ++i)
    if (keep[i] < 0 || keep[i] >= n || (i > 0 && keep[i] <= keep[i - 1]))
      return Status::InvalidArgument("block forward: captured token " + std::to_string(keep[i]) +
                                     " is out of order or outside the " + std::to_string(n) + " tokens");
  std::vector<LlamaLayerWeights> layers;
  layers.push_back(LayerFromBlock(config, w));
  const std::unique_ptr<LlamaWeights> weights = LlamaWeights::FromLayers(config, std::move(layers));
  ForwardOptions fo;
  fo.max_context = seq_len;
  fo.n_threads = options.n_threads;
  LlamaForward forward(*weights, fo);

  out->n_tokens = n;
  out->output.assign(input.begin(), input.end());
  const int64_t n_cap = !options.capture_inputs ? 0 : keep.empty() ? n : static_cast<int64_t>(keep.size());
  out->n_captured = n_cap;
  for (auto* v : {&out->attn_in, &out->attn_mix, &out->ffn_in}) v->assign(n_cap * dim, 0.0f);
  out->down_in.assign(n_cap * hidden, 0.0f);
  int64_t window = 0;
  // This window's captured rows: [first, last) of keep (or the whole window).
  size_t first = 0, last = 0;
  if (options.capture_inputs) {
    // The observer names each input by its consumer; one of each shared input is kept.
    forward.SetLinearInputObserver([&](const std::string& name, const float* x, int64_t rows, int64_t cols) {
      std::vector<float>* dst = nullptr;
      if (name == "blk.0.attn_q.weight") dst = &out->attn_in;
      else if (name == "blk.0.attn_output.weight") dst = &out->attn_mix;
      else if (name == "blk.0.ffn_gate.weight") dst = &out->ffn_in;
      else if (name == "blk.0.ffn_down.weight") dst = &out->down_in;
      if (!dst) return;
      if (keep.empty()) {
        std::memcpy(dst->data() + window * seq_len * cols, x, sizeof(float) * rows * cols);
        return;
      }
      for (size_t i = first; i < last; ++i)
        std::memcpy(dst->data() + i * cols, x + (keep[i] - window * seq_len) * cols, sizeof(float) * cols);
    });
  }
  for (window = 0; window < n_windows; ++window) {
    first = last;
    while (last < keep.size() && keep[last] < (window + 1) * seq_len) ++last;
    forward.Reset();
    forward.RunLayers(0, 1, seq_len, out->output.data() + window * seq_len * dim);
    forward.Advance(seq_len);
  }
  return Status::OK();
}

}  // namespace shardq
