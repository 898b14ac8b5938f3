#include "coordinator/service/job_estimate.h"

#include "common/model.h"
#include "common/quant_plan.h"
#include "common/recipe.h"
#include "common/tensor_order.h"
#include "kernels/block_format.h"
#include "runtime/unit_plan.h"

namespace shardq {

Result<JobEstimate> EstimateJobSize(const JobSpec& spec, int n_workers) {
  SHARDQ_ASSIGN_OR_RETURN(Recipe recipe, RecipeFromSpec(spec, "spec"));
  SHARDQ_ASSIGN_OR_RETURN(Model model, OpenModel(spec.model));
  const std::vector<TensorInfo>& infos = model.source->tensors();
  std::vector<TensorInfo> ordered;
  for (size_t i : CanonicalTensorOrder(infos)) ordered.push_back(infos[i]);
  Result<std::vector<TensorChoice>> choices = PlanTensorTypes(ordered, recipe.quant);
  if (!choices.ok()) return choices.status().WithContext(spec.model + ": ");
  SHARDQ_ASSIGN_OR_RETURN(UnitPlan plan, MakeUnitPlan(ordered, n_workers, /*first_worker=*/1));
  JobEstimate e;
  e.units = static_cast<int64_t>(plan.units.size());
  for (size_t i = 0; i < ordered.size(); ++i) {
    e.bytes_in += static_cast<int64_t>(ordered[i].nbytes);
    const BlockFormat* f = FindBlockFormat((*choices)[i].type);
    const int64_t rows = ordered[i].n_elements() / std::max<int64_t>(1, ordered[i].row_length());
    e.bytes_out += f ? static_cast<int64_t>(f->row_bytes(ordered[i].row_length())) * rows
                     : static_cast<int64_t>(ordered[i].nbytes);
  }
  if (recipe.size_target) {
    if (recipe.size_target->file_bytes > 0) e.bytes_out = static_cast<int64_t>(recipe.size_target->file_bytes);
    else if (recipe.size_target->bits_per_weight > 0) {
      int64_t weights = 0;
      for (const TensorInfo& t : ordered) weights += t.n_elements();
      e.bytes_out = static_cast<int64_t>(weights * recipe.size_target->bits_per_weight / 8.0);
    }
  }
  // Measured on the 2-core AVX2 machine (README): rtn about 300 MB/s of F32,
  // calibrated recipes about 20 MB/s on shakespeare-5m. The server replaces
  // these with its own measurements once a job has finished.
  e.default_bytes_per_second = recipe.Calibrates() ? 20e6 : 300e6;
  return e;
}

}  // namespace shardq
