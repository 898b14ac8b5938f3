// Checks of a job's inputs made on rank 0 before any work.
#pragma once

#include <string>

#include "common/job_spec.h"
#include "common/model.h"
#include "common/recipe.h"
#include "common/status.h"

namespace shardq {

// What the job will read besides the model, checked before any work: the
// calibration text gives the windows the recipe asks for, the eval text is
// long enough for its ctx (llama-perplexity's rule: at least 2 x ctx tokens).
// Errors name `label`, the field and the file.
Status ValidateJobInputs(const JobSpec& spec, const Recipe& recipe, const Model& model, bool with_eval,
                         const std::string& label);

}  // namespace shardq
