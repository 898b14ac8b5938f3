// The SIMD K-quant encoders (AVX2 Q2_K/Q3_K, AVX2 and AVX-512 Q4_K/Q5_K/Q6_K), each called
// directly, against the scalar reference byte for byte: ggml's golden rows,
// seeded Gaussian rows, odd block counts, and blocks built to reach the rare
// paths (constant sub-blocks, sub-blocks whose 6-bit scale rounds to 0) and
// the per-candidate clamp checks (BoundaryRows).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <limits>
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
// avx512 null: no AVX-512 encoder (the AVX2 one is dispatched there too).
const Encoder kEncoders[] = {
    {"Q2_K", sizeof(BlockQ2_K), kquant::QuantizeRowQ2K, kquant::QuantizeRowQ2KAvx2, nullptr},
    {"Q3_K", sizeof(BlockQ3_K), kquant::QuantizeRowQ3K, kquant::QuantizeRowQ3KAvx2, nullptr},
    {"Q4_K", sizeof(BlockQ4_K), kquant::QuantizeRowQ4K, kquant::QuantizeRowQ4KAvx2, kquant::QuantizeRowQ4KAvx512},
    {"Q5_K", sizeof(BlockQ5_K), kquant::QuantizeRowQ5K, kquant::QuantizeRowQ5KAvx2, kquant::QuantizeRowQ5KAvx512},
    {"Q6_K", sizeof(BlockQ6_K), kquant::QuantizeRowQ6K, kquant::QuantizeRowQ6KAvx2, kquant::QuantizeRowQ6KAvx512},
};

std::vector<uint8_t> EncodeRows(QuantizeFn fn, size_t block_bytes, const std::vector<float>& x, int64_t cols,
                                const float* importance) {
  const int64_t rows = static_cast<int64_t>(x.size()) / cols;
  const size_t row_bytes = block_bytes * (cols / kQK_K);
  std::vector<uint8_t> out(row_bytes * rows, 0xAB);
  for (int64_t r = 0; r < rows; ++r) fn(x.data() + r * cols, out.data() + r * row_bytes, cols, importance);
  return out;
}

// Index of the first block that differs, or -1.
int64_t FirstDiffBlock(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b, size_t block_bytes) {
  if (a.size() != b.size()) return -2;
  for (size_t i = 0; i < a.size(); i += block_bytes) {
    if (std::memcmp(&a[i], &b[i], block_bytes) != 0) return static_cast<int64_t>(i / block_bytes);
  }
  return -1;
}

std::vector<float> Gaussian(int64_t n, uint32_t seed, float sigma = 1.f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.f, sigma);
  std::vector<float> v(n);
  for (auto& e : v) e = nd(rng);
  return v;
}

// 7 blocks (odd, so the AVX-512 path's lone last block is covered), each
// mixing sub-blocks of very different magnitude so that some 6-bit (Q4_K/Q5_K)
// or 8-bit (Q6_K) sub-block scales round to 0 while their values are not
// constant: those keep the search's own levels. Also constant, all-positive
// and all-zero sub-blocks.
std::vector<float> EdgeRow() {
  constexpr int kBlocks = 7;
  std::vector<float> x = Gaussian(kQK_K * kBlocks, 7);
  for (int b = 0; b < kBlocks; ++b) {
    float* blk = x.data() + kQK_K * b;
    for (int i = 0; i < 16; ++i) blk[i] *= 1000.f;               // one huge sub-block(16) inside sub-block(32) 0
    for (int i = 96; i < 128; ++i) blk[i] *= 1e-4f;              // tiny: scale rounds to 0
    for (int i = 160; i < 176; ++i) blk[i] = 0.25f * (b + 1);    // constant (positive) sub-block(16)
    for (int i = 192; i < 224; ++i) blk[i] = std::fabs(blk[i]) * 1e-3f + 0.5f;  // all positive, min > 0
    if (b == 3) std::memset(blk + 224, 0, 32 * sizeof(float));   // zeros
    if (b == 5) std::memset(blk, 0, kQK_K * sizeof(float));      // a whole zero block
  }
  return x;
}

// Precondition of the edge test: the reference really produced a sub-block
// with scale 0 whose levels are not all equal (so the search's levels matter).
bool HasZeroScaleWithLevelsQ4K(const std::vector<uint8_t>& q) {
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
        if (((qs[l] >> shift) & 0xF) != ((qs[0] >> shift) & 0xF)) return true;
      }
    }
  }
  return false;
}

bool HasZeroScaleWithLevelsQ2K(const std::vector<uint8_t>& q) {
  for (size_t off = 0; off + sizeof(BlockQ2_K) <= q.size(); off += sizeof(BlockQ2_K)) {
    BlockQ2_K blk;
    std::memcpy(&blk, &q[off], sizeof(blk));
    for (int j = 0; j < 16; ++j) {
      if ((blk.scales[j] & 0xF) != 0) continue;
      // element e of the block: byte 32 * (e / 128) + e % 32, bits 2 * ((e % 128) / 32)
      auto level = [&](int e) { return (blk.qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3; };
      for (int l = 1; l < 16; ++l) {
        if (level(16 * j + l) != level(16 * j)) return true;
      }
    }
  }
  return false;
}

bool HasZeroScaleWithLevelsQ6K(const std::vector<uint8_t>& q) {
  for (size_t off = 0; off + sizeof(BlockQ6_K) <= q.size(); off += sizeof(BlockQ6_K)) {
    BlockQ6_K blk;
    std::memcpy(&blk, &q[off], sizeof(blk));
    if (blk.d == 0) continue;
    for (int j = 0; j < 16; ++j) {
      if (blk.scales[j] != 0) continue;
      // sub-block j: 16 values at 16j; their low nibbles live in ql as PackQ6KQuants lays them out
      const int half = j / 8, q4 = (j % 8) / 2, l0 = 16 * (j % 2);
      const uint8_t* ql = blk.ql + 64 * half + 32 * (q4 % 2);
      const int shift = 4 * (q4 / 2);
      for (int l = 1; l < 16; ++l) {
        if (((ql[l0 + l] >> shift) & 0xF) != ((ql[l0] >> shift) & 0xF)) return true;
      }
    }
  }
  return false;
}

void CheckSameAsReference(const Encoder& e, QuantizeFn fast, const std::vector<float>& x, int64_t cols,
                          const float* importance = nullptr) {
  const auto want = EncodeRows(e.ref, e.block_bytes, x, cols, importance);
  const auto got = EncodeRows(fast, e.block_bytes, x, cols, importance);
  CHECK(FirstDiffBlock(got, want, e.block_bytes) == -1);
}

// Rows of 4 blocks whose sub-blocks are drawn from kinds that sit on the
// boundaries the SIMD searches test per candidate before dropping a clamp
// (a level exactly at 0 or at the top, the largest magnitude matched by an
// opposite-signed value of (almost) the same size), plus integer values with
// ties, constants, zeros of both signs, and magnitudes from 1e-30 to 1e30.
// Finite values only: that is what the encoders promise to match.
std::vector<float> BoundaryRows(int rows, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.f, 1.f);
  std::vector<float> x(static_cast<size_t>(rows) * 4 * kQK_K);
  for (size_t s0 = 0; s0 < x.size(); s0 += 16) {
    float* sb = x.data() + s0;
    const float scale = std::pow(10.f, static_cast<float>(static_cast<int>(rng() % 61) - 30));
    const int kind = static_cast<int>(rng() % 8);
    for (int i = 0; i < 16; ++i) {
      float v = nd(rng) * scale;
      if (kind == 1) v = static_cast<float>(static_cast<int>(nd(rng) * 20)) + 0.5f * static_cast<float>(rng() % 2);
      if (kind == 2) v = (i % 2) ? -0.f : 0.f;
      if (kind == 3) v = 0.75f * scale;
      sb[i] = v;
    }
    if (kind == 4 || kind == 5) {  // +a and -a (kind 5: -a * 31.5 / 32, the rounding edge of Q6_K's top level)
      sb[rng() % 8] = scale * 2.5f;
      sb[8 + rng() % 8] = -scale * 2.5f * (kind == 5 ? 31.5f / 32 : 1.f);
    }
    if (kind == 6) sb[rng() % 16] = 0.f;
  }
  return x;
}

// Gaussian rows with inf, -inf or NaN in some blocks (the AVX2 encoders match
// the reference on every input; Q3_K and Q6_K send such blocks to it).
std::vector<float> NonFiniteRows(int rows, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<float> x = Gaussian(static_cast<int64_t>(rows) * 4 * kQK_K, seed);
  const float special[] = {std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                           std::numeric_limits<float>::quiet_NaN()};
  for (size_t b = 0; b < x.size(); b += kQK_K) {
    const int count = static_cast<int>(rng() % 3);  // some blocks stay finite
    for (int k = 0; k < count; ++k) x[b + rng() % kQK_K] = special[rng() % 3];
  }
  return x;
}

// Seeded rows of 1 to 11 blocks (every count the encoders group blocks by,
// with remainders), each row of one kind: Gaussian, uniform, heavy-tailed,
// sparse, values on a 1/8 grid (rounding ties), random decades from 1e-30 to
// 1e30, all positive (min > 0), tiny negatives, huge (~1e37) and small
// integers (values exactly on the levels); then per sub-block of 16 a chance
// of zeros, a constant, a 1e-6 shrink, one value of +-3e38 and denormals.
// These reach the per-candidate choices of the lane searches (which clamps a
// candidate's levels need) in both directions, and the overflow paths.
std::vector<float> MixedRow(std::mt19937& rng) {
  std::normal_distribution<float> nd(0.f, 1.f);
  std::uniform_real_distribution<float> ud(-1.f, 1.f);
  const int n = kQK_K * static_cast<int>(1 + rng() % 11);
  const int kind = static_cast<int>(rng() % 10);
  std::vector<float> x(n);
  for (auto& v : x) {
    v = nd(rng);
    switch (kind) {
      case 1: v = ud(rng); break;
      case 2: v = nd(rng) / (std::fabs(nd(rng)) + 1e-3f); break;
      case 3: v = rng() % 4 == 0 ? 0.f : nd(rng); break;
      case 4: v = std::round(nd(rng) * 8) / 8; break;
      case 5: v = nd(rng) * std::pow(10.f, static_cast<float>(static_cast<int>(rng() % 61) - 30)); break;
      case 6: v = std::fabs(nd(rng)) + 0.5f; break;
      case 7: v = -std::fabs(nd(rng)) * 1e-3f; break;
      case 8: v = nd(rng) * 1e37f; break;
      case 9: v = static_cast<float>(rng() % 16); break;
      default: break;
    }
  }
  for (int s0 = 0; s0 < n; s0 += 16) {
    float* sb = x.data() + s0;
    switch (rng() % 16) {
      case 0: for (int i = 0; i < 16; ++i) sb[i] = 0.f; break;
      case 1: for (int i = 0; i < 16; ++i) sb[i] = sb[0]; break;
      case 2: for (int i = 0; i < 16; ++i) sb[i] *= 1e-6f; break;
      case 3: sb[rng() % 16] = rng() % 2 ? 3e38f : -3e38f; break;
      case 4: for (int i = 0; i < 16; ++i) sb[i] = 1e-40f * static_cast<float>(static_cast<int>(rng() % 5) - 2); break;
      default: break;
    }
  }
  return x;
}

// MixedRow rows against the reference, each without and with a random
// importance (one weight in 8 zero, the rest log-normal).
void CheckMixedRows(const Encoder& e, QuantizeFn fast, uint32_t seed, int rows) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.f, 1.f);
  for (int r = 0; r < rows; ++r) {
    const auto x = MixedRow(rng);
    std::vector<float> imp(x.size());
    for (auto& w : imp) w = rng() % 8 == 0 ? 0.f : std::exp(2.f * nd(rng));
    const int64_t n = static_cast<int64_t>(x.size());
    INFO("mixed row " << r << " of seed " << seed << ", " << n / kQK_K << " blocks");
    CheckSameAsReference(e, fast, x, n);
    CheckSameAsReference(e, fast, x, n, imp.data());
  }
}

// Runs the checks for one ISA's encoders.
void CheckIsa(bool avx512) {
  const auto golden = testing::ReadFloats(testing::SharedPath("golden/blocks/input.f32"));
  REQUIRE(golden.size() == 16u * 4096u);
  const auto imp = testing::ReadFloats(testing::SharedPath("golden/blocks/importance.f32"));
  REQUIRE(imp.size() == 4096u);
  const auto gauss = Gaussian(32 * 4096, 1234);
  const auto gauss_odd = Gaussian(6 * 11008, 99, 0.02f);  // 43 blocks a row, weight-like scale
  const auto one_block = Gaussian(3 * kQK_K, 5);          // rows of a single block
  const auto edge = EdgeRow();
  const auto boundary = BoundaryRows(24, avx512 ? 11 : 12);
  std::vector<float> boundary_imp(4 * kQK_K);
  {
    std::mt19937 rng(3);
    std::normal_distribution<float> nd(0.f, 1.f);
    for (auto& w : boundary_imp) w = rng() % 8 == 0 ? 0.f : std::exp(2.f * nd(rng));
  }
  for (const auto& e : kEncoders) {
    INFO(e.name << (avx512 ? " AVX-512" : " AVX2"));
    const QuantizeFn fast = avx512 ? e.avx512 : e.avx2;
    if (!fast) continue;
    SECTION(std::string(e.name) + " golden rows") { CheckSameAsReference(e, fast, golden, 4096); }
    SECTION(std::string(e.name) + " golden rows with importance") {
      CheckSameAsReference(e, fast, golden, 4096, imp.data());
    }
    SECTION(std::string(e.name) + " Gaussian rows") { CheckSameAsReference(e, fast, gauss, 4096); }
    SECTION(std::string(e.name) + " odd block counts") {
      CheckSameAsReference(e, fast, gauss_odd, 11008);
      CheckSameAsReference(e, fast, one_block, kQK_K);
    }
    SECTION(std::string(e.name) + " edge blocks") { CheckSameAsReference(e, fast, edge, edge.size()); }
    if (!avx512) {
      SECTION(std::string(e.name) + " inf and NaN, with and without importance") {
        const auto nonfinite = NonFiniteRows(8, 21);
        CheckSameAsReference(e, fast, nonfinite, 4 * kQK_K);
        CheckSameAsReference(e, fast, nonfinite, 4 * kQK_K, boundary_imp.data());
      }
    }
    SECTION(std::string(e.name) + " mixed random rows, with and without importance") {
      CheckMixedRows(e, fast, avx512 ? 31 : 32, 150);
    }
    SECTION(std::string(e.name) + " clamp boundaries, with and without importance") {
      CheckSameAsReference(e, fast, boundary, 4 * kQK_K);
      CheckSameAsReference(e, fast, boundary, 4 * kQK_K, boundary_imp.data());
    }
  }
}

}  // namespace

TEST_CASE("K-quant edge row reaches the zero-scale paths of the reference", "[kquant-speed]") {
  const auto edge = EdgeRow();
  const int64_t n = static_cast<int64_t>(edge.size());
  std::vector<uint8_t> q2(sizeof(BlockQ2_K) * (n / kQK_K)), q4(sizeof(BlockQ4_K) * (n / kQK_K)),
      q6(sizeof(BlockQ6_K) * (n / kQK_K));
  kquant::QuantizeRowQ2K(edge.data(), q2.data(), n, nullptr);
  kquant::QuantizeRowQ4K(edge.data(), q4.data(), n, nullptr);
  kquant::QuantizeRowQ6K(edge.data(), q6.data(), n, nullptr);
  CHECK(HasZeroScaleWithLevelsQ2K(q2));
  CHECK(HasZeroScaleWithLevelsQ4K(q4));
  CHECK(HasZeroScaleWithLevelsQ6K(q6));
}

TEST_CASE("K-quant AVX2 encoders give the reference's bytes", "[kquant-speed]") {
  if (!GetCpuFeatures().avx2) {
    SHARDQ_SKIP("CPU without AVX2 (or SHARDQ_FORCE_SCALAR set): AVX2 K-quant encoders not checked");
  }
  CheckIsa(false);
}

TEST_CASE("K-quant AVX-512 encoders give the reference's bytes", "[kquant-speed]") {
  if (!GetCpuFeatures().avx512 || !GetCpuFeatures().avx2) {
    SHARDQ_SKIP("CPU without AVX-512 (or SHARDQ_FORCE_SCALAR set): AVX-512 K-quant encoders not checked");
  }
  CheckIsa(true);
}

}  // namespace shardq
