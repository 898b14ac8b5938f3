// A job on rank 0 as three steps, so whoever owns the transport drives it:
// `shardq run` (RunCoordinator, job_runner.h) and the service's main thread.
//   Plan       validate, plan units and types, open the state store, reuse
//              committed units, lay out the artifact: the assignment to send
//   OnMessage  one worker message: a unit (committed on the commit queue's
//              thread), calibration products, or a worker's "done"
//   Finish     once every worker is done: assemble, evaluate, record the outcome
// A stop (SIGTERM/SIGINT, or RunOptions::cancel) is the driver's to relay;
// Finish then reports Cancelled with every committed unit durable.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/job_spec.h"
#include "common/model.h"
#include "common/output_lock.h"
#include "common/recipe.h"
#include "common/status.h"
#include "common/thread_pool.h"
#include "coordinator/artifact/artifact_builder.h"
#include "coordinator/job/calibration_resume.h"
#include "coordinator/job/commit_queue.h"
#include "coordinator/job/job_runner.h"
#include "coordinator/job/progress_bar.h"
#include "coordinator/store/state_store.h"
#include "runtime/job_messages.h"
#include "runtime/unit_plan.h"

namespace shardq {

class JobRun {
 public:
  // Everything before the workers are involved. Workers are ranks 1..n_workers.
  static Result<std::unique_ptr<JobRun>> Plan(const RunOptions& options, int n_workers);
  ~JobRun();
  JobRun(const JobRun&) = delete;
  JobRun& operator=(const JobRun&) = delete;

  // To send before the first message: this to every worker rank (kTagJob) ...
  const std::vector<uint8_t>& assignment() const { return assignment_bytes_; }
  // ... then these (kTagSeed: stored calibration products for a resumed rank).
  std::vector<std::pair<int, std::vector<uint8_t>>> TakeSeeds();

  // One kTagUnitResult payload. A worker's or a unit's error becomes the job's
  // error (the run goes on until every worker has said done); a returned error
  // is rank 0's own (the state store refused a write).
  Status OnMessage(std::vector<uint8_t> payload, int from);
  // Workers that have not said done yet.
  int workers_waiting() const { return waiting_; }
  // A stop asked of this run: a signal to this process or the cancel flag.
  bool StopRequested() const;

  // Once workers_waiting() is 0.
  Result<RunSummary> Finish();

  const std::string& job_id() const { return sum_.job_id; }

 private:
  JobRun() = default;
  Status Commit(WorkerMessage& m, int from);  // on the commit queue's thread
  void Phase(const char* name) const;

  RunOptions o_;
  std::chrono::steady_clock::time_point start_;
  JobSpec spec_;
  Recipe recipe_;
  Model model_;
  std::vector<TensorInfo> ordered_;
  JobAssignment a_;
  UnitPlan plan_;
  RunSummary sum_;
  bool run_eval_ = false;
  std::string inputs_fingerprint_;
  std::unique_ptr<ThreadPool> pool_;
  std::unique_ptr<OutputLock> output_lock_;
  std::unique_ptr<StateStore> store_;
  std::unique_ptr<ArtifactBuilder> artifact_;
  CalibrationResume calib_resume_;
  std::vector<uint8_t> assignment_bytes_;
  bool compressing_ = false;
  int waiting_ = 0;
  std::string first_error_;
  std::unique_ptr<ProgressBar> bar_;
  bool log_lines_ = false;
  // Last: destroyed (drained and joined) before everything its commits touch.
  std::unique_ptr<CommitQueue> queue_;
};

}  // namespace shardq
