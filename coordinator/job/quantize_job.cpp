#include "coordinator/job/quantize_job.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include "common/fault_injection.h"
#include "common/file_identity.h"
#include "common/gguf_writer.h"
#include "common/model.h"
#include "common/output_dir.h"
#include "common/output_lock.h"
#include "common/stop_request.h"
#include "common/tensor_order.h"
#include "common/thread_pool.h"
#include "coordinator/artifact/output_metadata.h"
#include "coordinator/job/job_validation.h"
#include "coordinator/job/mixed_precision_plan.h"
#include "kernels/block_format.h"
#include "runtime/local_stage_runner.h"
#include "worker/calibration_stats.h"
#include "worker/llama_rank_stages.h"
#include "worker/unit_compressor.h"

namespace shardq {

Result<QuantizeReport> RunQuantizeJob(const QuantizeJobOptions& options, const ProgressFn& progress) {
  const auto start = std::chrono::steady_clock::now();
  if (options.output_path.empty()) return Status::InvalidArgument("--out: no output path given");
  SHARDQ_RETURN_IF_ERROR(ValidateThreadCount(options.threads));
  SHARDQ_RETURN_IF_ERROR(PrepareOutputDirectory(options.output_path));
  SHARDQ_ASSIGN_OR_RETURN(Model model, OpenModel(options.model_path));
  std::vector<LabelledPath> inputs;
  for (const std::string& f : model.InputFiles()) inputs.push_back({f, "model file"});
  if (!options.imatrix_path.empty()) inputs.push_back({options.imatrix_path, "--imatrix file"});
  SHARDQ_RETURN_IF_ERROR(CheckOutputsAreNotInputs({{options.output_path, "output"}}, inputs));
  // Held until the file is renamed into place (the writer is destroyed first).
  SHARDQ_ASSIGN_OR_RETURN(std::unique_ptr<OutputLock> lock,
                          OutputLock::Acquire(options.output_path, "shardq quantize --model " + options.model_path));
  TensorSource& source = *model.source;
  const std::vector<TensorInfo>& infos = source.tensors();
  const std::vector<size_t> order = CanonicalTensorOrder(infos);
  std::vector<TensorInfo> ordered;
  ordered.reserve(order.size());
  for (size_t i : order) ordered.push_back(infos[i]);

  if (!options.imatrix_path.empty() && options.recipe.Calibrates())
    return Status::InvalidArgument("--imatrix: statistics from a file and calibrating here (--calib-text) exclude each other");
  CalibrationStats stats;
  Recipe recipe = options.recipe;  // gains the mixed-precision types, when there is a size target
  QuantPlanOptions plan = recipe.quant;
  if (!options.imatrix_path.empty()) {
    SHARDQ_ASSIGN_OR_RETURN(stats, CalibrationStats::Load(options.imatrix_path));
    plan.has_imatrix = true;
  }
  Result<std::vector<TensorChoice>> planned = PlanTensorTypes(ordered, plan);
  if (!planned.ok()) return planned.status().WithContext(options.model_path + ": ");
  if (recipe.Calibrates()) {
    JobSpec spec;  // ValidateJobInputs' view of the recipe: the calibration text must hold the windows
    spec.model = options.model_path;
    const CalibrationOptions& c = *recipe.calibration;
    spec.calibration = CalibrationSpec{c.text, c.samples, c.seq_len, c.hessian};
    SHARDQ_RETURN_IF_ERROR(ValidateJobInputs(spec, recipe, model, /*with_eval=*/false, "--calib-text"));
  }
  const int threads =
      options.threads > 0 ? options.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  QuantizeReport report;
  if (recipe.size_target) {
    SHARDQ_ASSIGN_OR_RETURN(TypeAllocationResult mixed, PlanMixedPrecision(model, recipe, ordered, *planned, threads));
    for (TensorTypeOverride& o : mixed.overrides) recipe.quant.overrides.push_back(std::move(o));
    plan.overrides = recipe.quant.overrides;
    planned = PlanTensorTypes(ordered, plan);
    if (!planned.ok()) return planned.status().WithContext(options.model_path + ": ");
    report.mixed_planned_bytes = mixed.file_bytes;
    report.mixed_predicted_kl = mixed.predicted_loss;
    report.mixed_seconds = mixed.seconds;
  }
  const std::vector<TensorChoice>& choices = *planned;

  SHARDQ_ASSIGN_OR_RETURN(GgufMetadata metadata,
                          BuildOutputMetadata(model, plan.preset.file_type));
  std::vector<GgufTensorDecl> decls;
  for (size_t i = 0; i < ordered.size(); ++i)
    decls.push_back({ordered[i].name, ordered[i].shape, choices[i].type});
  Result<std::unique_ptr<GgufWriter>> created = GgufWriter::Create(options.output_path, metadata, decls);
  if (!created.ok()) return created.status();
  GgufWriter& writer = **created;

  // A calibrating recipe: the unit stages of `shardq run`, as one rank holding every unit.
  std::unique_ptr<LocalStageRunner> staged;
  if (recipe.Calibrates()) {
    SHARDQ_ASSIGN_OR_RETURN(staged,
                            LocalStageRunner::Start(options.model_path, recipe, ordered, threads, MakeLlamaRankStages));
  }

  ThreadPool pool(options.threads);
  const int fault_delay_ms = FaultDelayMs();  // tests only: a signal lands mid-file
  report.output_path = options.output_path;
  std::vector<float> data;
  QuantizedTensor q;
  for (size_t i = 0; i < ordered.size(); ++i) {
    const TensorInfo& t = ordered[i];
    if (StopSignal() != 0)  // the writer removes its temp file on the way out
      return Status::Cancelled(std::string("stopped by ") + StopSignalName(StopSignal()) + " before tensor '" +
                               t.name + "'; nothing was written to " + options.output_path);
    if (progress) progress(i, ordered.size(), t.name);
    if (fault_delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(fault_delay_ms));
    bool weighted = false;
    if (staged) {
      SHARDQ_ASSIGN_OR_RETURN(TensorBlob blob, staged->Next(t.name, &weighted));
      q.bytes = std::move(blob.bytes);
      q.error = QuantError{};
      q.error.sum_sq_err = blob.metrics.sum_sq_err;
      q.error.sum_sq_ref = blob.metrics.sum_sq_ref;
      q.error.max_abs_err = blob.metrics.max_abs_err;
      q.error.count = blob.metrics.count;
    } else {
      SHARDQ_RETURN_IF_ERROR(CompressTensor(source, t, choices[i], options.imatrix_path.empty() ? nullptr : &stats,
                                            options.imatrix_path, &pool, &data, &q, &weighted));
    }
    SHARDQ_RETURN_IF_ERROR(writer.WriteTensor(i, q.bytes.data(), q.bytes.size()));

    TensorReport r;
    r.name = t.name;
    r.shape = t.shape_string();
    r.type = choices[i].type;
    r.reason = choices[i].reason;
    r.n_elements = t.n_elements();
    r.bytes = q.bytes.size();
    r.error = q.error;
    r.weighted = weighted;
    report.input_f32_bytes += 4ull * t.n_elements();
    report.weights += t.n_elements();
    report.tensors.push_back(std::move(r));
  }
  if (progress) progress(ordered.size(), ordered.size(), "");
  SHARDQ_RETURN_IF_ERROR(writer.Finish());
  report.output_bytes = writer.bytes_written();
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace shardq
