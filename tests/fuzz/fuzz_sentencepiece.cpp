// SentencePiece tokenizer.model (protobuf wire format decoded by hand).
#include "common/sentencepiece_vocab.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)shardq::ParseSentencePieceModel(std::string_view(reinterpret_cast<const char*>(data), size),
                                        "tokenizer.model");
  return 0;
}
