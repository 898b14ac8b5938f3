// A one-line progress bar on a terminal; silent when stderr is not a TTY
// (logs and CI get the final table only).
#pragma once

#include <chrono>
#include <cstdio>
#include <string>

namespace shardq {

class ProgressBar {
 public:
  // enabled: usually isatty(stderr).
  explicit ProgressBar(bool enabled, std::FILE* out = stderr);
  void Update(size_t done, size_t total, const std::string& label);
  // Clears the line.
  void Finish();
  static bool StderrIsTerminal();

 private:
  bool enabled_;
  std::FILE* out_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point last_;
};

}  // namespace shardq
