// Quantizer throughput on a seeded 4096 x 11008 Gaussian matrix: weights/s of
// the dispatched (SIMD) encoder and the scalar reference for Q8_0, Q4_0, Q4_K,
// Q5_K, Q6_K, Q2_K, Q3_K, IQ4_NL, one thread and all threads, with the relative RMSE of each, plus the
// memcpy bandwidth over the same bytes. For the K-quants and IQ4_NL each ISA's encoder
// (AVX2, AVX-512) also gets a row, timed on the reference's rows in rounds that
// alternate with the reference (the machine is shared: the median of the
// per-round ratios is what to quote). The K-quants then get the same rows WITH
// importance (a random positive vector per column, as an imatrix gives; also Q2_K, Q3_K and IQ4_NL): ggml's
// weighted searches, the path of every calibrated job, against the scalar
// reference with importance (`bench_quantize --imatrix`: only that table).
// Prints a table; never fails on time.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "kernels/cpu_features.h"
#include "kernels/ggml_type.h"
#include "kernels/block_format.h"
#include "kernels/quants_k.h"
#include "kernels/quants_legacy.h"

namespace {

using shardq::BlockFormat;
using shardq::GgmlType;
using QuantizeRowFn = void (*)(const float*, void*, int64_t, const float*);

constexpr int64_t kRows = 4096, kCols = 11008;  // 11008 = 43 * 256

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Encodes rows [0, rows) split over `threads` threads; returns seconds.
// importance: kCols weights shared by every row, or null.
double EncodeRows(const BlockFormat& f, const float* x, uint8_t* out, int64_t rows, int threads,
                  const float* importance = nullptr) {
  const size_t rb = f.row_bytes(kCols);
  const double t0 = Now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (int64_t r = rows * t / threads; r < rows * (t + 1) / threads; ++r) {
        f.quantize_row(x + r * kCols, out + r * rb, kCols, importance);
      }
    });
  }
  for (auto& th : pool) th.join();
  return Now() - t0;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Relative RMSE; with importance, weighted per column (the error ggml's search minimizes).
double RelRmse(const BlockFormat& f, const float* x, const uint8_t* q, int64_t rows,
               const float* importance = nullptr) {
  std::vector<float> y(kCols);
  double num = 0, den = 0;
  for (int64_t r = 0; r < rows; ++r) {
    f.dequantize_row(q + r * f.row_bytes(kCols), y.data(), kCols);
    for (int64_t c = 0; c < kCols; ++c) {
      const double a = x[r * kCols + c], d = a - y[c], w = importance ? importance[c] : 1.0;
      num += w * d * d;
      den += w * a * a;
    }
  }
  return std::sqrt(num / den);
}

// Q4_K/Q5_K/Q6_K/Q2_K/Q3_K/IQ4_NL with importance: the scalar reference and each ISA's encoder
// on the same rows, in alternating rounds; then the dispatched encoder on more
// rows with 1 and all threads.
void BenchWithImportance(const std::vector<float>& x) {
  std::vector<float> imp(kCols);
  {
    std::mt19937 rng(7);
    std::normal_distribution<float> nd(0.f, 1.f);
    for (auto& w : imp) w = std::exp(2.f * nd(rng));  // positive, spread like calibration mean x^2
  }
  const int all = std::max(1u, std::thread::hardware_concurrency());
  std::printf("\nwith importance (random positive, one per column)\n");
  std::printf("%-6s %-6s %7s %12s %12s %10s %10s %s\n", "type", "impl", "threads", "Mweights/s", "vs ref(1t)",
              "w.RMSE", "ref w.RMSE", "");
  const GgmlType types[] = {GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::Q2_K, GgmlType::Q3_K,
                            GgmlType::IQ4_NL};
  const char* names[] = {"Q4_K", "Q5_K", "Q6_K", "Q2_K", "Q3_K", "IQ4_NL"};
  constexpr int64_t kRefRows = 256, kFastRows = kRows;
  constexpr int kRounds = 5;
  for (int k = 0; k < 6; ++k) {
    const BlockFormat* fast = shardq::FindBlockFormat(types[k]);
    const BlockFormat* ref = shardq::FindReferenceBlockFormat(types[k]);
    if (!fast || !ref || !fast->quantize_row || !ref->quantize_row) {
      std::printf("%-6s (not available in this build)\n", names[k]);
      continue;
    }
    using namespace shardq::kquant;
    const auto& cpu = shardq::GetCpuFeatures();
    const QuantizeRowFn avx2_fns[] = {QuantizeRowQ4KAvx2, QuantizeRowQ5KAvx2, QuantizeRowQ6KAvx2,
                                      QuantizeRowQ2KAvx2, QuantizeRowQ3KAvx2, shardq::legacy::QuantizeIQ4_NLAvx2};
    // Q2_K, Q3_K and IQ4_NL have no AVX-512 encoders (their AVX2 ones are dispatched there)
    const QuantizeRowFn avx512_fns[] = {QuantizeRowQ4KAvx512, QuantizeRowQ5KAvx512, QuantizeRowQ6KAvx512,
                                        nullptr, nullptr, nullptr};
    struct Isa { const char* name; BlockFormat f; std::vector<double> rate, ratio; };
    std::vector<Isa> isas;
    if (cpu.avx2) isas.push_back({"avx2", *ref, {}, {}});
    if (cpu.avx2) isas.back().f.quantize_row = avx2_fns[k];
    if (cpu.avx2 && cpu.avx512 && avx512_fns[k]) isas.push_back({"avx512", *ref, {}, {}});
    if (cpu.avx2 && cpu.avx512 && avx512_fns[k]) isas.back().f.quantize_row = avx512_fns[k];
    const size_t rb = ref->row_bytes(kCols);
    std::vector<uint8_t> qf(rb * kFastRows), qr(rb * kRefRows);
    std::vector<double> ref_rates;
    for (int round = 0; round < kRounds; ++round) {
      const double rr = kRefRows * kCols / EncodeRows(*ref, x.data(), qr.data(), kRefRows, 1, imp.data());
      ref_rates.push_back(rr);
      for (auto& isa : isas) {
        const double r = kRefRows * kCols / EncodeRows(isa.f, x.data(), qf.data(), kRefRows, 1, imp.data());
        isa.rate.push_back(r);
        isa.ratio.push_back(r / rr);
      }
    }
    const double ref_rate = Median(ref_rates);
    const double ref_rmse = RelRmse(*ref, x.data(), qr.data(), kRefRows, imp.data());
    std::printf("%-6s %-6s %7d %12.2f %12.2f %10.6f %10s (%lld rows, median of %d)\n", names[k], "ref", 1,
                ref_rate / 1e6, 1.0, ref_rmse, "", static_cast<long long>(kRefRows), kRounds);
    for (auto& isa : isas) {
      EncodeRows(isa.f, x.data(), qf.data(), kRefRows, 1, imp.data());
      const bool same = std::memcmp(qf.data(), qr.data(), rb * kRefRows) == 0;
      std::printf("%-6s %-6s %7d %12.2f %12.2f %10.6f %10.6f %s (median of %d interleaved rounds)\n", names[k],
                  isa.name, 1, Median(isa.rate) / 1e6, Median(isa.ratio),
                  RelRmse(isa.f, x.data(), qf.data(), kRefRows, imp.data()), ref_rmse,
                  same ? "(bytes == ref)" : "(bytes DIFFER from ref)", kRounds);
    }
    for (const int threads : {1, all}) {
      const double t = EncodeRows(*fast, x.data(), qf.data(), kFastRows, threads, imp.data());
      const double rate = kFastRows * kCols / t;
      std::printf("%-6s %-6s %7d %12.2f %12.2f %10.6f %10.6f (%lld rows)\n", names[k], "fast", threads, rate / 1e6,
                  rate / ref_rate, RelRmse(*fast, x.data(), qf.data(), kFastRows, imp.data()), ref_rmse,
                  static_cast<long long>(kFastRows));
    }
  }
}

}  // namespace

// --imatrix: only the with-importance table.
int main(int argc, char** argv) {
  const bool only_importance = argc > 1 && std::strcmp(argv[1], "--imatrix") == 0;
  std::printf("generating %lld x %lld Gaussian matrix...\n", static_cast<long long>(kRows),
              static_cast<long long>(kCols));
  std::vector<float> x(kRows * kCols);
  {
    std::mt19937 rng(42);
    std::normal_distribution<float> nd(0.f, 1.f);
    for (auto& v : x) v = nd(rng);
  }
  if (only_importance) {
    BenchWithImportance(x);
    return 0;
  }
  const int all = std::max(1u, std::thread::hardware_concurrency());

  // memcpy bandwidth over the matrix's bytes: the ceiling of a memory-bound encoder.
  {
    std::vector<uint8_t> dst(x.size() * sizeof(float));
    std::memcpy(dst.data(), x.data(), dst.size());  // fault the pages in
    const double t0 = Now();
    for (int rep = 0; rep < 3; ++rep) std::memcpy(dst.data(), x.data(), dst.size());
    const double s = (Now() - t0) / 3;
    std::printf("memcpy of %.0f MB: %.2f GB/s = %.0f M weights/s (f32 in)\n", dst.size() / 1e6,
                dst.size() / s / 1e9, x.size() / s / 1e6);
  }

  std::printf("\n%-6s %-6s %7s %12s %12s %10s %10s %s\n", "type", "impl", "threads", "Mweights/s",
              "vs ref(1t)", "rel.RMSE", "ref RMSE", "");
  const GgmlType types[] = {GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K,
                            GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::IQ4_NL};
  const char* names[] = {"Q8_0", "Q4_0", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "IQ4_NL"};
  for (int ti = 0; ti < 8; ++ti) {
    const BlockFormat* fast = shardq::FindBlockFormat(types[ti]);
    const BlockFormat* ref = shardq::FindReferenceBlockFormat(types[ti]);
    if (!fast || !ref || !fast->quantize_row || !ref->quantize_row) {
      std::printf("%-6s (not available in this build)\n", names[ti]);
      continue;
    }
    std::vector<uint8_t> qf(fast->row_bytes(kCols) * kRows), qr(ref->row_bytes(kCols) * kRows);
    // The slow scalar reference runs on a slice of rows (its time scales
    // linearly) to keep the run short; its RMSE is compared on the same slice.
    const bool kquant = types[ti] == GgmlType::Q4_K || types[ti] == GgmlType::Q5_K || types[ti] == GgmlType::Q6_K;
    // Q2_K's, Q3_K's and IQ4_NL's references (searches per sub-block) are as slow as the K-quants'.
    const bool avx2_only = types[ti] == GgmlType::Q2_K || types[ti] == GgmlType::Q3_K || types[ti] == GgmlType::IQ4_NL;
    const bool slow_ref = kquant || avx2_only;
    const int64_t ref_rows = slow_ref ? 256 : kRows;
    // Per-ISA K-quant encoders, timed in rounds alternating with the reference.
    struct Isa { const char* name; BlockFormat f; std::vector<double> rate, ratio; };
    std::vector<Isa> isas;
    if (kquant) {
      using namespace shardq::kquant;
      const auto& cpu = shardq::GetCpuFeatures();
      const int k = types[ti] == GgmlType::Q4_K ? 0 : types[ti] == GgmlType::Q5_K ? 1 : 2;
      const QuantizeRowFn avx2_fns[] = {QuantizeRowQ4KAvx2, QuantizeRowQ5KAvx2, QuantizeRowQ6KAvx2};
      const QuantizeRowFn avx512_fns[] = {QuantizeRowQ4KAvx512, QuantizeRowQ5KAvx512,
                                                       QuantizeRowQ6KAvx512};
      if (cpu.avx2) isas.push_back({"avx2", *ref, {}, {}});
      if (cpu.avx2) isas.back().f.quantize_row = avx2_fns[k];
      if (cpu.avx2 && cpu.avx512) isas.push_back({"avx512", *ref, {}, {}});
      if (cpu.avx2 && cpu.avx512) isas.back().f.quantize_row = avx512_fns[k];
    } else if (avx2_only && shardq::GetCpuFeatures().avx2) {
      // AVX2 only (also dispatched on AVX-512 CPUs)
      isas.push_back({"avx2", *ref, {}, {}});
      isas.back().f.quantize_row = types[ti] == GgmlType::Q2_K   ? shardq::kquant::QuantizeRowQ2KAvx2
                                   : types[ti] == GgmlType::Q3_K ? shardq::kquant::QuantizeRowQ3KAvx2
                                                                 : shardq::legacy::QuantizeIQ4_NLAvx2;
    }
    const int rounds = slow_ref ? 5 : 1;
    std::vector<double> ref_rates;
    for (int round = 0; round < rounds; ++round) {
      const double rr = ref_rows * kCols / EncodeRows(*ref, x.data(), qr.data(), ref_rows, 1);
      ref_rates.push_back(rr);
      for (auto& isa : isas) {
        const double r = ref_rows * kCols / EncodeRows(isa.f, x.data(), qf.data(), ref_rows, 1);
        isa.rate.push_back(r);
        isa.ratio.push_back(r / rr);
      }
    }
    const double ref_rate = Median(ref_rates);
    const double ref_rmse = RelRmse(*ref, x.data(), qr.data(), ref_rows);
    std::printf("%-6s %-6s %7d %12.1f %12.2f %10.6f %10s (%lld rows, median of %d)\n", names[ti], "ref", 1,
                ref_rate / 1e6, 1.0, ref_rmse, "", static_cast<long long>(ref_rows), rounds);
    for (auto& isa : isas) {
      EncodeRows(isa.f, x.data(), qf.data(), ref_rows, 1);
      const bool same = std::memcmp(qf.data(), qr.data(), ref->row_bytes(kCols) * ref_rows) == 0;
      std::printf("%-6s %-6s %7d %12.1f %12.2f %10.6f %10.6f %s (median of %d interleaved rounds)\n", names[ti],
                  isa.name, 1, Median(isa.rate) / 1e6, Median(isa.ratio), RelRmse(isa.f, x.data(), qf.data(), ref_rows),
                  ref_rmse, same ? "(bytes == ref)" : "(bytes DIFFER from ref)", rounds);
    }
    for (const int threads : {1, all}) {
      const double t = EncodeRows(*fast, x.data(), qf.data(), kRows, threads);
      const double rate = kRows * kCols / t;
      const double rmse_slice = RelRmse(*fast, x.data(), qf.data(), ref_rows);
      std::printf("%-6s %-6s %7d %12.1f %12.2f %10.6f %10.6f %s\n", names[ti], "fast", threads, rate / 1e6,
                  rate / ref_rate, RelRmse(*fast, x.data(), qf.data(), kRows), ref_rmse,
                  rmse_slice <= ref_rmse ? "(<= ref on ref rows)" : "(> ref on ref rows)");
    }
  }
  BenchWithImportance(x);
  return 0;
}
