// Which block format each tensor gets. A preset names a default type and a
// file type; llama.cpp's mixing rules give some tensors more bits (output,
// attn_v, ffn_down, ...); user overrides come next; a row length that does not
// divide the chosen type's block size falls back to a type that fits.
#pragma once

#include <cstdint>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/ggml_type.h"
#include "common/model.h"
#include "common/status.h"
#include "common/tensor_info.h"

namespace shardq {

struct Preset {
  const char* name;      // "Q4_K_M"
  GgmlType default_type; // Q4_K
  int32_t file_type;     // llama_ftype stored in general.file_type (15 for Q4_K_M)
};

// nullopt for unknown names (either case accepted).
std::optional<Preset> FindPreset(std::string_view name);
// "Q8_0, Q6_K, ..." for error messages and --help.
std::string PresetNames();

// A type name shardq can encode to ("Q8_0", "q4_k", "F16"); otherwise an error
// "<context>: unknown or unsupported type 'NAME'".
Result<GgmlType> ParseEncodableType(std::string_view name, const std::string& context);

struct TensorTypeOverride {
  std::string pattern;  // as typed: "attn_v=Q8_0" -> "attn_v"
  std::regex regex;     // searched (not fully matched) in the tensor name, like llama-quantize
  GgmlType type;
  // Why, in the plan's reasons: empty for a user's override ("--tensor-type PATTERN");
  // "sensitivity" for a type the mixed-precision allocator chose.
  std::string origin;
};
// Parses "REGEX=TYPE"; the error names the argument.
Result<TensorTypeOverride> ParseTensorTypeOverride(const std::string& arg);

struct QuantPlanOptions {
  Preset preset{"Q4_K_M", GgmlType::Q4_K, 15};
  bool pure = false;  // every 2-D weight gets the default type (fallbacks still apply)
  std::vector<TensorTypeOverride> overrides;  // first match wins
  std::optional<GgmlType> output_tensor_type;
  std::optional<GgmlType> token_embedding_type;
  bool has_imatrix = false;
};

struct TensorChoice {
  std::string name;
  GgmlType type = GgmlType::F32;
  bool quantized = false;  // false: copied as F32 (1-D tensors such as norms)
  std::string reason;      // "preset", "more bits (attn_v)", "fallback: 172 % 256", "override attn_v"
};

// One choice per tensor, in the order given.
Result<std::vector<TensorChoice>> PlanTensorTypes(const std::vector<TensorInfo>& tensors,
                                                  const QuantPlanOptions& options);

}  // namespace shardq
