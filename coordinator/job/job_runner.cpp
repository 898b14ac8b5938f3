#include "coordinator/job/job_runner.h"

#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "common/stop_request.h"
#include "coordinator/job/job_run.h"
#include "runtime/job_messages.h"
#include "runtime/rank_loop.h"
#include "worker/llama_rank_stages.h"

namespace shardq {
namespace {

// Tells every worker to leave its loop (an empty job assignment).
void DismissWorkers(Transport& t) {
  for (int r = 1; r < t.size(); ++r) t.Send(r, kTagJob, {});
}

// SHARDQ_REPORT_RSS set: one parseable line per process for bench_scaling,
// which cannot see per-rank peaks through mpirun's own rusage.
void MaybeReportPeakRss(int rank) {
  if (std::getenv("SHARDQ_REPORT_RSS") == nullptr) return;
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  std::fprintf(stderr, "shardq: rank %d peak RSS %ld KiB, CPU %.2f s user %.2f s system\n", rank, ru.ru_maxrss,
               ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6, ru.ru_stime.tv_sec + ru.ru_stime.tv_usec * 1e-6);
}

}  // namespace

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
      std::this_thread::sleep_for(pause);
      pause = std::min(pause * 2, std::chrono::microseconds(2000));
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

  if (LaunchedUnderMpi()) {
    Result<std::unique_ptr<Transport>> t = MakeMpiTransport();
    if (!t.ok()) {
      std::fprintf(stderr, "shardq run: %s\n", t.status().message().c_str());
      return 1;
    }
    Transport& mpi = **t;
    if (mpi.size() >= 2) {
      if (mpi.rank() != 0) {
        Status st = RunWorker(mpi, MakeLlamaRankStages);
        if (!st.ok()) {
          std::fprintf(stderr, "shardq run: rank %d: %s\n", mpi.rank(), st.message().c_str());
          mpi.Abort(1);
        }
        MaybeReportPeakRss(mpi.rank());
        return 0;
      }
      Result<RunSummary> r = RunCoordinator(mpi, o);
      if (!r.ok() && r.status().code() != Status::Code::kCancelled) {
        // Workers may be blocked mid-send: end the whole job rather than hang.
        report(r);
        std::fflush(nullptr);
        mpi.Abort(1);
      }
      DismissWorkers(mpi);
      MaybeReportPeakRss(0);
      return report(r);
    }
    // mpirun -np 1: the embedded layout, as without mpirun.
  }
  std::vector<std::unique_ptr<Transport>> pair = MakeInProcessPair();
  Status worker_status;
  std::thread worker([&] {
    // An exception must not escape a thread (std::terminate): it becomes the worker's error.
    try {
      worker_status = RunWorker(*pair[1], MakeLlamaRankStages);
    } catch (const std::exception& e) {
      worker_status = Status::Internal(std::string("worker: ") + e.what());
      WorkerMessage done;
      done.kind = WorkerMessage::kDone;
      done.error = worker_status.message();
      pair[1]->Send(0, kTagUnitResult, EncodeWorkerMessage(done));
    }
  });
  Result<RunSummary> r = [&]() -> Result<RunSummary> {
    try {
      return RunCoordinator(*pair[0], o);
    } catch (const std::exception& e) {  // the worker thread must still be joined
      return Status::Internal(std::string("coordinator: ") + e.what());
    }
  }();
  DismissWorkers(*pair[0]);
  worker.join();
  MaybeReportPeakRss(0);
  return report(r);
}

}  // namespace shardq
