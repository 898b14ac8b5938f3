// Perplexity as llama.cpp's llama-perplexity computes it, and the KL divergence
// / top-1 agreement of a model against a reference on the same scored positions.
//
// The token stream is the whole text tokenized once with BOS in front. It is cut
// into n_tokens / ctx non-overlapping chunks; each chunk's first token is replaced
// by BOS, and only its second half is scored: the logits at positions
// ctx/2 ... ctx - 2 predict the tokens after them (ctx - 1 - ctx/2 per chunk, the
// count llama.cpp scores). ppl = exp(mean nll).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "common/status.h"
#include "worker/llama_forward.h"

namespace shardq {

struct PerplexityOptions {
  int64_t ctx = 256;
  int32_t bos_id = 1;
  int64_t max_chunks = 0;  // > 0: stop after this many chunks (llama.cpp's --chunks)
};

struct PerplexityResult {
  int64_t n_chunks = 0;
  int64_t n_scored = 0;   // predicted tokens
  double ppl = 0;         // exp(mean nll)
  double ppl_err = 0;     // llama.cpp's "+/-": stddev of nll / sqrt(n - 1), times ppl
  std::vector<double> running_ppl;  // after each chunk (the "[1]x,[2]y" progress)

  // Filled when a reference model was given.
  bool has_reference = false;
  double ref_ppl = 0, ref_ppl_err = 0;
  double kl_mean = 0, kl_mean_err = 0;  // KL(P_ref || P_model), nats per token
  double kl_p99 = 0, kl_max = 0, kl_median = 0;
  double top1_pct = 0, top1_pct_err = 0;  // % positions where both argmaxes agree
  double delta_ppl() const { return ppl - ref_ppl; }
  double delta_ppl_pct() const { return ref_ppl > 0 ? 100.0 * (ppl / ref_ppl - 1.0) : 0; }
};

// tokens: the text's ids with BOS first. reference may be null. progress, if set,
// is called after each chunk with its 1-based index and the running perplexity.
Result<PerplexityResult> EvaluatePerplexity(LlamaForward& model, LlamaForward* reference,
                                            std::span<const int32_t> tokens, const PerplexityOptions& options,
                                            const std::function<void(int64_t, double)>& progress = {});

}  // namespace shardq
