#include "common/crc32c.h"

#include <array>

namespace shardq {
namespace {

constexpr uint32_t kPoly = 0x82f63b78;  // reflected Castagnoli polynomial

std::array<uint32_t, 256> MakeTable() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ kPoly : c >> 1;
    t[i] = c;
  }
  return t;
}

uint32_t Software(const uint8_t* p, size_t n, uint32_t crc) {
  static const std::array<uint32_t, 256> table = MakeTable();
  for (size_t i = 0; i < n; ++i) crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
  return crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) uint32_t Hardware(const uint8_t* p, size_t n, uint32_t crc) {
  uint64_t c = crc;
  while (n >= 8) {
    uint64_t v;
    __builtin_memcpy(&v, p, 8);
    c = __builtin_ia32_crc32di(c, v);
    p += 8;
    n -= 8;
  }
  uint32_t c32 = static_cast<uint32_t>(c);
  while (n--) c32 = __builtin_ia32_crc32qi(c32, *p++);
  return c32;
}

__attribute__((target("sse4.2"))) void HardwareX4(const uint8_t* const data[4], size_t n, uint32_t out[4]) {
  uint64_t c0 = ~0u, c1 = ~0u, c2 = ~0u, c3 = ~0u;
  const uint8_t *p0 = data[0], *p1 = data[1], *p2 = data[2], *p3 = data[3];
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t v0, v1, v2, v3;
    __builtin_memcpy(&v0, p0 + i, 8);
    __builtin_memcpy(&v1, p1 + i, 8);
    __builtin_memcpy(&v2, p2 + i, 8);
    __builtin_memcpy(&v3, p3 + i, 8);
    c0 = __builtin_ia32_crc32di(c0, v0);
    c1 = __builtin_ia32_crc32di(c1, v1);
    c2 = __builtin_ia32_crc32di(c2, v2);
    c3 = __builtin_ia32_crc32di(c3, v3);
  }
  uint32_t c[4] = {static_cast<uint32_t>(c0), static_cast<uint32_t>(c1), static_cast<uint32_t>(c2),
                   static_cast<uint32_t>(c3)};
  for (int k = 0; k < 4; ++k) {
    for (size_t j = i; j < n; ++j) c[k] = __builtin_ia32_crc32qi(c[k], data[k][j]);
    out[k] = ~c[k];
  }
}
#endif

}  // namespace

void Crc32cX4(const uint8_t* const data[4], size_t n, uint32_t out[4]) {
#if defined(__x86_64__)
  static const bool hw = __builtin_cpu_supports("sse4.2");
  if (hw) {
    HardwareX4(data, n, out);
    return;
  }
#endif
  for (int k = 0; k < 4; ++k) out[k] = Crc32c(data[k], n);
}

uint32_t Crc32c(const void* data, size_t n, uint32_t crc) {
  const auto* p = static_cast<const uint8_t*>(data);
  crc = ~crc;
#if defined(__x86_64__)
  static const bool hw = __builtin_cpu_supports("sse4.2");
  crc = hw ? Hardware(p, n, crc) : Software(p, n, crc);
#else
  crc = Software(p, n, crc);
#endif
  return ~crc;
}

}  // namespace shardq
