// Lane-per-group layouts for the *_avx2.cpp encoders whose searches run one
// group (sub-block or block) per lane. Include only from files compiled with
// -mavx2 (names ending in _avx2.cpp), like avx2_reduce.h.
#pragma once

#include <immintrin.h>

namespace shardq::avx2 {

// 8 groups of kLen floats (group j at x + kLen * j, kLen a multiple of 8) into
// kLen vectors: lane j of xt[i] is x[kLen * j + i]. In-register 8x8 transposes
// (3 shuffles per vector) instead of one gather per vector: gathers cost
// several times that on the AVX2-only AMD parts (vgatherdps is microcoded).
// Pure data movement, so the encoders' bytes cannot change.
template <int kLen>
inline void TransposeGroups(const float* x, __m256* xt) {
  static_assert(kLen % 8 == 0);
  for (int i0 = 0; i0 < kLen; i0 += 8) {
    __m256 r[8];
    for (int j = 0; j < 8; ++j) r[j] = _mm256_loadu_ps(x + kLen * j + i0);
    // rows (j) -> pairs of rows interleaved -> quads -> 128-bit halves swapped
    const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    xt[i0 + 0] = _mm256_permute2f128_ps(u0, u4, 0x20);
    xt[i0 + 1] = _mm256_permute2f128_ps(u1, u5, 0x20);
    xt[i0 + 2] = _mm256_permute2f128_ps(u2, u6, 0x20);
    xt[i0 + 3] = _mm256_permute2f128_ps(u3, u7, 0x20);
    xt[i0 + 4] = _mm256_permute2f128_ps(u0, u4, 0x31);
    xt[i0 + 5] = _mm256_permute2f128_ps(u1, u5, 0x31);
    xt[i0 + 6] = _mm256_permute2f128_ps(u2, u6, 0x31);
    xt[i0 + 7] = _mm256_permute2f128_ps(u3, u7, 0x31);
  }
}

}  // namespace shardq::avx2
