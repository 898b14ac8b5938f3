// Scalar reference encoders and decoders of the K-quants, following ggml's
// algorithms (quantize_row_q*_K_ref without importance, quantize_row_q*_K_impl
// with it) so that the bytes match ggml's.
#include "kernels/quants_k.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/fp16.h"
#include "kernels/quants_k_scales.h"

namespace shardq::kquant {
namespace {


// 2-bit levels: byte l of each 32-byte group holds elements l, l+32, l+64, l+96
// (of that 128-value half) in bits 0-1, 2-3, 4-5, 6-7.
void Pack2Bit(const uint8_t* L, uint8_t* qs) {
  for (int j = 0; j < kQK_K; j += 128) {
    for (int l = 0; l < 32; ++l) {
      qs[j / 4 + l] = static_cast<uint8_t>(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) |
                                           (L[j + l + 96] << 6));
    }
  }
}

void PackQ2K(const float* x, BlockQ2_K* y, uint8_t* L) {
  const float dm = Fp16ToF32(y->d);
  const float mm = Fp16ToF32(y->dmin);
  for (int j = 0; j < kQK_K / 16; ++j) {
    const float d = dm * (y->scales[j] & 0xF);
    if (!d) continue;
    const float m = mm * (y->scales[j] >> 4);
    for (int ii = 0; ii < 16; ++ii) {
      int l = NearestInt((x[16 * j + ii] + m) / d);
      L[16 * j + ii] = static_cast<uint8_t>(std::max(0, std::min(3, l)));
    }
  }
  Pack2Bit(L, y->qs);
}

void PackQ3K(const float* x, BlockQ3_K* y, int8_t* L) {
  const float dall = Fp16ToF32(y->d);
  for (int j = 0; j < kQK_K / 16; ++j) {
    const int sc = GetScaleQ3(j, y->scales) - 32;
    const float d = dall * sc;
    if (!d) continue;
    for (int ii = 0; ii < 16; ++ii) {
      int l = NearestInt(x[16 * j + ii] / d);
      L[16 * j + ii] = static_cast<int8_t>(std::max(-4, std::min(3, l)) + 4);
    }
  }
  std::memset(y->hmask, 0, sizeof(y->hmask));
  uint8_t low[kQK_K];
  int m = 0;
  uint8_t hm = 1;
  for (int j = 0; j < kQK_K; ++j) {
    int l = L[j];
    if (l > 3) {
      y->hmask[m] |= hm;
      l -= 4;
    }
    low[j] = static_cast<uint8_t>(l);
    if (++m == kQK_K / 8) {
      m = 0;
      hm = static_cast<uint8_t>(hm << 1);
    }
  }
  Pack2Bit(low, y->qs);
}

// Final rounding of a Q4_K/Q5_K block once its packed scales are set.
template <int kNmax>
void RequantizeAsym(const float* x, uint16_t d16, uint16_t dmin16, const uint8_t* scales,
                    uint8_t* L) {
  for (int j = 0; j < kQK_K / 32; ++j) {
    uint8_t sc, m;
    GetScaleMinK4(j, scales, &sc, &m);
    const float d = Fp16ToF32(d16) * sc;
    if (!d) continue;
    const float dm = Fp16ToF32(dmin16) * m;
    for (int ii = 0; ii < 32; ++ii) {
      const int l = NearestInt((x[32 * j + ii] + dm) / d);
      L[32 * j + ii] = static_cast<uint8_t>(std::max(0, std::min(kNmax, l)));
    }
  }
}

void PackQ5KQuants(const uint8_t* L, BlockQ5_K* y) {
  std::memset(y->qh, 0, sizeof(y->qh));
  uint8_t* ql = y->qs;
  uint8_t m1 = 1, m2 = 2;
  for (int n = 0; n < kQK_K; n += 64) {
    for (int j = 0; j < 32; ++j) {
      int l1 = L[n + j];
      if (l1 > 15) { l1 -= 16; y->qh[j] |= m1; }
      int l2 = L[n + j + 32];
      if (l2 > 15) { l2 -= 16; y->qh[j] |= m2; }
      ql[j] = static_cast<uint8_t>(l1 | (l2 << 4));
    }
    m1 = static_cast<uint8_t>(m1 << 2);
    m2 = static_cast<uint8_t>(m2 << 2);
    ql += 32;
  }
}

// Q4_K/Q5_K without importance: per sub-block qkx2 search with weights
// av_x + |x|, then the scales and mins to 6 bits against their maxima.
template <int kNmax>
void QuantizeAsymRef(const float* x, uint16_t* d16, uint16_t* dmin16, uint8_t* packed,
                     uint8_t* L, float rmin, float rdelta, int nstep) {
  float mins[8], scales[8], weights[32];
  uint8_t Laux[32];
  for (int j = 0; j < 8; ++j) {
    float sum_x2 = 0;
    for (int l = 0; l < 32; ++l) sum_x2 += x[32 * j + l] * x[32 * j + l];
    const float av_x = std::sqrt(sum_x2 / 32);
    for (int l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(x[32 * j + l]);
    scales[j] = MakeQkx2Quants(32, kNmax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux, rmin,
                               rdelta, nstep, false);
  }
  SetAsymScalesRef(scales, mins, d16, dmin16, packed);
  RequantizeAsym<kNmax>(x, *d16, *dmin16, packed, L);
}

// Q4_K/Q5_K with importance: weights qw * sqrt(sigma2 + x^2), qkx3 search,
// then the 8 scales and 8 mins to 6 bits by make_qp_quants weighted by each
// sub-block's total weight.
template <int kNmax>
void QuantizeAsymImpl(const float* x, const float* qw_block, uint16_t* d16, uint16_t* dmin16,
                      uint8_t* packed, uint8_t* L) {
  float mins[8], scales[8], weights[32], sw[8];
  uint8_t Laux[32];
  float sum_x2 = 0;
  for (int l = 0; l < kQK_K; ++l) sum_x2 += x[l] * x[l];
  const float sigma2 = 2 * sum_x2 / kQK_K;
  for (int j = 0; j < 8; ++j) {
    const float* qw = qw_block + 32 * j;
    for (int l = 0; l < 32; ++l) weights[l] = qw[l] * std::sqrt(sigma2 + x[32 * j + l] * x[32 * j + l]);
    float sumw = 0;
    for (int l = 0; l < 32; ++l) sumw += weights[l];
    sw[j] = sumw;
    scales[j] = MakeQkx3Quants(32, kNmax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux, -0.9f,
                               0.05f, 36, false);
  }
  SetAsymScalesImpl(scales, mins, sw, d16, dmin16, packed);
  RequantizeAsym<kNmax>(x, *d16, *dmin16, packed, L);
}

}  // namespace

void SetAsymScalesRef(const float* scales, const float* mins, uint16_t* d16, uint16_t* dmin16, uint8_t* packed) {
  float max_scale = 0, max_min = 0;
  for (int j = 0; j < 8; ++j) {
    if (scales[j] > max_scale) max_scale = scales[j];
    if (mins[j] > max_min) max_min = mins[j];
  }
  const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
  const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
  std::memset(packed, 0, kKScaleSize);
  for (int j = 0; j < 8; ++j) {
    const int ls = std::min(63, NearestInt(inv_scale * scales[j]));
    const int lm = std::min(63, NearestInt(inv_min * mins[j]));
    SetScaleMinK4(j, ls, lm, packed);
  }
  *d16 = F32ToFp16(max_scale / 63.f);
  *dmin16 = F32ToFp16(max_min / 63.f);
}

void SetAsymScalesImpl(const float* scales, const float* mins, const float* sw, uint16_t* d16, uint16_t* dmin16,
                       uint8_t* packed) {
  uint8_t Ls[8], Lm[8];
  const float d_block = MakeQpQuants(8, 63, scales, Ls, sw);
  const float m_block = MakeQpQuants(8, 63, mins, Lm, sw);
  std::memset(packed, 0, kKScaleSize);
  for (int j = 0; j < 8; ++j) SetScaleMinK4(j, Ls[j], Lm[j], packed);
  *d16 = F32ToFp16(d_block);
  *dmin16 = F32ToFp16(m_block);
}

void PackQ4KQuants(const uint8_t* L, BlockQ4_K* y) {
  uint8_t* q = y->qs;
  for (int j = 0; j < kQK_K; j += 64) {
    for (int l = 0; l < 32; ++l) q[l] = static_cast<uint8_t>(L[j + l] | (L[j + l + 32] << 4));
    q += 32;
  }
}

void PackQ6KQuants(const uint8_t* L, BlockQ6_K* y) {
  uint8_t* ql = y->ql;
  uint8_t* qh = y->qh;
  for (int j = 0; j < kQK_K; j += 128) {
    for (int l = 0; l < 32; ++l) {
      const uint8_t q1 = L[j + l + 0] & 0xF;
      const uint8_t q2 = L[j + l + 32] & 0xF;
      const uint8_t q3 = L[j + l + 64] & 0xF;
      const uint8_t q4 = L[j + l + 96] & 0xF;
      ql[l + 0] = static_cast<uint8_t>(q1 | (q3 << 4));
      ql[l + 32] = static_cast<uint8_t>(q2 | (q4 << 4));
      qh[l] = static_cast<uint8_t>((L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) |
                                   ((L[j + l + 64] >> 4) << 4) | ((L[j + l + 96] >> 4) << 6));
    }
    ql += 64;
    qh += 32;
  }
}

void QuantizeRowQ2K(const float* x, void* vy, int64_t n, const float* importance) {
  auto* y = static_cast<BlockQ2_K*>(vy);
  const int64_t nb = n / kQK_K;
  uint8_t L[kQK_K], Laux[16], Ls[16], Lm[16];
  float mins[16], scales[16], weights[16], sw[16];
  for (int64_t i = 0; i < nb; ++i, x += kQK_K) {
    if (!importance) {
      // Reference: qkx2 with |x| weights and mean-absolute-deviation error.
      float max_scale = 0, max_min = 0;
      for (int j = 0; j < 16; ++j) {
        for (int l = 0; l < 16; ++l) weights[l] = std::fabs(x[16 * j + l]);
        scales[j] = MakeQkx2Quants(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j], Laux, -0.5f,
                                   0.1f, 15, true);
        if (scales[j] > max_scale) max_scale = scales[j];
        if (mins[j] > max_min) max_min = mins[j];
      }
      constexpr float q4scale = 15.f;
      if (max_scale > 0) {
        const float iscale = q4scale / max_scale;
        for (int j = 0; j < 16; ++j) y[i].scales[j] = static_cast<uint8_t>(NearestInt(iscale * scales[j]));
        y[i].d = F32ToFp16(max_scale / q4scale);
      } else {
        for (int j = 0; j < 16; ++j) y[i].scales[j] = 0;
        y[i].d = F32ToFp16(0.f);
      }
      if (max_min > 0) {
        const float iscale = q4scale / max_min;
        for (int j = 0; j < 16; ++j) {
          y[i].scales[j] |= static_cast<uint8_t>(NearestInt(iscale * mins[j]) << 4);
        }
        y[i].dmin = F32ToFp16(max_min / q4scale);
      } else {
        y[i].dmin = F32ToFp16(0.f);
      }
    } else {
      const float* qw_block = importance + kQK_K * i;
      float sum_x2 = 0;
      for (int l = 0; l < kQK_K; ++l) sum_x2 += x[l] * x[l];
      const float sigma2 = sum_x2 / kQK_K;
      for (int j = 0; j < 16; ++j) {
        const float* qw = qw_block + 16 * j;
        for (int l = 0; l < 16; ++l) weights[l] = qw[l] * std::sqrt(sigma2 + x[16 * j + l] * x[16 * j + l]);
        float sumw = 0;
        for (int l = 0; l < 16; ++l) sumw += weights[l];
        sw[j] = sumw;
        scales[j] = MakeQkx3Quants(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j], Laux, -0.9f,
                                   0.05f, 36, false);
      }
      const float dm = MakeQpQuants(16, 15, scales, Ls, sw);
      const float mm = MakeQpQuants(16, 15, mins, Lm, sw);
      y[i].d = F32ToFp16(dm);
      y[i].dmin = F32ToFp16(mm);
      for (int j = 0; j < 16; ++j) y[i].scales[j] = static_cast<uint8_t>(Ls[j] | (Lm[j] << 4));
    }
    PackQ2K(x, &y[i], L);
  }
}

void QuantizeRowQ3K(const float* x, void* vy, int64_t n, const float* importance) {
  auto* y = static_cast<BlockQ3_K*>(vy);
  const int64_t nb = n / kQK_K;
  int8_t L[kQK_K];
  float scales[16], weights[16], sw[16];
  int8_t Ls[16];
  for (int64_t i = 0; i < nb; ++i, x += kQK_K) {
    std::memset(y[i].scales, 0, sizeof(y[i].scales));
    if (!importance) {
      // Reference: per sub-block make_q3_quants, scales to 6 bits signed
      // against the scale of largest magnitude.
      float max_scale = 0, amax = 0;
      for (int j = 0; j < 16; ++j) {
        scales[j] = MakeQ3Quants(16, 4, x + 16 * j, L + 16 * j, true);
        const float scale = std::fabs(scales[j]);
        if (scale > amax) { amax = scale; max_scale = scales[j]; }
      }
      if (max_scale) {
        const float iscale = -32.f / max_scale;
        for (int j = 0; j < 16; ++j) {
          int l = NearestInt(iscale * scales[j]);
          l = std::max(-32, std::min(31, l)) + 32;
          SetScaleQ3(j, l, y[i].scales);
        }
        y[i].d = F32ToFp16(1 / iscale);
      } else {
        y[i].d = F32ToFp16(0.f);
      }
    } else {
      const float* qw_block = importance + kQK_K * i;
      float sum_x2 = 0;
      for (int l = 0; l < kQK_K; ++l) sum_x2 += x[l] * x[l];
      const float sigma2 = 2 * sum_x2 / kQK_K;
      for (int j = 0; j < 16; ++j) {
        const float* qw = qw_block + 16 * j;
        for (int l = 0; l < 16; ++l) weights[l] = qw[l] * std::sqrt(sigma2 + x[16 * j + l] * x[16 * j + l]);
        float sumw = 0;
        for (int l = 0; l < 16; ++l) sumw += weights[l];
        sw[j] = sumw;
        scales[j] = MakeQxQuants(16, 4, x + 16 * j, L + 16 * j, 1, weights);
      }
      const float d_block = MakeQxQuants(16, 32, scales, Ls, 1, sw);
      for (int j = 0; j < 16; ++j) SetScaleQ3(j, Ls[j], y[i].scales);
      y[i].d = F32ToFp16(d_block);
    }
    PackQ3K(x, &y[i], L);
  }
}

namespace {

// Q4_K and Q5_K: the same row loop, differing in the level count, the
// reference search's candidate range and the packing of the levels.
template <int kNmax, class Block>
void QuantizeRowAsymK(const float* x, Block* y, int64_t n, const float* importance, float rmin,
                      float rdelta, int nstep, void (*pack)(const uint8_t*, Block*)) {
  const int64_t nb = n / kQK_K;
  uint8_t L[kQK_K];
  for (int64_t i = 0; i < nb; ++i, x += kQK_K) {
    if (!importance) {
      QuantizeAsymRef<kNmax>(x, &y[i].d, &y[i].dmin, y[i].scales, L, rmin, rdelta, nstep);
    } else {
      QuantizeAsymImpl<kNmax>(x, importance + kQK_K * i, &y[i].d, &y[i].dmin, y[i].scales, L);
    }
    pack(L, &y[i]);
  }
}

}  // namespace

void QuantizeRowQ4K(const float* x, void* vy, int64_t n, const float* importance) {
  QuantizeRowAsymK<15>(x, static_cast<BlockQ4_K*>(vy), n, importance, -1.f, 0.1f, 20,
                       PackQ4KQuants);
}

void QuantizeRowQ5K(const float* x, void* vy, int64_t n, const float* importance) {
  QuantizeRowAsymK<31>(x, static_cast<BlockQ5_K*>(vy), n, importance, -0.5f, 0.1f, 15,
                       PackQ5KQuants);
}

void QuantizeRowQ6K(const float* x, void* vy, int64_t n, const float* importance) {
  auto* y = static_cast<BlockQ6_K*>(vy);
  const int64_t nb = n / kQK_K;
  int8_t L[kQK_K];
  float scales[16];
  for (int64_t i = 0; i < nb; ++i, x += kQK_K) {
    float max_scale = 0, max_abs_scale = 0;
    for (int ib = 0; ib < 16; ++ib) {
      // With importance ggml passes the raw importance as the weights.
      const float* qw = importance ? importance + kQK_K * i + 16 * ib : nullptr;
      const float scale = MakeQxQuants(16, 32, x + 16 * ib, L + 16 * ib, 1, qw);
      scales[ib] = scale;
      const float abs_scale = std::fabs(scale);
      if (abs_scale > max_abs_scale) { max_abs_scale = abs_scale; max_scale = scale; }
    }
    if (max_abs_scale < kGroupMaxEps) {
      std::memset(&y[i], 0, sizeof(BlockQ6_K));
      y[i].d = F32ToFp16(0.f);
      continue;
    }
    const float iscale = -128.f / max_scale;
    y[i].d = F32ToFp16(1 / iscale);
    for (int ib = 0; ib < 16; ++ib) {
      y[i].scales[ib] = static_cast<int8_t>(std::min(127, NearestInt(iscale * scales[ib])));
    }
    for (int j = 0; j < 16; ++j) {
      const float d = Fp16ToF32(y[i].d) * y[i].scales[j];
      if (!d) continue;
      for (int ii = 0; ii < 16; ++ii) {
        int l = NearestInt(x[16 * j + ii] / d);
        L[16 * j + ii] = static_cast<int8_t>(std::max(-32, std::min(31, l)) + 32);
      }
    }
    PackQ6KQuants(reinterpret_cast<const uint8_t*>(L), &y[i]);
  }
}

void QuantizeRowQ8K(const float* x, void* vy, int64_t n, const float*) {
  auto* y = static_cast<BlockQ8_K*>(vy);
  const int64_t nb = n / kQK_K;
  for (int64_t i = 0; i < nb; ++i, x += kQK_K) {
    float max = 0, amax = 0;
    for (int j = 0; j < kQK_K; ++j) {
      const float ax = std::fabs(x[j]);
      if (ax > amax) { amax = ax; max = x[j]; }
    }
    if (!amax) {
      std::memset(&y[i], 0, sizeof(BlockQ8_K));
      continue;
    }
    const float iscale = -127.f / max;
    for (int j = 0; j < kQK_K; ++j) {
      y[i].qs[j] = static_cast<int8_t>(std::min(127, NearestInt(iscale * x[j])));
    }
    for (int j = 0; j < kQK_K / 16; ++j) {
      int sum = 0;
      for (int ii = 0; ii < 16; ++ii) sum += y[i].qs[16 * j + ii];
      y[i].bsums[j] = static_cast<int16_t>(sum);
    }
    y[i].d = 1 / iscale;
  }
}

// --- decoders: the same float expressions as ggml's to_float -------------

void DequantizeRowQ2K(const void* vx, float* y, int64_t n) {
  const auto* x = static_cast<const BlockQ2_K*>(vx);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d = Fp16ToF32(x[i].d);
    const float min = Fp16ToF32(x[i].dmin);
    const uint8_t* q = x[i].qs;
    int is = 0;
    for (int h = 0; h < kQK_K; h += 128) {
      int shift = 0;
      for (int j = 0; j < 4; ++j) {
        for (int half = 0; half < 2; ++half) {
          const uint8_t sc = x[i].scales[is++];
          const float dl = d * (sc & 0xF), ml = min * (sc >> 4);
          for (int l = 0; l < 16; ++l) *y++ = dl * ((q[l + 16 * half] >> shift) & 3) - ml;
        }
        shift += 2;
      }
      q += 32;
    }
  }
}

void DequantizeRowQ3K(const void* vx, float* y, int64_t n) {
  const auto* x = static_cast<const BlockQ3_K*>(vx);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d_all = Fp16ToF32(x[i].d);
    const uint8_t* q = x[i].qs;
    const uint8_t* hm = x[i].hmask;
    uint8_t m = 1;
    int is = 0;
    for (int h = 0; h < kQK_K; h += 128) {
      int shift = 0;
      for (int j = 0; j < 4; ++j) {
        for (int half = 0; half < 2; ++half) {
          const float dl = d_all * (GetScaleQ3(is++, x[i].scales) - 32);
          for (int l = 16 * half; l < 16 * half + 16; ++l) {
            *y++ = dl * (((q[l] >> shift) & 3) - ((hm[l] & m) ? 0 : 4));
          }
        }
        shift += 2;
        m = static_cast<uint8_t>(m << 1);
      }
      q += 32;
    }
  }
}

void DequantizeRowQ4K(const void* vx, float* y, int64_t n) {
  const auto* x = static_cast<const BlockQ4_K*>(vx);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d = Fp16ToF32(x[i].d);
    const float min = Fp16ToF32(x[i].dmin);
    const uint8_t* q = x[i].qs;
    for (int j = 0, is = 0; j < kQK_K; j += 64, is += 2) {
      uint8_t sc, m;
      GetScaleMinK4(is, x[i].scales, &sc, &m);
      const float d1 = d * sc, m1 = min * m;
      GetScaleMinK4(is + 1, x[i].scales, &sc, &m);
      const float d2 = d * sc, m2 = min * m;
      for (int l = 0; l < 32; ++l) *y++ = d1 * (q[l] & 0xF) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * (q[l] >> 4) - m2;
      q += 32;
    }
  }
}

void DequantizeRowQ5K(const void* vx, float* y, int64_t n) {
  const auto* x = static_cast<const BlockQ5_K*>(vx);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d = Fp16ToF32(x[i].d);
    const float min = Fp16ToF32(x[i].dmin);
    const uint8_t* ql = x[i].qs;
    const uint8_t* qh = x[i].qh;
    uint8_t u1 = 1, u2 = 2;
    for (int j = 0, is = 0; j < kQK_K; j += 64, is += 2) {
      uint8_t sc, m;
      GetScaleMinK4(is, x[i].scales, &sc, &m);
      const float d1 = d * sc, m1 = min * m;
      GetScaleMinK4(is + 1, x[i].scales, &sc, &m);
      const float d2 = d * sc, m2 = min * m;
      for (int l = 0; l < 32; ++l) *y++ = d1 * ((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * ((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
      ql += 32;
      u1 = static_cast<uint8_t>(u1 << 2);
      u2 = static_cast<uint8_t>(u2 << 2);
    }
  }
}

void DequantizeRowQ6K(const void* vx, float* y, int64_t n) {
  const auto* x = static_cast<const BlockQ6_K*>(vx);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d = Fp16ToF32(x[i].d);
    const uint8_t* ql = x[i].ql;
    const uint8_t* qh = x[i].qh;
    const int8_t* sc = x[i].scales;
    for (int h = 0; h < kQK_K; h += 128) {
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = ((ql[l + 0] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((ql[l + 0] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        y[l + 0] = d * sc[is + 0] * q1;
        y[l + 32] = d * sc[is + 2] * q2;
        y[l + 64] = d * sc[is + 4] * q3;
        y[l + 96] = d * sc[is + 6] * q4;
      }
      y += 128;
      ql += 64;
      qh += 32;
      sc += 8;
    }
  }
}

void DequantizeRowQ8K(const void* vx, float* y, int64_t n) {
  const auto* x = static_cast<const BlockQ8_K*>(vx);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    for (int j = 0; j < kQK_K; ++j) *y++ = x[i].d * x[i].qs[j];
  }
}

}  // namespace shardq::kquant
