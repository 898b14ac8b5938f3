// Scale searches shared by the importance-weighted legacy encoders (Q4_0, Q4_1,
// Q5_0, Q5_1, IQ4_NL). They follow ggml's published algorithm step for step,
// including float accumulation order, so that our bytes equal ggml's.
#pragma once

#include <cstdint>
#include <cstring>

namespace shardq::legacy_detail {

// Groups whose absmax is below this are stored as all-zero (ggml's GROUP_MAX_EPS).
constexpr float kGroupMaxEps = 1e-15f;

// Round to nearest, ties to even, via the 1.5 * 2^23 magic constant (valid for |f| < 2^22).
inline int NearestInt(float f) {
  const float v = f + 12582912.f;
  int32_t i;
  std::memcpy(&i, &v, 4);
  return (i & 0x007fffff) - 0x00400000;
}

// Symmetric quantization to L[i] in 0..2*nmax-1 (stored offset by nmax), searching
// 19 candidate scales around -nmax/max and keeping the one with the best
// weighted least-squares fit. Returns the scale.
float MakeQxQuants(int n, int nmax, const float* x, int8_t* L, const float* weights);

// Asymmetric quantization to L[i] in 0..nmax with x ~ scale * L + min (min <= 0),
// searching nstep + 1 scales. Writes -min to *neg_min; returns the scale.
float MakeQkx3Quants(int n, int nmax, const float* x, const float* weights, uint8_t* L,
                     float* neg_min, uint8_t* laux, float rmin, float rdelta, int nstep);

// Index of the value in the sorted table `values` nearest to x (ties go up).
int BestIndexInt8(int n, const int8_t* values, float x);

}  // namespace shardq::legacy_detail
