#include "runtime/rank_loop.h"

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <stdexcept>
#include <thread>

#include "common/fault_injection.h"
#include "common/model.h"
#include "common/stop_request.h"
#include "common/tensor_order.h"
#include "common/trace.h"
#include "runtime/block_input_product.h"
#include "runtime/in_place_writer.h"
#include "runtime/job_messages.h"
#include "runtime/unit_stats_product.h"

namespace shardq {
namespace {

int EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}

// A stop relayed by rank 0 (kTagStop, or an empty calibration payload) holds
// for the rest of one assignment only: a persistent worker (`shardq serve`)
// takes the next job afresh. A signal to this process holds for good.
thread_local bool relayed_stop = false;

// A stop asked of this process (a signal) or relayed by rank 0 (kTagStop,
// consumed here). Checked at unit and calibration-window boundaries only.
bool StopAsked(Transport& t) {
  if (StopSignal() != 0 || relayed_stop) return true;
  if (!t.Probe(0, kTagStop)) return false;
  std::vector<uint8_t> ignored;
  t.Recv(0, kTagStop, &ignored, nullptr);
  relayed_stop = true;
  return true;
}

// A stop rank 0 relayed for the previous job after this rank had finished its
// units was never consumed: it must not stop the next job.
void DropStaleStops(Transport& t) {
  std::vector<uint8_t> ignored;
  while (t.Probe(0, kTagStop)) t.Recv(0, kTagStop, &ignored, nullptr);
  relayed_stop = false;
}

Status StoppedStatus() {
  const std::string by = StopSignal() != 0 ? StopSignalName(StopSignal()) : "rank 0's stop request";
  return Status::Cancelled("stopped by " + by + " at a unit boundary");
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
// rank of the pipeline takes part (later stages need the states that flow
// through earlier ones), whether or not it has units left to compute; except
// on resume, where the assignment may cut it: a rank handed stored states
// (`seed`) starts from them and the ranks before it do not calibrate at all.
Status CalibrationPipeline(Transport& t, const JobAssignment& a, RankStages& stages, const BlockInputProduct* seed) {
  size_t me = 0;
  while (me < a.ranges.size() && a.ranges[me].rank != t.rank()) ++me;
  if (me == a.ranges.size()) return Status::OK();  // not in the pipeline
  // A rank before a seeded one sends it nothing: the pipeline is cut there.
  const bool next_receives = me + 1 < a.ranges.size() && (a.calib_joins.empty() || (a.calib_joins[me + 1] &&
                                                                                     a.calib_seed_layer[me + 1] < 0));
  const int prev = me > 0 && !seed ? a.ranges[me - 1].rank : -1;
  const int next = next_receives ? a.ranges[me + 1].rank : -1;
  SHARDQ_ASSIGN_OR_RETURN(const int64_t n_windows, stages.BeginCalibration());
  SHARDQ_TRACE(t.rank(), "calibration: stage ready, %lld windows", (long long)n_windows);
  if (seed && static_cast<int64_t>(seed->window_tokens.size()) != n_windows)
    return Status::InvalidArgument("stored block inputs hold " + std::to_string(seed->window_tokens.size()) +
                                   " windows, the calibration has " + std::to_string(n_windows));
  std::vector<float> hidden;
  std::vector<uint8_t> payload;
  size_t seed_at = 0;  // next window's first value in seed->hidden
  for (int64_t w = 0; w < n_windows; ++w) {
    if (seed) {
      if (StopAsked(t)) {
        if (next >= 0) SHARDQ_RETURN_IF_ERROR(t.Send(next, kTagActivations, {}));
        return StoppedStatus();
      }
      const size_t n = static_cast<size_t>(seed->window_tokens[w] * seed->dim);
      hidden.assign(seed->hidden.begin() + seed_at, seed->hidden.begin() + seed_at + n);
      seed_at += n;
    } else if (prev < 0) {
      // Only the first stage decides to stop; an empty payload carries the
      // stop down the pipeline, so no rank abandons a window another still sends.
      if (StopAsked(t)) {
        if (next >= 0) SHARDQ_RETURN_IF_ERROR(t.Send(next, kTagActivations, {}));
        return StoppedStatus();
      }
      SHARDQ_RETURN_IF_ERROR(stages.EmbedWindow(w, &hidden));
    } else {
      SHARDQ_RETURN_IF_ERROR(t.Recv(prev, kTagActivations, &payload, nullptr));
      if (payload.empty()) {
        if (next >= 0) SHARDQ_RETURN_IF_ERROR(t.Send(next, kTagActivations, {}));
        relayed_stop = true;
        return StoppedStatus();
      }
      SHARDQ_TRACE(t.rank(), "calibration: window received");
      if (payload.size() % sizeof(float) != 0)
        return Status::Internal("calibration: rank " + std::to_string(prev) + " sent " +
                                std::to_string(payload.size()) + " bytes of hidden states");
      hidden.resize(payload.size() / sizeof(float));
      std::memcpy(hidden.data(), payload.data(), payload.size());
    }
    Status st = stages.ForwardWindow(w, &hidden);
    if (!st.ok()) return prev < 0 ? st : st.WithContext("hidden states from rank " + std::to_string(prev) + ": ");
    if (next >= 0) {
      SHARDQ_TRACE(t.rank(), "calibration: window computed");
      SHARDQ_RETURN_IF_ERROR(t.Send(next, kTagActivations, FloatBytes(hidden)));
    }
  }
  SHARDQ_TRACE(t.rank(), "calibration: stage done");
  return stages.EndCalibration();
}

// Runs the recipe's stages over the assignment's units that fall in this rank's range.
Status DoAssignment(Transport& t, const JobAssignment& a, const RankStagesFactory& factory, int* units_sent) {
  SHARDQ_ASSIGN_OR_RETURN(Model model, OpenModel(a.model_path));
  const std::vector<TensorInfo>& infos = model.source->tensors();
  std::vector<TensorInfo> ordered;
  for (size_t i : CanonicalTensorOrder(infos)) ordered.push_back(infos[i]);
  // The worker plans units from the same headers rank 0 planned from: the same
  // deterministic function, so unit indices agree without shipping tensor lists.
  const int n_workers = static_cast<int>(a.ranges.size());
  SHARDQ_ASSIGN_OR_RETURN(UnitPlan plan, MakeUnitPlan(ordered, n_workers, a.ranges.front().rank));
  RankJob job;
  job.assignment = &a;
  job.tensors = &ordered;
  job.plan = &plan;
  job.rank = t.rank();
  job.keep_products = true;  // rank 0 commits them to the state store
  for (int64_t index : a.todo)
    if (plan.OwnerOf(index) == t.rank()) job.units.push_back(index);
  size_t me = 0;
  while (me < a.ranges.size() && a.ranges[me].rank != t.rank()) ++me;
  const bool joins = me < a.ranges.size() && (a.calib_joins.empty() || a.calib_joins[me]);
  std::unique_ptr<BlockInputProduct> seed;
  if (joins && !a.calib_seed_layer.empty() && a.calib_seed_layer[me] >= 0) {
    // Received before any weights load: rank 0 sent it right after the assignment.
    std::vector<uint8_t> bytes;
    SHARDQ_RETURN_IF_ERROR(t.Recv(0, kTagSeed, &bytes, nullptr));
    const std::string label = "stored inputs of block " + std::to_string(a.calib_seed_layer[me]) + " from rank 0";
    SHARDQ_ASSIGN_OR_RETURN(BlockInputProduct p, DecodeBlockInputProduct(bytes.data(), bytes.size(), label));
    SHARDQ_RETURN_IF_ERROR(CheckBlockInputProduct(p, a.calib_seed_layer[me], a.inputs_fingerprint, label));
    seed = std::make_unique<BlockInputProduct>(std::move(p));
    job.calib_first_layer = seed->layer;
  }
  SHARDQ_ASSIGN_OR_RETURN(std::unique_ptr<RankStages> stages, factory(job, model));
  const std::set<int64_t> mine(job.units.begin(), job.units.end());
  for (int64_t unit : a.stats_stored) {
    if (!mine.count(unit)) continue;
    std::vector<uint8_t> bytes;
    SHARDQ_RETURN_IF_ERROR(t.Recv(0, kTagSeed, &bytes, nullptr));
    const std::string label = "stored statistics of unit " + std::to_string(unit) + " from rank 0";
    SHARDQ_ASSIGN_OR_RETURN(UnitStatsProduct p, DecodeUnitStatsProduct(bytes.data(), bytes.size(), label));
    SHARDQ_RETURN_IF_ERROR(CheckUnitStatsProduct(p, unit, a.inputs_fingerprint, label));
    SHARDQ_RETURN_IF_ERROR(stages->UseStoredStats(unit, p.stats).WithContext(label + ": "));
  }
  if (a.recipe.Calibrates() && !a.todo.empty() && joins) {
    SHARDQ_RETURN_IF_ERROR(CalibrationPipeline(t, a, *stages, seed.get()).WithContext("calibration: "));
    // Kept by rank 0 before any unit is compressed: a rank killed later leaves
    // its statistics behind, and the rerun need not calibrate for them.
    SHARDQ_ASSIGN_OR_RETURN(auto products, stages->TakeCalibrationProducts());
    for (auto& [unit, bytes] : products) {
      WorkerMessage p;
      p.kind = WorkerMessage::kProducts;
      p.unit = unit;
      p.products = std::move(bytes);
      SHARDQ_RETURN_IF_ERROR(t.Send(0, kTagUnitResult, EncodeWorkerMessage(p)));
    }
  }
  seed.reset();  // the stages keep their own copy of what they need

  // Units go into the artifact's temp file from here when this rank reaches
  // it (a shared file system): rank 0 then only checks and records them.
  std::unique_ptr<InPlaceWriter> in_place;
  if (!a.placement.path.empty() && !job.units.empty()) {
    // SHARDQ_FAULT_NO_IN_PLACE_RANK=R: rank R acts as if on a host without the
    // shared file system (tests of a job where only some ranks write in place).
    Result<std::unique_ptr<InPlaceWriter>> w =
        EnvInt("SHARDQ_FAULT_NO_IN_PLACE_RANK", -1) == t.rank()
            ? Result<std::unique_ptr<InPlaceWriter>>(Status::Unsupported("fault injection: no shared file system"))
            : InPlaceWriter::Open(a.placement);
    if (w.ok()) in_place = std::move(*w);
    else
      std::fprintf(stderr, "shardq: rank %d: cannot write units in place (%s); sending their bytes to rank 0\n",
                   t.rank(), w.status().message().c_str());
  }
  const int kill_rank = EnvInt("SHARDQ_FAULT_KILL_RANK", -1);
  const int kill_after = EnvInt("SHARDQ_FAULT_KILL_AFTER", -1);
  const int delay_ms = FaultDelayMs();
  auto send_unit = [&](const WorkerMessage& m, const std::string& name) -> Status {
    SHARDQ_RETURN_IF_ERROR(t.Send(0, kTagUnitResult, EncodeWorkerMessage(m)));
    SHARDQ_TRACE(t.rank(), "unit %s sent", name.c_str());
    ++*units_sent;
    if (delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    if (t.rank() == kill_rank && *units_sent == kill_after) {
      std::fprintf(stderr, "shardq: fault injection: rank %d kills itself after %d unit(s)\n", t.rank(), *units_sent);
      std::fflush(stderr);
      std::raise(SIGKILL);
    }
    return Status::OK();
  };
  // With two or more threads a unit written in place is sent once its bytes
  // are durable, after the next unit is compressed (or before this rank stops
  // or ends): the writes, SHA-256 and fsync overlap the next unit's compute.
  // With one thread the writing is done in line: the writer would be a thread
  // beyond the rank's share of the node's cores. Messages keep their order.
  const bool write_behind = a.threads >= 2;
  struct Pending {
    WorkerMessage m;
    std::string name;
  };
  std::unique_ptr<Pending> pending;
  auto send_pending = [&]() -> Status {
    if (!pending) return Status::OK();
    std::unique_ptr<Pending> p = std::move(pending);
    Result<std::vector<TensorBlob>> records = in_place->Wait();
    if (!records.ok()) return records.status().WithContext("unit " + p->name + ": ");
    p->m.blobs = std::move(*records);
    SHARDQ_TRACE(t.rank(), "unit %s written in place", p->name.c_str());
    return send_unit(p->m, p->name);
  };
  for (int64_t index : job.units) {
    if (StopAsked(t)) {
      SHARDQ_RETURN_IF_ERROR(send_pending());
      return StoppedStatus();
    }
    // SHARDQ_FAULT_WORKER_THROW=1: the process's first unit throws, as a bug
    // would (tests that the embedded worker's guard fails only that job).
    static std::atomic<bool> thrown{false};
    if (EnvInt("SHARDQ_FAULT_WORKER_THROW", 0) == 1 && !thrown.exchange(true))
      throw std::runtime_error("fault injection: an exception in the unit loop");
    const Unit& unit = plan.units[index];
    const auto start = std::chrono::steady_clock::now();
    Result<UnitOutput> out = stages->CompressUnit(index);
    if (!out.ok()) return out.status().WithContext("unit " + unit.name + ": ");
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    SHARDQ_TRACE(t.rank(), "unit %s compressed in %.3f s", unit.name.c_str(), seconds);
    SHARDQ_RETURN_IF_ERROR(send_pending());
    if (!out->products.empty()) {
      WorkerMessage p;
      p.kind = WorkerMessage::kProducts;
      p.unit = index;
      p.products = std::move(out->products);
      SHARDQ_RETURN_IF_ERROR(t.Send(0, kTagUnitResult, EncodeWorkerMessage(p)));
    }
    WorkerMessage m;
    m.kind = WorkerMessage::kUnit;
    m.unit = index;
    m.seconds = seconds;
    m.source_fingerprints = std::move(out->source_fingerprints);
    if (in_place && write_behind) {
      in_place->Start(std::move(out->blobs));
      pending.reset(new Pending{std::move(m), unit.name});
      continue;
    }
    m.blobs = std::move(out->blobs);
    if (in_place) {
      SHARDQ_RETURN_IF_ERROR(in_place->Place(&m.blobs).WithContext("unit " + unit.name + ": "));
      SHARDQ_TRACE(t.rank(), "unit %s written in place", unit.name.c_str());
    }
    SHARDQ_RETURN_IF_ERROR(send_unit(m, unit.name));
  }
  SHARDQ_RETURN_IF_ERROR(send_pending());
  return Status::OK();
}

}  // namespace

Status RunWorker(Transport& t, const RankStagesFactory& factory) {
  int units_sent = 0;
  for (;;) {
    std::vector<uint8_t> payload;
    SHARDQ_RETURN_IF_ERROR(t.Recv(0, kTagJob, &payload, nullptr));
    if (payload.empty()) return Status::OK();  // exit
    WorkerMessage done;
    done.kind = WorkerMessage::kDone;
    DropStaleStops(t);
    Result<JobAssignment> a = DecodeAssignment(payload);
    Status st = a.ok() ? DoAssignment(t, *a, factory, &units_sent) : a.status();
    if (!st.ok()) done.error = "rank " + std::to_string(t.rank()) + ": " + st.message();
    SHARDQ_RETURN_IF_ERROR(t.Send(0, kTagUnitResult, EncodeWorkerMessage(done)));
  }
}

}  // namespace shardq
