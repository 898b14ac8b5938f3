// AVX2 decoders of Q4_K and Q6_K (scalar reference: DequantizeRowQ4K/Q6K in
// quants_k.cpp), the two types of a Q4_K_M file, whose rows `shardq quantize`
// decodes again to measure its error. Each float is the reference's own
// expression in the reference's order (Q4_K: d * sc, times the level, minus
// dmin * m; Q6_K: d * sc, times the level): one rounding per operation, no
// FMA, so the floats are the reference's bit for bit, whatever d holds.
#include <immintrin.h>

#include "kernels/fp16.h"
#include "kernels/quants_k.h"
#include "kernels/quants_k_scales.h"

#pragma GCC optimize("fp-contract=off")

namespace shardq::kquant {
namespace {

__m256i Load(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

// 32 bytes (each a level 0..63) to four vectors of 8 floats.
void LevelsToFloats(__m256i u, __m256 f[4]) {
  const __m128i lo = _mm256_castsi256_si128(u), hi = _mm256_extracti128_si256(u, 1);
  f[0] = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(lo));
  f[1] = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(lo, 8)));
  f[2] = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(hi));
  f[3] = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(hi, 8)));
}

}  // namespace

void DequantizeRowQ4KAvx2(const void* vx, float* y, int64_t n) {
  const auto* x = static_cast<const BlockQ4_K*>(vx);
  const __m256i low4 = _mm256_set1_epi8(0xF);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d = Fp16ToF32(x[i].d);
    const float min = Fp16ToF32(x[i].dmin);
    for (int h = 0; h < 4; ++h) {
      const __m256i qs = Load(x[i].qs + 32 * h);
      const __m256i u[2] = {_mm256_and_si256(qs, low4), _mm256_and_si256(_mm256_srli_epi16(qs, 4), low4)};
      for (int s = 0; s < 2; ++s) {
        uint8_t sc, m;
        GetScaleMinK4(2 * h + s, x[i].scales, &sc, &m);
        const __m256 dl = _mm256_set1_ps(d * sc), ml = _mm256_set1_ps(min * m);
        __m256 f[4];
        LevelsToFloats(u[s], f);
        for (int k = 0; k < 4; ++k) _mm256_storeu_ps(y + 8 * k, _mm256_sub_ps(_mm256_mul_ps(dl, f[k]), ml));
        y += 32;
      }
    }
  }
}

void DequantizeRowQ6KAvx2(const void* vx, float* y, int64_t n) {
  const auto* x = static_cast<const BlockQ6_K*>(vx);
  const __m256i low4 = _mm256_set1_epi8(0xF), bias = _mm256_set1_epi32(32);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d = Fp16ToF32(x[i].d);
    for (int h = 0; h < 2; ++h) {
      // the four groups of 32 levels (+32) of this half, as the reference decodes
      // them: values l, l + 32, l + 64, l + 96 from ql[l] low, ql[l + 32] low,
      // ql[l] high, ql[l + 32] high and qh[l] bits 0-1, 2-3, 4-5, 6-7
      const __m256i ql0 = Load(x[i].ql + 64 * h), ql1 = Load(x[i].ql + 64 * h + 32);
      const __m256i qh = Load(x[i].qh + 32 * h);
      const __m256i two = _mm256_set1_epi8(3);
      const __m256i u[4] = {
          _mm256_or_si256(_mm256_and_si256(ql0, low4), _mm256_slli_epi16(_mm256_and_si256(qh, two), 4)),
          _mm256_or_si256(_mm256_and_si256(ql1, low4),
                          _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), two), 4)),
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), low4),
                          _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), two), 4)),
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), low4),
                          _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), two), 4)),
      };
      const int8_t* sc = x[i].scales + 8 * h;
      for (int g = 0; g < 4; ++g) {
        const __m128i lo = _mm256_castsi256_si128(u[g]), hi = _mm256_extracti128_si256(u[g], 1);
        const __m128i parts[4] = {lo, _mm_srli_si128(lo, 8), hi, _mm_srli_si128(hi, 8)};
        for (int k = 0; k < 4; ++k) {
          // values 8k..8k+7 of group g: sub-block (of 16) 2g + k / 2 of this half
          const __m256 dl = _mm256_set1_ps(d * sc[2 * g + k / 2]);
          const __m256 q = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_cvtepu8_epi32(parts[k]), bias));
          _mm256_storeu_ps(y + 32 * g + 8 * k, _mm256_mul_ps(dl, q));
        }
      }
      y += 128;
    }
  }
}

}  // namespace shardq::kquant
