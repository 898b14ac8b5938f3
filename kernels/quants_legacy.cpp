// Scalar reference encoders/decoders of the legacy block formats. Without
// importance the encoders are ggml's reference quantizers (round from the
// absmax or the min/max), which the golden files pin down byte for byte; with
// importance they run ggml's weighted scale searches (quant_search.cpp).
#include "kernels/quants_legacy.h"

#include <cfloat>
#include <cmath>
#include <cstring>

#include "kernels/cpu_features.h"
#include "kernels/block_format.h"
#include "kernels/block_structs.h"
#include "kernels/fp16.h"
#include "kernels/quant_search.h"

namespace shardq::legacy {

// Value of largest magnitude, the first one on ties (ggml's scan order).
float SignedAbsMax(const float* x, int n) {
  float amax = 0, max = 0;
  for (int j = 0; j < n; ++j) {
    if (amax < std::fabs(x[j])) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  return max;
}

namespace {

// ggml's weighted searches (rmse_type 1 with the weights given; squared errors).
using qsearch::MakeQkx3Quants;
using qsearch::MakeQxQuants;

// sigma2 of ggml's importance weighting: the row's mean square, summed in order.
float RowMeanSquare(const float* x, int64_t n) {
  float sum_x2 = 0;
  for (int64_t j = 0; j < n; ++j) sum_x2 += x[j] * x[j];
  return sum_x2 / n;
}

// weight[j] = importance[j] * sqrt(sigma2 + x[j]^2): importance alone ignores
// that large weights matter more; sigma2 keeps small values from getting zero weight.
void ImportanceWeights(const float* xb, const float* qw, float sigma2, float* weight) {
  for (int j = 0; j < 32; ++j) weight[j] = qw[j] * std::sqrt(sigma2 + xb[j] * xb[j]);
}

void PackQh(const uint8_t* L, uint8_t* qs, uint8_t* qh_bytes) {
  uint32_t qh = 0;
  for (int j = 0; j < 16; ++j) {
    const uint8_t lo = L[j], hi = L[j + 16];
    qs[j] = static_cast<uint8_t>((lo & 0x0F) | ((hi & 0x0F) << 4));
    qh |= ((lo & 0x10u) >> 4) << j;
    qh |= ((hi & 0x10u) >> 4) << (j + 16);
  }
  std::memcpy(qh_bytes, &qh, 4);
}

uint32_t LoadQh(const uint8_t* qh_bytes) {
  uint32_t qh;
  std::memcpy(&qh, qh_bytes, 4);
  return qh;
}

// Unpacks the 5-bit quants of a Q5 block (0..31).
void UnpackQ5(const uint8_t* qs, const uint8_t* qh_bytes, int* q) {
  const uint32_t qh = LoadQh(qh_bytes);
  for (int j = 0; j < 16; ++j) {
    q[j] = (qs[j] & 0x0F) | static_cast<int>(((qh >> j) & 1u) << 4);
    q[j + 16] = (qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4);
  }
}

// dot_f32 through the decoder: the reference the SIMD versions are held to.
template <typename Block, void (*kDecode)(const void*, float*, int64_t)>
float DotViaDecode(const void* x, const float* v, int64_t n) {
  const Block* b = static_cast<const Block*>(x);
  double sum = 0;
  float tmp[32];
  for (int64_t i = 0; i < n / 32; ++i) {
    kDecode(&b[i], tmp, 32);
    for (int j = 0; j < 32; ++j) sum += static_cast<double>(tmp[j]) * v[32 * i + j];
  }
  return static_cast<float>(sum);
}

// Q4_1 and Q5_1 share their encoder: x = q * d + m with levels 0..kNmax.
// With importance, ggml's weighted qkx3 search; without, the block's min and
// max, as ggml's reference does it (which clamps Q4_1's levels at 15 and
// leaves Q5_1's as rounded: kept as is, for its bytes).
template <int kNmax, typename Block>
void QuantizeAffine1(const float* x, Block* y, int64_t n, const float* importance,
                     void (*pack)(const uint8_t* L, Block* y)) {
  const int64_t nb = n / 32;
  uint8_t L[32];
  if (importance) {
    const float sigma2 = RowMeanSquare(x, n);
    float weight[32];
    uint8_t laux[32];
    for (int64_t i = 0; i < nb; ++i) {
      const float* xb = x + 32 * i;
      ImportanceWeights(xb, importance + 32 * i, sigma2, weight);
      float neg_min;
      const float d = MakeQkx3Quants(32, kNmax, xb, weight, L, &neg_min, laux, -0.9f, 0.05f, 36, false);
      y[i].d = F32ToFp16(d);
      y[i].m = F32ToFp16(-neg_min);
      pack(L, &y[i]);
    }
    return;
  }
  for (int64_t i = 0; i < nb; ++i) {
    const float* xb = x + 32 * i;
    float min = FLT_MAX, max = -FLT_MAX;
    for (int j = 0; j < 32; ++j) {
      if (xb[j] < min) min = xb[j];
      if (xb[j] > max) max = xb[j];
    }
    const float d = (max - min) / kNmax;
    const float id = d ? 1.0f / d : 0.0f;
    y[i].d = F32ToFp16(d);
    y[i].m = F32ToFp16(min);
    for (int j = 0; j < 32; ++j) {
      const int l = static_cast<int8_t>((xb[j] - min) * id + 0.5f);
      L[j] = static_cast<uint8_t>(kNmax == 15 ? std::min(15, l) : l);
    }
    pack(L, &y[i]);
  }
}

void PackNibbles(const uint8_t* L, BlockQ4_1* y) {
  for (int j = 0; j < 16; ++j) y->qs[j] = static_cast<uint8_t>(L[j] | (L[j + 16] << 4));
}

void PackQ5Levels(const uint8_t* L, BlockQ5_1* y) { PackQh(L, y->qs, y->qh); }

}  // namespace

// ---- Q4_0 ---------------------------------------------------------------------
void QuantizeQ4_0(const float* x, void* vy, int64_t n, const float* importance) {
  BlockQ4_0* y = static_cast<BlockQ4_0*>(vy);
  const int64_t nb = n / kQK4_0;
  if (importance) {
    const float sigma2 = RowMeanSquare(x, n);
    float weight[32];
    int8_t L[32];
    for (int64_t i = 0; i < nb; ++i) {
      const float* xb = x + 32 * i;
      ImportanceWeights(xb, importance + 32 * i, sigma2, weight);
      const float d = MakeQxQuants(32, 8, xb, L, 1, weight);
      y[i].d = F32ToFp16(d);
      for (int j = 0; j < 16; ++j) y[i].qs[j] = static_cast<uint8_t>(L[j] | (L[j + 16] << 4));
    }
    return;
  }
  for (int64_t i = 0; i < nb; ++i) {
    const float* xb = x + 32 * i;
    const float d = SignedAbsMax(xb, 32) / -8;
    const float id = d ? 1.0f / d : 0.0f;
    y[i].d = F32ToFp16(d);
    for (int j = 0; j < 16; ++j) {
      // Truncation after +8.5 is ggml's rounding (half away from -8).
      const int lo = std::min(15, static_cast<int>(static_cast<int8_t>(xb[j] * id + 8.5f)));
      const int hi = std::min(15, static_cast<int>(static_cast<int8_t>(xb[j + 16] * id + 8.5f)));
      y[i].qs[j] = static_cast<uint8_t>(lo | (hi << 4));
    }
  }
}

void DequantizeQ4_0(const void* vx, float* y, int64_t n) {
  const BlockQ4_0* x = static_cast<const BlockQ4_0*>(vx);
  for (int64_t i = 0; i < n / kQK4_0; ++i) {
    const float d = Fp16ToF32(x[i].d);
    for (int j = 0; j < 16; ++j) {
      y[32 * i + j] = ((x[i].qs[j] & 0x0F) - 8) * d;
      y[32 * i + j + 16] = ((x[i].qs[j] >> 4) - 8) * d;
    }
  }
}

float DotF32Q4_0(const void* x, const float* v, int64_t n) {
  return DotViaDecode<BlockQ4_0, DequantizeQ4_0>(x, v, n);
}

float VecDotQ4_0Q8_0(const void* vx, const void* vv, int64_t n) {
  const BlockQ4_0* x = static_cast<const BlockQ4_0*>(vx);
  const BlockQ8_0* y = static_cast<const BlockQ8_0*>(vv);
  float sumf = 0;
  for (int64_t i = 0; i < n / kQK4_0; ++i) {
    int sumi = 0;
    for (int j = 0; j < 16; ++j) {
      sumi += ((x[i].qs[j] & 0x0F) - 8) * y[i].qs[j];
      sumi += ((x[i].qs[j] >> 4) - 8) * y[i].qs[j + 16];
    }
    sumf += sumi * Fp16ToF32(x[i].d) * Fp16ToF32(y[i].d);
  }
  return sumf;
}

// ---- Q4_1 ---------------------------------------------------------------------
void QuantizeQ4_1(const float* x, void* vy, int64_t n, const float* importance) {
  QuantizeAffine1<15>(x, static_cast<BlockQ4_1*>(vy), n, importance, PackNibbles);
}

void DequantizeQ4_1(const void* vx, float* y, int64_t n) {
  const BlockQ4_1* x = static_cast<const BlockQ4_1*>(vx);
  for (int64_t i = 0; i < n / kQK4_1; ++i) {
    const float d = Fp16ToF32(x[i].d);
    const float m = Fp16ToF32(x[i].m);
    for (int j = 0; j < 16; ++j) {
      y[32 * i + j] = (x[i].qs[j] & 0x0F) * d + m;
      y[32 * i + j + 16] = (x[i].qs[j] >> 4) * d + m;
    }
  }
}

float DotF32Q4_1(const void* x, const float* v, int64_t n) {
  return DotViaDecode<BlockQ4_1, DequantizeQ4_1>(x, v, n);
}

float VecDotQ4_1Q8_1(const void* vx, const void* vv, int64_t n) {
  const BlockQ4_1* x = static_cast<const BlockQ4_1*>(vx);
  const BlockQ8_1* y = static_cast<const BlockQ8_1*>(vv);
  float sumf = 0;
  for (int64_t i = 0; i < n / kQK4_1; ++i) {
    int sumi = 0;
    for (int j = 0; j < 16; ++j) {
      sumi += (x[i].qs[j] & 0x0F) * y[i].qs[j];
      sumi += (x[i].qs[j] >> 4) * y[i].qs[j + 16];
    }
    // The min term uses s = d_y * sum(q_y), precomputed in the activation block.
    sumf += (Fp16ToF32(x[i].d) * Fp16ToF32(y[i].d)) * sumi + Fp16ToF32(x[i].m) * Fp16ToF32(y[i].s);
  }
  return sumf;
}

// ---- Q5_0 ---------------------------------------------------------------------
void QuantizeQ5_0(const float* x, void* vy, int64_t n, const float* importance) {
  BlockQ5_0* y = static_cast<BlockQ5_0*>(vy);
  const int64_t nb = n / kQK5_0;
  if (importance) {
    const float sigma2 = RowMeanSquare(x, n);
    float weight[32];
    int8_t L[32];
    uint8_t U[32];
    for (int64_t i = 0; i < nb; ++i) {
      const float* xb = x + 32 * i;
      ImportanceWeights(xb, importance + 32 * i, sigma2, weight);
      const float d = MakeQxQuants(32, 16, xb, L, 1, weight);
      y[i].d = F32ToFp16(d);
      for (int j = 0; j < 32; ++j) U[j] = static_cast<uint8_t>(L[j]);
      PackQh(U, y[i].qs, y[i].qh);
    }
    return;
  }
  for (int64_t i = 0; i < nb; ++i) {
    const float* xb = x + 32 * i;
    const float d = SignedAbsMax(xb, 32) / -16;
    const float id = d ? 1.0f / d : 0.0f;
    y[i].d = F32ToFp16(d);
    uint8_t L[32];
    for (int j = 0; j < 32; ++j) {
      L[j] = static_cast<uint8_t>(std::min(31, static_cast<int>(static_cast<int8_t>(xb[j] * id + 16.5f))));
    }
    PackQh(L, y[i].qs, y[i].qh);
  }
}

void DequantizeQ5_0(const void* vx, float* y, int64_t n) {
  const BlockQ5_0* x = static_cast<const BlockQ5_0*>(vx);
  int q[32];
  for (int64_t i = 0; i < n / kQK5_0; ++i) {
    const float d = Fp16ToF32(x[i].d);
    UnpackQ5(x[i].qs, x[i].qh, q);
    for (int j = 0; j < 32; ++j) y[32 * i + j] = (q[j] - 16) * d;
  }
}

float DotF32Q5_0(const void* x, const float* v, int64_t n) {
  return DotViaDecode<BlockQ5_0, DequantizeQ5_0>(x, v, n);
}

float VecDotQ5_0Q8_0(const void* vx, const void* vv, int64_t n) {
  const BlockQ5_0* x = static_cast<const BlockQ5_0*>(vx);
  const BlockQ8_0* y = static_cast<const BlockQ8_0*>(vv);
  float sumf = 0;
  int q[32];
  for (int64_t i = 0; i < n / kQK5_0; ++i) {
    UnpackQ5(x[i].qs, x[i].qh, q);
    int sumi = 0;
    for (int j = 0; j < 32; ++j) sumi += (q[j] - 16) * y[i].qs[j];
    sumf += sumi * Fp16ToF32(x[i].d) * Fp16ToF32(y[i].d);
  }
  return sumf;
}

// ---- Q5_1 ---------------------------------------------------------------------
void QuantizeQ5_1(const float* x, void* vy, int64_t n, const float* importance) {
  QuantizeAffine1<31>(x, static_cast<BlockQ5_1*>(vy), n, importance, PackQ5Levels);
}

void DequantizeQ5_1(const void* vx, float* y, int64_t n) {
  const BlockQ5_1* x = static_cast<const BlockQ5_1*>(vx);
  int q[32];
  for (int64_t i = 0; i < n / kQK5_1; ++i) {
    const float d = Fp16ToF32(x[i].d);
    const float m = Fp16ToF32(x[i].m);
    UnpackQ5(x[i].qs, x[i].qh, q);
    for (int j = 0; j < 32; ++j) y[32 * i + j] = q[j] * d + m;
  }
}

float DotF32Q5_1(const void* x, const float* v, int64_t n) {
  return DotViaDecode<BlockQ5_1, DequantizeQ5_1>(x, v, n);
}

float VecDotQ5_1Q8_1(const void* vx, const void* vv, int64_t n) {
  const BlockQ5_1* x = static_cast<const BlockQ5_1*>(vx);
  const BlockQ8_1* y = static_cast<const BlockQ8_1*>(vv);
  float sumf = 0;
  int q[32];
  for (int64_t i = 0; i < n / kQK5_1; ++i) {
    UnpackQ5(x[i].qs, x[i].qh, q);
    int sumi = 0;
    for (int j = 0; j < 32; ++j) sumi += q[j] * y[i].qs[j];
    sumf += (Fp16ToF32(x[i].d) * Fp16ToF32(y[i].d)) * sumi + Fp16ToF32(x[i].m) * Fp16ToF32(y[i].s);
  }
  return sumf;
}

// ---- Q8_0 / Q8_1 --------------------------------------------------------------
// Both share their int8 half: d = amax / 127, q = round(x / d). Q8_1 also keeps
// s = d * sum(q), so the Q4_1/Q5_1 dots can add the minimum's contribution.
namespace {

// Encodes one block's d and qs; returns sum(q), and the unrounded d in *d_out.
template <typename Block>
int QuantizeQ8Block(const float* xb, Block* b, float* d_out) {
  float amax = 0;
  for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(xb[j]));
  const float d = amax / 127;
  const float id = d ? 1.0f / d : 0.0f;
  b->d = F32ToFp16(d);
  int sum = 0;
  for (int j = 0; j < 32; ++j) {
    b->qs[j] = static_cast<int8_t>(std::roundf(xb[j] * id));
    sum += b->qs[j];
  }
  *d_out = d;
  return sum;
}

template <typename Block>
void DequantizeQ8(const void* vx, float* y, int64_t n) {
  const Block* x = static_cast<const Block*>(vx);
  for (int64_t i = 0; i < n / 32; ++i) {
    const float d = Fp16ToF32(x[i].d);
    for (int j = 0; j < 32; ++j) y[32 * i + j] = x[i].qs[j] * d;
  }
}

template <typename Block>
float VecDotQ8(const void* vx, const void* vv, int64_t n) {
  const Block* x = static_cast<const Block*>(vx);
  const Block* y = static_cast<const Block*>(vv);
  float sumf = 0;
  for (int64_t i = 0; i < n / 32; ++i) {
    int sumi = 0;
    for (int j = 0; j < 32; ++j) sumi += x[i].qs[j] * y[i].qs[j];
    sumf += sumi * (Fp16ToF32(x[i].d) * Fp16ToF32(y[i].d));
  }
  return sumf;
}

}  // namespace

void QuantizeQ8_0(const float* x, void* vy, int64_t n, const float*) {
  BlockQ8_0* y = static_cast<BlockQ8_0*>(vy);
  float d;
  for (int64_t i = 0; i < n / kQK8_0; ++i) QuantizeQ8Block(x + 32 * i, &y[i], &d);
}

void DequantizeQ8_0(const void* vx, float* y, int64_t n) { DequantizeQ8<BlockQ8_0>(vx, y, n); }

float DotF32Q8_0(const void* x, const float* v, int64_t n) {
  return DotViaDecode<BlockQ8_0, DequantizeQ8_0>(x, v, n);
}

float VecDotQ8_0Q8_0(const void* vx, const void* vv, int64_t n) { return VecDotQ8<BlockQ8_0>(vx, vv, n); }

void QuantizeQ8_1(const float* x, void* vy, int64_t n, const float*) {
  BlockQ8_1* y = static_cast<BlockQ8_1*>(vy);
  for (int64_t i = 0; i < n / kQK8_1; ++i) {
    float d;
    const int sum = QuantizeQ8Block(x + 32 * i, &y[i], &d);
    y[i].s = F32ToFp16(sum * d);  // from the unrounded d, as ggml stores it
  }
}

void DequantizeQ8_1(const void* vx, float* y, int64_t n) { DequantizeQ8<BlockQ8_1>(vx, y, n); }

float DotF32Q8_1(const void* x, const float* v, int64_t n) {
  return DotViaDecode<BlockQ8_1, DequantizeQ8_1>(x, v, n);
}

float VecDotQ8_1Q8_1(const void* vx, const void* vv, int64_t n) { return VecDotQ8<BlockQ8_1>(vx, vv, n); }

}  // namespace shardq::legacy

namespace shardq {

void RegisterLegacyFormats(BlockFormatTable& table, bool simd) {
  using namespace legacy;
  auto make = [](GgmlType type, const char* name, size_t bytes, bool importance, GgmlType vdt) {
    BlockFormat f;
    f.type = type; f.name = name; f.block_size = 32; f.block_bytes = bytes;
    f.quantized = true; f.uses_importance = importance; f.vec_dot_type = vdt;
    return f;
  };
  BlockFormat q4_0 = make(GgmlType::Q4_0, "Q4_0", sizeof(BlockQ4_0), true, GgmlType::Q8_0);
  BlockFormat q4_1 = make(GgmlType::Q4_1, "Q4_1", sizeof(BlockQ4_1), true, GgmlType::Q8_1);
  BlockFormat q5_0 = make(GgmlType::Q5_0, "Q5_0", sizeof(BlockQ5_0), true, GgmlType::Q8_0);
  BlockFormat q5_1 = make(GgmlType::Q5_1, "Q5_1", sizeof(BlockQ5_1), true, GgmlType::Q8_1);
  // ggml ignores importance for the 8-bit formats: nothing is left to search.
  BlockFormat q8_0 = make(GgmlType::Q8_0, "Q8_0", sizeof(BlockQ8_0), false, GgmlType::Q8_0);
  BlockFormat q8_1 = make(GgmlType::Q8_1, "Q8_1", sizeof(BlockQ8_1), false, GgmlType::Q8_1);
  BlockFormat iq4nl = make(GgmlType::IQ4_NL, "IQ4_NL", sizeof(BlockIQ4_NL), true, GgmlType::Q8_0);

  auto set_fns = [](BlockFormat& f, auto q, auto dq, auto dot, auto vdot) {
    f.quantize_row = q; f.dequantize_row = dq; f.dot_f32 = dot; f.vec_dot = vdot;
  };
  if (simd && GetCpuFeatures().avx2) {
    set_fns(q4_0, QuantizeQ4_0Avx2, DequantizeQ4_0Avx2, DotF32Q4_0Avx2, VecDotQ4_0Q8_0Avx2);
    set_fns(q4_1, QuantizeQ4_1Avx2, DequantizeQ4_1Avx2, DotF32Q4_1Avx2, VecDotQ4_1Q8_1Avx2);
    set_fns(q5_0, QuantizeQ5_0Avx2, DequantizeQ5_0Avx2, DotF32Q5_0Avx2, VecDotQ5_0Q8_0Avx2);
    set_fns(q5_1, QuantizeQ5_1Avx2, DequantizeQ5_1Avx2, DotF32Q5_1Avx2, VecDotQ5_1Q8_1Avx2);
    set_fns(q8_0, QuantizeQ8_0Avx2, DequantizeQ8_0Avx2, DotF32Q8_0Avx2, VecDotQ8_0Q8_0Avx2);
    // Q8_1 rows are only decoded in tests; its encoder is the hot part (activations).
    set_fns(q8_1, QuantizeQ8_1Avx2, DequantizeQ8_1, DotF32Q8_1, VecDotQ8_1Q8_1);
    // IQ4_NL's encoder runs its scale search one block per lane (quants_iq4nl_avx2.cpp).
    set_fns(iq4nl, QuantizeIQ4_NLAvx2, DequantizeIQ4_NLAvx2, DotF32IQ4_NLAvx2, VecDotIQ4_NLQ8_0Avx2);
  } else {
    set_fns(q4_0, QuantizeQ4_0, DequantizeQ4_0, DotF32Q4_0, VecDotQ4_0Q8_0);
    set_fns(q4_1, QuantizeQ4_1, DequantizeQ4_1, DotF32Q4_1, VecDotQ4_1Q8_1);
    set_fns(q5_0, QuantizeQ5_0, DequantizeQ5_0, DotF32Q5_0, VecDotQ5_0Q8_0);
    set_fns(q5_1, QuantizeQ5_1, DequantizeQ5_1, DotF32Q5_1, VecDotQ5_1Q8_1);
    set_fns(q8_0, QuantizeQ8_0, DequantizeQ8_0, DotF32Q8_0, VecDotQ8_0Q8_0);
    set_fns(q8_1, QuantizeQ8_1, DequantizeQ8_1, DotF32Q8_1, VecDotQ8_1Q8_1);
    set_fns(iq4nl, QuantizeIQ4_NL, DequantizeIQ4_NL, DotF32IQ4_NL, VecDotIQ4_NLQ8_0);
  }
  for (const BlockFormat& f : {q4_0, q4_1, q5_0, q5_1, q8_0, q8_1, iq4nl}) table.Set(f);
}

}  // namespace shardq
