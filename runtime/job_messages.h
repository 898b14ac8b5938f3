// What travels between rank 0 and the workers (byte layouts private to one
// shardq version: every rank runs the same binary).
//   kTagJob (rank 0 -> worker): JobAssignment as JSON text; an empty payload means "exit".
//   kTagUnitResult (worker -> rank 0): a WorkerMessage: one unit's blobs, or "done".
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

struct JobAssignment {
  std::string job_id;
  std::string model_path;
  Recipe recipe;                      // validated on rank 0; decoded into the same typed values here
  std::vector<RankRange> ranges;      // the whole pipeline
  std::vector<int64_t> todo;          // unit indices to compute (all ranks' units)
  int threads = 1;                    // per worker
};

std::vector<uint8_t> EncodeAssignment(const JobAssignment& a);
Result<JobAssignment> DecodeAssignment(const std::vector<uint8_t>& bytes);

struct WorkerMessage {
  enum Kind : uint8_t { kUnit = 'U', kDone = 'D' } kind = kUnit;
  int64_t unit = -1;            // kUnit
  double seconds = 0;           // kUnit: time to compress it
  std::vector<TensorBlob> blobs;  // kUnit
  std::vector<uint32_t> source_fingerprints;  // kUnit: one per blob, of the source tensor read (source_fingerprint.h)
  std::string error;            // kDone: empty when the worker succeeded
};

std::vector<uint8_t> EncodeWorkerMessage(const WorkerMessage& m);
// Verifies every blob's checksum (a bit flipped in flight is an error here).
Result<WorkerMessage> DecodeWorkerMessage(const std::vector<uint8_t>& bytes, int from_rank);

}  // namespace shardq
