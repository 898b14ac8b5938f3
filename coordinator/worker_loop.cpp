#include "coordinator/worker_loop.h"

#include <cblas.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "common/model.h"
#include "common/tensor_order.h"
#include "coordinator/job_messages.h"
#include "worker/unit_compressor.h"

namespace shardq {
namespace {

int EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
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
  if (!a.stats_blob.empty()) {
    SHARDQ_ASSIGN_OR_RETURN(stats, CalibrationStats::Decode(a.stats_blob, "job " + a.job_id));
  }

  const int kill_rank = EnvInt("SHARDQ_FAULT_KILL_RANK", -1);
  const int kill_after = EnvInt("SHARDQ_FAULT_KILL_AFTER", -1);
  const int delay_ms = EnvInt("SHARDQ_FAULT_DELAY_MS", 0);
  openblas_set_num_threads(a.threads);
  ThreadPool pool(a.threads);
  for (int64_t index : a.todo) {
    if (plan.OwnerOf(index) != t.rank()) continue;
    const Unit& unit = plan.units[index];
    UnitCompressInput in;
    for (const std::string& name : unit.tensors) {
      for (size_t i = 0; i < ordered.size(); ++i) {
        if (ordered[i].name == name) {
          in.tensors.push_back(&ordered[i]);
          in.choices.push_back(choices[i]);
        }
      }
    }
    in.stats = a.use_importance ? &stats : nullptr;
    const auto start = std::chrono::steady_clock::now();
    Result<std::vector<TensorBlob>> blobs = CompressUnit(in, *model.source, &pool);
    if (!blobs.ok()) return blobs.status().WithContext("unit " + unit.name + ": ");
    WorkerMessage m;
    m.kind = WorkerMessage::kUnit;
    m.unit = index;
    m.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    m.blobs = std::move(*blobs);
    SHARDQ_RETURN_IF_ERROR(t.Send(0, kTagUnitResult, EncodeWorkerMessage(m)));
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
