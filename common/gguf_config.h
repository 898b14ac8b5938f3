// LlamaConfig <-> the llama.* / general.* GGUF metadata keys llama.cpp reads.
#pragma once

#include <string>

#include "common/gguf_value.h"
#include "common/model.h"
#include "common/status.h"

namespace shardq {

// Sets general.architecture, general.name and the llama.* hyper-parameters, in
// the order llama.cpp's converter writes them (u32 integers, f32 floats).
// general.file_type / quantization_version belong to the writer.
void ConfigToGgufMetadata(const LlamaConfig& config, GgufMetadata* md);

// Reads them back. Missing required keys are errors naming `label` and the key;
// llama.vocab_size falls back to the token list's length (0 when neither exists);
// bos/eos come from tokenizer.ggml.*; tied_embeddings is left to the caller
// (it depends on whether output.weight exists).
Result<LlamaConfig> ConfigFromGgufMetadata(const GgufMetadata& md, const std::string& label);

}  // namespace shardq
