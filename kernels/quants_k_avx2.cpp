// AVX2 encoders for Q2_K, Q3_K, Q4_K, Q5_K and Q6_K, bit-identical to the scalar reference.
// The reference's cost is its per-sub-block scale search, a long chain of
// dependent float sums. Here each of the 8 lanes runs the search of one
// sub-block (Q4_K/Q5_K: 8 sub-blocks of 32; Q6_K: 2 x 8 sub-blocks of 16), so
// every lane performs exactly the scalar float operations in the scalar
// order (no FMA: this file keeps mul and add separate), and 3 candidate
// scales are evaluated per pass to hide the add latency. With importance the
// same lanes run ggml's weighted searches (qkx3 for Q4_K/Q5_K, weighted
// make_qx_quants for Q6_K); only the block-wide sum of x^2 (sigma2) and
// make_qp_quants on the 8 scales and mins stay scalar. The searches keep
// the best candidate's grid (inverse scale, and the minimum it was taken from)
// instead of its levels; the levels are rebuilt with the same operations only
// for sub-blocks whose final scale is 0 (every other sub-block is requantized).
// The searches are bound by the vector ops per value and candidate (~16 for
// Q4_K/Q5_K, 9 for Q6_K) and by the chain from one candidate's sums to the
// next candidate's grid (an accepted candidate moves the minimum), which 4
// interleaved Q4_K/Q5_K blocks hide better than 2 (on a quiet Zen 4: 0.90x
// the time without importance, 0.89x with it; 3 and 6 blocks were slower),
// and 2 such searches of 4 run step by step alternately slightly better still.
// The savings in ops: the clamp of a level to the top or to 0 (Q4_K/Q5_K) or
// to both ends (Q6_K) is dropped for candidates where a per-candidate check
// shows no level can reach it (the Q4_K/Q5_K clamps left are integer ops on
// the bits, off the pipes the float adds need), and the lane layout comes
// from in-register transposes instead of gathers.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/avx2_transpose.h"
#include "kernels/fp16.h"
#include "kernels/quants_k.h"
#include "kernels/quants_k_scales.h"

#pragma GCC optimize("fp-contract=off")

namespace shardq::kquant {
namespace {

inline __m256 Round(__m256 v) { return _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
inline __m256 Clamp(__m256 v, __m256 lo, __m256 hi) { return _mm256_min_ps(_mm256_max_ps(v, lo), hi); }

// NearestInt bit for bit, also where it is no rounding (|v| >= 2^22, inf,
// NaN, which fp16 overflow of a block scale can produce), clamped to [lo, hi].
inline __m256i NearestIntClamp(__m256 v, int lo, int hi) {
  const __m256i t = _mm256_castps_si256(_mm256_add_ps(v, _mm256_set1_ps(12582912.f)));
  const __m256i l = _mm256_sub_epi32(_mm256_and_si256(t, _mm256_set1_epi32(0x007fffff)), _mm256_set1_epi32(0x00400000));
  return _mm256_min_epi32(_mm256_max_epi32(l, _mm256_set1_epi32(lo)), _mm256_set1_epi32(hi));
}

// 32 levels in 0..255 as int32 (q[0]: values 0..7, ..., q[3]: 24..31) to 32
// bytes in order. The packs work within 128-bit halves, so the dwords come out
// as q0[0..3] q1[0..3] q2[0..3] q3[0..3] | q0[4..7] ... and are put back in order.
inline void StoreLevelBytes(const __m256i q[4], uint8_t* out) {
  const __m256i w = _mm256_packus_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), _mm256_permutevar8x32_epi32(w, order));
}

// Whether all kQK_K values of a block are finite (x - x is 0 exactly then).
inline bool BlockFinite(const float* x) {
  __m256 ok = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
  for (int i = 0; i < kQK_K; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    ok = _mm256_and_ps(ok, _mm256_cmp_ps(_mm256_sub_ps(v, v), _mm256_setzero_ps(), _CMP_EQ_OQ));
  }
  return _mm256_movemask_ps(ok) == 0xFF;
}

// A level of the asymmetric search's grid, in one of five ways that agree
// where each is used: kExact is NearestInt itself (any v); kRound rounds and
// clamps (equal to NearestInt for |v| < 2^22); kRoundNoTop skips the clamp
// to kNmax, kRoundNoBottom the clamp to 0 and kRoundNoClamp both, for
// candidates where no level can round above kNmax or below 0 (checked per
// candidate: the largest x rounds highest, the smallest lowest). Each clamp is
// one of the ~16 vector ops per value and candidate, and is done on the bits
// as a signed integer min / max: those run on all four vector pipes of the
// AMD parts, where the float min / max share two with the adds and the
// rounding that bind the loop. For the finite rounded levels of the lanes
// that matter the integer order of the bits is the float order (non-negative
// floats as they are, negative ones below every non-negative), so the clamps
// give the float clamps' levels; -0 may stay -0 where no clamp to 0 runs,
// and a level of -0 (a value just below the minimum) adds exactly what +0
// adds to every sum and error. The levels of a degenerate lane (max == min:
// the grid is 0 * inf, NaN) and of NaN values do not matter: a degenerate
// lane's first error is 0 or NaN, so no candidate's error is below it, and a
// lane with a NaN value has NaN weights, so all its errors are NaN, as in
// the reference.
enum class Grid { kExact, kRound, kRoundNoTop, kRoundNoBottom, kRoundNoClamp };
template <Grid kGrid, int kNmax>
inline __m256 GridLevel(__m256 v) {
  if constexpr (kGrid == Grid::kExact) {
    return _mm256_cvtepi32_ps(NearestIntClamp(v, 0, kNmax));
  } else {
    __m256i l = _mm256_castps_si256(Round(v));
    if constexpr (kGrid == Grid::kRound || kGrid == Grid::kRoundNoTop) {
      l = _mm256_max_epi32(l, _mm256_setzero_si256());
    }
    if constexpr (kGrid == Grid::kRound || kGrid == Grid::kRoundNoBottom) {
      l = _mm256_min_epi32(l, _mm256_castps_si256(_mm256_set1_ps(static_cast<float>(kNmax))));
    }
    return _mm256_castsi256_ps(l);
  }
}

// 8 sub-blocks of kLen values (stride kLen) into kLen vectors, lane j = sub-block j.
template <int kLen>
inline void Transpose(const float* x, __m256* xt) { avx2::TransposeGroups<kLen>(x, xt); }

// Lane-parallel MakeQkx2Quants(kN, kNmax, ..., use_mad = kMad) for kS groups of
// 8 sub-blocks (kS independent chains interleaved to hide the add latency).
// The scalar search is path-dependent (an accepted candidate's minimum shifts
// the grid of the next ones), so candidates run in order, lane by lane.
// Out per lane: scale, -min, the chosen grid (inverse scale, minimum), degenerate mask.
struct AsymLanes {
  alignas(32) float scale[8];
  alignas(32) float the_min[8];
  alignas(32) float grid_iscale[8];
  alignas(32) float grid_min[8];
  int degenerate;  // bit j: sub-block j has max == min
};

// One such search in steps: the constructor takes the extremes and sums and
// the first guess's error, then per candidate Sums (its grid, levels and
// least-squares scale and minimum) and Error (its error, and whether each lane
// takes it). Each step depends on the one before, with a chain of divisions
// and compares between them; two searches run step by step alternately
// (SearchTwo) give the core independent work across those chains.
template <int kS, int kNmax, int kN, bool kMad>
class AsymSearch {
 public:
  AsymSearch(const __m256 (*xt)[kN], const __m256 (*wt)[kN], float rmin, float rdelta)
      : xt_(xt), wt_(wt), rmin_(rmin), rdelta_(rdelta) {
    const __m256 zero = _mm256_setzero_ps();
    const __m256 vmax_l = _mm256_set1_ps(static_cast<float>(kNmax));
    for (int s = 0; s < kS; ++s) {
      mn_[s] = mx_[s] = xt[s][0];
      sum_w_[s] = wt[s][0];
      sum_x_[s] = _mm256_mul_ps(sum_w_[s], xt[s][0]);
    }
    for (int i = 1; i < kN; ++i) {
      for (int s = 0; s < kS; ++s) {
        mn_[s] = _mm256_min_ps(xt[s][i], mn_[s]);
        mx_[s] = _mm256_max_ps(xt[s][i], mx_[s]);
        sum_w_[s] = _mm256_add_ps(sum_w_[s], wt[s][i]);
        sum_x_[s] = _mm256_add_ps(sum_x_[s], _mm256_mul_ps(wt[s][i], xt[s][i]));
      }
    }
    for (int s = 0; s < kS; ++s) {
      xmin_[s] = mn_[s];
      mn_[s] = _mm256_blendv_ps(mn_[s], zero, _mm256_cmp_ps(mn_[s], zero, _CMP_GT_OQ));
      degenerate_[s] = _mm256_cmp_ps(mx_[s], mn_[s], _CMP_EQ_OQ);
      const __m256 iscale = _mm256_div_ps(vmax_l, _mm256_sub_ps(mx_[s], mn_[s]));
      scale_[s] = _mm256_div_ps(_mm256_set1_ps(1.f), iscale);
      grid_isc_[s] = iscale;
      grid_mn_[s] = mn_[s];
    }
    switch (GridFor(grid_isc_)) {
      case Grid::kExact: InitialError<Grid::kExact>(); break;
      case Grid::kRound: InitialError<Grid::kRound>(); break;
      case Grid::kRoundNoTop: InitialError<Grid::kRoundNoTop>(); break;
      case Grid::kRoundNoBottom: InitialError<Grid::kRoundNoBottom>(); break;
      case Grid::kRoundNoClamp: InitialError<Grid::kRoundNoClamp>(); break;
    }
  }

  // Candidate is: its levels (kept for Error), sums and fitted scale and minimum.
  void Sums(int is) {
    const __m256 num = _mm256_set1_ps(rmin_ + rdelta_ * is + kNmax);
    for (int s = 0; s < kS; ++s) isc_[s] = _mm256_div_ps(num, _mm256_sub_ps(mx_[s], mn_[s]));
    switch (GridFor(isc_)) {
      case Grid::kExact: SumsWith<Grid::kExact>(); break;
      case Grid::kRound: SumsWith<Grid::kRound>(); break;
      case Grid::kRoundNoTop: SumsWith<Grid::kRoundNoTop>(); break;
      case Grid::kRoundNoBottom: SumsWith<Grid::kRoundNoBottom>(); break;
      case Grid::kRoundNoClamp: SumsWith<Grid::kRoundNoClamp>(); break;
    }
  }

  // The last Sums candidate's error; lanes where it is lower take it.
  void Error() {
    const __m256 zero = _mm256_setzero_ps();
    __m256 err[kS];
    for (int s = 0; s < kS; ++s) err[s] = zero;
    for (int i = 0; i < kN; ++i) {
      for (int s = 0; s < kS; ++s) {
        const __m256 diff =
            _mm256_sub_ps(_mm256_add_ps(_mm256_mul_ps(this_scale_[s], laux_[s][i]), this_min_[s]), xt_[s][i]);
        err[s] = _mm256_add_ps(err[s], _mm256_mul_ps(wt_[s][i], ErrOf(diff)));
      }
    }
    for (int s = 0; s < kS; ++s) {
      const __m256 take = _mm256_and_ps(ok_[s], _mm256_cmp_ps(err[s], best_[s], _CMP_LT_OQ));
      if (_mm256_movemask_ps(take) == 0) continue;
      best_[s] = _mm256_blendv_ps(best_[s], err[s], take);
      scale_[s] = _mm256_blendv_ps(scale_[s], this_scale_[s], take);
      grid_isc_[s] = _mm256_blendv_ps(grid_isc_[s], isc_[s], take);
      grid_mn_[s] = _mm256_blendv_ps(grid_mn_[s], mn_[s], take);
      mn_[s] = _mm256_blendv_ps(mn_[s], this_min_[s], take);
    }
  }

  void Store(AsymLanes* out) const {
    const __m256 zero = _mm256_setzero_ps();
    for (int s = 0; s < kS; ++s) {
      // max == min: all levels 0, scale 0, the_min = -min (the search never ran).
      _mm256_store_ps(out[s].scale, _mm256_blendv_ps(scale_[s], zero, degenerate_[s]));
      // -min as the scalar writes it: a sign flip (0 - min would turn min = +0 into +0, not -0)
      _mm256_store_ps(out[s].the_min, _mm256_xor_ps(mn_[s], _mm256_set1_ps(-0.f)));
      _mm256_store_ps(out[s].grid_iscale, grid_isc_[s]);
      _mm256_store_ps(out[s].grid_min, grid_mn_[s]);
      out[s].degenerate = _mm256_movemask_ps(degenerate_[s]);
    }
  }

 private:
  // the error measure of one value: |diff| (Q2_K's reference search) or diff^2
  static __m256 ErrOf(__m256 diff) {
    if constexpr (kMad) {
      return _mm256_andnot_ps(_mm256_set1_ps(-0.f), diff);
    } else {
      return _mm256_mul_ps(diff, diff);
    }
  }

  // Which GridLevel is exact for every non-degenerate lane of the kS groups.
  // Whether some non-degenerate lane may see |isc * (x - mn)| >= 2^22 (or inf):
  // x - mn lies between xmin - mn and mx - mn, and rounding keeps that order.
  // (Degenerate lanes have x - mn = 0 throughout, NaN levels, 0 either way.)
  Grid GridFor(const __m256* iscv) const {
    const __m256 zero = _mm256_setzero_ps(), vmax_l = _mm256_set1_ps(static_cast<float>(kNmax));
    const __m256 two22 = _mm256_set1_ps(4194304.f), sign = _mm256_set1_ps(-0.f);
    int risky = 0, top = 0, bottom = 0;
    for (int s = 0; s < kS; ++s) {
      const __m256 span = _mm256_max_ps(_mm256_andnot_ps(sign, _mm256_sub_ps(mx_[s], mn_[s])),
                                        _mm256_andnot_ps(sign, _mm256_sub_ps(xmin_[s], mn_[s])));
      const __m256 bound = _mm256_mul_ps(_mm256_andnot_ps(sign, iscv[s]), span);
      risky |= _mm256_movemask_ps(_mm256_andnot_ps(degenerate_[s], _mm256_cmp_ps(bound, two22, _CMP_NLT_UQ)));
      // the level of x = mx, computed as the loop computes it: no other x rounds higher
      const __m256 top_level = Round(_mm256_mul_ps(iscv[s], _mm256_sub_ps(mx_[s], mn_[s])));
      top |= _mm256_movemask_ps(
          _mm256_andnot_ps(degenerate_[s], _mm256_cmp_ps(top_level, vmax_l, _CMP_GT_OQ)));
      // and of x = xmin: no other x rounds lower (-0 does not count as below 0)
      const __m256 bottom_level = Round(_mm256_mul_ps(iscv[s], _mm256_sub_ps(xmin_[s], mn_[s])));
      bottom |= _mm256_movemask_ps(
          _mm256_andnot_ps(degenerate_[s], _mm256_cmp_ps(bottom_level, zero, _CMP_LT_OQ)));
    }
    if (risky) return Grid::kExact;
    if (top) return bottom ? Grid::kRound : Grid::kRoundNoBottom;
    return bottom ? Grid::kRoundNoTop : Grid::kRoundNoClamp;
  }

  template <Grid kGrid>
  void InitialError() {
    __m256 best[kS];
    for (int s = 0; s < kS; ++s) best[s] = _mm256_setzero_ps();
    for (int i = 0; i < kN; ++i) {
      for (int s = 0; s < kS; ++s) {
        const __m256 l = GridLevel<kGrid, kNmax>(_mm256_mul_ps(grid_isc_[s], _mm256_sub_ps(xt_[s][i], mn_[s])));
        const __m256 diff = _mm256_sub_ps(_mm256_add_ps(_mm256_mul_ps(scale_[s], l), mn_[s]), xt_[s][i]);
        best[s] = _mm256_add_ps(best[s], _mm256_mul_ps(wt_[s][i], ErrOf(diff)));
      }
    }
    for (int s = 0; s < kS; ++s) best_[s] = best[s];
  }

  template <Grid kGrid>
  void SumsWith() {
    const __m256 zero = _mm256_setzero_ps();
    __m256 sl[kS], sl2[kS], sxl[kS];
    for (int s = 0; s < kS; ++s) sl[s] = sl2[s] = sxl[s] = zero;
    for (int i = 0; i < kN; ++i) {
      for (int s = 0; s < kS; ++s) {
        const __m256 l = GridLevel<kGrid, kNmax>(_mm256_mul_ps(isc_[s], _mm256_sub_ps(xt_[s][i], mn_[s])));
        laux_[s][i] = l;
        const __m256 wl = _mm256_mul_ps(wt_[s][i], l);
        sl[s] = _mm256_add_ps(sl[s], wl);
        sl2[s] = _mm256_add_ps(sl2[s], _mm256_mul_ps(wl, l));
        sxl[s] = _mm256_add_ps(sxl[s], _mm256_mul_ps(wl, xt_[s][i]));
      }
    }
    for (int s = 0; s < kS; ++s) {
      const __m256 D = _mm256_sub_ps(_mm256_mul_ps(sum_w_[s], sl2[s]), _mm256_mul_ps(sl[s], sl[s]));
      ok_[s] = _mm256_cmp_ps(D, zero, _CMP_GT_OQ);
      __m256 sc = _mm256_div_ps(_mm256_sub_ps(_mm256_mul_ps(sum_w_[s], sxl[s]), _mm256_mul_ps(sum_x_[s], sl[s])), D);
      __m256 m = _mm256_div_ps(_mm256_sub_ps(_mm256_mul_ps(sl2[s], sum_x_[s]), _mm256_mul_ps(sl[s], sxl[s])), D);
      const __m256 pos = _mm256_cmp_ps(m, zero, _CMP_GT_OQ);
      m = _mm256_blendv_ps(m, zero, pos);
      sc = _mm256_blendv_ps(sc, _mm256_div_ps(sxl[s], sl2[s]), pos);
      this_scale_[s] = sc;
      this_min_[s] = m;
    }
  }

  const __m256 (*xt_)[kN];
  const __m256 (*wt_)[kN];
  const float rmin_, rdelta_;
  __m256 mn_[kS], mx_[kS], xmin_[kS], sum_w_[kS], sum_x_[kS], degenerate_[kS];
  __m256 scale_[kS], best_[kS], grid_isc_[kS], grid_mn_[kS];  // the best candidate so far
  __m256 isc_[kS], ok_[kS], this_scale_[kS], this_min_[kS];   // the candidate of the last Sums
  __m256 laux_[kS][kN];
};

template <int kS, int kNmax, int kNstep, int kN = 32, bool kMad = false>
void Qkx2Lanes(const __m256 (*xt)[kN], const __m256 (*wt)[kN], float rmin, float rdelta, AsymLanes* out) {
  AsymSearch<kS, kNmax, kN, kMad> search(xt, wt, rmin, rdelta);
  for (int is = 0; is <= kNstep; ++is) {
    search.Sums(is);
    search.Error();
  }
  search.Store(out);
}

// Two independent Qkx2Lanes searches, kS groups each, step by step alternately.
template <int kS, int kNmax, int kNstep, int kN = 32, bool kMad = false>
void Qkx2LanesTwo(const __m256 (*xt)[kN], const __m256 (*wt)[kN], float rmin, float rdelta, AsymLanes* out) {
  AsymSearch<kS, kNmax, kN, kMad> a(xt, wt, rmin, rdelta), b(xt + kS, wt + kS, rmin, rdelta);
  for (int is = 0; is <= kNstep; ++is) {
    a.Sums(is);
    b.Sums(is);
    a.Error();
    b.Error();
  }
  a.Store(out);
  b.Store(out + kS);
}



// The searches of kS blocks (8: two alternating searches of 4).
template <int kS, int kNmax, int kNstep>
void AsymSearchBlocks(const __m256 (*xt)[32], const __m256 (*wt)[32], float rmin, float rdelta, AsymLanes* out) {
  if constexpr (kS == 8) {
    Qkx2LanesTwo<kS / 2, kNmax, kNstep>(xt, wt, rmin, rdelta, out);
  } else {
    Qkx2Lanes<kS, kNmax, kNstep>(xt, wt, rmin, rdelta, out);
  }
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

void PackLevels(const uint8_t* L, BlockQ4_K* y) { PackQ4KQuants(L, y); }

// Q5_K: low nibbles as Q4_K, bit 4 of chunk c's two halves in bits 2c, 2c+1 of qh.
void PackLevels(const uint8_t* L, BlockQ5_K* y) {
  const __m256i low4 = _mm256_set1_epi8(0x0F), one = _mm256_set1_epi8(1);
  __m256i qh = _mm256_setzero_si256();
  for (int c = 0; c < 4; ++c) {
    const __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(L + 64 * c));
    const __m256i hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(L + 64 * c + 32));
    // nibbles <= 15: a 16-bit shift by 4 cannot carry into the neighbouring byte
    const __m256i q = _mm256_or_si256(_mm256_and_si256(lo, low4), _mm256_slli_epi16(_mm256_and_si256(hi, low4), 4));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y->qs + 32 * c), q);
    // bit 4 of each byte to bit 0 (16-bit shifts; the mask drops what crosses bytes)
    const __m256i blo = _mm256_and_si256(_mm256_srli_epi16(lo, 4), one);
    const __m256i bhi = _mm256_and_si256(_mm256_srli_epi16(hi, 4), one);
    qh = _mm256_or_si256(qh, _mm256_slli_epi16(_mm256_or_si256(blo, _mm256_slli_epi16(bhi, 1)), 2 * c));
  }
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(y->qh), qh);
}

// Requantization and packing of one block once its scales are set.
template <int kNmax, typename Block>
void FinishBlockAsym(const float* x, const AsymLanes& r, Block* y) {
  const float d_all = Fp16ToF32(y->d), m_all = Fp16ToF32(y->dmin);
  uint8_t L[kQK_K];
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, m;
    GetScaleMinK4(j, y->scales, &sc, &m);
    const float d = d_all * sc;
    __m256i q[4];
    for (int k = 0; k < 4; ++k) {
      const __m256 xv = _mm256_loadu_ps(x + 32 * j + 8 * k);
      if (d) {
        q[k] = NearestIntClamp(_mm256_div_ps(_mm256_add_ps(xv, _mm256_set1_ps(m_all * m)), _mm256_set1_ps(d)), 0, kNmax);
      } else if ((r.degenerate >> j) & 1) {
        q[k] = _mm256_setzero_si256();
      } else {
        // the search's levels, rebuilt from the chosen grid exactly as the search made them
        const __m256 isc = _mm256_set1_ps(r.grid_iscale[j]), mn = _mm256_set1_ps(r.grid_min[j]);
        q[k] = NearestIntClamp(_mm256_mul_ps(isc, _mm256_sub_ps(xv, mn)), 0, kNmax);
      }
    }
    StoreLevelBytes(q, L + 32 * j);
  }
  PackLevels(L, y);
}

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

// kS consecutive blocks: their searches run interleaved. qw: the blocks'
// importance (same layout as x), or null for the reference path.
template <int kS, typename Block>
void QuantizeBlocksAsym(const float* x, const float* qw, Block* y) {
  using P = AsymParams<Block>;
  __m256 xt[kS][32], wt[kS][32];
  AsymLanes r[kS];
  if (!qw) {
    const __m256 sign = _mm256_set1_ps(-0.f);
    for (int s = 0; s < kS; ++s) {
      Transpose<32>(x + kQK_K * s, xt[s]);
      __m256 sum_x2 = _mm256_setzero_ps();
      for (int i = 0; i < 32; ++i) sum_x2 = _mm256_add_ps(sum_x2, _mm256_mul_ps(xt[s][i], xt[s][i]));
      const __m256 av_x = _mm256_sqrt_ps(_mm256_div_ps(sum_x2, _mm256_set1_ps(32.f)));
      for (int i = 0; i < 32; ++i) wt[s][i] = _mm256_add_ps(av_x, _mm256_andnot_ps(sign, xt[s][i]));
    }
    AsymSearchBlocks<kS, P::kNmax, P::kNstep>(xt, wt, P::kRmin, P::kRdelta, r);
    for (int s = 0; s < kS; ++s) {
      SetAsymScalesRef(r[s].scale, r[s].the_min, &y[s].d, &y[s].dmin, y[s].scales);
      FinishBlockAsym<P::kNmax>(x + kQK_K * s, r[s], y + s);
    }
    return;
  }
  // Weights qw * sqrt(sigma2 + x^2), sigma2 = 2 * mean x^2 of the whole block.
  float sum_x2[kS];
  SumSquaresPerBlock<kS>(x, sum_x2);
  alignas(32) float sw[kS][8];
  for (int s = 0; s < kS; ++s) {
    const __m256 sigma2 = _mm256_set1_ps(2 * sum_x2[s] / kQK_K);
    __m256 qwt[32];
    Transpose<32>(x + kQK_K * s, xt[s]);
    Transpose<32>(qw + kQK_K * s, qwt);
    __m256 sumw = _mm256_setzero_ps();
    for (int i = 0; i < 32; ++i) {
      wt[s][i] = _mm256_mul_ps(qwt[i], _mm256_sqrt_ps(_mm256_add_ps(sigma2, _mm256_mul_ps(xt[s][i], xt[s][i]))));
      sumw = _mm256_add_ps(sumw, wt[s][i]);
    }
    _mm256_store_ps(sw[s], sumw);
  }
  AsymSearchBlocks<kS, P::kNmax, kImpNstep>(xt, wt, kImpRmin, kImpRdelta, r);
  for (int s = 0; s < kS; ++s) {
    SetAsymScalesImpl(r[s].scale, r[s].the_min, sw[s], &y[s].d, &y[s].dmin, y[s].scales);
    FinishBlockAsym<P::kNmax>(x + kQK_K * s, r[s], y + s);
  }
}

template <typename Block>
void QuantizeRowAsym(const float* x, const float* qw, Block* y, int64_t nb) {
  auto qw_at = [qw](int64_t b) { return qw ? qw + kQK_K * b : nullptr; };
  int64_t i = 0;
  for (; i + 8 <= nb; i += 8) QuantizeBlocksAsym<8>(x + kQK_K * i, qw_at(i), y + i);
  for (; i + 4 <= nb; i += 4) QuantizeBlocksAsym<4>(x + kQK_K * i, qw_at(i), y + i);
  for (; i + 2 <= nb; i += 2) QuantizeBlocksAsym<2>(x + kQK_K * i, qw_at(i), y + i);
  for (; i < nb; ++i) QuantizeBlocksAsym<1>(x + kQK_K * i, qw_at(i), y + i);
}

// Lane-parallel MakeQxQuants(16, kNmax, x, L, rmse_type = 1, qw) for 8 sub-blocks
// (qwt: the transposed importance, or null for rmse_type 1's x^2 weights).
// The candidates' grids depend only on the sub-block maximum, whatever the weights, so
// their sums are computed first (no levels stored) and the scalar acceptance
// order is replayed afterwards. Out: scale, chosen inverse scale, tiny mask.
template <int kNmax>
void QxLanes(const __m256* xt, const __m256* qwt, __m256* out_scale, __m256* out_isc, __m256* out_tiny) {
  constexpr int n = 16;
  constexpr int kCand = 19;  // the first guess, then is = -9..-1, 1..9
  const __m256 zero = _mm256_setzero_ps();
  const __m256 lo = _mm256_set1_ps(-kNmax), hi = _mm256_set1_ps(kNmax - 1);
  const __m256 sign = _mm256_set1_ps(-0.f);
  __m256 amax = zero, mx = zero;
  for (int i = 0; i < n; ++i) {
    const __m256 ax = _mm256_andnot_ps(sign, xt[i]);
    const __m256 gt = _mm256_cmp_ps(ax, amax, _CMP_GT_OQ);
    amax = _mm256_blendv_ps(amax, ax, gt);
    mx = _mm256_blendv_ps(mx, xt[i], gt);
  }
  *out_tiny = _mm256_cmp_ps(amax, _mm256_set1_ps(1e-15f), _CMP_LT_OQ);
  static const int kSteps[kCand] = {0, -9, -8, -7, -6, -5, -4, -3, -2, -1, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  __m256 isc[kCand], slx[kCand], sl2[kCand], w[n], wx[n];
  isc[0] = _mm256_div_ps(_mm256_set1_ps(-kNmax), mx);
  for (int g = 1; g < kCand; ++g) isc[g] = _mm256_div_ps(_mm256_set1_ps(-(kNmax + 0.1f * kSteps[g])), mx);
  for (int i = 0; i < n; ++i) {
    w[i] = qwt ? qwt[i] : _mm256_mul_ps(xt[i], xt[i]);
    wx[i] = _mm256_mul_ps(w[i], xt[i]);
  }
  // Whether a group of candidates may skip the clamp to [-kNmax, kNmax - 1]: only if in
  // every lane that matters (not tiny) all values are finite and neither
  // extreme of the lane rounds outside it (x -> round(isc * x) is monotone, so
  // no other value can). The clamps are 2 of the 9 vector ops per value and
  // candidate, on the ports the products need; the candidates |is| <= 5 mostly
  // pass (the largest magnitude rounds to -kNmax or above), the others rarely.
  __m256 xlo = xt[0], xhi = xt[0], finite = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
  for (int i = 0; i < n; ++i) {
    xlo = _mm256_min_ps(xlo, xt[i]);
    xhi = _mm256_max_ps(xhi, xt[i]);
    finite = _mm256_and_ps(finite, _mm256_cmp_ps(_mm256_sub_ps(xt[i], xt[i]), zero, _CMP_EQ_OQ));
  }
  // some lane neither tiny nor all finite
  const bool lanes_unsafe = (_mm256_movemask_ps(finite) | _mm256_movemask_ps(*out_tiny)) != 0xFF;
  auto needs_clamp = [&](int g0, int count) {
    if (lanes_unsafe) return true;
    __m256 out = zero;
    for (int g = g0; g < g0 + count; ++g) {
      for (const __m256 e : {xlo, xhi}) {
        const __m256 l = Round(_mm256_mul_ps(isc[g], e));
        out = _mm256_or_ps(out, _mm256_or_ps(_mm256_cmp_ps(l, lo, _CMP_LT_OQ), _mm256_cmp_ps(l, hi, _CMP_GT_OQ)));
      }
    }
    return _mm256_movemask_ps(_mm256_andnot_ps(*out_tiny, out)) != 0;
  };
  // Groups of candidates per pass over the 16 values (to stay within the
  // registers), is = 6..9 together since they nearly always need the clamp.
  auto sums = [&]<int kCount, bool kClamp>(int g0) {
    for (int g = g0; g < g0 + kCount; ++g) slx[g] = sl2[g] = zero;
    for (int i = 0; i < n; ++i) {
      for (int g = g0; g < g0 + kCount; ++g) {
        const __m256 r = Round(_mm256_mul_ps(isc[g], xt[i]));
        const __m256 l = kClamp ? Clamp(r, lo, hi) : r;
        slx[g] = _mm256_add_ps(slx[g], _mm256_mul_ps(wx[i], l));
        sl2[g] = _mm256_add_ps(sl2[g], _mm256_mul_ps(_mm256_mul_ps(w[i], l), l));
      }
    }
  };
  auto group = [&]<int kCount>(int g0) {
    if (needs_clamp(g0, kCount)) {
      sums.template operator()<kCount, true>(g0);
    } else {
      sums.template operator()<kCount, false>(g0);
    }
  };
  group.template operator()<4>(0);   // is = 0, -9, -8, -7
  group.template operator()<4>(4);   // is = -6 .. -3
  group.template operator()<4>(8);   // is = -2, -1, 1, 2
  group.template operator()<3>(12);  // is = 3, 4, 5
  group.template operator()<4>(15);  // is = 6 .. 9
  const __m256 nz = _mm256_cmp_ps(sl2[0], zero, _CMP_NEQ_UQ);
  __m256 scale = _mm256_and_ps(nz, _mm256_div_ps(slx[0], sl2[0]));
  __m256 best = _mm256_mul_ps(scale, slx[0]);
  __m256 chosen = isc[0];
  for (int g = 1; g < kCand; ++g) {
    const __m256 take = _mm256_and_ps(
        _mm256_cmp_ps(sl2[g], zero, _CMP_GT_OQ),
        _mm256_cmp_ps(_mm256_mul_ps(slx[g], slx[g]), _mm256_mul_ps(best, sl2[g]), _CMP_GT_OQ));
    scale = _mm256_blendv_ps(scale, _mm256_div_ps(slx[g], sl2[g]), take);
    best = _mm256_blendv_ps(best, _mm256_mul_ps(scale, slx[g]), take);
    chosen = _mm256_blendv_ps(chosen, isc[g], take);
  }
  *out_scale = _mm256_blendv_ps(scale, zero, *out_tiny);
  *out_isc = chosen;
}

// qw: the block's importance (ggml passes it raw as the weights), or null.
void QuantizeBlockQ6K(const float* x, const float* qw, BlockQ6_K* y) {
  // Blocks with inf or NaN go to the reference: the lane search rounds with
  // _mm256_round_ps, which does not mirror NearestInt's integer trick there.
  if (!BlockFinite(x)) {
    QuantizeRowQ6K(x, y, kQK_K, qw);
    return;
  }
  alignas(32) float scales[16], isc[16];
  int tiny = 0;  // bit j: sub-block j is all (near) zero
  for (int half = 0; half < 2; ++half) {
    __m256 xt[16], qwt[16], vs, visc, vtiny;
    Transpose<16>(x + 128 * half, xt);
    if (qw) Transpose<16>(qw + 128 * half, qwt);
    QxLanes<32>(xt, qw ? qwt : nullptr, &vs, &visc, &vtiny);
    _mm256_store_ps(scales + 8 * half, vs);
    _mm256_store_ps(isc + 8 * half, visc);
    tiny |= _mm256_movemask_ps(vtiny) << (8 * half);
  }
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
  const __m256i bias = _mm256_set1_epi32(32);
  uint8_t L[kQK_K];
  for (int j0 = 0; j0 < 16; j0 += 2) {  // two sub-blocks of 16: 32 levels
    __m256i q[4];
    for (int k = 0; k < 4; ++k) {
      const int j = j0 + k / 2;
      const float d = d_all * y->scales[j];
      const __m256 xv = _mm256_loadu_ps(x + 16 * j0 + 8 * k);
      if (d) {
        q[k] = _mm256_add_epi32(NearestIntClamp(_mm256_div_ps(xv, _mm256_set1_ps(d)), -32, 31), bias);
      } else if ((tiny >> j) & 1) {
        q[k] = _mm256_setzero_si256();
      } else {
        // the search's levels, rebuilt from the chosen inverse scale
        q[k] = _mm256_add_epi32(NearestIntClamp(_mm256_mul_ps(_mm256_set1_ps(isc[j]), xv), -32, 31), bias);
      }
    }
    StoreLevelBytes(q, L + 16 * j0);
  }
  PackQ6KQuants(L, y);
}

// Q2_K (scalar reference: QuantizeRowQ2K in quants_k.cpp): the 16 sub-blocks
// of 16 as two groups of 8 lanes of the same search as Q4_K/Q5_K. Without
// importance: qkx2 with |x| weights and the mean absolute deviation (kMad),
// scales and mins to 4 bits against their maxima; with importance: qkx3 with
// qw * sqrt(sigma2 + x^2), sigma2 the block's mean x^2, then make_qp_quants.
void QuantizeBlockQ2K(const float* x, const float* qw, BlockQ2_K* y) {
  __m256 xt[2][16], wt[2][16];
  AsymLanes r[2];
  for (int s = 0; s < 2; ++s) Transpose<16>(x + 128 * s, xt[s]);
  alignas(32) float scales[16], mins[16];
  if (!qw) {
    const __m256 sign = _mm256_set1_ps(-0.f);
    for (int s = 0; s < 2; ++s) {
      for (int i = 0; i < 16; ++i) wt[s][i] = _mm256_andnot_ps(sign, xt[s][i]);
    }
    Qkx2Lanes<2, 3, 15, 16, true>(xt, wt, -0.5f, 0.1f, r);
    for (int s = 0; s < 2; ++s) {
      _mm256_store_ps(scales + 8 * s, _mm256_load_ps(r[s].scale));
      _mm256_store_ps(mins + 8 * s, _mm256_load_ps(r[s].the_min));
    }
    float max_scale = 0, max_min = 0;
    for (int j = 0; j < 16; ++j) {
      if (scales[j] > max_scale) max_scale = scales[j];
      if (mins[j] > max_min) max_min = mins[j];
    }
    constexpr float q4scale = 15.f;
    if (max_scale > 0) {
      const float iscale = q4scale / max_scale;
      for (int j = 0; j < 16; ++j) y->scales[j] = static_cast<uint8_t>(NearestInt(iscale * scales[j]));
      y->d = F32ToFp16(max_scale / q4scale);
    } else {
      for (int j = 0; j < 16; ++j) y->scales[j] = 0;
      y->d = F32ToFp16(0.f);
    }
    if (max_min > 0) {
      const float iscale = q4scale / max_min;
      for (int j = 0; j < 16; ++j) y->scales[j] |= static_cast<uint8_t>(NearestInt(iscale * mins[j]) << 4);
      y->dmin = F32ToFp16(max_min / q4scale);
    } else {
      y->dmin = F32ToFp16(0.f);
    }
  } else {
    float sum_x2 = 0;
    for (int l = 0; l < kQK_K; ++l) sum_x2 += x[l] * x[l];
    const __m256 sigma2 = _mm256_set1_ps(sum_x2 / kQK_K);
    alignas(32) float sw[16];
    for (int s = 0; s < 2; ++s) {
      __m256 qwt[16];
      Transpose<16>(qw + 128 * s, qwt);
      __m256 sumw = _mm256_setzero_ps();
      for (int i = 0; i < 16; ++i) {
        wt[s][i] = _mm256_mul_ps(qwt[i], _mm256_sqrt_ps(_mm256_add_ps(sigma2, _mm256_mul_ps(xt[s][i], xt[s][i]))));
        sumw = _mm256_add_ps(sumw, wt[s][i]);
      }
      _mm256_store_ps(sw + 8 * s, sumw);
    }
    Qkx2Lanes<2, 3, kImpNstep, 16, false>(xt, wt, kImpRmin, kImpRdelta, r);
    for (int s = 0; s < 2; ++s) {
      _mm256_store_ps(scales + 8 * s, _mm256_load_ps(r[s].scale));
      _mm256_store_ps(mins + 8 * s, _mm256_load_ps(r[s].the_min));
    }
    uint8_t Ls[16], Lm[16];
    const float dm = MakeQpQuants(16, 15, scales, Ls, sw);
    const float mm = MakeQpQuants(16, 15, mins, Lm, sw);
    y->d = F32ToFp16(dm);
    y->dmin = F32ToFp16(mm);
    for (int j = 0; j < 16; ++j) y->scales[j] = static_cast<uint8_t>(Ls[j] | (Lm[j] << 4));
  }
  // Final levels: requantized where the 4-bit scale is not 0, else the search's own.
  const float d_all = Fp16ToF32(y->d), m_all = Fp16ToF32(y->dmin);
  alignas(32) int32_t L[kQK_K];
  for (int j = 0; j < 16; ++j) {
    const AsymLanes& rj = r[j / 8];
    const int lane = j % 8;
    const float d = d_all * (y->scales[j] & 0xF);
    const float m = m_all * (y->scales[j] >> 4);
    for (int k = 0; k < 16; k += 8) {
      const __m256 xv = _mm256_loadu_ps(x + 16 * j + k);
      __m256i q;
      if (d) {
        q = NearestIntClamp(_mm256_div_ps(_mm256_add_ps(xv, _mm256_set1_ps(m)), _mm256_set1_ps(d)), 0, 3);
      } else if ((rj.degenerate >> lane) & 1) {
        q = _mm256_setzero_si256();
      } else {
        const __m256 isc = _mm256_set1_ps(rj.grid_iscale[lane]), mn = _mm256_set1_ps(rj.grid_min[lane]);
        q = NearestIntClamp(_mm256_mul_ps(isc, _mm256_sub_ps(xv, mn)), 0, 3);
      }
      _mm256_store_si256(reinterpret_cast<__m256i*>(L + 16 * j + k), q);
    }
  }
  // byte l of each 32-byte group: elements l, l+32, l+64, l+96 of its 128-value half
  for (int h = 0; h < kQK_K; h += 128) {
    for (int l = 0; l < 32; ++l) {
      y->qs[h / 4 + l] = static_cast<uint8_t>(L[h + l] | (L[h + l + 32] << 2) | (L[h + l + 64] << 4) |
                                              (L[h + l + 96] << 6));
    }
  }
}

// Lane-parallel MakeQ3Quants(16, 4, x, L, do_rmse = true) for 8 sub-blocks:
// the rounding, then up to 5 passes of coordinate descent on the levels with
// x^2 weights, each lane updating its sums element by element exactly as the
// scalar loop does (accepting a change is a blend). A lane whose pass changed
// nothing is at a fixed point (a pass depends only on the levels and the two
// sums), so running the passes the other lanes still need leaves it as the
// scalar's early exit does. Levels are exact NearestInt throughout. Out: the
// scale (0 for tiny lanes) and the levels (0..7, as floats).
void Q3Lanes(const __m256* xt, __m256* out_scale, __m256* lv) {
  constexpr int n = 16;
  const __m256 zero = _mm256_setzero_ps(), sign = _mm256_set1_ps(-0.f);
  __m256 amax = zero, mx = zero;
  for (int i = 0; i < n; ++i) {
    const __m256 ax = _mm256_andnot_ps(sign, xt[i]);
    const __m256 gt = _mm256_cmp_ps(ax, amax, _CMP_GT_OQ);
    amax = _mm256_blendv_ps(amax, ax, gt);
    mx = _mm256_blendv_ps(mx, xt[i], gt);
  }
  const __m256 tiny = _mm256_cmp_ps(amax, _mm256_set1_ps(1e-15f), _CMP_LT_OQ);
  const __m256 iscale = _mm256_div_ps(_mm256_set1_ps(-4.f), mx);
  __m256 w[n], wx[n], sumlx = zero, suml2 = zero;
  for (int i = 0; i < n; ++i) {
    w[i] = _mm256_mul_ps(xt[i], xt[i]);
    wx[i] = _mm256_mul_ps(w[i], xt[i]);
    lv[i] = _mm256_cvtepi32_ps(NearestIntClamp(_mm256_mul_ps(iscale, xt[i]), -4, 3));
    sumlx = _mm256_add_ps(sumlx, _mm256_mul_ps(wx[i], lv[i]));
    suml2 = _mm256_add_ps(suml2, _mm256_mul_ps(_mm256_mul_ps(w[i], lv[i]), lv[i]));
  }
  for (int itry = 0; itry < 5; ++itry) {
    __m256 changed = zero;
    for (int i = 0; i < n; ++i) {
      __m256 slx = _mm256_sub_ps(sumlx, _mm256_mul_ps(wx[i], lv[i]));
      const __m256 pos = _mm256_cmp_ps(slx, zero, _CMP_GT_OQ);
      __m256 sl2 = _mm256_sub_ps(suml2, _mm256_mul_ps(_mm256_mul_ps(w[i], lv[i]), lv[i]));
      const __m256 new_l =
          _mm256_cvtepi32_ps(NearestIntClamp(_mm256_div_ps(_mm256_mul_ps(xt[i], sl2), slx), -4, 3));
      // after the first pass a level rarely moves: skip the test of a change no lane proposes
      const __m256 proposed = _mm256_and_ps(pos, _mm256_cmp_ps(new_l, lv[i], _CMP_NEQ_OQ));
      if (_mm256_movemask_ps(proposed) == 0) continue;
      slx = _mm256_add_ps(slx, _mm256_mul_ps(wx[i], new_l));
      sl2 = _mm256_add_ps(sl2, _mm256_mul_ps(_mm256_mul_ps(w[i], new_l), new_l));
      const __m256 better = _mm256_and_ps(
          _mm256_cmp_ps(sl2, zero, _CMP_GT_OQ),
          _mm256_cmp_ps(_mm256_mul_ps(_mm256_mul_ps(slx, slx), suml2), _mm256_mul_ps(_mm256_mul_ps(sumlx, sumlx), sl2),
                        _CMP_GT_OQ));
      const __m256 take = _mm256_and_ps(proposed, better);
      lv[i] = _mm256_blendv_ps(lv[i], new_l, take);
      sumlx = _mm256_blendv_ps(sumlx, slx, take);
      suml2 = _mm256_blendv_ps(suml2, sl2, take);
      changed = _mm256_or_ps(changed, take);
    }
    if (_mm256_movemask_ps(_mm256_andnot_ps(tiny, changed)) == 0) break;
  }
  const __m256 four = _mm256_set1_ps(4.f);
  for (int i = 0; i < n; ++i) lv[i] = _mm256_andnot_ps(tiny, _mm256_add_ps(lv[i], four));
  *out_scale = _mm256_andnot_ps(tiny, _mm256_div_ps(sumlx, suml2));
}

// Q3_K (scalar reference: QuantizeRowQ3K in quants_k.cpp), the 16 sub-blocks
// of 16 as two groups of 8 lanes: without importance MakeQ3Quants (Q3Lanes),
// with importance the weighted MakeQxQuants(16, 4) (QxLanes<4>); the 6-bit
// scale setting stays the reference's scalar code. Blocks with a non-finite
// value go to the reference (its integer rounding of inf/NaN is not mirrored).
void QuantizeBlockQ3K(const float* x, const float* qw, BlockQ3_K* y) {
  if (!BlockFinite(x)) {
    QuantizeRowQ3K(x, y, kQK_K, qw);
    return;
  }
  std::memset(y->scales, 0, sizeof(y->scales));
  __m256 xt[2][16];
  for (int s = 0; s < 2; ++s) Transpose<16>(x + 128 * s, xt[s]);
  alignas(32) float scales[16];
  alignas(32) float lsearch[16][16];  // [value i][sub-block j]: the search's levels (no importance)
  alignas(32) float isc[16];          // with importance: the chosen inverse scale per sub-block
  int tiny = 0;
  if (!qw) {
    for (int s = 0; s < 2; ++s) {
      __m256 vs, lv[16];
      Q3Lanes(xt[s], &vs, lv);
      _mm256_store_ps(scales + 8 * s, vs);
      for (int i = 0; i < 16; ++i) {
        alignas(32) float tmp[8];
        _mm256_store_ps(tmp, lv[i]);
        for (int k = 0; k < 8; ++k) lsearch[i][8 * s + k] = tmp[k];
      }
    }
    float max_scale = 0, amax = 0;
    for (int j = 0; j < 16; ++j) {
      const float scale = std::fabs(scales[j]);
      if (scale > amax) { amax = scale; max_scale = scales[j]; }
    }
    if (max_scale) {
      const float iscale = -32.f / max_scale;
      for (int j = 0; j < 16; ++j) {
        int l = NearestInt(iscale * scales[j]);
        l = std::max(-32, std::min(31, l)) + 32;
        SetScaleQ3(j, l, y->scales);
      }
      y->d = F32ToFp16(1 / iscale);
    } else {
      y->d = F32ToFp16(0.f);
    }
  } else {
    float sum_x2 = 0;
    for (int l = 0; l < kQK_K; ++l) sum_x2 += x[l] * x[l];
    const __m256 sigma2 = _mm256_set1_ps(2 * sum_x2 / kQK_K);
    alignas(32) float sw[16];
    for (int s = 0; s < 2; ++s) {
      __m256 qwt[16], wt[16], vs, visc, vtiny;
      Transpose<16>(qw + 128 * s, qwt);
      __m256 sumw = _mm256_setzero_ps();
      for (int i = 0; i < 16; ++i) {
        wt[i] = _mm256_mul_ps(qwt[i], _mm256_sqrt_ps(_mm256_add_ps(sigma2, _mm256_mul_ps(xt[s][i], xt[s][i]))));
        sumw = _mm256_add_ps(sumw, wt[i]);
      }
      _mm256_store_ps(sw + 8 * s, sumw);
      QxLanes<4>(xt[s], wt, &vs, &visc, &vtiny);
      _mm256_store_ps(scales + 8 * s, vs);
      _mm256_store_ps(isc + 8 * s, visc);
      tiny |= _mm256_movemask_ps(vtiny) << (8 * s);
    }
    int8_t Ls[16];
    const float d_block = MakeQxQuants(16, 32, scales, Ls, 1, sw);
    for (int j = 0; j < 16; ++j) SetScaleQ3(j, Ls[j], y->scales);
    y->d = F32ToFp16(d_block);
  }
  // Final levels (0..7): requantized where the sub-block scale is not 0, else the search's.
  const float dall = Fp16ToF32(y->d);
  alignas(32) int32_t L[kQK_K];
  for (int j = 0; j < 16; ++j) {
    const float d = dall * (GetScaleQ3(j, y->scales) - 32);
    for (int k = 0; k < 16; k += 8) {
      const __m256 xv = _mm256_loadu_ps(x + 16 * j + k);
      __m256i q;
      if (d) {
        q = _mm256_add_epi32(NearestIntClamp(_mm256_div_ps(xv, _mm256_set1_ps(d)), -4, 3), _mm256_set1_epi32(4));
      } else if (!qw) {
        alignas(32) int32_t t[8];
        for (int u = 0; u < 8; ++u) t[u] = static_cast<int32_t>(lsearch[k + u][j]);
        q = _mm256_load_si256(reinterpret_cast<const __m256i*>(t));
      } else if ((tiny >> j) & 1) {
        q = _mm256_setzero_si256();
      } else {
        // the weighted search's levels, rebuilt from its chosen inverse scale
        q = _mm256_add_epi32(NearestIntClamp(_mm256_mul_ps(_mm256_set1_ps(isc[j]), xv), -4, 3), _mm256_set1_epi32(4));
      }
      _mm256_store_si256(reinterpret_cast<__m256i*>(L + 16 * j + k), q);
    }
  }
  // high bit of level j in hmask[j % 32] bit j / 32; low 2 bits packed as Q2_K's
  std::memset(y->hmask, 0, sizeof(y->hmask));
  uint8_t low[kQK_K];
  for (int j = 0; j < kQK_K; ++j) {
    int l = L[j];
    if (l > 3) {
      y->hmask[j % 32] |= static_cast<uint8_t>(1 << (j / 32));
      l -= 4;
    }
    low[j] = static_cast<uint8_t>(l);
  }
  for (int h = 0; h < kQK_K; h += 128) {
    for (int l = 0; l < 32; ++l) {
      y->qs[h / 4 + l] = static_cast<uint8_t>(low[h + l] | (low[h + l + 32] << 2) | (low[h + l + 64] << 4) |
                                              (low[h + l + 96] << 6));
    }
  }
}

}  // namespace

void QuantizeRowQ3KAvx2(const float* x, void* vy, int64_t n, const float* importance) {
  auto* y = static_cast<BlockQ3_K*>(vy);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    QuantizeBlockQ3K(x + kQK_K * i, importance ? importance + kQK_K * i : nullptr, y + i);
  }
}

void QuantizeRowQ2KAvx2(const float* x, void* vy, int64_t n, const float* importance) {
  auto* y = static_cast<BlockQ2_K*>(vy);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    QuantizeBlockQ2K(x + kQK_K * i, importance ? importance + kQK_K * i : nullptr, y + i);
  }
}

void QuantizeRowQ4KAvx2(const float* x, void* vy, int64_t n, const float* importance) {
  QuantizeRowAsym(x, importance, static_cast<BlockQ4_K*>(vy), n / kQK_K);
}

void QuantizeRowQ5KAvx2(const float* x, void* vy, int64_t n, const float* importance) {
  QuantizeRowAsym(x, importance, static_cast<BlockQ5_K*>(vy), n / kQK_K);
}

void QuantizeRowQ6KAvx2(const float* x, void* vy, int64_t n, const float* importance) {
  auto* y = static_cast<BlockQ6_K*>(vy);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    QuantizeBlockQ6K(x + kQK_K * i, importance ? importance + kQK_K * i : nullptr, y + i);
  }
}

}  // namespace shardq::kquant
