// AVX2 paths of error_sums.h (compiled with -mavx2 -mfma -mf16c; selected at run time).
#include <immintrin.h>

#include <algorithm>
#include <cmath>

#include "kernels/error_sums.h"

namespace shardq::avx2 {
namespace {

// An opaque copy: stops GCC from fusing the product with the following add into
// an FMA, which would round once where the scalar reference rounds twice.
inline __m256d Rounded(__m256d v) {
  __asm__("" : "+x"(v));
  return v;
}

}  // namespace

void AccumulateError(const float* x, const float* x_hat, int64_t n, ErrorLanes* lanes) {
  // Scalar until the next value falls in lane 0, so the vectors line up with the lanes.
  int64_t head = std::min<int64_t>(n, (8 - (lanes->count & 7)) & 7);
  AccumulateErrorReference(x, x_hat, head, lanes);
  int64_t i = head;
  if (n - i >= 8) {
    __m256d e0 = _mm256_loadu_pd(lanes->sq_err), e1 = _mm256_loadu_pd(lanes->sq_err + 4);
    __m256d r0 = _mm256_loadu_pd(lanes->sq_ref), r1 = _mm256_loadu_pd(lanes->sq_ref + 4);
    __m256d m0 = _mm256_set1_pd(lanes->max_abs_err), m1 = m0;
    const __m256d abs_mask = _mm256_castsi256_pd(_mm256_set1_epi64x(0x7fffffffffffffffLL));
    for (; i + 8 <= n; i += 8) {
      const __m256 xv = _mm256_loadu_ps(x + i), hv = _mm256_loadu_ps(x_hat + i);
      const __m256d x0 = _mm256_cvtps_pd(_mm256_castps256_ps128(xv));
      const __m256d x1 = _mm256_cvtps_pd(_mm256_extractf128_ps(xv, 1));
      const __m256d d0 = _mm256_sub_pd(x0, _mm256_cvtps_pd(_mm256_castps256_ps128(hv)));
      const __m256d d1 = _mm256_sub_pd(x1, _mm256_cvtps_pd(_mm256_extractf128_ps(hv, 1)));
      e0 = _mm256_add_pd(e0, Rounded(_mm256_mul_pd(d0, d0)));
      e1 = _mm256_add_pd(e1, Rounded(_mm256_mul_pd(d1, d1)));
      r0 = _mm256_add_pd(r0, Rounded(_mm256_mul_pd(x0, x0)));
      r1 = _mm256_add_pd(r1, Rounded(_mm256_mul_pd(x1, x1)));
      m0 = _mm256_max_pd(m0, _mm256_and_pd(d0, abs_mask));
      m1 = _mm256_max_pd(m1, _mm256_and_pd(d1, abs_mask));
    }
    _mm256_storeu_pd(lanes->sq_err, e0);
    _mm256_storeu_pd(lanes->sq_err + 4, e1);
    _mm256_storeu_pd(lanes->sq_ref, r0);
    _mm256_storeu_pd(lanes->sq_ref + 4, r1);
    double m[4];
    _mm256_storeu_pd(m, _mm256_max_pd(m0, m1));
    lanes->max_abs_err = std::max(std::max(m[0], m[1]), std::max(m[2], m[3]));
    lanes->count += i - head;
  }
  AccumulateErrorReference(x + i, x_hat + i, n - i, lanes);
}

bool AllFinite(const float* x, int64_t n) {
  const __m256i exp_mask = _mm256_set1_epi32(0x7f800000);
  __m256i bad = _mm256_setzero_si256();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i e = _mm256_and_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i)), exp_mask);
    bad = _mm256_or_si256(bad, _mm256_cmpeq_epi32(e, exp_mask));
  }
  bool ok = _mm256_testz_si256(bad, bad);
  for (; i < n; ++i) ok = ok && std::isfinite(x[i]);
  return ok;
}

}  // namespace shardq::avx2
