#include "coordinator/worker_loop.h"

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <thread>

#include "common/fault_injection.h"
#include "common/hf_tokenizer_json.h"
#include "common/model.h"
#include "common/stop_request.h"
#include "common/tensor_order.h"
#include "common/trace.h"
#include "coordinator/job_messages.h"
#include "worker/calibration.h"
#include "worker/llama_weights.h"
#include "worker/unit_compressor.h"

namespace shardq {
namespace {

int EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}

// A stop asked of this process (a signal) or relayed by rank 0 (kTagStop,
// consumed here). Checked at unit and calibration-window boundaries only.
bool StopAsked(Transport& t) {
  if (StopSignal() != 0) return true;
  if (!t.Probe(0, kTagStop)) return false;
  std::vector<uint8_t> ignored;
  t.Recv(0, kTagStop, &ignored, nullptr);
  RequestStop(SIGTERM);  // remembered for the rest of this assignment
  return true;
}

Status StoppedStatus() {
  return Status::Cancelled(std::string("stopped by ") + StopSignalName(StopSignal()) + " at a unit boundary");
}

std::vector<uint8_t> FloatBytes(const std::vector<float>& v) {
  std::vector<uint8_t> b(v.size() * sizeof(float));
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

// This rank's stage of the calibration pipeline. Units are in pipeline order
// (0 = embeddings, 1..L = blocks, L+1 = head), so the rank owning unit 0 embeds
// each window, every rank runs the blocks of its range and hands the hidden
// states to the next rank, and the rank owning the head sees its input. Every
// rank takes part (later stages need the states that flow through earlier
// ones) but accumulates statistics only for the tensors in `wanted`.
Status CalibrationStage(Transport& t, const JobAssignment& a, const UnitPlan& plan,
                        const std::set<std::string>& wanted, CalibrationStats* stats) {
  size_t me = 0;
  while (me < a.ranges.size() && a.ranges[me].rank != t.rank()) ++me;
  if (me == a.ranges.size()) return Status::OK();  // not in the pipeline
  const RankRange& range = a.ranges[me];
  const int prev = me > 0 ? a.ranges[me - 1].rank : -1;
  const int next = me + 1 < a.ranges.size() ? a.ranges[me + 1].rank : -1;
  const int64_t n_units = static_cast<int64_t>(plan.units.size());

  std::ifstream in(a.calib_text, std::ios::binary);
  if (!in) return Status::NotFound(a.calib_text + ": cannot open calibration text");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  SHARDQ_ASSIGN_OR_RETURN(Model model, OpenModel(a.model_path));
  SHARDQ_ASSIGN_OR_RETURN(Tokenizer tokenizer, TokenizerForModel(model));
  SHARDQ_ASSIGN_OR_RETURN(auto windows, CalibrationWindows(tokenizer, text, a.calib_samples, a.calib_seq_len,
                                                           a.calib_text));
  const int64_t n_layers = model.config.n_layers, dim = model.config.dim;
  if (n_units != n_layers + 2)
    return Status::Unsupported(a.model_path + ": calibration needs the embeddings, every block and the head as units");
  const int64_t layer_begin = std::max<int64_t>(range.begin, 1) - 1;
  const int64_t layer_end = std::min<int64_t>(range.end, n_layers + 1) - 1;
  // This stage's weights only: a rank never decodes another rank's blocks.
  LoadWeightsOptions lo;
  lo.layer_begin = layer_begin;
  lo.layer_end = layer_end;
  lo.embeddings = range.begin == 0;
  lo.head = range.end == n_units;
  SHARDQ_ASSIGN_OR_RETURN(std::unique_ptr<LlamaWeights> weights, LlamaWeights::Load(std::move(model), lo));
  ForwardOptions fo;
  fo.n_threads = a.threads;
  fo.max_context = a.calib_seq_len;
  fo.thread_independent = true;  // statistics independent of the rank's thread count (see ForwardOptions)
  LlamaForward forward(*weights, fo);
  SHARDQ_TRACE(t.rank(), "calibration: weights of layers [%lld, %lld) loaded, %zu windows", (long long)layer_begin,
               (long long)layer_end, windows.size());
  forward.SetLinearInputObserver(StatsObserver(stats, a.calib_hessian, &wanted));
  std::vector<float> hidden, logits;
  std::vector<uint8_t> payload;
  for (const auto& w : windows) {
    const int64_t n = static_cast<int64_t>(w.size());
    forward.Reset();
    if (range.begin == 0) {
      // Only the first stage decides to stop; an empty payload carries the
      // stop down the pipeline, so no rank abandons a window another still sends.
      if (StopAsked(t)) {
        if (next >= 0) SHARDQ_RETURN_IF_ERROR(t.Send(next, kTagActivations, {}));
        return StoppedStatus();
      }
      SHARDQ_RETURN_IF_ERROR(forward.Embed(w, &hidden));
    } else {
      SHARDQ_RETURN_IF_ERROR(t.Recv(prev, kTagActivations, &payload, nullptr));
      if (payload.empty()) {
        if (next >= 0) SHARDQ_RETURN_IF_ERROR(t.Send(next, kTagActivations, {}));
        if (StopSignal() == 0) RequestStop(SIGTERM);
        return StoppedStatus();
      }
      SHARDQ_TRACE(t.rank(), "calibration: window received");
      if (payload.size() != static_cast<size_t>(n * dim) * sizeof(float))
        return Status::Internal("calibration: rank " + std::to_string(prev) + " sent " +
                                std::to_string(payload.size()) + " bytes of hidden states");
      hidden.resize(n * dim);
      std::memcpy(hidden.data(), payload.data(), payload.size());
    }
    if (layer_end > layer_begin) forward.RunLayers(layer_begin, layer_end, n, hidden.data());
    if (range.end == n_units) {
      forward.Head(hidden.data(), n, 1, &logits);
    } else {
      SHARDQ_TRACE(t.rank(), "calibration: window computed");
      SHARDQ_RETURN_IF_ERROR(t.Send(next, kTagActivations, FloatBytes(hidden)));
    }
  }
  SHARDQ_TRACE(t.rank(), "calibration: stage done");
  return Status::OK();
}

// Compresses the assignment's units that fall in this rank's range.
Status DoAssignment(Transport& t, const JobAssignment& a, int* units_sent) {
  SHARDQ_ASSIGN_OR_RETURN(Model model, OpenModel(a.model_path));
  const std::vector<TensorInfo>& infos = model.source->tensors();
  std::vector<TensorInfo> ordered;
  for (size_t i : CanonicalTensorOrder(infos)) ordered.push_back(infos[i]);
  SHARDQ_ASSIGN_OR_RETURN(QuantPlanOptions plan_options, PlanOptionsOf(a));
  SHARDQ_ASSIGN_OR_RETURN(std::vector<TensorChoice> choices, PlanTensorTypes(ordered, plan_options));
  // The worker plans units from the same headers rank 0 planned from: the same
  // deterministic function, so unit indices agree without shipping tensor lists.
  int n_workers = static_cast<int>(a.ranges.size());
  SHARDQ_ASSIGN_OR_RETURN(UnitPlan plan, MakeUnitPlan(ordered, n_workers, a.ranges.front().rank));
  CalibrationStats stats;
  if (a.use_importance && !a.todo.empty()) {
    std::set<std::string> wanted;
    for (int64_t index : a.todo)
      if (plan.OwnerOf(index) == t.rank())
        for (const std::string& name : plan.units[index].tensors) wanted.insert(name);
    SHARDQ_RETURN_IF_ERROR(CalibrationStage(t, a, plan, wanted, &stats).WithContext("calibration: "));
  }

  const int kill_rank = EnvInt("SHARDQ_FAULT_KILL_RANK", -1);
  const int kill_after = EnvInt("SHARDQ_FAULT_KILL_AFTER", -1);
  const int delay_ms = FaultDelayMs();
  std::map<std::string, size_t> index_of;  // tensor name -> position in `ordered`
  for (size_t i = 0; i < ordered.size(); ++i) index_of[ordered[i].name] = i;
  ThreadPool pool(a.threads);
  for (int64_t index : a.todo) {
    if (plan.OwnerOf(index) != t.rank()) continue;
    if (StopAsked(t)) return StoppedStatus();
    const Unit& unit = plan.units[index];
    UnitCompressInput in;
    for (const std::string& name : unit.tensors) {
      const size_t i = index_of.at(name);  // the plan was made from these same tensors
      in.tensors.push_back(&ordered[i]);
      in.choices.push_back(choices[i]);
    }
    in.stats = a.use_importance ? &stats : nullptr;
    const auto start = std::chrono::steady_clock::now();
    std::vector<uint32_t> fingerprints;
    Result<std::vector<TensorBlob>> blobs = CompressUnit(in, *model.source, &pool, &fingerprints);
    if (!blobs.ok()) return blobs.status().WithContext("unit " + unit.name + ": ");
    WorkerMessage m;
    m.source_fingerprints = std::move(fingerprints);
    m.kind = WorkerMessage::kUnit;
    m.unit = index;
    m.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    m.blobs = std::move(*blobs);
    SHARDQ_TRACE(t.rank(), "unit %s compressed in %.3f s", unit.name.c_str(), m.seconds);
    SHARDQ_RETURN_IF_ERROR(t.Send(0, kTagUnitResult, EncodeWorkerMessage(m)));
    SHARDQ_TRACE(t.rank(), "unit %s sent", unit.name.c_str());
    ++*units_sent;
    if (delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    if (t.rank() == kill_rank && *units_sent == kill_after) {
      std::fprintf(stderr, "shardq: fault injection: rank %d kills itself after %d unit(s)\n", t.rank(), *units_sent);
      std::fflush(stderr);
      std::raise(SIGKILL);
    }
  }
  return Status::OK();
}

}  // namespace

Status RunWorker(Transport& t) {
  int units_sent = 0;
  for (;;) {
    std::vector<uint8_t> payload;
    SHARDQ_RETURN_IF_ERROR(t.Recv(0, kTagJob, &payload, nullptr));
    if (payload.empty()) return Status::OK();  // exit
    WorkerMessage done;
    done.kind = WorkerMessage::kDone;
    Result<JobAssignment> a = DecodeAssignment(payload);
    Status st = a.ok() ? DoAssignment(t, *a, &units_sent) : a.status();
    if (!st.ok()) done.error = "rank " + std::to_string(t.rank()) + ": " + st.message();
    SHARDQ_RETURN_IF_ERROR(t.Send(0, kTagUnitResult, EncodeWorkerMessage(done)));
  }
}

}  // namespace shardq
