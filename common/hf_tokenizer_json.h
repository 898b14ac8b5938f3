// HF tokenizers' tokenizer.json (Llama style: model BPE with vocab + merges, byte_fallback,
// whitespace as "▁" through a normalizer Replace ' '->'▁' + Prepend '▁' or a Metaspace
// pre-tokenizer) -> a Vocab plus merge ranks that shardq::Tokenizer encodes with.
//
// What is read:
//   model.type must be "BPE"; model.vocab {piece: id}; model.merges, either "a b" strings
//   or ["a", "b"] pairs, ranked by their order; model.unk_token; model.byte_fallback
//   (<0xXX> pieces become byte tokens only with it);
//   added_tokens [{id, content, special}]: special -> control (the unk token -> unknown),
//   others -> user-defined;
//   the dummy prefix from normalizer Prepend "▁" or Metaspace add_prefix_space /
//   prepend_scheme "first" | "always";
//   BOS from post_processor TemplateProcessing "single" starting with a SpecialToken
//   (add_bos = true), else "<s>" if present (add_bos = false); EOS is "</s>" if present.
// Token scores are -(rank of the first merge yielding the piece), 0 for pieces no merge
// yields, so a score-ordered (SentencePiece) merge follows the same order.
// Not supported (kUnsupported): other model types, ByteLevel (GPT-2) byte mapping,
// continuing_subword_prefix / end_of_word_suffix.
#pragma once

#include <string>
#include <string_view>

#include "common/model.h"
#include "common/status.h"
#include "common/tokenizer.h"

namespace shardq {

struct HfTokenizerJson {
  Vocab vocab;
  MergeRanks merges;

  Tokenizer MakeTokenizer(TokenizerOptions options = {}) const { return Tokenizer::WithMerges(vocab, merges, options); }
};

// `label` names the file in errors.
Result<HfTokenizerJson> ParseHfTokenizerJson(std::string_view json, const std::string& label);
Result<HfTokenizerJson> LoadHfTokenizerJson(const std::string& path);

// The tokenizer of an opened model: its Vocab when the reader found one, else
// tokenizer.json in the model's directory (or beside its file). NotFound when neither.
Result<Tokenizer> TokenizerForModel(const Model& model, TokenizerOptions options = {});

}  // namespace shardq
