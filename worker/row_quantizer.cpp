#include "worker/row_quantizer.h"

#include <algorithm>

#include "kernels/error_sums.h"

namespace shardq {
namespace {

// Values decoded at a time: a multiple of every block size (1, 32, 256), 1 KiB of floats.
constexpr int64_t kPiece = 256;

}  // namespace

QuantError QuantizeRowMeasured(const BlockFormat& fmt, const float* x, int64_t n, const float* importance,
                               uint8_t* y) {
  fmt.quantize_row(x, y, n, importance);
  alignas(64) float decoded[kPiece];
  ErrorLanes lanes;
  for (int64_t p = 0; p < n; p += kPiece) {
    const int64_t k = std::min(kPiece, n - p);
    fmt.dequantize_row(y + static_cast<size_t>(p / fmt.block_size) * fmt.block_bytes, decoded, k);
    AccumulateError(x + p, decoded, k, &lanes);
  }
  QuantError e;
  e.AddLanes(lanes);
  return e;
}

Status QuantizeRowRange(const TensorRows& rows, const BlockFormat& fmt, int64_t begin, int64_t end,
                        const float* importance, float* scratch, uint8_t* y, QuantError* errors) {
  const int64_t n = rows.row_length();
  const size_t row_bytes = fmt.row_bytes(n);
  for (int64_t r = begin; r < end; ++r) {
    const float* x = rows.Row(r, scratch);
    if (!AllFinite(x, n)) {
      const Status st = rows.FirstNonFinite(scratch);
      return st.ok() ? Status::Internal("a row was not finite, then was") : st;
    }
    errors[r - begin] = QuantizeRowMeasured(fmt, x, n, importance, y + static_cast<size_t>(r - begin) * row_bytes);
  }
  return Status::OK();
}

}  // namespace shardq
