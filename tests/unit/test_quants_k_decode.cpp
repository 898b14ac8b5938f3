// The AVX2 Q4_K and Q6_K decoders against the scalar reference, float for
// float: random-byte blocks (every level and scale, and d / dmin of every
// kind: 0, subnormal, the largest, inf, NaN), blocks the encoder wrote for
// Gaussian rows, and the dispatch of the block format table.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstddef>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/block_format.h"
#include "kernels/block_structs.h"
#include "kernels/cpu_features.h"
#include "kernels/quants_k.h"
#include "tests/unit/test_util.h"

namespace shardq {
namespace {

using DecodeFn = void (*)(const void*, float*, int64_t);

// Equal bits, or both NaN (a NaN's payload is not part of the reference's promise).
int64_t FirstDiff(const std::vector<float>& a, const std::vector<float>& b) {
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(a[i]) && std::isnan(b[i])) continue;
    if (std::memcmp(&a[i], &b[i], sizeof(float)) != 0) return static_cast<int64_t>(i);
  }
  return -1;
}

void CheckSameFloats(DecodeFn ref, DecodeFn fast, const std::vector<uint8_t>& blocks, int64_t n) {
  std::vector<float> want(n), got(n, -1.f);
  ref(blocks.data(), want.data(), n);
  fast(blocks.data(), got.data(), n);
  const int64_t i = FirstDiff(got, want);
  INFO("first differing value " << i << " of " << n);
  CHECK(i == -1);
}

// Random bytes, with the block's fp16 fields (the first 2 or 4 bytes of
// Q4_K, the last 2 of Q6_K) set to special values in some blocks.
std::vector<uint8_t> RandomBlocks(size_t block_bytes, int blocks, bool d_first, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> b(block_bytes * blocks);
  for (auto& v : b) v = static_cast<uint8_t>(rng());
  const uint16_t special[] = {0x0000, 0x8000, 0x0001, 0x03FF, 0x7BFF, 0xFBFF, 0x7C00, 0xFC00, 0x7E00, 0x7C01, 0x3C00};
  for (int k = 0; k < blocks; ++k) {
    if (k % 3 == 0) continue;  // some blocks keep random fields
    uint8_t* blk = b.data() + block_bytes * k;
    const uint16_t d = special[rng() % 11], dmin = special[rng() % 11];
    if (d_first) {
      std::memcpy(blk, &d, 2);
      std::memcpy(blk + 2, &dmin, 2);
    } else {
      std::memcpy(blk + block_bytes - 2, &d, 2);
    }
  }
  return b;
}

}  // namespace

TEST_CASE("AVX2 Q4_K/Q6_K decoders give the reference's floats", "[kquant-decode]") {
  if (!GetCpuFeatures().avx2) {
    SHARDQ_SKIP("CPU without AVX2 (or SHARDQ_FORCE_SCALAR set): AVX2 K-quant decoders not checked");
  }
  static_assert(offsetof(BlockQ4_K, d) == 0 && offsetof(BlockQ6_K, d) == sizeof(BlockQ6_K) - 2);
  constexpr int kBlocks = 2000;
  SECTION("Q4_K random bytes") {
    CheckSameFloats(kquant::DequantizeRowQ4K, kquant::DequantizeRowQ4KAvx2,
                    RandomBlocks(sizeof(BlockQ4_K), kBlocks, true, 1), kBlocks * kQK_K);
  }
  SECTION("Q6_K random bytes") {
    CheckSameFloats(kquant::DequantizeRowQ6K, kquant::DequantizeRowQ6KAvx2,
                    RandomBlocks(sizeof(BlockQ6_K), kBlocks, false, 2), kBlocks * kQK_K);
  }
  SECTION("encoded Gaussian rows") {
    std::mt19937 rng(3);
    std::normal_distribution<float> nd(0.f, 0.02f);
    constexpr int64_t n = 64 * kQK_K;
    std::vector<float> x(n);
    for (auto& v : x) v = nd(rng);
    std::vector<uint8_t> q4(sizeof(BlockQ4_K) * (n / kQK_K)), q6(sizeof(BlockQ6_K) * (n / kQK_K));
    kquant::QuantizeRowQ4K(x.data(), q4.data(), n, nullptr);
    kquant::QuantizeRowQ6K(x.data(), q6.data(), n, nullptr);
    CheckSameFloats(kquant::DequantizeRowQ4K, kquant::DequantizeRowQ4KAvx2, q4, n);
    CheckSameFloats(kquant::DequantizeRowQ6K, kquant::DequantizeRowQ6KAvx2, q6, n);
  }
}

TEST_CASE("The dispatched Q4_K/Q6_K decoders are the AVX2 ones when the CPU has AVX2", "[kquant-decode]") {
  const bool avx2 = GetCpuFeatures().avx2;
  CHECK(FindBlockFormat(GgmlType::Q4_K)->dequantize_row ==
        (avx2 ? kquant::DequantizeRowQ4KAvx2 : kquant::DequantizeRowQ4K));
  CHECK(FindBlockFormat(GgmlType::Q6_K)->dequantize_row ==
        (avx2 ? kquant::DequantizeRowQ6KAvx2 : kquant::DequantizeRowQ6K));
}

}  // namespace shardq
