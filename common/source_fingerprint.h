// A content fingerprint of a source tensor's stored bytes, so that a resumed
// job reuses a unit only if the weights it was computed from are the ones on
// disk now (same names and shapes are not enough: a re-exported or fine-tuned
// model keeps both). Workers compute it over the mapped bytes just before they
// decode a tensor (worker/unit_compressor.cpp), rank 0 on resume; it must cost
// next to nothing beside the read, hence:
//
//   fingerprint = CRC-32C( le32 crc(piece 0) ‖ le32 crc(piece 1) ‖ … ‖ le64 total bytes )
//
// where the pieces are the tensor's bytes cut every 64 KiB from its start (the
// last one shorter) and crc() is CRC-32C. Independent pieces let four CRC
// streams run interleaved (Crc32cX4), ~3x one stream, and spread over threads.
// docs/formats.md has the same definition.
#pragma once

#include <cstddef>
#include <cstdint>

namespace shardq {

class ThreadPool;

constexpr size_t kFingerprintPiece = 64 << 10;

// The fingerprint of `n` bytes, its pieces spread over `pool` (may be null).
uint32_t FingerprintBytes(const uint8_t* data, size_t n, ThreadPool* pool);

}  // namespace shardq
