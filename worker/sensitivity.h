// How much each tensor's quantization costs the model: for every tensor and
// candidate type, the mean KL divergence of the model's next-token
// distributions (F32 reference -> the model with only that tensor quantized at
// that type) over calibration windows. The allocator (bit_allocator.h) then
// spends a byte budget where it lowers the predicted loss most.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/model.h"
#include "common/status.h"
#include "kernels/ggml_type.h"

namespace shardq {

struct SensitivityRequest {
  std::string name;                  // a 2-D weight the forward reads ("blk.0.attn_q.weight", ...)
  std::vector<GgmlType> candidates;  // types to try (each must fit the row length)
};

struct TensorSensitivity {
  std::string name;
  std::vector<GgmlType> types;
  std::vector<double> kl;  // mean KL per type, same order
};

// `model` is decoded to F32; `windows` are token windows (each its own sequence).
// Each tensor is rounded as the imatrix quantizer does, weighted by its input's
// mean x^2 gathered in the same reference pass. Results do not depend on `threads`.
Result<std::vector<TensorSensitivity>> MeasureSensitivity(Model model, const std::vector<std::vector<int32_t>>& windows,
                                                          const std::vector<SensitivityRequest>& requests, int threads);

}  // namespace shardq
