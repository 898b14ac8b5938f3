// The benches' child-process runner: fork/exec a command with stdout and stderr
// to a log file, and measure its wall time, CPU time and peak RSS (from wait4).
#pragma once

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

namespace shardq::bench {

struct ChildStats {
  int exit_code = -1;      // -1 when the child did not exit normally
  double seconds = 0;      // wall time from fork to reaping
  double peak_rss_mb = 0;  // ru_maxrss: the largest single process of the tree
  double cpu_seconds = 0;  // user + system of the child (and the children it waited for)

  double cores_busy() const { return seconds > 0 ? cpu_seconds / seconds : 0; }
};

// argv[0] is looked up in PATH unless it contains a '/' (execvp); 127 when it
// cannot be executed.
inline ChildStats RunChild(const std::vector<std::string>& argv, const std::string& log) {
  ChildStats r;
  const auto start = std::chrono::steady_clock::now();
  std::fflush(nullptr);  // else the child inherits and re-prints our buffered output
  const pid_t pid = fork();
  if (pid == 0) {
    FILE* f = std::freopen(log.c_str(), "w", stdout);
    (void)f;
    dup2(fileno(stdout), STDERR_FILENO);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  struct rusage ru {};
  wait4(pid, &status, 0, &ru);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.peak_rss_mb = ru.ru_maxrss / 1024.0;  // ru_maxrss is in KiB on Linux
  r.cpu_seconds = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
  return r;
}

}  // namespace shardq::bench
