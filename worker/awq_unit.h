// The quantize stage of one transformer block with AWQ: the block's weights
// read as F32, per-channel scales searched and folded and weights clipped
// (worker/awq.h) on the block's input activations, then every tensor packed:
// rounded to nearest (awq) or through GPTQ with the Hessians of the folded
// block's own inputs (awq+gptq). The folded block is an ordinary Llama block.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "common/model.h"
#include "common/quant_plan.h"
#include "common/recipe.h"
#include "common/status.h"
#include "common/tensor_source.h"
#include "common/thread_pool.h"
#include "runtime/rank_stages.h"

namespace shardq {

struct AwqUnitInput {
  const LlamaConfig* config = nullptr;
  int64_t block = 0;
  std::vector<const TensorInfo*> tensors;  // the unit's tensors, canonical order
  std::vector<TensorChoice> choices;       // their planned types
  std::span<const float> block_input;      // n_windows x seq_len x dim hidden states entering the block
  int64_t n_windows = 0, seq_len = 0;
  const Recipe* recipe = nullptr;          // kAwq or kAwqGptq (its gptq settings for the latter)
};

// One blob per tensor (canonical order), each tensor's source fingerprint.
Result<UnitOutput> AwqCompressBlock(const AwqUnitInput& in, TensorSource& source, ThreadPool* pool);

}  // namespace shardq
