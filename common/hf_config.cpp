#include "common/hf_config.h"

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

namespace shardq {
namespace {

using json = nlohmann::json;

Status Missing(const std::string& label, const char* field) {
  return Status::InvalidArgument(label + ": missing field '" + field + "'");
}

// A positive integer field; missing or non-integer is an error naming the field.
Status GetPositive(const json& j, const std::string& label, const char* field, int64_t* out,
                   bool required = true) {
  auto it = j.find(field);
  if (it == j.end() || it->is_null()) return required ? Missing(label, field) : Status::OK();
  if (!it->is_number_integer() || it->get<int64_t>() <= 0)
    return Status::InvalidArgument(label + ": field '" + field + "' must be a positive integer, got " +
                                   it->dump());
  *out = it->get<int64_t>();
  return Status::OK();
}

Status GetDouble(const json& j, const std::string& label, const char* field, double* out) {
  auto it = j.find(field);
  if (it == j.end() || it->is_null()) return Status::OK();  // keep the default
  if (!it->is_number() || it->get<double>() <= 0)
    return Status::InvalidArgument(label + ": field '" + field + "' must be a positive number, got " +
                                   it->dump());
  *out = it->get<double>();
  return Status::OK();
}

// bos/eos ids may be an integer or (in some configs) a list; the first id is used.
Status GetTokenId(const json& j, const std::string& label, const char* field, int64_t* out) {
  auto it = j.find(field);
  if (it == j.end() || it->is_null()) return Status::OK();
  const json* v = &*it;
  if (v->is_array() && !v->empty()) v = &(*v)[0];
  if (!v->is_number_integer() || v->get<int64_t>() < 0)
    return Status::InvalidArgument(label + ": field '" + field + "' must be a token id, got " +
                                   it->dump());
  *out = v->get<int64_t>();
  return Status::OK();
}

}  // namespace

Result<LlamaConfig> ParseHfConfig(const std::string& json_text, const std::string& label) {
  json j = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Status::Corruption(label + ": not a valid JSON object");

  auto mt = j.find("model_type");
  if (mt != j.end() && mt->is_string() && mt->get<std::string>() != "llama" &&
      mt->get<std::string>() != "mistral")
    return Status::Unsupported(label + ": model_type '" + mt->get<std::string>() +
                               "' is not a Llama-family model");

  LlamaConfig c;
  SHARDQ_RETURN_IF_ERROR(GetPositive(j, label, "hidden_size", &c.dim));
  SHARDQ_RETURN_IF_ERROR(GetPositive(j, label, "intermediate_size", &c.hidden_dim));
  SHARDQ_RETURN_IF_ERROR(GetPositive(j, label, "num_hidden_layers", &c.n_layers));
  SHARDQ_RETURN_IF_ERROR(GetPositive(j, label, "num_attention_heads", &c.n_heads));
  c.n_kv_heads = c.n_heads;
  SHARDQ_RETURN_IF_ERROR(GetPositive(j, label, "num_key_value_heads", &c.n_kv_heads, false));
  SHARDQ_RETURN_IF_ERROR(GetPositive(j, label, "vocab_size", &c.vocab_size));
  SHARDQ_RETURN_IF_ERROR(GetPositive(j, label, "max_position_embeddings", &c.context_length));
  SHARDQ_RETURN_IF_ERROR(GetDouble(j, label, "rms_norm_eps", &c.rms_norm_eps));
  SHARDQ_RETURN_IF_ERROR(GetDouble(j, label, "rope_theta", &c.rope_theta));
  SHARDQ_RETURN_IF_ERROR(GetTokenId(j, label, "bos_token_id", &c.bos_token_id));
  SHARDQ_RETURN_IF_ERROR(GetTokenId(j, label, "eos_token_id", &c.eos_token_id));
  if (auto it = j.find("tie_word_embeddings"); it != j.end() && !it->is_null()) {
    if (!it->is_boolean())
      return Status::InvalidArgument(label + ": field 'tie_word_embeddings' must be true or false");
    c.tied_embeddings = it->get<bool>();
  }
  if (c.dim % c.n_heads != 0)
    return Status::InvalidArgument(label + ": hidden_size " + std::to_string(c.dim) +
                                   " is not a multiple of num_attention_heads " + std::to_string(c.n_heads));
  if (c.n_heads % c.n_kv_heads != 0)
    return Status::InvalidArgument(label + ": num_attention_heads " + std::to_string(c.n_heads) +
                                   " is not a multiple of num_key_value_heads " +
                                   std::to_string(c.n_kv_heads));
  return c;
}

Result<LlamaConfig> LoadHfConfig(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound(path + ": cannot open");
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseHfConfig(ss.str(), path);
}

}  // namespace shardq
