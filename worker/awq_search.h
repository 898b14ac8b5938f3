// The numeric pieces of AWQ (Lin et al. 2023, "Activation-aware Weight
// Quantization"): the output error a quantized linear makes on measured inputs,
// the activation-aware per-channel scales, and the search for the clipping ratio
// of each block of weights. Every error is measured through the target format's
// real quantizer (quantize_row then dequantize_row), never a stand-in.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "common/thread_pool.h"
#include "kernels/block_format.h"

namespace shardq {

// The inputs one group of linears reads: n rows (tokens) of cols values.
// The output error of a weight change D is ||X D^T||^2 = sum_r d_r (X^T X) d_r^T;
// whichever of X (n < cols) or X^T X (otherwise) is smaller is used.
class LinearInputs {
 public:
  LinearInputs(const float* x, int64_t n, int64_t cols);
  int64_t n() const { return n_; }
  int64_t cols() const { return cols_; }
  const std::vector<double>& mean_abs() const { return mean_abs_; }
  // sum over rows of ||X d_r||^2 for D = rows x cols values.
  double OutputError(const float* d, int64_t rows) const;
  // The bs x bs diagonal blocks of X^T X (block k: columns [k bs, (k+1) bs)), for
  // the clip search, which scores each block of a row on its own.
  std::vector<float> DiagonalGramBlocks(int64_t bs) const;

 private:
  const float* x_;
  int64_t n_, cols_;
  std::vector<double> mean_abs_;
  std::vector<float> gram_;  // cols x cols, when n >= cols
};

// One linear: rows x cols weights and the format it will be stored in
// (nullptr or an unquantized format: stored exactly, no error).
struct LinearToQuantize {
  const float* w = nullptr;
  int64_t rows = 0;
  const BlockFormat* format = nullptr;
};

// Quantizes each row of w (rows x cols) with `format` and decodes it back into out.
void QuantizeRoundTrip(const BlockFormat& format, const float* w, int64_t rows, int64_t cols, float* out,
                       ThreadPool* pool);

// Sum over the linears of ||X W^T - (X / s) Q(W diag(s))^T||^2: the output error
// when the input channels are divided by s (folded into what produces X) and the
// weight columns multiplied by it, then quantized. s == nullptr: plain RTN.
double ScaledQuantError(std::span<const LinearToQuantize> linears, const LinearInputs& inputs, const float* s,
                        ThreadPool* pool);

// s_j = mean_abs_j ^ alpha, divided by sqrt(max s * min s) so the scales sit
// around 1 (as the AWQ paper's code does); channels never seen (mean 0) get the
// smallest positive mean's scale. alpha == 0 gives exactly 1 everywhere.
std::vector<float> AwqScales(std::span<const double> mean_abs, double alpha);

struct ClipResult {
  double error_before = 0;  // sum over blocks of the block-local output error, unclipped
  double error_after = 0;   // the same with the chosen ratios
  double mean_ratio = 1;    // mean chosen ratio over blocks
};

// For every row and every block of format.block_size weights: clamps the block
// to +-ratio * max|w| for ratio = 1, 1 - 1/grid, ... >= min_ratio, quantizes it
// with the real quantizer, and keeps the ratio whose block-local output error
// d_b H_bb d_b^T (H_bb from LinearInputs::DiagonalGramBlocks, the inputs this
// linear reads after scaling) is least; w is clamped in place to the winners.
// Ratio 1 is always a candidate, so no block gets worse by this measure.
ClipResult ClipSearch(const BlockFormat& format, float* w, int64_t rows, int64_t cols, std::span<const float> h_blocks,
                      int grid, double min_ratio, ThreadPool* pool);

}  // namespace shardq
