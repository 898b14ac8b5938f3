// A recipe's unit stages driven in this process, without a transport or a state
// store: one rank holding every unit. `shardq quantize` uses it for recipes that
// calibrate, so it runs exactly the stages `shardq run` runs on its workers and
// writes the same bytes.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "common/model.h"
#include "common/recipe.h"
#include "common/status.h"
#include "common/tensor_blob.h"
#include "common/tensor_info.h"
#include "runtime/job_messages.h"
#include "runtime/rank_stages.h"
#include "runtime/unit_plan.h"

namespace shardq {

class LocalStageRunner {
 public:
  // Opens the model, plans the units, calibrates (when the recipe does) over
  // every unit. `ordered`: the model's tensors in canonical order. A stop
  // signal (stop_request.h) ends calibration at a window boundary (Cancelled).
  static Result<std::unique_ptr<LocalStageRunner>> Start(const std::string& model_path, const Recipe& recipe,
                                                         const std::vector<TensorInfo>& ordered, int threads,
                                                         const RankStagesFactory& factory);

  // The packed tensor `name`, which must be the next one in canonical order;
  // units are compressed as they are reached. *weighted: importance was applied.
  Result<TensorBlob> Next(const std::string& name, bool* weighted);

 private:
  LocalStageRunner() = default;

  JobAssignment assignment_;
  Model model_;
  std::vector<TensorInfo> ordered_;
  UnitPlan plan_;
  RankJob job_;
  std::unique_ptr<RankStages> stages_;
  int64_t next_unit_ = 0;
  std::deque<TensorBlob> pending_;  // the current unit's blobs not yet taken
  std::deque<bool> pending_weighted_;
};

}  // namespace shardq
