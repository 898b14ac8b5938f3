// Scaling of `shardq run` across MPI worker ranks on a ~2 GB Llama-shaped model
// (random weights, realistic shapes): one worker rank (mpirun -np 2) against two
// (mpirun -np 3), each worker with --threads 1 so that only the ranks add
// parallelism; the embedded mode (no mpirun) with 1 thread and with all cores for
// reference. Prints wall time and peak RSS per rank (each rank reports its own
// getrusage peak on stderr when SHARDQ_REPORT_RSS is set), the speed-up and the
// per-rank memory ratio against their targets, and whether every run wrote the
// same bytes. Never passes or fails on time.
//
// usage: bench_scaling [--layers N] [--type Q4_K_M] [--dir DIR] [--keep]
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

namespace fs = std::filesystem;

namespace {

struct RunResult {
  std::string name;
  int worker_ranks = 0;  // 0: embedded (worker is a thread of rank 0)
  int exit_code = -1;
  double seconds = 0;            // wall time of the whole command, launcher included
  double job_seconds = -1;       // what rank 0 reports for the job itself
  double tree_peak_rss_mb = 0;   // wait4: the largest single process of the tree
  std::map<int, double> rank_peak_rss_mb;  // from "shardq: rank R peak RSS N KiB"
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
  r->tree_peak_rss_mb = c.peak_rss_mb;
}

void ParseLog(RunResult* r) {
  std::ifstream in(r->log);
  const std::regex rss_line(R"(shardq: rank (\d+) peak RSS (\d+) KiB)");
  const std::regex done_line(R"(job \S+ done: .*\), ([0-9.]+) s)");
  const std::regex unit_line(R"(committed \(rank (\d+), ([0-9.]+) s\))");
  std::string line;
  std::smatch m;
  while (std::getline(in, line)) {
    if (std::regex_search(line, m, rss_line)) r->rank_peak_rss_mb[std::stoi(m[1])] = std::stod(m[2]) / 1024.0;
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

}  // namespace

int main(int argc, char** argv) {
  int layers = 11;
  std::string type = "Q4_K_M", dir = "/tmp/shardq-bench-scaling";
  bool keep = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--layers" && i + 1 < argc) layers = std::atoi(argv[++i]);
    else if (a == "--type" && i + 1 < argc) type = argv[++i];
    else if (a == "--dir" && i + 1 < argc) dir = argv[++i];
    else if (a == "--keep") keep = true;
    else {
      std::fprintf(stderr, "usage: bench_scaling [--layers N] [--type Q4_K_M] [--dir DIR] [--keep]\n");
      return 2;
    }
  }
  const std::string shared = SHARDQ_SHARED_DIR;
  const std::string shardq = SelfDir() + "/shardq";
  const int cores = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  fs::create_directories(dir);
  // Every rank reports its peak RSS; mpirun may be run as root in containers.
  setenv("SHARDQ_REPORT_RSS", "1", 1);
  setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
  setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);

  std::printf("generating a %d-layer Llama-shaped F32 model in %s ...\n", layers, dir.c_str());
  const uint64_t model_bytes =
      shardq::bench::WriteLlamaModel(dir, layers, shared + "/models/shakespeare-5m/tokenizer.model");
  const double model_mb = model_bytes / 1e6;
  std::printf("model: %.0f MB of F32 weights (%.0f M parameters); %s, rtn; %d cores; load average %s\n",
              model_mb, model_bytes / 4e6, type.c_str(), cores, Uptime().c_str());
  std::printf("the MPI runs give each worker rank --threads 1, so their parallelism is the ranks' alone\n\n");
  const std::string job = dir + "/job.yaml";
  std::ofstream(job) << "model: " << dir << "\noutput: { path: " << dir << "/unused.gguf }\n"
                     << "recipe:\n  quantize: { preset: " << type << ", algorithm: rtn }\n";
  WarmPageCache(dir + "/model.safetensors");

  auto run = [&](const std::string& name, int worker_ranks, int threads) {
    RunResult r;
    r.name = name;
    r.worker_ranks = worker_ranks;
    r.output = dir + "/" + name + ".gguf";
    r.log = dir + "/" + name + ".log";
    const std::string state = dir + "/state-" + name;
    fs::remove_all(state);  // a fresh state store: nothing reused from an earlier run
    std::vector<std::string> argv;
    if (worker_ranks > 0)
      argv = {"mpirun", "--oversubscribe", "--bind-to", "none", "-x", "SHARDQ_REPORT_RSS",
              "-np", std::to_string(worker_ranks + 1)};
    for (const std::string& a : {shardq, std::string("run"), job, std::string("--state"), state,
                                 std::string("--out"), r.output, std::string("--threads"), std::to_string(threads)})
      argv.push_back(a);
    Spawn(argv, &r);
    ParseLog(&r);
    fs::remove_all(state);  // the blobs are as large as the artifact
    std::printf("  %s: exit %d, %.1f s\n", name.c_str(), r.exit_code, r.seconds);
    return r;
  };

  std::printf("running (logs in %s/*.log):\n", dir.c_str());
  std::vector<RunResult> runs;
  runs.push_back(run("mpi-1worker", 1, 1));
  runs.push_back(run("mpi-2workers", 2, 1));
  runs.push_back(run("embedded-1thread", 0, 1));
  runs.push_back(run("embedded-" + std::to_string(cores) + "threads", 0, cores));

  std::printf("\n%-22s %7s %8s %8s %8s   %s\n", "run", "wall s", "job s", "MB/s", "tree MB",
              "peak RSS per rank, MB (rank 0 = coordinator)");
  for (const RunResult& r : runs) {
    std::string ranks;
    for (const auto& [rank, mb] : r.rank_peak_rss_mb) {
      char cell[48];
      std::snprintf(cell, sizeof cell, "%sr%d %.0f", ranks.empty() ? "" : "  ", rank, mb);
      ranks += cell;
    }
    if (r.worker_ranks == 0) ranks += "  (worker is a thread of rank 0)";
    if (r.rank_peak_rss_mb.empty()) ranks = "(no rank reported its RSS)";
    std::printf("%-22s %7.2f %8.2f %8.1f %8.0f   %s%s\n", r.name.c_str(), r.seconds, r.job_seconds,
                model_mb / r.seconds, r.tree_peak_rss_mb, ranks.c_str(), r.exit_code == 0 ? "" : "  (FAILED)");
  }
  std::printf("(wall s: the whole command, mpirun start-up included; job s: rank 0's own timing of the job;\n"
              " tree MB: wait4's ru_maxrss, the largest single process of the launched tree)\n\n");
  std::printf("%-22s   %s\n", "run", "units committed and their summed compress seconds, per worker rank");
  for (const RunResult& r : runs) {
    std::string cells;
    for (const auto& [rank, ub] : r.rank_units) {
      char cell[64];
      std::snprintf(cell, sizeof cell, "%sr%d: %d units %.2f s", cells.empty() ? "" : "   ", rank, ub.first, ub.second);
      cells += cell;
    }
    std::printf("%-22s   %s\n", r.name.c_str(), cells.empty() ? "(no unit lines in the log)" : cells.c_str());
  }
  std::printf("\n");

  const RunResult& one = runs[0];
  const RunResult& two = runs[1];
  if (one.exit_code == 0 && two.exit_code == 0) {
    std::printf("speed-up, 1 -> 2 worker ranks (wall): %.2fx   target >= 1.8 on 2 cores\n", one.seconds / two.seconds);
    if (one.job_seconds > 0 && two.job_seconds > 0)
      std::printf("speed-up, 1 -> 2 worker ranks (job s, no launcher): %.2fx\n", one.job_seconds / two.job_seconds);
    // Rank 0's time not overlapped with compression (planning, the last commit,
    // assembly) does not shrink with more workers: an Amdahl bound for the
    // speed-up on free cores, to read the measured one against.
    const auto busy1 = one.rank_units.find(1);
    if (one.job_seconds > 0 && busy1 != one.rank_units.end()) {
      const double serial = std::max(0.0, one.job_seconds - busy1->second.second);
      std::printf("estimate: rank 0 serial %.2f s + worker compress %.2f s in the 1-worker job -> at most %.2fx "
                  "with 2 workers on free cores\n", serial, busy1->second.second,
                  one.job_seconds / (serial + busy1->second.second / 2));
    }
    double two_max = 0;
    for (const auto& [rank, mb] : two.rank_peak_rss_mb)
      if (rank != 0) two_max = std::max(two_max, mb);
    const auto w1 = one.rank_peak_rss_mb.find(1);
    if (w1 != one.rank_peak_rss_mb.end() && two_max > 0)
      std::printf("memory: max worker peak RSS with 2 workers / worker peak RSS with 1: %.0f / %.0f MB = %.2f   "
                  "target <= 0.6\n", two_max, w1->second, two_max / w1->second);
    else
      std::printf("memory: per-rank RSS lines missing from the logs\n");
  } else {
    std::printf("an MPI run failed: no speed-up or memory ratio (see the logs)\n");
  }
  bool all_same = true;
  for (size_t i = 1; i < runs.size(); ++i) {
    const bool same = runs[i].exit_code == 0 && SameBytes(runs[0].output, runs[i].output);
    all_same = all_same && same;
    std::printf("artifact %s vs %s: %s\n", runs[i].name.c_str(), runs[0].name.c_str(),
                same ? "byte-identical" : "DIFFERENT");
  }
  if (all_same && runs[0].exit_code == 0)
    std::printf("all %zu artifacts byte-identical (%llu bytes)\n", runs.size(),
                (unsigned long long)fs::file_size(runs[0].output));
  std::printf("load average after: %s\n", Uptime().c_str());
  if (!keep) fs::remove_all(dir);
  return 0;
}
