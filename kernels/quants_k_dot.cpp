// Dot products of K-quant rows: against float vectors (decode a block, then
// multiply) and against Q8_K activations with integer sums inside each
// sub-block, one float multiply per sub-block, as ggml's generic kernels do.
#include <cstring>

#include "kernels/fp16.h"
#include "kernels/quants_k.h"
#include "kernels/quants_k_scales.h"

namespace shardq::kquant {
namespace {

// One block as signed integer levels plus integer sub-block scales/offsets:
// value[k] = d * scale[k / sub] * level[k] - dmin * offset[k / sub].
struct IntBlock {
  int8_t level[kQK_K];
  int scale[16];
  int offset[16];
  int sub = 16;  // values per sub-block
  float d = 0, dmin = 0;
};

void Levels2Bit(const uint8_t* qs, int8_t* out) {
  for (int h = 0; h < 2; ++h) {
    for (int shift = 0; shift < 8; shift += 2) {
      for (int l = 0; l < 32; ++l) *out++ = static_cast<int8_t>((qs[32 * h + l] >> shift) & 3);
    }
  }
}

void Decode(const BlockQ2_K& b, IntBlock* o) {
  Levels2Bit(b.qs, o->level);
  for (int j = 0; j < 16; ++j) {
    o->scale[j] = b.scales[j] & 0xF;
    o->offset[j] = b.scales[j] >> 4;
  }
  o->sub = 16;
  o->d = Fp16ToF32(b.d);
  o->dmin = Fp16ToF32(b.dmin);
}

void Decode(const BlockQ3_K& b, IntBlock* o) {
  Levels2Bit(b.qs, o->level);
  for (int k = 0; k < kQK_K; ++k) {
    // the high bit of element k is bit k / 32 of hmask[k % 32]; clear means -4
    if (!((b.hmask[k % 32] >> (k / 32)) & 1)) o->level[k] = static_cast<int8_t>(o->level[k] - 4);
  }
  for (int j = 0; j < 16; ++j) {
    o->scale[j] = GetScaleQ3(j, b.scales) - 32;
    o->offset[j] = 0;
  }
  o->sub = 16;
  o->d = Fp16ToF32(b.d);
  o->dmin = 0;
}

void Decode(const BlockQ4_K& b, IntBlock* o) {
  for (int h = 0; h < 4; ++h) {
    for (int l = 0; l < 32; ++l) {
      o->level[64 * h + l] = static_cast<int8_t>(b.qs[32 * h + l] & 0xF);
      o->level[64 * h + 32 + l] = static_cast<int8_t>(b.qs[32 * h + l] >> 4);
    }
  }
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, m;
    GetScaleMinK4(j, b.scales, &sc, &m);
    o->scale[j] = sc;
    o->offset[j] = m;
  }
  o->sub = 32;
  o->d = Fp16ToF32(b.d);
  o->dmin = Fp16ToF32(b.dmin);
}

void Decode(const BlockQ5_K& b, IntBlock* o) {
  for (int h = 0; h < 4; ++h) {
    for (int l = 0; l < 32; ++l) {
      const int hi1 = (b.qh[l] >> (2 * h)) & 1;
      const int hi2 = (b.qh[l] >> (2 * h + 1)) & 1;
      o->level[64 * h + l] = static_cast<int8_t>((b.qs[32 * h + l] & 0xF) | (hi1 << 4));
      o->level[64 * h + 32 + l] = static_cast<int8_t>((b.qs[32 * h + l] >> 4) | (hi2 << 4));
    }
  }
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, m;
    GetScaleMinK4(j, b.scales, &sc, &m);
    o->scale[j] = sc;
    o->offset[j] = m;
  }
  o->sub = 32;
  o->d = Fp16ToF32(b.d);
  o->dmin = Fp16ToF32(b.dmin);
}

void Decode(const BlockQ6_K& b, IntBlock* o) {
  for (int h = 0; h < 2; ++h) {
    const uint8_t* ql = b.ql + 64 * h;
    const uint8_t* qh = b.qh + 32 * h;
    int8_t* lv = o->level + 128 * h;
    for (int l = 0; l < 32; ++l) {
      lv[l + 0] = static_cast<int8_t>(((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32);
      lv[l + 32] = static_cast<int8_t>(((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32);
      lv[l + 64] = static_cast<int8_t>(((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
      lv[l + 96] = static_cast<int8_t>(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
    }
  }
  for (int j = 0; j < 16; ++j) {
    o->scale[j] = b.scales[j];
    o->offset[j] = 0;
  }
  o->sub = 16;
  o->d = Fp16ToF32(b.d);
  o->dmin = 0;
}

void Decode(const BlockQ8_K& b, IntBlock* o) {
  std::memcpy(o->level, b.qs, kQK_K);
  for (int j = 0; j < 16; ++j) {
    o->scale[j] = 1;
    o->offset[j] = 0;
  }
  o->sub = 16;
  o->d = b.d;
  o->dmin = 0;
}

template <typename Block>
float VecDot(const void* vx, const void* vv, int64_t n) {
  const auto* x = static_cast<const Block*>(vx);
  const auto* v = static_cast<const BlockQ8_K*>(vv);
  IntBlock b;
  float sumf = 0;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    Decode(x[i], &b);
    const int nsub = kQK_K / b.sub;
    int32_t sumi = 0, summ = 0;
    for (int j = 0; j < nsub; ++j) {
      int32_t isum = 0;
      for (int k = j * b.sub; k < (j + 1) * b.sub; ++k) isum += b.level[k] * v[i].qs[k];
      sumi += b.scale[j] * isum;
      // the offset multiplies the sum of the activations: Q8_K's bsums
      int32_t bsum = 0;
      for (int g = j * b.sub / 16; g < (j + 1) * b.sub / 16; ++g) bsum += v[i].bsums[g];
      summ += b.offset[j] * bsum;
    }
    sumf += v[i].d * (b.d * static_cast<float>(sumi) - b.dmin * static_cast<float>(summ));
  }
  return sumf;
}

template <typename Block>
float DotF32(const void* vx, const float* v, int64_t n) {
  const auto* x = static_cast<const Block*>(vx);
  IntBlock b;
  double sum = 0;
  for (int64_t i = 0; i < n / kQK_K; ++i, v += kQK_K) {
    Decode(x[i], &b);
    for (int j = 0; j < kQK_K / b.sub; ++j) {
      const float ds = b.d * static_cast<float>(b.scale[j]);
      const float dm = b.dmin * static_cast<float>(b.offset[j]);
      float acc = 0, vsum = 0;
      for (int k = j * b.sub; k < (j + 1) * b.sub; ++k) {
        acc += b.level[k] * v[k];
        vsum += v[k];
      }
      sum += static_cast<double>(ds) * acc - static_cast<double>(dm) * vsum;
    }
  }
  return static_cast<float>(sum);
}

}  // namespace

float DotF32Q2K(const void* x, const float* v, int64_t n) { return DotF32<BlockQ2_K>(x, v, n); }
float DotF32Q3K(const void* x, const float* v, int64_t n) { return DotF32<BlockQ3_K>(x, v, n); }
float DotF32Q4K(const void* x, const float* v, int64_t n) { return DotF32<BlockQ4_K>(x, v, n); }
float DotF32Q5K(const void* x, const float* v, int64_t n) { return DotF32<BlockQ5_K>(x, v, n); }
float DotF32Q6K(const void* x, const float* v, int64_t n) { return DotF32<BlockQ6_K>(x, v, n); }
float DotF32Q8K(const void* x, const float* v, int64_t n) { return DotF32<BlockQ8_K>(x, v, n); }
float VecDotQ2KQ8K(const void* x, const void* v, int64_t n) { return VecDot<BlockQ2_K>(x, v, n); }
float VecDotQ3KQ8K(const void* x, const void* v, int64_t n) { return VecDot<BlockQ3_K>(x, v, n); }
float VecDotQ4KQ8K(const void* x, const void* v, int64_t n) { return VecDot<BlockQ4_K>(x, v, n); }
float VecDotQ5KQ8K(const void* x, const void* v, int64_t n) { return VecDot<BlockQ5_K>(x, v, n); }
float VecDotQ6KQ8K(const void* x, const void* v, int64_t n) { return VecDot<BlockQ6_K>(x, v, n); }
float VecDotQ8KQ8K(const void* x, const void* v, int64_t n) { return VecDot<BlockQ8_K>(x, v, n); }

}  // namespace shardq::kquant
