#include "coordinator/job/job_run.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "common/fault_injection.h"
#include "common/file_identity.h"
#include "common/job_spec.h"
#include "common/job_text.h"
#include "common/model.h"
#include "common/output_dir.h"
#include "common/output_lock.h"
#include "common/sha256.h"
#include "common/source_fingerprint.h"
#include "common/stop_request.h"
#include "common/tensor_order.h"
#include "common/thread_pool.h"
#include "common/trace.h"
#include "common/recipe.h"
#include "coordinator/artifact/assembler.h"
#include "coordinator/artifact/output_metadata.h"
#include "coordinator/job/calibration_resume.h"
#include "coordinator/job/commit_queue.h"
#include "coordinator/job/job_eval.h"
#include "coordinator/job/job_validation.h"
#include "coordinator/job/mixed_precision_plan.h"
#include "coordinator/job/progress_bar.h"
#include "coordinator/store/state_store.h"
#include "runtime/block_input_product.h"
#include "runtime/job_messages.h"
#include "runtime/unit_stats_product.h"
#include "runtime/unit_plan.h"
#include "worker/calibration_stats.h"

namespace shardq {
namespace {

int64_t NowUnix() { return static_cast<int64_t>(std::time(nullptr)); }

int ThreadsPerWorker(const RunOptions& o, bool under_mpi) {
  if (o.threads > 0) return o.threads;
  const int cores = std::max(1u, std::thread::hardware_concurrency());
  const int local_workers = under_mpi ? std::max(1, LocalRankCount() - 1) : 1;
  return std::max(1, cores / local_workers);
}

// Fingerprints (source_fingerprint.h) of `names`' stored bytes, read on rank 0
// with the pool; pages are released after each tensor.
Result<std::map<std::string, uint32_t>> FingerprintSources(TensorSource& source, const std::set<std::string>& names,
                                                           ThreadPool* pool) {
  std::map<std::string, uint32_t> out;
  for (const TensorInfo& t : source.tensors()) {
    if (!names.count(t.name)) continue;
    SHARDQ_ASSIGN_OR_RETURN(ByteSpan bytes, source.RawBytes(t));
    out[t.name] = FingerprintBytes(bytes.data, bytes.size, pool);
    source.Release(t);
  }
  return out;
}

// A calibrated unit's statistics depend on the calibration text and on every
// block the hidden states flow through: one fingerprint over all of them.
Result<std::string> CalibrationInputsFingerprint(const std::string& text_path,
                                                 const std::map<std::string, uint32_t>& all_sources) {
  SHARDQ_ASSIGN_OR_RETURN(const std::string text, ReadJobText(text_path, "calibration.text"));
  Sha256 h;
  const uint32_t text_fp = FingerprintBytes(reinterpret_cast<const uint8_t*>(text.data()), text.size(), nullptr);
  const std::string head = "text " + std::to_string(text_fp) + "\n";
  h.Update(head.data(), head.size());
  for (const auto& [name, fp] : all_sources) {
    const std::string line = name + " " + std::to_string(fp) + "\n";
    h.Update(line.data(), line.size());
  }
  return h.HexDigest();
}

// Reads every committed unit's blobs back (checksums verified) and checks them
// against the artifact's plan and against the model as it is now: a unit is
// reused only if each of its source tensors still has the fingerprint it was
// computed from. A good unit's blobs go into the artifact; any other is dropped
// so it is computed again. Returns the good units.
Result<std::set<int64_t>> ReuseCommittedUnits(StateStore& store, const std::string& job_id, ArtifactBuilder& artifact,
                                              TensorSource& source, std::map<std::string, uint32_t> fingerprints,
                                              ThreadPool* pool, int64_t* reused, int64_t* recovered,
                                              int64_t* stale) {
  SHARDQ_ASSIGN_OR_RETURN(std::vector<UnitRecord> units, store.ListUnits(job_id));
  std::set<std::string> unknown;
  for (const UnitRecord& u : units)
    for (const std::string& name : u.tensors)
      if (!fingerprints.count(name)) unknown.insert(name);
  if (!unknown.empty()) {
    SHARDQ_ASSIGN_OR_RETURN(auto more, FingerprintSources(source, unknown, pool));
    fingerprints.merge(more);
  }
  std::set<int64_t> good;
  for (const UnitRecord& u : units) {
    std::string changed;
    if (u.source_fingerprints.size() != u.tensors.size()) changed = "it has no record of its source bytes";
    for (size_t i = 0; changed.empty() && i < u.tensors.size(); ++i) {
      auto it = fingerprints.find(u.tensors[i]);
      if (it == fingerprints.end()) changed = "tensor '" + u.tensors[i] + "' is no longer in the model";
      else if (it->second != u.source_fingerprints[i])
        changed = "tensor '" + u.tensors[i] + "' changed since it was computed (fingerprint " +
                  std::to_string(u.source_fingerprints[i]) + ", now " + std::to_string(it->second) + ")";
    }
    if (!changed.empty()) {
      std::fprintf(stderr, "shardq: unit %s: %s; recomputing it\n", u.name.c_str(), changed.c_str());
      SHARDQ_RETURN_IF_ERROR(store.DropUnit(job_id, u));
      ++*stale;
      continue;
    }
    Status bad;
    std::vector<TensorBlob> blobs;
    for (const std::string& name : u.tensors) {
      Result<TensorBlob> b = store.GetBlob(job_id, name);
      if (b.ok()) bad = artifact.Check(*b);
      else bad = b.status();
      if (!bad.ok()) break;
      blobs.push_back(std::move(*b));
    }
    if (bad.ok()) {
      for (const TensorBlob& b : blobs) SHARDQ_RETURN_IF_ERROR(artifact.Put(b));
      good.insert(u.index);
      ++*reused;
      continue;
    }
    std::fprintf(stderr, "shardq: unit %s: %s; recomputing it\n", u.name.c_str(), bad.message().c_str());
    SHARDQ_RETURN_IF_ERROR(store.DropUnit(job_id, u));
    ++*recovered;
  }
  return good;
}

// A worker's block-input product (sent just before its unit's blobs): checked
// (checksum, the job's inputs) before it is kept, so only verified bytes are
// ever handed to a resumed rank. Put before the unit commits: a unit committed
// without its product only makes a resume start a block earlier.
Status CommitBlockInputProduct(StateStore& store, const std::string& job_id, const std::string& inputs_fingerprint,
                               const Unit& unit, const WorkerMessage& m, int from) {
  const std::string label = "calibration products of unit " + std::to_string(m.unit) + " from rank " + std::to_string(from);
  SHARDQ_ASSIGN_OR_RETURN(BlockInputProduct p,
                          DecodeBlockInputProduct(m.products.data(), m.products.size(), label, /*with_hidden=*/false));
  // A block's unit yields the states leaving it: the next block's input.
  SHARDQ_RETURN_IF_ERROR(CheckBlockInputProduct(p, unit.block + 1, inputs_fingerprint, label));
  SHARDQ_TRACE(0, "%s: inputs of block %lld stored (%zu bytes)", label.c_str(), (long long)p.layer, m.products.size());
  return store.PutStats(job_id, BlockInputKey(p.layer), m.products);
}

// A worker's statistics of one unit (imatrix: sent once calibration ends),
// checked the same way before they are kept.
Status CommitUnitStatsProduct(StateStore& store, const std::string& job_id, const std::string& inputs_fingerprint,
                              const Unit& unit, const WorkerMessage& m, int from) {
  const std::string label = "statistics of unit " + unit.name + " from rank " + std::to_string(from);
  SHARDQ_ASSIGN_OR_RETURN(UnitStatsProduct p, DecodeUnitStatsProduct(m.products.data(), m.products.size(), label));
  SHARDQ_RETURN_IF_ERROR(CheckUnitStatsProduct(p, unit.index, inputs_fingerprint, label));
  SHARDQ_RETURN_IF_ERROR(CalibrationStats::Decode(p.stats.data(), p.stats.size(), label).status());
  SHARDQ_TRACE(0, "%s stored (%zu bytes)", label.c_str(), m.products.size());
  return store.PutStats(job_id, UnitStatsKey(unit.index), m.products);
}

}  // namespace

JobRun::~JobRun() = default;

void JobRun::Phase(const char* name) const {
  if (o_.on_phase) o_.on_phase(name);
}

bool JobRun::StopRequested() const { return StopSignal() != 0 || (o_.cancel != nullptr && o_.cancel->load()); }

Result<std::unique_ptr<JobRun>> JobRun::Plan(const RunOptions& o, int n_workers) {
  const auto start = std::chrono::steady_clock::now();
  auto phase = [&](const char* name) {
    if (o.on_phase) o.on_phase(name);
  };
  phase("planning");
  const bool under_mpi = LaunchedUnderMpi();
  SHARDQ_RETURN_IF_ERROR(ValidateThreadCount(o.threads));
  SHARDQ_ASSIGN_OR_RETURN(JobSpec spec, LoadJobSpec(o.spec_path));
  if (!o.output_override.empty()) spec.output_path = o.output_override;
  if (!o.state_override.empty()) spec.state_dir = o.state_override;
  const bool run_eval = spec.eval && !o.skip_eval;
  // The recipe, validated and typed once (errors name the spec file and the field).
  SHARDQ_ASSIGN_OR_RETURN(Recipe recipe, RecipeFromSpec(spec, o.spec_path));

  // Everything a job needs is checked before any work: an hour of compression
  // must not end in a missing eval text or an unwritable directory.
  SHARDQ_RETURN_IF_ERROR(PrepareOutputDirectory(spec.output_path).WithContext(o.spec_path + ": output.path: "));
  SHARDQ_ASSIGN_OR_RETURN(Model model, OpenModel(spec.model));
  SHARDQ_RETURN_IF_ERROR(ValidateJobInputs(spec, recipe, model, run_eval, o.spec_path));
  const std::vector<TensorInfo>& infos = model.source->tensors();
  std::vector<TensorInfo> ordered;
  for (size_t i : CanonicalTensorOrder(infos)) ordered.push_back(infos[i]);

  JobAssignment a;
  a.model_path = spec.model;
  a.threads = ThreadsPerWorker(o, under_mpi);
  // Planned here too (workers plan the same from the same headers): a spec whose
  // types cannot apply fails before any work, and the types declare the artifact.
  Result<std::vector<TensorChoice>> planned = PlanTensorTypes(ordered, recipe.quant);
  if (!planned.ok()) return planned.status().WithContext(spec.model + ": ");
  if (recipe.size_target) {
    // Mixed precision is decided here, once, and reaches every rank as overrides:
    // the same types (and bytes) for any number of ranks, and again on resume.
    Result<TypeAllocationResult> mixed = PlanMixedPrecision(model, recipe, ordered, *planned, a.threads);
    if (!mixed.ok()) return mixed.status().WithContext(o.spec_path + ": recipe.quantize: ");
    for (TensorTypeOverride& ov : mixed->overrides) recipe.quant.overrides.push_back(std::move(ov));
    planned = PlanTensorTypes(ordered, recipe.quant);
    if (!planned.ok()) return planned.status().WithContext(spec.model + ": ");
    std::fprintf(stderr, "shardq: mixed precision: types chosen by measured sensitivity in %.1f s for a %llu-byte file\n",
                 mixed->seconds, (unsigned long long)mixed->file_bytes);
  }
  a.recipe = recipe;
  const std::vector<TensorChoice> choices = std::move(*planned);

  RunSummary sum;
  sum.job_id = DeriveJobId(spec, ordered);
  sum.output_path = spec.output_path;
  a.job_id = sum.job_id;
  // The artifact's temp file is named after the job: a killed run's leftover is
  // overwritten by its own rerun and never mistaken for another job's.
  const std::string temp_path = spec.output_path + "." + sum.job_id + ".partial";
  {
    std::vector<LabelledPath> inputs;
    for (const std::string& f : model.InputFiles()) inputs.push_back({f, "model file"});
    inputs.push_back({o.spec_path, "job spec"});
    if (spec.calibration) inputs.push_back({spec.calibration->text, "calibration text"});
    if (spec.eval) inputs.push_back({spec.eval->text, "eval text"});
    const std::string& out = spec.output_path;
    SHARDQ_RETURN_IF_ERROR(CheckOutputsAreNotInputs({{out, "output"},
                                                     {temp_path, "artifact's temp file"},
                                                     {out + ".manifest.json", "manifest"},
                                                     {out + ".report.json", "report"},
                                                     {out + ".report.html", "report"},
                                                     {out + ".eval.json", "eval result"},
                                                     {out + ".lock", "output lock"}},
                                                    inputs));
  }
  // Held to the end of the job (sidecars and eval included): one job per output path.
  SHARDQ_ASSIGN_OR_RETURN(std::unique_ptr<OutputLock> output_lock,
                          OutputLock::Acquire(spec.output_path, "shardq run " + o.spec_path + " (job " + sum.job_id +
                                                                    ", state " + spec.state_dir + ")"));
  const std::string fingerprint = SpecFingerprint(spec, ordered);
  std::error_code ec;
  std::filesystem::create_directories(spec.state_dir, ec);
  SHARDQ_ASSIGN_OR_RETURN(std::unique_ptr<StateStore> store, StateStore::Open(spec.state_dir));
  if (!store->recovery_note().empty()) std::fprintf(stderr, "shardq: %s\n", store->recovery_note().c_str());
  SHARDQ_ASSIGN_OR_RETURN(std::optional<JobRecord> existing, store->GetJob(sum.job_id));

  SHARDQ_ASSIGN_OR_RETURN(UnitPlan plan, MakeUnitPlan(ordered, n_workers, /*first_worker=*/1));
  a.ranges = plan.ranges;
  sum.units_total = static_cast<int64_t>(plan.units.size());
  // Calibrated jobs: rank 0 fingerprints every source tensor (one read of the
  // model, small beside calibrating it) and the text; see CalibrationInputsFingerprint.
  ThreadPool pool(a.threads);
  std::map<std::string, uint32_t> source_fingerprints;
  std::string inputs_fingerprint;
  if (recipe.Calibrates()) {
    std::set<std::string> all;
    for (const TensorInfo& t : ordered) all.insert(t.name);
    SHARDQ_ASSIGN_OR_RETURN(source_fingerprints, FingerprintSources(*model.source, all, &pool));
    SHARDQ_ASSIGN_OR_RETURN(inputs_fingerprint, CalibrationInputsFingerprint(recipe.calibration->text, source_fingerprints));
  }
  if (existing) {
    if (existing->fingerprint != fingerprint) {
      return Status::InvalidArgument(o.spec_path + ": job '" + sum.job_id + "' in " + spec.state_dir +
                                     " was created from a different spec or model; give this job another "
                                     "job_id or use another --state directory");
    }
    if (existing->inputs_fingerprint != inputs_fingerprint) {
      // Statistics computed from other text or weights: nothing committed can stand.
      SHARDQ_ASSIGN_OR_RETURN(std::vector<UnitRecord> stale, store->ListUnits(sum.job_id));
      if (!stale.empty())
        std::fprintf(stderr, "shardq: job %s: the calibration text or the model's weights changed since its units "
                     "were computed; recomputing all %zu committed unit(s)\n", sum.job_id.c_str(), stale.size());
      for (const UnitRecord& u : stale) SHARDQ_RETURN_IF_ERROR(store->DropUnit(sum.job_id, u));
      sum.units_stale += static_cast<int64_t>(stale.size());
      existing->inputs_fingerprint = inputs_fingerprint;
      SHARDQ_RETURN_IF_ERROR(store->PutJob(*existing));
    }
    SHARDQ_RETURN_IF_ERROR(store->SetJobState(sum.job_id, JobState::kPlanning));
  } else {
    JobRecord job;
    job.id = sum.job_id;
    job.spec_json = spec.CanonicalJson();
    job.fingerprint = fingerprint;
    job.inputs_fingerprint = inputs_fingerprint;
    job.state = JobState::kPlanning;
    job.n_units = sum.units_total;
    job.created_unix = job.updated_unix = NowUnix();
    SHARDQ_RETURN_IF_ERROR(store->PutJob(job));
  }

  // The artifact is laid out now (the plan fixes every tensor's type, so every
  // offset) and filled as units commit, reused ones first.
  auto preset = FindPreset(spec.quantize.preset);
  SHARDQ_ASSIGN_OR_RETURN(GgufMetadata metadata, BuildOutputMetadata(model, preset->file_type));
  std::vector<GgufTensorDecl> decls;
  for (size_t i = 0; i < ordered.size(); ++i) decls.push_back({ordered[i].name, ordered[i].shape, choices[i].type});
  ArtifactBuilder::Options artifact_options;
  artifact_options.temp_path = temp_path;
  // Workers write their tensors into the temp file themselves (where they
  // reach it), so rank 0 handles no packed bytes. SHARDQ_IN_PLACE=0 makes them
  // send the bytes instead (tests of that path; file systems that lie about sync).
  const char* in_place_env = std::getenv("SHARDQ_IN_PLACE");
  const bool in_place = !(in_place_env && std::string(in_place_env) == "0");
  if (in_place) {
    artifact_options.keep_partial = true;
    std::random_device rd;
    for (int i = 0; i < 16; ++i) artifact_options.placement_tag.push_back(static_cast<uint8_t>(rd()));
  }
  SHARDQ_ASSIGN_OR_RETURN(std::unique_ptr<ArtifactBuilder> artifact,
                          ArtifactBuilder::Create(spec.output_path, metadata, std::move(decls), artifact_options));
  if (in_place) {
    a.placement.path = artifact->temp_path();
    a.placement.tag = artifact_options.placement_tag;
    a.placement.file_bytes = artifact->file_bytes();
    for (const ArtifactBuilder::Region& r : artifact->Regions()) a.placement.regions.push_back({r.name, r.offset, r.size});
  }
  SHARDQ_ASSIGN_OR_RETURN(std::set<int64_t> done,
                          ReuseCommittedUnits(*store, sum.job_id, *artifact, *model.source, source_fingerprints, &pool,
                                              &sum.units_reused, &sum.units_recovered, &sum.units_stale));
  for (const Unit& u : plan.units)
    if (!done.count(u.index)) a.todo.push_back(u.index);
  std::fprintf(stderr, "shardq: job %s: %lld units on %d worker rank(s); %lld reused from %s, %lld to compute\n",
               sum.job_id.c_str(), (long long)sum.units_total, n_workers, (long long)sum.units_reused,
               spec.state_dir.c_str(), (long long)a.todo.size());
  a.inputs_fingerprint = inputs_fingerprint;
  CalibrationResume calib_resume;
  if (recipe.Calibrates() && !a.todo.empty()) {
    SHARDQ_ASSIGN_OR_RETURN(calib_resume, PlanCalibrationResume(*store, sum.job_id, plan, &a));
    if (sum.units_reused > 0 || calib_resume.units_reusing > 0 || calib_resume.products_dropped > 0)
      std::fprintf(stderr, "shardq: %s\n", calib_resume.summary.c_str());
  }

  // Every worker gets the assignment (with an empty share it just reports done).
  // With the imatrix algorithm the workers first calibrate as a pipeline, then compress.
  SHARDQ_RETURN_IF_ERROR(
      store->SetJobState(sum.job_id, recipe.Calibrates() && !a.todo.empty() ? JobState::kCalibrating : JobState::kCompressing));
  bool compressing = !(recipe.Calibrates() && !a.todo.empty());
  phase(compressing ? "compressing" : "calibrating");

  std::unique_ptr<JobRun> run(new JobRun());
  run->o_ = o;
  run->start_ = start;
  run->run_eval_ = run_eval;
  run->inputs_fingerprint_ = inputs_fingerprint;
  run->assignment_bytes_ = EncodeAssignment(a);
  run->spec_ = std::move(spec);
  run->recipe_ = std::move(recipe);
  run->model_ = std::move(model);
  run->ordered_ = std::move(ordered);
  run->a_ = std::move(a);
  run->plan_ = std::move(plan);
  run->sum_ = std::move(sum);
  run->output_lock_ = std::move(output_lock);
  run->store_ = std::move(store);
  run->artifact_ = std::move(artifact);
  run->calib_resume_ = std::move(calib_resume);
  run->compressing_ = compressing;
  run->waiting_ = n_workers;
  run->bar_ = std::make_unique<ProgressBar>(!o.quiet && ProgressBar::StderrIsTerminal());
  run->log_lines_ = !o.quiet && !ProgressBar::StderrIsTerminal();
  // One unit waits while one commits: enough to keep the receive loop free
  // (2 measured no faster on the bench), and rank 0 holds at most three units
  // (receiving, waiting, committing); a 70B model's block is ~0.5 GB packed.
  JobRun* self = run.get();
  run->queue_ = std::make_unique<CommitQueue>(/*capacity=*/1, [self](WorkerMessage& m, int from) { return self->Commit(m, from); });
  return run;
}

std::vector<std::pair<int, std::vector<uint8_t>>> JobRun::TakeSeeds() { return std::move(calib_resume_.seeds); }

// Runs on the commit queue's thread, one unit at a time: checked against the
// plan, committed to the state store (the checkpoint), then written into the
// artifact. Only this thread touches `sum_`'s counts until Drain() returns.
Status JobRun::Commit(WorkerMessage& m, int from) {
  const RunOptions& o = o_;
  RunSummary& sum = sum_;
  UnitPlan& plan = plan_;
  StateStore* store = store_.get();
  ArtifactBuilder* artifact = artifact_.get();
  const std::string& inputs_fingerprint = inputs_fingerprint_;
  ProgressBar& bar = *bar_;
  const bool log_lines = log_lines_;
  const Unit& u = plan.units[m.unit];
  if (m.kind == WorkerMessage::kProducts) {
    if (IsUnitStatsProduct(m.products)) return CommitUnitStatsProduct(*store, sum.job_id, inputs_fingerprint, u, m, from);
    return CommitBlockInputProduct(*store, sum.job_id, inputs_fingerprint, u, m, from);
  }
  UnitRecord rec;
  rec.index = u.index;
  rec.name = u.name;
  rec.tensors = u.tensors;
  rec.worker_rank = from;
  rec.seconds = m.seconds;
  rec.source_fingerprints = m.source_fingerprints;
  if (rec.source_fingerprints.size() != rec.tensors.size())
    return Status::Internal("unit " + u.name + " from rank " + std::to_string(from) + ": " +
                            std::to_string(rec.source_fingerprints.size()) + " source fingerprints for " +
                            std::to_string(rec.tensors.size()) + " tensors");
  Status st;
  for (const TensorBlob& b : m.blobs)
    if (st.ok()) st = artifact->Check(b);
  if (st.ok()) st = store->CommitUnit(sum.job_id, rec, m.blobs);
  SHARDQ_TRACE(0, "unit %s committed", u.name.c_str());
  for (const TensorBlob& b : m.blobs)
    if (st.ok()) st = artifact->Put(b);
  if (!st.ok()) return st.WithContext("unit " + u.name + " from rank " + std::to_string(from) + ": ");
  SHARDQ_TRACE(0, "unit %s written into the artifact", u.name.c_str());
  FaultPoint("commit-done");
  ++sum.units_computed;
  const int64_t finished = sum.units_reused + sum.units_computed;
  bar.Update(finished, sum.units_total, u.name);
  if (o.on_unit) {
    UnitProgress p;
    p.unit = u.name;
    p.rank = from;
    p.seconds = m.seconds;
    for (const TensorBlob& b : m.blobs) p.packed_bytes += b.bytes.size();
    p.done = finished;
    p.total = sum.units_total;
    o.on_unit(p);
  }
  if (log_lines)
    std::fprintf(stderr, "shardq: unit %lld/%lld %s committed (rank %d, %.2f s)\n", (long long)finished,
                 (long long)sum.units_total, u.name.c_str(), from, m.seconds);
  return Status::OK();
}

Status JobRun::OnMessage(std::vector<uint8_t> payload, int from) {
  SHARDQ_TRACE(0, "message of %zu bytes from rank %d", payload.size(), from);
  Result<WorkerMessage> m = DecodeWorkerMessage(std::move(payload), from);
  if (!m.ok()) {
    if (first_error_.empty()) first_error_ = m.status().message();
    return Status::OK();
  }
  if (m->kind == WorkerMessage::kDone) {
    --waiting_;
    if (!m->error.empty() && first_error_.empty()) first_error_ = m->error;
    return Status::OK();
  }
  if (m->unit < 0 || m->unit >= sum_.units_total) {
    if (first_error_.empty()) first_error_ = "rank " + std::to_string(from) + " sent unknown unit " + std::to_string(m->unit);
    return Status::OK();
  }
  if (!compressing_) {
    compressing_ = true;
    Phase("compressing");
    SHARDQ_RETURN_IF_ERROR(store_->SetJobState(sum_.job_id, JobState::kCompressing));
  }
  queue_->Push(std::move(*m), from);
  return Status::OK();
}

Result<RunSummary> JobRun::Finish() {
  const RunOptions& o = o_;
  JobSpec& spec = spec_;
  Recipe& recipe = recipe_;
  RunSummary& sum = sum_;
  UnitPlan& plan = plan_;
  StateStore* store = store_.get();
  ArtifactBuilder* artifact = artifact_.get();
  JobAssignment& a = a_;
  auto phase = [this](const char* name) { Phase(name); };
  const bool run_eval = run_eval_;
  std::string& first_error = first_error_;
  {
    const Status committed = queue_->Drain();
    if (!committed.ok() && first_error.empty()) first_error = committed.message();
  }
  bar_->Finish();
  if (StopRequested()) {
    // Every committed unit is durable; the rest is computed by the next run.
    const std::string by = StopSignal() != 0 ? StopSignalName(StopSignal()) : "a cancel request";
    const std::string why = "stopped by " + by + " after " +
                            std::to_string(sum.units_reused + sum.units_computed) + " of " +
                            std::to_string(sum.units_total) + " units; run the same command again to resume";
    store->SetJobState(sum.job_id, JobState::kCancelled, why);
    return Status::Cancelled("job " + sum.job_id + " " + why);
  }
  if (!first_error.empty()) {
    store->SetJobState(sum.job_id, JobState::kFailed, first_error);
    return Status::Internal(first_error);
  }

  phase("assembling");
  SHARDQ_RETURN_IF_ERROR(store->SetJobState(sum.job_id, JobState::kAssembling));
  Result<AssembleResult> assembled = [&]() -> Result<AssembleResult> {
    SHARDQ_TRACE(0, "every unit in: finishing the artifact");
    SHARDQ_ASSIGN_OR_RETURN(BuiltArtifact built, artifact->Finish());
    SHARDQ_TRACE(0, "artifact renamed into place");
    return WriteArtifactSidecars(built, spec.CanonicalJson());
  }();
  if (!assembled.ok()) {
    store->SetJobState(sum.job_id, JobState::kFailed, assembled.status().message());
    return assembled.status();
  }
  if (run_eval) {
    // On rank 0, after the workers are done: the artifact against the source model.
    phase("evaluating");
    Result<PerplexityResult> ev = EvaluateArtifact(spec.output_path, spec.model, *spec.eval, a.threads, /*show_progress=*/!o.quiet);
    if (!ev.ok()) {
      store->SetJobState(sum.job_id, JobState::kFailed, ev.status().message());
      return ev.status().WithContext("eval: ");
    }
    SHARDQ_RETURN_IF_ERROR(WriteEvalJson(spec.output_path + ".eval.json", *spec.eval, *ev));
    sum.evaluated = true;
    sum.ppl = ev->ppl;
    sum.ref_ppl = ev->ref_ppl;
    sum.kl_mean = ev->kl_mean;
    sum.top1_pct = ev->top1_pct;
  }
  SHARDQ_RETURN_IF_ERROR(store->SetJobState(sum.job_id, JobState::kDone));
  // A done job is reused whole; its calibration products would only take space.
  if (recipe.Calibrates())
    for (const std::string& key : CalibrationProductKeys(plan))
      SHARDQ_RETURN_IF_ERROR(store->DeleteStats(sum.job_id, key));
  sum.file_sha256 = assembled->file_sha256;
  sum.file_bytes = assembled->file_bytes;
  sum.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  return sum;
}

}  // namespace shardq
