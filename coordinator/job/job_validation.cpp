#include "coordinator/job/job_validation.h"

#include "common/hf_tokenizer_json.h"
#include "common/job_text.h"
#include "worker/calibration.h"

namespace shardq {

Status ValidateJobInputs(const JobSpec& spec, const Recipe& recipe, const Model& model, bool with_eval,
                         const std::string& label) {
  const bool calibrates = recipe.Calibrates();
  if (!calibrates && !(with_eval && spec.eval)) return Status::OK();
  Result<Tokenizer> tokenizer = TokenizerForModel(model);
  if (!tokenizer.ok()) return tokenizer.status().WithContext(label + ": " + spec.model + ": ");
  if (calibrates) {
    const CalibrationOptions& c = *recipe.calibration;
    Result<std::string> text = ReadJobText(c.text, "calibration.text");
    if (!text.ok()) return text.status().WithContext(label + ": ");
    Result<std::vector<std::vector<int32_t>>> windows =
        CalibrationWindows(*tokenizer, *text, c.samples, c.seq_len, c.text);
    if (!windows.ok()) return windows.status().WithContext(label + ": calibration: ");
    if (static_cast<int64_t>(windows->size()) < c.samples)
      return Status::InvalidArgument(label + ": calibration.samples " + std::to_string(c.samples) + ": " + c.text +
                                     " holds only " + std::to_string(windows->size()) + " windows of seq_len " +
                                     std::to_string(c.seq_len) + "; lower samples or give more text");
  }
  if (with_eval && spec.eval) {
    const EvalSpec& e = *spec.eval;
    Result<std::string> text = ReadJobText(e.text, "eval.text");
    if (!text.ok()) return text.status().WithContext(label + ": ");
    if (e.ctx < 4) return Status::InvalidArgument(label + ": eval.ctx " + std::to_string(e.ctx) + " is too small (at least 4)");
    const int64_t n = static_cast<int64_t>(tokenizer->Encode(*text, /*add_bos=*/true).size());
    if (n < 2 * e.ctx)
      return Status::InvalidArgument(label + ": eval.ctx " + std::to_string(e.ctx) + ": " + e.text + " has " +
                                     std::to_string(n) + " tokens; perplexity needs at least 2 x ctx = " +
                                     std::to_string(2 * e.ctx));
  }
  return Status::OK();
}

}  // namespace shardq
