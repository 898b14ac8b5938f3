#include "coordinator/job/quantize_job.h"

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
#include "kernels/block_format.h"
#include "worker/calibration_stats.h"
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

  CalibrationStats stats;
  QuantPlanOptions plan = options.plan;
  if (!options.imatrix_path.empty()) {
    SHARDQ_ASSIGN_OR_RETURN(stats, CalibrationStats::Load(options.imatrix_path));
    plan.has_imatrix = true;
  }
  Result<std::vector<TensorChoice>> planned = PlanTensorTypes(ordered, plan);
  if (!planned.ok()) return planned.status().WithContext(options.model_path + ": ");
  const std::vector<TensorChoice>& choices = *planned;

  SHARDQ_ASSIGN_OR_RETURN(GgufMetadata metadata,
                          BuildOutputMetadata(model, options.plan.preset.file_type));
  std::vector<GgufTensorDecl> decls;
  for (size_t i = 0; i < ordered.size(); ++i)
    decls.push_back({ordered[i].name, ordered[i].shape, choices[i].type});
  Result<std::unique_ptr<GgufWriter>> created = GgufWriter::Create(options.output_path, metadata, decls);
  if (!created.ok()) return created.status();
  GgufWriter& writer = **created;

  ThreadPool pool(options.threads);
  const int fault_delay_ms = FaultDelayMs();  // tests only: a signal lands mid-file
  QuantizeReport report;
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
    SHARDQ_RETURN_IF_ERROR(CompressTensor(source, t, choices[i], options.imatrix_path.empty() ? nullptr : &stats,
                                          options.imatrix_path, &pool, &data, &q, &weighted));
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
