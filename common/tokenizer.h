// Text <-> token ids for Llama-style SentencePiece BPE vocabularies.
//
// Encoding follows llama.cpp's SPM tokenizer (so perplexity equals llama.cpp's):
//   1. whitespace: a dummy prefix space when the vocab asks for one, then every ' '
//      becomes U+2581 "▁";
//   2. the text is split into UTF-8 characters by their lead bytes, as llama.cpp does (a
//      stray continuation byte is a character of its own);
//   3. adjacent symbol pairs whose concatenation is a normal piece are merged, best first
//      (highest piece score, leftmost on ties) from a priority queue of bigrams, until no
//      pair merges;
//   4. each final symbol is its piece's id, or (a character with no piece) one <0xXX>
//      byte token per UTF-8 byte, or <unk> when the vocab has no byte tokens.
// Control, unknown, byte and unused pieces are never produced by merging text.
//
// With merge ranks (HF tokenizer.json BPE) step 3 ranks a pair by its merge's position in
// the merges list instead of by score, and only listed merges apply.
//
// TokenizerOptions::sentencepiece_whitespace adds the SentencePiece library's
// remove_extra_whitespaces rule before step 1 (strip leading and trailing spaces, collapse
// runs of spaces into one), which the library applies and llama.cpp does not.
//
// User-defined pieces (HF added tokens that are not special) are matched whole before
// any of this, longest piece first, as llama.cpp partitions text; in llama.cpp mode the
// text after one gets a dummy prefix again, as llama.cpp does.
// Not handled: texts of 2 GiB or more (symbol indices are int).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/model.h"

namespace shardq {

struct TokenizerOptions {
  // Match the SentencePiece library (remove_extra_whitespaces) rather than llama.cpp.
  bool sentencepiece_whitespace = false;
};

// HF BPE merges: (left id, right id) -> rank (0 = applied first).
using MergeRanks = std::unordered_map<uint64_t, int32_t>;
inline uint64_t MergeKey(int32_t left, int32_t right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}

class Tokenizer {
 public:
  explicit Tokenizer(Vocab vocab, TokenizerOptions options = {});
  // BPE by merge rank (HF tokenizer.json); `merges` keys are token ids of `vocab`.
  // (A named factory, so Tokenizer(vocab, {.option = ...}) stays unambiguous.)
  static Tokenizer WithMerges(Vocab vocab, MergeRanks merges, TokenizerOptions options = {});

  // Ids for `text`, preceded by vocab().bos_id when add_bos. Never fails: any byte
  // string has an encoding (bytes without a piece fall back to <0xXX> or <unk>).
  std::vector<int32_t> Encode(std::string_view text, bool add_bos) const;

  // Text for ids: "▁" -> ' ', <0xXX> -> the byte (bytes are concatenated as they come, so
  // a split UTF-8 character decodes whole), control and unused tokens -> nothing, <unk> ->
  // " ⁇ " (SentencePiece's rendering; llama.cpp prints nothing for it). With a dummy prefix
  // the leading space of the first token after an optional leading BOS is dropped, as
  // llama.cpp's llama_detokenize_spm did and SentencePiece does (today's llama_detokenize
  // keeps it after a BOS it was not asked to remove). Ids outside the vocab decode to
  // nothing (IsValidId checks first).
  std::string Decode(const std::vector<int32_t>& ids) const;

  // One token's text with "▁" shown as ' ' and byte tokens as their byte; control
  // tokens give their piece text (e.g. "<s>"), so a listing shows what they are.
  std::string TokenToPiece(int32_t id) const;

  bool IsValidId(int64_t id) const { return id >= 0 && id < static_cast<int64_t>(vocab_.tokens.size()); }
  const Vocab& vocab() const { return vocab_; }
  int32_t n_tokens() const { return static_cast<int32_t>(vocab_.tokens.size()); }

 private:
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using PieceMap = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

  void Index();
  // Id of a piece that text may produce (normal / user-defined), or -1.
  int32_t FindMergeable(std::string_view piece) const;
  // Spaces -> "▁", with the dummy prefix when `prefix` and the vocab asks for it.
  std::string Escape(std::string_view text, bool prefix) const;
  // Splits `text` at whole user-defined pieces: raw ranges and piece ids, in order.
  struct Fragment {
    int32_t id;  // -1: raw text [off, off + len)
    size_t off;
    size_t len;
  };
  std::vector<Fragment> Partition(std::string_view text) const;
  void EncodeNormalized(std::string_view text, std::vector<int32_t>* out) const;
  // Piece text for decoding; `raw_control` picks the piece text for control tokens.
  std::string PieceText(int32_t id, bool raw_control) const;

  Vocab vocab_;
  TokenizerOptions options_;
  MergeRanks merges_;
  bool use_merges_ = false;
  PieceMap mergeable_;         // pieces text may produce
  std::vector<std::pair<std::string, int32_t>> user_defined_;  // longest first
  int32_t byte_ids_[256];      // <0xXX> token per byte, -1 when absent
};

}  // namespace shardq
