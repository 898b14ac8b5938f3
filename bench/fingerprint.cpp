// bench_fingerprint: what the source fingerprints (issue 9: resume reuses a unit
// only if its source bytes are unchanged) cost on a model's real tensors.
//
//  - worker path (CompressTensor): TensorSource::ReadF32 alone, and the
//    fingerprint of the stored bytes followed by ReadF32, alternating per tensor
//    in the same run (warm page cache); the difference is what a worker pays;
//  - rank 0's path on resume (and for calibrated jobs, once per job):
//    FingerprintBytes over the stored bytes, 1 thread and the pool.
// Prints seconds and ratios; a job's cost is the worker difference over the
// job's CPU seconds (bench_scaling prints those).
//
// usage: bench_fingerprint MODEL [--threads N] [--rounds N]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "kernels/cpu_features.h"
#include "common/model.h"
#include "common/source_fingerprint.h"
#include "common/thread_pool.h"

using namespace shardq;
using Clock = std::chrono::steady_clock;

namespace {
double Seconds(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }
}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_fingerprint MODEL [--threads N] [--rounds N]\n");
    return 2;
  }
  int threads = 2, rounds = 3;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--threads") threads = std::max(1, std::atoi(argv[i + 1]));
    else if (a == "--rounds") rounds = std::max(1, std::atoi(argv[i + 1]));
  }
  Result<Model> m = OpenModel(argv[1]);
  if (!m.ok()) {
    std::fprintf(stderr, "bench_fingerprint: %s\n", m.status().message().c_str());
    return 1;
  }
  TensorSource& src = *m->source;
  const CpuFeatures& cpu = GetCpuFeatures();
  std::printf("ISA: %s; model %s, %zu tensors\n", cpu.avx512 ? "AVX-512" : cpu.avx2 ? "AVX2" : "scalar",
              argv[1], src.tensors().size());
  uint64_t bytes = 0;
  for (const TensorInfo& t : src.tensors()) bytes += t.nbytes;
  std::vector<float> data;
  // Warm the page cache and the allocator.
  for (const TensorInfo& t : src.tensors()) (void)src.ReadF32(t, &data);
  std::vector<double> plain, fused, alone1, aloneN;
  ThreadPool pool(threads);
  uint32_t sink = 0;
  for (int r = 0; r < rounds; ++r) {
    double p = 0, f = 0, a1 = 0, an = 0;
    for (const TensorInfo& t : src.tensors()) {
      // Alternate which variant goes first, so neither always meets a colder cache.
      for (int k = 0; k < 2; ++k) {
        const bool with = (k == 0) == (r % 2 == 0);
        const auto t0 = Clock::now();
        if (with) {  // what CompressTensor does for a worker
          Result<ByteSpan> raw = src.RawBytes(t);
          if (!raw.ok()) return 1;
          sink ^= FingerprintBytes(raw->data, raw->size, &pool);
        }
        if (!src.ReadF32(t, &data).ok()) return 1;
        (with ? f : p) += Seconds(t0);
      }
      Result<ByteSpan> raw = src.RawBytes(t);
      if (!raw.ok()) return 1;
      auto t0 = Clock::now();
      sink ^= FingerprintBytes(raw->data, raw->size, nullptr);
      a1 += Seconds(t0);
      t0 = Clock::now();
      sink ^= FingerprintBytes(raw->data, raw->size, &pool);
      an += Seconds(t0);
    }
    plain.push_back(p);
    fused.push_back(f);
    alone1.push_back(a1);
    aloneN.push_back(an);
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  const double p = median(plain), f = median(fused), a1 = median(alone1), an = median(aloneN);
  const double gb = bytes / 1e9;
  std::printf("stored bytes: %.2f GB (median of %d rounds; checksum %08x)\n", gb, rounds, sink);
  std::printf("worker read (ReadF32), no fingerprint:   %7.3f s  (%.2f GB/s)\n", p, gb / p);
  std::printf("worker read (ReadF32), with fingerprint: %7.3f s  (%.2f GB/s)  cost +%.3f s = %.1f%% of the read\n", f,
              gb / f, f - p, 100.0 * (f - p) / p);
  std::printf("rank 0 fingerprint alone, 1 thread:      %7.3f s  (%.2f GB/s)\n", a1, gb / a1);
  std::printf("rank 0 fingerprint alone, %d threads:     %7.3f s  (%.2f GB/s)\n", threads, an, gb / an);
  return 0;
}
