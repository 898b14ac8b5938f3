#include "common/gguf_config.h"

namespace shardq {
namespace {

Status GetInt(const GgufMetadata& md, const std::string& label, const std::string& key, int64_t* out,
              bool required) {
  const GgufValue* v = md.Find(key);
  if (!v) return required ? Status::InvalidArgument(label + ": missing metadata key '" + key + "'") : Status::OK();
  if (!v->is_integer())
    return Status::InvalidArgument(label + ": metadata key '" + key + "' must be an integer, not " +
                                   GgufValueTypeName(v->type));
  *out = v->as_int();
  return Status::OK();
}

Status GetFloat(const GgufMetadata& md, const std::string& label, const std::string& key, double* out) {
  const GgufValue* v = md.Find(key);
  if (!v) return Status::OK();
  if (v->type != GgufValueType::FLOAT32 && v->type != GgufValueType::FLOAT64)
    return Status::InvalidArgument(label + ": metadata key '" + key + "' must be a float, not " +
                                   GgufValueTypeName(v->type));
  *out = v->f;
  return Status::OK();
}

}  // namespace

void ConfigToGgufMetadata(const LlamaConfig& c, GgufMetadata* md) {
  auto u32 = [](int64_t v) { return GgufValue::U32(static_cast<uint32_t>(v)); };
  md->Set("general.architecture", GgufValue::Str("llama"));
  md->Set("general.name", GgufValue::Str(c.name));
  md->Set("llama.context_length", u32(c.context_length));
  md->Set("llama.embedding_length", u32(c.dim));
  md->Set("llama.block_count", u32(c.n_layers));
  md->Set("llama.feed_forward_length", u32(c.hidden_dim));
  md->Set("llama.attention.head_count", u32(c.n_heads));
  md->Set("llama.attention.head_count_kv", u32(c.n_kv_heads));
  md->Set("llama.attention.layer_norm_rms_epsilon", GgufValue::F32(static_cast<float>(c.rms_norm_eps)));
  md->Set("llama.rope.freq_base", GgufValue::F32(static_cast<float>(c.rope_theta)));
  md->Set("llama.rope.dimension_count", u32(c.head_dim()));
  md->Set("llama.vocab_size", u32(c.vocab_size));
}

Result<LlamaConfig> ConfigFromGgufMetadata(const GgufMetadata& md, const std::string& label) {
  const GgufValue* arch = md.Find("general.architecture");
  if (!arch || arch->type != GgufValueType::STRING)
    return Status::InvalidArgument(label + ": missing metadata key 'general.architecture'");
  if (arch->s != "llama")
    return Status::Unsupported(label + ": architecture '" + arch->s + "' is not llama");
  LlamaConfig c;
  if (const GgufValue* n = md.Find("general.name"); n && n->type == GgufValueType::STRING) c.name = n->s;
  SHARDQ_RETURN_IF_ERROR(GetInt(md, label, "llama.embedding_length", &c.dim, true));
  SHARDQ_RETURN_IF_ERROR(GetInt(md, label, "llama.feed_forward_length", &c.hidden_dim, true));
  SHARDQ_RETURN_IF_ERROR(GetInt(md, label, "llama.block_count", &c.n_layers, true));
  SHARDQ_RETURN_IF_ERROR(GetInt(md, label, "llama.attention.head_count", &c.n_heads, true));
  c.n_kv_heads = c.n_heads;
  SHARDQ_RETURN_IF_ERROR(GetInt(md, label, "llama.attention.head_count_kv", &c.n_kv_heads, false));
  SHARDQ_RETURN_IF_ERROR(GetInt(md, label, "llama.context_length", &c.context_length, true));
  SHARDQ_RETURN_IF_ERROR(GetFloat(md, label, "llama.attention.layer_norm_rms_epsilon", &c.rms_norm_eps));
  SHARDQ_RETURN_IF_ERROR(GetFloat(md, label, "llama.rope.freq_base", &c.rope_theta));
  if (!md.Find("llama.vocab_size")) {
    const GgufValue* toks = md.Find("tokenizer.ggml.tokens");
    if (toks && toks->type == GgufValueType::ARRAY) c.vocab_size = static_cast<int64_t>(toks->arr.size());
  }
  SHARDQ_RETURN_IF_ERROR(GetInt(md, label, "llama.vocab_size", &c.vocab_size, false));
  SHARDQ_RETURN_IF_ERROR(GetInt(md, label, "tokenizer.ggml.bos_token_id", &c.bos_token_id, false));
  SHARDQ_RETURN_IF_ERROR(GetInt(md, label, "tokenizer.ggml.eos_token_id", &c.eos_token_id, false));
  if (c.dim <= 0 || c.n_layers <= 0 || c.n_heads <= 0 || c.n_kv_heads <= 0 || c.hidden_dim <= 0 ||
      c.dim % c.n_heads != 0 || c.n_heads % c.n_kv_heads != 0)
    return Status::InvalidArgument(label + ": inconsistent llama.* hyper-parameters (embedding " +
                                   std::to_string(c.dim) + ", heads " + std::to_string(c.n_heads) +
                                   ", kv heads " + std::to_string(c.n_kv_heads) + ", blocks " +
                                   std::to_string(c.n_layers) + ")");
  return c;
}

}  // namespace shardq
