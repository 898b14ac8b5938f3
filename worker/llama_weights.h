// A Llama model's weights held for inference. Matrices stay in their stored
// block format (F32/F16/BF16 or a quantized type) and are decoded on the fly by
// the block format table's dot / dequantize; norms are F32.
#pragma once

#include <cstdint>
#include <memory>
#include <utility>
#include <string>
#include <vector>

#include "common/model.h"
#include "common/status.h"
#include "kernels/block_format.h"

namespace shardq {

// One weight matrix of `rows` rows, each `cols` values encoded in `format`.
struct WeightMatrix {
  const BlockFormat* format = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
  // Either zero-copy bytes of the mapped model file or `owned` (re-encoded, or
  // decoded with a layout fix); valid while the LlamaWeights lives.
  const uint8_t* data = nullptr;
  std::vector<uint8_t> owned;

  size_t row_bytes() const { return format->row_bytes(cols); }
  const uint8_t* row(int64_t r) const { return data + static_cast<size_t>(r) * row_bytes(); }
  uint64_t nbytes() const { return static_cast<uint64_t>(rows) * row_bytes(); }
  // Decodes rows [r0, r0 + n) into out (n * cols floats).
  void DequantizeRows(int64_t r0, int64_t n, float* out) const;
};

// A matrix holding its own copy of `values` (rows x cols floats, row-major) as F32.
WeightMatrix OwnedF32Matrix(const float* values, int64_t rows, int64_t cols);

struct LlamaLayerWeights {
  std::vector<float> attn_norm, ffn_norm;  // dim
  WeightMatrix wq, wk, wv, wo;             // {dim, dim}, {kv_dim, dim} x2, {dim, dim}
  WeightMatrix w_gate, w_up, w_down;       // {hidden, dim} x2, {dim, hidden}
};

struct LoadWeightsOptions {
  // When set (not F32), every 2-D matrix whose row length fits the block size is
  // re-encoded in memory to this type (benchmarks, in-memory quantization tests).
  // F32 here means "keep the stored types".
  GgmlType requantize = GgmlType::F32;
  // Re-encode 2-D matrices to F32 regardless of their stored type.
  bool force_f32 = false;
  // A pipeline stage loads only what it runs: blocks [layer_begin, layer_end)
  // (layer_end < 0: to the last), the embeddings, the head. Blocks outside the
  // range are left empty and must not be run.
  int64_t layer_begin = 0, layer_end = -1;
  bool embeddings = true;
  bool head = true;
};

class LlamaWeights {
 public:
  // Takes the opened model (its mapped file backs zero-copy matrices).
  static Result<std::unique_ptr<LlamaWeights>> Load(Model model, const LoadWeightsOptions& options = {});
  // Blocks without a model file (no embeddings, no head): what a stage runs when it
  // holds one block's weights in memory, e.g. to measure a transformed block
  // (AWQ) with this forward pass instead of a second one. config.n_layers is set to
  // layers.size(); only RunLayers may be called on a forward over the result.
  static std::unique_ptr<LlamaWeights> FromLayers(const LlamaConfig& config, std::vector<LlamaLayerWeights> layers);

  const LlamaConfig& config() const { return model_.config; }
  const Model& model() const { return model_; }
  const WeightMatrix& token_embd() const { return token_embd_; }
  // output.weight, or token_embd.weight when the head is tied.
  const WeightMatrix& output() const { return tied_ ? token_embd_ : output_; }
  const std::vector<float>& output_norm() const { return output_norm_; }
  const std::vector<LlamaLayerWeights>& layers() const { return layers_; }
  // Replaces block i (same shapes), so a whole model can run with transformed blocks.
  void SetLayer(int64_t i, LlamaLayerWeights layer) { layers_[i] = std::move(layer); }
  // The matrix named by its GGUF name ("blk.3.attn_q.weight", "token_embd.weight",
  // "output.weight" when untied), for stages that swap one matrix's encoding
  // (sensitivity measurement); nullptr for other names or blocks not loaded.
  WeightMatrix* FindMatrix(const std::string& name);
  // Bytes of every matrix a token's forward reads (all layers plus the head).
  uint64_t bytes_per_token() const;

 private:
  LlamaWeights() = default;
  Model model_;
  bool tied_ = false;
  WeightMatrix token_embd_, output_;
  std::vector<float> output_norm_;
  std::vector<LlamaLayerWeights> layers_;
};

}  // namespace shardq
