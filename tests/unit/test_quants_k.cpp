// K-quant block formats: hand-made blocks, ggml's golden encodings, error
// bounds on a seeded Gaussian matrix, importance, scalar vs SIMD, dots.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "common/ggml_type.h"
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

}  // namespace shardq
