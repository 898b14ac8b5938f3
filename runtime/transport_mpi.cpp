#include <mpi.h>

#include <chrono>
#include <climits>
#include <cstdlib>
#include <thread>

#include "runtime/transport.h"

namespace shardq {
namespace {

int g_live_transports = 0;

class MpiTransport : public Transport {
 public:
  MpiTransport() {
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
  }
  ~MpiTransport() override {
    if (--g_live_transports == 0) MPI_Finalize();
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  void Abort(int exit_code) override { MPI_Abort(MPI_COMM_WORLD, exit_code); }

  Status Send(int dest, int tag, const std::vector<uint8_t>& payload) override {
    if (payload.size() > static_cast<size_t>(INT_MAX))
      return Status::Unsupported("MPI message of " + std::to_string(payload.size()) + " bytes is over 2 GiB");
    const int rc = MPI_Send(payload.data(), static_cast<int>(payload.size()), MPI_BYTE, dest, tag, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) return Status::IOError("MPI_Send to rank " + std::to_string(dest) + " failed");
    return Status::OK();
  }

  bool Probe(int source, int tag) override {
    int flag = 0;
    MPI_Iprobe(source == kAnySource ? MPI_ANY_SOURCE : source, tag, MPI_COMM_WORLD, &flag, MPI_STATUS_IGNORE);
    return flag != 0;
  }

  Status Recv(int source, int tag, std::vector<uint8_t>* payload, int* from) override {
    MPI_Status st;
    int flag = 0;
    auto sleep = std::chrono::microseconds(50);
    for (;;) {
      MPI_Iprobe(source == kAnySource ? MPI_ANY_SOURCE : source, tag, MPI_COMM_WORLD, &flag, &st);
      if (flag) break;
      // Back off up to 2 ms: an idle coordinator must not take a core from the workers.
      std::this_thread::sleep_for(sleep);
      sleep = std::min(sleep * 2, std::chrono::microseconds(2000));
    }
    int count = 0;
    MPI_Get_count(&st, MPI_BYTE, &count);
    payload->resize(count);
    const int rc = MPI_Recv(payload->data(), count, MPI_BYTE, st.MPI_SOURCE, tag, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    if (rc != MPI_SUCCESS) return Status::IOError("MPI_Recv from rank " + std::to_string(st.MPI_SOURCE) + " failed");
    if (from) *from = st.MPI_SOURCE;
    return Status::OK();
  }

 private:
  int rank_ = 0, size_ = 1;
};

}  // namespace

bool LaunchedUnderMpi() {
  return std::getenv("OMPI_COMM_WORLD_SIZE") || std::getenv("PMI_SIZE") || std::getenv("PMIX_RANK");
}

int LocalRankCount() {
  if (const char* s = std::getenv("OMPI_COMM_WORLD_LOCAL_SIZE")) return std::max(1, std::atoi(s));
  return 1;
}

Result<std::unique_ptr<Transport>> MakeMpiTransport() {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    int provided = 0;
    if (MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
      return Status::IOError("MPI_Init_thread failed");
  }
  ++g_live_transports;
  return std::unique_ptr<Transport>(new MpiTransport());
}

}  // namespace shardq
