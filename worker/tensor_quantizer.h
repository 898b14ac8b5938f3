// Quantizes one tensor's rows to a block format, on a thread pool, and measures
// the error of the result against the float original.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/ggml_type.h"
#include "common/status.h"
#include "common/tensor_rows.h"
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

// The same from the mapped source, row by row (tensor_rows.h): an F32 tensor
// is encoded where it lies (no copy of it), and each row is checked finite
// just before it is encoded. Errors are ReadF32's for the first non-finite
// value (naming file and tensor), else as above with `label` before them.
// Same bytes and metrics as ReadF32 + QuantizeTensor.
Status QuantizeTensorRows(const TensorRows& rows, GgmlType type, const float* importance, ThreadPool* pool,
                          const std::string& label, QuantizedTensor* out);

}  // namespace shardq
