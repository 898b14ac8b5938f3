#include "common/hf_tensor_names.h"

#include <algorithm>
#include <charconv>
#include <set>
#include <string_view>

namespace shardq {
namespace {

struct Suffix {
  const char* hf;
  const char* gguf;
};
// Per-block names after "model.layers.N.".
constexpr Suffix kBlockNames[] = {
    {"self_attn.q_proj.weight", "attn_q.weight"},
    {"self_attn.k_proj.weight", "attn_k.weight"},
    {"self_attn.v_proj.weight", "attn_v.weight"},
    {"self_attn.o_proj.weight", "attn_output.weight"},
    {"mlp.gate_proj.weight", "ffn_gate.weight"},
    {"mlp.up_proj.weight", "ffn_up.weight"},
    {"mlp.down_proj.weight", "ffn_down.weight"},
    {"input_layernorm.weight", "attn_norm.weight"},
    {"post_attention_layernorm.weight", "ffn_norm.weight"},
};
constexpr Suffix kGlobalNames[] = {
    {"model.embed_tokens.weight", "token_embd.weight"},
    {"model.norm.weight", "output_norm.weight"},
    {"lm_head.weight", "output.weight"},
};

// Parses "blk.N.rest" -> N and rest; false for other names.
bool SplitBlockName(std::string_view name, int64_t* layer, std::string_view* rest) {
  if (name.substr(0, 4) != "blk.") return false;
  name.remove_prefix(4);
  const size_t dot = name.find('.');
  if (dot == std::string_view::npos || dot == 0) return false;
  auto [p, ec] = std::from_chars(name.data(), name.data() + dot, *layer);
  if (ec != std::errc() || p != name.data() + dot) return false;
  *rest = name.substr(dot + 1);
  return true;
}

// Sort key: (group, layer, position in kBlockNames); group 0 token_embd, 1 blocks,
// 2 output_norm, 3 output, 4 unknown.
struct Rank {
  int group;
  int64_t layer;
  int pos;
  auto operator<=>(const Rank&) const = default;
};

Rank RankOf(const std::string& name) {
  if (name == "token_embd.weight") return {0, 0, 0};
  if (name == "output_norm.weight") return {2, 0, 0};
  if (name == "output.weight") return {3, 0, 0};
  int64_t layer = 0;
  std::string_view rest;
  if (SplitBlockName(name, &layer, &rest)) {
    for (int i = 0; i < static_cast<int>(std::size(kBlockNames)); ++i)
      if (rest == kBlockNames[i].gguf) return {1, layer, i};
    return {1, layer, static_cast<int>(std::size(kBlockNames))};
  }
  return {4, 0, 0};
}

}  // namespace

bool IsIgnoredHfTensor(const std::string& hf_name) {
  return hf_name.ends_with(".rotary_emb.inv_freq");
}

Result<std::string> HfToGgufTensorName(const std::string& hf_name) {
  for (const auto& g : kGlobalNames)
    if (hf_name == g.hf) return std::string(g.gguf);
  constexpr std::string_view kPrefix = "model.layers.";
  std::string_view s(hf_name);
  if (s.substr(0, kPrefix.size()) == kPrefix) {
    s.remove_prefix(kPrefix.size());
    const size_t dot = s.find('.');
    int64_t layer = -1;
    if (dot != std::string_view::npos && dot > 0) {
      auto [p, ec] = std::from_chars(s.data(), s.data() + dot, layer);
      if (ec == std::errc() && p == s.data() + dot && layer >= 0) {
        const std::string_view rest = s.substr(dot + 1);
        for (const auto& b : kBlockNames)
          if (rest == b.hf) return "blk." + std::to_string(layer) + "." + b.gguf;
      }
    }
  }
  return Status::InvalidArgument("tensor '" + hf_name + "': not a known Llama tensor name");
}

Status MapHfTensors(const LlamaConfig& config, const std::string& label,
                    std::vector<TensorInfo>* tensors) {
  std::vector<TensorInfo> out;
  std::set<std::string> seen;
  for (TensorInfo& t : *tensors) {
    if (IsIgnoredHfTensor(t.source_name)) continue;
    auto name = HfToGgufTensorName(t.source_name);
    if (!name.ok()) return name.status().WithContext(t.file + ": ");
    t.name = *name;
    int64_t layer = 0;
    std::string_view rest;
    if (SplitBlockName(t.name, &layer, &rest) && layer >= config.n_layers)
      return Status::InvalidArgument(t.file + ": tensor '" + t.source_name + "': layer " +
                                     std::to_string(layer) + " but " + label + " has " +
                                     std::to_string(config.n_layers) + " layers");
    if (rest == "attn_q.weight") {
      t.fix = LayoutFix::kRopeHalfToInterleaved;
      t.fix_heads = config.n_heads;
    } else if (rest == "attn_k.weight") {
      t.fix = LayoutFix::kRopeHalfToInterleaved;
      t.fix_heads = config.n_kv_heads;
    }
    if (!seen.insert(t.name).second)
      return Status::InvalidArgument(t.file + ": tensor '" + t.source_name + "' maps to '" + t.name +
                                     "', which another tensor already provides");
    out.push_back(std::move(t));
  }
  *tensors = std::move(out);
  SortTensorsCanonically(tensors);
  return Status::OK();
}

void SortTensorsCanonically(std::vector<TensorInfo>* tensors) {
  std::stable_sort(tensors->begin(), tensors->end(), [](const TensorInfo& a, const TensorInfo& b) {
    return RankOf(a.name) < RankOf(b.name);
  });
}

}  // namespace shardq
