#include "common/tensor_info.h"

namespace shardq {

std::string TensorInfo::shape_string() const {
  std::string s;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += 'x';
    s += std::to_string(shape[i]);
  }
  return s.empty() ? "scalar" : s;
}

}  // namespace shardq
