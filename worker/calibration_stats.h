// Statistics of every linear layer's input, gathered by running the model on
// calibration text: per-channel mean x^2 (the importance vector quantizers use),
// per-channel absmax (static activation ranges), the token count, and optionally
// the Hessian X^T X in float64 (GPTQ / SparseGPT). Keyed by the weight tensor
// that consumes the input ("blk.0.attn_q.weight"), as llama.cpp's imatrix is.
// File format: docs/formats.md, "Calibration statistics".
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"

namespace shardq {

struct ChannelStats {
  int64_t n_channels = 0;
  int64_t token_count = 0;
  std::vector<double> sum_sq;   // sum over tokens of x_c^2
  std::vector<float> absmax;    // max over tokens of |x_c|
  std::vector<double> hessian;  // n x n, row-major, sum over tokens of x x^T; empty when not gathered

  // x holds n_tokens rows of n_channels values.
  void Accumulate(const float* x, int64_t n_tokens, bool with_hessian);
  // Adds another accumulation of the same input (e.g. from another micro-batch or rank).
  Status Merge(const ChannelStats& other);
  // sum_sq / token_count, as float (the importance vector).
  std::vector<float> MeanSquare() const;
};

class CalibrationStats {
 public:
  // The entry for `name`, created with n_channels on first use.
  ChannelStats& Entry(const std::string& name, int64_t n_channels);
  const ChannelStats* Find(const std::string& name) const;
  const std::map<std::string, ChannelStats>& entries() const { return entries_; }
  size_t size() const { return entries_.size(); }

  // Written through AtomicFile (temp + fsync + rename), CRC32C over the whole body.
  Status Save(const std::string& path) const;
  static Result<CalibrationStats> Load(const std::string& path);
  // The same bytes in memory.
  std::vector<uint8_t> Encode() const;
  static Result<CalibrationStats> Decode(const uint8_t* data, uint64_t n, const std::string& label);

 private:
  std::map<std::string, ChannelStats> entries_;  // sorted: the file is deterministic
};

}  // namespace shardq
