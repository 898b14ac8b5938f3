// shardq generate: text continuation with the forward pass (greedy at --temp 0).
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "common/model.h"
#include "common/tokenizer.h"
#include "coordinator/cli/cli_commands.h"
#include "coordinator/cli/cli_option_checks.h"
#include "worker/llama_forward.h"
#include "worker/llama_weights.h"
#include "worker/sampling.h"

namespace shardq {
namespace {

struct GenerateFlags {
  std::string model;
  std::string prompt;
  std::string prompt_ids;
  int n_predict = 32;
  double temp = 0.0;
  double top_p = 1.0;
  uint64_t seed = 0;
  int threads = 0;
  bool print_ids = false;
  const CLI::Option* threads_opt = nullptr;
};

std::string Number(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

// Every numeric option, before the model is opened.
Status CheckFlags(const GenerateFlags& f) {
  SHARDQ_RETURN_IF_ERROR(CheckThreads(f.threads_opt, f.threads));
  SHARDQ_RETURN_IF_ERROR(CheckAtLeast("-n", f.n_predict, 1));
  if (!std::isfinite(f.temp) || f.temp < 0)
    return Status::InvalidArgument("--temp " + Number(f.temp) + ": must be >= 0 (0 is greedy)");
  if (!std::isfinite(f.top_p) || f.top_p <= 0 || f.top_p > 1)
    return Status::InvalidArgument("--top-p " + Number(f.top_p) + ": must be in (0, 1] (1 keeps every token)");
  return Status::OK();
}

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

Result<std::vector<int32_t>> ParseIds(const std::string& text, int64_t vocab) {
  std::istringstream in(text);
  std::vector<int32_t> ids;
  std::string word;
  while (in >> word) {
    char* end = nullptr;
    const long long v = std::strtoll(word.c_str(), &end, 10);
    if (*end != '\0' || v < 0 || v >= vocab)
      return Status::InvalidArgument("--prompt-ids: '" + word + "' at position " + std::to_string(ids.size()) +
                                     " is not a token id below " + std::to_string(vocab));
    ids.push_back(static_cast<int32_t>(v));
  }
  return ids;
}

Status Run(const GenerateFlags& f) {
  SHARDQ_ASSIGN_OR_RETURN(Model model, OpenModel(f.model));
  std::unique_ptr<Tokenizer> tokenizer;
  if (model.vocab) tokenizer = std::make_unique<Tokenizer>(*model.vocab);
  const int32_t bos = static_cast<int32_t>(model.config.bos_token_id);
  const int32_t eos = static_cast<int32_t>(model.config.eos_token_id);
  std::vector<int32_t> ids;
  if (!f.prompt_ids.empty()) {
    SHARDQ_ASSIGN_OR_RETURN(ids, ParseIds(f.prompt_ids, model.config.vocab_size));
    if (ids.empty() || ids[0] != bos) ids.insert(ids.begin(), bos);
  } else if (tokenizer) {
    ids = tokenizer->Encode(f.prompt, /*add_bos=*/true);
  } else if (f.prompt.empty()) {
    ids = {bos};
  } else {
    return Status::InvalidArgument(f.model + ": the model has no tokenizer; give the prompt as --prompt-ids");
  }
  // The model was trained on context_length positions (0: unknown): the prompt
  // must fit, and generation stops there (with a warning) rather than run past it.
  const int64_t context_length = model.config.context_length;
  const int64_t n_prompt_ids = static_cast<int64_t>(ids.size());
  if (context_length > 0 && n_prompt_ids > context_length)
    return Status::InvalidArgument("the prompt is " + std::to_string(n_prompt_ids) +
                                   " tokens (BOS included), more than " + f.model + "'s context length of " +
                                   std::to_string(context_length));
  const int64_t max_generate =
      context_length > 0 ? std::min<int64_t>(f.n_predict, context_length - n_prompt_ids) : f.n_predict;
  SHARDQ_ASSIGN_OR_RETURN(auto weights, LlamaWeights::Load(std::move(model)));
  ForwardOptions fo;
  fo.n_threads = f.threads;
  fo.max_context = n_prompt_ids + max_generate;
  fo.thread_independent = true;  // the same continuation for any --threads
  LlamaForward forward(*weights, fo);
  Sampler sampler(SamplingOptions{f.temp, f.top_p, f.seed});

  auto text_of = [&](const std::vector<int32_t>& v) { return tokenizer ? tokenizer->Decode(v) : std::string(); };
  std::string shown = text_of(ids);
  std::fputs(shown.c_str(), stdout);
  std::fflush(stdout);

  const auto t0 = std::chrono::steady_clock::now();
  std::vector<float> logits;
  SHARDQ_RETURN_IF_ERROR(forward.Eval(ids, /*all_logits=*/false, &logits));
  const double prompt_s = Seconds(t0);
  const size_t n_prompt = ids.size();
  const auto t1 = std::chrono::steady_clock::now();
  int64_t generated = 0;
  bool eos_seen = false;
  for (; generated < max_generate; ++generated) {
    const int32_t next = sampler.Sample(logits);
    if (next == eos) {
      eos_seen = true;
      break;
    }
    ids.push_back(next);
    // Decode the whole tail again: a piece's leading space and multi-byte characters
    // depend on their neighbours.
    const std::string text = text_of(ids);
    if (text.size() >= shown.size() && text.compare(0, shown.size(), shown) == 0) {
      std::fputs(text.c_str() + shown.size(), stdout);
      std::fflush(stdout);
      shown = text;
    }
    if (generated + 1 < max_generate) SHARDQ_RETURN_IF_ERROR(forward.Decode(next, &logits));
  }
  std::fputs("\n", stdout);
  const double gen_s = Seconds(t1);
  if (f.print_ids) {
    std::printf("ids:");
    for (int32_t id : ids) std::printf(" %d", id);
    std::printf("\n");
  }
  std::fflush(stdout);  // the text and ids come before the timing line, also through one pipe
  if (!eos_seen && max_generate < f.n_predict)
    std::fprintf(stderr,
                 "shardq generate: warning: stopped at the model's context length of %lld tokens: generated %lld of "
                 "the %d requested after a prompt of %lld\n",
                 static_cast<long long>(context_length), static_cast<long long>(generated), f.n_predict,
                 static_cast<long long>(n_prompt_ids));
  std::fprintf(stderr, "shardq generate: prompt %zu tokens in %.3f s (%.1f tok/s), generated %lld tokens in %.3f s (%.1f tok/s)\n",
               n_prompt, prompt_s, n_prompt / std::max(prompt_s, 1e-9), static_cast<long long>(generated), gen_s,
               generated / std::max(gen_s, 1e-9));
  return Status::OK();
}

}  // namespace

void AddGenerateCommand(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<GenerateFlags>();
  CLI::App* cmd = app.add_subcommand("generate", "continue a prompt with the model (greedy at --temp 0)");
  cmd->add_option("--model,-m", flags->model, "model: HF folder, .gguf or llama2.c .bin")->required();
  cmd->add_option("--prompt,-p", flags->prompt, "prompt text (BOS is added); empty: start from BOS");
  cmd->add_option("--prompt-ids", flags->prompt_ids, "prompt as whitespace-separated token ids (no tokenizer needed)");
  cmd->add_option("-n,--n-predict", flags->n_predict,
                  "tokens to generate, >= 1 (stops early at EOS or at the model's context length)")
      ->capture_default_str();
  cmd->add_option("--temp", flags->temp, "temperature, >= 0; 0 is greedy")->capture_default_str();
  cmd->add_option("--top-p", flags->top_p, "nucleus sampling threshold, in (0, 1]; 1 keeps every token")
      ->capture_default_str();
  cmd->add_option("--seed", flags->seed, "random seed for sampling")->capture_default_str();
  flags->threads_opt = cmd->add_option("--threads", flags->threads,
                                       "threads, 1.." + std::to_string(kMaxThreads) + " (default: all cores)");
  cmd->add_flag("--ids", flags->print_ids, "also print the token ids");
  cmd->callback([flags, exit_code] {
    Status st = CheckFlags(*flags);
    if (st.ok()) st = Run(*flags);
    if (!st.ok()) {
      std::fprintf(stderr, "shardq generate: %s\n", st.message().c_str());
      *exit_code = 1;
    }
  });
}

}  // namespace shardq
