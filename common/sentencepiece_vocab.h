// SentencePiece tokenizer.model -> Vocab. The model is a protobuf ModelProto;
// we decode the few fields we need straight from the wire format (so a bad file
// is a Status naming it, and no protobuf headers are needed):
//   1: repeated SentencePiece {1: piece (string), 2: score (float), 3: type (enum)}
//   2: TrainerSpec {3: model_type, 40: unk_id, 41: bos_id, 42: eos_id, 43: pad_id}
//   3: NormalizerSpec {3: add_dummy_prefix (bool)}
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/model.h"
#include "common/status.h"

namespace shardq {

// `label` names the file in errors.
Result<Vocab> ParseSentencePieceModel(std::string_view bytes, const std::string& label);
Result<Vocab> LoadSentencePieceVocab(const std::string& path);

}  // namespace shardq
