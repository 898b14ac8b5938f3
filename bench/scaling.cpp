// Scaling of `shardq run` across MPI worker ranks on a ~2 GB Llama-shaped model
// (random weights, TinyLlama's block shapes, 12 blocks: an even count, as real
// models have, so two ranks can get equal shares). Two jobs:
// - calibrated: Q4_K_M with importance from pipeline-parallel calibration
//   (32 windows of 128 tokens, as examples/shakespeare-5m.yaml): the product's
//   main path, where each rank runs the forward of its own blocks;
// - rtn: Q4_K_M without calibration, which on this model is mostly moving
//   bytes (2 GB of F32 in, 0.3 GB packed out, committed with fsync on rank 0).
// Each job runs with one worker rank (mpirun -np 2) and two (mpirun -np 3), each
// worker with --threads 1 so that only the ranks add parallelism, and embedded
// (no mpirun) for reference. Prints wall time, CPU and peak RSS per rank (each
// rank reports its own getrusage on stderr when SHARDQ_REPORT_RSS is set), the
// speed-up and the per-rank memory ratio against their targets, and whether
// every run of a job wrote the same bytes. Never passes or fails on time.
//
// --repeat N runs the 1-worker / 2-worker pair N times, alternating, and prints
// each pair's speed-up and their median: on a shared machine one pair moves
// with the load by several percent.
//
// --isa avx2|scalar caps every rank's SIMD paths (SHARDQ_MAX_ISA), so a wider
// machine measures what an AVX2-only one runs; the ISA is printed either way.
//
// Targets printed beside the speed-ups (issue 12): calibrated >= 1.8x, rtn
// >= 1.6x from 1 to 2 worker ranks on 2 cores, median of alternating pairs.
//
// usage: bench_scaling [--layers N] [--samples N] [--job calibrated|rtn|both] [--repeat N] [--isa avx2|scalar]
//                      [--dir DIR] [--keep]
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <string>
#include <vector>

#include "bench/child_process.h"
#include "bench/llama_model_gen.h"
#include "kernels/cpu_features.h"

namespace fs = std::filesystem;

namespace {

struct RunResult {
  std::string name;
  int worker_ranks = 0;  // 0: embedded (worker is a thread of rank 0)
  int exit_code = -1;
  double seconds = 0;            // wall time of the whole command, launcher included
  double job_seconds = -1;       // what rank 0 reports for the job itself
  std::map<int, double> rank_peak_rss_mb;  // from "shardq: rank R peak RSS N KiB, CPU U s user S s system"
  std::map<int, double> rank_cpu_s;        // user + system
  // Per worker rank: units committed and the sum of their compress seconds, to
  // tell an unbalanced plan from ranks starved of CPU by other load.
  std::map<int, std::pair<int, double>> rank_units;
  std::string output;
  std::string log;
};

// fork/exec with stdout+stderr to `log`; wall time and ru_maxrss from wait4.
void Spawn(const std::vector<std::string>& argv, RunResult* r) {
  const shardq::bench::ChildStats c = shardq::bench::RunChild(argv, r->log);
  r->seconds = c.seconds;
  r->exit_code = c.exit_code;
}

void ParseLog(RunResult* r) {
  std::ifstream in(r->log);
  const std::regex rss_line(R"(shardq: rank (\d+) peak RSS (\d+) KiB, CPU ([0-9.]+) s user ([0-9.]+) s system)");
  const std::regex done_line(R"(job \S+ done: .*\), ([0-9.]+) s)");
  const std::regex unit_line(R"(committed \(rank (\d+), ([0-9.]+) s\))");
  std::string line;
  std::smatch m;
  while (std::getline(in, line)) {
    if (std::regex_search(line, m, rss_line)) {
      r->rank_peak_rss_mb[std::stoi(m[1])] = std::stod(m[2]) / 1024.0;
      r->rank_cpu_s[std::stoi(m[1])] = std::stod(m[3]) + std::stod(m[4]);
    }
    else if (std::regex_search(line, m, done_line)) r->job_seconds = std::stod(m[1]);
    else if (std::regex_search(line, m, unit_line)) {
      auto& [units, busy] = r->rank_units[std::stoi(m[1])];
      ++units;
      busy += std::stod(m[2]);
    }
  }
}

bool SameBytes(const std::string& a, const std::string& b) {
  std::error_code ec;
  if (!fs::exists(a, ec) || !fs::exists(b, ec) || fs::file_size(a) != fs::file_size(b)) return false;
  std::ifstream fa(a, std::ios::binary), fb(b, std::ios::binary);
  std::vector<char> ba(1 << 20), bb(1 << 20);
  while (fa && fb) {
    fa.read(ba.data(), ba.size());
    fb.read(bb.data(), bb.size());
    if (fa.gcount() != fb.gcount() || !std::equal(ba.begin(), ba.begin() + fa.gcount(), bb.begin())) return false;
  }
  return true;
}

// Reads the file once so the first timed run does not pay for the disk.
void WarmPageCache(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> buf(1 << 22);
  while (in.read(buf.data(), buf.size()) || in.gcount() > 0) {}
}

std::string SelfDir() { return fs::canonical("/proc/self/exe").parent_path().string(); }

std::string Uptime() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

struct Bench {
  std::string shardq, dir;
  int cores = 1;
  double model_mb = 0;
};

RunResult RunOne(const Bench& b, const std::string& job, const std::string& name, int worker_ranks, int threads) {
  RunResult r;
  r.name = name;
  r.worker_ranks = worker_ranks;
  r.output = b.dir + "/" + name + ".gguf";
  r.log = b.dir + "/" + name + ".log";
  const std::string state = b.dir + "/state-" + name;
  fs::remove_all(state);  // a fresh state store: nothing reused from an earlier run
  std::vector<std::string> argv;
  if (worker_ranks > 0) {
    argv = {"mpirun", "--oversubscribe", "--bind-to", "none", "-x", "SHARDQ_REPORT_RSS"};
    if (std::getenv("SHARDQ_MAX_ISA")) argv.insert(argv.end(), {"-x", "SHARDQ_MAX_ISA"});
    argv.insert(argv.end(), {"-np", std::to_string(worker_ranks + 1)});
  }
  for (const std::string& a : {b.shardq, std::string("run"), job, std::string("--state"), state,
                               std::string("--out"), r.output, std::string("--threads"), std::to_string(threads),
                               std::string("--no-eval")})
    argv.push_back(a);
  Spawn(argv, &r);
  ParseLog(&r);
  fs::remove_all(state);  // the blobs are as large as the artifact
  std::printf("  %s: exit %d, %.1f s\n", name.c_str(), r.exit_code, r.seconds);
  std::fflush(stdout);
  return r;
}

void Report(const Bench& b, const std::string& label, double target, const std::vector<RunResult>& runs,
            std::vector<double> pair_speedups) {
  std::printf("\n== %s ==\n", label.c_str());
  std::printf("%-24s %7s %7s   %s\n", "run", "wall s", "job s", "per rank: peak RSS MB / CPU s (rank 0 = coordinator)");
  for (const RunResult& r : runs) {
    std::string ranks;
    for (const auto& [rank, mb] : r.rank_peak_rss_mb) {
      char cell[64];
      const auto cpu = r.rank_cpu_s.find(rank);
      std::snprintf(cell, sizeof cell, "%sr%d %.0f / %.1f", ranks.empty() ? "" : "   ", rank, mb,
                    cpu == r.rank_cpu_s.end() ? 0.0 : cpu->second);
      ranks += cell;
    }
    if (r.worker_ranks == 0) ranks += "  (worker is a thread of rank 0)";
    if (r.rank_peak_rss_mb.empty()) ranks = "(no rank reported its RSS)";
    std::printf("%-24s %7.2f %7.2f   %s%s\n", r.name.c_str(), r.seconds, r.job_seconds, ranks.c_str(),
                r.exit_code == 0 ? "" : "  (FAILED)");
  }
  std::printf("%-24s   %s\n", "run", "units committed and their summed compress seconds, per worker rank");
  for (const RunResult& r : runs) {
    std::string cells;
    for (const auto& [rank, ub] : r.rank_units) {
      char cell[64];
      std::snprintf(cell, sizeof cell, "%sr%d: %d units %.2f s", cells.empty() ? "" : "   ", rank, ub.first, ub.second);
      cells += cell;
    }
    std::printf("%-24s   %s\n", r.name.c_str(), cells.empty() ? "(no unit lines in the log)" : cells.c_str());
  }
  const RunResult& one = runs[0];
  const RunResult& two = runs[1];
  if (one.exit_code == 0 && two.exit_code == 0) {
    std::printf("speed-up, 1 -> 2 worker ranks (wall, mpirun start-up included): %.2fx   target >= %.1f on %d cores\n",
                one.seconds / two.seconds, target, b.cores);
    if (one.job_seconds > 0 && two.job_seconds > 0)
      std::printf("speed-up, 1 -> 2 worker ranks (job s, rank 0's own timing): %.2fx\n",
                  one.job_seconds / two.job_seconds);
    if (pair_speedups.size() > 1) {
      std::string list;
      for (double x : pair_speedups) list += (list.empty() ? "" : ", ") + std::to_string(x).substr(0, 4);
      std::sort(pair_speedups.begin(), pair_speedups.end());
      const size_t k = pair_speedups.size();
      const double median = k % 2 ? pair_speedups[k / 2] : (pair_speedups[k / 2 - 1] + pair_speedups[k / 2]) / 2;
      std::printf("speed-up (wall) of each of %zu alternating pairs: %s; median %.2fx (target %.1f: %s)\n", k,
                  list.c_str(), median, target, median >= target ? "met" : "missed");
    }
    double two_max = 0;
    for (const auto& [rank, mb] : two.rank_peak_rss_mb)
      if (rank != 0) two_max = std::max(two_max, mb);
    const auto w1 = one.rank_peak_rss_mb.find(1);
    if (w1 != one.rank_peak_rss_mb.end() && two_max > 0)
      std::printf("memory: largest worker peak RSS with 2 workers / the worker's with 1: %.0f / %.0f MB = %.2f   "
                  "target <= 0.6\n", two_max, w1->second, two_max / w1->second);
    else
      std::printf("memory: per-rank RSS lines missing from the logs\n");
    double cpu0 = 0, cpu_all = 0;
    for (const auto& [rank, c] : two.rank_cpu_s) {
      cpu_all += c;
      if (rank == 0) cpu0 = c;
    }
    if (cpu_all > 0)
      std::printf("CPU with 2 workers: %.1f s in all, %.1f s of it rank 0's (%.0f%%); %d cores give at most %.2fx over "
                  "the 1-worker wall time if that CPU were spread perfectly\n", cpu_all, cpu0, 100 * cpu0 / cpu_all,
                  b.cores, one.job_seconds > 0 ? one.job_seconds / (cpu_all / b.cores) : 0.0);
  } else {
    std::printf("an MPI run failed: no speed-up or memory ratio (see the logs)\n");
  }
  bool all_same = true;
  for (size_t i = 1; i < runs.size(); ++i) {
    const bool same = runs[i].exit_code == 0 && SameBytes(runs[0].output, runs[i].output);
    all_same = all_same && same;
    if (!same) std::printf("artifact %s vs %s: DIFFERENT\n", runs[i].name.c_str(), runs[0].name.c_str());
  }
  if (all_same && runs[0].exit_code == 0)
    std::printf("all %zu artifacts byte-identical (%llu bytes, %.0f MB/s of F32 in at 2 workers)\n", runs.size(),
                (unsigned long long)fs::file_size(runs[0].output), b.model_mb / two.seconds);
}

}  // namespace

int main(int argc, char** argv) {
  int layers = 12, samples = 32, repeat = 1;
  std::string which = "both", dir = "/tmp/shardq-bench-scaling", isa;
  bool keep = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--layers" && i + 1 < argc) layers = std::atoi(argv[++i]);
    else if (a == "--samples" && i + 1 < argc) samples = std::atoi(argv[++i]);
    else if (a == "--job" && i + 1 < argc) which = argv[++i];
    else if (a == "--repeat" && i + 1 < argc) repeat = std::max(1, std::atoi(argv[++i]));
    else if (a == "--dir" && i + 1 < argc) dir = argv[++i];
    else if (a == "--keep") keep = true;
    else if (a == "--isa" && i + 1 < argc) isa = argv[++i];
    else {
      std::fprintf(stderr,
                   "usage: bench_scaling [--layers N] [--samples N] [--job calibrated|rtn|both] [--repeat N] "
                   "[--isa avx2|scalar] [--dir DIR] [--keep]\n");
      return 2;
    }
  }
  if (which != "both" && which != "calibrated" && which != "rtn") {
    std::fprintf(stderr, "bench_scaling: --job must be calibrated, rtn or both\n");
    return 2;
  }
  // Before the first look at the CPU: every rank inherits the cap.
  if (!isa.empty()) setenv("SHARDQ_MAX_ISA", isa.c_str(), 1);
  const std::string shared = SHARDQ_SHARED_DIR;
  Bench b;
  b.shardq = SelfDir() + "/shardq";
  b.dir = dir;
  b.cores = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  fs::create_directories(dir);
  // Every rank reports its peak RSS and CPU; mpirun may be run as root in containers.
  setenv("SHARDQ_REPORT_RSS", "1", 1);
  setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
  setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);

  std::printf("generating a %d-layer Llama-shaped F32 model in %s ...\n", layers, dir.c_str());
  const uint64_t model_bytes =
      shardq::bench::WriteLlamaModel(dir, layers, shared + "/models/shakespeare-5m/tokenizer.model");
  b.model_mb = model_bytes / 1e6;
  std::printf("model: %.0f MB of F32 weights (%.0f M parameters); %d cores; load average %s\n", b.model_mb,
              model_bytes / 4e6, b.cores, Uptime().c_str());
  std::printf("shardq SIMD paths: %s%s\n", shardq::CpuIsaName(),
              isa.empty() ? "" : (" (capped by SHARDQ_MAX_ISA=" + isa + ")").c_str());
  std::printf("the MPI runs give each worker rank --threads 1, so their parallelism is the ranks' alone\n\n");
  WarmPageCache(dir + "/model.safetensors");

  struct Job {
    std::string name, label, yaml;
    double target;  // speed-up from 1 to 2 worker ranks
  };
  std::vector<Job> jobs;
  if (which != "rtn") {
    jobs.push_back({"calibrated", "calibrated: Q4_K_M with importance, calibration " + std::to_string(samples) +
                                      " x 128 tokens (pipeline-parallel)",
                    "model: " + dir + "\noutput: { path: " + dir + "/unused.gguf }\n"
                    "recipe:\n  quantize: { preset: Q4_K_M, algorithm: imatrix }\n"
                    "calibration: { text: " + shared + "/corpus/shakespeare-calib.txt, samples: " +
                        std::to_string(samples) + ", seq_len: 128 }\n",
                    1.8});
  }
  if (which != "calibrated") {
    jobs.push_back({"rtn", "rtn: Q4_K_M without calibration",
                    "model: " + dir + "\noutput: { path: " + dir + "/unused.gguf }\n"
                    "recipe:\n  quantize: { preset: Q4_K_M, algorithm: rtn }\n",
                    1.6});
  }
  struct JobResults {
    std::string label;
    double target;
    std::vector<RunResult> runs;
    std::vector<double> pair_speedups;  // wall, 1 worker / 2 workers, per alternating pair
  };
  std::vector<JobResults> results;
  for (const Job& job : jobs) {
    const std::string path = dir + "/" + job.name + ".yaml";
    std::ofstream(path) << job.yaml;
    std::printf("%s (logs in %s/%s-*.log):\n", job.label.c_str(), dir.c_str(), job.name.c_str());
    std::vector<RunResult> runs;
    runs.push_back(RunOne(b, path, job.name + "-mpi-1worker", 1, 1));
    runs.push_back(RunOne(b, path, job.name + "-mpi-2workers", 2, 1));
    runs.push_back(RunOne(b, path, job.name + "-embedded-1thread", 0, 1));
    runs.push_back(RunOne(b, path, job.name + "-embedded-" + std::to_string(b.cores) + "threads", 0, b.cores));
    std::vector<double> pairs;
    if (runs[0].exit_code == 0 && runs[1].exit_code == 0) pairs.push_back(runs[0].seconds / runs[1].seconds);
    for (int r = 1; r < repeat; ++r) {
      const RunResult one = RunOne(b, path, job.name + "-mpi-1worker-again", 1, 1);
      const RunResult two = RunOne(b, path, job.name + "-mpi-2workers-again", 2, 1);
      if (one.exit_code == 0 && two.exit_code == 0) pairs.push_back(one.seconds / two.seconds);
    }
    results.push_back({job.label, job.target, std::move(runs), std::move(pairs)});
  }
  for (const JobResults& r : results) Report(b, r.label, r.target, r.runs, r.pair_speedups);
  std::printf("\n(wall s: the whole command, mpirun start-up included; job s: rank 0's own timing of the job)\n");
  std::printf("load average after: %s\n", Uptime().c_str());
  if (!keep) fs::remove_all(dir);
  return 0;
}
