// K-quant block formats: hand-made blocks, ggml's golden encodings, error
// bounds on a seeded Gaussian matrix, importance, scalar vs SIMD, dots.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/ggml_type.h"
#include "kernels/block_format.h"
#include "kernels/block_structs.h"
#include "kernels/fp16.h"
#include "kernels/quants_k.h"
#include "tests/unit/test_util.h"

namespace shardq {
namespace {

using testing::ReadFileBytes;
using testing::ReadFloats;
using testing::SharedPath;

constexpr int kRows = 16;
constexpr int kCols = 4096;

struct KType {
  GgmlType type;
  const char* name;
};
const KType kTypes[] = {{GgmlType::Q2_K, "Q2_K"}, {GgmlType::Q3_K, "Q3_K"}, {GgmlType::Q4_K, "Q4_K"},
                        {GgmlType::Q5_K, "Q5_K"}, {GgmlType::Q6_K, "Q6_K"}};

std::string Golden(const std::string& file) { return SharedPath("golden/blocks/" + file); }

std::vector<uint8_t> Encode(const BlockFormat& f, const std::vector<float>& x, int rows, int64_t cols,
                            const float* importance) {
  std::vector<uint8_t> out(f.row_bytes(cols) * rows);
  for (int r = 0; r < rows; ++r) {
    f.quantize_row(x.data() + r * cols, out.data() + r * f.row_bytes(cols), cols, importance);
  }
  return out;
}

std::vector<float> Decode(const BlockFormat& f, const std::vector<uint8_t>& q, int rows, int64_t cols) {
  std::vector<float> out(static_cast<size_t>(rows) * cols);
  for (int r = 0; r < rows; ++r) f.dequantize_row(q.data() + r * f.row_bytes(cols), out.data() + r * cols, cols);
  return out;
}

// sqrt(sum w (x - y)^2 / sum w x^2) over the first `rows` rows; w = 1 when weights is null.
double RelRmse(const std::vector<float>& x, const std::vector<float>& y, int rows, int64_t cols,
               const float* weights = nullptr) {
  double num = 0, den = 0;
  for (int r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      const double w = weights ? weights[c] : 1.0;
      const double a = x[r * cols + c], b = y[r * cols + c];
      num += w * (a - b) * (a - b);
      den += w * a * a;
    }
  }
  return std::sqrt(num / den);
}

std::vector<float> Gaussian(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.f, 1.f);
  std::vector<float> v(n);
  for (auto& e : v) e = nd(rng);
  return v;
}

size_t CountDiffBlocks(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b, size_t block_bytes) {
  if (a.size() != b.size()) return SIZE_MAX;
  size_t diff = 0;
  for (size_t i = 0; i < a.size(); i += block_bytes) diff += std::memcmp(&a[i], &b[i], block_bytes) != 0;
  return diff;
}

}  // namespace

TEST_CASE("K-quant golden: decoding ggml's bytes gives ggml's floats exactly", "[kquant]") {
  for (const auto& t : kTypes) {
    const BlockFormat* f = FindReferenceBlockFormat(t.type);
    REQUIRE(f != nullptr);
    for (const std::string suffix : {"", "-imatrix"}) {
      INFO(t.name << suffix);
      const auto bin = ReadFileBytes(Golden(std::string(t.name) + suffix + ".bin"));
      const auto want = ReadFileBytes(Golden(std::string(t.name) + suffix + ".f32"));
      REQUIRE(bin.size() == f->row_bytes(kCols) * kRows);
      REQUIRE(want.size() == sizeof(float) * kRows * kCols);
      const auto got = Decode(*f, bin, kRows, kCols);
      CHECK(std::memcmp(got.data(), want.data(), want.size()) == 0);
      // the dispatched table decodes identically
      const auto fast = Decode(*FindBlockFormat(t.type), bin, kRows, kCols);
      CHECK(std::memcmp(fast.data(), want.data(), want.size()) == 0);
    }
  }
}

TEST_CASE("K-quant golden: the reference encoder reproduces ggml's bytes", "[kquant]") {
  const auto x = ReadFloats(Golden("input.f32"));
  REQUIRE(x.size() == static_cast<size_t>(kRows) * kCols);
  const auto imp = ReadFloats(Golden("importance.f32"));
  REQUIRE(imp.size() == static_cast<size_t>(kCols));
  for (const auto& t : kTypes) {
    const BlockFormat* f = FindReferenceBlockFormat(t.type);
    for (const bool with_imp : {false, true}) {
      const std::string file = std::string(t.name) + (with_imp ? "-imatrix" : "") + ".bin";
      INFO(file);
      const auto want = ReadFileBytes(Golden(file));
      const auto got = Encode(*f, x, kRows, kCols, with_imp ? imp.data() : nullptr);
      REQUIRE(got.size() == want.size());
      size_t diff_blocks = 0;
      for (size_t b = 0; b < got.size() / f->block_bytes; ++b) {
        if (std::memcmp(got.data() + b * f->block_bytes, want.data() + b * f->block_bytes, f->block_bytes)) {
          ++diff_blocks;
        }
      }
      CHECK(diff_blocks == 0);
    }
  }
}


// --- 1. hand-made blocks -------------------------------------------------

TEST_CASE("Q6_K hand-made block decodes to the expected floats", "[kquant]") {
  BlockQ6_K b{};
  b.d = 0x3800;  // 0.5
  for (int j = 0; j < 16; ++j) b.scales[j] = 1;
  b.scales[1] = 2;
  b.scales[4] = -3;
  b.ql[0] = 0xA5;  // element 0: low 4 bits 5; element 64: low 4 bits 10
  b.qh[0] = 0x12;  // element 0: high bits 2 (q = 37); element 64: high bits 1 (q = 26)
  std::vector<float> want(kQK_K);
  for (int k = 0; k < kQK_K; ++k) want[k] = 0.5f * b.scales[k / 16] * -32;  // all other q = 0
  want[0] = 0.5f * 1 * (37 - 32);
  want[64] = 0.5f * -3 * (26 - 32);
  std::vector<float> got(kQK_K);
  FindReferenceBlockFormat(GgmlType::Q6_K)->dequantize_row(&b, got.data(), kQK_K);
  CHECK(got == want);
  CHECK(got[0] == 2.5f);
  CHECK(got[64] == 9.0f);
  CHECK(got[16] == -32.0f);
}

TEST_CASE("Q4_K hand-made block decodes to the expected floats", "[kquant]") {
  BlockQ4_K b{};
  b.d = 0x3C00;     // 1.0
  b.dmin = 0x3800;  // 0.5
  b.scales[0] = 3;  // sub-block 0: scale 3
  b.scales[4] = 2;  //              min 2
  // sub-block 5: scale 33 = 0b10'0001, min 17 = 0b01'0001: low nibbles in byte 9,
  // top bits in the top of bytes 1 (scale) and 5 (min)
  b.scales[9] = 0x11;
  b.scales[1] = 0x80;
  b.scales[5] = 0x40;
  b.qs[0] = 0x07;   // element 0 (low nibble) = 7, element 32 (high) = 0
  b.qs[64] = 0x90;  // element 160 (sub-block 5, high nibble of the third 32-byte group) = 9
  std::vector<float> got(kQK_K);
  FindReferenceBlockFormat(GgmlType::Q4_K)->dequantize_row(&b, got.data(), kQK_K);
  CHECK(got[0] == 1.0f * 3 * 7 - 0.5f * 2);
  CHECK(got[1] == -1.0f);
  CHECK(got[32] == 0.0f);  // sub-block 1: scale and min 0 (bytes 1, 5 hold only top bits)
  CHECK(got[160] == 1.0f * 33 * 9 - 0.5f * 17);
  CHECK(got[161] == -8.5f);
  CHECK(got[255] == 0.0f);
}

TEST_CASE("Q5_K hand-made block decodes to the expected floats", "[kquant]") {
  BlockQ5_K b{};
  b.d = 0x3C00;  // 1.0, dmin 0
  b.scales[0] = 1;
  b.scales[1] = 1;
  b.scales[2] = 2;
  b.qs[0] = 0x23;   // element 0 low 4 bits 3, element 32 low 4 bits 2
  b.qs[32] = 0x01;  // element 64 low 4 bits 1
  b.qh[0] = 0x07;   // fifth bit of elements 0 (bit 0), 32 (bit 1), 64 (bit 2)
  std::vector<float> got(kQK_K);
  FindReferenceBlockFormat(GgmlType::Q5_K)->dequantize_row(&b, got.data(), kQK_K);
  CHECK(got[0] == 19.0f);
  CHECK(got[32] == 18.0f);
  CHECK(got[64] == 34.0f);
  CHECK(got[1] == 0.0f);
}

TEST_CASE("Q3_K hand-made block decodes to the expected floats", "[kquant]") {
  BlockQ3_K b{};
  b.d = 0x3C00;  // 1.0
  std::memset(b.hmask, 0xFF, sizeof(b.hmask));
  b.hmask[0] = 0xFE;  // element 0 has no high bit: level - 4
  b.scales[0] = 1;    // scale 0 stored 33 = 0b10'0001: low nibble 1 ...
  b.scales[8] = 0x02; // ... top bits 2 in byte 8 bits 0-1
  b.scales[5] = 12;   // scale 5 stored 28 = 0b01'1100: low nibble 12 ...
  b.scales[9] = 0x04; // ... top bits 1 in byte 8 + 5%4, bits 2*(5/4)
  b.qs[0] = 0x03;     // element 0: low bits 3 -> 3 - 4 = -1
  b.qs[16] = 0x20;    // element 80 (sub-block 5): bits 4-5 of qs[16] = 2
  std::vector<float> got(kQK_K);
  FindReferenceBlockFormat(GgmlType::Q3_K)->dequantize_row(&b, got.data(), kQK_K);
  CHECK(got[0] == -1.0f);   // scale 33 - 32 = 1
  CHECK(got[80] == -8.0f);  // scale 28 - 32 = -4, level 2
  CHECK(got[1] == 0.0f);
  CHECK(got[17] == 0.0f);
}

TEST_CASE("Q2_K hand-made block decodes to the expected floats", "[kquant]") {
  BlockQ2_K b{};
  b.d = 0x3C00;        // 1.0
  b.dmin = 0x3800;     // 0.5
  b.scales[0] = 0x23;  // scale 3, min 2
  b.scales[9] = 0x51;  // scale 1, min 5
  b.qs[0] = 0x02;      // element 0: 2
  b.qs[48] = 0x03;     // element 144 (second half, 16 + 0): 3
  std::vector<float> got(kQK_K);
  FindReferenceBlockFormat(GgmlType::Q2_K)->dequantize_row(&b, got.data(), kQK_K);
  CHECK(got[0] == 5.0f);
  CHECK(got[1] == -1.0f);
  CHECK(got[144] == 0.5f);
  CHECK(got[145] == -2.5f);
  CHECK(got[16] == 0.0f);
}

TEST_CASE("Q8_K hand-made block and encode", "[kquant]") {
  BlockQ8_K b{};
  b.d = 0.25f;
  for (int k = 0; k < kQK_K; ++k) b.qs[k] = static_cast<int8_t>(k - 128);
  std::vector<float> got(kQK_K);
  const BlockFormat* f = FindReferenceBlockFormat(GgmlType::Q8_K);
  f->dequantize_row(&b, got.data(), kQK_K);
  CHECK(got[0] == -32.0f);
  CHECK(got[255] == 31.75f);
  // +-63.5 alternating, the first negative: iscale = -127 / -63.5 = 2, d = 0.5, bsums 0
  std::vector<float> x(kQK_K);
  for (int k = 0; k < kQK_K; ++k) x[k] = k % 2 ? 63.5f : -63.5f;
  BlockQ8_K e{};
  f->quantize_row(x.data(), &e, kQK_K, nullptr);
  CHECK(e.d == 0.5f);
  CHECK(e.qs[0] == -127);
  CHECK(e.qs[1] == 127);
  for (int j = 0; j < 16; ++j) CHECK(e.bsums[j] == 0);
}

TEST_CASE("K-quant encodes of zeros are all-zero blocks", "[kquant]") {
  std::vector<float> x(2 * kQK_K, 0.f);
  for (const auto& t : kTypes) {
    for (const BlockFormat* f : {FindReferenceBlockFormat(t.type), FindBlockFormat(t.type)}) {
      INFO(t.name);
      std::vector<uint8_t> out(f->row_bytes(x.size()), 0xAB);
      f->quantize_row(x.data(), out.data(), x.size(), nullptr);
      CHECK(std::all_of(out.begin(), out.end(), [](uint8_t v) { return v == 0; }));
    }
  }
}

TEST_CASE("Q6_K encode of a negative ramp: exact fit, hand-derived fields", "[kquant]") {
  // every sub-block is -1..-16: best scale 0.5 (levels 2x), so max_scale 0.5,
  // d = -1/256 (0x9C00), all scales -128, level of -(i+1) = 30 - 2i.
  std::vector<float> x(kQK_K);
  for (int k = 0; k < kQK_K; ++k) x[k] = -static_cast<float>(k % 16) - 1;
  for (const BlockFormat* f : {FindReferenceBlockFormat(GgmlType::Q6_K), FindBlockFormat(GgmlType::Q6_K)}) {
    BlockQ6_K b{};
    f->quantize_row(x.data(), &b, kQK_K, nullptr);
    CHECK(b.d == 0x9C00);
    for (int j = 0; j < 16; ++j) CHECK(b.scales[j] == -128);
    CHECK(b.ql[0] == 0xEE);  // elements 0 and 64: level 30, low nibble 14
    CHECK(b.qh[0] == 0x55);  // elements 0, 32, 64, 96: high bits 1
    CHECK(b.ql[15] == 0x00); // element 15 (-16): level 0
    std::vector<float> y(kQK_K);
    f->dequantize_row(&b, y.data(), kQK_K);
    CHECK(y == x);
  }
}

TEST_CASE("Q4_K encode of a 0..15 ramp: exact fit, hand-derived fields", "[kquant]") {
  // each sub-block is 0..15 twice: scale 1, min 0 everywhere, so every 6-bit
  // scale is 63 (bytes 0-3 = 0xFF with the top bits of scales 4-7; 8-11 = 0x0F), mins 0.
  std::vector<float> x(kQK_K);
  for (int k = 0; k < kQK_K; ++k) x[k] = static_cast<float>(k % 16);
  for (const BlockFormat* f : {FindReferenceBlockFormat(GgmlType::Q4_K), FindBlockFormat(GgmlType::Q4_K)}) {
    BlockQ4_K b{};
    f->quantize_row(x.data(), &b, kQK_K, nullptr);
    CHECK(b.d == F32ToFp16(1.f / 63));
    CHECK(b.dmin == 0);
    const uint8_t want_scales[12] = {0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0, 0x0F, 0x0F, 0x0F, 0x0F};
    CHECK(std::memcmp(b.scales, want_scales, 12) == 0);
    for (int l = 0; l < 32; ++l) CHECK(b.qs[l] == ((l % 16) | ((l % 16) << 4)));
  }
}

// --- 4-7: error bounds, importance, SIMD vs scalar, dots -------------------

namespace {
constexpr int kGaussRows = 4096, kGaussCols = 4096;
const std::vector<float>& GaussMatrix() {
  static const std::vector<float> m = Gaussian(static_cast<int64_t>(kGaussRows) * kGaussCols, 1234);
  return m;
}
}  // namespace

TEST_CASE("K-quant rel. RMSE on a seeded 4096x4096 Gaussian matrix", "[kquant]") {
  // ggml's numbers on such a matrix (Q4_K..Q6_K); Q2_K/Q3_K from table.md with 5% slack.
  struct Bound { GgmlType type; double rmse; };
  const Bound bounds[] = {{GgmlType::Q2_K, 0.297242 * 1.05}, {GgmlType::Q3_K, 0.150019 * 1.05},
                          {GgmlType::Q4_K, 0.071 * 1.02},    {GgmlType::Q5_K, 0.036 * 1.02},
                          {GgmlType::Q6_K, 0.018 * 1.02}};
  const auto& x = GaussMatrix();
  for (const auto& b : bounds) {
    for (const BlockFormat* f : {FindReferenceBlockFormat(b.type), FindBlockFormat(b.type)}) {
      INFO(f->name);
      const auto y = Decode(*f, Encode(*f, x, kGaussRows, kGaussCols, nullptr), kGaussRows, kGaussCols);
      const double e = RelRmse(x, y, kGaussRows, kGaussCols);
      INFO("rmse " << e);
      CHECK(e <= b.rmse);
      CHECK(e > 0.5 * b.rmse);  // a sanity floor: the type really quantized
    }
  }
}

TEST_CASE("K-quant importance lowers the importance-weighted error", "[kquant]") {
  const auto x = ReadFloats(Golden("input.f32"));
  const auto imp = ReadFloats(Golden("importance.f32"));
  for (const auto& t : kTypes) {
    INFO(t.name);
    const BlockFormat* f = FindBlockFormat(t.type);
    const auto plain = Decode(*f, Encode(*f, x, kRows, kCols, nullptr), kRows, kCols);
    const auto weighted = Decode(*f, Encode(*f, x, kRows, kCols, imp.data()), kRows, kCols);
    // rows 0-14 as table.md (row 15 holds edge cases)
    const double e_plain = RelRmse(x, plain, 15, kCols, imp.data());
    const double e_imp = RelRmse(x, weighted, 15, kCols, imp.data());
    INFO(e_plain << " -> " << e_imp);
    CHECK(e_imp < e_plain);
  }
}

TEST_CASE("K-quant dispatched (SIMD) encoders give the reference's bytes", "[kquant]") {
  const auto golden = ReadFloats(Golden("input.f32"));
  const auto& gauss = GaussMatrix();
  const std::vector<float> gauss_rows(gauss.begin(), gauss.begin() + 64 * kCols);
  for (const auto& t : kTypes) {
    INFO(t.name);
    const BlockFormat* ref = FindReferenceBlockFormat(t.type);
    const BlockFormat* fast = FindBlockFormat(t.type);
    CHECK(CountDiffBlocks(Encode(*fast, golden, kRows, kCols, nullptr),
                          Encode(*ref, golden, kRows, kCols, nullptr), ref->block_bytes) == 0);
    CHECK(CountDiffBlocks(Encode(*fast, gauss_rows, 64, kCols, nullptr),
                          Encode(*ref, gauss_rows, 64, kCols, nullptr), ref->block_bytes) == 0);
  }
}

TEST_CASE("K-quant dot_f32 and vec_dot agree with decode-then-dot", "[kquant]") {
  const auto x = ReadFloats(Golden("input.f32"));
  const auto v = Gaussian(kCols, 99);
  const BlockFormat* q8k = FindReferenceBlockFormat(GgmlType::Q8_K);
  std::vector<uint8_t> vq(q8k->row_bytes(kCols));
  q8k->quantize_row(v.data(), vq.data(), kCols, nullptr);
  std::vector<float> vd(kCols);
  q8k->dequantize_row(vq.data(), vd.data(), kCols);
  for (const auto& t : kTypes) {
    for (const BlockFormat* f : {FindReferenceBlockFormat(t.type), FindBlockFormat(t.type)}) {
      INFO(t.name);
      REQUIRE(f->vec_dot_type == GgmlType::Q8_K);
      for (int r = 0; r < 12; ++r) {
        std::vector<uint8_t> q(f->row_bytes(kCols));
        f->quantize_row(x.data() + r * kCols, q.data(), kCols, nullptr);
        std::vector<float> xd(kCols);
        f->dequantize_row(q.data(), xd.data(), kCols);
        double exact = 0, exact_q8 = 0, mag = 0;
        for (int c = 0; c < kCols; ++c) {
          exact += static_cast<double>(xd[c]) * v[c];
          exact_q8 += static_cast<double>(xd[c]) * vd[c];
          mag += std::fabs(static_cast<double>(xd[c]) * v[c]);
        }
        CHECK(std::fabs(f->dot_f32(q.data(), v.data(), kCols) - exact) <= 1e-5 * mag);
        CHECK(std::fabs(f->vec_dot(q.data(), vq.data(), kCols) - exact_q8) <= 1e-5 * mag);
      }
    }
  }
}

}  // namespace shardq
