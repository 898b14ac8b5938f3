// What rank 0 does with a bad message from a worker: a worker that reports an error,
// a message that does not decode, a unit index outside the plan. Each time the job
// ends failed (recorded in the state store, no artifact), the units committed before
// stay committed, and the next run resumes from them to a complete artifact.
// The real worker loop runs over the in-process transport; a wrapper around its end
// of the channel damages one message on its way to rank 0. Also: the calibration
// products a failed job left behind are handed to its rerun, which writes the
// bytes of a clean run.
#include <catch2/catch.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include "runtime/job_messages.h"
#include "coordinator/job/job_runner.h"
#include "coordinator/store/state_store.h"
#include "runtime/transport.h"
#include "runtime/rank_loop.h"
#include "worker/llama_rank_stages.h"
#include "tests/unit/test_util.h"

using namespace shardq;
namespace fs = std::filesystem;

namespace {

// The worker's end of the channel; `tamper` sees every unit result and "done" message
// the worker sends and may change it or drop it (return false).
class TamperingTransport : public Transport {
 public:
  TamperingTransport(Transport& inner, std::function<bool(std::vector<uint8_t>*)> tamper)
      : inner_(inner), tamper_(std::move(tamper)) {}
  int rank() const override { return inner_.rank(); }
  int size() const override { return inner_.size(); }
  Status Send(int dest, int tag, const std::vector<uint8_t>& payload) override {
    if (tag != kTagUnitResult) return inner_.Send(dest, tag, payload);
    std::vector<uint8_t> p = payload;
    if (!tamper_(&p)) return Status::OK();
    return inner_.Send(dest, tag, p);
  }
  Status Recv(int source, int tag, std::vector<uint8_t>* payload, int* from) override {
    if (tag == kTagSeed) ++seeds_received;
    return inner_.Recv(source, tag, payload, from);
  }
  int seeds_received = 0;  // stored calibration products handed to the worker
  bool Probe(int source, int tag) override { return inner_.Probe(source, tag); }
  void Abort(int exit_code) override { inner_.Abort(exit_code); }

 private:
  Transport& inner_;
  std::function<bool(std::vector<uint8_t>*)> tamper_;
};

// One embedded run (rank 0 + one worker thread), as `shardq run` does it.
Result<RunSummary> RunOnce(const RunOptions& o, std::function<bool(std::vector<uint8_t>*)> tamper,
                           int* seeds_received = nullptr) {
  std::vector<std::unique_ptr<Transport>> pair = MakeInProcessPair();
  TamperingTransport worker_end(*pair[1], std::move(tamper));
  Status worker_status;
  std::thread worker([&] { worker_status = RunWorker(worker_end, MakeLlamaRankStages); });
  Result<RunSummary> r = RunCoordinator(*pair[0], o);
  pair[0]->Send(1, kTagJob, {});  // dismiss the worker
  worker.join();
  if (seeds_received) *seeds_received = worker_end.seeds_received;
  return r;
}

bool IsUnit(const std::vector<uint8_t>& p) { return !p.empty() && p[0] == WorkerMessage::kUnit; }

}  // namespace

TEST_CASE("run: a worker's error, an undecodable message, an unknown unit fail the job, which then resumes",
          "[run]") {
  enum Fault { kWorkerError, kUndecodable, kUnknownUnit };
  const Fault fault = GENERATE(kWorkerError, kUndecodable, kUnknownUnit);
  const char* names[] = {"worker error", "undecodable message", "unknown unit"};
  INFO(names[fault]);
  const std::string dir = testing::MakeTempDir("worker_faults");
  const std::string spec = dir + "/job.yaml";
  std::ofstream(spec) << "job_id: faults\nmodel: " << testing::SharedPath("models/stories260K") << "\n"
                      << "output: { path: " << dir << "/out.gguf }\n"
                      << "recipe:\n  quantize: { preset: Q8_0, algorithm: rtn }\n";
  RunOptions o;
  o.spec_path = spec;
  o.state_override = dir + "/state";
  o.threads = 1;
  o.quiet = true;

  int units_seen = 0;
  auto tamper = [&](std::vector<uint8_t>* p) {
    if (!IsUnit(*p)) {
      if (fault != kWorkerError) return true;
      WorkerMessage done;
      done.kind = WorkerMessage::kDone;
      done.error = "rank 1: injected: disk full";
      *p = EncodeWorkerMessage(done);
      return true;
    }
    ++units_seen;
    if (fault == kWorkerError) return units_seen <= 2;  // two units arrive, then the error
    if (units_seen != 3) return true;                   // the third unit is damaged
    if (fault == kUndecodable) {
      p->resize(p->size() / 2);
    } else {
      const int64_t bad = 999;
      std::memcpy(p->data() + 1, &bad, sizeof(bad));  // the unit index follows the kind byte
    }
    return true;
  };
  Result<RunSummary> failed = RunOnce(o, tamper);
  REQUIRE_FALSE(failed.ok());
  const std::string why = failed.status().message();
  INFO(why);
  switch (fault) {
    case kWorkerError: CHECK_THAT(why, Catch::Contains("injected: disk full")); break;
    case kUndecodable: CHECK_THAT(why, Catch::Contains("rank 1")); break;
    case kUnknownUnit: CHECK_THAT(why, Catch::Contains("rank 1 sent unknown unit 999")); break;
  }
  CHECK_FALSE(fs::exists(dir + "/out.gguf"));
  {
    auto store = StateStore::Open(dir + "/state");
    REQUIRE(store.ok());
    auto job = (*store)->GetJob("faults");
    REQUIRE(job.ok());
    REQUIRE(job->has_value());
    CHECK((*job)->state == JobState::kFailed);
    CHECK((*job)->error == why);
    auto units = (*store)->ListUnits("faults");
    REQUIRE(units.ok());
    // Every good unit that arrived is committed: 2 before the error, or all but the damaged one.
    CHECK(static_cast<int64_t>(units->size()) == (fault == kWorkerError ? 2 : (*job)->n_units - 1));
  }

  Result<RunSummary> resumed = RunOnce(o, [](std::vector<uint8_t>*) { return true; });
  REQUIRE(resumed.ok());
  CHECK(resumed->units_reused == (fault == kWorkerError ? 2 : resumed->units_total - 1));
  CHECK(resumed->units_computed == resumed->units_total - resumed->units_reused);
  CHECK(fs::exists(dir + "/out.gguf"));
  {
    auto store = StateStore::Open(dir + "/state");
    REQUIRE(store.ok());
    auto job = (*store)->GetJob("faults");
    REQUIRE(job.ok());
    REQUIRE(job->has_value());
    CHECK((*job)->state == JobState::kDone);
  }
  fs::remove_all(dir);
}

TEST_CASE("run: calibration products of a failed job are handed to its rerun, which writes a clean run's bytes",
          "[run][products][asan-slow]") {
  const std::string algorithm = GENERATE(std::string("imatrix"), std::string("gptq"));
  INFO(algorithm);
  const std::string dir = testing::MakeTempDir("calib_products");
  auto spec_for = [&](const std::string& job_id) {
    const std::string spec = dir + "/" + job_id + ".yaml";
    std::ofstream(spec) << "job_id: " << job_id << "\nmodel: " << testing::SharedPath("models/stories260K") << "\n"
                        << "output: { path: " << dir << "/" << job_id << ".gguf }\n"
                        << "recipe:\n  quantize: { preset: Q4_0, algorithm: " << algorithm << " }\n"
                        << "calibration: { text: " << testing::SharedPath("corpus/tinystories-calib.txt")
                        << ", samples: 4, seq_len: 64 }\n";
    RunOptions o;
    o.spec_path = spec;
    o.state_override = dir + "/state-" + job_id;
    o.threads = 1;
    o.quiet = true;
    return o;
  };
  const RunOptions clean = spec_for("clean");
  REQUIRE(RunOnce(clean, [](std::vector<uint8_t>*) { return true; }).ok());

  // stories260K: units 0 (embeddings), 1..5 (blocks 0..4), 6 (head). Two unit
  // results arrive damaged, so the job fails with those two uncommitted; under
  // imatrix the statistics of the first of them are lost too.
  const int64_t damaged_a = algorithm == "imatrix" ? 2 : 3, damaged_b = 5;
  const RunOptions o = spec_for("faulty");
  auto unit_of = [](const std::vector<uint8_t>& p) {
    int64_t u = -1;
    if (p.size() >= 9) std::memcpy(&u, p.data() + 1, sizeof(u));
    return u;
  };
  auto tamper = [&](std::vector<uint8_t>* p) {
    if (!p->empty() && (*p)[0] == WorkerMessage::kProducts) return !(algorithm == "imatrix" && unit_of(*p) == damaged_a);
    if (IsUnit(*p) && (unit_of(*p) == damaged_a || unit_of(*p) == damaged_b)) p->resize(p->size() / 2);
    return true;
  };
  REQUIRE_FALSE(RunOnce(o, tamper).ok());

  int seeds = 0;
  Result<RunSummary> resumed = RunOnce(o, [](std::vector<uint8_t>*) { return true; }, &seeds);
  REQUIRE(resumed.ok());
  CHECK(resumed->units_computed == 2);
  // imatrix: unit 5's statistics (unit 2's were lost: it is calibrated again);
  // gptq: the states entering block 2 (left by unit 2), where the pass restarts.
  CHECK(seeds == 1);
  CHECK(testing::ReadFileBytes(dir + "/faulty.gguf") == testing::ReadFileBytes(dir + "/clean.gguf"));
  // A done job keeps no products.
  auto store = StateStore::Open(o.state_override);
  REQUIRE(store.ok());
  for (const std::string key : {"unit-stats/000005", "block-input/000002"}) {
    auto kept = (*store)->GetStats("faulty", key);
    REQUIRE(kept.ok());
    CHECK_FALSE(kept->has_value());
  }
}
