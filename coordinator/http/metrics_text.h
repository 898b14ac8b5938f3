// The service's /metrics page in the Prometheus text exposition format
// (version 0.0.4): HELP and TYPE for every family, counters ending in _total,
// label values escaped. Checked by Prometheus's own `promtool check metrics`
// in tests/integration/service.sh.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "coordinator/service/service_metrics.h"

namespace shardq {

struct MetricsSnapshot {
  ServiceMetrics metrics;
  std::map<std::string, int64_t> jobs_by_state;
  int64_t queue_length = 0;
  int workers = 0;
  bool ready = false;
};

std::string RenderMetricsText(const MetricsSnapshot& s);
// A label value with \, " and newlines escaped as the format requires.
std::string EscapeLabelValue(const std::string& v);

}  // namespace shardq
