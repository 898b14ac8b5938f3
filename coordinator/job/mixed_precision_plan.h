// Rank 0's step before compression when the recipe has a size target: measure
// each quantized tensor's sensitivity on the calibration text and choose its
// type (worker/type_allocation.h) so the GGUF file meets the target.
#pragma once

#include <vector>

#include "common/model.h"
#include "common/recipe.h"
#include "common/status.h"
#include "common/tensor_info.h"
#include "worker/type_allocation.h"

namespace shardq {

// `base`: the plan of recipe.quant without the allocation. Needs the recipe's
// calibration text (the windows sensitivity is measured on: at most 8 of them).
Result<TypeAllocationResult> PlanMixedPrecision(const Model& model, const Recipe& recipe,
                                                const std::vector<TensorInfo>& ordered,
                                                const std::vector<TensorChoice>& base, int threads);

}  // namespace shardq
