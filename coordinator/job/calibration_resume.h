// Where a resumed GPTQ/AWQ job's calibration pipeline starts. Each worker rank
// needs the teacher states entering the first block it still has to do (or,
// with nothing to do, those leaving its range, when the next rank needs them).
// Rank 0 looks for the latest stored block-input product (block_input_product.h)
// at or before that block within the rank's range; a rank that has one starts
// there and receives nothing, so the ranks before it need not calibrate at all.
// A product that fails its checksum or was computed from other inputs is
// dropped from the store and never handed out.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"
#include "coordinator/store/state_store.h"
#include "runtime/job_messages.h"
#include "runtime/unit_plan.h"

namespace shardq {

struct CalibrationResume {
  std::map<int, std::vector<uint8_t>> seeds;  // rank -> encoded product to send it (kTagSeed)
  int64_t units_reusing = 0;   // units to do whose stage starts from stored products
  int64_t units_recalibrated = 0;  // units to do whose stage starts at the embeddings
  int64_t products_dropped = 0;    // stored products found damaged or stale
  std::string summary;             // one line for stderr
};

// Fills a->calib_joins and a->calib_seed_layer (a->ranges and a->todo set) for
// a job whose recipe needs block activations, from what `store` holds for `job_id`.
Result<CalibrationResume> PlanCalibrationResume(StateStore& store, const std::string& job_id, const UnitPlan& plan,
                                                JobAssignment* a);

// The store keys of every block-input product a job may hold (all blocks and the head's input).
std::vector<std::string> BlockInputKeys(const UnitPlan& plan);

}  // namespace shardq
