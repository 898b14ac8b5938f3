// How the coordinator and the workers talk: byte messages with a tag between
// ranks. Two implementations: MPI (one process per rank, under mpirun) and in
// process (the embedded default: the worker is a thread of the same process), so
// the job's logic and its bytes are the same for 1 and N ranks. Only the thread
// that created an MPI transport may call it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"

namespace shardq {

enum MessageTag : int {
  kTagJob = 1,         // rank 0 -> worker: the job assignment
  kTagUnitResult = 2,  // worker -> rank 0: one unit's packed tensors
  kTagWorkerDone = 3,  // worker -> rank 0: finished (or failed, with the reason)
  kTagActivations = 4, // worker -> next worker: calibration hidden states
  kTagStop = 5,        // rank 0 -> worker: stop at the next unit boundary (SIGTERM/SIGINT)
  kTagSeed = 6,        // rank 0 -> worker: stored activations its calibration stage starts from
};

class Transport {
 public:
  static constexpr int kAnySource = -1;
  virtual ~Transport() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual Status Send(int dest, int tag, const std::vector<uint8_t>& payload) = 0;
  // Waits for a message with `tag` from `source` (or any). Polls with short
  // sleeps, so a waiting rank does not spin a core the workers need.
  virtual Status Recv(int source, int tag, std::vector<uint8_t>* payload, int* from) = 0;
  // Without waiting: whether a message with `tag` from `source` (or any) is there to Recv.
  virtual bool Probe(int source, int tag) = 0;
  // Ends every rank of the job at once (MPI_Abort): for a coordinator that
  // fails while workers may be blocked sending to it. In process: nothing to do.
  virtual void Abort(int exit_code) = 0;
};

// True when this process was started by mpirun/mpiexec (Open MPI or PMI env).
bool LaunchedUnderMpi();
// MPI_Init_thread(FUNNELED) on first use; MPI_Finalize when the last one is destroyed.
Result<std::unique_ptr<Transport>> MakeMpiTransport();
// Processes of this job on this node (for sizing thread pools): OMPI's local size, else 1.
int LocalRankCount();

// Two endpoints of an in-process channel: [0] is rank 0, [1] is rank 1.
std::vector<std::unique_ptr<Transport>> MakeInProcessPair();

}  // namespace shardq
