// Packing of the K-quants' sub-block scales (a fact of ggml's layout):
// - Q4_K/Q5_K: 8 pairs (scale, min) of 6 bits in 12 bytes. Pairs 0..3 sit in the
//   low 6 bits of bytes 0..3 (scale) and 4..7 (min); pairs 4..7 keep their low
//   nibbles in bytes 8..11 (scale low, min high) and their top 2 bits in the top
//   2 bits of bytes 0..3 (scale) and 4..7 (min).
// - Q3_K: 16 scales of 6 bits (stored +32) in 12 bytes: low nibbles in bytes 0..7
//   (scales 0..7 low half, 8..15 high half), top 2 bits in bytes 8..11, scale j
//   at byte 8 + j%4, bit 2*(j/4).
#pragma once

#include <cstdint>
#include <cstring>

namespace shardq::kquant {

inline void GetScaleMinK4(int j, const uint8_t* q, uint8_t* sc, uint8_t* m) {
  if (j < 4) {
    *sc = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *sc = static_cast<uint8_t>((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    *m = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

// ls, lm in 0..63. Bytes must start zeroed for j >= 4 to be or-ed in correctly;
// call for j = 0..7 in order (j < 4 assigns bytes that j + 4 then or-s into).
inline void SetScaleMinK4(int j, int ls, int lm, uint8_t* q) {
  if (j < 4) {
    q[j] = static_cast<uint8_t>(ls);
    q[j + 4] = static_cast<uint8_t>(lm);
  } else {
    q[j + 4] = static_cast<uint8_t>((ls & 0xF) | ((lm & 0xF) << 4));
    q[j - 4] |= static_cast<uint8_t>((ls >> 4) << 6);
    q[j] |= static_cast<uint8_t>((lm >> 4) << 6);
  }
}

// Q3_K: the stored 6-bit value (0..63, meaning value - 32) of scale j.
inline int GetScaleQ3(int j, const uint8_t* s) {
  const int low = j < 8 ? (s[j] & 0xF) : (s[j - 8] >> 4);
  const int high = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
  return low | (high << 4);
}

// l in 0..63; s must start zeroed (every field is or-ed in).
inline void SetScaleQ3(int j, int l, uint8_t* s) {
  if (j < 8) {
    s[j] |= static_cast<uint8_t>(l & 0xF);
  } else {
    s[j - 8] |= static_cast<uint8_t>((l & 0xF) << 4);
  }
  s[8 + j % 4] |= static_cast<uint8_t>((l >> 4) << (2 * (j / 4)));
}

}  // namespace shardq::kquant
