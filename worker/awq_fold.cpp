#include "worker/awq_fold.h"

#include <cmath>
#include <string>

namespace shardq {

namespace {

void ScaleColumns(std::vector<float>& w, const std::vector<float>& s) {
  const size_t cols = s.size();
  for (size_t i = 0; i < w.size(); ++i) w[i] *= s[i % cols];
}

// Row r of w (row length cols) divided by s[r].
void DivideRows(std::vector<float>& w, const std::vector<float>& s, size_t cols) {
  for (size_t i = 0; i < w.size(); ++i) w[i] /= s[i / cols];
}

Status CheckScales(const char* what, const std::vector<float>& s, int64_t n) {
  if (s.empty()) return Status::OK();
  if (static_cast<int64_t>(s.size()) != n)
    return Status::InvalidArgument(std::string("AWQ fold: ") + what + " scales: " + std::to_string(s.size()) +
                                   " values, expected " + std::to_string(n));
  for (size_t j = 0; j < s.size(); ++j)
    if (!(s[j] > 0) || !std::isfinite(s[j]))
      return Status::InvalidArgument(std::string("AWQ fold: ") + what + " scale " + std::to_string(j) + " is " +
                                     std::to_string(s[j]) + ", not a positive finite number");
  return Status::OK();
}

}  // namespace

Status FoldAwqScales(const LlamaConfig& c, const AwqScaleSet& s, BlockWeightsF32* w) {
  SHARDQ_RETURN_IF_ERROR(CheckBlockShapes(c, *w));
  const int64_t dim = c.dim, hd = c.head_dim(), group = c.n_heads / c.n_kv_heads;
  SHARDQ_RETURN_IF_ERROR(CheckScales("qkv", s.qkv, dim));
  SHARDQ_RETURN_IF_ERROR(CheckScales("attn_output", s.attn_out, dim));
  SHARDQ_RETURN_IF_ERROR(CheckScales("gate/up", s.gate_up, dim));
  SHARDQ_RETURN_IF_ERROR(CheckScales("down", s.down, c.hidden_dim));
  std::vector<float> v_rows;  // attn_out's scale per v row
  if (!s.attn_out.empty()) {
    v_rows.resize(static_cast<size_t>(c.n_kv_heads * hd));
    for (int64_t h = 0; h < c.n_heads; ++h)
      for (int64_t d = 0; d < hd; ++d) {
        const float sc = s.attn_out[h * hd + d];
        float& row = v_rows[(h / group) * hd + d];
        if (h % group == 0) {
          row = sc;
        } else if (row != sc) {
          return Status::InvalidArgument("AWQ fold: attn_output scales differ between heads " +
                                         std::to_string(h - h % group) + " and " + std::to_string(h) +
                                         ", which share kv head " + std::to_string(h / group) + " (channel " +
                                         std::to_string(d) + ")");
        }
      }
  }
  if (!s.qkv.empty()) {
    for (int64_t j = 0; j < dim; ++j) w->attn_norm[j] /= s.qkv[j];
    ScaleColumns(w->wq, s.qkv);
    ScaleColumns(w->wk, s.qkv);
    ScaleColumns(w->wv, s.qkv);
  }
  if (!s.attn_out.empty()) {
    DivideRows(w->wv, v_rows, static_cast<size_t>(dim));
    ScaleColumns(w->wo, s.attn_out);
  }
  if (!s.gate_up.empty()) {
    for (int64_t j = 0; j < dim; ++j) w->ffn_norm[j] /= s.gate_up[j];
    ScaleColumns(w->w_gate, s.gate_up);
    ScaleColumns(w->w_up, s.gate_up);
  }
  if (!s.down.empty()) {
    DivideRows(w->w_up, s.down, static_cast<size_t>(dim));
    ScaleColumns(w->w_down, s.down);
  }
  return Status::OK();
}

}  // namespace shardq
