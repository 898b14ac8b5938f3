#include "coordinator/job/quantize_job.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include "common/fault_injection.h"
#include "common/file_identity.h"
#include "common/atomic_file.h"
#include "common/gguf_layout.h"
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
#include "coordinator/job/quantize_stream.h"
#include "kernels/block_format.h"
#include "runtime/local_stage_runner.h"
#include "worker/calibration_stats.h"
#include "worker/llama_rank_stages.h"

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
  report.output_path = options.output_path;
  auto add_row = [&](size_t i, uint64_t bytes, const QuantError& error, bool weighted) {
    const TensorInfo& t = ordered[i];
    TensorReport r;
    r.name = t.name;
    r.shape = t.shape_string();
    r.type = choices[i].type;
    r.reason = choices[i].reason;
    r.n_elements = t.n_elements();
    r.bytes = bytes;
    r.error = error;
    r.weighted = weighted;
    report.input_f32_bytes += 4ull * t.n_elements();
    report.weights += t.n_elements();
    report.tensors.push_back(std::move(r));
  };
  const int fault_delay_ms = FaultDelayMs();  // tests only: a signal lands mid-file
  auto stop_before = [&](size_t i) -> Status {
    if (fault_delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(fault_delay_ms));
    if (StopSignal() == 0) return Status::OK();  // else the temp file is removed on the way out
    return Status::Cancelled(std::string("stopped by ") + StopSignalName(StopSignal()) + " before tensor '" +
                             ordered[i].name + "'; nothing was written to " + options.output_path);
  };

  if (!recipe.Calibrates()) {
    // rtn / imatrix: the streaming path (quantize_stream.h), reading, encoding
    // and writing overlapped across tensors.
    std::vector<std::vector<float>> importance(ordered.size());
    std::vector<StreamTensor> stream(ordered.size());
    for (size_t i = 0; i < ordered.size(); ++i) {
      const TensorInfo& t = ordered[i];
      const BlockFormat* fmt = FindBlockFormat(choices[i].type);
      if (!fmt || !fmt->quantize_row || !fmt->dequantize_row)
        return Status::Unsupported(t.file + ": tensor '" + t.name + "': cannot encode type " +
                                   GgmlTypeName(choices[i].type));
      // Only quantized tensors are weighted; F32 copies ignore importance (as CompressTensor).
      const ChannelStats* s = (choices[i].quantized && !options.imatrix_path.empty()) ? stats.Find(t.name) : nullptr;
      if (s) {
        if (s->n_channels != t.row_length()) {
          return Status::InvalidArgument(options.imatrix_path + ": entry '" + t.name + "' has " +
                                         std::to_string(s->n_channels) + " channels, the tensor's rows have " +
                                         std::to_string(t.row_length()) + " (statistics of another model?)");
        }
        importance[i] = s->MeanSquare();
      }
      stream[i] = {&t, fmt, importance[i].empty() ? nullptr : importance[i].data()};
    }
    SHARDQ_ASSIGN_OR_RETURN(GgufLayout layout, LayoutGguf(options.output_path, metadata, decls));
    SHARDQ_ASSIGN_OR_RETURN(std::unique_ptr<AtomicFile> file, AtomicFile::Create(options.output_path));
    StreamOptions so;
    so.threads = threads;
    so.may_continue = stop_before;
    if (progress) so.before_tensor = [&](size_t i, size_t n) { progress(i, n, ordered[i].name); };
    SHARDQ_ASSIGN_OR_RETURN(StreamResult streamed, StreamQuantize(source, stream, layout, *file, so));
    for (size_t i = 0; i < ordered.size(); ++i) add_row(i, layout.sizes[i], streamed.errors[i], stream[i].importance != nullptr);
    if (progress) progress(ordered.size(), ordered.size(), "");
    report.output_bytes = file->bytes_written();
    report.sync_seconds = streamed.sync_seconds;
    report.compute_wait_seconds = streamed.compute_wait_seconds;
    report.writer_wait_seconds = streamed.writer_wait_seconds;
    report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return report;
  }

  // A calibrating recipe: the unit stages of `shardq run`, as one rank holding every unit.
  Result<std::unique_ptr<GgufWriter>> created = GgufWriter::Create(options.output_path, metadata, decls);
  if (!created.ok()) return created.status();
  GgufWriter& writer = **created;
  SHARDQ_ASSIGN_OR_RETURN(std::unique_ptr<LocalStageRunner> staged,
                          LocalStageRunner::Start(options.model_path, recipe, ordered, threads, MakeLlamaRankStages));
  for (size_t i = 0; i < ordered.size(); ++i) {
    SHARDQ_RETURN_IF_ERROR(stop_before(i));
    if (progress) progress(i, ordered.size(), ordered[i].name);
    bool weighted = false;
    SHARDQ_ASSIGN_OR_RETURN(TensorBlob blob, staged->Next(ordered[i].name, &weighted));
    SHARDQ_RETURN_IF_ERROR(writer.WriteTensor(i, blob.bytes.data(), blob.bytes.size()));
    QuantError error;
    error.sum_sq_err = blob.metrics.sum_sq_err;
    error.sum_sq_ref = blob.metrics.sum_sq_ref;
    error.max_abs_err = blob.metrics.max_abs_err;
    error.count = blob.metrics.count;
    add_row(i, blob.bytes.size(), error, weighted);
  }
  if (progress) progress(ordered.size(), ordered.size(), "");
  const auto sync_start = std::chrono::steady_clock::now();
  SHARDQ_RETURN_IF_ERROR(writer.Finish());
  report.sync_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - sync_start).count();
  report.output_bytes = writer.bytes_written();
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace shardq
