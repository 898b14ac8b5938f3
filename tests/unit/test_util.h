// Helpers shared by the unit tests: where ../shared is, reading whole files.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

namespace shardq::testing {

// ../shared as CMake saw it; SHARDQ_SHARED in the environment overrides.
inline std::string SharedPath(const std::string& rel) {
  const char* env = std::getenv("SHARDQ_SHARED");
  std::string base = env && *env ? env : SHARDQ_SHARED_DIR;
  return base + "/" + rel;
}

inline std::vector<uint8_t> ReadFileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void WriteFileBytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                              static_cast<std::streamsize>(bytes.size()));
}

inline std::vector<float> ReadFloats(const std::string& path) {
  std::vector<uint8_t> b = ReadFileBytes(path);
  std::vector<float> f(b.size() / 4);
  if (!f.empty()) std::memcpy(f.data(), b.data(), f.size() * 4);
  return f;
}

// A test case that cannot check its subject (an ISA this CPU lacks, a tool that is not
// installed) calls SHARDQ_SKIP("why"): it is reported as skipped, never as passed. The
// runner (catch_main.cpp) exits with kSkipExitCode when nothing failed but something was
// skipped; ctest maps that code to "skipped" (SKIP_RETURN_CODE, set in CMakeLists.txt).
inline constexpr int kSkipExitCode = 77;
inline int& SkippedCountRef() {
  static int n = 0;
  return n;
}
inline int SkippedCount() { return SkippedCountRef(); }
inline void MarkSkipped(const std::string& why) {
  ++SkippedCountRef();
  std::cout << "SKIPPED: " << why << std::endl;
}

// A fresh empty directory under the build tree's tmp, removed by the caller if wanted.
std::string MakeTempDir(const std::string& tag);

// The shardq binary run with `args` through the shell, stdout and stderr together.
struct RunResult {
  int exit_code;       // -1 when it did not exit normally (a signal)
  std::string output;  // stdout + stderr
};
RunResult RunShardq(const std::string& args);

}  // namespace shardq::testing

// Marks the running test case skipped (see above) and leaves it. Use at the top of a
// TEST_CASE body, before any check, so that a skip can never hide a failure.
#define SHARDQ_SKIP(why)                                   \
  do {                                                     \
    WARN("skipped: " << (why));                            \
    ::shardq::testing::MarkSkipped(std::string() + (why)); \
    return;                                                \
  } while (0)
