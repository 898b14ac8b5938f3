#include "worker/block_weights_f32.h"

#include <string>

namespace shardq {

namespace {

std::vector<float> Decode(const WeightMatrix& m) {
  std::vector<float> out(static_cast<size_t>(m.rows * m.cols));
  m.DequantizeRows(0, m.rows, out.data());
  return out;
}

}  // namespace

Status CheckBlockShapes(const LlamaConfig& c, const BlockWeightsF32& w) {
  if (c.dim <= 0 || c.hidden_dim <= 0 || c.n_heads <= 0 || c.n_kv_heads <= 0 || c.dim % c.n_heads != 0 ||
      c.n_heads % c.n_kv_heads != 0)
    return Status::InvalidArgument("block weights: config dim " + std::to_string(c.dim) + ", " +
                                   std::to_string(c.n_heads) + " heads, " + std::to_string(c.n_kv_heads) +
                                   " kv heads, hidden " + std::to_string(c.hidden_dim) + " is not a valid block");
  const int64_t dim = c.dim, kv = c.n_kv_heads * c.head_dim(), hid = c.hidden_dim;
  struct Want {
    const char* name;
    const std::vector<float>& v;
    int64_t n;
  };
  const Want wants[] = {{"attn_norm", w.attn_norm, dim}, {"ffn_norm", w.ffn_norm, dim},  {"attn_q", w.wq, dim * dim},
                        {"attn_k", w.wk, kv * dim},      {"attn_v", w.wv, kv * dim},     {"attn_output", w.wo, dim * dim},
                        {"ffn_gate", w.w_gate, hid * dim}, {"ffn_up", w.w_up, hid * dim}, {"ffn_down", w.w_down, dim * hid}};
  for (const Want& x : wants)
    if (static_cast<int64_t>(x.v.size()) != x.n)
      return Status::InvalidArgument(std::string("block weights: ") + x.name + " has " + std::to_string(x.v.size()) +
                                     " values, expected " + std::to_string(x.n));
  return Status::OK();
}

BlockWeightsF32 BlockFromLayer(const LlamaLayerWeights& l) {
  return {l.attn_norm, l.ffn_norm, Decode(l.wq),     Decode(l.wk),  Decode(l.wv),
          Decode(l.wo), Decode(l.w_gate), Decode(l.w_up), Decode(l.w_down)};
}

LlamaLayerWeights LayerFromBlock(const LlamaConfig& c, const BlockWeightsF32& w) {
  const int64_t dim = c.dim, kv = c.n_kv_heads * c.head_dim(), hid = c.hidden_dim;
  LlamaLayerWeights l;
  l.attn_norm = w.attn_norm;
  l.ffn_norm = w.ffn_norm;
  l.wq = OwnedF32Matrix(w.wq.data(), dim, dim);
  l.wk = OwnedF32Matrix(w.wk.data(), kv, dim);
  l.wv = OwnedF32Matrix(w.wv.data(), kv, dim);
  l.wo = OwnedF32Matrix(w.wo.data(), dim, dim);
  l.w_gate = OwnedF32Matrix(w.w_gate.data(), hid, dim);
  l.w_up = OwnedF32Matrix(w.w_up.data(), hid, dim);
  l.w_down = OwnedF32Matrix(w.w_down.data(), dim, hid);
  return l;
}

}  // namespace shardq
