// IQ4_NL: 32 values per block on the fixed non-uniform grid kIQ4NLValues times
// one fp16 scale. ggml always searches the scale (with x^2 as weights when no
// importance is given), then re-rounds every value with the final fp16-bound
// scale; we do the same so the bytes match.
#include <cmath>

#include "kernels/block_structs.h"
#include "kernels/fp16.h"
#include "kernels/quants_legacy.h"
#include "kernels/quant_search.h"

namespace shardq::legacy {
namespace {

using qsearch::BestIndexInt8;
using qsearch::kGroupMaxEps;

constexpr int kNTry = 7;  // scale candidates on each side of the absmax scale

}  // namespace

float SearchIQ4_NLScale(const float* x, const float* qw) {
  const int8_t* values = kIQ4NLValues;
  // ggml's sigma2 here is twice the block's mean square (not the row's).
  float sigma2 = 0;
  for (int j = 0; j < 32; ++j) sigma2 += x[j] * x[j];
  sigma2 *= 2.f / 32;

  float weight[32];
  if (qw) {
    for (int j = 0; j < 32; ++j) weight[j] = qw[j] * std::sqrt(sigma2 + x[j] * x[j]);
  } else {
    for (int j = 0; j < 32; ++j) weight[j] = x[j] * x[j];
  }
  float amax = 0, max = 0;
  for (int j = 0; j < 32; ++j) {
    const float ax = std::fabs(x[j]);
    if (ax > amax) {
      amax = ax;
      max = x[j];
    }
  }
  float d = 0;
  if (amax >= kGroupMaxEps) {
    d = -max / values[0];
    float id = 1 / d;
    float sumqx = 0, sumq2 = 0;
    for (int j = 0; j < 32; ++j) {
      const float q = values[BestIndexInt8(16, values, id * x[j])];
      sumqx += weight[j] * q * x[j];
      sumq2 += weight[j] * q * q;
    }
    d = sumqx / sumq2;
    float best = d * sumqx;
    for (int itry = -kNTry; itry <= kNTry; ++itry) {
      id = (itry + values[0]) / max;
      sumqx = sumq2 = 0;
      for (int j = 0; j < 32; ++j) {
        const float q = values[BestIndexInt8(16, values, id * x[j])];
        sumqx += weight[j] * q * x[j];
        sumq2 += weight[j] * q * q;
      }
      if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
        d = sumqx / sumq2;
        best = d * sumqx;
      }
    }
  }
  return d;
}

namespace {

void QuantizeBlockIQ4_NL(const float* x, const float* qw, BlockIQ4_NL* y) {
  const int8_t* values = kIQ4NLValues;
  const float d = SearchIQ4_NLScale(x, qw);
  uint8_t L[32];
  // Re-round with the chosen scale (an all-zero block gets index 8, the level nearest 0).
  const float id_final = d ? 1 / d : 0;
  for (int j = 0; j < 32; ++j) L[j] = static_cast<uint8_t>(BestIndexInt8(16, values, id_final * x[j]));
  y->d = F32ToFp16(d);
  for (int j = 0; j < 16; ++j) y->qs[j] = static_cast<uint8_t>(L[j] | (L[j + 16] << 4));
}

}  // namespace

void QuantizeIQ4_NL(const float* x, void* vy, int64_t n, const float* importance) {
  BlockIQ4_NL* y = static_cast<BlockIQ4_NL*>(vy);
  for (int64_t i = 0; i < n / kQK4_NL; ++i) {
    QuantizeBlockIQ4_NL(x + 32 * i, importance ? importance + 32 * i : nullptr, &y[i]);
  }
}

void DequantizeIQ4_NL(const void* vx, float* y, int64_t n) {
  const BlockIQ4_NL* x = static_cast<const BlockIQ4_NL*>(vx);
  for (int64_t i = 0; i < n / kQK4_NL; ++i) {
    const float d = Fp16ToF32(x[i].d);
    for (int j = 0; j < 16; ++j) {
      y[32 * i + j] = d * kIQ4NLValues[x[i].qs[j] & 0x0F];
      y[32 * i + j + 16] = d * kIQ4NLValues[x[i].qs[j] >> 4];
    }
  }
}

float DotF32IQ4_NL(const void* vx, const float* v, int64_t n) {
  const BlockIQ4_NL* x = static_cast<const BlockIQ4_NL*>(vx);
  double sum = 0;
  float tmp[32];
  for (int64_t i = 0; i < n / kQK4_NL; ++i) {
    DequantizeIQ4_NL(&x[i], tmp, 32);
    for (int j = 0; j < 32; ++j) sum += static_cast<double>(tmp[j]) * v[32 * i + j];
  }
  return static_cast<float>(sum);
}

float VecDotIQ4_NLQ8_0(const void* vx, const void* vv, int64_t n) {
  const BlockIQ4_NL* x = static_cast<const BlockIQ4_NL*>(vx);
  const BlockQ8_0* y = static_cast<const BlockQ8_0*>(vv);
  float sumf = 0;
  for (int64_t i = 0; i < n / kQK4_NL; ++i) {
    int sumi = 0;
    for (int j = 0; j < 16; ++j) {
      sumi += kIQ4NLValues[x[i].qs[j] & 0x0F] * y[i].qs[j];
      sumi += kIQ4NLValues[x[i].qs[j] >> 4] * y[i].qs[j + 16];
    }
    sumf += (Fp16ToF32(x[i].d) * Fp16ToF32(y[i].d)) * sumi;
  }
  return sumf;
}

}  // namespace shardq::legacy
