// bench_forward: tokens/s of the forward pass on shakespeare-5m, batched (prompt /
// perplexity, dequantize + sgemm) and single-token (block-format matvec), for F32,
// Q8_0 and Q4_K weights quantized in memory through the block format table.
//
// Each line also prints the memory-bandwidth bound: memcpy bandwidth / weight bytes
// read per token (per batch for the batched path), and the ratio measured / bound.
// Single-token decode of a large model is memory-bound, so that ratio is the one to
// beat; this model's weights fit in cache, so the ratio can exceed 1 here.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "common/model.h"
#include "common/thread_pool.h"
#include "worker/llama_forward.h"
#include "worker/llama_weights.h"

using namespace shardq;
using Clock = std::chrono::steady_clock;

namespace {

double Seconds(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Bandwidth of memcpy over a buffer far larger than the caches (bytes read per second).
double MemcpyBandwidth() {
  const size_t bytes = size_t{256} << 20;
  std::vector<char> a(bytes, 1), b(bytes, 0);
  std::memcpy(b.data(), a.data(), bytes);
  double best = 0;
  for (int rep = 0; rep < 3; ++rep) {
    const auto t0 = Clock::now();
    std::memcpy(b.data(), a.data(), bytes);
    best = std::max(best, bytes / Seconds(t0));
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string path = argc > 1 ? argv[1] : std::string(SHARDQ_SHARED_DIR) + "/models/shakespeare-5m";
  const double bw = MemcpyBandwidth();
  std::printf("model: %s\nmemcpy bandwidth: %.2f GB/s\n\n", path.c_str(), bw / 1e9);
  std::printf("%-5s %-7s %7s %12s %12s %14s %8s\n", "type", "path", "threads", "MB/token", "tokens/s", "bw bound tok/s",
              "ratio");
  const std::vector<int32_t> batch = [] {
    std::vector<int32_t> t(128);
    for (size_t i = 0; i < t.size(); ++i) t[i] = static_cast<int32_t>(1 + (i * 37) % 1000);
    return t;
  }();
  for (GgmlType type : {GgmlType::F32, GgmlType::Q8_0, GgmlType::Q4_K}) {
    auto model = OpenModel(path);
    if (!model.ok()) {
      std::fprintf(stderr, "%s\n", model.status().ToString().c_str());
      return 1;
    }
    LoadWeightsOptions opts;
    opts.requantize = type;
    opts.force_f32 = type == GgmlType::F32;
    auto w = LlamaWeights::Load(std::move(model).value(), opts);
    if (!w.ok()) {
      std::fprintf(stderr, "%s\n", w.status().ToString().c_str());
      return 1;
    }
    const double bytes = static_cast<double>((*w)->bytes_per_token());
    std::vector<int> thread_counts = {1};
    if (DefaultThreadCount() > 1) thread_counts.push_back(DefaultThreadCount());
    for (int threads : thread_counts) {
      LlamaForward f(**w, ForwardOptions{threads, static_cast<int64_t>(batch.size())});
      std::vector<float> logits;
      // Batched: the 128-token prompt again and again.
      int64_t tokens = 0;
      auto t0 = Clock::now();
      do {
        f.Reset();
        if (!f.Eval(batch, true, &logits).ok()) return 1;
        tokens += batch.size();
      } while (Seconds(t0) < 1.5);
      double rate = tokens / Seconds(t0);
      double bound = bw / bytes * batch.size();
      std::printf("%-5s %-7s %7d %12.2f %12.0f %14.0f %8.2f\n", GgmlTypeName(type), "batch", threads, bytes / 1e6, rate,
                  bound, rate / bound);
      // Single token: decode positions 0..127 one at a time.
      tokens = 0;
      t0 = Clock::now();
      do {
        f.Reset();
        for (int32_t id : batch) {
          if (!f.Decode(id, &logits).ok()) return 1;
          ++tokens;
        }
      } while (Seconds(t0) < 1.5);
      rate = tokens / Seconds(t0);
      bound = bw / bytes;
      std::printf("%-5s %-7s %7d %12.2f %12.0f %14.0f %8.2f\n", GgmlTypeName(type), "decode", threads, bytes / 1e6, rate,
                  bound, rate / bound);
    }
  }
  return 0;
}
