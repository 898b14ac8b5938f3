#include "coordinator/job/job_runner.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "common/stop_request.h"
#include "coordinator/job/job_run.h"
#include "coordinator/job/rank_layout.h"
#include "runtime/job_messages.h"

namespace shardq {

Result<RunSummary> RunCoordinator(Transport& t, const RunOptions& o) {
  SHARDQ_ASSIGN_OR_RETURN(std::unique_ptr<JobRun> run, JobRun::Plan(o, t.size() - 1));
  // Every worker gets the assignment (with an empty share it just reports done).
  for (int r = 1; r < t.size(); ++r) SHARDQ_RETURN_IF_ERROR(t.Send(r, kTagJob, run->assignment()));
  for (auto& [rank, bytes] : run->TakeSeeds()) SHARDQ_RETURN_IF_ERROR(t.Send(rank, kTagSeed, bytes));
  bool stop_relayed = false;
  while (run->workers_waiting() > 0) {
    // Wait for the next message, relaying a stop (SIGTERM/SIGINT to this rank,
    // or the service's cancel) to every worker: each finishes the unit in hand
    // and reports done.
    for (auto pause = std::chrono::microseconds(50); !t.Probe(Transport::kAnySource, kTagUnitResult);) {
      if (run->StopRequested() && !stop_relayed) {
        for (int r = 1; r < t.size(); ++r) SHARDQ_RETURN_IF_ERROR(t.Send(r, kTagStop, {}));
        stop_relayed = true;
      }
      // Backs off to 10 ms: a unit takes far longer, and each wake-up is a
      // context switch and an MPI progress call on a core the workers need
      // (2 ms cost rank 0 a fifth of its CPU on bench_scaling's rtn job).
      std::this_thread::sleep_for(pause);
      pause = std::min(pause * 2, std::chrono::microseconds(10000));
    }
    std::vector<uint8_t> payload;
    int from = 0;
    SHARDQ_RETURN_IF_ERROR(t.Recv(Transport::kAnySource, kTagUnitResult, &payload, &from));
    SHARDQ_RETURN_IF_ERROR(run->OnMessage(std::move(payload), from));
  }
  return run->Finish();
}

int RunJobCommand(const RunOptions& o) {
  InstallStopSignalHandlers();
  auto report = [&](const Result<RunSummary>& r) {
    if (!r.ok()) {
      std::fprintf(stderr, "shardq run: %s\n", r.status().message().c_str());
      // Stopped on request: the shell's convention for a signalled process, 128 + signal.
      if (r.status().code() == Status::Code::kCancelled && StopSignal() != 0) return 128 + StopSignal();
      return 1;
    }
    if (!o.quiet) {
      std::printf("job %s done: %lld units (%lld reused from the state store, %lld computed, %lld recovered, "
                  "%lld stale), %.2f s\n",
                  r->job_id.c_str(), (long long)r->units_total, (long long)r->units_reused,
                  (long long)r->units_computed, (long long)r->units_recovered, (long long)r->units_stale, r->seconds);
      std::printf("output: %s (%llu bytes, sha256 %s)\n", r->output_path.c_str(),
                  (unsigned long long)r->file_bytes, r->file_sha256.c_str());
      if (r->evaluated)
        std::printf("eval: PPL %.4f (source %.4f, %+.2f%%), mean KL %.6f, top-1 %.2f%% (%s.eval.json)\n", r->ppl,
                    r->ref_ppl, 100.0 * (r->ppl / r->ref_ppl - 1.0), r->kl_mean, r->top1_pct, r->output_path.c_str());
    }
    return 0;
  };

  return RunOnRanks("shardq run", [&](Transport& t) {
    Result<RunSummary> r = [&]() -> Result<RunSummary> {
      try {
        return RunCoordinator(t, o);
      } catch (const std::exception& e) {
        return Status::Internal(std::string("coordinator: ") + e.what());
      }
    }();
    CoordinatorExit exit;
    exit.code = report(r);
    // A failed job under mpirun may leave workers blocked mid-send: end it
    // whole rather than hang (a cancelled one has every worker done).
    exit.abort_workers = !r.ok() && r.status().code() != Status::Code::kCancelled;
    return exit;
  });
}

}  // namespace shardq
