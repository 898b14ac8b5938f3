#include "coordinator/job/mixed_precision_plan.h"

#include <algorithm>
#include <cmath>

#include "common/gguf_layout.h"
#include "common/hf_tokenizer_json.h"
#include "common/job_text.h"
#include "coordinator/artifact/output_metadata.h"
#include "worker/calibration.h"

namespace shardq {

Result<TypeAllocationResult> PlanMixedPrecision(const Model& model, const Recipe& recipe,
                                                const std::vector<TensorInfo>& ordered,
                                                const std::vector<TensorChoice>& base, int threads) {
  if (!recipe.size_target) return Status::InvalidArgument("mixed precision: no size target");
  if (!recipe.calibration)
    return Status::InvalidArgument("a size target needs calibration text (the sensitivity is measured on it)");
  // The header does not depend on the types (a type id is a fixed-size field).
  SHARDQ_ASSIGN_OR_RETURN(GgufMetadata metadata, BuildOutputMetadata(model, recipe.quant.preset.file_type));
  std::vector<GgufTensorDecl> decls;
  uint64_t n_weights = 0;
  for (size_t i = 0; i < ordered.size(); ++i) {
    decls.push_back({ordered[i].name, ordered[i].shape, base[i].type});
    n_weights += static_cast<uint64_t>(ordered[i].n_elements());
  }
  SHARDQ_ASSIGN_OR_RETURN(GgufLayout layout, LayoutGguf(model.path, metadata, decls));
  TypeAllocationRequest req;
  req.model_path = model.path;
  req.tensors = &ordered;
  req.base = &base;
  req.header_bytes = layout.data_offset;
  req.alignment = layout.alignment;
  const SizeTarget& t = *recipe.size_target;
  req.target_file_bytes =
      t.file_bytes > 0 ? t.file_bytes : static_cast<uint64_t>(std::floor(t.bits_per_weight * n_weights / 8.0));
  const CalibrationOptions& c = *recipe.calibration;
  SHARDQ_ASSIGN_OR_RETURN(std::string text, ReadJobText(c.text, "calibration.text"));
  SHARDQ_ASSIGN_OR_RETURN(Tokenizer tokenizer, TokenizerForModel(model));
  SHARDQ_ASSIGN_OR_RETURN(req.windows,
                          CalibrationWindows(tokenizer, text, std::min<int64_t>(c.samples, 8), c.seq_len, c.text));
  req.threads = threads;
  return AllocateTensorTypes(req);
}

}  // namespace shardq
