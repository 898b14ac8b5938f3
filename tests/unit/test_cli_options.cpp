// Options of eval, generate and calibrate (issue 9, items 6 and 9): every
// numeric option out of range is one line on stderr naming it and exit 1 (never
// an abort); eval shows its progress on stderr unless --quiet/--json; a job's
// eval stage shows it too; generate stops at the model's context length.
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/unit/test_util.h"

using namespace shardq;
namespace fs = std::filesystem;

namespace {

struct RunResult {
  int exit_code;
  std::string out, err;
};

// stdout and stderr apart (stderr through a file).
RunResult Run(const std::string& args, const std::string& dir) {
  const std::string err_path = dir + "/stderr.txt";
  const std::string cmd = std::string(SHARDQ_BINARY) + " " + args + " 2>" + err_path;
  RunResult r{-1, "", ""};
  FILE* p = popen(cmd.c_str(), "r");
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) r.out.append(buf, n);
  const int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream in(err_path);
  std::stringstream s;
  s << in.rdbuf();
  r.err = s.str();
  return r;
}

int64_t Lines(const std::string& s) { return std::count(s.begin(), s.end(), '\n'); }

struct BadCase {
  std::string args;    // after the command's required arguments
  std::string expect;  // in the one stderr line
};

void ExpectRejected(const std::string& command, const std::vector<BadCase>& cases, const std::string& dir) {
  for (const auto& c : cases) {
    RunResult r = Run(command + " " + c.args, dir);
    INFO(command << " " << c.args << "\nstdout: " << r.out << "\nstderr: " << r.err);
    CHECK(r.exit_code == 1);
    CHECK(Lines(r.err) == 1);
    CHECK(r.out.empty());
    CHECK_THAT(r.err, Catch::Contains(c.expect));
  }
}

std::string Shared(const std::string& rel) { return testing::SharedPath(rel); }

}  // namespace

TEST_CASE("eval: out-of-range numeric options are one clear line", "[cli][options]") {
  const std::string dir = testing::MakeTempDir("opts-eval");
  const std::string cmd = "eval -m " + Shared("models/stories260K/stories260K.gguf") + " --text " +
                          Shared("corpus/tinystories-eval.txt");
  ExpectRejected(cmd,
                 {{"--threads 100000", "shardq eval: --threads 100000: must be 1..1024"},
                  {"--threads 0", "--threads 0: must be 1..1024"},
                  {"--threads -1", "--threads -1: must be 1..1024"},
                  {"--chunks 0", "--chunks 0: must be at least 1"},
                  {"--chunks -1", "--chunks -1: must be at least 1"},
                  {"--ctx 2", "--ctx 2: must be 4..1048576"},
                  {"--ctx -5", "--ctx -5: must be 4..1048576"}},
                 dir);
  fs::remove_all(dir);
}

TEST_CASE("generate: out-of-range numeric options are one clear line", "[cli][options]") {
  const std::string dir = testing::MakeTempDir("opts-generate");
  const std::string cmd = "generate -m " + Shared("models/stories260K/stories260K.gguf") + " -p Once";
  ExpectRejected(cmd,
                 {{"--threads 100000", "shardq generate: --threads 100000: must be 1..1024"},
                  {"--threads 0", "--threads 0: must be 1..1024"},
                  {"-n 0", "-n 0: must be at least 1"},
                  {"-n -3", "-n -3: must be at least 1"},
                  {"--temp -1", "--temp -1: must be >= 0 (0 is greedy)"},
                  {"--top-p 2", "--top-p 2: must be in (0, 1]"},
                  {"--top-p 0", "--top-p 0: must be in (0, 1]"},
                  {"--top-p -0.5", "--top-p -0.5: must be in (0, 1]"}},
                 dir);
  // The boundaries are accepted: greedy, top-p 1, one thread.
  RunResult r = Run(cmd + " -n 2 --temp 0 --top-p 1 --threads 1", dir);
  INFO(r.err);
  CHECK(r.exit_code == 0);
  fs::remove_all(dir);
}

TEST_CASE("calibrate: out-of-range options, and more samples than the text holds", "[cli][options]") {
  const std::string dir = testing::MakeTempDir("opts-calibrate");
  // A short text: 2000 bytes of the calibration corpus.
  std::string text;
  {
    std::ifstream in(Shared("corpus/tinystories-calib.txt"), std::ios::binary);
    text.resize(2000);
    in.read(text.data(), 2000);
  }
  std::ofstream(dir + "/short.txt", std::ios::binary) << text;
  const std::string cmd = "calibrate -m " + Shared("models/stories260K/stories260K.gguf") + " --text " + dir +
                          "/short.txt --out " + dir + "/stats.bin";
  ExpectRejected(cmd,
                 {{"--threads 100000", "shardq calibrate: --threads 100000: must be 1..1024"},
                  {"--threads -1", "--threads -1: must be 1..1024"},
                  {"--samples 0", "--samples 0: must be at least 1"},
                  {"--seq-len 1", "--seq-len 1: must be at least 2"},
                  // The text holds a few hundred tokens: 64 windows of 128 do not fit.
                  {"--samples 64 --seq-len 128", "short.txt: "},
                  {"--samples 64 --seq-len 128", "windows of --seq-len 128 (BOS + 127 text tokens each), fewer than --samples 64"}},
                 dir);
  CHECK_FALSE(fs::exists(dir + "/stats.bin"));
  // What fits is accepted.
  RunResult r = Run(cmd + " --samples 2 --seq-len 32 --threads 2 -q", dir);
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(fs::exists(dir + "/stats.bin"));
  fs::remove_all(dir);
}

TEST_CASE("eval: progress on stderr (chunks done / total), none with --quiet or --json", "[cli][eval][progress]") {
  const std::string dir = testing::MakeTempDir("eval-progress");
  const std::string cmd = "eval -m " + Shared("models/stories260K/stories260K.gguf") + " --tokens " +
                          Shared("golden/tokens/stories260K-tinystories-eval.llama-cpp.ids") +
                          " --ctx 64 --chunks 3 --threads 2";
  RunResult r = Run(cmd, dir);
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  // stderr is a file here, not a terminal: plain lines.
  CHECK_THAT(r.err, Catch::Contains("shardq eval: evaluating 3 chunks of 64 tokens"));
  CHECK_THAT(r.err, Catch::Contains("shardq eval: chunk 1/3, PPL "));
  CHECK_THAT(r.err, Catch::Contains("shardq eval: chunk 3/3, PPL "));
  CHECK_THAT(r.out, Catch::Contains("Final estimate: PPL = "));
  CHECK_THAT(r.out, !Catch::Contains("chunk 1/3"));

  r = Run(cmd + " --quiet", dir);
  CHECK(r.exit_code == 0);
  CHECK(r.err.empty());
  CHECK_THAT(r.out, Catch::Contains("Final estimate: PPL = "));

  r = Run(cmd + " --json", dir);
  CHECK(r.exit_code == 0);
  CHECK(r.err.empty());
  CHECK(r.out.front() == '{');
  fs::remove_all(dir);
}

TEST_CASE("run: the job's eval stage shows its progress", "[cli][eval][progress]") {
  const std::string dir = testing::MakeTempDir("job-eval-progress");
  // A short eval text keeps the stage to a few chunks.
  std::string text;
  {
    std::ifstream in(Shared("corpus/tinystories-eval.txt"), std::ios::binary);
    text.resize(12000);
    in.read(text.data(), 12000);
  }
  std::ofstream(dir + "/eval.txt", std::ios::binary) << text;
  std::ofstream(dir + "/job.yaml") << "model: " << Shared("models/stories260K") << "\n"
                                   << "output:\n  path: " << dir << "/out.gguf\n"
                                   << "recipe:\n  quantize:\n    preset: Q8_0\n"
                                   << "eval:\n  text: " << dir << "/eval.txt\n  ctx: 64\n";
  RunResult r = Run("run " + dir + "/job.yaml --state " + dir + "/state --threads 2", dir);
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  // Not a terminal: "evaluating N chunks", then a line about every tenth, and the last.
  const std::string start = "shardq: eval: evaluating ";
  const size_t at = r.err.find(start);
  REQUIRE(at != std::string::npos);
  const std::string total = r.err.substr(at + start.size(), r.err.find(' ', at + start.size()) - at - start.size());
  CHECK(std::stoi(total) > 10);
  CHECK_THAT(r.err, Catch::Contains("shardq: eval: chunk " + total + "/" + total + ", PPL "));
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') < 30);  // periodic, not a line per chunk
  CHECK(fs::exists(dir + "/out.gguf.eval.json"));
  fs::remove_all(dir);
}

TEST_CASE("generate: stops at the model's context length with a warning", "[cli][generate]") {
  const std::string dir = testing::MakeTempDir("generate-ctx");
  // shakespeare-5m: context length 1024. A 1000-token prompt leaves room for 24.
  std::string ids;
  for (int i = 0; i < 999; ++i) ids += std::to_string(100 + i % 500) + " ";
  const std::string cmd = "generate -m " + Shared("models/shakespeare-5m") + " --temp 0 --threads 2 --ids --prompt-ids '" + ids + "'";
  RunResult r = Run(cmd + " -n 50", dir);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.err, Catch::Contains("warning: stopped at the model's context length of 1024 tokens: generated 24 "
                                    "of the 50 requested after a prompt of 1000"));
  // --ids prints BOS + prompt + generated: exactly the context length.
  const std::string printed = r.out.substr(r.out.find("ids:") + 4);
  std::istringstream in(printed);
  int64_t count = 0;
  std::string w;
  while (in >> w) ++count;
  CHECK(count == 1024);

  // Within the context: no warning.
  r = Run(cmd + " -n 10", dir);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.err, !Catch::Contains("warning"));

  // A prompt longer than the context is an error.
  std::string long_ids = ids;
  for (int i = 0; i < 100; ++i) long_ids += "7 ";
  r = Run("generate -m " + Shared("models/shakespeare-5m") + " -n 5 --prompt-ids '" + long_ids + "'", dir);
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("the prompt is 1100 tokens (BOS included), more than"));
  CHECK_THAT(r.err, Catch::Contains("context length of 1024"));
  fs::remove_all(dir);
}
