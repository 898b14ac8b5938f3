#include "coordinator/job/rank_layout.h"

#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

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

// The embedded worker: an exception must not escape a thread (std::terminate).
// It fails the job in hand (the coordinator hears "done" with the error) and
// the loop goes on, so a service keeps its worker for the next job.
void EmbeddedWorker(Transport& t, const char* command) {
  for (;;) {
    try {
      const Status st = RunWorker(t, MakeLlamaRankStages);
      if (!st.ok()) std::fprintf(stderr, "%s: worker: %s\n", command, st.message().c_str());
      return;
    } catch (const std::exception& e) {
      WorkerMessage done;
      done.kind = WorkerMessage::kDone;
      done.error = std::string("worker: ") + e.what();
      std::fprintf(stderr, "%s: %s\n", command, done.error.c_str());
      t.Send(0, kTagUnitResult, EncodeWorkerMessage(done));
    }
  }
}

}  // namespace

int RunOnRanks(const char* command, const std::function<CoordinatorExit(Transport&)>& coordinate) {
  if (LaunchedUnderMpi()) {
    Result<std::unique_ptr<Transport>> t = MakeMpiTransport();
    if (!t.ok()) {
      std::fprintf(stderr, "%s: %s\n", command, t.status().message().c_str());
      return 1;
    }
    Transport& mpi = **t;
    if (mpi.size() >= 2) {
      if (mpi.rank() != 0) {
        const Status st = RunWorker(mpi, MakeLlamaRankStages);
        if (!st.ok()) {
          std::fprintf(stderr, "%s: rank %d: %s\n", command, mpi.rank(), st.message().c_str());
          mpi.Abort(1);
        }
        MaybeReportPeakRss(mpi.rank());
        return 0;
      }
      const CoordinatorExit exit = coordinate(mpi);
      if (exit.abort_workers) {
        std::fflush(nullptr);
        mpi.Abort(exit.code == 0 ? 1 : exit.code);
      }
      DismissWorkers(mpi);
      MaybeReportPeakRss(0);
      return exit.code;
    }
    // mpirun -np 1: the embedded layout, as without mpirun.
  }
  std::vector<std::unique_ptr<Transport>> pair = MakeInProcessPair();
  std::thread worker([&] { EmbeddedWorker(*pair[1], command); });
  CoordinatorExit exit;
  try {
    exit = coordinate(*pair[0]);
  } catch (const std::exception& e) {  // the worker thread must still be joined
    std::fprintf(stderr, "%s: coordinator: %s\n", command, e.what());
    exit.code = 1;
  }
  DismissWorkers(*pair[0]);
  worker.join();
  MaybeReportPeakRss(0);
  return exit.code;
}

}  // namespace shardq
