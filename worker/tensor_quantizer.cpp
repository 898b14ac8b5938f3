#include "worker/tensor_quantizer.h"

#include <mutex>

#include "kernels/block_format.h"

namespace shardq {

Status QuantizeTensor(const float* data, int64_t rows, int64_t row_length, GgmlType type,
                      const float* importance, ThreadPool* pool, QuantizedTensor* out) {
  const BlockFormat* fmt = FindBlockFormat(type);
  if (!fmt || !fmt->quantize_row || !fmt->dequantize_row)
    return Status::Unsupported(std::string("cannot encode type ") + GgmlTypeName(type));
  if (row_length % fmt->block_size != 0) {
    return Status::InvalidArgument("row length " + std::to_string(row_length) +
                                   " is not a multiple of " + fmt->name + "'s block size " +
                                   std::to_string(fmt->block_size));
  }
  const size_t row_bytes = fmt->row_bytes(row_length);
  out->type = type;
  out->bytes.assign(row_bytes * rows, 0);
  out->error = QuantError();
  std::mutex mu;
  // Rows are independent: each thread encodes its rows, decodes them again and
  // accumulates the error locally, merging once per chunk.
  pool->ParallelFor(rows, 16, [&](int64_t begin, int64_t end) {
    std::vector<float> decoded(row_length);
    QuantError local;
    for (int64_t r = begin; r < end; ++r) {
      const float* x = data + r * row_length;
      uint8_t* y = out->bytes.data() + r * row_bytes;
      fmt->quantize_row(x, y, row_length, importance);
      fmt->dequantize_row(y, decoded.data(), row_length);
      local.Add(x, decoded.data(), row_length);
    }
    std::lock_guard<std::mutex> lock(mu);
    out->error.Merge(local);
  });
  return Status::OK();
}

}  // namespace shardq
