// What the planner and the quantizer know about one tensor before touching its
// bytes: read from a model file's header alone.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/ggml_type.h"

namespace shardq {

// A fix-up that must be applied to the stored rows to get llama.cpp's layout.
enum class LayoutFix {
  kNone,
  // HF Llama q_proj/k_proj rows are in rotate-half order; GGUF wants the
  // interleaved-pair order: reshape(n_head, 2, head_dim/2, in) -> swap axes 1,2.
  kRopeHalfToInterleaved,
};

struct TensorInfo {
  std::string name;         // canonical GGUF name: "blk.0.attn_q.weight"
  std::string source_name;  // name inside the source file: "model.layers.0.self_attn.q_proj.weight"
  // Outermost dimension first, as numpy and safetensors list it: {rows, row_length}.
  // (GGUF lists ne[] fastest-first; readers reverse it.)
  std::vector<int64_t> shape;
  GgmlType type = GgmlType::F32;  // how the bytes are stored in the source
  std::string file;               // path of the file that holds the bytes
  uint64_t offset = 0;            // absolute byte offset of the data in `file`
  uint64_t nbytes = 0;
  LayoutFix fix = LayoutFix::kNone;
  int64_t fix_heads = 0;  // number of heads for kRopeHalfToInterleaved

  int64_t n_elements() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
  int64_t row_length() const { return shape.empty() ? 1 : shape.back(); }
  int64_t n_rows() const { return row_length() == 0 ? 0 : n_elements() / row_length(); }
  // "256x768" outermost first.
  std::string shape_string() const;
};

}  // namespace shardq
