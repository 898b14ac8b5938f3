// What travels between rank 0 and the workers (byte layouts private to one
// shardq version: every rank runs the same binary).
//   kTagJob (rank 0 -> worker): JobAssignment as JSON text; an empty payload means "exit".
//   kTagUnitResult (worker -> rank 0): a WorkerMessage: one unit's blobs, a unit's
//     calibration products (sent just before that unit's blobs), or "done".
//   kTagSeed (rank 0 -> worker): a resumed job's stored block-input product
//     (block_input_product.h) for a rank whose pipeline stage starts from it,
//     or one stored unit-statistics product (unit_stats_product.h) per unit.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/recipe.h"
#include "common/status.h"
#include "common/tensor_blob.h"
#include "runtime/unit_plan.h"
#include "common/quant_plan.h"

namespace shardq {

// Where workers write their units' tensors themselves (in-place blobs,
// tensor_blob.h): the artifact's temp file, the tag rank 0 wrote just past the
// file's end (so a worker can tell the file is this run's), and each tensor's
// region. An empty path: workers send the bytes to rank 0.
struct UnitPlacement {
  std::string path;
  std::vector<uint8_t> tag;
  uint64_t file_bytes = 0;  // the tag is at this offset
  struct Region {
    std::string name;
    uint64_t offset = 0, size = 0;
  };
  std::vector<Region> regions;
};

struct JobAssignment {
  std::string job_id;
  std::string model_path;
  Recipe recipe;                      // validated on rank 0; decoded into the same typed values here
  std::vector<RankRange> ranges;      // the whole pipeline
  std::vector<int64_t> todo;          // unit indices to compute (all ranks' units)
  int threads = 1;                    // per worker
  // Calibrated jobs: JobRecord::inputs_fingerprint, written into every product.
  std::string inputs_fingerprint;
  // Where the calibration pipeline runs, parallel to `ranges`; both empty means
  // every rank takes part from the embeddings (a fresh job, or imatrix). A rank
  // with calib_joins 0 skips calibration; one with calib_seed_layer L >= 0 is
  // sent the stored states entering block L (kTagSeed) and starts there,
  // receiving nothing from the rank before it.
  std::vector<uint8_t> calib_joins;
  std::vector<int64_t> calib_seed_layer;
  // imatrix: units to do whose statistics rank 0 kept from an earlier run; it
  // sends each to its owner (kTagSeed, one message per unit, in this order)
  // and the owner does not gather them again.
  std::vector<int64_t> stats_stored;
  UnitPlacement placement;
};

std::vector<uint8_t> EncodeAssignment(const JobAssignment& a);
Result<JobAssignment> DecodeAssignment(const std::vector<uint8_t>& bytes);

struct WorkerMessage {
  enum Kind : uint8_t { kUnit = 'U', kProducts = 'P', kDone = 'D' } kind = kUnit;
  int64_t unit = -1;            // kUnit, kProducts
  double seconds = 0;           // kUnit: time to compress it
  std::vector<TensorBlob> blobs;  // kUnit
  std::vector<uint32_t> source_fingerprints;  // kUnit: one per blob, of the source tensor read (source_fingerprint.h)
  std::vector<uint8_t> products;  // kProducts: an encoded BlockInputProduct or UnitStatsProduct (self-checksummed)
  std::string error;            // kDone: empty when the worker succeeded
};

std::vector<uint8_t> EncodeWorkerMessage(const WorkerMessage& m);
// Verifies every blob's checksum (a bit flipped in flight is an error here).
Result<WorkerMessage> DecodeWorkerMessage(const std::vector<uint8_t>& bytes, int from_rank);
// The same, taking the bytes: a kProducts message keeps them as its products
// (MBs of hidden states are not copied on rank 0).
Result<WorkerMessage> DecodeWorkerMessage(std::vector<uint8_t>&& bytes, int from_rank);

}  // namespace shardq
