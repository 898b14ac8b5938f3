#include "common/tensor_order.h"

#include <algorithm>
#include <cctype>
#include <string>
#include <tuple>

namespace shardq {
namespace {

constexpr const char* kBlockOrder[] = {"attn_norm", "attn_q", "attn_k", "attn_v", "attn_output",
                                       "ffn_norm",  "ffn_gate", "ffn_up", "ffn_down"};

// (group, block, slot, name): group 0 token_embd, 1 blocks, 2 output_norm, 3 output, 4 rest.
std::tuple<int, long, int, std::string> SortKey(const std::string& name) {
  if (name == "token_embd.weight") return {0, 0, 0, name};
  if (name == "output_norm.weight") return {2, 0, 0, name};
  if (name == "output.weight") return {3, 0, 0, name};
  if (name.rfind("blk.", 0) == 0) {
    size_t i = 4;
    long block = 0;
    bool digits = false;
    while (i < name.size() && std::isdigit(static_cast<unsigned char>(name[i]))) {
      block = block * 10 + (name[i++] - '0');
      digits = true;
    }
    if (digits && i < name.size() && name[i] == '.') {
      const std::string rest = name.substr(i + 1);
      const int n_known = static_cast<int>(std::size(kBlockOrder));
      for (int s = 0; s < n_known; ++s)
        if (rest == std::string(kBlockOrder[s]) + ".weight") return {1, block, s, name};
      return {1, block, n_known, name};
    }
  }
  return {4, 0, 0, name};
}

}  // namespace

std::vector<size_t> CanonicalTensorOrder(const std::vector<TensorInfo>& tensors) {
  std::vector<size_t> idx(tensors.size());
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) {
    return SortKey(tensors[a].name) < SortKey(tensors[b].name);
  });
  return idx;
}

}  // namespace shardq
