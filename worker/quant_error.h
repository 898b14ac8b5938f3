// Error of a quantized tensor against its float original: what the per-tensor
// table of `shardq quantize` reports.
#pragma once

#include <cstdint>

namespace shardq {

struct ErrorLanes;  // kernels/error_sums.h

struct QuantError {
  double sum_sq_err = 0;   // sum (x - x_hat)^2
  double sum_sq_ref = 0;   // sum x^2
  double max_abs_err = 0;  // max |x - x_hat|
  int64_t count = 0;

  // The sums go through ErrorLanes (SIMD, the same bits on every ISA), so a row
  // added at once and a row measured in pieces (AddLanes) give the same result.
  void Add(const float* x, const float* x_hat, int64_t n);
  void AddLanes(const ErrorLanes& lanes);
  void Merge(const QuantError& o);
  double rmse() const;           // sqrt(sum_sq_err / count)
  double relative_rmse() const;  // ||x - x_hat|| / ||x||
  // Signal-to-quantization-noise ratio, 10 log10(sum x^2 / sum err^2); +inf when exact.
  double sqnr_db() const;
};

}  // namespace shardq
