#include "coordinator/http/metrics_text.h"

#include <cstdio>

namespace shardq {

namespace {

void Family(std::string& out, const char* name, const char* type, const char* help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

std::string Number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

// Bucket bounds as written in the source (0.05, not 0.050000000000000003).
std::string Bound(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

void Sample(std::string& out, const std::string& name, double v) { out += name + " " + Number(v) + "\n"; }

}  // namespace

std::string EscapeLabelValue(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string RenderMetricsText(const MetricsSnapshot& s) {
  const ServiceMetrics& m = s.metrics;
  std::string out;
  Family(out, "shardq_up", "gauge", "1 while the service is ready to run jobs.");
  Sample(out, "shardq_up", s.ready ? 1 : 0);
  Family(out, "shardq_workers", "gauge", "Worker ranks attached to this service.");
  Sample(out, "shardq_workers", s.workers);
  Family(out, "shardq_jobs", "gauge", "Jobs known to the service, by state.");
  for (const auto& [state, n] : s.jobs_by_state) Sample(out, "shardq_jobs{state=\"" + EscapeLabelValue(state) + "\"}", n);
  Family(out, "shardq_queue_length", "gauge", "Jobs waiting to run.");
  Sample(out, "shardq_queue_length", s.queue_length);
  Family(out, "shardq_jobs_submitted_total", "counter", "Jobs accepted by submit since the service started.");
  Sample(out, "shardq_jobs_submitted_total", m.jobs_submitted);
  Family(out, "shardq_units_done_total", "counter", "Units compressed and committed by this service's runs.");
  Sample(out, "shardq_units_done_total", m.units_computed);
  Family(out, "shardq_units_reused_total", "counter", "Units read back from the state store instead of recomputed.");
  Sample(out, "shardq_units_reused_total", m.units_reused);
  Family(out, "shardq_bytes_in_total", "counter", "Model tensor bytes of the jobs finished since the service started.");
  Sample(out, "shardq_bytes_in_total", m.bytes_in);
  Family(out, "shardq_bytes_out_total", "counter", "Artifact bytes written by the jobs finished since the service started.");
  Sample(out, "shardq_bytes_out_total", m.bytes_out);
  Family(out, "shardq_unit_seconds", "histogram", "Compute time of one unit on its worker rank.");
  int64_t cumulative = 0;
  for (size_t i = 0; i < ServiceMetrics::kUnitSecondsBuckets.size(); ++i) {
    cumulative += m.unit_seconds_bucket[i];
    Sample(out, "shardq_unit_seconds_bucket{le=\"" + Bound(ServiceMetrics::kUnitSecondsBuckets[i]) + "\"}",
           static_cast<double>(cumulative));
  }
  Sample(out, "shardq_unit_seconds_bucket{le=\"+Inf\"}", static_cast<double>(m.unit_seconds_count));
  Sample(out, "shardq_unit_seconds_sum", m.unit_seconds_sum);
  Sample(out, "shardq_unit_seconds_count", static_cast<double>(m.unit_seconds_count));
  Family(out, "shardq_rank_busy_seconds_total", "counter", "Seconds each worker rank spent computing units.");
  for (const auto& [rank, sec] : m.rank_busy_seconds)
    Sample(out, "shardq_rank_busy_seconds_total{rank=\"" + std::to_string(rank) + "\"}", sec);
  Family(out, "shardq_last_error_timestamp_seconds", "gauge", "Unix time of the last failed job (0: none).");
  Sample(out, "shardq_last_error_timestamp_seconds", static_cast<double>(m.last_error_unix));
  Family(out, "shardq_last_error_info", "gauge", "The last failed job and its error, as labels.");
  if (m.last_error_unix > 0) {
    std::string msg = m.last_error.substr(0, 200);
    Sample(out, "shardq_last_error_info{job=\"" + EscapeLabelValue(m.last_error_job) + "\",message=\"" +
                    EscapeLabelValue(msg) + "\"}",
           1);
  }
  return out;
}

}  // namespace shardq
