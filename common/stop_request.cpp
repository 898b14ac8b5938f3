#include "common/stop_request.h"

#include <signal.h>

#include <atomic>
#include <cstdio>

namespace shardq {
namespace {

std::atomic<int> g_stop_signal{0};
static_assert(std::atomic<int>::is_always_lock_free, "read in a signal handler");

void OnStopSignal(int signo) {
  int expected = 0;
  if (!g_stop_signal.compare_exchange_strong(expected, signo)) {
    // Asked twice: stop waiting for the unit boundary.
    signal(signo, SIG_DFL);
    raise(signo);
  }
}

}  // namespace

void InstallStopSignalHandlers() {
  struct sigaction sa {};
  sa.sa_handler = OnStopSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;  // blocking reads and writes resume; the flag is polled
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
}

int StopSignal() { return g_stop_signal.load(std::memory_order_relaxed); }

void RequestStop(int signo) {
  int expected = 0;
  g_stop_signal.compare_exchange_strong(expected, signo);
}

void ClearStopRequest() { g_stop_signal.store(0); }

const char* StopSignalName(int signo) {
  switch (signo) {
    case SIGTERM: return "SIGTERM";
    case SIGINT: return "SIGINT";
    default: return "a stop signal";
  }
}

}  // namespace shardq
