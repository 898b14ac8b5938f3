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

}  // namespace shardq
