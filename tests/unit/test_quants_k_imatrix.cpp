// The SIMD K-quant encoders (AVX2 and AVX-512 Q4_K/Q5_K/Q6_K) WITH importance,
// each called directly, against ggml's golden imatrix bytes and against the
// scalar reference byte for byte on thousands of random rows built to reach
// the weighted searches' rare paths: zero weights (down to whole blocks of
// them), all-zero and tiny sub-blocks (below ggml's GROUP_MAX_EPS), constant
// and all-positive sub-blocks, one huge outlier per block.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu_features.h"
#include "kernels/block_structs.h"
#include "kernels/quants_k.h"
#include "kernels/quants_k_scales.h"
#include "tests/unit/test_util.h"

namespace shardq {
namespace {

using QuantizeFn = void (*)(const float*, void*, int64_t, const float*);

struct Encoder {
  const char* name;
  size_t block_bytes;
  QuantizeFn ref, avx2, avx512;
};
const Encoder kEncoders[] = {
    {"Q4_K", sizeof(BlockQ4_K), kquant::QuantizeRowQ4K, kquant::QuantizeRowQ4KAvx2, kquant::QuantizeRowQ4KAvx512},
    {"Q5_K", sizeof(BlockQ5_K), kquant::QuantizeRowQ5K, kquant::QuantizeRowQ5KAvx2, kquant::QuantizeRowQ5KAvx512},
    {"Q6_K", sizeof(BlockQ6_K), kquant::QuantizeRowQ6K, kquant::QuantizeRowQ6KAvx2, kquant::QuantizeRowQ6KAvx512},
};

// Rows of different lengths laid end to end, each with its own importance
// (same layout as x).
struct RowSet {
  std::vector<float> x, imp;
  std::vector<int64_t> cols;  // length of each row
};

std::vector<uint8_t> Encode(QuantizeFn fn, size_t block_bytes, const RowSet& rows) {
  size_t total = 0;
  for (const int64_t c : rows.cols) total += block_bytes * (c / kQK_K);
  std::vector<uint8_t> out(total, 0xAB);
  size_t xo = 0, yo = 0;
  for (const int64_t c : rows.cols) {
    fn(rows.x.data() + xo, out.data() + yo, c, rows.imp.data() + xo);
    xo += c;
    yo += block_bytes * (c / kQK_K);
  }
  return out;
}

// Number of blocks that differ (a size mismatch counts as everything differing).
size_t DiffBlocks(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b, size_t block_bytes) {
  if (a.size() != b.size()) return a.size() + b.size();
  size_t n = 0;
  for (size_t i = 0; i < a.size(); i += block_bytes) n += std::memcmp(&a[i], &b[i], block_bytes) != 0;
  return n;
}

RowSet GoldenRows() {
  RowSet r;
  r.x = testing::ReadFloats(testing::SharedPath("golden/blocks/input.f32"));
  const auto imp = testing::ReadFloats(testing::SharedPath("golden/blocks/importance.f32"));
  REQUIRE(r.x.size() == 16u * 4096u);
  REQUIRE(imp.size() == 4096u);
  for (int i = 0; i < 16; ++i) {
    r.cols.push_back(4096);
    r.imp.insert(r.imp.end(), imp.begin(), imp.end());
  }
  return r;
}

// `n_rows` random rows of 1..9 blocks (odd and even counts, so the AVX-512
// paths for 4, 2 and a lone last block all run). Values: Gaussian with a
// per-row scale over 6 decades, or Student-t (3 dof, heavy tails). Importance:
// like calibration mean x^2 (positive, spread over decades), with zeros
// sprinkled in, and now and then a sub-block, a block or a row of zeros. Each
// block then gets at most a few of the edge features.
RowSet RandomRows(int n_rows, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  std::normal_distribution<float> nd(0.f, 1.f);
  std::student_t_distribution<float> td(3.f);
  RowSet r;
  for (int row = 0; row < n_rows; ++row) {
    const int blocks = 1 + static_cast<int>(rng() % 9);
    const int64_t n = static_cast<int64_t>(blocks) * kQK_K;
    r.cols.push_back(n);
    const bool heavy = row % 2 == 1;
    const float sigma = std::pow(10.f, -4.f + 6.f * u(rng));
    const float zero_frac = (row % 5 == 0) ? 0.f : 0.3f * u(rng);
    const bool zero_row_imp = row % 97 == 13;
    const size_t base = r.x.size();
    for (int64_t i = 0; i < n; ++i) {
      r.x.push_back(sigma * (heavy ? td(rng) : nd(rng)));
      const float w = std::exp(3.f * nd(rng));  // log-normal: a few huge, many small
      r.imp.push_back(zero_row_imp || u(rng) < zero_frac ? 0.f : w);
    }
    for (int b = 0; b < blocks; ++b) {
      float* x = r.x.data() + base + kQK_K * b;
      float* w = r.imp.data() + base + kQK_K * b;
      const int pick = static_cast<int>(rng() % 16);
      const int sb32 = static_cast<int>(rng() % 8), sb16 = static_cast<int>(rng() % 16);
      // one huge outlier (the block's scale is set by it; most others round low)
      if (pick & 1) x[rng() % kQK_K] = sigma * (300.f + 3000.f * u(rng)) * (u(rng) < 0.5f ? -1.f : 1.f);
      switch (pick >> 1) {
        case 0: std::memset(x + 32 * sb32, 0, 32 * sizeof(float)); break;          // all-zero sub-block(32)
        case 1: std::memset(x + 16 * sb16, 0, 16 * sizeof(float)); break;          // all-zero sub-block(16)
        case 2:                                                                    // tiny: below 1e-15 and near it
          for (int i = 0; i < 32; ++i) x[32 * sb32 + i] = (u(rng) < 0.5f ? 1e-20f : 1e-15f) * nd(rng);
          break;
        case 3:                                                                    // constant sub-block(32)
          for (int i = 0; i < 32; ++i) x[32 * sb32 + i] = sigma * 0.7f;
          break;
        case 4:                                                                    // all positive, min > 0
          for (int i = 0; i < 32; ++i) x[32 * sb32 + i] = std::fabs(x[32 * sb32 + i]) + sigma;
          break;
        case 5: std::memset(w + 32 * sb32, 0, 32 * sizeof(float)); break;          // zero weights, sub-block(32)
        case 6:                                                                    // zero weights, whole block
          if (row % 3 == 0) std::memset(w, 0, kQK_K * sizeof(float));
          break;
        case 7:                                                                    // whole block zero or tiny
          for (int i = 0; i < kQK_K; ++i) x[i] = row % 4 == 1 ? 0.f : 1e-18f * nd(rng);
          break;
        default: break;                                                            // untouched
      }
    }
  }
  return r;
}

// Sub-blocks whose final 6-bit scale is 0 while their levels differ: there the
// encoder must keep the weighted search's own levels.
size_t ZeroScaleWithLevelsQ4K(const std::vector<uint8_t>& q) {
  size_t n = 0;
  for (size_t off = 0; off + sizeof(BlockQ4_K) <= q.size(); off += sizeof(BlockQ4_K)) {
    BlockQ4_K blk;
    std::memcpy(&blk, &q[off], sizeof(blk));
    for (int j = 0; j < 8; ++j) {
      uint8_t sc, m;
      kquant::GetScaleMinK4(j, blk.scales, &sc, &m);
      if (sc != 0) continue;
      const uint8_t* qs = blk.qs + 32 * (j / 2);
      const int shift = 4 * (j % 2);
      for (int l = 1; l < 32; ++l) {
        if (((qs[l] >> shift) & 0xF) != ((qs[0] >> shift) & 0xF)) { ++n; break; }
      }
    }
  }
  return n;
}

// Blocks outside any real weight's range, where ggml's nearest_int stops being
// a rounding: block scales that overflow fp16 (inf or NaN steps), sub-blocks
// whose span is subnormal (an inf inverse scale), values near FLT_MIN. Rows of
// 8 blocks (the AVX-512 4-block path), importance log-normal or null.
RowSet OutOfRangeRows(bool with_importance) {
  std::mt19937 rng(77);
  std::normal_distribution<float> nd(0.f, 1.f);
  std::uniform_int_distribution<int> small(-5, 5);
  RowSet r;
  for (int row = 0; row < 12; ++row) {
    const int64_t n = 8 * kQK_K;
    r.cols.push_back(n);
    const size_t base = r.x.size();
    for (int64_t i = 0; i < n; ++i) {
      r.x.push_back(nd(rng));
      r.imp.push_back(with_importance ? std::exp(2.f * nd(rng)) : 0.f);
    }
    float* x = r.x.data() + base;
    const float big = row % 2 ? 1e9f : 3e6f;  // fp16 overflow of d and dmin (Q4_K/Q5_K, Q6_K)
    for (int i = 0; i < kQK_K; ++i) x[i] *= big;
    std::memset(x + 64, 0, 32 * sizeof(float));  // a zero sub-block: its step is 0 * inf = NaN
    for (int i = 0; i < 32; ++i) x[kQK_K + 96 + i] = small(rng) * 1e-45f;  // subnormal span
    for (int i = 0; i < kQK_K; ++i) x[2 * kQK_K + i] = small(rng) * 1e-45f;
    for (int i = 0; i < kQK_K; ++i) x[3 * kQK_K + i] *= 1e-38f;
    for (int i = 0; i < kQK_K; ++i) x[4 * kQK_K + i] = std::fabs(x[4 * kQK_K + i]) * big;  // min > 0, huge
    x[5 * kQK_K + 17] = 1e10f;
    x[6 * kQK_K + 200] = -1e10f;
    for (int i = 0; i < 16; ++i) x[7 * kQK_K + 16 * row % kQK_K + i] = (i % 2 ? 1e-45f : 0.f);
  }
  if (!with_importance) r.imp.assign(r.x.size(), 0.f);
  return r;
}

// Sparse rows (90% zeros) with weights over ~50 decades: accepted candidates
// with odd minimums, after which some grids leave Round's exact range (the
// encoders then take their exact nearest_int path).
RowSet SparseExtremeWeightRows(int n_rows, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  std::normal_distribution<float> nd(0.f, 1.f);
  RowSet r;
  for (int row = 0; row < n_rows; ++row) {
    const int64_t n = 8 * kQK_K;
    r.cols.push_back(n);
    const float sigma = std::pow(10.f, -3.f + 6.f * u(rng));
    for (int64_t i = 0; i < n; ++i) {
      r.x.push_back(u(rng) < 0.9f ? 0.f : sigma * nd(rng));
      r.imp.push_back(std::exp(20.f * nd(rng)));
    }
  }
  return r;
}

std::vector<uint8_t> EncodeMaybeNull(QuantizeFn fn, size_t block_bytes, const RowSet& rows, bool with_importance) {
  if (with_importance) return Encode(fn, block_bytes, rows);
  size_t total = 0;
  for (const int64_t c : rows.cols) total += block_bytes * (c / kQK_K);
  std::vector<uint8_t> out(total, 0xAB);
  size_t xo = 0, yo = 0;
  for (const int64_t c : rows.cols) {
    fn(rows.x.data() + xo, out.data() + yo, c, nullptr);
    xo += c;
    yo += block_bytes * (c / kQK_K);
  }
  return out;
}

void CheckIsa(bool avx512) {
  const RowSet golden = GoldenRows();
  const RowSet random = RandomRows(2400, 20240611);
  size_t random_blocks = 0;
  for (const int64_t c : random.cols) random_blocks += c / kQK_K;
  for (const auto& e : kEncoders) {
    INFO(e.name << (avx512 ? " AVX-512" : " AVX2") << " with importance");
    const QuantizeFn fast = avx512 ? e.avx512 : e.avx2;
    SECTION(std::string(e.name) + " golden rows and importance give ggml's bytes") {
      const auto want = testing::ReadFileBytes(testing::SharedPath("golden/blocks/" + std::string(e.name) + "-imatrix.bin"));
      REQUIRE(want.size() == e.block_bytes * 16 * (4096 / kQK_K));
      CHECK(DiffBlocks(Encode(fast, e.block_bytes, golden), want, e.block_bytes) == 0);
    }
    SECTION(std::string(e.name) + " out-of-range blocks equal the scalar reference") {
      for (const bool with_importance : {true, false}) {
        INFO((with_importance ? "with" : "without") << " importance");
        const RowSet rows = OutOfRangeRows(with_importance);
        const auto want = EncodeMaybeNull(e.ref, e.block_bytes, rows, with_importance);
        CHECK(DiffBlocks(EncodeMaybeNull(fast, e.block_bytes, rows, with_importance), want, e.block_bytes) == 0);
      }
    }
    SECTION(std::string(e.name) + " sparse rows with extreme weights equal the scalar reference") {
      const RowSet rows = SparseExtremeWeightRows(800, 2511);
      CHECK(DiffBlocks(Encode(fast, e.block_bytes, rows), Encode(e.ref, e.block_bytes, rows), e.block_bytes) == 0);
    }
    SECTION(std::string(e.name) + " random rows equal the scalar reference") {
      const auto want = Encode(e.ref, e.block_bytes, random);
      REQUIRE(want.size() == e.block_bytes * random_blocks);
      CHECK(DiffBlocks(Encode(fast, e.block_bytes, random), want, e.block_bytes) == 0);
    }
  }
}

}  // namespace

TEST_CASE("K-quant imatrix random rows reach the weighted searches' rare paths", "[kquant-imatrix]") {
  // Preconditions of the comparisons below, on the scalar reference's output.
  const RowSet random = RandomRows(2400, 20240611);
  const auto q4 = Encode(kquant::QuantizeRowQ4K, sizeof(BlockQ4_K), random);
  CHECK(ZeroScaleWithLevelsQ4K(q4) > 10);
  size_t zero_d = 0, nan_d = 0;
  for (size_t off = 0; off < q4.size(); off += sizeof(BlockQ4_K)) {
    BlockQ4_K blk;
    std::memcpy(&blk, &q4[off], sizeof(blk));
    zero_d += blk.d == 0;
    nan_d += (blk.d & 0x7C00) == 0x7C00 && (blk.d & 0x3FF) != 0;  // fp16 NaN: a block of zero weights
  }
  CHECK(zero_d > 0);
  CHECK(nan_d > 0);
}

TEST_CASE("K-quant AVX2 encoders with importance give the reference's bytes", "[kquant-imatrix]") {
  if (!GetCpuFeatures().avx2) {
    SHARDQ_SKIP("CPU without AVX2 (or SHARDQ_FORCE_SCALAR set): AVX2 K-quant imatrix encoders not checked");
  }
  CheckIsa(false);
}

TEST_CASE("K-quant AVX-512 encoders with importance give the reference's bytes", "[kquant-imatrix]") {
  if (!GetCpuFeatures().avx512 || !GetCpuFeatures().avx2) {
    SHARDQ_SKIP("CPU without AVX-512 (or SHARDQ_FORCE_SCALAR set): AVX-512 K-quant imatrix encoders not checked");
  }
  CheckIsa(true);
}

}  // namespace shardq
