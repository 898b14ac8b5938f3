// The tensor source seam: one interface over every model format. Listing tensors
// needs headers only; bytes are mapped on demand, one tensor at a time, so a rank
// never holds a whole model.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/tensor_info.h"

namespace shardq {

struct ByteSpan {
  const uint8_t* data = nullptr;
  uint64_t size = 0;
};

class TensorSource {
 public:
  virtual ~TensorSource() = default;

  // Every tensor, in the source's canonical order (GGUF names, see TensorInfo).
  virtual const std::vector<TensorInfo>& tensors() const = 0;

  // The stored bytes, zero-copy from the mapped file. Valid while the source lives.
  virtual Result<ByteSpan> RawBytes(const TensorInfo& t) = 0;

  // Hint that `t`'s pages are no longer needed (the quantizer streams: each tensor
  // is read once, then released, so peak RSS stays near one tensor).
  virtual void Release(const TensorInfo& t) = 0;

  const TensorInfo* Find(const std::string& name) const;

  // Decodes `t` to float32 in llama.cpp's layout (any stored type the block format
  // table can decode; the layout fix applied). Rejects NaN/Inf, naming the tensor
  // and the first bad index.
  Status ReadF32(const TensorInfo& t, std::vector<float>* out);
};

// OK when the n decoded values of `t` from element `first` on (row-major, the
// stored layout) are all finite; else an error naming the file, the tensor, the
// first bad value, its element index, row and column, and for a quantized type
// the block it was decoded from. The one non-finite check: ReadF32 and the
// forward pass's zero-copy weights (worker/llama_weights.cpp) both use it.
Status CheckFinite(const TensorInfo& t, const float* values, int64_t n, int64_t first = 0);

}  // namespace shardq
