// The quantization grid of one ggml block, split into its three steps so that
// GPTQ can interleave them with error feedback: fit the block's parameters
// (scales, mins, K-quant sub-block scales) from its current values, round one
// value at a time onto that fixed grid, and pack the block's bytes at the end.
//
// Contract (tested in tests/unit/test_gptq.cpp): fitting a block, rounding each
// of its values unchanged and packing reproduces the format's own quantize_row
// bytes exactly, with and without importance. To get there the fitters run the
// formats' own searches and keep what the rounding used (the unrounded inverse
// scale, the min the search rounded against), not only the fp16 values stored.
//
// Covered: Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 IQ4_NL Q2_K Q3_K Q4_K Q5_K Q6_K TQ1_0 TQ2_0.
// Not covered: Q8_1 and Q8_K (activation formats, never weight targets) and the
// float types (nothing to round).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "kernels/ggml_type.h"
#include "kernels/quant_search.h"

namespace shardq::grid {

// How a group turns a value into a level l (then clamped to [lo, hi]; code = l + shift).
enum class RoundRule : uint8_t {
  kTruncAffine,  // l = trunc((x - offset) * inv + bias)   legacy reference encoders
  kNearestMul,   // l = NearestInt(inv * (x - offset))      ggml's scale searches
  kNearestDiv,   // l = NearestInt((x + offset) / inv)      K-quants after their scales are set; INTn
  kRoundf,       // l = roundf(x * inv)                     Q8_0
  kLround,       // l = lround(x * inv)                     TQ1_0, TQ2_0
  kNonUniform,   // code = BestIndexInt8(table, inv * x)    IQ4_NL
  kFixed,        // code = the encoder's code at fit time: the group's scale is 0,
                 // so every code decodes to the same value (ggml keeps whatever
                 // its search left there; we keep it too, for the bytes)
};

// One group of values sharing a scale: a legacy block, a K-quant sub-block, a
// ternary super-block or an INTn group. Decoding: scale * level + add, with
// level = code - zero, or table[code]; the same float expression as the
// format's decoder, so GPTQ's errors are against what a reader will see.
struct GroupGrid {
  RoundRule rule = RoundRule::kFixed;
  float inv = 0;
  float offset = 0;
  float bias = 0;
  int16_t lo = 0, hi = 0, shift = 0;
  int16_t zero = 0;
  float scale = 0, add = 0;
  const int8_t* table = nullptr;
};

struct Rounded {
  int16_t code;
  float value;
};

inline Rounded RoundValue(const GroupGrid& g, int8_t fit_code, float x) {
  // Values beyond the range are clamped before the float-to-int steps (which
  // need |v| < 2^22); inside it nothing changes, so fitted values round as the
  // encoder rounds them.
  auto clamp_f = [&](float v) {
    return std::min(static_cast<float>(g.hi) + 1.f, std::max(static_cast<float>(g.lo) - 1.f, v));
  };
  int l = 0;
  switch (g.rule) {
    case RoundRule::kTruncAffine: l = static_cast<int>(clamp_f((x - g.offset) * g.inv + g.bias)); break;
    case RoundRule::kNearestMul: l = qsearch::NearestInt(clamp_f(g.inv * (x - g.offset))); break;
    case RoundRule::kNearestDiv: l = qsearch::NearestInt(clamp_f((x + g.offset) / g.inv)); break;
    case RoundRule::kRoundf: l = static_cast<int>(std::roundf(clamp_f(x * g.inv))); break;
    case RoundRule::kLround: l = static_cast<int>(std::lround(clamp_f(x * g.inv))); break;
    case RoundRule::kNonUniform: {
      const int code = qsearch::BestIndexInt8(16, g.table, g.inv * x);
      return {static_cast<int16_t>(code), g.scale * g.table[code] + g.add};
    }
    case RoundRule::kFixed: {
      const int code = fit_code;
      const float level = g.table ? g.table[code] : static_cast<float>(code - g.zero);
      return {static_cast<int16_t>(code), g.scale * level + g.add};
    }
  }
  l = std::max<int>(g.lo, std::min<int>(g.hi, l));
  const int code = l + g.shift;
  return {static_cast<int16_t>(code), g.scale * static_cast<float>(code - g.zero) + g.add};
}

// The shape of a type's grid; nullptr for types without one.
struct GridShape {
  GgmlType type;
  int block_size;     // values per block (32 or 256)
  int group_size;     // values per GroupGrid (16, 32 or 256)
  int block_bytes;
  bool row_sigma2;    // importance weighting needs the whole row's mean square (legacy Q4_0..Q5_1)
  int groups() const { return block_size / group_size; }
};
const GridShape* FindGridShape(GgmlType type);

// The row-level input some encoders' importance weighting reads (ggml weighs
// the legacy formats' values by the row's mean square): pass the result to
// FitBlock for every block of that row. 0 where the type does not use it.
float RowSigma2(GgmlType type, const float* row, int64_t n);

// Fits one block from its values x (block_size of them). importance: the
// block's slice of the importance vector, or nullptr. Writes shape->groups()
// GroupGrids, block_size fit codes (the encoder's own codes for these values;
// read by kFixed groups) and the block's bytes with their parameters set (the
// code bits are PackCodes's job).
void FitBlock(const GridShape& shape, const float* x, const float* importance, float row_sigma2,
              GroupGrid* groups, int8_t* fit_codes, uint8_t* block_bytes);

// Writes block_size codes (as RoundValue returned them) into a fitted block's
// bytes (block_codes.h knows where each format keeps them).
void PackCodes(const GridShape& shape, const int16_t* codes, uint8_t* block_bytes);

// Group-wise affine INTn (GPTQ's own grid, not a ggml format): bits 2..8,
// codes 0..maxq = 2^bits - 1, value = scale * (code - zero), code =
// clamp(round(x / scale) + zero, 0, maxq). Asymmetric: the range
// [min(x, 0), max(x, 0)] over maxq steps, zero = round(-min / scale), as GPTQ's
// reference does. Symmetric: the range [-max|x|, max|x|], zero = 2^(bits-1)
// (GPTQ's reference keeps min 0 for an all-positive group; we keep it symmetric).
// A group of zeros gets the range [-1, 1], as in GPTQ.
GroupGrid FitIntN(const float* x, int n, int bits, bool symmetric);

}  // namespace shardq::grid
