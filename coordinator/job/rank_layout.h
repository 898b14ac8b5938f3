// The rank layout `shardq run` and `shardq serve` share. Under mpirun with two
// or more ranks, ranks 1.. run the worker loop (runtime/rank_loop.h) until
// rank 0 dismisses them, and rank 0 runs the command's coordinator. Otherwise
// (no mpirun, or -np 1) one worker runs as a thread of this process over an
// in-process transport. Either way the workers are dismissed when the
// coordinator returns.
#pragma once

#include <functional>

#include "runtime/transport.h"

namespace shardq {

struct CoordinatorExit {
  int code = 0;
  // Under mpirun: end the whole job at once (MPI_Abort) instead of dismissing
  // the workers, which may be blocked mid-send after a failed job.
  bool abort_workers = false;
};

// `command` prefixes messages ("shardq run"). A worker thread's exception
// becomes a failed job (its coordinator is told, so it does not wait for a
// worker that is gone) and the thread takes the next job; a worker rank's
// error aborts the MPI job. Each rank reports its peak RSS and CPU when
// SHARDQ_REPORT_RSS is set. Returns the process's exit code.
int RunOnRanks(const char* command, const std::function<CoordinatorExit(Transport&)>& coordinate);

}  // namespace shardq
