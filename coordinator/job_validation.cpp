#include "coordinator/job_validation.h"

#include "kernels/block_format.h"

namespace shardq {
namespace {

// A type the quantizer can write (F32/F16/BF16 included): named, and with an encoder.
Result<GgmlType> ParseWritableType(const std::string& name, const std::string& field, const std::string& label) {
  auto type = ParseGgmlType(name);
  const BlockFormat* f = type ? FindBlockFormat(*type) : nullptr;
  if (!f || !f->quantize_row) {
    return Status::InvalidArgument(label + ": " + field + ": unknown or unsupported type '" + name + "'");
  }
  return *type;
}

}  // namespace

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
                            ParseWritableType(q.output_tensor_type, "recipe.quantize.output_tensor_type", label));
  }
  if (!q.token_embedding_type.empty()) {
    SHARDQ_ASSIGN_OR_RETURN(o.token_embedding_type,
                            ParseWritableType(q.token_embedding_type, "recipe.quantize.token_embedding_type", label));
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
