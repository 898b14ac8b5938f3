// `shardq quantize`: one model in, one GGUF out. An rtn or imatrix recipe streams
// (quantize_stream.h: read, encode and write overlapped across tensors); a
// calibrating recipe runs the unit stages of `shardq run` tensor by tensor.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/recipe.h"
#include "common/status.h"
#include "worker/quant_error.h"

namespace shardq {

struct QuantizeJobOptions {
  std::string model_path;
  std::string output_path;
  // The types (recipe.quant) and how to round. A recipe that calibrates runs the
  // unit stages of `shardq run` in this process (calibrate over the text, then
  // each unit), so both commands write the same bytes for the same recipe.
  Recipe recipe;
  int threads = 0;  // <= 0: all cores
  // Calibration statistics from a file (shardq calibrate --out) instead of
  // calibrating here: each tensor's input mean x^2 weights its quantization
  // error. Only with an rtn recipe (the statistics are the imatrix).
  std::string imatrix_path;
};

struct TensorReport {
  std::string name;
  std::string shape;  // outermost first
  GgmlType type = GgmlType::F32;
  std::string reason;
  int64_t n_elements = 0;
  uint64_t bytes = 0;
  bool weighted = false;  // quantized with an importance vector
  QuantError error;
};

struct QuantizeReport {
  std::string output_path;
  std::vector<TensorReport> tensors;  // canonical order
  uint64_t input_f32_bytes = 0;        // the model as F32
  uint64_t output_bytes = 0;           // the whole file
  uint64_t weights = 0;
  double seconds = 0;       // the whole job
  double sync_seconds = 0;  // of which: the output's fsync, rename and directory fsync
  // The stream's stalls (quantize_stream.h's StreamResult); 0 on the calibrating path.
  double compute_wait_seconds = 0;
  double writer_wait_seconds = 0;
  // With a size target: the planned file size, the summed predicted KL of the
  // chosen types, and the seconds the sensitivity measurement took.
  uint64_t mixed_planned_bytes = 0;
  double mixed_predicted_kl = 0;
  double mixed_seconds = 0;
};

// Called before each tensor is processed: (index, total, name).
using ProgressFn = std::function<void(size_t, size_t, const std::string&)>;

Result<QuantizeReport> RunQuantizeJob(const QuantizeJobOptions& options, const ProgressFn& progress);

}  // namespace shardq
