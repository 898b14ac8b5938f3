#include "kernels/error_sums.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/cpu_features.h"

namespace shardq {

double ErrorLanes::SumSqErr() const {
  return ((sq_err[0] + sq_err[4]) + (sq_err[1] + sq_err[5])) + ((sq_err[2] + sq_err[6]) + (sq_err[3] + sq_err[7]));
}

double ErrorLanes::SumSqRef() const {
  return ((sq_ref[0] + sq_ref[4]) + (sq_ref[1] + sq_ref[5])) + ((sq_ref[2] + sq_ref[6]) + (sq_ref[3] + sq_ref[7]));
}

void AccumulateErrorReference(const float* x, const float* x_hat, int64_t n, ErrorLanes* lanes) {
  double mx = lanes->max_abs_err;
  for (int64_t i = 0; i < n; ++i) {
    const int l = static_cast<int>((lanes->count + i) & 7);
    const double d = static_cast<double>(x[i]) - static_cast<double>(x_hat[i]);
    // Product then sum, each rounded: the AVX2 path keeps the same two roundings.
    const double dd = d * d, xx = static_cast<double>(x[i]) * static_cast<double>(x[i]);
    lanes->sq_err[l] += dd;
    lanes->sq_ref[l] += xx;
    mx = std::max(mx, std::fabs(d));
  }
  lanes->max_abs_err = mx;
  lanes->count += n;
}

void AccumulateError(const float* x, const float* x_hat, int64_t n, ErrorLanes* lanes) {
  static const bool simd = GetCpuFeatures().avx2;
  if (simd) return avx2::AccumulateError(x, x_hat, n, lanes);
  AccumulateErrorReference(x, x_hat, n, lanes);
}

bool AllFinite(const float* x, int64_t n) {
  static const bool simd = GetCpuFeatures().avx2;
  if (simd) return avx2::AllFinite(x, n);
  // Exponent bits all ones <=> Inf or NaN; no early exit, so the loop vectorizes.
  uint32_t bad = 0;
  for (int64_t i = 0; i < n; ++i) {
    uint32_t b;
    std::memcpy(&b, x + i, 4);
    bad |= static_cast<uint32_t>((b & 0x7f800000u) == 0x7f800000u);
  }
  return bad == 0;
}

}  // namespace shardq
