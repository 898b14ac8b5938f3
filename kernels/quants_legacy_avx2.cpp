// AVX2 paths of Q4_0 and Q8_0 (compiled with -mavx2 -mfma -mf16c; selected at
// run time). Encoders reproduce the scalar references bit for bit: same
// products, same rounding rule (roundf's halves away from zero is emulated, not
// the SIMD default of ties to even), same first-maximum rule for Q4_0's sign.
#include <cmath>

#include "kernels/block_structs.h"
#include "kernels/fp16.h"
#include "kernels/quants_legacy.h"
#include "kernels/quants_legacy_avx2.h"

namespace shardq::legacy {

using namespace avx2_detail;

// ---- Q8_0 ---------------------------------------------------------------------
void QuantizeQ8_0Avx2(const float* x, void* vy, int64_t n, const float*) {
  BlockQ8_0* y = static_cast<BlockQ8_0*>(vy);
  for (int64_t i = 0; i < n / kQK8_0; ++i) {
    __m256i q[4];
    y[i].d = ToFp16(QuantizeBlockQ8(x + 32 * i, y[i].qs, q));
  }
}

void DequantizeQ8_0Avx2(const void* vx, float* y, int64_t n) {
  const BlockQ8_0* x = static_cast<const BlockQ8_0*>(vx);
  for (int64_t i = 0; i < n / kQK8_0; ++i) {
    const __m256 d = _mm256_set1_ps(Fp16ToF32(x[i].d));
    const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[i].qs));
    for (int k = 0; k < 4; ++k) _mm256_storeu_ps(y + 32 * i + 8 * k, _mm256_mul_ps(Int8ToFloat(q, k), d));
  }
}

float DotF32Q8_0Avx2(const void* vx, const float* v, int64_t n) {
  const BlockQ8_0* x = static_cast<const BlockQ8_0*>(vx);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / kQK8_0; ++i) {
    const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[i].qs));
    __m256 block = _mm256_setzero_ps();
    for (int k = 0; k < 4; ++k) block = _mm256_fmadd_ps(Int8ToFloat(q, k), _mm256_loadu_ps(v + 32 * i + 8 * k), block);
    acc = _mm256_fmadd_ps(block, _mm256_set1_ps(Fp16ToF32(x[i].d)), acc);
  }
  return HorizontalSum(acc);
}

float VecDotQ8_0Q8_0Avx2(const void* vx, const void* vv, int64_t n) {
  const BlockQ8_0* x = static_cast<const BlockQ8_0*>(vx);
  const BlockQ8_0* y = static_cast<const BlockQ8_0*>(vv);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / kQK8_0; ++i) {
    const __m256i qx = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[i].qs));
    const __m256i qy = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[i].qs));
    const __m256 s = _mm256_cvtepi32_ps(DotInt8(qx, qy));
    acc = _mm256_fmadd_ps(s, _mm256_set1_ps(Fp16ToF32(x[i].d) * Fp16ToF32(y[i].d)), acc);
  }
  return HorizontalSum(acc);
}

// ---- Q4_0 ---------------------------------------------------------------------
void QuantizeQ4_0Avx2(const float* x, void* vy, int64_t n, const float* importance) {
  // The importance-weighted search is branchy and scalar by nature; keep one copy.
  if (importance) {
    QuantizeQ4_0(x, vy, n, importance);
    return;
  }
  BlockQ4_0* y = static_cast<BlockQ4_0*>(vy);
  for (int64_t i = 0; i < n / kQK4_0; ++i) {
    const float* xb = x + 32 * i;
    __m256 v[4];
    const float max = BlockSignedAbsMax(xb, v);
    const float d = max / -8;
    const float id = d ? 1.0f / d : 0.0f;
    y[i].d = ToFp16(d);
    const __m256 vid = _mm256_set1_ps(id);
    const __m256 bias = _mm256_set1_ps(8.5f);
    const __m256i fifteen = _mm256_set1_epi32(15);
    __m256i q[4];
    for (int k = 0; k < 4; ++k) {
      const __m256 t = _mm256_add_ps(Rounded(_mm256_mul_ps(v[k], vid)), bias);
      q[k] = _mm256_min_epi32(_mm256_cvttps_epi32(t), fifteen);
    }
    const __m256i bytes = PackInt32ToInt8(q[0], q[1], q[2], q[3]);
    const __m128i lo = _mm256_castsi256_si128(bytes);
    const __m128i hi = _mm256_extracti128_si256(bytes, 1);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y[i].qs), _mm_or_si128(lo, _mm_slli_epi16(hi, 4)));
  }
}

void DequantizeQ4_0Avx2(const void* vx, float* y, int64_t n) {
  const BlockQ4_0* x = static_cast<const BlockQ4_0*>(vx);
  for (int64_t i = 0; i < n / kQK4_0; ++i) {
    const __m256 d = _mm256_set1_ps(Fp16ToF32(x[i].d));
    const __m256i q = UnpackQ4_0(x[i].qs);
    for (int k = 0; k < 4; ++k) _mm256_storeu_ps(y + 32 * i + 8 * k, _mm256_mul_ps(Int8ToFloat(q, k), d));
  }
}

float DotF32Q4_0Avx2(const void* vx, const float* v, int64_t n) {
  const BlockQ4_0* x = static_cast<const BlockQ4_0*>(vx);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / kQK4_0; ++i) {
    const __m256i q = UnpackQ4_0(x[i].qs);
    __m256 block = _mm256_setzero_ps();
    for (int k = 0; k < 4; ++k) block = _mm256_fmadd_ps(Int8ToFloat(q, k), _mm256_loadu_ps(v + 32 * i + 8 * k), block);
    acc = _mm256_fmadd_ps(block, _mm256_set1_ps(Fp16ToF32(x[i].d)), acc);
  }
  return HorizontalSum(acc);
}

float VecDotQ4_0Q8_0Avx2(const void* vx, const void* vv, int64_t n) {
  const BlockQ4_0* x = static_cast<const BlockQ4_0*>(vx);
  const BlockQ8_0* y = static_cast<const BlockQ8_0*>(vv);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / kQK4_0; ++i) {
    const __m256i qx = UnpackQ4_0(x[i].qs);
    const __m256i qy = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[i].qs));
    const __m256 s = _mm256_cvtepi32_ps(DotInt8(qx, qy));
    acc = _mm256_fmadd_ps(s, _mm256_set1_ps(Fp16ToF32(x[i].d) * Fp16ToF32(y[i].d)), acc);
  }
  return HorizontalSum(acc);
}

}  // namespace shardq::legacy
