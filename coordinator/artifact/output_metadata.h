// The metadata of an artifact: the source GGUF's own keys carried through, or
// for other formats the llama.* keys and tokenizer built from config and vocab;
// then general.quantization_version and general.file_type for the chosen preset.
#pragma once

#include <cstdint>

#include "common/gguf_value.h"
#include "common/model.h"
#include "common/status.h"

namespace shardq {

// ggml's quantization format version written by current llama.cpp.
constexpr uint32_t kGgmlQuantizationVersion = 2;

Result<GgufMetadata> BuildOutputMetadata(const Model& model, int32_t file_type);

}  // namespace shardq
