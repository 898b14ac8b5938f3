// What a resumed calibrated job's workers are handed from the state store, and
// which of them calibrate at all.
//
// GPTQ/AWQ (block mode): where the calibration pipeline starts. Each worker rank
// needs the teacher states entering the first block it still has to do (or,
// with nothing to do, those leaving its range, when the next rank needs them).
// Rank 0 looks for the latest stored block-input product (block_input_product.h)
// at or before that block within the rank's range; a rank that has one starts
// there and receives nothing, so the ranks before it need not calibrate at all.
// A product that fails its checksum or was computed from other inputs is
// dropped from the store and never handed out.
//
// imatrix: every unit to do whose statistics are stored is handed them; the
// pipeline runs (from the embeddings: there are no stored activations) only
// up to the last rank that still has a unit without them.
#pragma once

#include <cstdint>
#include <utility>
#include <string>
#include <vector>

#include "common/status.h"
#include "coordinator/store/state_store.h"
#include "runtime/job_messages.h"
#include "runtime/unit_plan.h"

namespace shardq {

struct CalibrationResume {
  // (rank, encoded product) to send with kTagSeed, in this order.
  std::vector<std::pair<int, std::vector<uint8_t>>> seeds;
  int64_t units_reusing = 0;   // units to do whose stage starts from stored products
  int64_t units_recalibrated = 0;  // units to do whose stage starts at the embeddings
  int64_t products_dropped = 0;    // stored products found damaged or stale
  std::string summary;             // one line for stderr
};

// Fills a->calib_joins, a->calib_seed_layer and a->stats_stored (a->recipe,
// a->ranges, a->todo and a->inputs_fingerprint set) from what `store` holds for `job_id`.
Result<CalibrationResume> PlanCalibrationResume(StateStore& store, const std::string& job_id, const UnitPlan& plan,
                                                JobAssignment* a);

// The store keys of every calibration product a job may hold (block inputs
// and unit statistics), to delete when it is done.
std::vector<std::string> CalibrationProductKeys(const UnitPlan& plan);

}  // namespace shardq
