#include "tests/unit/test_util.h"

#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <random>

namespace shardq::testing {

std::string MakeTempDir(const std::string& tag) {
  std::random_device rd;
  auto dir = std::filesystem::temp_directory_path() /
             ("shardq-test-" + tag + "-" + std::to_string(rd()));
  std::filesystem::create_directories(dir);
  return dir.string();
}

RunResult RunShardq(const std::string& args) {
  const std::string cmd = std::string(SHARDQ_BINARY) + " " + args + " 2>&1";
  RunResult r{-1, ""};
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) r.output.append(buf, n);
  const int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

}  // namespace shardq::testing
