// Inline AVX2 helpers shared by the quants_legacy*_avx2.cpp files. Include it
// only from files compiled with -mavx2 -mfma -mf16c (names ending in _avx2.cpp).
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "kernels/avx2_reduce.h"

namespace shardq::legacy::avx2_detail {

// An opaque copy of v: stops the compiler from fusing the product that made v
// with a following add into one FMA (GCC contracts across intrinsics), which
// would round once instead of twice and break equality with the scalar code.
inline __m256 Rounded(__m256 v) {
  __asm__("" : "+x"(v));
  return v;
}

using avx2::HorizontalMax;
using avx2::HorizontalMin;
using avx2::HorizontalSum;
using avx2::HorizontalSumInt;

// Loads one 32-value block and returns max |x| over it.
inline float BlockAbsMax(const float* x, __m256 v[4]) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  for (int k = 0; k < 4; ++k) v[k] = _mm256_loadu_ps(x + 8 * k);
  const __m256 m01 = _mm256_max_ps(_mm256_andnot_ps(sign, v[0]), _mm256_andnot_ps(sign, v[1]));
  const __m256 m23 = _mm256_max_ps(_mm256_andnot_ps(sign, v[2]), _mm256_andnot_ps(sign, v[3]));
  return HorizontalMax(_mm256_max_ps(m01, m23));
}

// fp16 bits of f, round to nearest even: the same result as F32ToFp16 (fp16.h), in one instruction.
inline uint16_t ToFp16(float f) { return static_cast<uint16_t>(_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT)); }

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

// One 32-value block as Q8_0 and Q8_1 encode it: d = max|x| / 127, levels
// round(x / d) half away from zero, stored to qs. Returns d; q gets the levels
// as int32 (Q8_1 also stores their sum).
inline float QuantizeBlockQ8(const float* x, int8_t* qs, __m256i q[4]) {
  __m256 v[4];
  const float amax = BlockAbsMax(x, v);
  const float d = amax / 127;
  const float id = d ? 1.0f / d : 0.0f;
  const __m256 vid = _mm256_set1_ps(id);
  for (int k = 0; k < 4; ++k) q[k] = _mm256_cvtps_epi32(RoundHalfAway(Rounded(_mm256_mul_ps(v[k], vid))));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(qs), PackInt32ToInt8(q[0], q[1], q[2], q[3]));
  return d;
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


// 32 quants (0..31, one per byte, element order) -> 16 bytes of low nibbles
// (element j low, j + 16 high) and the 32 fifth bits as a little-endian word.
inline void PackNibbles(__m256i bytes, uint8_t* qs) {
  const __m256i low = _mm256_and_si256(bytes, _mm256_set1_epi8(0x0F));
  const __m128i lo = _mm256_castsi256_si128(low);
  const __m128i hi = _mm256_extracti128_si256(low, 1);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(qs), _mm_or_si128(lo, _mm_slli_epi16(hi, 4)));
}
inline uint32_t FifthBits(__m256i bytes) {
  return static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_slli_epi16(bytes, 3)));
}

// 16 bytes of nibbles -> 32 unsigned quants 0..15 in element order.
inline __m256i UnpackNibbles(const uint8_t* qs) {
  const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m128i mask = _mm_set1_epi8(0x0F);
  return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(raw, 4), mask), _mm_and_si128(raw, mask));
}

// The 32 fifth bits of a Q5 block as 0x10 bytes (0 where the bit is clear).
inline __m256i FifthBitBytes(const uint8_t* qh_bytes) {
  uint32_t qh;
  __builtin_memcpy(&qh, qh_bytes, 4);
  // Byte j gets byte j / 8 of qh, then tests bit j % 8.
  const __m256i spread = _mm256_shuffle_epi8(
      _mm256_set1_epi32(static_cast<int>(qh)),
      _mm256_setr_epi64x(0x0000000000000000, 0x0101010101010101, 0x0202020202020202, 0x0303030303030303));
  const __m256i bit = _mm256_set1_epi64x(static_cast<int64_t>(0x8040201008040201ULL));
  const __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit);
  return _mm256_and_si256(set, _mm256_set1_epi8(0x10));
}

// Sum over 32 products of unsigned (0..31) x and signed y bytes, as 8 int32 lanes.
inline __m256i DotUint8Int8(__m256i x, __m256i y) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(x, y), _mm256_set1_epi16(1));
}

// The signed value of the first of 32 elements equal to `target` (the element a scalar
// scan with strict comparisons keeps), or 0 if none is (NaN).
inline float FirstEqual(const float* xb, const __m256 v[4], float target) {
  const __m256 t = _mm256_set1_ps(target);
  uint32_t hits = 0;
  for (int k = 0; k < 4; ++k) {
    hits |= static_cast<uint32_t>(_mm256_movemask_ps(_mm256_cmp_ps(v[k], t, _CMP_EQ_OQ))) << (8 * k);
  }
  return hits ? xb[__builtin_ctz(hits)] : 0.0f;
}

// The signed value of the first element with |x| == amax (amax > 0), as a scalar
// scan keeping the first strictly larger magnitude finds it.
inline float FirstAbsEqual(const float* xb, const __m256 v[4], float amax) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  const __m256 t = _mm256_set1_ps(amax);
  uint32_t hits = 0;
  for (int k = 0; k < 4; ++k) {
    const __m256 eq = _mm256_cmp_ps(_mm256_andnot_ps(sign, v[k]), t, _CMP_EQ_OQ);
    hits |= static_cast<uint32_t>(_mm256_movemask_ps(eq)) << (8 * k);
  }
  return hits ? xb[__builtin_ctz(hits)] : 0.0f;
}

// Loads one 32-value block and returns the value of largest magnitude, the first
// one when a positive and a negative tie (the scalar scan's rule), +0 for zeros.
inline float BlockSignedAbsMax(const float* xb, __m256 v[4]) {
  for (int k = 0; k < 4; ++k) v[k] = _mm256_loadu_ps(xb + 8 * k);
  const float hi = HorizontalMax(_mm256_max_ps(_mm256_max_ps(v[0], v[1]), _mm256_max_ps(v[2], v[3])));
  const float lo = HorizontalMin(_mm256_min_ps(_mm256_min_ps(v[0], v[1]), _mm256_min_ps(v[2], v[3])));
  // Ties are rare and predictable; the sign choice is a coin flip, so select without a branch.
  if (hi == -lo) return hi > 0 ? FirstAbsEqual(xb, v, hi) : 0.0f;
  const __m128 h = _mm_set_ss(hi), l = _mm_set_ss(lo);
  const __m128 pick_hi = _mm_cmpgt_ss(h, _mm_xor_ps(l, _mm_set1_ps(-0.0f)));
  return _mm_cvtss_f32(_mm_blendv_ps(l, h, pick_hi));
}

}  // namespace shardq::legacy::avx2_detail
