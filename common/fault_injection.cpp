#include "common/fault_injection.h"

#include <signal.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace shardq {
namespace {

struct KillSpec {
  std::string point;
  long count = 0;
};

const KillSpec& Spec() {
  static const KillSpec spec = [] {
    KillSpec s;
    const char* v = std::getenv("SHARDQ_FAULT_KILL_AT");
    if (!v || !*v) return s;
    const char* colon = std::strrchr(v, ':');
    if (!colon) return s;
    s.point.assign(v, colon);
    s.count = std::atol(colon + 1);
    return s;
  }();
  return spec;
}

std::atomic<long> g_hits{0};

}  // namespace

void FaultPoint(const char* point) {
  const KillSpec& s = Spec();
  if (s.count <= 0 || s.point != point) return;
  if (g_hits.fetch_add(1) + 1 != s.count) return;
  std::fprintf(stderr, "shardq: fault injection: killed at %s #%ld\n", point, s.count);
  std::fflush(stderr);
  raise(SIGKILL);
}

int FaultDelayMs() {
  const char* v = std::getenv("SHARDQ_FAULT_DELAY_MS");
  return v && *v ? std::atoi(v) : 0;
}

}  // namespace shardq
