#include "worker/tensor_quantizer.h"

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
  // Rows are independent: each thread encodes its rows and decodes them again.
  // Each row's error is kept and summed in row order afterwards, so the metrics
  // (and the reports made from them) do not depend on the number of threads.
  std::vector<QuantError> per_row(rows);
  pool->ParallelFor(rows, 16, [&](int64_t begin, int64_t end) {
    std::vector<float> decoded(row_length);
    for (int64_t r = begin; r < end; ++r) {
      const float* x = data + r * row_length;
      uint8_t* y = out->bytes.data() + r * row_bytes;
      fmt->quantize_row(x, y, row_length, importance);
      fmt->dequantize_row(y, decoded.data(), row_length);
      per_row[r].Add(x, decoded.data(), row_length);
    }
  });
  for (const QuantError& e : per_row) out->error.Merge(e);
  return Status::OK();
}

}  // namespace shardq
