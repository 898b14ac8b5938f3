#include "worker/llama_weights.h"

#include <algorithm>
#include <string>
#include <utility>

namespace shardq {

void WeightMatrix::DequantizeRows(int64_t r0, int64_t n, float* out) const {
  for (int64_t r = 0; r < n; ++r) format->dequantize_row(row(r0 + r), out + r * cols, cols);
}

WeightMatrix OwnedF32Matrix(const float* values, int64_t rows, int64_t cols) {
  WeightMatrix m;
  m.format = FindBlockFormat(GgmlType::F32);
  m.rows = rows;
  m.cols = cols;
  const auto* bytes = reinterpret_cast<const uint8_t*>(values);
  m.owned.assign(bytes, bytes + static_cast<size_t>(rows * cols) * sizeof(float));
  m.data = m.owned.data();
  return m;
}

namespace {

std::string ShapeText(const std::vector<int64_t>& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) out += (i ? "x" : "") + std::to_string(s[i]);
  return out;
}

class Loader {
 public:
  Loader(Model& model, const LoadWeightsOptions& options) : model_(model), options_(options) {}

  Status Matrix(const std::string& name, int64_t rows, int64_t cols, WeightMatrix* out) {
    const TensorInfo* t = model_.source->Find(name);
    if (!t) return Status::NotFound(model_.path + ": tensor '" + name + "' is missing");
    if (t->shape.size() != 2 || t->shape[0] != rows || t->shape[1] != cols)
      return Status::Corruption(model_.path + ": tensor '" + name + "': shape " + ShapeText(t->shape) +
                                ", expected " + std::to_string(rows) + "x" + std::to_string(cols));
    out->rows = rows;
    out->cols = cols;
    const BlockFormat* stored = FindBlockFormat(t->type);
    const bool decodable = stored && stored->dequantize_row && stored->dot_f32;
    const bool keep = decodable && t->fix == LayoutFix::kNone && !options_.force_f32 &&
                      options_.requantize == GgmlType::F32;
    if (keep) {
      SHARDQ_ASSIGN_OR_RETURN(ByteSpan span, model_.source->RawBytes(*t));
      if (cols % stored->block_size != 0 || span.size != static_cast<uint64_t>(rows) * stored->row_bytes(cols))
        return Status::Corruption(model_.path + ": tensor '" + name + "': " + std::to_string(span.size) +
                                  " bytes do not hold " + std::to_string(rows) + " rows of " +
                                  std::to_string(cols) + " " + stored->name + " values");
      out->format = stored;
      out->data = span.data;
      // The zero-copy bytes skip ReadF32, so they are checked here: decoded a
      // tile of rows at a time, each value must be finite (a NaN weight gives
      // PPL nan, or a believable wrong one).
      return CheckDecodedFinite(*t, *out);
    }
    // Decode (applying any layout fix), then encode to the wanted type.
    std::vector<float> f32;
    SHARDQ_RETURN_IF_ERROR(model_.source->ReadF32(*t, &f32));
    const BlockFormat* target = FindBlockFormat(GgmlType::F32);
    if (!options_.force_f32 && options_.requantize != GgmlType::F32) {
      const BlockFormat* q = FindBlockFormat(options_.requantize);
      if (!q || !q->quantize_row || !q->dot_f32)
        return Status::Unsupported(std::string("cannot encode weights as ") + GgmlTypeName(options_.requantize));
      if (cols % q->block_size == 0) target = q;  // rows that do not fit stay F32, as llama.cpp falls back
    }
    out->format = target;
    out->owned.resize(static_cast<size_t>(rows) * target->row_bytes(cols));
    for (int64_t r = 0; r < rows; ++r)
      target->quantize_row(f32.data() + r * cols, out->owned.data() + r * target->row_bytes(cols), cols, nullptr);
    out->data = out->owned.data();
    return Status::OK();
  }

  static Status CheckDecodedFinite(const TensorInfo& t, const WeightMatrix& w) {
    const int64_t tile = std::max<int64_t>(1, std::min<int64_t>(w.rows, (int64_t{1} << 16) / w.cols));
    std::vector<float> buf(static_cast<size_t>(tile * w.cols));
    for (int64_t r0 = 0; r0 < w.rows; r0 += tile) {
      const int64_t n = std::min(tile, w.rows - r0);
      w.DequantizeRows(r0, n, buf.data());
      SHARDQ_RETURN_IF_ERROR(CheckFinite(t, buf.data(), n * w.cols, r0 * w.cols));
    }
    return Status::OK();
  }

  Status Vector(const std::string& name, int64_t n, std::vector<float>* out) {
    const TensorInfo* t = model_.source->Find(name);
    if (!t) return Status::NotFound(model_.path + ": tensor '" + name + "' is missing");
    if (t->n_elements() != n)
      return Status::Corruption(model_.path + ": tensor '" + name + "': shape " + ShapeText(t->shape) +
                                ", expected " + std::to_string(n) + " values");
    return model_.source->ReadF32(*t, out);
  }

 private:
  Model& model_;
  const LoadWeightsOptions& options_;
};

Status CheckConfig(const Model& m) {
  const LlamaConfig& c = m.config;
  if (c.dim <= 0 || c.hidden_dim <= 0 || c.n_layers <= 0 || c.n_heads <= 0 || c.n_kv_heads <= 0 ||
      c.vocab_size <= 0)
    return Status::InvalidArgument(m.path + ": model config has a zero or negative size");
  if (c.dim % c.n_heads != 0 || c.n_heads % c.n_kv_heads != 0 || c.head_dim() % 2 != 0)
    return Status::InvalidArgument(m.path + ": dim " + std::to_string(c.dim) + ", " + std::to_string(c.n_heads) +
                                   " heads, " + std::to_string(c.n_kv_heads) +
                                   " kv heads do not split into even-sized heads");
  return Status::OK();
}

}  // namespace

Result<std::unique_ptr<LlamaWeights>> LlamaWeights::Load(Model model, const LoadWeightsOptions& options) {
  SHARDQ_RETURN_IF_ERROR(CheckConfig(model));
  std::unique_ptr<LlamaWeights> w(new LlamaWeights());
  w->model_ = std::move(model);
  Model& m = w->model_;
  const LlamaConfig& c = m.config;
  const int64_t kv_dim = c.n_kv_heads * c.head_dim();
  Loader load(m, options);
  w->tied_ = m.source->Find("output.weight") == nullptr;
  // A tied head reads the embedding matrix.
  if (options.embeddings || (options.head && w->tied_))
    SHARDQ_RETURN_IF_ERROR(load.Matrix("token_embd.weight", c.vocab_size, c.dim, &w->token_embd_));
  if (options.head) {
    SHARDQ_RETURN_IF_ERROR(load.Vector("output_norm.weight", c.dim, &w->output_norm_));
    if (!w->tied_) SHARDQ_RETURN_IF_ERROR(load.Matrix("output.weight", c.vocab_size, c.dim, &w->output_));
  }
  w->layers_.resize(c.n_layers);
  const int64_t end = options.layer_end < 0 ? c.n_layers : std::min(options.layer_end, c.n_layers);
  for (int64_t i = std::max<int64_t>(0, options.layer_begin); i < end; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    LlamaLayerWeights& l = w->layers_[i];
    SHARDQ_RETURN_IF_ERROR(load.Vector(p + "attn_norm.weight", c.dim, &l.attn_norm));
    SHARDQ_RETURN_IF_ERROR(load.Vector(p + "ffn_norm.weight", c.dim, &l.ffn_norm));
    SHARDQ_RETURN_IF_ERROR(load.Matrix(p + "attn_q.weight", c.dim, c.dim, &l.wq));
    SHARDQ_RETURN_IF_ERROR(load.Matrix(p + "attn_k.weight", kv_dim, c.dim, &l.wk));
    SHARDQ_RETURN_IF_ERROR(load.Matrix(p + "attn_v.weight", kv_dim, c.dim, &l.wv));
    SHARDQ_RETURN_IF_ERROR(load.Matrix(p + "attn_output.weight", c.dim, c.dim, &l.wo));
    SHARDQ_RETURN_IF_ERROR(load.Matrix(p + "ffn_gate.weight", c.hidden_dim, c.dim, &l.w_gate));
    SHARDQ_RETURN_IF_ERROR(load.Matrix(p + "ffn_up.weight", c.hidden_dim, c.dim, &l.w_up));
    SHARDQ_RETURN_IF_ERROR(load.Matrix(p + "ffn_down.weight", c.dim, c.hidden_dim, &l.w_down));
  }
  return w;
}

std::unique_ptr<LlamaWeights> LlamaWeights::FromLayers(const LlamaConfig& config,
                                                      std::vector<LlamaLayerWeights> layers) {
  std::unique_ptr<LlamaWeights> w(new LlamaWeights());
  w->model_.config = config;
  w->model_.config.n_layers = static_cast<int64_t>(layers.size());
  w->layers_ = std::move(layers);
  return w;
}

uint64_t LlamaWeights::bytes_per_token() const {
  uint64_t total = output().nbytes();
  for (const auto& l : layers_)
    total += l.wq.nbytes() + l.wk.nbytes() + l.wv.nbytes() + l.wo.nbytes() + l.w_gate.nbytes() +
             l.w_up.nbytes() + l.w_down.nbytes();
  return total;
}

WeightMatrix* LlamaWeights::FindMatrix(const std::string& name) {
  if (name == "token_embd.weight") return token_embd_.format ? &token_embd_ : nullptr;
  if (name == "output.weight") return !tied_ && output_.format ? &output_ : nullptr;
  if (name.rfind("blk.", 0) != 0) return nullptr;
  const size_t dot = name.find('.', 4);
  if (dot == std::string::npos) return nullptr;
  int64_t i = -1;
  try {
    i = std::stoll(name.substr(4, dot - 4));
  } catch (const std::exception&) {
    return nullptr;
  }
  if (i < 0 || i >= static_cast<int64_t>(layers_.size())) return nullptr;
  LlamaLayerWeights& l = layers_[i];
  const std::string what = name.substr(dot + 1);
  WeightMatrix* m = what == "attn_q.weight"        ? &l.wq
                    : what == "attn_k.weight"      ? &l.wk
                    : what == "attn_v.weight"      ? &l.wv
                    : what == "attn_output.weight" ? &l.wo
                    : what == "ffn_gate.weight"    ? &l.w_gate
                    : what == "ffn_up.weight"      ? &l.w_up
                    : what == "ffn_down.weight"    ? &l.w_down
                                                   : nullptr;
  return m && m->format ? m : nullptr;
}

}  // namespace shardq
