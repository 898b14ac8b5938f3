// ggml's scale searches, one implementation shared by the legacy encoders
// (Q4_0..Q5_1, IQ4_NL) and the K-quants. The constants and the order of float
// operations follow ggml step for step, so that our bytes equal ggml's.
#pragma once

#include <cstdint>
#include <cstring>

namespace shardq::qsearch {

// Groups whose absmax is below this are stored as all-zero (ggml's GROUP_MAX_EPS).
constexpr float kGroupMaxEps = 1e-15f;

// ggml's rounding: adding 1.5 * 2^23 rounds to nearest, ties to even, exactly
// as ggml's nearest_int does (valid for |v| < 2^22, which ggml also assumes).
inline int NearestInt(float v) {
  const float t = v + 12582912.f;
  int32_t i;
  std::memcpy(&i, &t, 4);
  return (i & 0x007fffff) - 0x00400000;
}

// Which inverse scale (and offset) produced the levels a search returned:
// L[i] = clamp(NearestInt(iscale * (x[i] - offset))). GPTQ (block_grid.cpp)
// needs it to round later, error-updated values exactly as the encoder would;
// the searches return only the fitted scale, which is not that iscale.
struct RoundingChoice {
  float iscale = 0;
  float offset = 0;  // 0 for the symmetric searches
};

// Symmetric levels -nmax..nmax-1 (returned shifted by +nmax); scale fitted by
// weighted least squares over 19 candidate inverse scales around -nmax/max.
// qw (if not null) are the weights, else rmse_type picks them (ggml's meaning;
// 0 = plain rounding, negative = one fit and return early).
float MakeQxQuants(int n, int nmax, const float* x, int8_t* L, int rmse_type, const float* qw,
                   RoundingChoice* choice = nullptr);
// Q3_K's reference search (x^2 weights, coordinate descent on the levels).
float MakeQ3Quants(int n, int nmax, const float* x, int8_t* L, bool do_rmse);
// Asymmetric levels 0..nmax with x ~ scale * L + min (min <= 0), nstep + 1
// candidate scales. Writes -min to *the_min; returns the scale. Qkx2 needs
// weights; Qkx3 takes x^2 when weights is null (otherwise they agree).
float MakeQkx2Quants(int n, int nmax, const float* x, const float* weights, uint8_t* L,
                     float* the_min, uint8_t* Laux, float rmin, float rdelta, int nstep,
                     bool use_mad);
float MakeQkx3Quants(int n, int nmax, const float* x, const float* weights, uint8_t* L,
                     float* the_min, uint8_t* Laux, float rmin, float rdelta, int nstep,
                     bool use_mad, RoundingChoice* choice = nullptr);
// Non-negative values (sub-block scales or mins) to levels 0..nmax.
float MakeQpQuants(int n, int nmax, const float* x, uint8_t* L, const float* quant_weights);

// Index of the value in the sorted table `values` nearest to x (ties go up).
int BestIndexInt8(int n, const int8_t* values, float x);

}  // namespace shardq::qsearch
