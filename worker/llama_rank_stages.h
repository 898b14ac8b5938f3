// The unit stages of a Llama model as one rank runs them (runtime/rank_stages.h):
// calibrate (this rank's blocks over the calibration windows, statistics for
// the linear inputs of its units) and quantize (each tensor of a unit packed in
// its planned block format, weighted by importance when the recipe says so).
#pragma once

#include <memory>

#include "common/model.h"
#include "common/status.h"
#include "runtime/rank_stages.h"

namespace shardq {

// The factory handed to RunWorker (runtime/rank_loop.h).
Result<std::unique_ptr<RankStages>> MakeLlamaRankStages(const RankJob& job, Model& model);

}  // namespace shardq
