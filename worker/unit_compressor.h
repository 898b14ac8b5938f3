// The compress stage of one unit, as a plain function: the unit's weights, the
// statistics handed to it and the recipe in, packed tensors with metrics out.
// No MPI, no RocksDB, no files besides the model's tensors: the same code runs
// in one process and on any rank.
#pragma once

#include <vector>

#include "common/status.h"
#include "common/tensor_source.h"
#include "common/thread_pool.h"
#include "common/tensor_blob.h"
#include "worker/calibration_stats.h"
#include "common/quant_plan.h"
#include "worker/tensor_quantizer.h"

namespace shardq {

// Reads tensor `t` as F32 into *data; `source_fingerprint`, when given, receives
// the fingerprint of its stored bytes (source_fingerprint.h), taken just before
// the decode. The caller releases the tensor's pages when done with them.
Status ReadSourceTensor(TensorSource& source, const TensorInfo& t, ThreadPool* pool, std::vector<float>* data,
                        uint32_t* source_fingerprint);

// One tensor: read it (row by row from the mapping, tensor_rows.h), weight it by its input's mean x^2 when `stats` has an
// entry (quantized tensors only), pack it, release its source pages. The step
// `shardq quantize` and every worker rank both run, so they write the same bytes.
// `stats_label` names the statistics in errors; *weighted
// says whether importance was applied; `source_fingerprint`, when given,
// receives the fingerprint of the tensor's stored bytes (source_fingerprint.h).
Status CompressTensor(TensorSource& source, const TensorInfo& t, const TensorChoice& choice,
                      const CalibrationStats* stats, const std::string& stats_label, ThreadPool* pool,
                      QuantizedTensor* out, bool* weighted, uint32_t* source_fingerprint = nullptr);

// The record of one packed tensor: its bytes, crc32c, metrics and the reason for its type.
TensorBlob MakeBlob(const TensorInfo& t, const TensorChoice& choice, QuantizedTensor&& q);

struct UnitCompressInput {
  std::vector<const TensorInfo*> tensors;    // the unit's tensors, canonical order
  std::vector<TensorChoice> choices;         // their types (PlanTensorTypes over the whole model)
  const CalibrationStats* stats = nullptr;   // importance vectors by tensor name, or null (RTN)
};

// One TensorBlob per tensor, in the given order, each with its crc32c and metrics.
// `source` is the model: each tensor is read, packed, then its pages released.
// `source_fingerprints`, when given, gets one per tensor (what a resumed job checks before reuse).
// `weighted`, when given, gets one flag per tensor: quantized with an importance vector.
Result<std::vector<TensorBlob>> CompressUnit(const UnitCompressInput& in, TensorSource& source, ThreadPool* pool,
                                             std::vector<uint32_t>* source_fingerprints = nullptr,
                                             std::vector<bool>* weighted = nullptr);

}  // namespace shardq
