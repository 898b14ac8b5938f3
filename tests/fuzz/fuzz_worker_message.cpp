// A worker's message to rank 0 (one unit's blobs, a unit's calibration
// products, or "done"). Blob records inside carry CRCs the fuzzer rarely
// matches; fuzz_tensor_blob covers them. The products decoders check their CRC
// first, so they also see the bytes with a matching CRC put at the end: the
// framing behind it gets fuzzed too (in this target: no extra CI time).
#include <cstring>
#include <vector>

#include "common/crc32c.h"
#include "runtime/block_input_product.h"
#include "runtime/job_messages.h"
#include "runtime/unit_stats_product.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<uint8_t> bytes(data, data + size);
  (void)shardq::DecodeWorkerMessage(bytes, 1);
  auto m = shardq::DecodeWorkerMessage(std::move(bytes), 1);
  if (!m.ok() || m->kind != shardq::WorkerMessage::kProducts) return 0;
  std::vector<uint8_t>& p = m->products;
  for (int sealed = 0; sealed < 2; ++sealed) {
    if (sealed && p.size() >= 4) {
      const uint32_t crc = shardq::Crc32c(p.data(), p.size() - 4);
      std::memcpy(p.data() + p.size() - 4, &crc, 4);
    }
    (void)shardq::DecodeBlockInputProduct(p.data(), p.size(), "fuzz");
    (void)shardq::DecodeUnitStatsProduct(p.data(), p.size(), "fuzz");
  }
  return 0;
}
