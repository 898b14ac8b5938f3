#include "common/source_fingerprint.h"

#include <vector>

#include "common/byte_io.h"
#include "common/crc32c.h"
#include "common/thread_pool.h"

namespace shardq {
namespace {

// Piece CRCs of data[0, n_pieces * kFingerprintPiece), four at a time.
void PieceCrcs(const uint8_t* data, size_t n_pieces, uint32_t* out) {
  constexpr size_t kP = kFingerprintPiece;
  size_t i = 0;
  for (; i + 4 <= n_pieces; i += 4) {
    const uint8_t* p[4] = {data + i * kP, data + (i + 1) * kP, data + (i + 2) * kP, data + (i + 3) * kP};
    Crc32cX4(p, kP, out + i);
  }
  for (; i < n_pieces; ++i) out[i] = Crc32c(data + i * kP, kP);
}

}  // namespace

uint32_t FingerprintBytes(const uint8_t* data, size_t n, ThreadPool* pool) {
  const size_t whole = n / kFingerprintPiece, tail = n % kFingerprintPiece;
  std::vector<uint32_t> crcs(whole + (tail > 0 ? 1 : 0));
  auto run = [&](int64_t begin, int64_t end) {
    PieceCrcs(data + begin * kFingerprintPiece, static_cast<size_t>(end - begin), crcs.data() + begin);
  };
  if (pool && whole >= 64) pool->ParallelFor(static_cast<int64_t>(whole), 16, run);
  else run(0, static_cast<int64_t>(whole));
  if (tail > 0) crcs.back() = Crc32c(data + whole * kFingerprintPiece, tail);
  std::vector<uint8_t> list;  // le32 piece CRCs, then the le64 length
  AppendPods(&list, crcs);
  AppendPod<uint64_t>(&list, n);
  return Crc32c(list.data(), list.size());
}

}  // namespace shardq
