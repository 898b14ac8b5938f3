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

// ---- where each format keeps its codes ------------------------------------------
// Codes are the stored levels: 0..15 (Q4, IQ4_NL index), 0..31 (Q5), -127..127
// (Q8_0), 0..3 (Q2_K), 0..7 (Q3_K, low 2 bits + high bit), 0..63 (Q6_K),
// 0..2 (ternary trits).

// Q4_0/Q4_1/IQ4_NL and the low nibbles of Q5_0/Q5_1: value j in qs[j % 16], nibble j / 16.
void PutNibbles32(const int16_t* c, uint8_t* qs) {
  for (int j = 0; j < 16; ++j) qs[j] = static_cast<uint8_t>((c[j] & 0xF) | ((c[j + 16] & 0xF) << 4));
}
void GetNibbles32(const uint8_t* qs, int8_t* c) {
  for (int j = 0; j < 16; ++j) {
    c[j] = static_cast<int8_t>(qs[j] & 0xF);
    c[j + 16] = static_cast<int8_t>(qs[j] >> 4);
  }
}
// Bit 4 of Q5 value j in bit j of qh (little-endian uint32).
void PutQh32(const int16_t* c, uint8_t* qh_bytes) {
  uint32_t qh = 0;
  for (int j = 0; j < 32; ++j) qh |= static_cast<uint32_t>((c[j] >> 4) & 1) << j;
  std::memcpy(qh_bytes, &qh, 4);
}
void AddQh32(const uint8_t* qh_bytes, int8_t* c) {
  uint32_t qh;
  std::memcpy(&qh, qh_bytes, 4);
  for (int j = 0; j < 32; ++j) c[j] = static_cast<int8_t>(c[j] | (((qh >> j) & 1) << 4));
}

// 2-bit fields of the K-quants (Q2_K levels, Q3_K low bits): value p of a
// 256-block in byte 32 * (p / 128) + p % 32, bits 2 * ((p % 128) / 32).
inline int Pos2Bit(int p, int* shift) {
  *shift = 2 * ((p % 128) / 32);
  return 32 * (p / 128) + p % 32;
}
// Q4_K/Q5_K low nibbles: value p in byte 32 * (p / 64) + p % 32, high nibble if (p % 64) >= 32.
inline int Pos4Bit(int p, int* shift) {
  *shift = 4 * ((p % 64) / 32);
  return 32 * (p / 64) + p % 32;
}

// TQ1_0's trits: 5 per byte (base 3, first trit most significant, scaled to
// 0..255), qs[0..31] for values m + 32 t, qs[32..47] for 160 + m + 16 t,
// qh[0..3] (4 trits and a zero) for 240 + j + 4 t. Same walk both ways.
template <class Visit>
void WalkTQ1(Visit visit) {
  for (int m = 0; m < 32; ++m) visit(m, 5, [m](int t) { return m + 32 * t; });
  for (int m = 0; m < 16; ++m) visit(32 + m, 5, [m](int t) { return 160 + m + 16 * t; });
  for (int j = 0; j < 4; ++j) visit(48 + j, 4, [j](int t) { return 240 + j + 4 * t; });
}
constexpr uint8_t kPow3[6] = {1, 3, 9, 27, 81, 243};

void PackTQ1(const int16_t* c, uint8_t* bytes) {  // bytes: qs (48) then qh (4), contiguous
  WalkTQ1([&](int byte, int n, auto pos) {
    uint16_t q = 0;
    for (int t = 0; t < n; ++t) q = static_cast<uint16_t>(q * 3 + c[pos(t)]);
    if (n == 4) q = static_cast<uint16_t>(q * 3);
    bytes[byte] = static_cast<uint8_t>((q * 256 + 242) / 243);
  });
}
void UnpackTQ1(const uint8_t* bytes, int8_t* c) {
  WalkTQ1([&](int byte, int n, auto pos) {
    for (int t = 0; t < n; ++t) {
      const uint8_t q = static_cast<uint8_t>(bytes[byte] * kPow3[t]);
      c[pos(t)] = static_cast<int8_t>((static_cast<uint16_t>(q) * 3) >> 8);
    }
  });
}

// Reads the codes of an encoded block (the fit codes kFixed groups keep).
void UnpackCodes(GgmlType type, const uint8_t* b, int8_t* c) {
  int shift = 0;
  switch (type) {
    case GgmlType::Q4_0: GetNibbles32(reinterpret_cast<const BlockQ4_0*>(b)->qs, c); break;
    case GgmlType::IQ4_NL: GetNibbles32(reinterpret_cast<const BlockIQ4_NL*>(b)->qs, c); break;
    case GgmlType::Q4_1: GetNibbles32(reinterpret_cast<const BlockQ4_1*>(b)->qs, c); break;
    case GgmlType::Q5_0: {
      const auto* y = reinterpret_cast<const BlockQ5_0*>(b);
      GetNibbles32(y->qs, c);
      AddQh32(y->qh, c);
      break;
    }
    case GgmlType::Q5_1: {
      const auto* y = reinterpret_cast<const BlockQ5_1*>(b);
      GetNibbles32(y->qs, c);
      AddQh32(y->qh, c);
      break;
    }
    case GgmlType::Q8_0:
      for (int j = 0; j < 32; ++j) c[j] = reinterpret_cast<const BlockQ8_0*>(b)->qs[j];
      break;
    case GgmlType::Q2_K: {
      const auto* y = reinterpret_cast<const BlockQ2_K*>(b);
      for (int p = 0; p < 256; ++p) {
        const int at = Pos2Bit(p, &shift);
        c[p] = static_cast<int8_t>((y->qs[at] >> shift) & 3);
      }
      break;
    }
    case GgmlType::Q3_K: {
      const auto* y = reinterpret_cast<const BlockQ3_K*>(b);
      for (int p = 0; p < 256; ++p) {
        const int at = Pos2Bit(p, &shift);
        const int hbit = (y->hmask[p % 32] >> (p / 32)) & 1;
        c[p] = static_cast<int8_t>(((y->qs[at] >> shift) & 3) | (hbit << 2));
      }
      break;
    }
    case GgmlType::Q4_K: {
      const auto* y = reinterpret_cast<const BlockQ4_K*>(b);
      for (int p = 0; p < 256; ++p) {
        const int at = Pos4Bit(p, &shift);
        c[p] = static_cast<int8_t>((y->qs[at] >> shift) & 0xF);
      }
      break;
    }
    case GgmlType::Q5_K: {
      const auto* y = reinterpret_cast<const BlockQ5_K*>(b);
      for (int p = 0; p < 256; ++p) {
        const int at = Pos4Bit(p, &shift);
        const int hbit = (y->qh[p % 32] >> (2 * (p / 64) + (p % 64) / 32)) & 1;
        c[p] = static_cast<int8_t>(((y->qs[at] >> shift) & 0xF) | (hbit << 4));
      }
      break;
    }
    case GgmlType::Q6_K: {
      const auto* y = reinterpret_cast<const BlockQ6_K*>(b);
      for (int p = 0; p < 256; ++p) {
        const int h = p / 128, k = (p % 128) / 32, l = p % 32;
        const int low = (y->ql[64 * h + l + 32 * (k & 1)] >> (4 * (k >> 1))) & 0xF;
        const int high = (y->qh[32 * h + l] >> (2 * k)) & 3;
        c[p] = static_cast<int8_t>(low | (high << 4));
      }
      break;
    }
    case GgmlType::TQ1_0: UnpackTQ1(b, c); break;
    case GgmlType::TQ2_0: {
      const auto* y = reinterpret_cast<const BlockTQ2_0*>(b);
      for (int p = 0; p < 256; ++p) {
        const int at = Pos2Bit(p, &shift);
        c[p] = static_cast<int8_t>((y->qs[at] >> shift) & 3);
      }
      break;
    }
    default: break;
  }
}

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

float SignedAbsMax(const float* x, int n) {  // first value of largest magnitude
  float amax = 0, max = 0;
  for (int j = 0; j < n; ++j) {
    if (amax < std::fabs(x[j])) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  return max;
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
    const float d = SignedAbsMax(x, 32) / static_cast<float>(-nmax);
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
  UnpackCodes(s.type, bytes, fit_codes);
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

void PackCodes(const GridShape& s, const int16_t* c, uint8_t* b) {
  int shift = 0;
  switch (s.type) {
    case GgmlType::Q4_0: PutNibbles32(c, reinterpret_cast<BlockQ4_0*>(b)->qs); break;
    case GgmlType::IQ4_NL: PutNibbles32(c, reinterpret_cast<BlockIQ4_NL*>(b)->qs); break;
    case GgmlType::Q4_1: PutNibbles32(c, reinterpret_cast<BlockQ4_1*>(b)->qs); break;
    case GgmlType::Q5_0: {
      auto* y = reinterpret_cast<BlockQ5_0*>(b);
      PutNibbles32(c, y->qs);
      PutQh32(c, y->qh);
      break;
    }
    case GgmlType::Q5_1: {
      auto* y = reinterpret_cast<BlockQ5_1*>(b);
      PutNibbles32(c, y->qs);
      PutQh32(c, y->qh);
      break;
    }
    case GgmlType::Q8_0:
      for (int j = 0; j < 32; ++j) reinterpret_cast<BlockQ8_0*>(b)->qs[j] = static_cast<int8_t>(c[j]);
      break;
    case GgmlType::Q2_K:
    case GgmlType::TQ2_0: {
      uint8_t* qs = s.type == GgmlType::Q2_K ? reinterpret_cast<BlockQ2_K*>(b)->qs : reinterpret_cast<BlockTQ2_0*>(b)->qs;
      std::memset(qs, 0, 64);
      for (int p = 0; p < 256; ++p) {
        const int at = Pos2Bit(p, &shift);
        qs[at] = static_cast<uint8_t>(qs[at] | ((c[p] & 3) << shift));
      }
      break;
    }
    case GgmlType::Q3_K: {
      auto* y = reinterpret_cast<BlockQ3_K*>(b);
      std::memset(y->qs, 0, sizeof(y->qs));
      std::memset(y->hmask, 0, sizeof(y->hmask));
      for (int p = 0; p < 256; ++p) {
        const int at = Pos2Bit(p, &shift);
        y->qs[at] = static_cast<uint8_t>(y->qs[at] | ((c[p] & 3) << shift));
        y->hmask[p % 32] = static_cast<uint8_t>(y->hmask[p % 32] | (((c[p] >> 2) & 1) << (p / 32)));
      }
      break;
    }
    case GgmlType::Q4_K:
    case GgmlType::Q5_K: {
      uint8_t* qs = s.type == GgmlType::Q4_K ? reinterpret_cast<BlockQ4_K*>(b)->qs : reinterpret_cast<BlockQ5_K*>(b)->qs;
      std::memset(qs, 0, 128);
      for (int p = 0; p < 256; ++p) {
        const int at = Pos4Bit(p, &shift);
        qs[at] = static_cast<uint8_t>(qs[at] | ((c[p] & 0xF) << shift));
      }
      if (s.type == GgmlType::Q5_K) {
        auto* y = reinterpret_cast<BlockQ5_K*>(b);
        std::memset(y->qh, 0, sizeof(y->qh));
        for (int p = 0; p < 256; ++p) {
          y->qh[p % 32] = static_cast<uint8_t>(y->qh[p % 32] | (((c[p] >> 4) & 1) << (2 * (p / 64) + (p % 64) / 32)));
        }
      }
      break;
    }
    case GgmlType::Q6_K: {
      auto* y = reinterpret_cast<BlockQ6_K*>(b);
      std::memset(y->ql, 0, sizeof(y->ql));
      std::memset(y->qh, 0, sizeof(y->qh));
      for (int p = 0; p < 256; ++p) {
        const int h = p / 128, k = (p % 128) / 32, l = p % 32;
        uint8_t& ql = y->ql[64 * h + l + 32 * (k & 1)];
        ql = static_cast<uint8_t>(ql | ((c[p] & 0xF) << (4 * (k >> 1))));
        y->qh[32 * h + l] = static_cast<uint8_t>(y->qh[32 * h + l] | (((c[p] >> 4) & 3) << (2 * k)));
      }
      break;
    }
    case GgmlType::TQ1_0: PackTQ1(c, b); break;
    default: break;
  }
}

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
