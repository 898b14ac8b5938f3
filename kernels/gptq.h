// GPTQ (Frantar et al. 2022, "Accurate Post-Training Quantization for
// Generative Pre-trained Transformers") onto the ggml block formats and onto
// group-wise affine INTn. Pure math: a weight matrix and the layer's Hessian
// in, packed rows (or INTn arrays) out.
//
// W is rows x cols, row-major: a row is one output channel (one ggml row),
// cols the input dimension, the direction ggml blocks run along. H is the
// cols x cols matrix 2 X^T X of the layer's inputs X (double, row-major; only
// its upper triangle is read).
//
// The sweep: damp H (fraction of its mean diagonal), H^-1 through its Cholesky
// factor (LAPACK dpotrf/dpotri), then the upper Cholesky factor U of H^-1.
// Columns are quantized one at a time; when the sweep enters a block (under
// act_order: the first time any column of it comes up) the block's parameters
// are fitted, for every row, from the current error-updated weights, with the
// format's own encoder (kernels/block_grid.h). Each column is rounded on its
// block's grid, err = (w - q) / U_jj goes into the remaining columns of the lazy
// batch at once and into all later columns at the batch's end (one dgemm).
// The working matrix is double by default: the bytes then do not depend on the
// lazy batch size or on summation order, up to ties a double cannot split
// (GptqOptions::precision offers float and sgemm for speed).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/ggml_type.h"

namespace shardq::gptq {

enum class GptqError {
  kOk = 0,
  kUnsupportedType,      // no grid for this type (F32/F16/BF16, Q8_1, Q8_K, ...)
  kBadShape,             // rows/cols not positive, or cols not a multiple of the block/group size
  kBadOptions,           // damp < 0, block_columns < 1, INTn bits outside 2..8, ...
  kNonFinite,            // W, H or the importance holds a NaN or an infinity
  kNotPositiveDefinite,  // H (after dampening) or its inverse failed Cholesky
};
const char* GptqErrorName(GptqError e);

// The working precision of the sweep (the Hessian's factorization is always double).
// kDouble: the bytes equal a column-by-column GPTQ's and do not depend on the
// lazy batch width (tested). kFloat: sgemm updates, about twice dgemm's speed;
// float rounding of the updates moves a few values across rounding boundaries.
enum class SweepPrecision { kDouble, kFloat };

struct GptqOptions {
  // Added to H's diagonal as this fraction of its mean diagonal (GPTQ's percdamp).
  double damp_fraction = 0.01;
  // Lazy batch width: the columns whose updates are applied at once by one gemm.
  int block_columns = 128;
  // Quantize columns by descending diag(H) (the most-activated inputs first);
  // output bytes are in the original column order either way.
  bool act_order = false;
  // Threads that split the rows during the column sweep (0: hardware
  // concurrency). The bytes do not depend on it. The gemm runs on OpenBLAS's own threads.
  int threads = 0;
  SweepPrecision precision = SweepPrecision::kDouble;
};

struct GptqStats {
  double sum_err2 = 0;       // sum over all weights of ((w - q) / U_jj)^2: GPTQ's loss, times 2
  int64_t dead_columns = 0;  // columns with diag(H) == 0: set to 0 (H_ii = 1)
  double damp = 0;           // the value added to every diagonal entry
  double seconds_factor = 0;   // dampening, Cholesky, inverse, Cholesky of the inverse
  double seconds_sweep = 0;    // fitting, rounding and the in-batch updates
  double seconds_update = 0;   // the deferred (gemm) updates
  double update_flops = 0;     // floating-point operations of those gemms (2 m n k each)
};

// Quantizes W to a ggml block type. out: rows * row_bytes bytes (row_bytes =
// cols / block_size * block_bytes), in ggml's layout. importance: cols
// non-negative weights (calibration mean x^2) for the fitters, or nullptr.
// On error, *message (if not null) says what and why, and out is unspecified.
GptqError QuantizeGgml(const float* w, int64_t rows, int64_t cols, const double* h, GgmlType type,
                       const float* importance, const GptqOptions& options, uint8_t* out,
                       GptqStats* stats, std::string* message);

// Group-wise affine INTn (block_grid.h's FitIntN): a group is group_size
// consecutive columns of one row.
struct IntNSpec {
  int bits = 4;            // 2..8
  int group_size = 128;    // divides cols
  bool symmetric = false;
};
struct IntNOutput {
  std::vector<uint8_t> codes;   // rows x cols, original column order; value = scale * (code - zero)
  std::vector<float> scales;    // rows x (cols / group_size)
  std::vector<int32_t> zeros;   // rows x (cols / group_size)
};
GptqError QuantizeIntN(const float* w, int64_t rows, int64_t cols, const double* h, const IntNSpec& spec,
                       const GptqOptions& options, IntNOutput* out, GptqStats* stats, std::string* message);

// tr((W - Q) H (W - Q)^T), H full and symmetric: the layer's output error on
// the calibration inputs (H = 2 X^T X), the quantity GPTQ minimizes. In double.
double ProxyLoss(const float* w, const float* q, int64_t rows, int64_t cols, const double* h);

}  // namespace shardq::gptq
