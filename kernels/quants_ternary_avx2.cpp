// AVX2 decoding and dots of TQ1_0 and TQ2_0. Both unpack a block into 256 trit
// bytes (0, 1, 2 meaning -1, 0, 1) in value order, then share one dot kernel:
// against Q8_K, sum (t - 1) * y = sum t * y - sum y, where sum y comes from bsums.
#include <immintrin.h>

#include "kernels/block_structs.h"
#include "kernels/fp16.h"
#include "kernels/avx2_reduce.h"
#include "kernels/quants_ternary.h"

namespace shardq::ternary {
namespace {

using avx2::HorizontalSum;
using avx2::HorizontalSumInt;

// 16 packed base-3 bytes, each multiplied by its lane's power of 3 (mod 256):
// the leading trit is then (q * 3) >> 8.
inline __m128i Trits16(__m128i packed, __m256i pow3) {
  __m256i w = _mm256_cvtepu8_epi16(packed);
  w = _mm256_and_si256(_mm256_mullo_epi16(w, pow3), _mm256_set1_epi16(0xFF));
  w = _mm256_srli_epi16(_mm256_mullo_epi16(w, _mm256_set1_epi16(3)), 8);
  return _mm_packus_epi16(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1));
}

void UnpackTQ1_0(const BlockTQ1_0& b, uint8_t* t) {
  static constexpr int16_t kPow3[5] = {1, 3, 9, 27, 81};
  const __m128i a0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b.qs));
  const __m128i a1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b.qs + 16));
  const __m128i a2 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b.qs + 32));
  for (int n = 0; n < 5; ++n) {
    const __m256i p = _mm256_set1_epi16(kPow3[n]);
    // values 32n + m from qs[m], m < 32
    _mm_storeu_si128(reinterpret_cast<__m128i*>(t + 32 * n), Trits16(a0, p));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(t + 32 * n + 16), Trits16(a1, p));
    // values 160 + 16n + m from qs[32 + m]
    _mm_storeu_si128(reinterpret_cast<__m128i*>(t + 160 + 16 * n), Trits16(a2, p));
  }
  // values 240 + 4n + j from qh[j]: lane 4n + j takes qh[j] times 3^n
  uint32_t qh;
  __builtin_memcpy(&qh, b.qh, 4);
  const __m256i p = _mm256_setr_epi16(1, 1, 1, 1, 3, 3, 3, 3, 9, 9, 9, 9, 27, 27, 27, 27);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(t + 240), Trits16(_mm_set1_epi32(static_cast<int>(qh)), p));
}

void UnpackTQ2_0(const BlockTQ2_0& b, uint8_t* t) {
  const __m256i three = _mm256_set1_epi8(3);
  for (int c = 0; c < 2; ++c) {
    const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs + 32 * c));
    for (int l = 0; l < 4; ++l) {
      // 16-bit shifts are fine: the mask drops bits that crossed from the neighbour byte.
      const __m256i tl = _mm256_and_si256(_mm256_srli_epi16(q, 2 * l), three);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(t + 128 * c + 32 * l), tl);
    }
  }
}

inline __m256 TritsToFloat(const uint8_t* t8) {
  const __m256i v = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(t8)));
  return _mm256_cvtepi32_ps(_mm256_sub_epi32(v, _mm256_set1_epi32(1)));
}

void DequantizeTrits(const uint8_t* t, float d, float* y) {
  const __m256 vd = _mm256_set1_ps(d);
  for (int k = 0; k < kQK_K; k += 8) _mm256_storeu_ps(y + k, _mm256_mul_ps(TritsToFloat(t + k), vd));
}

__m256 DotTritsF32(const uint8_t* t, const float* v, float d, __m256 acc) {
  __m256 s = _mm256_setzero_ps();
  for (int k = 0; k < kQK_K; k += 8) s = _mm256_fmadd_ps(TritsToFloat(t + k), _mm256_loadu_ps(v + k), s);
  return _mm256_fmadd_ps(s, _mm256_set1_ps(d), acc);
}

int DotTritsQ8K(const uint8_t* t, const BlockQ8_K& y) {
  __m256i acc = _mm256_setzero_si256();
  const __m256i ones = _mm256_set1_epi16(1);
  for (int k = 0; k < kQK_K; k += 32) {
    const __m256i tv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(t + k));
    const __m256i yv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y.qs + k));
    acc = _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(tv, yv), ones));
  }
  const __m256i bsums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y.bsums));
  return HorizontalSumInt(acc) - HorizontalSumInt(_mm256_madd_epi16(bsums, ones));
}

template <typename Block, void (*kUnpack)(const Block&, uint8_t*)>
void DequantizeRow(const void* vx, float* y, int64_t n) {
  const Block* x = static_cast<const Block*>(vx);
  alignas(32) uint8_t t[kQK_K];
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    kUnpack(x[i], t);
    DequantizeTrits(t, Fp16ToF32(x[i].d), y + kQK_K * i);
  }
}

template <typename Block, void (*kUnpack)(const Block&, uint8_t*)>
float DotF32Row(const void* vx, const float* v, int64_t n) {
  const Block* x = static_cast<const Block*>(vx);
  alignas(32) uint8_t t[kQK_K];
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    kUnpack(x[i], t);
    acc = DotTritsF32(t, v + kQK_K * i, Fp16ToF32(x[i].d), acc);
  }
  return HorizontalSum(acc);
}

template <typename Block, void (*kUnpack)(const Block&, uint8_t*)>
float VecDotRow(const void* vx, const void* vv, int64_t n) {
  const Block* x = static_cast<const Block*>(vx);
  const BlockQ8_K* y = static_cast<const BlockQ8_K*>(vv);
  alignas(32) uint8_t t[kQK_K];
  float sumf = 0;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    kUnpack(x[i], t);
    sumf += static_cast<float>(DotTritsQ8K(t, y[i])) * (Fp16ToF32(x[i].d) * y[i].d);
  }
  return sumf;
}

}  // namespace

void DequantizeTQ1_0Avx2(const void* x, float* y, int64_t n) { DequantizeRow<BlockTQ1_0, UnpackTQ1_0>(x, y, n); }
float DotF32TQ1_0Avx2(const void* x, const float* v, int64_t n) { return DotF32Row<BlockTQ1_0, UnpackTQ1_0>(x, v, n); }
float VecDotTQ1_0Q8_KAvx2(const void* x, const void* v, int64_t n) { return VecDotRow<BlockTQ1_0, UnpackTQ1_0>(x, v, n); }

void DequantizeTQ2_0Avx2(const void* x, float* y, int64_t n) { DequantizeRow<BlockTQ2_0, UnpackTQ2_0>(x, y, n); }
float DotF32TQ2_0Avx2(const void* x, const float* v, int64_t n) { return DotF32Row<BlockTQ2_0, UnpackTQ2_0>(x, v, n); }
float VecDotTQ2_0Q8_KAvx2(const void* x, const void* v, int64_t n) { return VecDotRow<BlockTQ2_0, UnpackTQ2_0>(x, v, n); }

}  // namespace shardq::ternary
