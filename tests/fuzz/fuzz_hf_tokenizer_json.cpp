// HF tokenizer.json (BPE vocab, merges, added tokens, normalizers) and, when it
// parses, one encode with the tokenizer it describes.
#include "common/hf_tokenizer_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto tok = shardq::ParseHfTokenizerJson(text, "tokenizer.json");
  if (!tok.ok()) return 0;
  const shardq::Tokenizer t = tok->MakeTokenizer();
  (void)t.Decode(t.Encode("ab a\xE2\x96\x81" "b <s>\xff", true));
  return 0;
}
