// Vocab <-> tokenizer.ggml.* GGUF metadata.
#pragma once

#include <string>

#include "common/gguf_value.h"
#include "common/model.h"
#include "common/status.h"

namespace shardq {

// Sets tokenizer.ggml.model, pre, tokens (string array), scores (f32 array),
// token_type (i32 array), bos/eos/unknown[/padding] ids (u32), add_bos_token;
// add_eos_token / add_space_prefix only where they differ from llama.cpp's
// SentencePiece defaults (false / true), as llama.cpp's converter does.
void VocabToGgufMetadata(const Vocab& vocab, GgufMetadata* md);

// Reads them back; errors name `label` and the key. Missing scores / types
// default to 0 / normal; lengths must match the token list.
Result<Vocab> VocabFromGgufMetadata(const GgufMetadata& md, const std::string& label);

}  // namespace shardq
