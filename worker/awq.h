// AWQ (Lin et al. 2023) for one transformer block, as a unit stage: given the
// block's F32 weights, its input hidden states on calibration windows and the
// format each linear will be stored in, it searches per-input-channel scales
// for each group of linears sharing an input, folds them into the block (the
// result is an ordinary Llama block), then searches a clipping ratio per block
// of weights. The transformed F32 weights then go to the ordinary quantizer.
// No files, no transport: the caller owns where the activations come from.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/model.h"
#include "common/status.h"
#include "kernels/ggml_type.h"
#include "worker/block_weights_f32.h"

namespace shardq {

// The format each linear will be quantized to (the plan's choice, fallbacks
// applied). F32/F16/BF16: stored unquantized, so it adds no error (its columns
// are still scaled with its group).
struct AwqTargets {
  GgmlType wq = GgmlType::F32, wk = GgmlType::F32, wv = GgmlType::F32, wo = GgmlType::F32;
  GgmlType w_gate = GgmlType::F32, w_up = GgmlType::F32, w_down = GgmlType::F32;
  static AwqTargets All(GgmlType type) { return {type, type, type, type, type, type, type}; }
};

struct AwqOptions {
  // alpha in {0, 1/alpha_grid, ..., 1}; alpha 0 (scales 1, plain RTN) is always
  // tried, so the chosen scales never measure worse than RTN on the searched tokens.
  int alpha_grid = 20;
  // In [0, 1]: use this alpha for every group instead of searching (< 0: search).
  double fixed_alpha = -1;
  // Scale attn_output's input. Under GQA its scales are tied (the mean |x| is
  // averaged over the heads that share a kv head) so that 1/s folds into attn_v's
  // rows; false leaves the group alone.
  bool scale_attn_output = true;
  // Clipping search after scaling, per row and block of the target format.
  bool clip_search = true;
  // attn_q/k are not clipped by default: their errors are amplified through
  // softmax(QK^T), which the per-linear output error does not see (AWQ's code
  // skips them for the same reason).
  bool clip_qk = false;
  int clip_grid = 20;          // ratios 1, 1 - 1/clip_grid, ... down to clip_min_ratio
  double clip_min_ratio = 0.5;
  // Tokens the searches measure: at most this many, evenly strided over all
  // windows (the forward itself always runs every token of every window).
  int64_t max_tokens = 4096;
  int n_threads = 1;  // rows quantized in parallel; <= 0: every core. Results do not depend on it.
};

struct AwqGroupReport {
  std::string name;      // attn_qkv, attn_output, ffn_gate_up, ffn_down
  bool scaled = false;   // false: disabled, or no linear of the group is quantized
  double alpha = 0;      // chosen
  double rtn_error = 0;  // output error sum over the group's linears at alpha 0 (plain RTN)
  double error = 0;      // at the chosen alpha (before clipping)
  std::vector<float> scales;
};

struct AwqClipReport {
  std::string linear;        // attn_v, ffn_down, ...
  double error_before = 0;   // block-local output error, unclipped (after scaling)
  double error_after = 0;
  double mean_ratio = 1;
};

struct AwqReport {
  int64_t tokens = 0;  // tokens the searches measured
  std::vector<AwqGroupReport> groups;
  std::vector<AwqClipReport> clips;
};

// `block_input`: n_windows windows of seq_len hidden states (config.dim values
// each; positions 0 .. seq_len - 1 in every window), the block's input from the
// previous stage. `w` is replaced by the scaled, folded and clipped weights.
// Errors (nothing changed): shapes that do not match config, no activations, a
// target format that cannot encode or whose block size does not divide a row.
Status AwqBlock(const LlamaConfig& config, std::span<const float> block_input, int64_t n_windows, int64_t seq_len,
                const AwqTargets& targets, const AwqOptions& options, BlockWeightsF32* w, AwqReport* report);

}  // namespace shardq
