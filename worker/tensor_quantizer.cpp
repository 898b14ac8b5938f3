#include "worker/tensor_quantizer.h"

#include <atomic>
#include <mutex>

#include "kernels/block_format.h"
#include "worker/row_quantizer.h"

namespace shardq {
namespace {

Result<const BlockFormat*> EncoderFor(GgmlType type, int64_t row_length) {
  const BlockFormat* fmt = FindBlockFormat(type);
  if (!fmt || !fmt->quantize_row || !fmt->dequantize_row)
    return Status::Unsupported(std::string("cannot encode type ") + GgmlTypeName(type));
  if (row_length % fmt->block_size != 0) {
    return Status::InvalidArgument("row length " + std::to_string(row_length) +
                                   " is not a multiple of " + fmt->name + "'s block size " +
                                   std::to_string(fmt->block_size));
  }
  return fmt;
}

}  // namespace

Status QuantizeTensorRows(const TensorRows& rows, GgmlType type, const float* importance, ThreadPool* pool,
                          const std::string& label, QuantizedTensor* out) {
  const int64_t n = rows.row_length();
  Result<const BlockFormat*> encoder = EncoderFor(type, n);
  if (!encoder.ok()) return encoder.status().WithContext(label);
  const BlockFormat* fmt = *encoder;
  const size_t row_bytes = fmt->row_bytes(n);
  out->type = type;
  out->bytes.assign(row_bytes * rows.rows(), 0);
  out->error = QuantError();
  std::vector<QuantError> per_row(rows.rows());
  // The first chunk to fail keeps its error (every chunk reports the same one:
  // the tensor's first non-finite value); the others stop at their next chunk.
  std::mutex mu;
  Status failed;
  std::atomic<bool> stop{false};
  pool->ParallelFor(rows.rows(), 16, [&](int64_t begin, int64_t end) {
    if (stop.load(std::memory_order_relaxed)) return;
    std::vector<float> scratch(static_cast<size_t>(n));
    const Status st = QuantizeRowRange(rows, *fmt, begin, end, importance, scratch.data(),
                                       out->bytes.data() + begin * row_bytes, per_row.data() + begin);
    if (st.ok()) return;
    stop = true;
    std::lock_guard<std::mutex> lock(mu);
    if (failed.ok()) failed = st;
  });
  if (!failed.ok()) return failed;
  for (const QuantError& e : per_row) out->error.Merge(e);
  return Status::OK();
}

Status QuantizeTensor(const float* data, int64_t rows, int64_t row_length, GgmlType type,
                      const float* importance, ThreadPool* pool, QuantizedTensor* out) {
  SHARDQ_ASSIGN_OR_RETURN(const BlockFormat* fmt, EncoderFor(type, row_length));
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
