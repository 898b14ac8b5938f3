// TQ1_0 and TQ2_0: ternary weights {-1, 0, 1} times one fp16 scale (the block's
// absmax) per 256 values. TQ2_0 stores each trit in 2 bits; TQ1_0 packs 5 trits
// per byte as a base-3 number scaled to 0..255 (q * 256 / 243, rounded up), so a
// trit is read back by multiplying by a power of 3 (mod 256) and taking the top
// bits of 3 * q. Value order inside a block follows ggml's layout exactly.
#include <cmath>
#include <cstring>

#include "kernels/block_format.h"
#include "kernels/block_structs.h"
#include "kernels/cpu_features.h"
#include "kernels/fp16.h"
#include "kernels/quants_ternary.h"

namespace shardq::ternary {
namespace {

constexpr uint8_t kPow3[6] = {1, 3, 9, 27, 81, 243};
constexpr size_t kTq1Qs = sizeof(BlockTQ1_0::qs);          // 48
constexpr size_t kTq1Qs32 = kTq1Qs - kTq1Qs % 32;           // 32: bytes in the 32-wide part
constexpr size_t kTq1Qh = sizeof(BlockTQ1_0::qh);           // 4

// -1, 0, 1 -> 0, 1, 2 (lroundf: halves away from zero, as ggml).
inline int Trit(float x, float id) { return static_cast<int>(std::lround(x * id)) + 1; }

// The base-3 digit `n` (most significant first) of a packed byte.
inline int UnpackTrit(uint8_t packed, int n) {
  const uint8_t q = static_cast<uint8_t>(packed * kPow3[n]);
  return (static_cast<uint16_t>(q) * 3) >> 8;
}

// Ceiling division maps 0..242 onto 0..255 so that UnpackTrit can read the digits.
inline uint8_t ScaleTrits(uint16_t q) { return static_cast<uint8_t>((q * 256 + 242) / 243); }

float BlockAbsMax(const float* x) {
  float amax = 0;
  for (int j = 0; j < kQK_K; ++j) amax = std::max(amax, std::fabs(x[j]));
  return amax;
}

}  // namespace

// ---- TQ1_0 ----------------------------------------------------------------
void QuantizeTQ1_0(const float* x, void* vy, int64_t n, const float*) {
  BlockTQ1_0* y = static_cast<BlockTQ1_0*>(vy);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d = BlockAbsMax(x);
    const float id = d ? 1.0f / d : 0.0f;
    y[i].d = F32ToFp16(d);
    // qs[0..31]: 5 trits each, values m + 32 n (n = 0..4) of the first 160.
    for (size_t m = 0; m < 32; ++m) {
      uint16_t q = 0;
      for (int t = 0; t < 5; ++t) q = static_cast<uint16_t>(q * 3 + Trit(x[m + 32 * t], id));
      y[i].qs[m] = ScaleTrits(q);
    }
    x += 160;
    // qs[32..47]: 5 trits each, values m + 16 n of the next 80.
    for (size_t m = 0; m < 16; ++m) {
      uint16_t q = 0;
      for (int t = 0; t < 5; ++t) q = static_cast<uint16_t>(q * 3 + Trit(x[m + 16 * t], id));
      y[i].qs[kTq1Qs32 + m] = ScaleTrits(q);
    }
    x += 80;
    // qh: 4 trits each, values j + 4 n of the last 16; the 5th trit is 0 so the
    // first value sits in the most significant digit like the others.
    for (size_t j = 0; j < kTq1Qh; ++j) {
      uint16_t q = 0;
      for (int t = 0; t < 4; ++t) q = static_cast<uint16_t>(q * 3 + Trit(x[j + kTq1Qh * t], id));
      y[i].qh[j] = ScaleTrits(static_cast<uint16_t>(q * 3));
    }
    x += 16;
  }
}

namespace {

// Trits of one block in value order (0, 1, 2 meaning -1, 0, 1).
void UnpackTQ1_0(const BlockTQ1_0& b, int* t) {
  int k = 0;
  for (int n = 0; n < 5; ++n)
    for (size_t m = 0; m < 32; ++m) t[k++] = UnpackTrit(b.qs[m], n);
  for (int n = 0; n < 5; ++n)
    for (size_t m = 0; m < 16; ++m) t[k++] = UnpackTrit(b.qs[kTq1Qs32 + m], n);
  for (int n = 0; n < 4; ++n)
    for (size_t j = 0; j < kTq1Qh; ++j) t[k++] = UnpackTrit(b.qh[j], n);
}

}  // namespace

void DequantizeTQ1_0(const void* vx, float* y, int64_t n) {
  const BlockTQ1_0* x = static_cast<const BlockTQ1_0*>(vx);
  int t[kQK_K];
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d = Fp16ToF32(x[i].d);
    UnpackTQ1_0(x[i], t);
    for (int j = 0; j < kQK_K; ++j) y[kQK_K * i + j] = static_cast<float>(t[j] - 1) * d;
  }
}

float DotF32TQ1_0(const void* vx, const float* v, int64_t n) {
  const BlockTQ1_0* x = static_cast<const BlockTQ1_0*>(vx);
  int t[kQK_K];
  double sum = 0;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    UnpackTQ1_0(x[i], t);
    double s = 0;
    for (int j = 0; j < kQK_K; ++j) s += (t[j] - 1) * static_cast<double>(v[kQK_K * i + j]);
    sum += s * Fp16ToF32(x[i].d);
  }
  return static_cast<float>(sum);
}

float VecDotTQ1_0Q8_K(const void* vx, const void* vv, int64_t n) {
  const BlockTQ1_0* x = static_cast<const BlockTQ1_0*>(vx);
  const BlockQ8_K* y = static_cast<const BlockQ8_K*>(vv);
  int t[kQK_K];
  float sumf = 0;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    UnpackTQ1_0(x[i], t);
    int sumi = 0;
    for (int j = 0; j < kQK_K; ++j) sumi += (t[j] - 1) * y[i].qs[j];
    sumf += static_cast<float>(sumi) * (Fp16ToF32(x[i].d) * y[i].d);
  }
  return sumf;
}

// ---- TQ2_0 ----------------------------------------------------------------
// Byte qs[32 c + m] holds values 128 c + m + 32 l in bits 2l..2l+1.
void QuantizeTQ2_0(const float* x, void* vy, int64_t n, const float*) {
  BlockTQ2_0* y = static_cast<BlockTQ2_0*>(vy);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d = BlockAbsMax(x);
    const float id = d ? 1.0f / d : 0.0f;
    y[i].d = F32ToFp16(d);
    for (size_t c = 0; c < sizeof(y->qs); c += 32) {
      for (size_t m = 0; m < 32; ++m) {
        uint8_t q = 0;
        for (int l = 0; l < 4; ++l) q = static_cast<uint8_t>(q | ((Trit(x[m + 32 * l], id) & 3) << (2 * l)));
        y[i].qs[c + m] = q;
      }
      x += 128;
    }
  }
}

void DequantizeTQ2_0(const void* vx, float* y, int64_t n) {
  const BlockTQ2_0* x = static_cast<const BlockTQ2_0*>(vx);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d = Fp16ToF32(x[i].d);
    for (size_t c = 0; c < sizeof(x->qs); c += 32)
      for (int l = 0; l < 4; ++l)
        for (size_t m = 0; m < 32; ++m) *y++ = static_cast<float>(((x[i].qs[c + m] >> (2 * l)) & 3) - 1) * d;
  }
}

float DotF32TQ2_0(const void* vx, const float* v, int64_t n) {
  const BlockTQ2_0* x = static_cast<const BlockTQ2_0*>(vx);
  double sum = 0;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    double s = 0;
    int k = 0;
    for (size_t c = 0; c < sizeof(x->qs); c += 32)
      for (int l = 0; l < 4; ++l)
        for (size_t m = 0; m < 32; ++m, ++k)
          s += (((x[i].qs[c + m] >> (2 * l)) & 3) - 1) * static_cast<double>(v[kQK_K * i + k]);
    sum += s * Fp16ToF32(x[i].d);
  }
  return static_cast<float>(sum);
}

float VecDotTQ2_0Q8_K(const void* vx, const void* vv, int64_t n) {
  const BlockTQ2_0* x = static_cast<const BlockTQ2_0*>(vx);
  const BlockQ8_K* y = static_cast<const BlockQ8_K*>(vv);
  float sumf = 0;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    int sumi = 0;
    int k = 0;
    for (size_t c = 0; c < sizeof(x->qs); c += 32)
      for (int l = 0; l < 4; ++l)
        for (size_t m = 0; m < 32; ++m, ++k) sumi += (((x[i].qs[c + m] >> (2 * l)) & 3) - 1) * y[i].qs[k];
    sumf += static_cast<float>(sumi) * (Fp16ToF32(x[i].d) * y[i].d);
  }
  return sumf;
}

}  // namespace shardq::ternary

namespace shardq {

void RegisterTernaryFormats(BlockFormatTable& table, bool simd) {
  using namespace ternary;
  const bool avx2 = simd && GetCpuFeatures().avx2;
  BlockFormat tq1;
  tq1.type = GgmlType::TQ1_0; tq1.name = "TQ1_0"; tq1.block_size = kQK_K;
  tq1.block_bytes = sizeof(BlockTQ1_0); tq1.quantized = true;
  tq1.quantize_row = QuantizeTQ1_0;
  tq1.dequantize_row = avx2 ? DequantizeTQ1_0Avx2 : DequantizeTQ1_0;
  tq1.dot_f32 = avx2 ? DotF32TQ1_0Avx2 : DotF32TQ1_0;
  tq1.vec_dot_type = GgmlType::Q8_K;
  tq1.vec_dot = avx2 ? VecDotTQ1_0Q8_KAvx2 : VecDotTQ1_0Q8_K;
  table.Set(tq1);

  BlockFormat tq2;
  tq2.type = GgmlType::TQ2_0; tq2.name = "TQ2_0"; tq2.block_size = kQK_K;
  tq2.block_bytes = sizeof(BlockTQ2_0); tq2.quantized = true;
  tq2.quantize_row = QuantizeTQ2_0;
  tq2.dequantize_row = avx2 ? DequantizeTQ2_0Avx2 : DequantizeTQ2_0;
  tq2.dot_f32 = avx2 ? DotF32TQ2_0Avx2 : DotF32TQ2_0;
  tq2.vec_dot_type = GgmlType::Q8_K;
  tq2.vec_dot = avx2 ? VecDotTQ2_0Q8_KAvx2 : VecDotTQ2_0Q8_K;
  table.Set(tq2);
}

}  // namespace shardq
