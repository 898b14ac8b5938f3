// A worker's message to rank 0 (one unit's blobs, or "done"). Blob records
// inside carry CRCs the fuzzer rarely matches; fuzz_tensor_blob covers them.
#include <vector>

#include "runtime/job_messages.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)shardq::DecodeWorkerMessage(std::vector<uint8_t>(data, data + size), 1);
  return 0;
}
