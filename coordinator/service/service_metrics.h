// What /metrics reports about the service since it started (Prometheus
// counters reset on restart by design: rate() handles that). Kept by the
// JobService on its io_context thread; rendered by coordinator/http.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>

namespace shardq {

struct ServiceMetrics {
  // Upper bounds (seconds) of the unit-latency histogram's buckets; +Inf implied.
  static constexpr std::array<double, 10> kUnitSecondsBuckets = {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};

  int64_t jobs_submitted = 0;
  int64_t units_computed = 0;  // committed by this server's runs
  int64_t units_reused = 0;    // read back from the state store instead
  int64_t bytes_in = 0;        // model tensor bytes of finished jobs
  int64_t bytes_out = 0;       // artifact bytes of finished jobs
  std::array<int64_t, kUnitSecondsBuckets.size()> unit_seconds_bucket{};  // not cumulative
  int64_t unit_seconds_count = 0;
  double unit_seconds_sum = 0;
  std::map<int, double> rank_busy_seconds;
  std::string last_error, last_error_job;
  int64_t last_error_unix = 0;

  void ObserveUnit(int rank, double seconds) {
    size_t i = 0;
    while (i < kUnitSecondsBuckets.size() && seconds > kUnitSecondsBuckets[i]) ++i;
    if (i < kUnitSecondsBuckets.size()) ++unit_seconds_bucket[i];
    ++unit_seconds_count;
    unit_seconds_sum += seconds;
    rank_busy_seconds[rank] += seconds;
    ++units_computed;
  }
};

}  // namespace shardq
