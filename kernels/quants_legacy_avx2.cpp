// AVX2 paths of Q4_0 and Q8_0 (compiled with -mavx2 -mfma -mf16c; selected at
// run time). Encoders reproduce the scalar references bit for bit: same
// products, same rounding rule (roundf's halves away from zero is emulated, not
// the SIMD default of ties to even), same first-maximum rule for Q4_0's sign.
#include <immintrin.h>

#include <cmath>

#include "kernels/block_structs.h"
#include "kernels/fp16.h"
#include "kernels/quants_legacy.h"

namespace shardq::legacy {
namespace {

inline float HorizontalSum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline float HorizontalMax(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

// Loads one 32-value block and returns max |x| over it.
inline float BlockAbsMax(const float* x, __m256 v[4]) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  __m256 m = _mm256_setzero_ps();
  for (int k = 0; k < 4; ++k) {
    v[k] = _mm256_loadu_ps(x + 8 * k);
    m = _mm256_max_ps(m, _mm256_andnot_ps(sign, v[k]));
  }
  return HorizontalMax(m);
}

// roundf: round half away from zero. trunc(v) plus sign(v) when |v - trunc(v)| >= 0.5
// (v - trunc(v) is exact in float, so this is exact for every input).
inline __m256 RoundHalfAway(__m256 v) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  const __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  const __m256 frac = _mm256_andnot_ps(sign, _mm256_sub_ps(v, t));
  const __m256 need = _mm256_cmp_ps(frac, _mm256_set1_ps(0.5f), _CMP_GE_OQ);
  const __m256 one = _mm256_or_ps(_mm256_set1_ps(1.0f), _mm256_and_ps(sign, v));
  return _mm256_add_ps(t, _mm256_and_ps(need, one));
}

// Four vectors of 8 int32 (values fit in int8) -> 32 bytes in element order.
inline __m256i PackInt32ToInt8(__m256i a, __m256i b, __m256i c, __m256i d) {
  const __m256i ab = _mm256_packs_epi32(a, b);
  const __m256i cd = _mm256_packs_epi32(c, d);
  const __m256i abcd = _mm256_packs_epi16(ab, cd);
  return _mm256_permutevar8x32_epi32(abcd, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

// 16 bytes of nibbles -> 32 int8 values q - 8 in element order.
inline __m256i UnpackQ4_0(const uint8_t* qs) {
  const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m128i mask = _mm_set1_epi8(0x0F);
  const __m128i lo = _mm_and_si128(raw, mask);
  const __m128i hi = _mm_and_si128(_mm_srli_epi16(raw, 4), mask);
  return _mm256_sub_epi8(_mm256_set_m128i(hi, lo), _mm256_set1_epi8(8));
}

// Sum over 32 int8 products x*y, as 8 int32 lanes (maddubs needs an unsigned left side).
inline __m256i DotInt8(__m256i x, __m256i y) {
  const __m256i ax = _mm256_sign_epi8(x, x);
  const __m256i sy = _mm256_sign_epi8(y, x);
  const __m256i p16 = _mm256_maddubs_epi16(ax, sy);
  return _mm256_madd_epi16(p16, _mm256_set1_epi16(1));
}

// Element k*8..k*8+7 of 32 int8 lanes as floats.
inline __m256 Int8ToFloat(__m256i q, int k) {
  const __m128i half = k < 2 ? _mm256_castsi256_si128(q) : _mm256_extracti128_si256(q, 1);
  const __m128i part = (k & 1) ? _mm_srli_si128(half, 8) : half;
  return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(part));
}

}  // namespace

// ---- Q8_0 ---------------------------------------------------------------------
void QuantizeQ8_0Avx2(const float* x, void* vy, int64_t n, const float*) {
  BlockQ8_0* y = static_cast<BlockQ8_0*>(vy);
  for (int64_t i = 0; i < n / kQK8_0; ++i) {
    __m256 v[4];
    const float amax = BlockAbsMax(x + 32 * i, v);
    const float d = amax / 127;
    const float id = d ? 1.0f / d : 0.0f;
    y[i].d = F32ToFp16(d);
    const __m256 vid = _mm256_set1_ps(id);
    __m256i q[4];
    for (int k = 0; k < 4; ++k) q[k] = _mm256_cvtps_epi32(RoundHalfAway(_mm256_mul_ps(v[k], vid)));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y[i].qs), PackInt32ToInt8(q[0], q[1], q[2], q[3]));
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
  const __m256 sign = _mm256_set1_ps(-0.0f);
  for (int64_t i = 0; i < n / kQK4_0; ++i) {
    const float* xb = x + 32 * i;
    __m256 v[4];
    const float amax = BlockAbsMax(xb, v);
    // The signed value of the first element reaching amax (scalar scans with a strict <).
    float max = 0;
    if (amax > 0) {
      const __m256 va = _mm256_set1_ps(amax);
      uint32_t hits = 0;
      for (int k = 0; k < 4; ++k) {
        const __m256 eq = _mm256_cmp_ps(_mm256_andnot_ps(sign, v[k]), va, _CMP_EQ_OQ);
        hits |= static_cast<uint32_t>(_mm256_movemask_ps(eq)) << (8 * k);
      }
      if (hits) max = xb[__builtin_ctz(hits)];
    }
    const float d = max / -8;
    const float id = d ? 1.0f / d : 0.0f;
    y[i].d = F32ToFp16(d);
    const __m256 vid = _mm256_set1_ps(id);
    const __m256 bias = _mm256_set1_ps(8.5f);
    const __m256i fifteen = _mm256_set1_epi32(15);
    __m256i q[4];
    for (int k = 0; k < 4; ++k) {
      const __m256 t = _mm256_add_ps(_mm256_mul_ps(v[k], vid), bias);
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
