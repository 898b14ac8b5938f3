// Rank 0's job assignment to a worker (JSON), the typed recipe inside it
// included, and the recipe's canonical form encoded back.
#include <vector>

#include "runtime/job_messages.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto a = shardq::DecodeAssignment(std::vector<uint8_t>(data, data + size));
  if (!a.ok()) return 0;
  (void)shardq::EncodeAssignment(*a);
  return 0;
}
