// The calibration statistics file. Its trailing CRC-32C is recomputed over the
// input first, so that mutations reach the entry framing behind the checksum.
#include <cstring>
#include <vector>

#include "common/crc32c.h"
#include "worker/calibration_stats.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<uint8_t> file(data, data + size);
  if (file.size() >= 8) {
    const uint32_t crc = shardq::Crc32c(file.data(), file.size() - 4);
    std::memcpy(file.data() + file.size() - 4, &crc, 4);
  }
  (void)shardq::CalibrationStats::Decode(file.data(), file.size(), "stats.bin");
  return 0;
}
