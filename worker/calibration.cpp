#include "worker/calibration.h"

namespace shardq {

Result<std::vector<std::vector<int32_t>>> CalibrationWindows(const Tokenizer& tokenizer, const std::string& text,
                                                             int64_t samples, int64_t seq_len,
                                                             const std::string& label) {
  if (samples < 1) return Status::InvalidArgument(label + ": samples must be at least 1");
  if (seq_len < 2) return Status::InvalidArgument(label + ": seq_len must be at least 2");
  const std::vector<int32_t> ids = tokenizer.Encode(text, /*add_bos=*/false);
  const int64_t per = seq_len - 1;
  const int64_t available = static_cast<int64_t>(ids.size()) / per;
  if (available == 0) {
    return Status::InvalidArgument(label + ": " + std::to_string(ids.size()) + " tokens, fewer than one window of " +
                                   std::to_string(seq_len) + " (seq_len)");
  }
  const int64_t n = std::min(samples, available);
  std::vector<std::vector<int32_t>> windows(n);
  const int32_t bos = static_cast<int32_t>(tokenizer.vocab().bos_id);
  for (int64_t w = 0; w < n; ++w) {
    windows[w].reserve(seq_len);
    windows[w].push_back(bos);
    windows[w].insert(windows[w].end(), ids.begin() + w * per, ids.begin() + (w + 1) * per);
  }
  return windows;
}

LinearInputObserver StatsObserver(CalibrationStats* stats, bool hessian, const std::set<std::string>* wanted) {
  return [stats, hessian, wanted](const std::string& weight, const float* x, int64_t n, int64_t cols) {
    if (wanted && !wanted->count(weight)) return;
    stats->Entry(weight, cols).Accumulate(x, n, hessian);
  };
}

Status Calibrate(LlamaForward& forward, const std::vector<std::vector<int32_t>>& windows, bool hessian,
                 CalibrationStats* stats) {
  forward.SetLinearInputObserver(StatsObserver(stats, hessian));
  std::vector<float> logits;
  for (const auto& w : windows) {
    forward.Reset();
    Status st = forward.Eval(w, /*all_logits=*/false, &logits);
    if (!st.ok()) {
      forward.SetLinearInputObserver(nullptr);
      return st;
    }
  }
  forward.SetLinearInputObserver(nullptr);
  forward.Reset();
  return Status::OK();
}

}  // namespace shardq
