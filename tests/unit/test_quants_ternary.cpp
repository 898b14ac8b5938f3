// TQ1_0 / TQ2_0: hand-made blocks, ggml's golden encodings, error on a seeded
// Gaussian matrix, and the integer dot against Q8_K activations.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/block_format.h"
#include "kernels/block_structs.h"
#include "tests/unit/test_util.h"

namespace shardq {
namespace {

using testing::ReadFileBytes;
using testing::ReadFloats;
using testing::SharedPath;

constexpr int kRows = 16;
constexpr int kCols = 4096;

// One block's hand input: zeros except +1 at 0, -1 at 33, 0.6 at 200 (rounds to 1),
// -1 at 250, -0.4 at 255 (rounds to 0). absmax 1 -> d = 1.0 (fp16 0x3C00).
std::vector<float> HandBlock() {
  std::vector<float> x(256, 0.0f);
  x[0] = 1.f;
  x[33] = -1.f;
  x[200] = 0.6f;
  x[250] = -1.f;
  x[255] = -0.4f;
  return x;
}

void CheckHandDecode(const BlockFormat& f, const void* bytes) {
  std::vector<float> y(256);
  f.dequantize_row(bytes, y.data(), 256);
  for (int j = 0; j < 256; ++j) {
    const float expect = j == 0 || j == 200 ? 1.f : (j == 33 || j == 250 ? -1.f : 0.f);
    INFO("value " << j);
    CHECK(y[j] == expect);
  }
}

std::vector<uint8_t> Encode(const BlockFormat& f, const float* x, int rows, int cols) {
  std::vector<uint8_t> out(f.row_bytes(cols) * rows);
  for (int r = 0; r < rows; ++r)
    f.quantize_row(x + static_cast<size_t>(r) * cols, out.data() + f.row_bytes(cols) * r, cols, nullptr);
  return out;
}

std::vector<float> Decode(const BlockFormat& f, const uint8_t* b, int rows, int cols) {
  std::vector<float> out(static_cast<size_t>(rows) * cols);
  for (int r = 0; r < rows; ++r)
    f.dequantize_row(b + f.row_bytes(cols) * r, out.data() + static_cast<size_t>(r) * cols, cols);
  return out;
}

// Q8_K activations built here from their definition (float d = absmax / 127,
// q = round(x / d), bsums = sums of 16), so these tests do not depend on the
// K-quant family's encoder.
std::vector<BlockQ8_K> MakeQ8K(const float* x, int n) {
  std::vector<BlockQ8_K> out(n / kQK_K);
  for (size_t i = 0; i < out.size(); ++i) {
    const float* xb = x + kQK_K * i;
    float amax = 0;
    for (int j = 0; j < kQK_K; ++j) amax = std::max(amax, std::fabs(xb[j]));
    out[i].d = amax / 127;
    const float id = amax ? 127 / amax : 0;
    for (int j = 0; j < kQK_K; ++j) out[i].qs[j] = static_cast<int8_t>(std::lround(xb[j] * id));
    for (int g = 0; g < kQK_K / 16; ++g) {
      int s = 0;
      for (int j = 0; j < 16; ++j) s += out[i].qs[16 * g + j];
      out[i].bsums[g] = static_cast<int16_t>(s);
    }
  }
  return out;
}

}  // namespace

TEST_CASE("TQ2_0 hand block", "[ternary]") {
  const BlockFormat* f = FindReferenceBlockFormat(GgmlType::TQ2_0);
  REQUIRE(f != nullptr);
  CHECK(f->block_bytes == 66);
  CHECK(f->vec_dot_type == GgmlType::Q8_K);
  const auto x = HandBlock();
  uint8_t b[66];
  f->quantize_row(x.data(), b, 256, nullptr);
  // Byte 32c + m holds values 128c + m + 32l at bits 2l (q = trit + 1; zeros give 0b01).
  uint8_t expect[66];
  std::memset(expect, 0x55, 64);
  expect[0] = 0x56;   // value 0 -> q 2 at l 0
  expect[1] = 0x51;   // value 33 = m 1, l 1 -> q 0
  expect[40] = 0x65;  // value 200 = 128 + 8 + 64: m 8, l 2 -> q 2
  expect[58] = 0x15;  // value 250 = 128 + 26 + 96: m 26, l 3 -> q 0
  expect[64] = 0x00;
  expect[65] = 0x3C;  // d = 1.0
  CHECK(std::memcmp(b, expect, 66) == 0);
  CheckHandDecode(*f, b);
}

TEST_CASE("TQ1_0 hand block", "[ternary]") {
  const BlockFormat* f = FindReferenceBlockFormat(GgmlType::TQ1_0);
  REQUIRE(f != nullptr);
  CHECK(f->block_bytes == 54);
  const auto x = HandBlock();
  uint8_t b[54];
  f->quantize_row(x.data(), b, 256, nullptr);
  // qs[m], m < 32: trits of values m + 32n (n = 0 most significant), as ceil(q * 256 / 243).
  // All-zero trits: q = 121 -> 128 (0x80).
  uint8_t expect[54];
  std::memset(expect, 0x80, 48);
  expect[0] = 0xD5;   // value 0: n 0 trit 2 -> q 202 -> 213
  expect[1] = 0x64;   // value 33: m 1, n 1 trit 0 -> q 94 -> 100
  expect[40] = 0x89;  // value 200 = 160 + 40: m 8, n 2 trit 2 -> q 130 -> 137
  // qh[j]: 4 trits of values 240 + j + 4n, times 3; zeros: 40 * 3 = 120 -> 127.
  std::memset(expect + 48, 0x7F, 4);
  expect[50] = 0x75;  // value 250 = 240 + 2 + 8: j 2, n 2 trit 0 -> 37 * 3 = 111 -> 117
  expect[52] = 0x00;
  expect[53] = 0x3C;
  CHECK(std::memcmp(b, expect, 54) == 0);
  CheckHandDecode(*f, b);
}

TEST_CASE("ternary: golden decode and encode match ggml", "[ternary]") {
  const auto input = ReadFloats(SharedPath("golden/blocks/input.f32"));
  REQUIRE(input.size() == static_cast<size_t>(kRows) * kCols);
  for (GgmlType type : {GgmlType::TQ1_0, GgmlType::TQ2_0}) {
    for (const BlockFormat* f : {FindReferenceBlockFormat(type), FindBlockFormat(type)}) {
      REQUIRE(f != nullptr);
      INFO(f->name);
      const std::string base = std::string("golden/blocks/") + f->name;
      const auto bin = ReadFileBytes(SharedPath(base + ".bin"));
      const auto ref = ReadFloats(SharedPath(base + ".f32"));
      REQUIRE(bin.size() == f->row_bytes(kCols) * kRows);
      const auto dec = Decode(*f, bin.data(), kRows, kCols);
      CHECK(std::memcmp(dec.data(), ref.data(), dec.size() * 4) == 0);
      const auto enc = Encode(*f, input.data(), kRows, kCols);
      CHECK(enc == bin);
    }
  }
}

TEST_CASE("ternary: relative RMSE on a seeded Gaussian matrix", "[ternary]") {
  // 1024 x 4096 is plenty for a format this coarse. Limit: table.md's rows 0-14
  // value (0.789823) times 1.05; Gaussian rows are the bulk of that table's input.
  std::mt19937 rng(1234);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(1024) * kCols);
  for (float& v : x) v = dist(rng);
  for (GgmlType type : {GgmlType::TQ1_0, GgmlType::TQ2_0}) {
    const BlockFormat* f = FindBlockFormat(type);
    REQUIRE(f != nullptr);
    const auto dec = Decode(*f, Encode(*f, x.data(), 1024, kCols).data(), 1024, kCols);
    double num = 0, den = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      num += (static_cast<double>(x[i]) - dec[i]) * (static_cast<double>(x[i]) - dec[i]);
      den += static_cast<double>(x[i]) * x[i];
    }
    const double err = std::sqrt(num / den);
    INFO(f->name << " rel. RMSE " << err);
    CHECK(err <= 0.789823 * 1.05);
    CHECK(err >= 0.5);
  }
}

TEST_CASE("ternary: dot_f32 and vec_dot match decoded double dots", "[ternary]") {
  std::mt19937 rng(99);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> x(kCols), v(kCols);
  for (int rep = 0; rep < 8; ++rep) {
    for (float& a : x) a = dist(rng);
    for (float& a : v) a = dist(rng);
    const auto q8k = MakeQ8K(v.data(), kCols);
    for (GgmlType type : {GgmlType::TQ1_0, GgmlType::TQ2_0}) {
      const BlockFormat* ref = FindReferenceBlockFormat(type);
      const BlockFormat* fast = FindBlockFormat(type);
      INFO(ref->name);
      const auto enc = Encode(*ref, x.data(), 1, kCols);
      CHECK(Encode(*fast, x.data(), 1, kCols) == enc);
      const auto dec = Decode(*ref, enc.data(), 1, kCols);
      double exact = 0, exact_q = 0, mag = 0, mag_q = 0;
      for (int c = 0; c < kCols; ++c) {
        const double vq = static_cast<double>(q8k[c / kQK_K].d) * q8k[c / kQK_K].qs[c % kQK_K];
        exact += static_cast<double>(dec[c]) * v[c];
        mag += std::fabs(static_cast<double>(dec[c]) * v[c]);
        exact_q += dec[c] * vq;
        mag_q += std::fabs(dec[c] * vq);
      }
      // Scalar and SIMD: same integer block sums, so the Q8_K dots agree to float rounding.
      const float vr = ref->vec_dot(enc.data(), q8k.data(), kCols);
      CHECK(std::fabs(fast->vec_dot(enc.data(), q8k.data(), kCols) - vr) <= 1e-6 * mag_q);
      CHECK(std::fabs(fast->dot_f32(enc.data(), v.data(), kCols) - ref->dot_f32(enc.data(), v.data(), kCols)) <=
            2e-6 * mag);
      for (const BlockFormat* f : {ref, fast}) {
        CHECK(std::fabs(f->dot_f32(enc.data(), v.data(), kCols) - exact) <= 2e-6 * mag);
        CHECK(std::fabs(f->vec_dot(enc.data(), q8k.data(), kCols) - exact_q) <= 2e-6 * mag_q);
      }
    }
  }
}

TEST_CASE("ternary: vec_dot against the table's own Q8_K encoder", "[ternary]") {
  const BlockFormat* q8k = FindReferenceBlockFormat(GgmlType::Q8_K);
  if (q8k == nullptr || q8k->quantize_row == nullptr) {
    SHARDQ_SKIP("Q8_K not registered yet: covered by the hand-built Q8_K test above");
  }
  std::mt19937 rng(7);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> x(kCols), v(kCols);
  for (float& a : x) a = dist(rng);
  for (float& a : v) a = dist(rng);
  std::vector<uint8_t> vq(q8k->row_bytes(kCols));
  q8k->quantize_row(v.data(), vq.data(), kCols, nullptr);
  std::vector<float> vd(kCols);
  q8k->dequantize_row(vq.data(), vd.data(), kCols);
  for (GgmlType type : {GgmlType::TQ1_0, GgmlType::TQ2_0}) {
    for (const BlockFormat* f : {FindReferenceBlockFormat(type), FindBlockFormat(type)}) {
      INFO(f->name);
      const auto enc = Encode(*f, x.data(), 1, kCols);
      const auto dec = Decode(*f, enc.data(), 1, kCols);
      double exact = 0, mag = 0;
      for (int c = 0; c < kCols; ++c) {
        exact += static_cast<double>(dec[c]) * vd[c];
        mag += std::fabs(static_cast<double>(dec[c]) * vd[c]);
      }
      CHECK(std::fabs(f->vec_dot(enc.data(), vq.data(), kCols) - exact) <= 2e-6 * mag);
    }
  }
}

}  // namespace shardq
