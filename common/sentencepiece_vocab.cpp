#include "common/sentencepiece_vocab.h"

#include <cstring>

#include "common/mapped_file.h"

namespace shardq {
namespace {

// Protobuf wire types.
constexpr int kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5;

class Wire {
 public:
  Wire(std::string_view b, const std::string& label) : b_(b), label_(label) {}
  bool done() const { return pos_ >= b_.size(); }

  Status Varint(uint64_t* v) {
    *v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= b_.size()) return Bad("truncated varint");
      const uint8_t byte = static_cast<uint8_t>(b_[pos_++]);
      *v |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if (!(byte & 0x80)) return Status::OK();
    }
    return Bad("varint longer than 10 bytes");
  }
  Status Tag(uint32_t* field, int* wire) {
    uint64_t t = 0;
    SHARDQ_RETURN_IF_ERROR(Varint(&t));
    *field = static_cast<uint32_t>(t >> 3);
    *wire = static_cast<int>(t & 7);
    if (*field == 0) return Bad("field number 0");
    return Status::OK();
  }
  Status Bytes(std::string_view* out) {
    uint64_t n = 0;
    SHARDQ_RETURN_IF_ERROR(Varint(&n));
    if (n > b_.size() - pos_) return Bad("length " + std::to_string(n) + " runs past the end");
    *out = b_.substr(pos_, n);
    pos_ += n;
    return Status::OK();
  }
  Status Fixed32(uint32_t* v) {
    if (b_.size() - pos_ < 4) return Bad("truncated fixed32");
    std::memcpy(v, b_.data() + pos_, 4);
    pos_ += 4;
    return Status::OK();
  }
  Status Skip(int wire) {
    uint64_t v;
    std::string_view s;
    uint32_t f32;
    switch (wire) {
      case kVarint: return Varint(&v);
      case kFixed64:
        if (b_.size() - pos_ < 8) return Bad("truncated fixed64");
        pos_ += 8;
        return Status::OK();
      case kLengthDelimited: return Bytes(&s);
      case kFixed32: return Fixed32(&f32);
      default: return Bad("unsupported wire type " + std::to_string(wire));
    }
  }
  Status Bad(const std::string& why) const {
    return Status::Corruption(label_ + ": not a SentencePiece model: " + why + " at byte " +
                              std::to_string(pos_));
  }

 private:
  std::string_view b_;
  const std::string& label_;
  size_t pos_ = 0;
};

Status ExpectWire(Wire& w, int got, int want) {
  return got == want ? Status::OK() : w.Bad("field has wire type " + std::to_string(got));
}

Status ParsePiece(std::string_view msg, const std::string& label, Vocab* v) {
  Wire w(msg, label);
  std::string piece;
  float score = 0;
  int32_t type = Vocab::kNormal;  // proto default
  while (!w.done()) {
    uint32_t f;
    int wt;
    SHARDQ_RETURN_IF_ERROR(w.Tag(&f, &wt));
    if (f == 1) {
      SHARDQ_RETURN_IF_ERROR(ExpectWire(w, wt, kLengthDelimited));
      std::string_view s;
      SHARDQ_RETURN_IF_ERROR(w.Bytes(&s));
      piece.assign(s);
    } else if (f == 2) {
      SHARDQ_RETURN_IF_ERROR(ExpectWire(w, wt, kFixed32));
      uint32_t bits = 0;
      SHARDQ_RETURN_IF_ERROR(w.Fixed32(&bits));
      std::memcpy(&score, &bits, 4);
    } else if (f == 3) {
      SHARDQ_RETURN_IF_ERROR(ExpectWire(w, wt, kVarint));
      uint64_t t;
      SHARDQ_RETURN_IF_ERROR(w.Varint(&t));
      if (t < Vocab::kNormal || t > Vocab::kByte)
        return Status::Corruption(label + ": piece " + std::to_string(v->tokens.size()) + " ('" + piece +
                                  "') has unknown type " + std::to_string(t));
      type = static_cast<int32_t>(t);
    } else {
      SHARDQ_RETURN_IF_ERROR(w.Skip(wt));
    }
  }
  v->tokens.push_back(std::move(piece));
  v->scores.push_back(score);
  v->types.push_back(type);
  return Status::OK();
}

Status ParseTrainerSpec(std::string_view msg, const std::string& label, Vocab* v) {
  Wire w(msg, label);
  while (!w.done()) {
    uint32_t f;
    int wt;
    SHARDQ_RETURN_IF_ERROR(w.Tag(&f, &wt));
    if (wt == kVarint && f >= 40 && f <= 43) {
      uint64_t x;
      SHARDQ_RETURN_IF_ERROR(w.Varint(&x));
      // int32 fields: negative values arrive sign-extended to 64 bits.
      const int64_t id = static_cast<int32_t>(static_cast<uint32_t>(x));
      if (f == 40) v->unk_id = id;
      if (f == 41) v->bos_id = id;
      if (f == 42) v->eos_id = id;
      if (f == 43) v->pad_id = id;
    } else {
      SHARDQ_RETURN_IF_ERROR(w.Skip(wt));
    }
  }
  return Status::OK();
}

Status ParseNormalizerSpec(std::string_view msg, const std::string& label, Vocab* v) {
  Wire w(msg, label);
  while (!w.done()) {
    uint32_t f;
    int wt;
    SHARDQ_RETURN_IF_ERROR(w.Tag(&f, &wt));
    if (f == 3 && wt == kVarint) {
      uint64_t x;
      SHARDQ_RETURN_IF_ERROR(w.Varint(&x));
      v->add_space_prefix = x != 0;
    } else {
      SHARDQ_RETURN_IF_ERROR(w.Skip(wt));
    }
  }
  return Status::OK();
}

}  // namespace

Result<Vocab> ParseSentencePieceModel(std::string_view bytes, const std::string& label) {
  Vocab v;
  v.model = "llama";
  // TrainerSpec defaults (sentencepiece_model.proto): unk 0, bos 1, eos 2, pad -1.
  v.unk_id = 0;
  v.bos_id = 1;
  v.eos_id = 2;
  v.pad_id = -1;
  v.add_space_prefix = true;
  Wire w(bytes, label);
  while (!w.done()) {
    uint32_t f;
    int wt;
    SHARDQ_RETURN_IF_ERROR(w.Tag(&f, &wt));
    if (f >= 1 && f <= 3) {
      SHARDQ_RETURN_IF_ERROR(ExpectWire(w, wt, kLengthDelimited));
      std::string_view msg;
      SHARDQ_RETURN_IF_ERROR(w.Bytes(&msg));
      if (f == 1) SHARDQ_RETURN_IF_ERROR(ParsePiece(msg, label, &v));
      if (f == 2) SHARDQ_RETURN_IF_ERROR(ParseTrainerSpec(msg, label, &v));
      if (f == 3) SHARDQ_RETURN_IF_ERROR(ParseNormalizerSpec(msg, label, &v));
    } else {
      SHARDQ_RETURN_IF_ERROR(w.Skip(wt));
    }
  }
  if (v.tokens.empty()) return Status::Corruption(label + ": SentencePiece model has no pieces");
  const int64_t n = static_cast<int64_t>(v.tokens.size());
  for (int64_t* id : {&v.unk_id, &v.bos_id, &v.eos_id})
    if (*id >= n) return Status::Corruption(label + ": special token id " + std::to_string(*id) +
                                            " is outside the " + std::to_string(n) + "-piece vocabulary");
  if (v.pad_id >= n) v.pad_id = -1;
  return v;
}

Result<Vocab> LoadSentencePieceVocab(const std::string& path) {
  SHARDQ_ASSIGN_OR_RETURN(auto file, MappedFile::Open(path));
  return ParseSentencePieceModel(
      std::string_view(reinterpret_cast<const char*>(file->data()), file->size()), path);
}

}  // namespace shardq
