#include "common/gguf_vocab.h"

namespace shardq {
namespace {

Result<const GgufValue*> FindArray(const GgufMetadata& md, const std::string& label, const std::string& key,
                                   GgufValueType elem, bool integer_ok) {
  const GgufValue* v = md.Find(key);
  if (!v) return static_cast<const GgufValue*>(nullptr);
  const bool elem_ok = v->type == GgufValueType::ARRAY &&
                       (v->array_type == elem ||
                        (integer_ok && !v->arr.empty() && v->arr[0].is_integer()) ||
                        (integer_ok && v->arr.empty()));
  if (!elem_ok)
    return Status::InvalidArgument(label + ": metadata key '" + key + "' must be an array of " +
                                   GgufValueTypeName(elem));
  return v;
}

}  // namespace

void VocabToGgufMetadata(const Vocab& vocab, GgufMetadata* md) {
  std::vector<GgufValue> tokens, scores, types;
  tokens.reserve(vocab.tokens.size());
  for (const auto& t : vocab.tokens) tokens.push_back(GgufValue::Str(t));
  for (float s : vocab.scores) scores.push_back(GgufValue::F32(s));
  for (int32_t t : vocab.types) types.push_back(GgufValue::I32(t));
  md->Set("tokenizer.ggml.model", GgufValue::Str(vocab.model));
  md->Set("tokenizer.ggml.pre", GgufValue::Str("default"));
  md->Set("tokenizer.ggml.tokens", GgufValue::Array(GgufValueType::STRING, std::move(tokens)));
  md->Set("tokenizer.ggml.scores", GgufValue::Array(GgufValueType::FLOAT32, std::move(scores)));
  md->Set("tokenizer.ggml.token_type", GgufValue::Array(GgufValueType::INT32, std::move(types)));
  md->Set("tokenizer.ggml.bos_token_id", GgufValue::U32(static_cast<uint32_t>(vocab.bos_id)));
  md->Set("tokenizer.ggml.eos_token_id", GgufValue::U32(static_cast<uint32_t>(vocab.eos_id)));
  md->Set("tokenizer.ggml.unknown_token_id", GgufValue::U32(static_cast<uint32_t>(vocab.unk_id)));
  if (vocab.pad_id >= 0)
    md->Set("tokenizer.ggml.padding_token_id", GgufValue::U32(static_cast<uint32_t>(vocab.pad_id)));
  md->Set("tokenizer.ggml.add_bos_token", GgufValue::Bool(vocab.add_bos));
  if (vocab.add_eos) md->Set("tokenizer.ggml.add_eos_token", GgufValue::Bool(true));
  if (!vocab.add_space_prefix) md->Set("tokenizer.ggml.add_space_prefix", GgufValue::Bool(false));
}

Result<Vocab> VocabFromGgufMetadata(const GgufMetadata& md, const std::string& label) {
  Vocab v;
  if (const GgufValue* m = md.Find("tokenizer.ggml.model")) {
    if (m->type != GgufValueType::STRING)
      return Status::InvalidArgument(label + ": metadata key 'tokenizer.ggml.model' must be a string");
    v.model = m->s;
  }
  SHARDQ_ASSIGN_OR_RETURN(const GgufValue* toks,
                          FindArray(md, label, "tokenizer.ggml.tokens", GgufValueType::STRING, false));
  if (!toks) return Status::NotFound(label + ": missing metadata key 'tokenizer.ggml.tokens'");
  const size_t n = toks->arr.size();
  for (const auto& t : toks->arr) v.tokens.push_back(t.s);

  SHARDQ_ASSIGN_OR_RETURN(const GgufValue* scores,
                          FindArray(md, label, "tokenizer.ggml.scores", GgufValueType::FLOAT32, false));
  v.scores.assign(n, 0.0f);
  if (scores) {
    if (scores->arr.size() != n)
      return Status::InvalidArgument(label + ": tokenizer.ggml.scores has " + std::to_string(scores->arr.size()) +
                                     " entries for " + std::to_string(n) + " tokens");
    for (size_t i = 0; i < n; ++i) v.scores[i] = static_cast<float>(scores->arr[i].f);
  }
  SHARDQ_ASSIGN_OR_RETURN(const GgufValue* types,
                          FindArray(md, label, "tokenizer.ggml.token_type", GgufValueType::INT32, true));
  v.types.assign(n, Vocab::kNormal);
  if (types) {
    if (types->arr.size() != n)
      return Status::InvalidArgument(label + ": tokenizer.ggml.token_type has " +
                                     std::to_string(types->arr.size()) + " entries for " + std::to_string(n) +
                                     " tokens");
    for (size_t i = 0; i < n; ++i) v.types[i] = static_cast<int32_t>(types->arr[i].as_int());
  }
  auto id = [&](const char* key, int64_t* out, bool optional_id) -> Status {
    const GgufValue* x = md.Find(key);
    if (!x) return Status::OK();
    if (!x->is_integer())
      return Status::InvalidArgument(label + ": metadata key '" + key + "' must be an integer");
    *out = x->as_int();
    // Converters write u32 0xFFFFFFFF (or -1) for "no padding token".
    if (optional_id && (*out < 0 || static_cast<size_t>(*out) >= n)) {
      *out = -1;
      return Status::OK();
    }
    if (*out < 0 || static_cast<size_t>(*out) >= n)
      return Status::InvalidArgument(label + ": metadata key '" + key + "' = " + std::to_string(*out) +
                                     " is outside the " + std::to_string(n) + "-token vocabulary");
    return Status::OK();
  };
  SHARDQ_RETURN_IF_ERROR(id("tokenizer.ggml.bos_token_id", &v.bos_id, false));
  SHARDQ_RETURN_IF_ERROR(id("tokenizer.ggml.eos_token_id", &v.eos_id, false));
  SHARDQ_RETURN_IF_ERROR(id("tokenizer.ggml.unknown_token_id", &v.unk_id, false));
  SHARDQ_RETURN_IF_ERROR(id("tokenizer.ggml.padding_token_id", &v.pad_id, true));
  auto flag = [&](const char* key, bool* out) -> Status {
    const GgufValue* x = md.Find(key);
    if (!x) return Status::OK();
    if (x->type != GgufValueType::BOOL)
      return Status::InvalidArgument(label + ": metadata key '" + key + "' must be a bool");
    *out = x->b;
    return Status::OK();
  };
  SHARDQ_RETURN_IF_ERROR(flag("tokenizer.ggml.add_bos_token", &v.add_bos));
  SHARDQ_RETURN_IF_ERROR(flag("tokenizer.ggml.add_eos_token", &v.add_eos));
  SHARDQ_RETURN_IF_ERROR(flag("tokenizer.ggml.add_space_prefix", &v.add_space_prefix));
  return v;
}

}  // namespace shardq
