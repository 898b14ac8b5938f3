#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>

#include "common/hf_tokenizer_json.h"
#include "common/model.h"
#include "coordinator/cli_commands.h"
#include "worker/calibration.h"
#include "worker/llama_weights.h"

namespace shardq {
namespace {

struct CalibrateFlags {
  std::string model, text, out;
  int64_t samples = 32, seq_len = 128;
  bool hessian = false, quiet = false;
  int threads = 0;
};

Status Run(const CalibrateFlags& f) {
  std::ifstream in(f.text, std::ios::binary);
  if (!in) return Status::NotFound(f.text + ": cannot open calibration text");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.empty()) return Status::InvalidArgument(f.text + ": calibration text is empty");
  SHARDQ_ASSIGN_OR_RETURN(Model model, OpenModel(f.model));
  SHARDQ_ASSIGN_OR_RETURN(Tokenizer tokenizer, TokenizerForModel(model));
  SHARDQ_ASSIGN_OR_RETURN(auto windows, CalibrationWindows(tokenizer, text, f.samples, f.seq_len, f.text));
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
  cmd->add_option("--samples", f->samples, "number of windows")->capture_default_str();
  cmd->add_option("--seq-len", f->seq_len, "tokens per window (BOS included)")->capture_default_str();
  cmd->add_flag("--hessian", f->hessian, "also accumulate X^T X in float64 (for GPTQ/SparseGPT)");
  cmd->add_option("--threads", f->threads, "threads (default: all cores)");
  cmd->add_flag("--quiet,-q", f->quiet, "print nothing on success");
  cmd->callback([f, exit_code] {
    Status st = Run(*f);
    if (!st.ok()) std::fprintf(stderr, "shardq calibrate: %s\n", st.message().c_str());
    *exit_code = st.ok() ? 0 : 1;
  });
}

}  // namespace shardq
