// AVX2 IQ4_NL encoder, byte-identical to the scalar reference (quants_iq4nl.cpp:
// SearchIQ4_NLScale, then the re-rounding in QuantizeBlockIQ4_NL).
// The reference's cost is its scale search: 16 candidate scales, each mapping
// all 32 values to the nearest grid level by a branchy binary search. Here each
// of the 8 lanes runs the search of one block (8 consecutive blocks per group),
// so every lane performs the scalar float operations in the scalar order (no
// FMA). The candidates depend only on the block's maximum, not on each other,
// so their sums are computed first (4 candidates per pass over the values, 8
// independent chains) and the scalar acceptance order is replayed afterwards.
// The nearest level is found without branches (NearestLevel); the last
// n % 256 values of a row go through the scalar reference.
#include <immintrin.h>

#include <cmath>
#include <cstring>

#include "kernels/avx2_transpose.h"
#include "kernels/block_structs.h"
#include "kernels/fp16.h"
#include "kernels/quant_search.h"
#include "kernels/quants_legacy.h"

#pragma GCC optimize("fp-contract=off")

namespace shardq::legacy {
namespace {

constexpr int kNTry = 7;                    // as the reference: candidates itry = -7..7
constexpr int kCand = 2 * kNTry + 2;        // the first guess, then the 15 tries

// kIQ4NLValues as floats, split for _mm256_permutevar8x32_ps (8 entries each).
// The "next" tables give level k + 1 (level 15 repeats itself: above it there is none).
alignas(32) constexpr float kLevelLo[8] = {-127, -104, -83, -65, -49, -35, -22, -10};
alignas(32) constexpr float kLevelHi[8] = {1, 13, 25, 38, 53, 69, 89, 113};
alignas(32) constexpr float kNextLo[8] = {-104, -83, -65, -49, -35, -22, -10, 1};
alignas(32) constexpr float kNextHi[8] = {13, 25, 38, 53, 69, 89, 113, 113};
// Levels at or below floor(v), found per 32-wide bucket b = (floor(v) + 128) >> 5:
// kBase[b] = (levels below the bucket) - 1, then +1 for each of the bucket's
// (at most 3) levels kT1..kT3 that floor(v) reaches (128: no such level).
alignas(32) constexpr int32_t kBase[8] = {-1, 1, 3, 5, 7, 10, 12, 14};
alignas(32) constexpr int32_t kT1[8] = {-127, -83, -49, -22, 1, 38, 69, 113};
alignas(32) constexpr int32_t kT2[8] = {-104, -65, -35, -10, 13, 53, 89, 128};
alignas(32) constexpr int32_t kT3[8] = {128, 128, 128, 128, 25, 128, 128, 128};

static_assert(sizeof(kIQ4NLValues) == 16);

struct Tables {
  __m256 lvl_lo, lvl_hi, next_lo, next_hi;
  __m256i base, t1, t2, t3;
  Tables()
      : lvl_lo(_mm256_load_ps(kLevelLo)), lvl_hi(_mm256_load_ps(kLevelHi)),
        next_lo(_mm256_load_ps(kNextLo)), next_hi(_mm256_load_ps(kNextHi)),
        base(_mm256_load_si256(reinterpret_cast<const __m256i*>(kBase))),
        t1(_mm256_load_si256(reinterpret_cast<const __m256i*>(kT1))),
        t2(_mm256_load_si256(reinterpret_cast<const __m256i*>(kT2))),
        t3(_mm256_load_si256(reinterpret_cast<const __m256i*>(kT3))) {}
};

// 16-entry float table lookup: bit 3 of k (moved to the sign bit) picks the half.
inline __m256 Lookup16(__m256 lo, __m256 hi, __m256i k) {
  const __m256 sel = _mm256_castsi256_ps(_mm256_slli_epi32(k, 28));
  return _mm256_blendv_ps(_mm256_permutevar8x32_ps(lo, k), _mm256_permutevar8x32_ps(hi, k), sel);
}

// qsearch::BestIndexInt8(16, kIQ4NLValues, v) for 8 values: the index (in
// *index, if wanted) and the level as a float. The reference returns 0 for
// v <= -127, 15 for v >= 113 and for NaN (every comparison false), else the
// bracketing pair lo, lo + 1 with values[lo] <= v < values[lo + 1] and picks lo
// iff v - values[lo] < values[lo + 1] - v. Since the levels are integers,
// values[k] <= v iff values[k] <= floor(v); v is clamped to [-128, 127] first
// (NaN to 127) so floor(v) fits the bucket tables. The pick is computed with
// the reference's float operations on the unclamped v; at the ends lo is 0
// (v - -127 <= 0 < the other side: 0, as the reference) or 15, where both
// candidates are level 15 and the index is capped.
template <bool kIndex>
inline __m256 NearestLevel(__m256 v, const Tables& t, __m256i* index) {
  // min_ps returns its second operand for NaN: NaN -> 127 -> lo 15
  const __m256 c = _mm256_max_ps(_mm256_min_ps(v, _mm256_set1_ps(127.f)), _mm256_set1_ps(-128.f));
  const __m256i f = _mm256_cvttps_epi32(_mm256_floor_ps(c));
  const __m256i b = _mm256_srli_epi32(_mm256_add_epi32(f, _mm256_set1_epi32(128)), 5);
  // f >= t  <=>  f > t - 1; a true compare is -1, so subtracting it counts
  const __m256i one = _mm256_set1_epi32(1);
  __m256i lo = _mm256_permutevar8x32_epi32(t.base, b);
  lo = _mm256_sub_epi32(lo, _mm256_cmpgt_epi32(f, _mm256_sub_epi32(_mm256_permutevar8x32_epi32(t.t1, b), one)));
  lo = _mm256_sub_epi32(lo, _mm256_cmpgt_epi32(f, _mm256_sub_epi32(_mm256_permutevar8x32_epi32(t.t2, b), one)));
  lo = _mm256_sub_epi32(lo, _mm256_cmpgt_epi32(f, _mm256_sub_epi32(_mm256_permutevar8x32_epi32(t.t3, b), one)));
  lo = _mm256_max_epi32(lo, _mm256_setzero_si256());  // f = -128 (v < -127): below every level
  const __m256 q_lo = Lookup16(t.lvl_lo, t.lvl_hi, lo);
  const __m256 q_hi = Lookup16(t.next_lo, t.next_hi, lo);
  const __m256 pick_lo = _mm256_cmp_ps(_mm256_sub_ps(v, q_lo), _mm256_sub_ps(q_hi, v), _CMP_LT_OQ);
  if constexpr (kIndex) {
    // lo + 1 unless the low level is picked, capped at 15 (lo = 15, or NaN)
    const __m256i up = _mm256_andnot_si256(_mm256_castps_si256(pick_lo), one);
    *index = _mm256_min_epi32(_mm256_add_epi32(lo, up), _mm256_set1_epi32(15));
  }
  return _mm256_blendv_ps(q_hi, q_lo, pick_lo);
}

// The reference's encoding of 8 consecutive blocks (256 values); qw: their
// importance (same layout) or null.
void QuantizeGroup(const float* x, const float* qw, BlockIQ4_NL* y, const Tables& t) {
  const __m256 zero = _mm256_setzero_ps(), sign = _mm256_set1_ps(-0.f);
  __m256 xt[32], w[32];
  avx2::TransposeGroups<32>(x, xt);
  if (qw) {
    __m256 qwt[32];
    avx2::TransposeGroups<32>(qw, qwt);
    // ggml's sigma2 here is twice the block's mean square (not the row's)
    __m256 sigma2 = zero;
    for (int j = 0; j < 32; ++j) sigma2 = _mm256_add_ps(sigma2, _mm256_mul_ps(xt[j], xt[j]));
    sigma2 = _mm256_mul_ps(sigma2, _mm256_set1_ps(2.f / 32));
    for (int j = 0; j < 32; ++j) {
      w[j] = _mm256_mul_ps(qwt[j], _mm256_sqrt_ps(_mm256_add_ps(sigma2, _mm256_mul_ps(xt[j], xt[j]))));
    }
  } else {
    for (int j = 0; j < 32; ++j) w[j] = _mm256_mul_ps(xt[j], xt[j]);
  }
  // the first value of largest magnitude (a strict > scan; NaN never wins)
  __m256 amax = zero, mx = zero;
  for (int j = 0; j < 32; ++j) {
    const __m256 ax = _mm256_andnot_ps(sign, xt[j]);
    const __m256 gt = _mm256_cmp_ps(ax, amax, _CMP_GT_OQ);
    amax = _mm256_blendv_ps(amax, ax, gt);
    mx = _mm256_blendv_ps(mx, xt[j], gt);
  }
  const __m256 searched = _mm256_cmp_ps(amax, _mm256_set1_ps(qsearch::kGroupMaxEps), _CMP_GE_OQ);
  __m256 id[kCand];
  // d = -max / values[0], id = 1 / d; then id = (itry + values[0]) / max
  id[0] = _mm256_div_ps(_mm256_set1_ps(1.f),
                        _mm256_div_ps(_mm256_xor_ps(mx, sign), _mm256_set1_ps(static_cast<float>(kIQ4NLValues[0]))));
  for (int c = 1; c < kCand; ++c) {
    const int itry = c - 1 - kNTry;
    id[c] = _mm256_div_ps(_mm256_set1_ps(static_cast<float>(itry + kIQ4NLValues[0])), mx);
  }
  __m256 sqx[kCand], sq2[kCand];
  constexpr int kGroup = 4;
  for (int c0 = 0; c0 < kCand; c0 += kGroup) {
    for (int c = c0; c < c0 + kGroup; ++c) sqx[c] = sq2[c] = zero;
    for (int j = 0; j < 32; ++j) {
      for (int c = c0; c < c0 + kGroup; ++c) {
        const __m256 q = NearestLevel<false>(_mm256_mul_ps(id[c], xt[j]), t, nullptr);
        const __m256 wq = _mm256_mul_ps(w[j], q);  // (w * q) * x and (w * q) * q, as the reference
        sqx[c] = _mm256_add_ps(sqx[c], _mm256_mul_ps(wq, xt[j]));
        sq2[c] = _mm256_add_ps(sq2[c], _mm256_mul_ps(wq, q));
      }
    }
  }
  // replay: d = sumqx / sumq2 (unchecked, as the reference), then the tries in order
  __m256 d = _mm256_div_ps(sqx[0], sq2[0]);
  __m256 best = _mm256_mul_ps(d, sqx[0]);
  for (int c = 1; c < kCand; ++c) {
    const __m256 better = _mm256_cmp_ps(_mm256_mul_ps(sqx[c], sqx[c]), _mm256_mul_ps(best, sq2[c]), _CMP_GT_OQ);
    const __m256 take = _mm256_and_ps(_mm256_cmp_ps(sq2[c], zero, _CMP_GT_OQ), better);
    d = _mm256_blendv_ps(d, _mm256_div_ps(sqx[c], sq2[c]), take);
    best = _mm256_blendv_ps(best, _mm256_mul_ps(d, sqx[c]), take);
  }
  d = _mm256_and_ps(d, searched);  // amax < eps: d = 0
  // id_final = d ? 1 / d : 0 (NaN counts as true)
  const __m256 id_final = _mm256_andnot_ps(_mm256_cmp_ps(d, zero, _CMP_EQ_OQ), _mm256_div_ps(_mm256_set1_ps(1.f), d));
  alignas(32) float dl[8], idl[8];
  _mm256_store_ps(dl, d);
  _mm256_store_ps(idl, id_final);
  for (int b = 0; b < 8; ++b) {
    const __m256 vid = _mm256_set1_ps(idl[b]);
    alignas(32) int32_t L[32];
    for (int k = 0; k < 32; k += 8) {
      __m256i idx;
      NearestLevel<true>(_mm256_mul_ps(vid, _mm256_loadu_ps(x + 32 * b + k)), t, &idx);
      _mm256_store_si256(reinterpret_cast<__m256i*>(L + k), idx);
    }
    y[b].d = F32ToFp16(dl[b]);
    for (int j = 0; j < 16; ++j) y[b].qs[j] = static_cast<uint8_t>(L[j] | (L[j + 16] << 4));
  }
}

}  // namespace

namespace {

// Whether all 256 values of a group are finite and below 1e15 in magnitude.
// Larger ones overflow the search's float sums (x^2 * weight) to inf, where the
// reference's result hinges on how its compiler orders NaN comparisons (a clang
// build and a gcc build of it disagree): such groups take the reference itself.
bool GroupIsTame(const float* x) {
  const __m256 limit = _mm256_set1_ps(1e15f);
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  __m256 ok = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
  for (int j = 0; j < 256; j += 8) {
    const __m256 ax = _mm256_and_ps(_mm256_loadu_ps(x + j), abs_mask);
    ok = _mm256_and_ps(ok, _mm256_cmp_ps(ax, limit, _CMP_LT_OQ));  // false for NaN and inf
  }
  return _mm256_movemask_ps(ok) == 0xff;
}

}  // namespace

void QuantizeIQ4_NLAvx2(const float* x, void* vy, int64_t n, const float* importance) {
  auto* y = static_cast<BlockIQ4_NL*>(vy);
  const Tables t;
  const int64_t nb = n / kQK4_NL;
  int64_t i = 0;
  for (; i + 8 <= nb; i += 8) {
    const float* imp = importance ? importance + 32 * i : nullptr;
    if (GroupIsTame(x + 32 * i)) QuantizeGroup(x + 32 * i, imp, y + i, t);
    else QuantizeIQ4_NL(x + 32 * i, y + i, 32 * 8, imp);
  }
  if (i < nb) QuantizeIQ4_NL(x + 32 * i, y + i, 32 * (nb - i), importance ? importance + 32 * i : nullptr);
}

}  // namespace shardq::legacy
