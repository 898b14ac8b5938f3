// One row encoded and measured in one pass. The row is decoded again in pieces
// small enough to stay in L1, right after it was encoded and while x is still
// in cache, and each piece's error is summed with SIMD (kernels/error_sums.h):
// the metrics cost no second pass over the tensor and no row-sized buffer.
// QuantizeTensor and `shardq quantize`'s stream both call it, so their bytes
// and metrics are the same.
#pragma once

#include <cstdint>

#include "common/status.h"
#include "common/tensor_rows.h"
#include "kernels/block_format.h"
#include "worker/quant_error.h"

namespace shardq {

// Encodes the n values of x (n % fmt.block_size == 0) to y and returns their
// error. `importance` (n weights) may be null.
QuantError QuantizeRowMeasured(const BlockFormat& fmt, const float* x, int64_t n, const float* importance,
                               uint8_t* y);

// Rows [begin, end) of `rows`, straight from the mapping, each checked finite
// just before its encoder sees it (an encoder fed NaN may index a table with
// it): row r's bytes go to y + (r - begin) * row bytes, its error to
// errors[r - begin]. `scratch` holds a row (rows stored in another type are
// decoded there). On a non-finite value: ReadF32's error for the tensor's
// first one. The workers' CompressTensor and `shardq quantize`'s stream both
// call it.
Status QuantizeRowRange(const TensorRows& rows, const BlockFormat& fmt, int64_t begin, int64_t end,
                        const float* importance, float* scratch, uint8_t* y, QuantError* errors);

}  // namespace shardq
