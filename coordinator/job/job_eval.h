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

// The numbers do not depend on `threads` (ForwardOptions::thread_independent),
// so eval.json is the same for any rank or thread count. With show_progress,
// chunks done / total go to stderr (a bar on a terminal, else a line about every
// tenth of the chunks).
Result<PerplexityResult> EvaluateArtifact(const std::string& artifact, const std::string& reference_model,
                                          const EvalSpec& eval, int threads, bool show_progress = true);

// {"text", "ctx", "chunks", "ppl", "ppl_err", "reference_ppl", "delta_ppl_pct", "kl_mean", "kl_p99",
//  "top1_pct"} via AtomicFile.
Status WriteEvalJson(const std::string& path, const EvalSpec& eval, const PerplexityResult& r);

}  // namespace shardq
