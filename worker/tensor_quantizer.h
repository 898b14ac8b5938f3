// Quantizes one tensor's rows to a block format, on a thread pool, and measures
// the error of the result against the float original.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/ggml_type.h"
#include "common/status.h"
#include "common/thread_pool.h"
#include "worker/quant_error.h"

namespace shardq {

struct QuantizedTensor {
  GgmlType type = GgmlType::F32;
  std::vector<uint8_t> bytes;
  QuantError error;
};

// `data` holds rows x row_length floats; `importance` (row_length weights) may be null.
Status QuantizeTensor(const float* data, int64_t rows, int64_t row_length, GgmlType type,
                      const float* importance, ThreadPool* pool, QuantizedTensor* out);

}  // namespace shardq
