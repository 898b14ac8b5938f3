// The AVX2 K-quant vec_dot kernels (row . Q8_K activations) against the scalar
// reference: ggml's golden rows, seeded Gaussian rows, and random-byte blocks
// that reach every level and the extreme activations (-128, 127). Integer sums
// must be exact; the float steps may be ordered differently, so the bound is
// relative to sum |x_i * v_i| of the decoded values.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu_features.h"
#include "kernels/block_format.h"
#include "kernels/block_structs.h"
#include "kernels/fp16.h"
#include "kernels/quants_k.h"
#include "tests/unit/test_util.h"

namespace shardq {
namespace {

using VecDotFn = float (*)(const void*, const void*, int64_t);

struct DotKernel {
  GgmlType type;
  const char* name;
  VecDotFn avx2;
};
const DotKernel kKernels[] = {
    {GgmlType::Q2_K, "Q2_K", kquant::VecDotQ2KQ8KAvx2}, {GgmlType::Q3_K, "Q3_K", kquant::VecDotQ3KQ8KAvx2},
    {GgmlType::Q4_K, "Q4_K", kquant::VecDotQ4KQ8KAvx2}, {GgmlType::Q5_K, "Q5_K", kquant::VecDotQ5KQ8KAvx2},
    {GgmlType::Q6_K, "Q6_K", kquant::VecDotQ6KQ8KAvx2},
};

constexpr int64_t kCols = 4096;

std::vector<uint8_t> EncodeQ8K(const float* x, int64_t n) {
  const BlockFormat* q8 = FindReferenceBlockFormat(GgmlType::Q8_K);
  std::vector<uint8_t> out(q8->row_bytes(n));
  q8->quantize_row(x, out.data(), n, nullptr);
  return out;
}

// sum |x_i * v_i| over the decoded values, in double.
double AbsDotBound(const BlockFormat& f, const uint8_t* row, const uint8_t* act, int64_t n) {
  std::vector<float> x(n), v(n);
  f.dequantize_row(row, x.data(), n);
  FindReferenceBlockFormat(GgmlType::Q8_K)->dequantize_row(act, v.data(), n);
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += std::fabs(static_cast<double>(x[i]) * v[i]);
  return s;
}

void CheckRow(const DotKernel& k, const uint8_t* row, const uint8_t* act, int64_t n, const std::string& what) {
  const BlockFormat* ref = FindReferenceBlockFormat(k.type);
  const float scalar = ref->vec_dot(row, act, n);
  const float fast = k.avx2(row, act, n);
  const double bound = 1e-5 * AbsDotBound(*ref, row, act, n);
  INFO(k.name << " " << what << ": scalar " << scalar << " avx2 " << fast << " bound " << bound);
  REQUIRE(std::isfinite(scalar));
  CHECK(std::fabs(static_cast<double>(fast) - scalar) <= bound);
}

}  // namespace

TEST_CASE("AVX2 K-quant vec_dot matches the scalar one on ggml's golden rows", "[kquant-dot]") {
  if (!GetCpuFeatures().avx2) SHARDQ_SKIP("CPU without AVX2 (or SHARDQ_FORCE_SCALAR set)");
  const std::vector<float> input = testing::ReadFloats(testing::SharedPath("golden/blocks/input.f32"));
  REQUIRE(input.size() == 16 * kCols);
  for (const DotKernel& k : kKernels) {
    const BlockFormat* ref = FindReferenceBlockFormat(k.type);
    const std::vector<uint8_t> rows =
        testing::ReadFileBytes(testing::SharedPath(std::string("golden/blocks/") + k.name + ".bin"));
    const size_t row_bytes = ref->row_bytes(kCols);
    REQUIRE(rows.size() == 16 * row_bytes);
    for (int r = 0; r < 16; ++r) {
      // activations from another golden row, so the products are not all squares
      const std::vector<uint8_t> act = EncodeQ8K(input.data() + ((r + 5) % 16) * kCols, kCols);
      CheckRow(k, rows.data() + r * row_bytes, act.data(), kCols, "golden row " + std::to_string(r));
    }
  }
}

TEST_CASE("AVX2 K-quant vec_dot matches the scalar one on Gaussian rows", "[kquant-dot]") {
  if (!GetCpuFeatures().avx2) SHARDQ_SKIP("CPU without AVX2 (or SHARDQ_FORCE_SCALAR set)");
  std::mt19937 rng(1234);
  std::normal_distribution<float> gauss(0.0f, 1.0f);
  for (const DotKernel& k : kKernels) {
    const BlockFormat* ref = FindReferenceBlockFormat(k.type);
    for (int trial = 0; trial < 8; ++trial) {
      const int64_t n = kQK_K * (1 + trial);  // odd block counts too
      std::vector<float> x(n), v(n);
      const float sx = std::pow(10.0f, static_cast<float>(trial % 4) - 2);
      for (auto& e : x) e = sx * gauss(rng);
      for (auto& e : v) e = gauss(rng);
      std::vector<uint8_t> row(ref->row_bytes(n));
      ref->quantize_row(x.data(), row.data(), n, nullptr);
      const std::vector<uint8_t> act = EncodeQ8K(v.data(), n);
      CheckRow(k, row.data(), act.data(), n, "gaussian trial " + std::to_string(trial));
    }
  }
}

TEST_CASE("AVX2 K-quant vec_dot is exact on random-byte blocks and extreme activations", "[kquant-dot]") {
  if (!GetCpuFeatures().avx2) SHARDQ_SKIP("CPU without AVX2 (or SHARDQ_FORCE_SCALAR set)");
  std::mt19937 rng(99);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_real_distribution<float> unit(0.01f, 1.0f);
  const int64_t n = 4 * kQK_K;
  for (const DotKernel& k : kKernels) {
    const BlockFormat* ref = FindReferenceBlockFormat(k.type);
    for (int trial = 0; trial < 20; ++trial) {
      // Any bytes are a valid block except the fp16 scales, which we make finite:
      // d (and dmin) are the last 2-4 bytes of Q2_K/Q3_K/Q6_K, the first 4 of Q4_K/Q5_K.
      std::vector<uint8_t> row(ref->row_bytes(n));
      for (auto& b : row) b = static_cast<uint8_t>(byte(rng));
      const bool scales_first = k.type == GgmlType::Q4_K || k.type == GgmlType::Q5_K;
      const int nscales = k.type == GgmlType::Q3_K || k.type == GgmlType::Q6_K ? 1 : 2;
      for (int64_t b = 0; b < n / kQK_K; ++b) {
        uint8_t* blk = row.data() + b * ref->block_bytes;
        uint8_t* d = scales_first ? blk : blk + ref->block_bytes - 2 * nscales;
        for (int s = 0; s < nscales; ++s) {
          const uint16_t h = F32ToFp16(unit(rng));
          std::memcpy(d + 2 * s, &h, 2);
        }
      }
      std::vector<BlockQ8_K> act(n / kQK_K);
      for (auto& a : act) {
        a.d = unit(rng);
        for (int i = 0; i < kQK_K; ++i) {
          // a third of the trials at the extremes, where maddubs could saturate
          const int q = trial % 3 == 0 ? (byte(rng) & 1 ? 127 : -128) : byte(rng) - 128;
          a.qs[i] = static_cast<int8_t>(q);
        }
        for (int g = 0; g < 16; ++g) {
          int s = 0;
          for (int i = 0; i < 16; ++i) s += a.qs[16 * g + i];
          a.bsums[g] = static_cast<int16_t>(s);
        }
      }
      CheckRow(k, row.data(), reinterpret_cast<const uint8_t*>(act.data()), n,
               "random trial " + std::to_string(trial));
    }
  }
}

TEST_CASE("The dispatched K-quant table uses the AVX2 vec_dot when the CPU has it", "[kquant-dot]") {
  for (const DotKernel& k : kKernels) {
    INFO(k.name);
    REQUIRE(FindReferenceBlockFormat(k.type)->vec_dot != k.avx2);
    if (GetCpuFeatures().avx2) {
      CHECK(FindBlockFormat(k.type)->vec_dot == k.avx2);
    } else {
      CHECK(FindBlockFormat(k.type)->vec_dot == FindReferenceBlockFormat(k.type)->vec_dot);
    }
  }
}

TEST_CASE("AVX2 Q4_K/Q6_K dot_f32 match the scalar ones", "[kquant-dot]") {
  using DotF32Fn = float (*)(const void*, const float*, int64_t);
  struct F32Kernel {
    GgmlType type;
    const char* name;
    DotF32Fn avx2;
  };
  const F32Kernel kernels[] = {{GgmlType::Q4_K, "Q4_K", kquant::DotF32Q4KAvx2},
                               {GgmlType::Q6_K, "Q6_K", kquant::DotF32Q6KAvx2}};
  if (!GetCpuFeatures().avx2) SHARDQ_SKIP("CPU without AVX2 (or SHARDQ_FORCE_SCALAR set)");
  const std::vector<float> input = testing::ReadFloats(testing::SharedPath("golden/blocks/input.f32"));
  REQUIRE(input.size() == 16 * kCols);
  std::mt19937 rng(7);
  std::normal_distribution<float> gauss(0.0f, 1.0f);
  for (const F32Kernel& k : kernels) {
    const BlockFormat* ref = FindReferenceBlockFormat(k.type);
    REQUIRE(ref->dot_f32 != k.avx2);
    CHECK(FindBlockFormat(k.type)->dot_f32 == k.avx2);
    const std::vector<uint8_t> rows =
        testing::ReadFileBytes(testing::SharedPath(std::string("golden/blocks/") + k.name + ".bin"));
    const size_t row_bytes = ref->row_bytes(kCols);
    REQUIRE(rows.size() == 16 * row_bytes);
    for (int r = 0; r < 16; ++r) {
      // the vector: another golden row half the time, Gaussian otherwise
      std::vector<float> v(kCols);
      if (r % 2) {
        for (auto& e : v) e = gauss(rng);
      } else {
        std::memcpy(v.data(), input.data() + ((r + 3) % 16) * kCols, kCols * sizeof(float));
      }
      const uint8_t* row = rows.data() + r * row_bytes;
      std::vector<float> x(kCols);
      ref->dequantize_row(row, x.data(), kCols);
      double abs_dot = 0;
      for (int64_t i = 0; i < kCols; ++i) abs_dot += std::fabs(static_cast<double>(x[i]) * v[i]);
      const float scalar = ref->dot_f32(row, v.data(), kCols);
      const float fast = k.avx2(row, v.data(), kCols);
      INFO(k.name << " row " << r << ": scalar " << scalar << " avx2 " << fast);
      CHECK(std::fabs(static_cast<double>(fast) - scalar) <= 1e-5 * abs_dot);
    }
  }
}

}  // namespace shardq
