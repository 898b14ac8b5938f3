// The unit stages as the per-rank loop (rank_loop.h) sees them. The loop owns
// everything between ranks: it moves hidden states along the calibration
// pipeline, stops at unit boundaries, sends each packed unit to rank 0. The
// stages (implemented in worker/, handed to the loop as a factory) compute and
// know nothing of transports, RocksDB or the job's files besides the model.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/model.h"
#include "common/status.h"
#include "common/tensor_blob.h"
#include "common/tensor_info.h"
#include "runtime/job_messages.h"
#include "runtime/unit_plan.h"

namespace shardq {

// One rank's share of one job assignment.
struct RankJob {
  const JobAssignment* assignment = nullptr;
  const std::vector<TensorInfo>* tensors = nullptr;  // the model's tensors, canonical order
  const UnitPlan* plan = nullptr;                    // made from `tensors`: the same on every rank
  int rank = 0;
  std::vector<int64_t> units;  // the units this rank computes, in assignment order
  // >= 0: this rank's calibration stage starts at that block, from stored states
  // the loop hands it window by window (JobAssignment::calib_seed_layer), and
  // loads no weights of the blocks before it.
  int64_t calib_first_layer = -1;
  // Whether units return their calibration products (UnitOutput::products):
  // only where a state store keeps them (a job), not for `shardq quantize`.
  bool keep_products = false;
};

// What one unit's stages produce: its tensors packed (canonical order, each
// with its checksum and metrics), the fingerprint of each source tensor read,
// and which tensors were importance-weighted.
struct UnitOutput {
  std::vector<TensorBlob> blobs;
  std::vector<uint32_t> source_fingerprints;
  std::vector<bool> weighted;  // per blob: quantized with an importance vector
  // Calibration products a later run can start from (an encoded
  // BlockInputProduct: the teacher states leaving this unit's block); empty when
  // the unit has none. Sent to rank 0 ahead of the blobs.
  std::vector<uint8_t> products;
};

class RankStages {
 public:
  virtual ~RankStages() = default;

  // Calibration, when the recipe calibrates: this rank's stage of the pipeline
  // (its blocks, plus the embeddings on the first stage and the head on the
  // last). Begin returns the number of windows; then, per window, the first
  // stage calls EmbedWindow, every stage calls ForwardWindow on the hidden
  // states it embedded or received (replaced by its output), and the loop
  // passes them on. Statistics accumulate only for this rank's units.
  virtual Result<int64_t> BeginCalibration() = 0;
  virtual Status EmbedWindow(int64_t window, std::vector<float>* hidden) = 0;
  virtual Status ForwardWindow(int64_t window, std::vector<float>* hidden) = 0;
  virtual Status EndCalibration() = 0;

  // Calibration products of this rank's units that a later run can reuse, taken
  // once calibration has ended (imatrix: each unit's statistics, as encoded
  // UnitStatsProducts), as (unit, bytes). Block mode returns its products per
  // unit instead (UnitOutput::products).
  virtual Result<std::vector<std::pair<int64_t, std::vector<uint8_t>>>> TakeCalibrationProducts() {
    return std::vector<std::pair<int64_t, std::vector<uint8_t>>>();
  }
  // Before calibration: a unit's statistics kept by an earlier run (the bytes of
  // CalibrationStats::Encode); calibration then gathers none for that unit.
  virtual Status UseStoredStats(int64_t unit, const std::vector<uint8_t>& stats) {
    (void)stats;
    return Status::Unsupported("unit " + std::to_string(unit) + ": these stages take no stored statistics");
  }

  // The remaining stages of one unit this rank owns.
  virtual Result<UnitOutput> CompressUnit(int64_t unit) = 0;
};

// Builds a rank's stages for one assignment; `model` (opened by the loop) stays
// alive while the stages do.
using RankStagesFactory = std::function<Result<std::unique_ptr<RankStages>>(const RankJob& job, Model& model)>;

}  // namespace shardq
