#include "coordinator/job_validation.h"

#include <fstream>
#include <iterator>

#include "common/hf_tokenizer_json.h"
#include "worker/calibration.h"

namespace shardq {

Result<QuantPlanOptions> QuantPlanOptionsFromRecipe(const JobSpec& spec, const std::string& label) {
  const QuantizeRecipe& q = spec.quantize;
  QuantPlanOptions o;
  auto preset = FindPreset(q.preset);
  if (!preset) {
    return Status::InvalidArgument(label + ": recipe.quantize.preset: unknown preset '" + q.preset +
                                   "' (choose one of " + PresetNames() + ")");
  }
  o.preset = *preset;
  o.pure = q.pure;
  for (size_t i = 0; i < q.tensor_types.size(); ++i) {
    auto ov = ParseTensorTypeOverride(q.tensor_types[i]);
    if (!ov.ok()) {
      return ov.status().WithContext(label + ": recipe.quantize.tensor_types[" + std::to_string(i) + "]: ");
    }
    o.overrides.push_back(std::move(ov).value());
  }
  if (!q.output_tensor_type.empty()) {
    SHARDQ_ASSIGN_OR_RETURN(o.output_tensor_type,
                            ParseEncodableType(q.output_tensor_type, label + ": recipe.quantize.output_tensor_type"));
  }
  if (!q.token_embedding_type.empty()) {
    SHARDQ_ASSIGN_OR_RETURN(o.token_embedding_type,
                            ParseEncodableType(q.token_embedding_type, label + ": recipe.quantize.token_embedding_type"));
  }
  if (q.algorithm == "imatrix" && !spec.calibration) {
    return Status::InvalidArgument(label + ": recipe.quantize.algorithm: imatrix needs a calibration section");
  }
  o.has_imatrix = q.algorithm == "imatrix";
  return o;
}

Status ValidateRecipe(const JobSpec& spec, const std::string& label) {
  return QuantPlanOptionsFromRecipe(spec, label).status();
}

Result<std::string> ReadJobText(const std::string& path, const std::string& field) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound(field + ": " + path + ": cannot open");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return Status::IOError(field + ": " + path + ": read failed");
  if (text.empty()) return Status::InvalidArgument(field + ": " + path + ": the file is empty");
  return text;
}

Status ValidateJobInputs(const JobSpec& spec, const Model& model, bool with_eval, const std::string& label) {
  const bool calibrates = spec.quantize.algorithm == "imatrix" && spec.calibration;
  if (!calibrates && !(with_eval && spec.eval)) return Status::OK();
  Result<Tokenizer> tokenizer = TokenizerForModel(model);
  if (!tokenizer.ok()) return tokenizer.status().WithContext(label + ": " + spec.model + ": ");
  if (calibrates) {
    const CalibrationSpec& c = *spec.calibration;
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
