// The quantize stage of one weight tensor with GPTQ (kernels/gptq.h): its rows
// rounded column by column on the target block format's grid, each rounding
// error fed forward through the inverse Hessian of the tensor's input, so the
// layer's output error on the calibration inputs, not the weight error, is
// what gets minimized.
#pragma once

#include <cstdint>

#include "common/recipe.h"
#include "common/status.h"
#include "common/thread_pool.h"
#include "kernels/ggml_type.h"
#include "worker/calibration_stats.h"
#include "worker/tensor_quantizer.h"

namespace shardq {

// Whether GPTQ can write `type` (the ggml weight formats; not F32/F16/BF16).
bool GptqSupports(GgmlType type);

// `data`: rows x row_length floats (the tensor as F32). `input`: the statistics
// of the tensor's input with its Hessian (X^T X over the calibration tokens).
// `name` labels errors. The error metrics are measured against `data`.
Status GptqQuantizeTensor(const float* data, int64_t rows, int64_t row_length, GgmlType type,
                          const ChannelStats& input, const GptqSpec& options, ThreadPool* pool,
                          const std::string& name, QuantizedTensor* out);

}  // namespace shardq
