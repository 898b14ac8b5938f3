// The optional last stage of a job (DESIGN.md, step 5): the compressed artifact
// against the original model on held-out text — perplexity as llama-perplexity
// computes it, mean/p99 KL divergence of the next-token distributions, top-1
// agreement, Δppl — written beside the artifact as OUT.eval.json.
#pragma once

#include <string>

#include "common/job_spec.h"
#include "common/status.h"
#include "worker/perplexity.h"

namespace shardq {

Result<PerplexityResult> EvaluateArtifact(const std::string& artifact, const std::string& reference_model,
                                          const EvalSpec& eval, int threads);

// {"text", "ctx", "chunks", "ppl", "ppl_err", "reference_ppl", "delta_ppl_pct", "kl_mean", "kl_p99",
//  "top1_pct"} via AtomicFile.
Status WriteEvalJson(const std::string& path, const EvalSpec& eval, const PerplexityResult& r);

}  // namespace shardq
