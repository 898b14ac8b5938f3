// GPTQ's update phase (the deferred lazy-batch updates, one gemm per batch) in
// both working precisions (double + dgemm, the default; float + sgemm) against
// cblas_sgemm and cblas_dgemm on this machine, in the same run, with the same
// OpenBLAS thread count. The target: the update phase at >= 50% of sgemm's
// FLOP/s. The sgemm reference has the update's typical shape (rows x cols x
// block_columns). Also prints the other phases (factorization, the per-column
// sweep) so the whole cost is visible. Never passes or fails on time.
//
// usage: bench_gptq [ROWS COLS] [--type Q4_K] [--threads N] [--act-order]
//   default 4096 x 4096 (an attention projection of a 7B model). A down
//   projection is 4096 x 11008: its H alone is 1 GB of double and its
//   factorization and update take minutes on 2 cores, so it is opt-in (pass the size).
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/block_format.h"
#include "kernels/cpu_features.h"
#include "kernels/gptq.h"

extern "C" {
int openblas_get_num_threads(void);
void openblas_set_num_threads(int);
char* openblas_get_config(void);
}

namespace {

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

const char* Isa() {
  const shardq::CpuFeatures& f = shardq::GetCpuFeatures();
  return f.avx512 ? "avx512" : f.avx2 ? "avx2" : "scalar";
}

// Best of `reps` seconds of C -= A B with A m x k, B k x n.
template <class T, class Gemm>
double TimeGemm(int m, int n, int k, int reps, Gemm gemm) {
  std::vector<T> a(static_cast<size_t>(m) * k, T(0.5)), b(static_cast<size_t>(k) * n, T(0.25)),
      c(static_cast<size_t>(m) * n, T(1));
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    const double t0 = Now();
    gemm(m, n, k, a.data(), b.data(), c.data());
    best = std::min(best, Now() - t0);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  int rows = 4096, cols = 4096, threads = 0;
  bool act_order = false;
  std::string type_name = "Q4_K";
  std::vector<int> sizes;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--type" && i + 1 < argc) type_name = argv[++i];
    else if (a == "--threads" && i + 1 < argc) threads = std::atoi(argv[++i]);
    else if (a == "--act-order") act_order = true;
    else sizes.push_back(std::atoi(argv[i]));
  }
  if (sizes.size() == 2) {
    rows = sizes[0];
    cols = sizes[1];
  }
  const auto type = shardq::ParseGgmlType(type_name);
  if (!type) {
    std::fprintf(stderr, "bench_gptq: unknown type %s\n", type_name.c_str());
    return 2;
  }
  if (threads > 0) openblas_set_num_threads(threads);
  const int blas_threads = openblas_get_num_threads();
  std::printf("bench_gptq: %d x %d %s, act_order %d, OpenBLAS threads %d, isa %s\n", rows, cols, type_name.c_str(),
              act_order ? 1 : 0, blas_threads, Isa());
  std::printf("OpenBLAS config: %s\n", openblas_get_config());

  // Correlated inputs X (samples x cols), H = 2 X^T X by dsyrk-free dgemm.
  const int samples = std::min(cols, 2048);
  std::mt19937 rng(1);
  std::normal_distribution<double> nd(0.0, 1.0);
  std::vector<double> x(static_cast<size_t>(samples) * cols);
  for (int s = 0; s < samples; ++s) {
    double prev = nd(rng);
    for (int i = 0; i < cols; ++i) {
      prev = 0.8 * prev + 0.6 * nd(rng);
      x[static_cast<size_t>(s) * cols + i] = prev;
    }
  }
  std::vector<double> h(static_cast<size_t>(cols) * cols);
  cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, cols, cols, samples, 2.0, x.data(), cols, x.data(), cols, 0.0,
              h.data(), cols);
  x.clear();
  x.shrink_to_fit();
  std::vector<float> w(static_cast<size_t>(rows) * cols);
  std::normal_distribution<float> wd(0.f, 0.02f);
  for (float& v : w) v = wd(rng);

  const int k = 128, n = cols - k;  // the update's typical shape (GptqOptions::block_columns = 128)
  const double flops = 2.0 * rows * static_cast<double>(n) * k;
  double s_sgemm = 1e30, s_dgemm = 1e30;
  auto RefGemms = [&](double* ss, double* sd) {
    *ss = std::min(*ss, TimeGemm<float>(rows, n, k, 3, [](int m, int nn, int kk, const float* a, const float* b, float* c) {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, nn, kk, -1.f, a, kk, b, nn, 1.f, c, nn);
    }));
    *sd = std::min(*sd, TimeGemm<double>(rows, n, k, 3, [](int m, int nn, int kk, const double* a, const double* b, double* c) {
      cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, nn, kk, -1.0, a, kk, b, nn, 1.0, c, nn);
    }));
  };
  RefGemms(&s_sgemm, &s_dgemm);

  const shardq::BlockFormat* f = shardq::FindBlockFormat(*type);
  std::vector<uint8_t> out(f->row_bytes(cols) * rows);
  shardq::gptq::GptqOptions opt;
  opt.act_order = act_order;
  double update_gflops[2] = {0, 0};
  for (int prec = 0; prec < 2; ++prec) {
    opt.precision = prec == 0 ? shardq::gptq::SweepPrecision::kDouble : shardq::gptq::SweepPrecision::kFloat;
    const char* pname = prec == 0 ? "double, dgemm" : "float, sgemm";
    shardq::gptq::GptqStats stats;
    std::string msg;
    const double t0 = Now();
    const auto e = shardq::gptq::QuantizeGgml(w.data(), rows, cols, h.data(), *type, nullptr, opt, out.data(), &stats, &msg);
    const double total = Now() - t0;
    if (e != shardq::gptq::GptqError::kOk) {
      std::fprintf(stderr, "bench_gptq: %s\n", msg.c_str());
      return 1;
    }
    update_gflops[prec] = stats.update_flops / stats.seconds_update / 1e9;
    std::printf("gptq (%s) total  %8.2f s  [isa %s]\n", pname, total, Isa());
    std::printf("  factorization     %8.2f s  [isa %s]\n", stats.seconds_factor, Isa());
    std::printf("  sweep (fit/round) %8.2f s  [isa %s]\n", stats.seconds_sweep, Isa());
    std::printf("  update            %8.2f s  %8.1f GFLOP/s  [isa %s]\n", stats.seconds_update, update_gflops[prec], Isa());
  }

  RefGemms(&s_sgemm, &s_dgemm);  // again after: the best of both passes, so load drift on a shared machine
                                  // does not favour either side
  const double sgemm_gflops = flops / s_sgemm / 1e9, dgemm_gflops = flops / s_dgemm / 1e9;
  std::printf("cblas_sgemm %dx%dx%d     %8.1f GFLOP/s  [isa %s, OpenBLAS threads %d]\n", rows, n, k, sgemm_gflops, Isa(),
              blas_threads);
  std::printf("cblas_dgemm %dx%dx%d     %8.1f GFLOP/s  [isa %s, OpenBLAS threads %d]\n", rows, n, k, dgemm_gflops, Isa(),
              blas_threads);
  std::printf("update phase (double) / dgemm: %.0f%%  [isa %s]\n", 100.0 * update_gflops[0] / dgemm_gflops, Isa());
  std::printf("update phase (double) / sgemm: %.0f%%  [isa %s]\n", 100.0 * update_gflops[0] / sgemm_gflops, Isa());
  std::printf("update phase (float)  / sgemm: %.0f%% (target >= 50%%)  [isa %s]\n", 100.0 * update_gflops[1] / sgemm_gflops,
              Isa());
  return 0;
}
