#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>

#include "common/hf_tokenizer_json.h"
#include "common/model.h"
#include "coordinator/cli/cli_commands.h"
#include "coordinator/cli/cli_option_checks.h"
#include "worker/calibration.h"
#include "worker/llama_weights.h"

namespace shardq {
namespace {

struct CalibrateFlags {
  std::string model, text, out;
  int64_t samples = 32, seq_len = 128;
  bool hessian = false, quiet = false;
  int threads = 0;
  const CLI::Option* threads_opt = nullptr;
};

// Every numeric option, before any file is opened.
Status CheckFlags(const CalibrateFlags& f) {
  SHARDQ_RETURN_IF_ERROR(CheckThreads(f.threads_opt, f.threads));
  SHARDQ_RETURN_IF_ERROR(CheckAtLeast("--samples", f.samples, 1));
  SHARDQ_RETURN_IF_ERROR(CheckAtLeast("--seq-len", f.seq_len, 2));
  return Status::OK();
}

Status Run(const CalibrateFlags& f) {
  std::ifstream in(f.text, std::ios::binary);
  if (!in) return Status::NotFound(f.text + ": cannot open calibration text");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.empty()) return Status::InvalidArgument(f.text + ": calibration text is empty");
  SHARDQ_ASSIGN_OR_RETURN(Model model, OpenModel(f.model));
  SHARDQ_ASSIGN_OR_RETURN(Tokenizer tokenizer, TokenizerForModel(model));
  SHARDQ_ASSIGN_OR_RETURN(auto windows, CalibrationWindows(tokenizer, text, f.samples, f.seq_len, f.text));
  if (static_cast<int64_t>(windows.size()) < f.samples) {
    // Asked for more than the text holds: say so rather than calibrate on fewer windows.
    const size_t n_tokens = tokenizer.Encode(text, /*add_bos=*/false).size();
    return Status::InvalidArgument(f.text + ": " + std::to_string(n_tokens) + " tokens hold " +
                                   std::to_string(windows.size()) + " windows of --seq-len " +
                                   std::to_string(f.seq_len) + " (BOS + " + std::to_string(f.seq_len - 1) +
                                   " text tokens each), fewer than --samples " + std::to_string(f.samples));
  }
  SHARDQ_ASSIGN_OR_RETURN(std::unique_ptr<LlamaWeights> weights, LlamaWeights::Load(std::move(model)));
  ForwardOptions fo;
  fo.n_threads = f.threads;
  fo.max_context = f.seq_len;
  fo.thread_independent = true;  // the same statistics whatever --threads is (see ForwardOptions)
  LlamaForward forward(*weights, fo);
  CalibrationStats stats;
  SHARDQ_RETURN_IF_ERROR(Calibrate(forward, windows, f.hessian, &stats));
  SHARDQ_RETURN_IF_ERROR(stats.Save(f.out));
  if (!f.quiet) {
    std::printf("calibrated on %zu windows of %lld tokens from %s: %zu linear inputs%s\n", windows.size(),
                (long long)f.seq_len, f.text.c_str(), stats.size(), f.hessian ? " (with Hessians)" : "");
    std::printf("output: %s\n", f.out.c_str());
  }
  return Status::OK();
}

}  // namespace

void AddCalibrateCommand(CLI::App& app, int* exit_code) {
  auto f = std::make_shared<CalibrateFlags>();
  CLI::App* cmd = app.add_subcommand(
      "calibrate", "Gather per-channel statistics of every linear layer's input (for quantize --imatrix)");
  cmd->add_option("--model,-m", f->model, "model (any supported format)")->required();
  cmd->add_option("--text", f->text, "calibration text file")->required();
  cmd->add_option("--out,-o", f->out, "statistics file to write")->required();
  cmd->add_option("--samples", f->samples, "number of windows, >= 1 (the text must hold them all)")
      ->capture_default_str();
  cmd->add_option("--seq-len", f->seq_len, "tokens per window (BOS included), >= 2")->capture_default_str();
  cmd->add_flag("--hessian", f->hessian, "also accumulate X^T X in float64 (for GPTQ/SparseGPT)");
  f->threads_opt = cmd->add_option("--threads", f->threads,
                                   "threads, 1.." + std::to_string(kMaxThreads) + " (default: all cores)");
  cmd->add_flag("--quiet,-q", f->quiet, "print nothing on success");
  cmd->callback([f, exit_code] {
    Status st = CheckFlags(*f);
    if (st.ok()) st = Run(*f);
    if (!st.ok()) std::fprintf(stderr, "shardq calibrate: %s\n", st.message().c_str());
    *exit_code = st.ok() ? 0 : 1;
  });
}

}  // namespace shardq
