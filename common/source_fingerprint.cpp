#include "common/source_fingerprint.h"

#include <algorithm>
#include <vector>

#include "common/crc32c.h"
#include "common/thread_pool.h"

namespace shardq {
namespace {

// Piece CRCs of data[0, n_pieces * kPiece), four at a time.
void PieceCrcs(const uint8_t* data, size_t n_pieces, uint32_t* out) {
  constexpr size_t kP = SourceFingerprint::kPiece;
  size_t i = 0;
  for (; i + 4 <= n_pieces; i += 4) {
    const uint8_t* p[4] = {data + i * kP, data + (i + 1) * kP, data + (i + 2) * kP, data + (i + 3) * kP};
    Crc32cX4(p, kP, out + i);
  }
  for (; i < n_pieces; ++i) out[i] = Crc32c(data + i * kP, kP);
}

}  // namespace

void SourceFingerprint::AddPiece(uint32_t crc) {
  const uint8_t le[4] = {static_cast<uint8_t>(crc), static_cast<uint8_t>(crc >> 8), static_cast<uint8_t>(crc >> 16),
                         static_cast<uint8_t>(crc >> 24)};
  pieces_crc_ = Crc32c(le, 4, pieces_crc_);
}

void SourceFingerprint::Update(const uint8_t* data, size_t n) {
  total_ += n;
  if (partial_len_ > 0) {  // finish the piece a previous chunk started
    const size_t take = std::min(n, kPiece - partial_len_);
    partial_crc_ = Crc32c(data, take, partial_crc_);
    partial_len_ += take;
    data += take;
    n -= take;
    if (partial_len_ < kPiece) return;
    AddPiece(partial_crc_);
    partial_crc_ = 0;
    partial_len_ = 0;
  }
  const size_t whole = n / kPiece;
  uint32_t crcs[64];
  for (size_t done = 0; done < whole;) {
    const size_t batch = std::min<size_t>(64, whole - done);
    PieceCrcs(data + done * kPiece, batch, crcs);
    for (size_t i = 0; i < batch; ++i) AddPiece(crcs[i]);
    done += batch;
  }
  data += whole * kPiece;
  n -= whole * kPiece;
  if (n > 0) {
    partial_crc_ = Crc32c(data, n);
    partial_len_ = n;
  }
}

uint32_t SourceFingerprint::Finish() {
  if (partial_len_ > 0) AddPiece(partial_crc_);
  partial_len_ = 0;
  uint8_t le[8];
  for (int i = 0; i < 8; ++i) le[i] = static_cast<uint8_t>(total_ >> (8 * i));
  return Crc32c(le, 8, pieces_crc_);
}

uint32_t FingerprintBytes(const uint8_t* data, size_t n, ThreadPool* pool) {
  const size_t whole = n / SourceFingerprint::kPiece;
  std::vector<uint32_t> crcs(whole);
  auto run = [&](int64_t begin, int64_t end) {
    PieceCrcs(data + begin * SourceFingerprint::kPiece, static_cast<size_t>(end - begin), crcs.data() + begin);
  };
  if (pool && whole >= 64) pool->ParallelFor(static_cast<int64_t>(whole), 16, run);
  else run(0, static_cast<int64_t>(whole));
  // The same fold as the streaming path, so both give one value.
  std::vector<uint8_t> le(whole * 4);
  for (size_t i = 0; i < whole; ++i)
    for (int b = 0; b < 4; ++b) le[i * 4 + b] = static_cast<uint8_t>(crcs[i] >> (8 * b));
  uint32_t pieces_crc = Crc32c(le.data(), le.size());
  const size_t tail = n - whole * SourceFingerprint::kPiece;
  if (tail > 0) {
    const uint32_t c = Crc32c(data + whole * SourceFingerprint::kPiece, tail);
    const uint8_t t[4] = {static_cast<uint8_t>(c), static_cast<uint8_t>(c >> 8), static_cast<uint8_t>(c >> 16),
                          static_cast<uint8_t>(c >> 24)};
    pieces_crc = Crc32c(t, 4, pieces_crc);
  }
  uint8_t len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(static_cast<uint64_t>(n) >> (8 * i));
  return Crc32c(len, 8, pieces_crc);
}

}  // namespace shardq
