// Whole-process benchmark of `shardq quantize` on a ~2 GB Llama-shaped model
// (random Gaussian weights, realistic shapes), beside two baselines measured in
// the same run on the same bytes: llama.cpp's llama-quantize (from the same
// weights as an F32 GGUF), and a plain read + write (every input byte read from
// the mapping, as many bytes written as shardq writes, with the same direct
// writes and final fsync; CopyBaseline). The fsync waits for the disk and is
// shown on its own, with the ratios both with it and without it (llama-quantize
// does not fsync).
// For each run: wall time, CPU time, cores busy (CPU s / wall s) and peak RSS;
// the runs alternate (--repeat N) and each figure is the median of its runs,
// because the machine may be shared. Prints the SIMD paths shardq ran
// (--isa avx2 caps them, to measure an AVX2-only machine's paths on a wider
// CPU) and the load average. Never passes or fails on time.
//
// usage: bench_quantize_model [--layers N] [--types Q8_0,Q4_K_M] [--repeat N]
//                             [--isa avx2|avx512|scalar] [--dir DIR] [--keep] [--no-llama]
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "bench/child_process.h"
#include "bench/llama_model_gen.h"
#include "kernels/cpu_features.h"

namespace fs = std::filesystem;

namespace {

using shardq::bench::ChildStats;
using shardq::bench::RunChild;

std::string SelfPath() { return fs::canonical("/proc/self/exe").string(); }

std::string LoadAverage() {
  std::ifstream f("/proc/loadavg");
  std::string a, b, c;
  f >> a >> b >> c;
  return a + " " + b + " " + c;
}

// The read + write bound, run as a child of its own so it is measured like the
// tools, with the I/O shardq uses at its cheapest: maps `in` and reads every
// byte of it (summed, so the reads happen), writes `out_bytes` bytes to `out`
// in 4 MiB aligned writes around the page cache (O_DIRECT, as shardq's writer
// where the file system allows), in step with the reading, then fsyncs.
int CopyBaseline(const std::string& in, const std::string& out, uint64_t out_bytes) {
  constexpr size_t kChunk = 4 << 20;
  const int fi = ::open(in.c_str(), O_RDONLY);
  int fo = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_DIRECT, 0644);
  bool direct = fo >= 0;
  if (fo < 0) fo = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fi < 0 || fo < 0) return 2;
  const uint64_t in_bytes = fs::file_size(in);
  const auto* map = static_cast<const uint64_t*>(::mmap(nullptr, in_bytes, PROT_READ, MAP_PRIVATE, fi, 0));
  if (map == MAP_FAILED) return 3;
  uint8_t* buf = static_cast<uint8_t*>(std::aligned_alloc(4096, kChunk));
  std::memset(buf, 0x5a, kChunk);
  uint64_t sum = 0, read_total = 0, written = 0;
  auto write_chunk = [&](size_t k) {
    if (direct && k % 4096 != 0) {  // the tail: through the page cache
      ::fcntl(fo, F_SETFL, ::fcntl(fo, F_GETFL) & ~O_DIRECT);
      direct = false;
    }
    return ::write(fo, buf, k) == static_cast<ssize_t>(k);
  };
  while (read_total < in_bytes) {
    const uint64_t k = std::min<uint64_t>(kChunk, in_bytes - read_total);
    for (uint64_t i = 0; i < k / 8; ++i) sum += map[read_total / 8 + i];
    read_total += k;
    // Written in proportion to what was read, as a streaming quantizer does.
    const uint64_t due = static_cast<uint64_t>(static_cast<double>(read_total) / in_bytes * out_bytes) / kChunk * kChunk;
    for (; written < due; written += kChunk)
      if (!write_chunk(kChunk)) return 4;
  }
  while (written < out_bytes) {
    const size_t k = static_cast<size_t>(std::min<uint64_t>(out_bytes - written, kChunk));
    if (!write_chunk(k)) return 4;
    written += k;
  }
  const auto sync_start = std::chrono::steady_clock::now();
  if (::fsync(fo) != 0) return 5;
  // The line shardq quantize prints, so one parser reads both logs.
  std::printf("fsync of the output (in the total): %.2f s\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - sync_start).count());
  std::printf("(sum of the input words: %llu)\n", static_cast<unsigned long long>(sum));
  ::close(fo);
  ::close(fi);
  return 0;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

// The number after `key` on the first line of `log` that holds it, or -1.
double ParseAfter(const std::string& log, const std::string& key) {
  std::ifstream f(log);
  std::string line;
  while (std::getline(f, line)) {
    const size_t at = line.find(key);
    if (at != std::string::npos) return std::atof(line.c_str() + at + key.size());
  }
  return -1;
}

// The fsync seconds `shardq quantize` printed (its table's last lines), or -1.
double ParseFsync(const std::string& log) { return ParseAfter(log, "fsync of the output (in the total): "); }

struct Series {
  std::string name;
  std::vector<ChildStats> runs;
  std::vector<double> fsync;
  std::vector<double> compute_wait, writer_wait;  // shardq's stream stalls
  double wall() const { std::vector<double> v; for (auto& r : runs) v.push_back(r.seconds); return Median(v); }
  double cpu() const { std::vector<double> v; for (auto& r : runs) v.push_back(r.cpu_seconds); return Median(v); }
  double cores() const { std::vector<double> v; for (auto& r : runs) v.push_back(r.cores_busy()); return Median(v); }
  double rss() const { double m = 0; for (auto& r : runs) m = std::max(m, r.peak_rss_mb); return m; }
  // Wall time less the fsync: what a tool that does not fsync would take.
  double wall_unsynced() const {
    std::vector<double> v;
    for (size_t i = 0; i < runs.size(); ++i) v.push_back(runs[i].seconds - (i < fsync.size() && fsync[i] > 0 ? fsync[i] : 0));
    return Median(v);
  }
  bool ok() const { for (auto& r : runs) if (r.exit_code != 0) return false; return !runs.empty(); }
};

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');) if (!item.empty()) out.push_back(item);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 5 && std::string(argv[1]) == "--copy-baseline")
    return CopyBaseline(argv[2], argv[3], std::strtoull(argv[4], nullptr, 10));
  int layers = 11, repeat = 3;
  std::string types = "Q8_0,Q4_K_M", dir = "/tmp/shardq-bench-model", isa;
  bool keep = false, no_llama = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--layers" && i + 1 < argc) layers = std::atoi(argv[++i]);
    else if ((a == "--types" || a == "--type") && i + 1 < argc) types = argv[++i];
    else if (a == "--repeat" && i + 1 < argc) repeat = std::max(1, std::atoi(argv[++i]));
    else if (a == "--isa" && i + 1 < argc) isa = argv[++i];
    else if (a == "--dir" && i + 1 < argc) dir = argv[++i];
    else if (a == "--keep") keep = true;
    else if (a == "--no-llama") no_llama = true;  // quick runs: skip the slow baseline
  }
  // Before the first look at the CPU: the children inherit the cap, and the ISA
  // printed is the one they run.
  if (!isa.empty()) setenv("SHARDQ_MAX_ISA", isa.c_str(), 1);
  const std::string shared = SHARDQ_SHARED_DIR;
  const std::string shardq = fs::path(SelfPath()).parent_path().string() + "/shardq";
  const std::string llama_quantize = shared + "/tools/llama.cpp/bin/llama-quantize";
  const bool have_llama = !no_llama && access(llama_quantize.c_str(), X_OK) == 0;
  const int threads = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  fs::create_directories(dir);

  std::printf("shardq SIMD paths: %s%s; %d threads; load average before: %s\n", shardq::CpuIsaName(),
              isa.empty() ? "" : (" (capped by SHARDQ_MAX_ISA=" + isa + ")").c_str(), threads, LoadAverage().c_str());
  std::printf("generating a %d-layer Llama-shaped F32 model in %s ...\n", layers, dir.c_str());
  const uint64_t model_bytes = shardq::bench::WriteLlamaModel(dir, layers, shared + "/models/shakespeare-5m/tokenizer.model");
  const double model_mb = model_bytes / 1e6;
  std::printf("model: %.0f MB of F32 weights (%.0f M parameters)\n", model_mb, model_bytes / 4e6);

  // Warm the page cache for every run alike: the F32 GGUF is written from the safetensors (reading it once).
  RunChild({shardq, "quantize", "--quiet", "--model", dir, "--out", dir + "/f32.gguf", "--type", "F32"}, dir + "/f32.log");
  const std::string st = dir + "/model.safetensors";

  for (const std::string& type : Split(types)) {
    Series ours{"shardq quantize (safetensors)"}, ours_gguf{"shardq quantize (F32 GGUF)"},
        ref{"llama-quantize (F32 GGUF)"}, copy{"read + write (safetensors)"};
    uint64_t out_bytes = 0;
    for (int rep = 0; rep < repeat; ++rep) {
      ours.runs.push_back(RunChild({shardq, "quantize", "--model", dir, "--out", dir + "/shardq.gguf", "--type", type,
                                    "--threads", std::to_string(threads)}, dir + "/shardq.log"));
      ours.fsync.push_back(ParseFsync(dir + "/shardq.log"));
      ours.compute_wait.push_back(ParseAfter(dir + "/shardq.log", "compute threads waited "));
      ours.writer_wait.push_back(ParseAfter(dir + "/shardq.log", ", the writer "));
      out_bytes = fs::exists(dir + "/shardq.gguf") ? fs::file_size(dir + "/shardq.gguf") : 0;
      copy.runs.push_back(RunChild({SelfPath(), "--copy-baseline", st, dir + "/copy.bin", std::to_string(out_bytes)},
                                   dir + "/copy.log"));
      copy.fsync.push_back(ParseFsync(dir + "/copy.log"));
      if (have_llama)
        ref.runs.push_back(RunChild({llama_quantize, dir + "/f32.gguf", dir + "/llama.gguf", type, std::to_string(threads)},
                                    dir + "/llama.log"));
      ours_gguf.runs.push_back(RunChild({shardq, "quantize", "--model", dir + "/f32.gguf", "--out", dir + "/shardq2.gguf",
                                         "--type", type, "--threads", std::to_string(threads)}, dir + "/shardq2.log"));
      ours_gguf.fsync.push_back(ParseFsync(dir + "/shardq2.log"));
    }
    std::printf("\n%s, median of %d alternating runs each:\n", type.c_str(), repeat);
    std::printf("%-32s %7s %7s %6s %8s %12s %12s %9s %11s %8s\n", "run", "wall s", "CPU s", "cores", "fsync s",
                "wall-fsync s", "cores-fsync",
                "MB/s in", "peak RSS MB", "RSS/model");
    for (const Series* s : {&ours, &ours_gguf, &ref, &copy}) {
      if (s->runs.empty()) continue;
      const double fsync = s->fsync.empty() ? -1 : Median(s->fsync);
      char fsync_text[32] = "-";
      if (fsync >= 0) std::snprintf(fsync_text, sizeof(fsync_text), "%.2f", fsync);
      std::printf("%-32s %7.2f %7.2f %6.2f %8s %12.2f %12.2f %9.0f %11.0f %8.3f%s\n", s->name.c_str(), s->wall(),
                  s->cpu(), s->cores(), fsync_text, s->wall_unsynced(), s->cpu() / s->wall_unsynced(), model_mb / s->wall(), s->rss(), s->rss() / model_mb,
                  s->ok() ? "" : "  (FAILED)");
    }
    std::printf("output: %llu bytes", static_cast<unsigned long long>(out_bytes));
    if (have_llama && fs::exists(dir + "/llama.gguf"))
      std::printf(" (llama-quantize: %llu)", static_cast<unsigned long long>(fs::file_size(dir + "/llama.gguf")));
    const double llama = ref.runs.empty() ? 0.0 : ref.wall();
    std::printf("\nshardq (safetensors) vs llama-quantize: %.2fx faster (%.2fx without shardq's fsync)\n",
                llama / ours.wall(), llama / ours.wall_unsynced());
    std::printf("shardq (safetensors) vs read + write: %.2fx its time (%.2fx, both without the fsync)\n",
                ours.wall() / copy.wall(), ours.wall_unsynced() / copy.wall_unsynced());
    std::printf("shardq (safetensors): %.2f of %d cores busy (%.2f outside the fsync); peak RSS %.3f x model\n",
                ours.cores(), threads, ours.cpu() / ours.wall_unsynced(), ours.rss() / model_mb);
    std::printf("shardq (safetensors) stream stalls: compute threads waited %.2f s for the writer, the writer %.2f s "
                "for items (medians; the rest of an idle core is the machine's load)\n",
                Median(ours.compute_wait), Median(ours.writer_wait));
  }
  std::printf("\nload average after: %s\n", LoadAverage().c_str());
  std::printf("targets (issue 12): Q8_0 >= 3x llama-quantize and <= 2x read + write; Q4_K_M >= 10x llama-quantize, "
              ">= 1.8 of 2 cores busy; peak RSS <= 0.1 x model\n");
  if (!keep) fs::remove_all(dir);
  return 0;
}
