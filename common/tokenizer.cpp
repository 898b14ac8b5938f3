#include "common/tokenizer.h"

#include <algorithm>
#include <utility>

namespace shardq {
namespace {

constexpr std::string_view kSpaceMark = "\xE2\x96\x81";  // U+2581 "▁"

// Length of the UTF-8 character starting with `lead`, from its high nibble exactly as
// llama.cpp's unicode_len_utf8 reads it (0xF8..0xFF count as 4), so even invalid UTF-8
// splits as llama.cpp splits it. The caller clips at the end of the text. Valid UTF-8
// round-trips; a broken sequence may swallow a following "▁" and decode it as bytes,
// as in llama.cpp.
size_t Utf8Length(uint8_t lead) {
  static constexpr uint8_t kByHighNibble[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kByHighNibble[lead >> 4];
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// "<0xHH>" -> HH, else -1.
int ParseByteToken(std::string_view s) {
  if (s.size() != 6 || s[0] != '<' || s[1] != '0' || s[2] != 'x' || s[5] != '>') return -1;
  const int hi = HexDigit(s[3]);
  const int lo = HexDigit(s[4]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

std::string ReplaceSpaceMarks(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    if (s.compare(i, kSpaceMark.size(), kSpaceMark) == 0) {
      out += ' ';
      i += kSpaceMark.size();
    } else {
      out += s[i++];
    }
  }
  return out;
}

// A symbol of the working segmentation: a contiguous byte range of the normalized text,
// linked to its neighbours; a symbol merged into its left neighbour has len 0.
struct Symbol {
  int prev;
  int next;
  size_t off;
  size_t len;
  int32_t id;  // merge-rank mode: the symbol's token id (-1 when it has none)
};

// A candidate merge of two adjacent symbols. Higher priority first; among equals the
// leftmost, as llama.cpp and SentencePiece order their agendas. Kept at 20 bytes: the
// agenda holds one per character of the text.
struct Bigram {
  int32_t left;
  int32_t right;
  float priority;  // piece score, or -rank (exact: ranks stay far below 2^24)
  uint32_t len;    // combined length when queued: stale if either side has changed since
  int32_t result;  // token id of the merged symbol
};
struct BigramOrder {
  bool operator()(const Bigram& a, const Bigram& b) const {
    return a.priority < b.priority || (a.priority == b.priority && a.left > b.left);
  }
};

}  // namespace

Tokenizer::Tokenizer(Vocab vocab, TokenizerOptions options)
    : vocab_(std::move(vocab)), options_(options) {
  Index();
}

Tokenizer Tokenizer::WithMerges(Vocab vocab, MergeRanks merges, TokenizerOptions options) {
  Tokenizer t(std::move(vocab), options);
  t.merges_ = std::move(merges);
  t.use_merges_ = true;
  return t;
}

void Tokenizer::Index() {
  for (int& b : byte_ids_) b = -1;
  const size_t n = vocab_.tokens.size();
  mergeable_.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    const int32_t type = i < vocab_.types.size() ? vocab_.types[i] : Vocab::kNormal;
    const std::string& piece = vocab_.tokens[i];
    if (type == Vocab::kByte) {
      const int b = ParseByteToken(piece);
      if (b >= 0 && byte_ids_[b] < 0) byte_ids_[b] = static_cast<int32_t>(i);
      continue;
    }
    // Type 0 (undefined, from some converters) is treated as normal.
    if (type != Vocab::kNormal && type != Vocab::kUserDefined && type != 0) continue;
    if (piece.empty()) continue;
    // The last duplicate wins, as in llama.cpp's token_to_id map.
    mergeable_[piece] = static_cast<int32_t>(i);
    if (type == Vocab::kUserDefined) user_defined_.emplace_back(piece, static_cast<int32_t>(i));
  }
  std::stable_sort(user_defined_.begin(), user_defined_.end(),
                   [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
}

int32_t Tokenizer::FindMergeable(std::string_view piece) const {
  auto it = mergeable_.find(piece);
  return it == mergeable_.end() ? -1 : it->second;
}

namespace {

// SentencePiece's remove_extra_whitespaces: no leading or trailing spaces, no runs.
std::string SqueezeSpaces(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool pending_space = false;
  for (char c : text) {
    if (c == ' ') {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out += ' ';
    pending_space = false;
    out += c;
  }
  return out;
}

}  // namespace

std::string Tokenizer::Escape(std::string_view text, bool prefix) const {
  std::string out;
  if (text.empty()) return out;  // nothing to encode: no dummy prefix either
  out.reserve(text.size() + text.size() / 4 + 3);
  if (prefix && vocab_.add_space_prefix) out += kSpaceMark;
  for (char c : text) {
    if (c == ' ') {
      out += kSpaceMark;
    } else {
      out += c;
    }
  }
  return out;
}

std::vector<Tokenizer::Fragment> Tokenizer::Partition(std::string_view text) const {
  std::vector<Fragment> frags{{-1, 0, text.size()}};
  for (const auto& [piece, id] : user_defined_) {
    std::vector<Fragment> next;
    next.reserve(frags.size());
    for (const Fragment& f : frags) {
      if (f.id >= 0) {
        next.push_back(f);
        continue;
      }
      const std::string_view raw = text.substr(f.off, f.len);
      size_t start = 0;
      for (size_t hit = raw.find(piece); hit != std::string_view::npos; hit = raw.find(piece, start)) {
        if (hit > start) next.push_back({-1, f.off + start, hit - start});
        next.push_back({id, f.off + hit, piece.size()});
        start = hit + piece.size();
      }
      if (start < raw.size()) next.push_back({-1, f.off + start, raw.size() - start});
    }
    frags = std::move(next);
  }
  return frags;
}

void Tokenizer::EncodeNormalized(std::string_view text, std::vector<int32_t>* out) const {
  std::vector<Symbol> symbols;
  symbols.reserve(text.size());
  for (size_t off = 0; off < text.size();) {
    const size_t len = std::min(Utf8Length(static_cast<uint8_t>(text[off])), text.size() - off);
    const int index = static_cast<int>(symbols.size());
    int32_t id = -1;
    if (use_merges_) id = FindMergeable(text.substr(off, len));
    symbols.push_back(Symbol{index - 1, index + 1, off, len, id});
    off += len;
  }
  if (symbols.empty()) return;
  symbols.back().next = -1;

  // A binary heap built in one pass over the initial pairs, then maintained by hand.
  std::vector<Bigram> agenda;
  agenda.reserve(symbols.size());
  auto queue = [&](const Bigram& b) { agenda.push_back(b); };
  auto try_add = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    const Symbol& l = symbols[left];
    const Symbol& r = symbols[right];
    if (use_merges_) {
      if (l.id < 0 || r.id < 0) return;
      auto rank = merges_.find(MergeKey(l.id, r.id));
      if (rank == merges_.end()) return;
      const int32_t result = FindMergeable(text.substr(l.off, l.len + r.len));
      if (result < 0) return;
      queue(Bigram{left, right, -static_cast<float>(rank->second), static_cast<uint32_t>(l.len + r.len), result});
    } else {
      const int32_t result = FindMergeable(text.substr(l.off, l.len + r.len));
      if (result < 0) return;
      const float score = result < static_cast<int32_t>(vocab_.scores.size()) ? vocab_.scores[result] : 0.0f;
      queue(Bigram{left, right, score, static_cast<uint32_t>(l.len + r.len), result});
    }
  };
  for (int i = 1; i < static_cast<int>(symbols.size()); ++i) try_add(i - 1, i);
  std::make_heap(agenda.begin(), agenda.end(), BigramOrder());
  auto requeue = [&](int left, int right) {
    const size_t before = agenda.size();
    try_add(left, right);
    if (agenda.size() != before) std::push_heap(agenda.begin(), agenda.end(), BigramOrder());
  };

  while (!agenda.empty()) {
    std::pop_heap(agenda.begin(), agenda.end(), BigramOrder());
    const Bigram b = agenda.back();
    agenda.pop_back();
    Symbol& l = symbols[b.left];
    Symbol& r = symbols[b.right];
    // Stale: one side was merged elsewhere since this pair was queued.
    if (l.len == 0 || r.len == 0 || l.len + r.len != b.len) continue;
    l.len += r.len;
    l.id = b.result;
    r.len = 0;
    l.next = r.next;
    if (r.next >= 0) symbols[r.next].prev = b.left;
    requeue(l.prev, b.left);
    requeue(b.left, l.next);
  }

  for (int i = 0; i >= 0; i = symbols[i].next) {
    const Symbol& s = symbols[i];
    const std::string_view piece = text.substr(s.off, s.len);
    const int32_t id = use_merges_ ? s.id : FindMergeable(piece);
    if (id >= 0) {
      out->push_back(id);
      continue;
    }
    // Only single characters lack a piece (a merge always yields one): spell the
    // character as bytes when every byte has a token, else it is unknown.
    bool all_bytes = true;
    for (char c : piece) all_bytes = all_bytes && byte_ids_[static_cast<uint8_t>(c)] >= 0;
    if (all_bytes) {
      for (char c : piece) out->push_back(byte_ids_[static_cast<uint8_t>(c)]);
    } else if (IsValidId(vocab_.unk_id)) {
      out->push_back(static_cast<int32_t>(vocab_.unk_id));
    }  // no <unk> either (some HF vocabs): the character is dropped, as HF does
  }
}

std::vector<int32_t> Tokenizer::Encode(std::string_view text, bool add_bos) const {
  std::vector<int32_t> ids;
  if (add_bos && IsValidId(vocab_.bos_id)) ids.push_back(static_cast<int32_t>(vocab_.bos_id));
  ids.reserve(ids.size() + text.size() / 3 + 1);
  if (options_.sentencepiece_whitespace) {
    // SentencePiece normalizes the whole text (one dummy prefix), then matches
    // user-defined pieces in the normalized text.
    const std::string normalized = Escape(SqueezeSpaces(text), /*prefix=*/true);
    if (user_defined_.empty()) {
      EncodeNormalized(normalized, &ids);
      return ids;
    }
    for (const Fragment& f : Partition(normalized)) {
      if (f.id >= 0) {
        ids.push_back(f.id);
      } else {
        EncodeNormalized(std::string_view(normalized).substr(f.off, f.len), &ids);
      }
    }
    return ids;
  }
  if (user_defined_.empty()) {
    EncodeNormalized(Escape(text, /*prefix=*/true), &ids);
    return ids;
  }
  // llama.cpp: raw text after a whole piece (or at the start) gets the dummy prefix.
  bool after_piece = true;
  for (const Fragment& f : Partition(text)) {
    if (f.id >= 0) {
      ids.push_back(f.id);
      after_piece = true;
    } else {
      EncodeNormalized(Escape(text.substr(f.off, f.len), after_piece), &ids);
      after_piece = false;
    }
  }
  return ids;
}

std::string Tokenizer::PieceText(int32_t id, bool raw_control) const {
  if (!IsValidId(id)) return {};
  const std::string& piece = vocab_.tokens[id];
  const int32_t type = static_cast<size_t>(id) < vocab_.types.size() ? vocab_.types[id] : Vocab::kNormal;
  switch (type) {
    case Vocab::kByte: {
      const int b = ParseByteToken(piece);
      return b < 0 ? std::string() : std::string(1, static_cast<char>(b));
    }
    case Vocab::kUnknown:
      return raw_control ? piece : std::string(" \xE2\x81\x87 ");  // " ⁇ ", as SentencePiece shows it
    case Vocab::kControl:
    case Vocab::kUnused:
      return raw_control ? piece : std::string();
    case Vocab::kUserDefined:
      return piece;
    default:
      return ReplaceSpaceMarks(piece);
  }
}

std::string Tokenizer::TokenToPiece(int32_t id) const { return PieceText(id, /*raw_control=*/true); }

std::string Tokenizer::Decode(const std::vector<int32_t>& ids) const {
  std::string out;
  // The dummy prefix becomes a leading space on the first token after BOS: drop it.
  const size_t first = !ids.empty() && ids[0] == vocab_.bos_id ? 1 : 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    std::string piece = PieceText(ids[i], /*raw_control=*/false);
    if (i == first && vocab_.add_space_prefix && !piece.empty() && piece[0] == ' ') piece.erase(0, 1);
    out += piece;
  }
  return out;
}

}  // namespace shardq
