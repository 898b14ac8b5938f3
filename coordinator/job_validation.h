// The recipe's names checked against what the worker can do: presets, type
// names and --tensor-type overrides. Kept out of common/ (ParseJobSpec checks
// only structure) because the preset table lives in worker/, which links common.
#pragma once

#include <string>

#include "common/job_spec.h"
#include "common/model.h"
#include "common/status.h"
#include "worker/quant_plan.h"

namespace shardq {

// InvalidArgument naming `label` and the field, e.g.
// "job.yaml: recipe.quantize.preset: unknown preset 'Q4_K_X' (choose one of Q8_0, ...)".
Status ValidateRecipe(const JobSpec& spec, const std::string& label = "job spec");

// The quantizer's options for this recipe (validates first, same errors).
Result<QuantPlanOptions> QuantPlanOptionsFromRecipe(const JobSpec& spec, const std::string& label = "job spec");

// A text the job reads (calibration, eval), whole; errors name `field` and the
// path: cannot open, read failed, empty.
Result<std::string> ReadJobText(const std::string& path, const std::string& field);

// What the job will read besides the model, checked before any work: the
// calibration text gives the windows the recipe asks for, the eval text is
// long enough for its ctx (llama-perplexity's rule: at least 2 x ctx tokens).
// Errors name `label`, the field and the file.
Status ValidateJobInputs(const JobSpec& spec, const Model& model, bool with_eval, const std::string& label);

}  // namespace shardq
