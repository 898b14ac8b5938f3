// The unit stages as the per-rank loop (rank_loop.h) sees them. The loop owns
// everything between ranks: it moves hidden states along the calibration
// pipeline, stops at unit boundaries, sends each packed unit to rank 0. The
// stages (implemented in worker/, handed to the loop as a factory) compute and
// know nothing of transports, RocksDB or the job's files besides the model.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
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
};

// What one unit's stages produce: its tensors packed (canonical order, each
// with its checksum and metrics), the fingerprint of each source tensor read,
// and which tensors were importance-weighted.
struct UnitOutput {
  std::vector<TensorBlob> blobs;
  std::vector<uint32_t> source_fingerprints;
  std::vector<bool> weighted;  // per blob: quantized with an importance vector
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

  // The remaining stages of one unit this rank owns.
  virtual Result<UnitOutput> CompressUnit(int64_t unit) = 0;
};

// Builds a rank's stages for one assignment; `model` (opened by the loop) stays
// alive while the stages do.
using RankStagesFactory = std::function<Result<std::unique_ptr<RankStages>>(const RankJob& job, Model& model)>;

}  // namespace shardq
