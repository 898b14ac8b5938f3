#include "coordinator/artifact/report_html.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <map>

namespace shardq {
namespace {

// One fixed colour per charted kind, so pages of different models compare.
constexpr const char* kColors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2"};

std::string Escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string Num(double v, const char* fmt = "%.4g") {
  if (std::isinf(v)) return v > 0 ? "&infin;" : "-&infin;";
  if (std::isnan(v)) return "n/a";
  char buf[64];
  std::snprintf(buf, sizeof(buf), fmt, v);
  return buf;
}

std::string ShapeString(const std::vector<int64_t>& shape) {
  std::string s;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += 'x';
    s += std::to_string(shape[i]);
  }
  return s;
}

struct Frame {
  // Plot area inside a fixed-size SVG; values map linearly into it.
  double width = 760, height = 300, left = 60, right = 150, top = 20, bottom = 40;
  double x0() const { return left; }
  double x1() const { return width - right; }
  double y0() const { return height - bottom; }
  double y1() const { return top; }
};

// Axes, horizontal grid lines with labels from 0 to y_max, and a tick per block.
std::string Axes(const Frame& f, double y_max, const std::vector<int64_t>& blocks,
                 const std::vector<double>& xs, const std::string& y_label) {
  std::string s;
  for (int i = 0; i <= 4; ++i) {
    const double v = y_max * i / 4;
    const double y = f.y0() - (f.y0() - f.y1()) * i / 4;
    s += "<line x1=\"" + Num(f.x0(), "%.1f") + "\" y1=\"" + Num(y, "%.1f") + "\" x2=\"" + Num(f.x1(), "%.1f") +
         "\" y2=\"" + Num(y, "%.1f") + "\" stroke=\"#ddd\"/>";
    s += "<text x=\"" + Num(f.x0() - 6, "%.1f") + "\" y=\"" + Num(y + 4, "%.1f") +
         "\" text-anchor=\"end\" font-size=\"11\">" + Num(v, "%.3g") + "</text>";
  }
  for (size_t i = 0; i < blocks.size(); ++i) {
    s += "<text x=\"" + Num(xs[i], "%.1f") + "\" y=\"" + Num(f.y0() + 16, "%.1f") +
         "\" text-anchor=\"middle\" font-size=\"11\">" + std::to_string(blocks[i]) + "</text>";
  }
  s += "<line x1=\"" + Num(f.x0(), "%.1f") + "\" y1=\"" + Num(f.y0(), "%.1f") + "\" x2=\"" + Num(f.x1(), "%.1f") +
       "\" y2=\"" + Num(f.y0(), "%.1f") + "\" stroke=\"#333\"/>";
  s += "<line x1=\"" + Num(f.x0(), "%.1f") + "\" y1=\"" + Num(f.y0(), "%.1f") + "\" x2=\"" + Num(f.x0(), "%.1f") +
       "\" y2=\"" + Num(f.y1(), "%.1f") + "\" stroke=\"#333\"/>";
  s += "<text x=\"" + Num((f.x0() + f.x1()) / 2, "%.1f") + "\" y=\"" + Num(f.height - 6, "%.1f") +
       "\" text-anchor=\"middle\" font-size=\"12\">block</text>";
  s += "<text x=\"14\" y=\"" + Num((f.y0() + f.y1()) / 2, "%.1f") +
       "\" text-anchor=\"middle\" font-size=\"12\" transform=\"rotate(-90 14 " +
       Num((f.y0() + f.y1()) / 2, "%.1f") + ")\">" + Escape(y_label) + "</text>";
  return s;
}

std::vector<double> BlockXs(const Frame& f, size_t n) {
  std::vector<double> xs(n);
  for (size_t i = 0; i < n; ++i)
    xs[i] = n == 1 ? (f.x0() + f.x1()) / 2 : f.x0() + 20 + (f.x1() - f.x0() - 40) * i / (n - 1);
  return xs;
}

double NiceMax(double v) { return v > 0 ? v * 1.1 : 1.0; }

// Relative RMSE per block, one polyline per tensor kind.
std::string RmseChart(const std::map<int64_t, std::map<std::string, double>>& rel) {
  Frame f;
  std::vector<int64_t> blocks;
  double y_max = 0;
  for (const auto& [b, kinds] : rel) {
    blocks.push_back(b);
    for (const auto& kv : kinds)
      if (std::isfinite(kv.second)) y_max = std::max(y_max, kv.second);
  }
  y_max = NiceMax(y_max);
  const std::vector<double> xs = BlockXs(f, blocks.size());
  std::string s = "<svg role=\"img\" aria-label=\"relative RMSE per block\" width=\"" + Num(f.width, "%.0f") +
                  "\" height=\"" + Num(f.height, "%.0f") + "\" viewBox=\"0 0 " + Num(f.width, "%.0f") + " " +
                  Num(f.height, "%.0f") + "\">";
  s += Axes(f, y_max, blocks, xs, "relative RMSE");
  const auto& kinds = ChartedTensorKinds();
  for (size_t k = 0; k < kinds.size(); ++k) {
    std::string points, dots;
    for (size_t i = 0; i < blocks.size(); ++i) {
      auto it = rel.at(blocks[i]).find(kinds[k]);
      if (it == rel.at(blocks[i]).end() || !std::isfinite(it->second)) continue;
      const double y = f.y0() - (f.y0() - f.y1()) * it->second / y_max;
      points += Num(xs[i], "%.1f") + "," + Num(y, "%.1f") + " ";
      dots += "<circle cx=\"" + Num(xs[i], "%.1f") + "\" cy=\"" + Num(y, "%.1f") + "\" r=\"3\" fill=\"" +
              kColors[k] + "\"><title>blk." + std::to_string(blocks[i]) + "." + kinds[k] + ": " +
              Num(it->second) + "</title></circle>";
    }
    if (!points.empty())
      s += "<polyline fill=\"none\" stroke=\"" + std::string(kColors[k]) + "\" stroke-width=\"2\" points=\"" +
           points + "\"/>" + dots;
    const double ly = f.y1() + 16 * k + 6;
    s += "<rect x=\"" + Num(f.x1() + 14, "%.1f") + "\" y=\"" + Num(ly - 8, "%.1f") +
         "\" width=\"12\" height=\"4\" fill=\"" + kColors[k] + "\"/>";
    s += "<text x=\"" + Num(f.x1() + 32, "%.1f") + "\" y=\"" + Num(ly - 3, "%.1f") + "\" font-size=\"12\">" +
         kinds[k] + "</text>";
  }
  return s + "</svg>";
}

// Bits per weight of each block (all its tensors' bytes over all its weights), as bars.
std::string BpwChart(const std::map<int64_t, double>& bpw) {
  Frame f;
  std::vector<int64_t> blocks;
  double y_max = 0;
  for (const auto& [b, v] : bpw) {
    blocks.push_back(b);
    y_max = std::max(y_max, v);
  }
  y_max = NiceMax(y_max);
  const std::vector<double> xs = BlockXs(f, blocks.size());
  std::string s = "<svg role=\"img\" aria-label=\"bits per weight per block\" width=\"" + Num(f.width, "%.0f") +
                  "\" height=\"" + Num(f.height, "%.0f") + "\" viewBox=\"0 0 " + Num(f.width, "%.0f") + " " +
                  Num(f.height, "%.0f") + "\">";
  s += Axes(f, y_max, blocks, xs, "bits per weight");
  const double bar = std::min(40.0, (f.x1() - f.x0()) / std::max<size_t>(1, blocks.size()) * 0.6);
  for (size_t i = 0; i < blocks.size(); ++i) {
    const double v = bpw.at(blocks[i]);
    const double y = f.y0() - (f.y0() - f.y1()) * v / y_max;
    s += "<rect x=\"" + Num(xs[i] - bar / 2, "%.1f") + "\" y=\"" + Num(y, "%.1f") + "\" width=\"" +
         Num(bar, "%.1f") + "\" height=\"" + Num(f.y0() - y, "%.1f") + "\" fill=\"#4c78a8\"><title>blk." +
         std::to_string(blocks[i]) + ": " + Num(v) + " bpw</title></rect>";
  }
  return s + "</svg>";
}

}  // namespace

const std::vector<std::string>& ChartedTensorKinds() {
  static const std::vector<std::string> kinds = {"attn_q", "attn_k", "attn_v", "attn_output",
                                                 "ffn_gate", "ffn_up", "ffn_down"};
  return kinds;
}

bool SplitBlockTensorName(const std::string& name, int64_t* block, std::string* kind) {
  if (name.rfind("blk.", 0) != 0) return false;
  size_t i = 4;
  int64_t b = 0;
  while (i < name.size() && std::isdigit(static_cast<unsigned char>(name[i])) && b < (int64_t{1} << 40))
    b = b * 10 + (name[i++] - '0');
  if (i == 4 || i >= name.size() || name[i] != '.') return false;
  std::string rest = name.substr(i + 1);
  const std::string suffix = ".weight";
  if (rest.size() > suffix.size() && rest.compare(rest.size() - suffix.size(), suffix.size(), suffix) == 0)
    rest.resize(rest.size() - suffix.size());
  *block = b;
  *kind = rest;
  return true;
}

std::string RenderReportHtml(const std::vector<ReportRow>& rows, const ReportSummary& summary) {
  std::map<int64_t, std::map<std::string, double>> rel;  // block -> kind -> relative RMSE
  std::map<int64_t, std::pair<uint64_t, int64_t>> block_size;  // block -> (bytes, weights)
  QuantError total;
  uint64_t tensor_bytes = 0;
  int64_t weights = 0;
  for (const ReportRow& r : rows) {
    total.Merge(r.error);
    tensor_bytes += r.bytes;
    weights += r.n_elements;
    int64_t b;
    std::string kind;
    if (!SplitBlockTensorName(r.name, &b, &kind)) continue;
    rel[b][kind] = r.error.relative_rmse();
    block_size[b].first += r.bytes;
    block_size[b].second += r.n_elements;
  }
  std::map<int64_t, double> bpw;
  for (const auto& [b, s] : block_size) bpw[b] = s.second ? 8.0 * static_cast<double>(s.first) / s.second : 0.0;

  std::string h;
  h += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">";
  h += "<title>shardq report: " + Escape(summary.file) + "</title>";
  h += "<style>body{font-family:sans-serif;margin:24px;color:#222}table{border-collapse:collapse;font-size:13px}"
       "th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}td.l,th.l{text-align:left}"
       "th{background:#f3f3f3}pre{background:#f7f7f7;padding:8px;overflow:auto}</style></head><body>\n";
  h += "<h1>" + Escape(summary.file) + "</h1>\n";
  h += "<p>sha256 <code>" + Escape(summary.sha256) + "</code>, " + std::to_string(summary.file_bytes) +
       " bytes; " + std::to_string(rows.size()) + " tensors, " + std::to_string(weights) + " weights, " +
       Num(weights ? 8.0 * static_cast<double>(tensor_bytes) / weights : 0.0) + " bits per weight; " +
       "relative RMSE " + Num(total.relative_rmse()) + ", SQNR " + Num(total.sqnr_db(), "%.2f") + " dB.</p>\n";
  h += "<h2>Relative RMSE per block</h2>\n" + RmseChart(rel) + "\n";
  h += "<h2>Bits per weight per block</h2>\n" + BpwChart(bpw) + "\n";
  h += "<h2>Tensors</h2>\n<table><tr><th class=\"l\">tensor</th><th class=\"l\">type</th><th>shape</th>"
       "<th>bytes</th><th>bpw</th><th>RMSE</th><th>rel. RMSE</th><th>SQNR dB</th><th>max err</th>"
       "<th class=\"l\">reason</th></tr>\n";
  for (const ReportRow& r : rows) {
    h += "<tr><td class=\"l\">" + Escape(r.name) + "</td><td class=\"l\">" + GgmlTypeName(r.type) + "</td><td>" +
         ShapeString(r.shape) + "</td><td>" + std::to_string(r.bytes) + "</td><td>" +
         Num(r.bits_per_weight(), "%.3f") + "</td><td>" + Num(r.error.rmse()) + "</td><td>" +
         Num(r.error.relative_rmse()) + "</td><td>" + Num(r.error.sqnr_db(), "%.2f") + "</td><td>" +
         Num(r.error.max_abs_err) + "</td><td class=\"l\">" + Escape(r.reason) + "</td></tr>\n";
  }
  h += "</table>\n<h2>Spec</h2>\n<pre>" + Escape(summary.spec_json) + "</pre>\n</body></html>\n";
  return h;
}

}  // namespace shardq
