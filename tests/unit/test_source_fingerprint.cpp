// The source fingerprint (common/source_fingerprint.h) against a bitwise
// CRC-32C written here from the definition, on one thread and split over a pool.
#include <catch2/catch.hpp>

#include <random>
#include <vector>

#include "common/crc32c.h"
#include "common/source_fingerprint.h"
#include "common/thread_pool.h"

using namespace shardq;

namespace {

// Bit by bit, reflected polynomial 0x82F63B78: no table, no instruction.
uint32_t BitwiseCrc32c(const uint8_t* p, size_t n, uint32_t crc = 0) {
  crc = ~crc;
  for (size_t i = 0; i < n; ++i) {
    crc ^= p[i];
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
  }
  return ~crc;
}

uint32_t ReferenceFingerprint(const std::vector<uint8_t>& b) {
  constexpr size_t kPiece = 64 << 10;
  std::vector<uint8_t> list;
  for (size_t at = 0; at < b.size(); at += kPiece) {
    const uint32_t c = BitwiseCrc32c(b.data() + at, std::min(kPiece, b.size() - at));
    for (int i = 0; i < 4; ++i) list.push_back(static_cast<uint8_t>(c >> (8 * i)));
  }
  const uint64_t n = b.size();
  for (int i = 0; i < 8; ++i) list.push_back(static_cast<uint8_t>(n >> (8 * i)));
  return BitwiseCrc32c(list.data(), list.size());
}

}  // namespace

TEST_CASE("crc32c: the check value and four interleaved streams", "[fingerprint]") {
  const std::string check = "123456789";
  CHECK(Crc32c(check.data(), check.size()) == 0xE3069283u);  // RFC 3720's check value
  std::mt19937 rng(5);
  for (size_t n : {size_t(0), size_t(7), size_t(8), size_t(1000), size_t(65536 + 3)}) {
    std::vector<uint8_t> b(4 * n + 1);
    for (auto& x : b) x = static_cast<uint8_t>(rng());
    const uint8_t* p[4] = {b.data(), b.data() + n, b.data() + 2 * n, b.data() + 3 * n + 1};
    uint32_t out[4];
    Crc32cX4(p, n, out);
    for (int k = 0; k < 4; ++k) CHECK(out[k] == BitwiseCrc32c(p[k], n));
  }
}

TEST_CASE("source fingerprint: equals the definition, single and multi-threaded", "[fingerprint]") {
  std::mt19937 rng(11);
  ThreadPool pool(3);
  const size_t k = kFingerprintPiece;
  for (size_t n : {size_t(0), size_t(1), k - 1, k, k + 1, 4 * k, 5 * k + 17, 70 * k + 5}) {
    std::vector<uint8_t> b(n);
    for (auto& x : b) x = static_cast<uint8_t>(rng());
    const uint32_t want = ReferenceFingerprint(b);
    INFO("n = " << n);
    CHECK(FingerprintBytes(b.data(), n, nullptr) == want);
    CHECK(FingerprintBytes(b.data(), n, &pool) == want);
  }
  // One bit anywhere changes it; the length is part of it.
  std::vector<uint8_t> b(3 * k, 0);
  const uint32_t zero = FingerprintBytes(b.data(), b.size(), nullptr);
  b[2 * k + 5] = 1;
  CHECK(FingerprintBytes(b.data(), b.size(), nullptr) != zero);
  std::vector<uint8_t> shorter(3 * k - 1, 0);
  CHECK(FingerprintBytes(shorter.data(), shorter.size(), nullptr) != zero);
}
