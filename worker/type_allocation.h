// Mixed precision by measured sensitivity: which block format each quantized
// tensor gets so the file meets a size (or bits-per-weight) target with the
// least predicted loss. The loss of a tensor at a type is the mean KL of the
// model's next-token distributions when only that tensor is quantized at that
// type (worker/sensitivity.h); the choice is an exact knapsack
// (worker/bit_allocator.h). Decided once, before compression, and handed to
// every rank as per-tensor overrides, so the artifact is the same for any rank count.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/quant_plan.h"
#include "common/status.h"
#include "common/tensor_info.h"

namespace shardq {

struct TypeAllocationRequest {
  std::string model_path;
  const std::vector<TensorInfo>* tensors = nullptr;  // canonical order
  const std::vector<TensorChoice>* base = nullptr;   // the preset's plan: what is quantized; user overrides stay
  uint64_t header_bytes = 0;                         // the GGUF header (metadata and tensor infos)
  uint32_t alignment = 32;
  uint64_t target_file_bytes = 0;                    // the whole file
  std::vector<std::vector<int32_t>> windows;         // calibration windows the sensitivity is measured on
  int threads = 1;
};

struct TypeAllocationResult {
  std::vector<TensorTypeOverride> overrides;  // one per allocated tensor, its exact name
  uint64_t file_bytes = 0;                    // of the planned file
  double predicted_loss = 0;                  // sum of the chosen types' measured KL
  double seconds = 0;
};

// The types tried: the K-quants and Q8_0, each where it fits the row length.
const std::vector<GgmlType>& MixedPrecisionCandidates();
// For a row no K-quant block (256) divides: the 32-wide formats llama.cpp falls
// back to (stories260K's 64-wide rows), so such a model can still be mixed.
const std::vector<GgmlType>& MixedPrecisionFallbackCandidates();
// The candidates that fit a row of `row_length` values.
std::vector<GgmlType> MixedPrecisionCandidatesFor(int64_t row_length);

Result<TypeAllocationResult> AllocateTensorTypes(const TypeAllocationRequest& request);

}  // namespace shardq
