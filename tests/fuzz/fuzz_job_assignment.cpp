// Rank 0's job assignment to a worker (JSON), and the quantization options a
// worker rebuilds from it.
#include <vector>

#include "coordinator/job_messages.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto a = shardq::DecodeAssignment(std::vector<uint8_t>(data, data + size));
  if (!a.ok()) return 0;
  (void)shardq::PlanOptionsOf(*a);
  return 0;
}
