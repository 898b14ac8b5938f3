// One transformer block run in F32 over calibration windows, keeping the input of
// every group of linears that shares one (what AWQ scales) and the block's output.
// It is LlamaForward's own RunLayers on a one-block LlamaWeights, not a second
// forward pass, so what AWQ measures is what inference computes.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "common/model.h"
#include "common/status.h"
#include "worker/block_weights_f32.h"

namespace shardq {

struct BlockRunOptions {
  bool capture_inputs = false;  // fill attn_in .. down_in (else only output)
  // Token indices (window * seq_len + position, ascending) whose inputs are kept;
  // empty: all. A search that measures a subsample need not hold every row.
  std::vector<int64_t> captured_tokens;
  int n_threads = 1;  // LlamaForward's threads; the bits do not depend on it
};

// Input rows are the captured tokens in order; output rows are every token,
// window after window (n_windows * seq_len rows).
struct BlockRunCapture {
  int64_t n_tokens = 0;     // all tokens run
  int64_t n_captured = 0;   // rows of attn_in .. down_in
  std::vector<float> attn_in;   // attn_norm output: input of attn_q/k/v, n x dim
  std::vector<float> attn_mix;  // attention output: input of attn_output, n x dim
  std::vector<float> ffn_in;    // ffn_norm output: input of ffn_gate/up, n x dim
  std::vector<float> down_in;   // silu(gate) * up: input of ffn_down, n x hidden
  std::vector<float> output;    // the block's output hidden states, n x dim
};

// `input` holds n_windows windows of seq_len hidden states (dim values each), each
// window at positions 0 .. seq_len - 1.
Status RunBlockF32(const LlamaConfig& config, const BlockWeightsF32& w, std::span<const float> input,
                   int64_t n_windows, int64_t seq_len, const BlockRunOptions& options, BlockRunCapture* out);

}  // namespace shardq
