// The recipe as every rank runs it: an ordered list of unit stages with typed
// options. Parsed and validated once from the user's job spec (RecipeFromSpec),
// carried to the workers in the job assignment as canonical JSON and decoded
// into the same typed values there; nobody re-derives it from strings later.
// A later stage (prune, distill) adds a StageKind and its options struct here.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/job_spec.h"
#include "common/quant_plan.h"
#include "common/status.h"

namespace shardq {

// How the quantize stage rounds. The spec's recipe.quantize.algorithm names them.
enum class Algorithm : uint8_t {
  kRtn,      // round to nearest with the format's own scale search
  kImatrix,  // the same, weighted by the calibration's per-channel mean x^2
  kGptq,     // GPTQ: column by column, each rounding error fed forward through H^-1 (per block, its Hessians)
  kAwq,      // AWQ: per-channel scales folded into the block, clipping, then round to nearest
  kAwqGptq,  // AWQ, then GPTQ on the folded weights
};

// "rtn", "imatrix", "gptq", "awq", "awq+gptq" (the names the spec and the CLI use).
const char* AlgorithmName(Algorithm a);
std::optional<Algorithm> ParseAlgorithm(std::string_view name);
// "rtn, imatrix" for error messages.
std::string AlgorithmNames();

// The stages a unit goes through, in order.
enum class StageKind : uint8_t {
  kCalibrate,  // this rank's forward over the calibration windows; statistics per linear input
  kQuantize,   // each tensor packed in its planned block format
};
const char* StageKindName(StageKind k);

struct CalibrationOptions {
  std::string text;  // calibration text file
  int64_t samples = 32;
  int64_t seq_len = 128;
  bool hessian = false;  // also accumulate X^T X
};

// Mixed precision: the file must fit this size; the types of the quantized
// tensors are then chosen by measured sensitivity (rank 0, before compression;
// the result reaches the workers as per-tensor overrides in `quant`).
struct SizeTarget {
  double bits_per_weight = 0;  // of the whole file over the model's weights, or
  uint64_t file_bytes = 0;     // the whole file's size (exactly one is set)
};

struct Recipe {
  Algorithm algorithm = Algorithm::kRtn;
  QuantPlanOptions quant;                         // which block format each tensor gets
  std::optional<CalibrationOptions> calibration;  // set exactly when a stage needs it
  GptqSpec gptq;                                  // with kGptq
  std::optional<SizeTarget> size_target;          // rank 0 only: decided into quant.overrides

  std::vector<StageKind> Stages() const;
  bool Calibrates() const { return calibration.has_value(); }
  // The quantize stage weights by importance (calibration statistics).
  bool UsesImportance() const {
    return algorithm == Algorithm::kImatrix || (UsesGptq() && gptq.importance);
  }
  bool UsesGptq() const { return algorithm == Algorithm::kGptq || algorithm == Algorithm::kAwqGptq; }
  bool UsesAwq() const { return algorithm == Algorithm::kAwq || algorithm == Algorithm::kAwqGptq; }
  // The stages need each block's products one block at a time (its Hessians),
  // from the hidden states entering the rank's first block (worker/block_activations.h).
  bool NeedsBlockActivations() const { return UsesGptq() || UsesAwq(); }
};

// Validates the spec's recipe against what the workers can do (presets, type
// names, overrides, the algorithm's inputs); errors name `label` and the field,
// e.g. "job.yaml: recipe.quantize.preset: unknown preset 'Q4_K_X' (choose one of ...)".
Result<Recipe> RecipeFromSpec(const JobSpec& spec, const std::string& label);

// Canonical JSON text of the typed recipe, and back (errors are Corruption,
// naming `label`). Decode(Encode(r)) plans exactly what r plans.
std::string EncodeRecipe(const Recipe& r);
Result<Recipe> DecodeRecipe(std::string_view json_text, const std::string& label);

}  // namespace shardq
