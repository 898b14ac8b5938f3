// Fitting, rounding and packing of each ggml block format (block_grid.h).
//
// The parameters a decoder reads (fp16 scales, packed sub-block scales) come
// from the formats' own encoders wherever a block is encoded on its own: the
// block is run through the reference quantize_row and its bytes are kept, so
// they match ggml by construction. What the encoders round with but do not
// store (an unrounded inverse scale, the min a search rounded against) is
// recomputed here by the same expressions, or taken from the searches through
// qsearch::RoundingChoice. The legacy formats with importance weigh their
// values with the row's mean square, so their blocks cannot be encoded alone:
// their searches are called here directly, with the row's sigma2.
#include "kernels/block_grid.h"

#include <cfloat>
#include <cmath>
#include <cstring>

#include "kernels/block_codes.h"
#include "kernels/block_format.h"
#include "kernels/block_structs.h"
#include "kernels/fp16.h"
#include "kernels/quants_k_scales.h"
#include "kernels/quants_legacy.h"

namespace shardq::grid {
namespace {

using qsearch::RoundingChoice;

constexpr GridShape kShapes[] = {
    {GgmlType::Q4_0, 32, 32, sizeof(BlockQ4_0), true},
    {GgmlType::Q4_1, 32, 32, sizeof(BlockQ4_1), true},
    {GgmlType::Q5_0, 32, 32, sizeof(BlockQ5_0), true},
    {GgmlType::Q5_1, 32, 32, sizeof(BlockQ5_1), true},
    {GgmlType::Q8_0, 32, 32, sizeof(BlockQ8_0), false},
    {GgmlType::IQ4_NL, 32, 32, sizeof(BlockIQ4_NL), false},
    {GgmlType::Q2_K, 256, 16, sizeof(BlockQ2_K), false},
    {GgmlType::Q3_K, 256, 16, sizeof(BlockQ3_K), false},
    {GgmlType::Q4_K, 256, 32, sizeof(BlockQ4_K), false},
    {GgmlType::Q5_K, 256, 32, sizeof(BlockQ5_K), false},
    {GgmlType::Q6_K, 256, 16, sizeof(BlockQ6_K), false},
    {GgmlType::TQ1_0, 256, 256, sizeof(BlockTQ1_0), false},
    {GgmlType::TQ2_0, 256, 256, sizeof(BlockTQ2_0), false},
};

// ---- fitting --------------------------------------------------------------------

// Groups whose decoded scale is 0 decode every code alike: keep the encoder's codes.
void FixZeroScaleGroups(const GridShape& s, GroupGrid* g) {
  for (int k = 0; k < s.groups(); ++k) {
    if (g[k].scale == 0.f) g[k].rule = RoundRule::kFixed;
  }
}

// Applies the groups' rules to x (what the encoder does for these formats).
void CodesFromRules(const GridShape& s, const float* x, const GroupGrid* g, int8_t* codes) {
  for (int p = 0; p < s.block_size; ++p) codes[p] = static_cast<int8_t>(RoundValue(g[p / s.group_size], 0, x[p]).code);
}

// Q4_0 / Q5_0: levels -nmax..nmax-1 stored + nmax, x = (code - nmax) * d.
void FitSymLegacy(const GridShape& s, int nmax, const float* x, const float* qw, float sigma2,
                  GroupGrid* g, int8_t* fit_codes, uint16_t* d16) {
  g->lo = 0; g->hi = static_cast<int16_t>(2 * nmax - 1); g->zero = static_cast<int16_t>(nmax);
  if (qw) {
    float weight[32];
    for (int j = 0; j < 32; ++j) weight[j] = qw[j] * std::sqrt(sigma2 + x[j] * x[j]);
    RoundingChoice choice;
    const float d = qsearch::MakeQxQuants(32, nmax, x, fit_codes, 1, weight, &choice);
    *d16 = F32ToFp16(d);
    g->rule = RoundRule::kNearestMul;
    g->inv = choice.iscale;
    g->lo = static_cast<int16_t>(-nmax); g->hi = static_cast<int16_t>(nmax - 1); g->shift = static_cast<int16_t>(nmax);
  } else {
    // ggml's reference: d from the signed absmax, truncation after + nmax + 0.5.
    const float d = legacy::SignedAbsMax(x, 32) / static_cast<float>(-nmax);
    g->rule = RoundRule::kTruncAffine;
    g->inv = d ? 1.0f / d : 0.0f;
    g->bias = static_cast<float>(nmax) + 0.5f;
    *d16 = F32ToFp16(d);
  }
  g->scale = Fp16ToF32(*d16);
  if (!qw) CodesFromRules(s, x, g, fit_codes);
}

// Q4_1 / Q5_1: x = code * d + m, codes 0..nmax.
void FitAffineLegacy(const GridShape& s, int nmax, const float* x, const float* qw, float sigma2,
                     GroupGrid* g, int8_t* fit_codes, uint16_t* d16, uint16_t* m16) {
  g->lo = 0; g->hi = static_cast<int16_t>(nmax);
  if (qw) {
    float weight[32];
    for (int j = 0; j < 32; ++j) weight[j] = qw[j] * std::sqrt(sigma2 + x[j] * x[j]);
    uint8_t L[32], laux[32];
    float neg_min;
    RoundingChoice choice;
    const float d = qsearch::MakeQkx3Quants(32, nmax, x, weight, L, &neg_min, laux, -0.9f, 0.05f, 36, false, &choice);
    *d16 = F32ToFp16(d);
    *m16 = F32ToFp16(-neg_min);
    g->rule = RoundRule::kNearestMul;
    g->inv = choice.iscale;
    g->offset = choice.offset;
    for (int j = 0; j < 32; ++j) fit_codes[j] = static_cast<int8_t>(L[j]);
  } else {
    float min = FLT_MAX, max = -FLT_MAX;
    for (int j = 0; j < 32; ++j) {
      min = std::min(min, x[j]);
      max = std::max(max, x[j]);
    }
    const float d = (max - min) / static_cast<float>(nmax);
    g->rule = RoundRule::kTruncAffine;
    g->inv = d ? 1.0f / d : 0.0f;
    g->offset = min;
    g->bias = 0.5f;
    *d16 = F32ToFp16(d);
    *m16 = F32ToFp16(min);
  }
  g->scale = Fp16ToF32(*d16);
  g->add = Fp16ToF32(*m16);
  if (!qw) CodesFromRules(s, x, g, fit_codes);
}

// The self-contained formats: encode the block with the reference encoder and
// read the decoder's parameters back from its bytes.
void EncodeBlock(const GridShape& s, const float* x, const float* qw, uint8_t* bytes, int8_t* fit_codes) {
  FindReferenceBlockFormat(s.type)->quantize_row(x, bytes, s.block_size, qw);
  UnpackBlockCodes(s.type, bytes, fit_codes);
}

float BlockAbsMax(const float* x, int n) {
  float amax = 0;
  for (int j = 0; j < n; ++j) amax = std::max(amax, std::fabs(x[j]));
  return amax;
}

}  // namespace

const GridShape* FindGridShape(GgmlType type) {
  for (const GridShape& s : kShapes) {
    if (s.type == type) return &s;
  }
  return nullptr;
}

float RowSigma2(GgmlType type, const float* row, int64_t n) {
  const GridShape* s = FindGridShape(type);
  if (!s || !s->row_sigma2) return 0.f;
  float sum_x2 = 0;  // summed in order, as the legacy encoders do
  for (int64_t j = 0; j < n; ++j) sum_x2 += row[j] * row[j];
  return sum_x2 / static_cast<float>(n);
}

void FitBlock(const GridShape& s, const float* x, const float* qw, float sigma2, GroupGrid* g,
              int8_t* fit_codes, uint8_t* bytes) {
  for (int k = 0; k < s.groups(); ++k) g[k] = GroupGrid{};
  std::memset(bytes, 0, s.block_bytes);
  using kquant::GetScaleMinK4;
  using kquant::GetScaleQ3;
  switch (s.type) {
    case GgmlType::Q4_0:
      FitSymLegacy(s, 8, x, qw, sigma2, g, fit_codes, &reinterpret_cast<BlockQ4_0*>(bytes)->d);
      break;
    case GgmlType::Q5_0:
      FitSymLegacy(s, 16, x, qw, sigma2, g, fit_codes, &reinterpret_cast<BlockQ5_0*>(bytes)->d);
      break;
    case GgmlType::Q4_1: {
      auto* y = reinterpret_cast<BlockQ4_1*>(bytes);
      FitAffineLegacy(s, 15, x, qw, sigma2, g, fit_codes, &y->d, &y->m);
      break;
    }
    case GgmlType::Q5_1: {
      auto* y = reinterpret_cast<BlockQ5_1*>(bytes);
      FitAffineLegacy(s, 31, x, qw, sigma2, g, fit_codes, &y->d, &y->m);
      break;
    }
    case GgmlType::Q8_0: {
      EncodeBlock(s, x, nullptr, bytes, fit_codes);
      const float d = BlockAbsMax(x, 32) / 127;
      *g = GroupGrid{RoundRule::kRoundf, d ? 1.0f / d : 0.0f, 0, 0, -127, 127, 0, 0,
                     Fp16ToF32(reinterpret_cast<BlockQ8_0*>(bytes)->d), 0, nullptr};
      break;
    }
    case GgmlType::IQ4_NL: {
      EncodeBlock(s, x, qw, bytes, fit_codes);
      const float d = legacy::SearchIQ4_NLScale(x, qw);
      *g = GroupGrid{RoundRule::kNonUniform, d ? 1 / d : 0, 0, 0, 0, 15, 0, 0,
                     Fp16ToF32(reinterpret_cast<BlockIQ4_NL*>(bytes)->d), 0, kIQ4NLValues};
      break;
    }
    case GgmlType::TQ1_0:
    case GgmlType::TQ2_0: {
      EncodeBlock(s, x, nullptr, bytes, fit_codes);
      const float d = BlockAbsMax(x, 256);
      const uint16_t d16 = s.type == GgmlType::TQ1_0 ? reinterpret_cast<BlockTQ1_0*>(bytes)->d
                                                     : reinterpret_cast<BlockTQ2_0*>(bytes)->d;
      *g = GroupGrid{RoundRule::kLround, d ? 1.0f / d : 0.0f, 0, 0, -1, 1, 1, 1, Fp16ToF32(d16), 0, nullptr};
      break;
    }
    case GgmlType::Q2_K: {
      EncodeBlock(s, x, qw, bytes, fit_codes);
      const auto* y = reinterpret_cast<BlockQ2_K*>(bytes);
      const float dm = Fp16ToF32(y->d), mm = Fp16ToF32(y->dmin);
      for (int j = 0; j < 16; ++j) {
        const float d = dm * (y->scales[j] & 0xF);
        const float m = mm * (y->scales[j] >> 4);
        g[j] = GroupGrid{RoundRule::kNearestDiv, d, m, 0, 0, 3, 0, 0, d, -m, nullptr};
      }
      break;
    }
    case GgmlType::Q3_K: {
      EncodeBlock(s, x, qw, bytes, fit_codes);
      const auto* y = reinterpret_cast<BlockQ3_K*>(bytes);
      const float dall = Fp16ToF32(y->d);
      for (int j = 0; j < 16; ++j) {
        const float d = dall * (GetScaleQ3(j, y->scales) - 32);
        g[j] = GroupGrid{RoundRule::kNearestDiv, d, 0, 0, -4, 3, 4, 4, d, 0, nullptr};
      }
      break;
    }
    case GgmlType::Q4_K:
    case GgmlType::Q5_K: {
      EncodeBlock(s, x, qw, bytes, fit_codes);
      // Q4_K and Q5_K share their header: d, dmin, 12 bytes of packed scales.
      const auto* y = reinterpret_cast<BlockQ4_K*>(bytes);
      const int16_t nmax = s.type == GgmlType::Q4_K ? 15 : 31;
      for (int j = 0; j < 8; ++j) {
        uint8_t sc, m;
        GetScaleMinK4(j, y->scales, &sc, &m);
        const float d = Fp16ToF32(y->d) * sc;
        const float dm = Fp16ToF32(y->dmin) * m;
        g[j] = GroupGrid{RoundRule::kNearestDiv, d, dm, 0, 0, nmax, 0, 0, d, -dm, nullptr};
      }
      break;
    }
    case GgmlType::Q6_K: {
      EncodeBlock(s, x, qw, bytes, fit_codes);
      const auto* y = reinterpret_cast<BlockQ6_K*>(bytes);
      for (int j = 0; j < 16; ++j) {
        const float d = Fp16ToF32(y->d) * y->scales[j];
        g[j] = GroupGrid{RoundRule::kNearestDiv, d, 0, 0, -32, 31, 32, 32, d, 0, nullptr};
      }
      break;
    }
    default: return;
  }
  FixZeroScaleGroups(s, g);
}

void PackCodes(const GridShape& s, const int16_t* codes, uint8_t* bytes) { PackBlockCodes(s.type, codes, bytes); }

GroupGrid FitIntN(const float* x, int n, int bits, bool symmetric) {
  const int maxq = (1 << bits) - 1;
  float xmin = 0, xmax = 0;
  for (int j = 0; j < n; ++j) {
    xmin = std::min(xmin, x[j]);
    xmax = std::max(xmax, x[j]);
  }
  if (symmetric) {
    xmax = std::max(-xmin, xmax);
    xmin = -xmax;
  }
  if (xmin == 0 && xmax == 0) {
    xmin = -1;
    xmax = 1;
  }
  const float scale = (xmax - xmin) / static_cast<float>(maxq);
  const int zero = symmetric ? (maxq + 1) / 2 : qsearch::NearestInt(-xmin / scale);
  GroupGrid g;
  g.rule = RoundRule::kNearestDiv;
  g.inv = scale;
  g.lo = static_cast<int16_t>(-zero);
  g.hi = static_cast<int16_t>(maxq - zero);
  g.shift = g.zero = static_cast<int16_t>(zero);
  g.scale = scale;
  return g;
}

}  // namespace shardq::grid
