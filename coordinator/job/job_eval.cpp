#include "coordinator/job/job_eval.h"

#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "common/atomic_file.h"
#include "common/hf_tokenizer_json.h"
#include "common/model.h"
#include "coordinator/job/eval_progress.h"
#include "worker/llama_forward.h"
#include "worker/llama_weights.h"

namespace shardq {

Result<PerplexityResult> EvaluateArtifact(const std::string& artifact, const std::string& reference_model,
                                          const EvalSpec& eval, int threads, bool show_progress) {
  std::ifstream in(eval.text, std::ios::binary);
  if (!in) return Status::NotFound(eval.text + ": cannot open evaluation text");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.empty()) return Status::InvalidArgument(eval.text + ": evaluation text is empty");
  SHARDQ_ASSIGN_OR_RETURN(Model reference, OpenModel(reference_model));
  // Tokenized as llama.cpp tokenizes (the reference's tokenizer; the artifact carries the same).
  SHARDQ_ASSIGN_OR_RETURN(Tokenizer tokenizer, TokenizerForModel(reference));
  const std::vector<int32_t> tokens = tokenizer.Encode(text, /*add_bos=*/true);
  SHARDQ_ASSIGN_OR_RETURN(Model compressed, OpenModel(artifact));
  SHARDQ_ASSIGN_OR_RETURN(std::unique_ptr<LlamaWeights> ref_w, LlamaWeights::Load(std::move(reference)));
  SHARDQ_ASSIGN_OR_RETURN(std::unique_ptr<LlamaWeights> w, LlamaWeights::Load(std::move(compressed)));
  ForwardOptions fo;
  fo.n_threads = threads;
  fo.max_context = eval.ctx;
  fo.thread_independent = true;  // eval.json must not depend on the thread or rank count
  LlamaForward model(*w, fo), ref(*ref_w, fo);
  PerplexityOptions po;
  po.ctx = eval.ctx;
  po.bos_id = static_cast<int32_t>(tokenizer.vocab().bos_id);
  // The same chunk count EvaluatePerplexity uses (it rejects a text shorter than two chunks).
  EvalProgress progress(show_progress, ProgressBar::StderrIsTerminal(), "shardq: eval");
  if (eval.ctx > 0 && static_cast<int64_t>(tokens.size()) >= 2 * eval.ctx)
    progress.Start(static_cast<int64_t>(tokens.size()) / eval.ctx, eval.ctx);
  Result<PerplexityResult> r =
      EvaluatePerplexity(model, &ref, tokens, po, [&](int64_t chunk, double ppl) { progress.Update(chunk, ppl); });
  progress.Finish();
  if (!r.ok()) return r.status().WithContext(eval.text + ": ");
  return r;
}

Status WriteEvalJson(const std::string& path, const EvalSpec& eval, const PerplexityResult& r) {
  nlohmann::json j = {{"text", eval.text},         {"ctx", eval.ctx},
                      {"chunks", r.n_chunks},      {"scored_tokens", r.n_scored},
                      {"ppl", r.ppl},              {"ppl_err", r.ppl_err},
                      {"reference_ppl", r.ref_ppl}, {"delta_ppl_pct", r.delta_ppl_pct()},
                      {"kl_mean", r.kl_mean},      {"kl_p99", r.kl_p99},
                      {"top1_pct", r.top1_pct}};
  const std::string text = j.dump(2) + "\n";
  SHARDQ_ASSIGN_OR_RETURN(std::unique_ptr<AtomicFile> f, AtomicFile::Create(path));
  SHARDQ_RETURN_IF_ERROR(f->Append(text.data(), text.size()));
  return f->Commit();
}

}  // namespace shardq
