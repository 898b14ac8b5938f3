// AVX-512 encoders for Q4_K, Q5_K and Q6_K, byte-identical to the scalar reference.
// As in quants_k_avx2.cpp each lane runs the scale search of one sub-block with
// the scalar float operations in the scalar order (no FMA), but 16 lanes wide:
// Q4_K/Q5_K put two consecutive super-blocks' 8 sub-blocks in one vector, Q6_K
// one super-block's 16 sub-blocks. With importance the same lanes run ggml's
// weighted searches (qkx3 for Q4_K/Q5_K, weighted make_qx_quants for Q6_K);
// only the block-wide sums (sigma2) and make_qp_quants on 8 values stay scalar.
// Two restructurings that keep the bytes:
// - the search does not carry the levels of the best candidate along; it keeps
//   the candidate's inverse scale (and, for Q4_K/Q5_K, the minimum its grid was
//   taken from) and recomputes the levels, with the same operations, only for
//   the rare sub-blocks whose final 6-bit scale is 0 (all others are requantized);
// - Q6_K's candidates depend only on the block maximum, so all 18 are summed in
//   one pass (no stored levels) and accepted in order afterwards.
// GCC 12's AVX-512 headers start some intrinsics from _mm512_undefined_ps(),
// which -Wuninitialized reports at every inlined use; nothing here is uninitialized.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/fp16.h"
#include "kernels/quants_k.h"
#include "kernels/quants_k_scales.h"

#pragma GCC optimize("fp-contract=off")

namespace shardq::kquant {
namespace {

// Nearest, ties to even: what NearestInt does for the |v| < 2^22 it is used on.
inline __m512 Round(__m512 v) { return _mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
inline __m512 Clamp(__m512 v, __m512 lo, __m512 hi) { return _mm512_min_ps(_mm512_max_ps(v, lo), hi); }

// NearestInt bit for bit, also where it is no rounding (|v| >= 2^22, inf,
// NaN, which fp16 overflow of a block scale can produce), clamped to [lo, hi].
inline __m512i NearestIntClamp(__m512 v, int lo, int hi) {
  const __m512i t = _mm512_castps_si512(_mm512_add_ps(v, _mm512_set1_ps(12582912.f)));
  const __m512i l = _mm512_sub_epi32(_mm512_and_si512(t, _mm512_set1_epi32(0x007fffff)), _mm512_set1_epi32(0x00400000));
  return _mm512_min_epi32(_mm512_max_epi32(l, _mm512_set1_epi32(lo)), _mm512_set1_epi32(hi));
}

// A level of the asymmetric search's grid. Round equals NearestInt for
// |v| < 2^22; kExact serves the rare vectors where that bound is not known.
template <bool kExact, int kNmax>
inline __m512 GridLevel(__m512 v) {
  if constexpr (kExact) {
    return _mm512_cvtepi32_ps(NearestIntClamp(v, 0, kNmax));
  } else {
    return Clamp(Round(v), _mm512_setzero_ps(), _mm512_set1_ps(static_cast<float>(kNmax)));
  }
}

// 16 sub-blocks of kLen values (stride kLen) -> kLen vectors, lane j = sub-block j.
template <int kLen>
void Transpose(const float* x, __m512* xt) {
  const __m512i idx = _mm512_mullo_epi32(
      _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), _mm512_set1_epi32(kLen));
  for (int i = 0; i < kLen; ++i) xt[i] = _mm512_i32gather_ps(idx, x + i, 4);
}

// What the asymmetric search leaves per lane: the scale, -min, and how to
// rebuild the chosen levels (grid inverse scale and the minimum it used).
struct AsymLanes {
  alignas(64) float scale[16];
  alignas(64) float the_min[16];
  alignas(64) float grid_iscale[16];
  alignas(64) float grid_min[16];
  __mmask16 degenerate;
};

// Lane-parallel MakeQkx2Quants(32, kNmax, ..., use_mad = false) for kS vectors of
// 16 sub-blocks, interleaved to hide the add latency. Candidates run in order
// (an accepted candidate's minimum moves the grid of the next ones).
template <int kS, int kNmax, int kNstep>
void Qkx2Lanes(const __m512 (*xt)[32], const __m512 (*wt)[32], float rmin, float rdelta, AsymLanes* out) {
  constexpr int n = 32;
  const __m512 zero = _mm512_setzero_ps();
  const __m512 vmax_l = _mm512_set1_ps(static_cast<float>(kNmax));
  __m512 mn[kS], mx[kS], xmin[kS], sum_w[kS], sum_x[kS], scale[kS], best[kS], grid_isc[kS], grid_mn[kS];
  __mmask16 degenerate[kS];
  for (int s = 0; s < kS; ++s) {
    mn[s] = mx[s] = xt[s][0];
    sum_w[s] = wt[s][0];
    sum_x[s] = _mm512_mul_ps(sum_w[s], xt[s][0]);
  }
  for (int i = 1; i < n; ++i) {
    for (int s = 0; s < kS; ++s) {
      mn[s] = _mm512_min_ps(xt[s][i], mn[s]);
      mx[s] = _mm512_max_ps(xt[s][i], mx[s]);
      sum_w[s] = _mm512_add_ps(sum_w[s], wt[s][i]);
      sum_x[s] = _mm512_add_ps(sum_x[s], _mm512_mul_ps(wt[s][i], xt[s][i]));
    }
  }
  for (int s = 0; s < kS; ++s) {
    xmin[s] = mn[s];
    mn[s] = _mm512_mask_mov_ps(mn[s], _mm512_cmp_ps_mask(mn[s], zero, _CMP_GT_OQ), zero);
    degenerate[s] = _mm512_cmp_ps_mask(mx[s], mn[s], _CMP_EQ_OQ);
    const __m512 iscale = _mm512_div_ps(vmax_l, _mm512_sub_ps(mx[s], mn[s]));
    scale[s] = _mm512_div_ps(_mm512_set1_ps(1.f), iscale);
    grid_isc[s] = iscale;
    grid_mn[s] = mn[s];
    best[s] = zero;
  }
  // Whether some non-degenerate lane may see |isc * (x - mn)| >= 2^22 (or inf):
  // x - mn lies between xmin - mn and mx - mn, and rounding keeps that order.
  // (Degenerate lanes have x - mn = 0 throughout, NaN levels, 0 either way.)
  const __m512 two22 = _mm512_set1_ps(4194304.f);
  auto needs_exact = [&](const __m512* iscv) {
    __mmask16 risky = 0;
    for (int s = 0; s < kS; ++s) {
      const __m512 span = _mm512_max_ps(_mm512_abs_ps(_mm512_sub_ps(mx[s], mn[s])),
                                        _mm512_abs_ps(_mm512_sub_ps(xmin[s], mn[s])));
      const __m512 bound = _mm512_mul_ps(_mm512_abs_ps(iscv[s]), span);
      risky |= static_cast<__mmask16>(~degenerate[s] & ~_mm512_cmp_ps_mask(bound, two22, _CMP_LT_OQ));
    }
    return risky != 0;
  };
  auto initial_error = [&]<bool kExact>() {
    for (int i = 0; i < n; ++i) {
      for (int s = 0; s < kS; ++s) {
        const __m512 l = GridLevel<kExact, kNmax>(_mm512_mul_ps(grid_isc[s], _mm512_sub_ps(xt[s][i], mn[s])));
        const __m512 diff = _mm512_sub_ps(_mm512_add_ps(_mm512_mul_ps(scale[s], l), mn[s]), xt[s][i]);
        best[s] = _mm512_add_ps(best[s], _mm512_mul_ps(wt[s][i], _mm512_mul_ps(diff, diff)));
      }
    }
  };
  if (needs_exact(grid_isc)) {
    initial_error.template operator()<true>();
  } else {
    initial_error.template operator()<false>();
  }
  __m512 laux[kS][n];
  for (int is = 0; is <= kNstep; ++is) {
    const __m512 num = _mm512_set1_ps(rmin + rdelta * is + kNmax);
    __m512 sl[kS], sl2[kS], sxl[kS], isc[kS];
    for (int s = 0; s < kS; ++s) {
      isc[s] = _mm512_div_ps(num, _mm512_sub_ps(mx[s], mn[s]));
      sl[s] = sl2[s] = sxl[s] = zero;
    }
    auto candidate_sums = [&]<bool kExact>() {
      for (int i = 0; i < n; ++i) {
        for (int s = 0; s < kS; ++s) {
          const __m512 l = GridLevel<kExact, kNmax>(_mm512_mul_ps(isc[s], _mm512_sub_ps(xt[s][i], mn[s])));
          laux[s][i] = l;
          const __m512 wl = _mm512_mul_ps(wt[s][i], l);
          sl[s] = _mm512_add_ps(sl[s], wl);
          sl2[s] = _mm512_add_ps(sl2[s], _mm512_mul_ps(wl, l));
          sxl[s] = _mm512_add_ps(sxl[s], _mm512_mul_ps(wl, xt[s][i]));
        }
      }
    };
    if (needs_exact(isc)) {
      candidate_sums.template operator()<true>();
    } else {
      candidate_sums.template operator()<false>();
    }
    __mmask16 ok[kS];
    __m512 this_scale[kS], this_min[kS], err[kS];
    for (int s = 0; s < kS; ++s) {
      const __m512 D = _mm512_sub_ps(_mm512_mul_ps(sum_w[s], sl2[s]), _mm512_mul_ps(sl[s], sl[s]));
      ok[s] = _mm512_cmp_ps_mask(D, zero, _CMP_GT_OQ);
      __m512 sc = _mm512_div_ps(_mm512_sub_ps(_mm512_mul_ps(sum_w[s], sxl[s]), _mm512_mul_ps(sum_x[s], sl[s])), D);
      __m512 m = _mm512_div_ps(_mm512_sub_ps(_mm512_mul_ps(sl2[s], sum_x[s]), _mm512_mul_ps(sl[s], sxl[s])), D);
      const __mmask16 pos = _mm512_cmp_ps_mask(m, zero, _CMP_GT_OQ);
      m = _mm512_mask_mov_ps(m, pos, zero);
      sc = _mm512_mask_div_ps(sc, pos, sxl[s], sl2[s]);
      this_scale[s] = sc;
      this_min[s] = m;
      err[s] = zero;
    }
    for (int i = 0; i < n; ++i) {
      for (int s = 0; s < kS; ++s) {
        const __m512 diff =
            _mm512_sub_ps(_mm512_add_ps(_mm512_mul_ps(this_scale[s], laux[s][i]), this_min[s]), xt[s][i]);
        err[s] = _mm512_add_ps(err[s], _mm512_mul_ps(wt[s][i], _mm512_mul_ps(diff, diff)));
      }
    }
    for (int s = 0; s < kS; ++s) {
      const __mmask16 take = ok[s] & _mm512_cmp_ps_mask(err[s], best[s], _CMP_LT_OQ);
      best[s] = _mm512_mask_mov_ps(best[s], take, err[s]);
      scale[s] = _mm512_mask_mov_ps(scale[s], take, this_scale[s]);
      grid_isc[s] = _mm512_mask_mov_ps(grid_isc[s], take, isc[s]);
      grid_mn[s] = _mm512_mask_mov_ps(grid_mn[s], take, mn[s]);
      mn[s] = _mm512_mask_mov_ps(mn[s], take, this_min[s]);
    }
  }
  for (int s = 0; s < kS; ++s) {
    // max == min: all levels 0, scale 0, the_min = -min (the search never ran).
    _mm512_store_ps(out[s].scale, _mm512_mask_mov_ps(scale[s], degenerate[s], zero));
    // -min as the scalar writes it: a sign flip (0 - min would turn min = +0 into +0, not -0)
    const __m512i neg = _mm512_xor_si512(_mm512_castps_si512(mn[s]), _mm512_set1_epi32(INT32_MIN));
    _mm512_store_ps(out[s].the_min, _mm512_castsi512_ps(neg));
    _mm512_store_ps(out[s].grid_iscale, grid_isc[s]);
    _mm512_store_ps(out[s].grid_min, grid_mn[s]);
    out[s].degenerate = degenerate[s];
  }
}

// Q4_K: pairs of 32-level sub-blocks as low/high nibbles.
void PackLevels(const uint8_t* L, BlockQ4_K* y) {
  for (int c = 0; c < 4; ++c) {
    const __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(L + 64 * c));
    const __m256i hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(L + 64 * c + 32));
    // levels <= 15: a 16-bit shift by 4 cannot carry into the neighbouring byte
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y->qs + 32 * c), _mm256_or_si256(lo, _mm256_slli_epi16(hi, 4)));
  }
}

// Q5_K: low nibbles as Q4_K, bit 4 of chunk c's two halves in bits 2c, 2c+1 of qh.
void PackLevels(const uint8_t* L, BlockQ5_K* y) {
  const __m256i low4 = _mm256_set1_epi8(0x0F), one = _mm256_set1_epi8(1);
  __m256i qh = _mm256_setzero_si256();
  for (int c = 0; c < 4; ++c) {
    const __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(L + 64 * c));
    const __m256i hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(L + 64 * c + 32));
    const __m256i q = _mm256_or_si256(_mm256_and_si256(lo, low4), _mm256_slli_epi16(_mm256_and_si256(hi, low4), 4));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y->qs + 32 * c), q);
    // bit 4 of each byte to bit 0 (16-bit shifts; the mask drops what crosses bytes)
    const __m256i blo = _mm256_and_si256(_mm256_srli_epi16(lo, 4), one);
    const __m256i bhi = _mm256_and_si256(_mm256_srli_epi16(hi, 4), one);
    qh = _mm256_or_si256(qh, _mm256_slli_epi16(_mm256_or_si256(blo, _mm256_slli_epi16(bhi, 1)), 2 * c));
  }
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(y->qh), qh);
}

// Requantization and packing of one block whose scales are set and whose
// search results sit in lanes [lane0, lane0 + 8) of `r`.
template <int kNmax, typename Block>
void FinishBlockAsym(const float* x, const AsymLanes& r, int lane0, Block* y) {
  const float d_all = Fp16ToF32(y->d), m_all = Fp16ToF32(y->dmin);
  alignas(64) uint8_t L[kQK_K];
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, m;
    GetScaleMinK4(j, y->scales, &sc, &m);
    const float d = d_all * sc;
    for (int k = 0; k < 32; k += 16) {
      const __m512 xv = _mm512_loadu_ps(x + 32 * j + k);
      __m512i q;
      if (d) {
        q = NearestIntClamp(_mm512_div_ps(_mm512_add_ps(xv, _mm512_set1_ps(m_all * m)), _mm512_set1_ps(d)), 0, kNmax);
      } else if ((r.degenerate >> (lane0 + j)) & 1) {
        q = _mm512_setzero_si512();
      } else {
        // the search's levels, rebuilt from the chosen grid exactly as the search made them
        const __m512 isc = _mm512_set1_ps(r.grid_iscale[lane0 + j]), mn = _mm512_set1_ps(r.grid_min[lane0 + j]);
        q = NearestIntClamp(_mm512_mul_ps(isc, _mm512_sub_ps(xv, mn)), 0, kNmax);
      }
      _mm_store_si128(reinterpret_cast<__m128i*>(L + 32 * j + k), _mm512_cvtepi32_epi8(q));
    }
  }
  PackLevels(L, y);
}

// Q4_K / Q5_K parameters of ggml's reference search.
template <typename Block> struct AsymParams;
template <> struct AsymParams<BlockQ4_K> {
  static constexpr int kNmax = 15, kNstep = 20;
  static constexpr float kRmin = -1.f, kRdelta = 0.1f;
};
template <> struct AsymParams<BlockQ5_K> {
  static constexpr int kNmax = 31, kNstep = 15;
  static constexpr float kRmin = -0.5f, kRdelta = 0.1f;
};

// ggml's importance-weighted search (quantize_row_q4_K_impl / q5_K_impl):
// qkx3 with rmin -0.9, rdelta 0.05, 37 candidates.
constexpr int kImpNstep = 36;
constexpr float kImpRmin = -0.9f, kImpRdelta = 0.05f;

// Sums of x^2 over each of kB blocks, each in the scalar order (one dependent
// chain per block; the chains of different blocks overlap).
template <int kB>
void SumSquaresPerBlock(const float* x, float* out) {
  float acc[kB];
  for (int b = 0; b < kB; ++b) acc[b] = 0;
  for (int l = 0; l < kQK_K; ++l) {
    for (int b = 0; b < kB; ++b) acc[b] += x[kQK_K * b + l] * x[kQK_K * b + l];
  }
  for (int b = 0; b < kB; ++b) out[b] = acc[b];
}

// 2 * kS consecutive blocks: kS vectors of 16 sub-blocks, searched interleaved.
// qw: the blocks' importance (same layout as x), or null for the reference path.
template <int kS, typename Block>
void QuantizeBlocksAsym(const float* x, const float* qw, Block* y) {
  using P = AsymParams<Block>;
  __m512 xt[kS][32], wt[kS][32];
  AsymLanes r[kS];
  if (!qw) {
    for (int s = 0; s < kS; ++s) {
      Transpose<32>(x + 2 * kQK_K * s, xt[s]);
      __m512 sum_x2 = _mm512_setzero_ps();
      for (int i = 0; i < 32; ++i) sum_x2 = _mm512_add_ps(sum_x2, _mm512_mul_ps(xt[s][i], xt[s][i]));
      const __m512 av_x = _mm512_sqrt_ps(_mm512_div_ps(sum_x2, _mm512_set1_ps(32.f)));
      for (int i = 0; i < 32; ++i) wt[s][i] = _mm512_add_ps(av_x, _mm512_abs_ps(xt[s][i]));
    }
    Qkx2Lanes<kS, P::kNmax, P::kNstep>(xt, wt, P::kRmin, P::kRdelta, r);
    for (int s = 0; s < kS; ++s) {
      for (int b = 0; b < 2; ++b) {
        Block* yb = y + 2 * s + b;
        SetAsymScalesRef(r[s].scale + 8 * b, r[s].the_min + 8 * b, &yb->d, &yb->dmin, yb->scales);
        FinishBlockAsym<P::kNmax>(x + kQK_K * (2 * s + b), r[s], 8 * b, yb);
      }
    }
    return;
  }
  // Weights qw * sqrt(sigma2 + x^2), sigma2 = 2 * mean x^2 of the whole block.
  float sum_x2[2 * kS];
  SumSquaresPerBlock<2 * kS>(x, sum_x2);
  alignas(64) float sw[kS][16];
  for (int s = 0; s < kS; ++s) {
    const float sigma2_a = 2 * sum_x2[2 * s] / kQK_K, sigma2_b = 2 * sum_x2[2 * s + 1] / kQK_K;
    const __m512 sigma2 = _mm512_mask_blend_ps(0xFF00, _mm512_set1_ps(sigma2_a), _mm512_set1_ps(sigma2_b));
    __m512 qwt[32];
    Transpose<32>(x + 2 * kQK_K * s, xt[s]);
    Transpose<32>(qw + 2 * kQK_K * s, qwt);
    __m512 sumw = _mm512_setzero_ps();
    for (int i = 0; i < 32; ++i) {
      wt[s][i] = _mm512_mul_ps(qwt[i], _mm512_sqrt_ps(_mm512_add_ps(sigma2, _mm512_mul_ps(xt[s][i], xt[s][i]))));
      sumw = _mm512_add_ps(sumw, wt[s][i]);
    }
    _mm512_store_ps(sw[s], sumw);
  }
  Qkx2Lanes<kS, P::kNmax, kImpNstep>(xt, wt, kImpRmin, kImpRdelta, r);
  for (int s = 0; s < kS; ++s) {
    for (int b = 0; b < 2; ++b) {
      Block* yb = y + 2 * s + b;
      SetAsymScalesImpl(r[s].scale + 8 * b, r[s].the_min + 8 * b, sw[s] + 8 * b, &yb->d, &yb->dmin, yb->scales);
      FinishBlockAsym<P::kNmax>(x + kQK_K * (2 * s + b), r[s], 8 * b, yb);
    }
  }
}

template <typename Block>
void QuantizeRowAsym(const float* x, const float* qw, Block* y, int64_t nb) {
  int64_t i = 0;
  auto qw_at = [qw](int64_t b) { return qw ? qw + kQK_K * b : nullptr; };
  for (; i + 4 <= nb; i += 4) QuantizeBlocksAsym<2>(x + kQK_K * i, qw_at(i), y + i);
  for (; i + 2 <= nb; i += 2) QuantizeBlocksAsym<1>(x + kQK_K * i, qw_at(i), y + i);
  if (i < nb) {
    // A last odd block: searched beside a copy of itself, the copy's result dropped.
    alignas(64) float pair[2 * kQK_K], qw_pair[2 * kQK_K];
    std::memcpy(pair, x + kQK_K * i, sizeof(float) * kQK_K);
    std::memcpy(pair + kQK_K, x + kQK_K * i, sizeof(float) * kQK_K);
    if (qw) {
      std::memcpy(qw_pair, qw_at(i), sizeof(float) * kQK_K);
      std::memcpy(qw_pair + kQK_K, qw_at(i), sizeof(float) * kQK_K);
    }
    Block out[2];
    QuantizeBlocksAsym<1>(pair, qw ? qw_pair : nullptr, out);
    y[i] = out[0];
  }
}

// Lane-parallel MakeQxQuants(16, 32, x, L, rmse_type = 1, qw) for the 16
// sub-blocks of one Q6_K block (qwt: the transposed importance, or null for
// rmse_type 1's x^2 weights). The candidates' grids depend only on the
// sub-block maximum, whatever the weights, so their sums are computed in one
// pass and the scalar acceptance order is replayed afterwards. Out: scale, chosen inverse scale, tiny mask.
void QxLanesQ6(const __m512* xt, const __m512* qwt, __m512* out_scale, __m512* out_isc, __mmask16* out_tiny) {
  constexpr int n = 16;
  constexpr int kCand = 19;  // the first guess, then is = -9..-1, 1..9
  const __m512 zero = _mm512_setzero_ps();
  const __m512 lo = _mm512_set1_ps(-32.f), hi = _mm512_set1_ps(31.f);
  __m512 amax = zero, mx = zero;
  for (int i = 0; i < n; ++i) {
    const __m512 ax = _mm512_abs_ps(xt[i]);
    const __mmask16 gt = _mm512_cmp_ps_mask(ax, amax, _CMP_GT_OQ);
    amax = _mm512_mask_mov_ps(amax, gt, ax);
    mx = _mm512_mask_mov_ps(mx, gt, xt[i]);
  }
  *out_tiny = _mm512_cmp_ps_mask(amax, _mm512_set1_ps(1e-15f), _CMP_LT_OQ);
  static const int kSteps[kCand] = {0, -9, -8, -7, -6, -5, -4, -3, -2, -1, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  __m512 isc[kCand], slx[kCand], sl2[kCand];
  isc[0] = _mm512_div_ps(_mm512_set1_ps(-32.f), mx);
  for (int g = 1; g < kCand; ++g) isc[g] = _mm512_div_ps(_mm512_set1_ps(-(32 + 0.1f * kSteps[g])), mx);
  // Groups of candidates per pass over the 16 values, to stay within the registers.
  constexpr int kGroup = 5;
  for (int g0 = 0; g0 < kCand; g0 += kGroup) {
    const int g1 = std::min(kCand, g0 + kGroup);
    for (int g = g0; g < g1; ++g) slx[g] = sl2[g] = zero;
    for (int i = 0; i < n; ++i) {
      const __m512 w = qwt ? qwt[i] : _mm512_mul_ps(xt[i], xt[i]);
      const __m512 wx = _mm512_mul_ps(w, xt[i]);
      for (int g = g0; g < g1; ++g) {
        const __m512 l = Clamp(Round(_mm512_mul_ps(isc[g], xt[i])), lo, hi);
        slx[g] = _mm512_add_ps(slx[g], _mm512_mul_ps(wx, l));
        sl2[g] = _mm512_add_ps(sl2[g], _mm512_mul_ps(_mm512_mul_ps(w, l), l));
      }
    }
  }
  const __mmask16 nz = _mm512_cmp_ps_mask(sl2[0], zero, _CMP_NEQ_UQ);
  __m512 scale = _mm512_maskz_div_ps(nz, slx[0], sl2[0]);
  __m512 best = _mm512_mul_ps(scale, slx[0]);
  __m512 chosen = isc[0];
  for (int g = 1; g < kCand; ++g) {
    const __mmask16 take = _mm512_cmp_ps_mask(sl2[g], zero, _CMP_GT_OQ) &
                           _mm512_cmp_ps_mask(_mm512_mul_ps(slx[g], slx[g]), _mm512_mul_ps(best, sl2[g]), _CMP_GT_OQ);
    scale = _mm512_mask_div_ps(scale, take, slx[g], sl2[g]);
    best = _mm512_mask_mul_ps(best, take, scale, slx[g]);
    chosen = _mm512_mask_mov_ps(chosen, take, isc[g]);
  }
  *out_scale = _mm512_mask_mov_ps(scale, *out_tiny, zero);
  *out_isc = chosen;
}

// qw: the block's importance (ggml passes it raw as the weights), or null.
void QuantizeBlockQ6K(const float* x, const float* qw, BlockQ6_K* y) {
  __m512 xt[16], qwt[16], vs, visc;
  __mmask16 tiny;
  Transpose<16>(x, xt);
  if (qw) Transpose<16>(qw, qwt);
  QxLanesQ6(xt, qw ? qwt : nullptr, &vs, &visc, &tiny);
  alignas(64) float scales[16], isc[16];
  _mm512_store_ps(scales, vs);
  _mm512_store_ps(isc, visc);
  float max_scale = 0, max_abs_scale = 0;
  for (int ib = 0; ib < 16; ++ib) {
    const float abs_scale = std::fabs(scales[ib]);
    if (abs_scale > max_abs_scale) { max_abs_scale = abs_scale; max_scale = scales[ib]; }
  }
  if (max_abs_scale < 1e-15f) {
    std::memset(y, 0, sizeof(BlockQ6_K));
    return;
  }
  const float iscale = -128.f / max_scale;
  y->d = F32ToFp16(1 / iscale);
  for (int ib = 0; ib < 16; ++ib) y->scales[ib] = static_cast<int8_t>(std::min(127, NearestInt(iscale * scales[ib])));
  const float d_all = Fp16ToF32(y->d);
  const __m512i bias = _mm512_set1_epi32(32);
  alignas(64) uint8_t L[kQK_K];
  for (int j = 0; j < 16; ++j) {
    const float d = d_all * y->scales[j];
    const __m512 xv = _mm512_loadu_ps(x + 16 * j);
    __m512i q;
    if (d) {
      q = _mm512_add_epi32(NearestIntClamp(_mm512_div_ps(xv, _mm512_set1_ps(d)), -32, 31), bias);
    } else if ((tiny >> j) & 1) {
      q = _mm512_setzero_si512();
    } else {
      // the search's levels, rebuilt from the chosen inverse scale
      q = _mm512_add_epi32(NearestIntClamp(_mm512_mul_ps(_mm512_set1_ps(isc[j]), xv), -32, 31), bias);
    }
    _mm_store_si128(reinterpret_cast<__m128i*>(L + 16 * j), _mm512_cvtepi32_epi8(q));
  }
  PackQ6KQuants(L, y);
}

}  // namespace

void QuantizeRowQ4KAvx512(const float* x, void* vy, int64_t n, const float* importance) {
  QuantizeRowAsym(x, importance, static_cast<BlockQ4_K*>(vy), n / kQK_K);
}

void QuantizeRowQ5KAvx512(const float* x, void* vy, int64_t n, const float* importance) {
  QuantizeRowAsym(x, importance, static_cast<BlockQ5_K*>(vy), n / kQK_K);
}

void QuantizeRowQ6KAvx512(const float* x, void* vy, int64_t n, const float* importance) {
  auto* y = static_cast<BlockQ6_K*>(vy);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    QuantizeBlockQ6K(x + kQK_K * i, importance ? importance + kQK_K * i : nullptr, y + i);
  }
}

}  // namespace shardq::kquant
