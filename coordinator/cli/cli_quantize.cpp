#include <cmath>
#include <cstdio>
#include <memory>

#include "common/stop_request.h"
#include "coordinator/cli/cli_commands.h"
#include "coordinator/cli/cli_option_checks.h"
#include "coordinator/job/progress_bar.h"
#include "coordinator/job/quantize_job.h"
#include "kernels/block_format.h"

namespace shardq {
namespace {

struct QuantizeFlags {
  std::string model, out, type = "Q4_K_M", output_tensor_type, token_embedding_type, imatrix;
  std::string algorithm = "rtn", calib_text;
  int64_t samples = 32, seq_len = 128;
  double gptq_damp = 0.01;
  double target_bpw = 0;
  uint64_t target_size = 0;
  bool act_order = false;
  const CLI::Option* gptq_damp_opt = nullptr;
  const CLI::Option* act_order_opt = nullptr;
  std::vector<std::string> tensor_types;
  bool pure = false, quiet = false;
  int threads = 0;
  const CLI::Option* algorithm_opt = nullptr;
  const CLI::Option* samples_opt = nullptr;
  const CLI::Option* seq_len_opt = nullptr;
};

Result<QuantizeJobOptions> ToJobOptions(const QuantizeFlags& f) {
  QuantizeJobOptions o;
  o.model_path = f.model;
  o.output_path = f.out;
  o.threads = f.threads;
  o.imatrix_path = f.imatrix;
  QuantPlanOptions& plan = o.recipe.quant;
  auto preset = FindPreset(f.type);
  if (!preset)
    return Status::InvalidArgument("--type '" + f.type + "': unknown preset; choose one of " + PresetNames());
  plan.preset = *preset;
  plan.pure = f.pure;
  for (const auto& arg : f.tensor_types) {
    SHARDQ_ASSIGN_OR_RETURN(TensorTypeOverride ov, ParseTensorTypeOverride(arg));
    plan.overrides.push_back(std::move(ov));
  }
  if (!f.output_tensor_type.empty()) {
    SHARDQ_ASSIGN_OR_RETURN(GgmlType t, ParseEncodableType(f.output_tensor_type, "--output-tensor-type"));
    plan.output_tensor_type = t;
  }
  if (!f.token_embedding_type.empty()) {
    SHARDQ_ASSIGN_OR_RETURN(GgmlType t, ParseEncodableType(f.token_embedding_type, "--token-embedding-type"));
    plan.token_embedding_type = t;
  }
  const std::optional<Algorithm> algorithm = ParseAlgorithm(f.algorithm);
  if (!algorithm)
    return Status::InvalidArgument("--algorithm '" + f.algorithm + "': unknown; choose one of " + AlgorithmNames());
  o.recipe.algorithm = *algorithm;
  // Before the rtn and --imatrix returns below, which would otherwise drop them unread.
  if (!o.recipe.UsesGptq() && (f.gptq_damp_opt->count() > 0 || f.act_order_opt->count() > 0))
    return Status::InvalidArgument("--gptq-damp, --act-order: only with --algorithm gptq or awq+gptq");
  SHARDQ_RETURN_IF_ERROR(CheckAtLeast("--samples", f.samples, 1));
  SHARDQ_RETURN_IF_ERROR(CheckAtLeast("--seq-len", f.seq_len, 2));
  if (f.target_bpw != 0 || f.target_size != 0) {
    if (f.target_bpw != 0 && f.target_size != 0)
      return Status::InvalidArgument("--target-bpw and --target-size exclude each other");
    if (f.target_bpw != 0 && !(f.target_bpw > 1 && f.target_bpw <= 32))
      return Status::InvalidArgument("--target-bpw " + std::to_string(f.target_bpw) + ": must be in (1, 32]");
    if (o.recipe.algorithm == Algorithm::kRtn || !f.imatrix.empty())
      return Status::InvalidArgument("--target-bpw/--target-size: the sensitivity is measured on calibration text; "
                                     "use a calibrating --algorithm (imatrix, gptq, awq, awq+gptq) with --calib-text");
    o.recipe.size_target = SizeTarget{f.target_bpw, f.target_size};
  }
  const bool calibration_flags = !f.calib_text.empty() || f.samples_opt->count() > 0 || f.seq_len_opt->count() > 0;
  if (!f.imatrix.empty()) {
    // Statistics from a file are the imatrix algorithm, computed elsewhere.
    if (f.algorithm_opt->count() > 0 && o.recipe.algorithm != Algorithm::kImatrix)
      return Status::InvalidArgument("--imatrix: statistics from a file go with --algorithm imatrix, not " + f.algorithm);
    if (calibration_flags)
      return Status::InvalidArgument("--imatrix: statistics from a file exclude --calib-text, --samples and --seq-len");
    o.recipe.algorithm = Algorithm::kRtn;  // the file's statistics weight it (RunQuantizeJob)
    return o;
  }
  if (o.recipe.algorithm == Algorithm::kRtn) {
    if (calibration_flags)
      return Status::InvalidArgument("--calib-text, --samples, --seq-len: --algorithm rtn does not calibrate");
    return o;
  }
  if (f.calib_text.empty())
    return Status::InvalidArgument("--algorithm " + f.algorithm + " needs --calib-text FILE (or --imatrix FILE)");
  o.recipe.calibration = CalibrationOptions{f.calib_text, f.samples, f.seq_len, /*hessian=*/false};
  if (o.recipe.UsesGptq()) {
    if (!(f.gptq_damp >= 0 && f.gptq_damp <= 1))
      return Status::InvalidArgument("--gptq-damp " + std::to_string(f.gptq_damp) + ": must be in [0, 1]");
    o.recipe.gptq.damp = f.gptq_damp;
    o.recipe.gptq.act_order = f.act_order;
  }
  plan.has_imatrix = o.recipe.UsesImportance();
  return o;
}

std::string FormatSqnr(double db) {
  if (std::isinf(db)) return db > 0 ? "exact" : "-inf";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f", db);
  return buf;
}

void PrintTable(const QuantizeReport& r) {
  std::printf("%-28s %-11s %-6s %6s %10s %9s %10s %8s\n", "tensor", "shape", "type", "bpw", "RMSE",
              "SQNR dB", "max|err|", "rel.RMSE");
  for (const auto& t : r.tensors) {
    const double bpw = 8.0 * t.bytes / t.n_elements;
    // Only say why a tensor is not plain preset (mix, fallback, override) or was importance-weighted.
    std::string note = t.reason == "preset" || t.reason == "kept (1-D)" ? "" : t.reason;
    if (t.weighted) note += note.empty() ? "imatrix" : ", imatrix";
    std::printf("%-28s %-11s %-6s %6.3f %10.3e %9s %10.3e %8.5f%s%s\n", t.name.c_str(), t.shape.c_str(),
                GgmlTypeName(t.type), bpw, t.error.rmse(), FormatSqnr(t.error.sqnr_db()).c_str(),
                t.error.max_abs_err, t.error.relative_rmse(), note.empty() ? "" : "  ", note.c_str());
  }
  const double mb_in = r.input_f32_bytes / 1e6, mb_out = r.output_bytes / 1e6;
  std::printf("total: %zu tensors, %.3f M weights, %.2f MB (F32) -> %.2f MB, %.3f bits/weight, %.2f s, %.1f MB/s\n",
              r.tensors.size(), r.weights / 1e6, mb_in, mb_out, 8.0 * r.output_bytes / r.weights,
              r.seconds, r.seconds > 0 ? mb_in / r.seconds : 0.0);
  // On its own: the fsync waits for the disk, what the rest of the total measures does not.
  std::printf("fsync of the output (in the total): %.2f s\n", r.sync_seconds);
  // Whether the pipeline itself stalled: a compute thread that never waits keeps its core busy.
  std::printf("stream stalls: compute threads waited %.2f s for the writer, the writer %.2f s for items\n",
              r.compute_wait_seconds, r.writer_wait_seconds);
  std::printf("output: %s\n", r.output_path.c_str());
}

int Run(const QuantizeFlags& flags) {
  Result<QuantizeJobOptions> opts = ToJobOptions(flags);
  if (!opts.ok()) {
    std::fprintf(stderr, "shardq quantize: %s\n", opts.status().message().c_str());
    return 2;
  }
  InstallStopSignalHandlers();
  ProgressBar bar(!flags.quiet && ProgressBar::StderrIsTerminal());
  Result<QuantizeReport> report = RunQuantizeJob(
      *opts, [&](size_t i, size_t n, const std::string& name) { bar.Update(i, n, name); });
  bar.Finish();
  if (!report.ok()) {
    std::fprintf(stderr, "shardq quantize: %s\n", report.status().message().c_str());
    if (report.status().code() == Status::Code::kCancelled && StopSignal() != 0) return 128 + StopSignal();
    return 1;
  }
  if (!flags.quiet) PrintTable(*report);
  if (!flags.quiet && report->mixed_planned_bytes > 0)
    std::printf("mixed precision: types chosen by measured sensitivity in %.1f s for a %llu-byte file "
                "(predicted KL sum %.6f)\n",
                report->mixed_seconds, (unsigned long long)report->mixed_planned_bytes, report->mixed_predicted_kl);
  return 0;
}

}  // namespace

void AddQuantizeCommand(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<QuantizeFlags>();
  CLI::App* cmd = app.add_subcommand("quantize", "Quantize a model to a GGUF file llama.cpp loads");
  cmd->add_option("--model,-m", flags->model,
                  "HF folder (config.json + safetensors), .gguf, or llama2.c .bin")->required();
  cmd->add_option("--out,-o", flags->out, "output .gguf path")->required();
  cmd->add_option("--type,-t", flags->type, "preset: " + PresetNames())->capture_default_str();
  cmd->add_option("--threads", flags->threads, "worker threads (default: all cores)");
  cmd->add_flag("--pure", flags->pure, "no per-tensor mixing: every 2-D weight gets the preset's type");
  cmd->add_option("--tensor-type", flags->tensor_types,
                  "REGEX=TYPE: tensors whose name matches REGEX get TYPE (repeatable; first match wins)");
  cmd->add_option("--output-tensor-type", flags->output_tensor_type, "type of output.weight");
  cmd->add_option("--token-embedding-type", flags->token_embedding_type, "type of token_embd.weight");
  cmd->add_option("--imatrix", flags->imatrix,
                  "calibration statistics from `shardq calibrate`: weight each tensor's error by its input's mean x^2");
  flags->algorithm_opt = cmd->add_option("--algorithm", flags->algorithm,
                  "how to round: " + AlgorithmNames() + " (all but rtn calibrate on --calib-text)")->capture_default_str();
  cmd->add_option("--calib-text", flags->calib_text, "calibration text: the model runs over it to weigh its weights");
  flags->samples_opt = cmd->add_option("--samples", flags->samples, "calibration windows taken from --calib-text")
                           ->capture_default_str();
  flags->seq_len_opt = cmd->add_option("--seq-len", flags->seq_len, "tokens per calibration window")
                           ->capture_default_str();
  cmd->add_option("--target-bpw", flags->target_bpw,
                  "mixed precision: choose each tensor's type by measured sensitivity so the file has this many "
                  "bits per weight");
  cmd->add_option("--target-size", flags->target_size,
                  "mixed precision: the same, for a file of at most this many bytes");
  flags->gptq_damp_opt = cmd->add_option("--gptq-damp", flags->gptq_damp,
                                         "GPTQ: added to the Hessian's diagonal, as a fraction of its mean")
                             ->capture_default_str();
  flags->act_order_opt = cmd->add_flag("--act-order", flags->act_order,
                                       "GPTQ: columns in order of descending activation energy");
  cmd->add_flag("--quiet,-q", flags->quiet, "no progress bar, no table");
  cmd->callback([flags, exit_code] { *exit_code = Run(*flags); });
}

}  // namespace shardq
