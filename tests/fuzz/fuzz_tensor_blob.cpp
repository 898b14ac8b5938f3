// A tensor blob record (state-store value, MPI payload). The record's trailing
// CRC-32C is recomputed over the input first, else almost every mutation
// would stop at the checksum and the framing behind it would go unexplored.
#include <cstring>
#include <vector>

#include "common/crc32c.h"
#include "common/tensor_blob.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<uint8_t> rec(data, data + size);
  if (rec.size() >= 8) {
    const uint32_t crc = shardq::Crc32c(rec.data(), rec.size() - 4);
    std::memcpy(rec.data() + rec.size() - 4, &crc, 4);
  }
  (void)shardq::DecodeTensorBlob(rec.empty() ? nullptr : rec.data(), rec.size(), "blob");
  return 0;
}
