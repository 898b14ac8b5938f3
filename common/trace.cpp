#include "common/trace.h"

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace shardq {

bool TraceEnabled() {
  static const bool enabled = [] {
    const char* v = std::getenv("SHARDQ_TRACE");
    return v && *v && *v != '0';
  }();
  return enabled;
}

void TraceLine(int rank, const char* format, ...) {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  // Seconds within the current 10^4 s: short, and monotone over any one job.
  const double t = static_cast<double>(ts.tv_sec % 10000) + ts.tv_nsec * 1e-9;
  char what[512];
  va_list args;
  va_start(args, format);
  std::vsnprintf(what, sizeof what, format, args);
  va_end(args);
  // One fprintf per line, so lines of threads and ranks do not interleave mid-line.
  std::fprintf(stderr, "shardq trace rank %d %.3f: %s\n", rank, t, what);
}

}  // namespace shardq
