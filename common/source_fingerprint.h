// A content fingerprint of a source tensor's stored bytes, so that a resumed
// job reuses a unit only if the weights it was computed from are the ones on
// disk now (same names and shapes are not enough: a re-exported or fine-tuned
// model keeps both). It is computed where the bytes are read anyway (the
// worker's read of each tensor; see TensorSource::ReadF32) and must cost next
// to nothing there, hence:
//
//   fingerprint = CRC-32C( le32 crc(piece 0) ‖ le32 crc(piece 1) ‖ … ‖ le64 total bytes )
//
// where the pieces are the tensor's bytes cut every 64 KiB from its start (the
// last one shorter) and crc() is CRC-32C. Independent pieces let four CRC
// streams run interleaved (Crc32cX4), ~3x one stream, and let a reader feed the
// bytes in chunks of any size. docs/formats.md has the same definition.
#pragma once

#include <cstddef>
#include <cstdint>

namespace shardq {

class ThreadPool;

class SourceFingerprint {
 public:
  static constexpr size_t kPiece = 64 << 10;

  // Feeds the next `n` bytes of the tensor.
  void Update(const uint8_t* data, size_t n);
  // The fingerprint of everything fed (the object is then spent).
  uint32_t Finish();

 private:
  void AddPiece(uint32_t crc);

  uint32_t pieces_crc_ = 0;    // running CRC-32C over the le32 piece CRCs
  uint32_t partial_crc_ = 0;   // CRC of the current, unfinished piece
  size_t partial_len_ = 0;
  uint64_t total_ = 0;
};

// The fingerprint of a whole buffer, its pieces spread over `pool` (may be null).
uint32_t FingerprintBytes(const uint8_t* data, size_t n, ThreadPool* pool);

}  // namespace shardq
