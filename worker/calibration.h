// Calibration: run the full-precision model over windows of calibration text
// and gather, for every linear layer's input, the statistics of
// worker/calibration_stats.h. The same observer serves the one-process
// `shardq calibrate` and the pipeline stages of `shardq run` on each rank.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/tokenizer.h"
#include "worker/calibration_stats.h"
#include "worker/llama_forward.h"

namespace shardq {

// `samples` windows of `seq_len` tokens: BOS, then seq_len - 1 consecutive text
// tokens (the text is tokenized once, without BOS, and cut in order). Fewer
// windows when the text is short (at least one, else an error naming `label`).
Result<std::vector<std::vector<int32_t>>> CalibrationWindows(const Tokenizer& tokenizer, const std::string& text,
                                                             int64_t samples, int64_t seq_len,
                                                             const std::string& label);

// An observer that accumulates into `stats` (only tensors in `wanted`, when given).
LinearInputObserver StatsObserver(CalibrationStats* stats, bool hessian, const std::set<std::string>* wanted = nullptr);

// Runs every window through `forward` (the cache is reset per window).
Status Calibrate(LlamaForward& forward, const std::vector<std::vector<int32_t>>& windows, bool hessian,
                 CalibrationStats* stats);

}  // namespace shardq
