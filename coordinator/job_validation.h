// The recipe's names checked against what the worker can do: presets, type
// names and --tensor-type overrides. Kept out of common/ (ParseJobSpec checks
// only structure) because the preset table lives in worker/, which links common.
#pragma once

#include <string>

#include "common/job_spec.h"
#include "common/status.h"
#include "worker/quant_plan.h"

namespace shardq {

// InvalidArgument naming `label` and the field, e.g.
// "job.yaml: recipe.quantize.preset: unknown preset 'Q4_K_X' (choose one of Q8_0, ...)".
Status ValidateRecipe(const JobSpec& spec, const std::string& label = "job spec");

// The quantizer's options for this recipe (validates first, same errors).
Result<QuantPlanOptions> QuantPlanOptionsFromRecipe(const JobSpec& spec, const std::string& label = "job spec");

}  // namespace shardq
