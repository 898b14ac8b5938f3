#include "worker/tensor_quantizer.h"

#include "kernels/block_format.h"
#include "worker/row_quantizer.h"

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
  // Rows are independent: each thread encodes and measures its rows. Each row's
  // error is kept and summed in row order afterwards, so the metrics (and the
  // reports made from them) do not depend on the number of threads.
  std::vector<QuantError> per_row(rows);
  pool->ParallelFor(rows, 16, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r)
      per_row[r] = QuantizeRowMeasured(*fmt, data + r * row_length, row_length, importance,
                                       out->bytes.data() + r * row_bytes);
  });
  for (const QuantError& e : per_row) out->error.Merge(e);
  return Status::OK();
}

}  // namespace shardq
