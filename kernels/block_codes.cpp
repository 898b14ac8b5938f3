// Where each ggml weight format keeps its codes inside a block (block_codes.h).
#include "kernels/block_codes.h"

#include <cstring>

#include "kernels/block_structs.h"

namespace shardq::grid {
namespace {

// Q4_0/Q4_1/IQ4_NL and the low nibbles of Q5_0/Q5_1: value j in qs[j % 16], nibble j / 16.
void PutNibbles32(const int16_t* c, uint8_t* qs) {
  for (int j = 0; j < 16; ++j) qs[j] = static_cast<uint8_t>((c[j] & 0xF) | ((c[j + 16] & 0xF) << 4));
}
void GetNibbles32(const uint8_t* qs, int8_t* c) {
  for (int j = 0; j < 16; ++j) {
    c[j] = static_cast<int8_t>(qs[j] & 0xF);
    c[j + 16] = static_cast<int8_t>(qs[j] >> 4);
  }
}
// Bit 4 of Q5 value j in bit j of qh (little-endian uint32).
void PutQh32(const int16_t* c, uint8_t* qh_bytes) {
  uint32_t qh = 0;
  for (int j = 0; j < 32; ++j) qh |= static_cast<uint32_t>((c[j] >> 4) & 1) << j;
  std::memcpy(qh_bytes, &qh, 4);
}
void AddQh32(const uint8_t* qh_bytes, int8_t* c) {
  uint32_t qh;
  std::memcpy(&qh, qh_bytes, 4);
  for (int j = 0; j < 32; ++j) c[j] = static_cast<int8_t>(c[j] | (((qh >> j) & 1) << 4));
}

// 2-bit fields of the K-quants (Q2_K levels, Q3_K low bits): value p of a
// 256-block in byte 32 * (p / 128) + p % 32, bits 2 * ((p % 128) / 32).
inline int Pos2Bit(int p, int* shift) {
  *shift = 2 * ((p % 128) / 32);
  return 32 * (p / 128) + p % 32;
}
// Q4_K/Q5_K low nibbles: value p in byte 32 * (p / 64) + p % 32, high nibble if (p % 64) >= 32.
inline int Pos4Bit(int p, int* shift) {
  *shift = 4 * ((p % 64) / 32);
  return 32 * (p / 64) + p % 32;
}

// TQ1_0's trits: 5 per byte (base 3, first trit most significant, scaled to
// 0..255), qs[0..31] for values m + 32 t, qs[32..47] for 160 + m + 16 t,
// qh[0..3] (4 trits and a zero) for 240 + j + 4 t. Same walk both ways.
template <class Visit>
void WalkTQ1(Visit visit) {
  for (int m = 0; m < 32; ++m) visit(m, 5, [m](int t) { return m + 32 * t; });
  for (int m = 0; m < 16; ++m) visit(32 + m, 5, [m](int t) { return 160 + m + 16 * t; });
  for (int j = 0; j < 4; ++j) visit(48 + j, 4, [j](int t) { return 240 + j + 4 * t; });
}
constexpr uint8_t kPow3[6] = {1, 3, 9, 27, 81, 243};

void PackTQ1(const int16_t* c, uint8_t* bytes) {  // bytes: qs (48) then qh (4), contiguous
  WalkTQ1([&](int byte, int n, auto pos) {
    uint16_t q = 0;
    for (int t = 0; t < n; ++t) q = static_cast<uint16_t>(q * 3 + c[pos(t)]);
    if (n == 4) q = static_cast<uint16_t>(q * 3);
    bytes[byte] = static_cast<uint8_t>((q * 256 + 242) / 243);
  });
}
void UnpackTQ1(const uint8_t* bytes, int8_t* c) {
  WalkTQ1([&](int byte, int n, auto pos) {
    for (int t = 0; t < n; ++t) {
      const uint8_t q = static_cast<uint8_t>(bytes[byte] * kPow3[t]);
      c[pos(t)] = static_cast<int8_t>((static_cast<uint16_t>(q) * 3) >> 8);
    }
  });
}

}  // namespace

void UnpackBlockCodes(GgmlType type, const uint8_t* b, int8_t* c) {
  int shift = 0;
  switch (type) {
    case GgmlType::Q4_0: GetNibbles32(reinterpret_cast<const BlockQ4_0*>(b)->qs, c); break;
    case GgmlType::IQ4_NL: GetNibbles32(reinterpret_cast<const BlockIQ4_NL*>(b)->qs, c); break;
    case GgmlType::Q4_1: GetNibbles32(reinterpret_cast<const BlockQ4_1*>(b)->qs, c); break;
    case GgmlType::Q5_0: {
      const auto* y = reinterpret_cast<const BlockQ5_0*>(b);
      GetNibbles32(y->qs, c);
      AddQh32(y->qh, c);
      break;
    }
    case GgmlType::Q5_1: {
      const auto* y = reinterpret_cast<const BlockQ5_1*>(b);
      GetNibbles32(y->qs, c);
      AddQh32(y->qh, c);
      break;
    }
    case GgmlType::Q8_0:
      for (int j = 0; j < 32; ++j) c[j] = reinterpret_cast<const BlockQ8_0*>(b)->qs[j];
      break;
    case GgmlType::Q2_K: {
      const auto* y = reinterpret_cast<const BlockQ2_K*>(b);
      for (int p = 0; p < 256; ++p) {
        const int at = Pos2Bit(p, &shift);
        c[p] = static_cast<int8_t>((y->qs[at] >> shift) & 3);
      }
      break;
    }
    case GgmlType::Q3_K: {
      const auto* y = reinterpret_cast<const BlockQ3_K*>(b);
      for (int p = 0; p < 256; ++p) {
        const int at = Pos2Bit(p, &shift);
        const int hbit = (y->hmask[p % 32] >> (p / 32)) & 1;
        c[p] = static_cast<int8_t>(((y->qs[at] >> shift) & 3) | (hbit << 2));
      }
      break;
    }
    case GgmlType::Q4_K: {
      const auto* y = reinterpret_cast<const BlockQ4_K*>(b);
      for (int p = 0; p < 256; ++p) {
        const int at = Pos4Bit(p, &shift);
        c[p] = static_cast<int8_t>((y->qs[at] >> shift) & 0xF);
      }
      break;
    }
    case GgmlType::Q5_K: {
      const auto* y = reinterpret_cast<const BlockQ5_K*>(b);
      for (int p = 0; p < 256; ++p) {
        const int at = Pos4Bit(p, &shift);
        const int hbit = (y->qh[p % 32] >> (2 * (p / 64) + (p % 64) / 32)) & 1;
        c[p] = static_cast<int8_t>(((y->qs[at] >> shift) & 0xF) | (hbit << 4));
      }
      break;
    }
    case GgmlType::Q6_K: {
      const auto* y = reinterpret_cast<const BlockQ6_K*>(b);
      for (int p = 0; p < 256; ++p) {
        const int h = p / 128, k = (p % 128) / 32, l = p % 32;
        const int low = (y->ql[64 * h + l + 32 * (k & 1)] >> (4 * (k >> 1))) & 0xF;
        const int high = (y->qh[32 * h + l] >> (2 * k)) & 3;
        c[p] = static_cast<int8_t>(low | (high << 4));
      }
      break;
    }
    case GgmlType::TQ1_0: UnpackTQ1(b, c); break;
    case GgmlType::TQ2_0: {
      const auto* y = reinterpret_cast<const BlockTQ2_0*>(b);
      for (int p = 0; p < 256; ++p) {
        const int at = Pos2Bit(p, &shift);
        c[p] = static_cast<int8_t>((y->qs[at] >> shift) & 3);
      }
      break;
    }
    default: break;
  }
}

void PackBlockCodes(GgmlType type, const int16_t* c, uint8_t* b) {
  int shift = 0;
  switch (type) {
    case GgmlType::Q4_0: PutNibbles32(c, reinterpret_cast<BlockQ4_0*>(b)->qs); break;
    case GgmlType::IQ4_NL: PutNibbles32(c, reinterpret_cast<BlockIQ4_NL*>(b)->qs); break;
    case GgmlType::Q4_1: PutNibbles32(c, reinterpret_cast<BlockQ4_1*>(b)->qs); break;
    case GgmlType::Q5_0: {
      auto* y = reinterpret_cast<BlockQ5_0*>(b);
      PutNibbles32(c, y->qs);
      PutQh32(c, y->qh);
      break;
    }
    case GgmlType::Q5_1: {
      auto* y = reinterpret_cast<BlockQ5_1*>(b);
      PutNibbles32(c, y->qs);
      PutQh32(c, y->qh);
      break;
    }
    case GgmlType::Q8_0:
      for (int j = 0; j < 32; ++j) reinterpret_cast<BlockQ8_0*>(b)->qs[j] = static_cast<int8_t>(c[j]);
      break;
    case GgmlType::Q2_K:
    case GgmlType::TQ2_0: {
      uint8_t* qs = type == GgmlType::Q2_K ? reinterpret_cast<BlockQ2_K*>(b)->qs : reinterpret_cast<BlockTQ2_0*>(b)->qs;
      std::memset(qs, 0, 64);
      for (int p = 0; p < 256; ++p) {
        const int at = Pos2Bit(p, &shift);
        qs[at] = static_cast<uint8_t>(qs[at] | ((c[p] & 3) << shift));
      }
      break;
    }
    case GgmlType::Q3_K: {
      auto* y = reinterpret_cast<BlockQ3_K*>(b);
      std::memset(y->qs, 0, sizeof(y->qs));
      std::memset(y->hmask, 0, sizeof(y->hmask));
      for (int p = 0; p < 256; ++p) {
        const int at = Pos2Bit(p, &shift);
        y->qs[at] = static_cast<uint8_t>(y->qs[at] | ((c[p] & 3) << shift));
        y->hmask[p % 32] = static_cast<uint8_t>(y->hmask[p % 32] | (((c[p] >> 2) & 1) << (p / 32)));
      }
      break;
    }
    case GgmlType::Q4_K:
    case GgmlType::Q5_K: {
      uint8_t* qs = type == GgmlType::Q4_K ? reinterpret_cast<BlockQ4_K*>(b)->qs : reinterpret_cast<BlockQ5_K*>(b)->qs;
      std::memset(qs, 0, 128);
      for (int p = 0; p < 256; ++p) {
        const int at = Pos4Bit(p, &shift);
        qs[at] = static_cast<uint8_t>(qs[at] | ((c[p] & 0xF) << shift));
      }
      if (type == GgmlType::Q5_K) {
        auto* y = reinterpret_cast<BlockQ5_K*>(b);
        std::memset(y->qh, 0, sizeof(y->qh));
        for (int p = 0; p < 256; ++p) {
          y->qh[p % 32] = static_cast<uint8_t>(y->qh[p % 32] | (((c[p] >> 4) & 1) << (2 * (p / 64) + (p % 64) / 32)));
        }
      }
      break;
    }
    case GgmlType::Q6_K: {
      auto* y = reinterpret_cast<BlockQ6_K*>(b);
      std::memset(y->ql, 0, sizeof(y->ql));
      std::memset(y->qh, 0, sizeof(y->qh));
      for (int p = 0; p < 256; ++p) {
        const int h = p / 128, k = (p % 128) / 32, l = p % 32;
        uint8_t& ql = y->ql[64 * h + l + 32 * (k & 1)];
        ql = static_cast<uint8_t>(ql | ((c[p] & 0xF) << (4 * (k >> 1))));
        y->qh[32 * h + l] = static_cast<uint8_t>(y->qh[32 * h + l] | (((c[p] >> 4) & 3) << (2 * k)));
      }
      break;
    }
    case GgmlType::TQ1_0: PackTQ1(c, b); break;
    default: break;
  }
}

}  // namespace shardq::grid
