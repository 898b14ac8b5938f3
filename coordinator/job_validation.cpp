#include "coordinator/job_validation.h"

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

}  // namespace shardq
