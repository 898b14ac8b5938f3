// Whole-process benchmark of `shardq quantize` on a ~2 GB Llama-shaped model
// (random Gaussian weights, realistic shapes), beside llama.cpp's llama-quantize
// on the same weights in the same run. Prints wall time, throughput and peak RSS
// of each, and the ratios. Never passes or fails on time.
//
// usage: bench_quantize_model [--layers N] [--type Q4_K_M] [--dir DIR] [--keep]
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "bench/child_process.h"
#include "bench/llama_model_gen.h"

namespace fs = std::filesystem;

namespace {

using shardq::bench::RunChild;
using RunStats = shardq::bench::ChildStats;

std::string SelfDir() { return fs::canonical("/proc/self/exe").parent_path().string(); }

}  // namespace

int main(int argc, char** argv) {
  int layers = 11;
  std::string type = "Q4_K_M", dir = "/tmp/shardq-bench-model";
  bool keep = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--layers" && i + 1 < argc) layers = std::atoi(argv[++i]);
    else if (a == "--type" && i + 1 < argc) type = argv[++i];
    else if (a == "--dir" && i + 1 < argc) dir = argv[++i];
    else if (a == "--keep") keep = true;
  }
  const std::string shared = SHARDQ_SHARED_DIR;
  const std::string shardq = SelfDir() + "/shardq";
  const std::string llama_quantize = shared + "/tools/llama.cpp/bin/llama-quantize";
  const int threads = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  fs::create_directories(dir);

  std::printf("generating a %d-layer Llama-shaped F32 model in %s ...\n", layers, dir.c_str());
  const uint64_t model_bytes = shardq::bench::WriteLlamaModel(dir, layers, shared + "/models/shakespeare-5m/tokenizer.model");
  const double model_mb = model_bytes / 1e6;
  std::printf("model: %.0f MB of F32 weights (%.0f M parameters)\n\n", model_mb, model_bytes / 4e6);

  // Warm the page cache for both tools alike: each reads the same bytes once before timing.
  RunChild({shardq, "quantize", "--quiet", "--model", dir, "--out", dir + "/f32.gguf", "--type", "F32"}, dir + "/f32.log");

  RunStats ours = RunChild({shardq, "quantize", "--quiet", "--model", dir, "--out", dir + "/shardq.gguf", "--type", type,
                       "--threads", std::to_string(threads)}, dir + "/shardq.log");
  std::printf("%-34s %8s %9s %13s %12s\n", "run", "wall s", "MB/s", "peak RSS MB", "RSS / model");
  auto row = [&](const char* name, const RunStats& r) {
    std::printf("%-34s %8.2f %9.1f %13.1f %12.3f%s\n", name, r.seconds, model_mb / r.seconds, r.peak_rss_mb,
                r.peak_rss_mb / model_mb, r.exit_code == 0 ? "" : "  (FAILED)");
  };
  row(("shardq quantize " + type + " (safetensors)").c_str(), ours);

  RunStats ours_gguf = RunChild({shardq, "quantize", "--quiet", "--model", dir + "/f32.gguf", "--out", dir + "/shardq2.gguf",
                            "--type", type, "--threads", std::to_string(threads)}, dir + "/shardq2.log");
  row(("shardq quantize " + type + " (F32 GGUF)").c_str(), ours_gguf);

  if (access(llama_quantize.c_str(), X_OK) == 0) {
    RunStats ref = RunChild({llama_quantize, dir + "/f32.gguf", dir + "/llama.gguf", type, std::to_string(threads)},
                       dir + "/llama.log");
    row(("llama-quantize " + type + " (F32 GGUF)").c_str(), ref);
    if (ref.exit_code == 0 && ours_gguf.exit_code == 0) {
      std::printf("\nspeed-up over llama-quantize, same input file: %.2fx; peak RSS ratio (shardq / llama): %.2f\n",
                  ref.seconds / ours_gguf.seconds, ours_gguf.peak_rss_mb / ref.peak_rss_mb);
      const bool same = fs::file_size(dir + "/llama.gguf") == fs::file_size(dir + "/shardq2.gguf");
      std::printf("output sizes: shardq %llu bytes, llama-quantize %llu bytes%s\n",
                  (unsigned long long)fs::file_size(dir + "/shardq2.gguf"),
                  (unsigned long long)fs::file_size(dir + "/llama.gguf"), same ? " (equal)" : "");
    }
  } else {
    std::printf("(llama-quantize not found at %s: no side-by-side run)\n", llama_quantize.c_str());
  }
  std::printf("target: peak RSS < 0.5 x model size -> shardq %.3f\n", ours.peak_rss_mb / model_mb);
  if (!keep) fs::remove_all(dir);
  return 0;
}
