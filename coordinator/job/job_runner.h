// `shardq run JOB`: the job's lifecycle on rank 0 (plan -> [calibrate] ->
// compress -> assemble -> done), resumable from the state store, with the
// workers reached through a Transport: in process (embedded default) or MPI.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "common/status.h"
#include "runtime/transport.h"

namespace shardq {

struct RunOptions {
  std::string spec_path;
  std::string output_override;  // --out
  std::string state_override;   // --state
  int threads = 0;              // per worker; <= 0: the node's cores / local workers
  bool quiet = false;
  bool skip_eval = false;       // --no-eval: ignore the spec's eval section
  // The service's hooks (coordinator/service); unset for `shardq run`.
  // Set to true: stop as SIGTERM does (each rank finishes the unit in hand).
  const std::atomic<bool>* cancel = nullptr;
  // Called on the runner's threads: the phase as it changes ("planning",
  // "calibrating", "compressing", "assembling", "evaluating") and each
  // committed unit. They must not block.
  std::function<void(const std::string& phase)> on_phase;
  std::function<void(const struct UnitProgress&)> on_unit;
};

// One unit committed (RunOptions::on_unit).
struct UnitProgress {
  std::string unit;
  int rank = 0;            // the worker rank that computed it
  double seconds = 0;      // its compute time on that rank
  uint64_t packed_bytes = 0;
  int64_t done = 0;        // reused + computed so far
  int64_t total = 0;
};

struct RunSummary {
  std::string job_id;
  std::string output_path;
  std::string file_sha256;
  uint64_t file_bytes = 0;
  int64_t units_total = 0;
  int64_t units_reused = 0;    // committed by an earlier run, read back from the state store
  int64_t units_computed = 0;  // compressed by this run
  int64_t units_recovered = 0; // found corrupt in the store, dropped and recomputed
  int64_t units_stale = 0;     // committed from source bytes that have changed since, recomputed
  double seconds = 0;
  // The eval stage, when the spec has one.
  bool evaluated = false;
  double ppl = 0, ref_ppl = 0, kl_mean = 0, top1_pct = 0;
};

// Rank 0's side: drives a JobRun (job_run.h: plan, on-message, finish) over
// `transport`, which reaches the workers (ranks 1 .. size-1). `shardq run`
// and the service's main thread both call it.
Result<RunSummary> RunCoordinator(Transport& transport, const RunOptions& options);

// The whole command: embedded (coordinator + one worker thread) when not under
// mpirun, else rank 0 coordinates and the other ranks work. Returns the exit code.
int RunJobCommand(const RunOptions& options);

}  // namespace shardq
