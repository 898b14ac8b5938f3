// CRC-32C (Castagnoli), as used by RocksDB, iSCSI and ext4: checksums of blobs
// and statistics files. Hardware instruction (SSE4.2) when the CPU has it.
#pragma once

#include <cstddef>
#include <cstdint>

namespace shardq {

// Extends `crc` (0 to start) over `data`.
uint32_t Crc32c(const void* data, size_t n, uint32_t crc = 0);

}  // namespace shardq
