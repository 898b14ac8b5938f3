// The human half of an artifact's quality report: one self-contained HTML page
// (no scripts, fonts or links to fetch) with a per-tensor table and inline SVG
// charts of relative RMSE and bits per weight per transformer block.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/ggml_type.h"
#include "worker/quant_error.h"

namespace shardq {

struct ReportRow {
  std::string name;
  GgmlType type = GgmlType::F32;
  std::vector<int64_t> shape;  // outermost first
  int64_t n_elements = 0;
  uint64_t bytes = 0;          // packed bytes, without alignment padding
  QuantError error;
  std::string reason;

  double bits_per_weight() const { return n_elements ? 8.0 * static_cast<double>(bytes) / n_elements : 0.0; }
};

struct ReportSummary {
  std::string file;       // the artifact's file name
  std::string sha256;
  uint64_t file_bytes = 0;
  std::string spec_json;  // shown verbatim
};

// The tensor kinds charted per block, in legend order.
const std::vector<std::string>& ChartedTensorKinds();

// "blk.3.attn_q.weight" -> block 3, kind "attn_q"; false for names outside blocks.
bool SplitBlockTensorName(const std::string& name, int64_t* block, std::string* kind);

std::string RenderReportHtml(const std::vector<ReportRow>& rows, const ReportSummary& summary);

}  // namespace shardq
