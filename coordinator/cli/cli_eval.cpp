// shardq eval: perplexity exactly as llama-perplexity computes it and, with
// --reference, KL divergence / top-1 agreement / delta perplexity against it.
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/model.h"
#include "common/tokenizer.h"
#include "coordinator/cli/cli_commands.h"
#include "coordinator/cli/cli_option_checks.h"
#include "coordinator/job/eval_progress.h"
#include "worker/llama_forward.h"
#include "worker/llama_weights.h"
#include "worker/perplexity.h"

namespace shardq {
namespace {

struct EvalFlags {
  std::string model, reference, text, tokens;
  int64_t ctx = 256;
  int64_t chunks = 0;
  int threads = 0;
  bool json = false, quiet = false;
  const CLI::Option* threads_opt = nullptr;
  const CLI::Option* chunks_opt = nullptr;
};

// Every numeric option, before any file is opened.
Status CheckFlags(const EvalFlags& f) {
  SHARDQ_RETURN_IF_ERROR(CheckThreads(f.threads_opt, f.threads));
  if (f.ctx < 4 || f.ctx > (int64_t{1} << 20))
    return Status::InvalidArgument("--ctx " + std::to_string(f.ctx) + ": must be 4..1048576 (tokens per chunk)");
  if (f.chunks_opt->count() > 0) SHARDQ_RETURN_IF_ERROR(CheckAtLeast("--chunks", f.chunks, 1));
  return Status::OK();
}

Result<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IOError(path + ": cannot open");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Whitespace-separated ids, the tokenization of a text without BOS (the golden
// *.llama-cpp.ids files); a leading BOS is kept if it is there.
Result<std::vector<int32_t>> ReadTokenFile(const std::string& path, int64_t vocab) {
  SHARDQ_ASSIGN_OR_RETURN(std::string body, ReadWholeFile(path));
  std::istringstream in(body);
  std::vector<int32_t> ids;
  std::string word;
  while (in >> word) {
    char* end = nullptr;
    const long long v = std::strtoll(word.c_str(), &end, 10);
    if (*end != '\0' || end == word.c_str())
      return Status::InvalidArgument(path + ": token " + std::to_string(ids.size()) + " ('" + word +
                                     "') is not an integer");
    if (v < 0 || v >= vocab)
      return Status::InvalidArgument(path + ": token " + std::to_string(ids.size()) + " is id " + word +
                                     ", outside the model's vocabulary of " + std::to_string(vocab));
    ids.push_back(static_cast<int32_t>(v));
  }
  if (ids.empty()) return Status::InvalidArgument(path + ": no token ids");
  return ids;
}

Status Run(const EvalFlags& f) {
  SHARDQ_ASSIGN_OR_RETURN(Model model, OpenModel(f.model));
  const int32_t bos = static_cast<int32_t>(model.config.bos_token_id);
  std::vector<int32_t> tokens;
  std::string source;
  if (!f.tokens.empty()) {
    SHARDQ_ASSIGN_OR_RETURN(tokens, ReadTokenFile(f.tokens, model.config.vocab_size));
    // The same stream the text would give: BOS once in front (as llama-perplexity tokenizes).
    if (tokens[0] != bos) tokens.insert(tokens.begin(), bos);
    source = f.tokens;
  } else {
    SHARDQ_ASSIGN_OR_RETURN(std::string text, ReadWholeFile(f.text));
    if (text.empty()) return Status::InvalidArgument(f.text + ": the text is empty");
    if (!model.vocab)
      return Status::InvalidArgument(f.model + ": the model has no tokenizer; give token ids with --tokens");
    tokens = Tokenizer(*model.vocab).Encode(text, /*add_bos=*/true);
    source = f.text;
  }
  if (static_cast<int64_t>(tokens.size()) < 2 * f.ctx)
    return Status::InvalidArgument(source + ": " + std::to_string(tokens.size()) +
                                   " tokens; perplexity with --ctx " + std::to_string(f.ctx) + " needs at least " +
                                   std::to_string(2 * f.ctx));

  ForwardOptions fo;
  fo.n_threads = f.threads;
  fo.max_context = f.ctx;
  fo.thread_independent = true;  // the same numbers for any --threads (and in a job's eval.json)
  SHARDQ_ASSIGN_OR_RETURN(auto weights, LlamaWeights::Load(std::move(model)));
  LlamaForward forward(*weights, fo);
  std::unique_ptr<LlamaWeights> ref_weights;
  std::unique_ptr<LlamaForward> ref_forward;
  if (!f.reference.empty()) {
    SHARDQ_ASSIGN_OR_RETURN(Model ref_model, OpenModel(f.reference));
    SHARDQ_ASSIGN_OR_RETURN(ref_weights, LlamaWeights::Load(std::move(ref_model)));
    ref_forward = std::make_unique<LlamaForward>(*ref_weights, fo);
  }

  PerplexityOptions po;
  po.ctx = f.ctx;
  po.bos_id = bos;
  po.max_chunks = f.chunks;
  const int64_t n_chunks = f.chunks > 0 ? std::min<int64_t>(f.chunks, tokens.size() / f.ctx)
                                       : static_cast<int64_t>(tokens.size()) / f.ctx;
  if (!f.json)
    std::printf("perplexity: %zu tokens, %lld chunks, n_ctx=%lld\n", tokens.size(), static_cast<long long>(n_chunks),
                static_cast<long long>(f.ctx));
  std::fflush(stdout);
  // Chunks done / total and the running PPL on stderr (nothing with --quiet or --json).
  EvalProgress bar(!f.quiet && !f.json, ProgressBar::StderrIsTerminal(), "shardq eval");
  bar.Start(n_chunks, f.ctx);
  auto result = EvaluatePerplexity(forward, ref_forward.get(), tokens, po,
                                   [&](int64_t chunk, double ppl) { bar.Update(chunk, ppl); });
  bar.Finish();
  if (!result.ok()) return result.status();
  const PerplexityResult& r = *result;
  if (f.json) {
    nlohmann::json j;
    j["model"] = f.model;
    j["source"] = source;
    j["ctx"] = f.ctx;
    j["chunks"] = r.n_chunks;
    j["scored_tokens"] = r.n_scored;
    j["ppl"] = r.ppl;
    j["ppl_err"] = r.ppl_err;
    if (r.has_reference) {
      j["reference"] = f.reference;
      j["reference_ppl"] = r.ref_ppl;
      j["reference_ppl_err"] = r.ref_ppl_err;
      j["delta_ppl"] = r.delta_ppl();
      j["delta_ppl_pct"] = r.delta_ppl_pct();
      j["kl_mean"] = r.kl_mean;
      j["kl_mean_err"] = r.kl_mean_err;
      j["kl_median"] = r.kl_median;
      j["kl_p99"] = r.kl_p99;
      j["kl_max"] = r.kl_max;
      j["top1_agreement_pct"] = r.top1_pct;
      j["top1_agreement_pct_err"] = r.top1_pct_err;
    }
    std::printf("%s\n", j.dump(2).c_str());
    return Status::OK();
  }
  std::printf("Final estimate: PPL = %.4f +/- %.5f\n", r.ppl, r.ppl_err);
  if (r.has_reference) {
    std::printf("Reference PPL  = %.4f +/- %.5f\n", r.ref_ppl, r.ref_ppl_err);
    std::printf("Delta PPL      = %.4f (%+.3f%%)\n", r.delta_ppl(), r.delta_ppl_pct());
    std::printf("Mean    KLD: %10.6f +/- %10.6f\n", r.kl_mean, r.kl_mean_err);
    std::printf("Median  KLD: %10.6f\n", r.kl_median);
    std::printf("99.0%%   KLD: %10.6f\n", r.kl_p99);
    std::printf("Maximum KLD: %10.6f\n", r.kl_max);
    std::printf("Same top p: %7.3f +/- %6.3f %%\n", r.top1_pct, r.top1_pct_err);
  }
  return Status::OK();
}

}  // namespace

void AddEvalCommand(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<EvalFlags>();
  CLI::App* cmd = app.add_subcommand("eval", "perplexity (as llama-perplexity), KL and top-1 vs a reference");
  cmd->add_option("--model,-m", flags->model, "model to evaluate")->required();
  cmd->add_option("--reference", flags->reference, "full-precision model to compare against");
  auto* text = cmd->add_option("--text,-f", flags->text, "text file (tokenized with BOS, as llama.cpp does)");
  auto* toks = cmd->add_option("--tokens", flags->tokens, "whitespace-separated token ids instead of text");
  text->excludes(toks);
  toks->excludes(text);
  cmd->add_option("--ctx,-c", flags->ctx, "chunk length")->capture_default_str();
  flags->chunks_opt = cmd->add_option("--chunks", flags->chunks, "evaluate at most this many chunks, >= 1 (default: all)");
  flags->threads_opt = cmd->add_option("--threads", flags->threads,
                                       "threads, 1.." + std::to_string(kMaxThreads) +
                                           " (default: all cores; results are the same for any count)");
  cmd->add_flag("--json", flags->json, "print the result as JSON (and no progress)");
  cmd->add_flag("--quiet,-q", flags->quiet, "no progress on stderr");
  cmd->callback([flags, exit_code] {
    Status st = CheckFlags(*flags);
    if (st.ok())
      st = flags->text.empty() && flags->tokens.empty()
               ? Status::InvalidArgument("give the text with --text FILE or ids with --tokens FILE")
               : Run(*flags);
    if (!st.ok()) {
      std::fprintf(stderr, "shardq eval: %s\n", st.message().c_str());
      *exit_code = 1;
    }
  });
}

}  // namespace shardq
